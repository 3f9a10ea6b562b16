"""The security part of the replicated metadata: issued identities, revoked keys and ACLs.

Owns: ``SecurityState`` (what ``PutIdentity``, ``RevokeIdentity``, ``CreateAcls`` and
``DeleteAcls`` change, applied by ``core.metadata.MetadataState``) and the controller's
checks that turn credential and ACL requests into those commands (``*_command``), given the
identities every node admits from its node file (``bootstrap``: the nodes, the default admin
and application identities).

Rules: identity names are unique across the node file and the metadata; only ``admin`` and
``client`` roles are issued; a node identity cannot be revoked (rotate node keys by writing a
new node file and restarting, ``docs/security.md``); a revoked key stays refused forever (a
re-issued name gets a new key).  ACL principals are ``User:<name>`` or ``User:*``.

Must never: read a clock or perform I/O; apply raises only ``ZafkaError`` (a rejection).
"""

from __future__ import annotations

from collections.abc import Iterable

from zafka.core.acl import ISSUED_ROLES, NODE, PRINCIPAL_PREFIX, check_identity_name
from zafka.core.errors import InvalidRequest
from zafka.core.messages import (
    AclBinding,
    CommandResult,
    CreateAcls,
    CreateCredentialRequest,
    DeleteAcls,
    IdentityRecord,
    PutIdentity,
    RevokeCredentialRequest,
    RevokeIdentity,
)

ACLS_MAX = 100_000
IDENTITIES_MAX = 100_000
KEY_LENGTH = 40  # a Z85 CURVE public key


class SecurityState:
    """Issued identities (by name), revoked keys and ACL bindings; mutate through apply_*."""

    def __init__(self) -> None:
        self.identities: dict[str, IdentityRecord] = {}
        self.revoked_keys: tuple[str, ...] = ()
        self.acls: tuple[AclBinding, ...] = ()

    def restore(self, identities: Iterable[IdentityRecord], revoked_keys: tuple[str, ...],
                acls: tuple[AclBinding, ...]) -> None:
        self.identities = {i.name: i for i in identities}
        self.revoked_keys = revoked_keys
        self.acls = acls

    def apply_put_identity(self, command: PutIdentity) -> CommandResult:
        identity = command.identity
        if identity.name in self.identities:
            raise InvalidRequest(f"identity {identity.name!r} exists")
        if identity.public_key in self.revoked_keys:
            raise InvalidRequest("that key was revoked")
        self.identities[identity.name] = identity
        return CommandResult()

    def apply_revoke_identity(self, command: RevokeIdentity) -> CommandResult:
        self.identities.pop(command.name, None)
        if command.public_key not in self.revoked_keys:
            self.revoked_keys = (*self.revoked_keys, command.public_key)
        return CommandResult()

    def apply_create_acls(self, command: CreateAcls) -> CommandResult:
        added = tuple(b for b in dict.fromkeys(command.bindings) if b not in self.acls)
        self.acls = (*self.acls, *added)
        return CommandResult(value=len(added))

    def apply_delete_acls(self, command: DeleteAcls) -> CommandResult:
        gone = set(command.bindings)
        before = len(self.acls)
        self.acls = tuple(b for b in self.acls if b not in gone)
        return CommandResult(value=before - len(self.acls))

    def invariants(self) -> None:
        assert all(k == i.name for k, i in self.identities.items())
        assert not {i.public_key for i in self.identities.values()} & set(self.revoked_keys)
        assert len(set(self.acls)) == len(self.acls)

    # --- the controller's checks --------------------------------------------------------

    def known(self, bootstrap: Iterable[IdentityRecord]) -> dict[str, IdentityRecord]:
        """Every identity admitted now, by name (the metadata's over the node file's)."""
        revoked = set(self.revoked_keys)
        found = {i.name: i for i in bootstrap if i.public_key not in revoked}
        found.update(self.identities)
        return found

    def put_identity_command(self, bootstrap: Iterable[IdentityRecord],
                             request: CreateCredentialRequest) -> PutIdentity:
        try:
            check_identity_name(request.name)
        except ValueError as error:
            raise InvalidRequest(str(error)) from None
        if request.role not in ISSUED_ROLES:
            raise InvalidRequest(f"role {request.role!r}: one of {', '.join(ISSUED_ROLES)}")
        if len(request.public_key) != KEY_LENGTH:
            raise InvalidRequest("public_key must be a 40-character Z85 CURVE public key")
        bootstrap = tuple(bootstrap)
        if request.name in self.known(bootstrap) or request.name in {i.name for i in bootstrap}:
            raise InvalidRequest(f"identity {request.name!r} exists")
        if len(self.identities) >= IDENTITIES_MAX:
            raise InvalidRequest(f"at most {IDENTITIES_MAX} identities")
        return PutIdentity(identity=IdentityRecord(name=request.name, role=request.role,
                                                   public_key=request.public_key))

    def revoke_identity_command(self, bootstrap: Iterable[IdentityRecord],
                                request: RevokeCredentialRequest) -> RevokeIdentity:
        identity = self.known(bootstrap).get(request.name)
        if identity is None:
            raise InvalidRequest(f"no identity {request.name!r} (or it was revoked already)")
        if identity.role == NODE:
            raise InvalidRequest("the node identity cannot be revoked on a running cluster: "
                                 "rotate the node keys (docs/security.md)")
        return RevokeIdentity(name=identity.name, public_key=identity.public_key)

    def create_acls_command(self, bindings: tuple[AclBinding, ...]) -> CreateAcls:
        for binding in bindings:
            if not binding.principal.startswith(PRINCIPAL_PREFIX) or binding.principal == \
                    PRINCIPAL_PREFIX:
                raise InvalidRequest(f"principal {binding.principal!r}: write it User:<name> "
                                     "(or User:* for everyone)")
            if not binding.resource_name:
                raise InvalidRequest("an ACL names its resource ('*' for every one)")
        if len(self.acls) + len(bindings) > ACLS_MAX:
            raise InvalidRequest(f"at most {ACLS_MAX} ACLs")
        return CreateAcls(bindings=bindings)


__all__ = ["SecurityState"]
