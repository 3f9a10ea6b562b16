"""A node's security state: whom it admits and what each principal may do.

Owns: the process's ``Authorizer`` (ACLs and roles, rebuilt whenever the committed metadata's
identities or ACLs change) beside the transport's ``Principals`` table (the ZAP allow-list),
and the counters of refused messages.  ``check(envelope)`` is what the runtime calls before
delivering: the sender's role must be allowed to send the message's audience
(``core.acl.may_send``), and a request must pass the ACLs (``core.acl``) unless the sender
is a node, an admin or an actor of this process.  ``authorize`` is the same decision for
other edges (the Kafka listener maps its SASL users to the same ``User:<name>`` principals).

Must never: decide anything itself (the rules are ``core.acl``'s), or block.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterable
from typing import Any

from zafka.core.acl import (
    ADMIN,
    LOCAL,
    NODE,
    Authorizer,
    Resource,
    effective_identities,
    may_send,
)
from zafka.core.errors import ErrorCode
from zafka.core.messages import AclBinding, AclOperation, Envelope, IdentityRecord, audience_of
from zafka.transport.auth import Principals

log = logging.getLogger(__name__)


class NodeSecurity:
    """Role checks and ACLs of one process (thread-safe: read by the inbound thread)."""

    def __init__(self, principals: Principals, *, testing: bool = False,
                 allow_everyone_if_no_acl_found: bool = True) -> None:
        self.principals = principals
        self.testing = testing
        self._allow_if_no_acl = allow_everyone_if_no_acl_found
        self._source: tuple[tuple[IdentityRecord, ...], tuple[str, ...],
                            tuple[AclBinding, ...]] = ((), (), ())
        self.authorizer = Authorizer(principals.identities(),
                                     allow_everyone_if_no_acl_found=self._allow_if_no_acl)
        self.refused: Counter[str] = Counter()
        self._lock = threading.Lock()

    def update(self, identities: tuple[IdentityRecord, ...], revoked_keys: tuple[str, ...],
               acls: tuple[AclBinding, ...]) -> None:
        """Take the committed metadata's identities, revoked keys and ACLs (cheap when they
        did not change)."""
        if (identities, revoked_keys, acls) == self._source:
            return
        self._source = (identities, revoked_keys, acls)
        admitted = effective_identities(self.principals.bootstrap, identities, revoked_keys)
        self.principals.replace(admitted)
        self.authorizer = Authorizer(admitted, acls,
                                     allow_everyone_if_no_acl_found=self._allow_if_no_acl)
        log.info("security: %d identities admitted, %d keys revoked, %d ACLs",
                 len(admitted), len(revoked_keys), len(acls))

    def authorize(self, principal: str, operation: AclOperation, resource: Resource,
                  host: str = "*") -> bool:
        """Whether ``principal`` ("User:<name>") may do ``operation`` to ``resource``."""
        return self.authorizer.authorize(principal, operation, resource, host)

    def check_request(self, principal: str, request: Any, host: str = "*",
                      super_users: frozenset[str] = frozenset(),
                      ) -> tuple[ErrorCode, str] | None:
        """For an edge that authenticates its own users (the Kafka listener) and hands their
        requests on as this process: None if ``principal`` may send ``request``, else the
        Kafka error to answer with.  Requests an edge sends locally bypass ``check``, so the
        edge must call this first.  ``super_users``: the edge's own admins (Kafka's
        ``super.users``), who pass like admin identities."""
        if principal in super_users or self.authorizer.is_super_user(principal):
            return None
        return self.authorizer.first_denied(principal, request, host)

    def check(self, envelope: Envelope) -> tuple[ErrorCode, str] | None:
        """None if ``envelope`` may be delivered, else the error to refuse it with."""
        kind = type(envelope.body)
        if not may_send(envelope.role, audience_of(kind), testing=self.testing):
            return self._refuse(envelope, ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
                                f"{envelope.principal or 'an unauthenticated sender'} "
                                f"({envelope.role or 'no role'}) may not send {kind.__name__}")
        if envelope.role in (NODE, ADMIN, LOCAL):
            return None
        denied = self.authorizer.first_denied(envelope.principal, envelope.body)
        if denied is not None:
            return self._refuse(envelope, *denied)
        return None

    def _refuse(self, envelope: Envelope, code: ErrorCode, reason: str,
                ) -> tuple[ErrorCode, str]:
        with self._lock:
            self.refused[type(envelope.body).__name__] += 1
        log.warning("refused %s for %s: %s", type(envelope.body).__name__, envelope.dest,
                    reason)
        return code, reason

    def stats(self) -> dict[str, int]:
        """``refused`` (all) and ``refused.<Message>`` (per message type) counters."""
        with self._lock:
            counts = {f"refused.{name}": n for name, n in self.refused.items()}
            counts["refused"] = sum(self.refused.values())
            return counts

    def identities(self) -> Iterable[IdentityRecord]:
        return self.principals.identities()


__all__ = ["NodeSecurity"]
