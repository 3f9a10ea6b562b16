"""Who may send what, and who may do what: roles, audiences and Kafka-style ACLs.

Owns the decisions, as pure functions of data:

- ``may_send(role, audience, testing=...)``: whether a peer authenticated with ``role`` may
  send a message of ``audience`` (``core.messages.Audience``).  Roles: ``node`` (the cluster's
  own processes), ``admin`` and ``client`` (identities issued by ``zafka credentials``), and
  ``local`` (an actor of the same process).  Process-local messages are never accepted from a
  socket, fault injection only by a node started for testing.
- ``Authorizer.authorize(principal, operation, resource)``: Kafka's ACL rules.  Principals are
  named ``User:<name>``.  Nodes and admins are super users (every ACL is bypassed).  For
  anyone else: a matching DENY wins over any ALLOW; an ALLOW of the operation (``All``
  covers every operation; ``Read``/``Write``/``Delete``/``Alter`` imply ``Describe``,
  ``AlterConfigs`` implies ``DescribeConfigs``) allows it; if ACLs exist for the resource but
  none allows, it is denied.  When *no* ACL matches the resource at all, the cluster setting
  ``allow_everyone_if_no_acl_found`` (Kafka's ``allow.everyone.if.no.acl.found``) decides:
  true (the default) lets clients read, write, create and describe, but still reserves
  ``NO_ACL_ADMIN_ONLY`` (deleting topics, altering topics, configs and the cluster) to
  admins; false denies everything not explicitly allowed.
- ``required_permissions(request)``: which (operation, resource) pairs a request needs.

Must never: read a clock, perform I/O, or know about sockets (the transport stamps the
principal and role on each envelope; ``actors.security`` calls these functions).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from zafka.core.errors import ErrorCode
from zafka.core.messages import (
    AclBinding,
    AclOperation,
    AclPermission,
    AlterConfigsRequest,
    AlterPartitionReassignmentsRequest,
    Audience,
    CreateAclsRequest,
    CreateCredentialRequest,
    CreatePartitionsRequest,
    CreateTopicsRequest,
    DeleteAclsRequest,
    DeleteTopicsRequest,
    DescribeAclsRequest,
    DescribeConfigsRequest,
    DescribeCredentialsRequest,
    DescribeGroupsRequest,
    ElectLeadersRequest,
    FetchRequest,
    FindCoordinatorRequest,
    HeartbeatRequest,
    IdentityRecord,
    JoinGroupRequest,
    LeaveGroupRequest,
    ListGroupsRequest,
    ListOffsetsRequest,
    ListPartitionReassignmentsRequest,
    OffsetCommitRequest,
    OffsetFetchRequest,
    PatternType,
    ProduceRequest,
    ResourceType,
    RevokeCredentialRequest,
    SyncGroupRequest,
)

NODE = "node"
ADMIN = "admin"
CLIENT = "client"
LOCAL = "local"
ISSUED_ROLES = (ADMIN, CLIENT)  # what ``zafka credentials --add`` may hand out
SUPER_ROLES = frozenset({NODE, ADMIN, LOCAL})
CLUSTER_NAME = "kafka-cluster"  # Kafka's name of the one cluster resource
PRINCIPAL_PREFIX = "User:"
WILDCARD_PRINCIPAL = "User:*"
NAME_LENGTH_MAX = 200

NO_ACL_ADMIN_ONLY = frozenset({AclOperation.DELETE, AclOperation.ALTER,
                               AclOperation.ALTER_CONFIGS, AclOperation.CLUSTER_ACTION})
"""What only admins may do to a resource that has no ACL (with the permissive default)."""

_IMPLIED_BY = {
    AclOperation.DESCRIBE: frozenset({AclOperation.READ, AclOperation.WRITE,
                                      AclOperation.DELETE, AclOperation.ALTER}),
    AclOperation.DESCRIBE_CONFIGS: frozenset({AclOperation.ALTER_CONFIGS}),
}

_DENIED_CODE = {ResourceType.TOPIC: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
                ResourceType.GROUP: ErrorCode.GROUP_AUTHORIZATION_FAILED,
                ResourceType.CLUSTER: ErrorCode.CLUSTER_AUTHORIZATION_FAILED}


def may_send(role: str, audience: Audience, *, testing: bool) -> bool:
    """Whether a sender of ``role`` may send a message of ``audience`` to this process."""
    if role == LOCAL:
        return audience is not Audience.TESTING or testing
    if audience is Audience.CLIENT:
        return role in (NODE, ADMIN, CLIENT)
    if audience is Audience.NODE:
        return role == NODE
    if audience is Audience.TESTING:
        return role == NODE and testing
    return False  # Audience.LOCAL from a socket: never


def principal_of(name: str) -> str:
    """The principal of identity ``name``: ``User:<name>``."""
    return PRINCIPAL_PREFIX + name


def check_identity_name(name: str) -> None:
    """Raise ``ValueError`` unless ``name`` can name an identity."""
    if not name or len(name) > NAME_LENGTH_MAX or not all(
            c.isalnum() or c in "._-" for c in name):
        raise ValueError(f"identity name {name!r}: 1-{NAME_LENGTH_MAX} characters of "
                         "letters, digits, '.', '_' and '-'")


def effective_identities(bootstrap: Iterable[IdentityRecord], added: Iterable[IdentityRecord],
                         revoked_keys: Iterable[str]) -> tuple[IdentityRecord, ...]:
    """The identities a node admits: those of its node file and those the metadata added,
    without any whose key was revoked (a revoked key never comes back)."""
    revoked = set(revoked_keys)
    seen: dict[str, IdentityRecord] = {}
    for identity in (*bootstrap, *added):
        if identity.public_key not in revoked:
            seen.setdefault(identity.public_key, identity)
    return tuple(seen.values())


@dataclasses.dataclass(frozen=True, slots=True)
class Resource:
    """A thing an operation acts on: a topic, a group, or the cluster."""

    type: ResourceType
    name: str


CLUSTER = Resource(ResourceType.CLUSTER, CLUSTER_NAME)


def topic(name: str) -> Resource:
    return Resource(ResourceType.TOPIC, name)


def group(name: str) -> Resource:
    return Resource(ResourceType.GROUP, name)


def matches_resource(binding: AclBinding, resource: Resource) -> bool:
    """Whether ``binding`` is about ``resource`` (literal name, "*", or a name prefix)."""
    if binding.resource_type is not resource.type:
        return False
    if binding.pattern_type is PatternType.PREFIXED:
        return resource.name.startswith(binding.resource_name)
    return binding.resource_name in ("*", resource.name)


def _matches(binding: AclBinding, principal: str, operation: AclOperation, host: str) -> bool:
    if binding.principal not in (principal, WILDCARD_PRINCIPAL):
        return False
    if binding.host not in ("*", host):
        return False
    if binding.operation in (operation, AclOperation.ALL):
        return True
    return (binding.permission is AclPermission.ALLOW
            and binding.operation in _IMPLIED_BY.get(operation, frozenset()))


class Authorizer:
    """ACL decisions over one state of the metadata (identities' roles and bindings)."""

    def __init__(self, identities: Iterable[IdentityRecord] = (),
                 acls: Iterable[AclBinding] = (), *,
                 allow_everyone_if_no_acl_found: bool = True) -> None:
        self.roles = {principal_of(i.name): i.role for i in identities}
        self.acls = tuple(acls)
        self.allow_everyone_if_no_acl_found = allow_everyone_if_no_acl_found

    def is_super_user(self, principal: str) -> bool:
        return self.roles.get(principal) in SUPER_ROLES

    def authorize(self, principal: str, operation: AclOperation, resource: Resource,
                  host: str = "*") -> bool:
        """Whether ``principal`` ("User:<name>") may do ``operation`` to ``resource``."""
        if self.is_super_user(principal):
            return True
        about = [b for b in self.acls if matches_resource(b, resource)]
        if not about:
            return (self.allow_everyone_if_no_acl_found
                    and operation not in NO_ACL_ADMIN_ONLY)
        relevant = [b for b in about if _matches(b, principal, operation, host)]
        if any(b.permission is AclPermission.DENY for b in relevant):
            return False
        return any(b.permission is AclPermission.ALLOW for b in relevant)

    def first_denied(self, principal: str, request: Any, host: str = "*",
                     ) -> tuple[ErrorCode, str] | None:
        """The error to answer ``request`` with, or None if every permission it needs is
        granted."""
        for operation, resource in required_permissions(request):
            if not self.authorize(principal, operation, resource, host):
                return (_DENIED_CODE[resource.type],
                        f"{principal} may not {operation.value} {resource.type.value} "
                        f"{resource.name!r}")
        return None


def required_permissions(request: Any) -> list[tuple[AclOperation, Resource]]:
    """The (operation, resource) pairs ``request`` needs (Kafka's table); [] for requests
    anyone authenticated may send (status, metadata, listings, producer ids)."""
    op = AclOperation
    kind = type(request)
    if kind is ProduceRequest:
        return [(op.WRITE, topic(p.topic)) for p in request.partitions]
    if kind is FetchRequest:
        if request.replica_id >= 0:  # a follower's fetch moves the ISR and the HW
            return [(op.CLUSTER_ACTION, CLUSTER)]
        return [(op.READ, topic(p.topic)) for p in request.partitions]
    if kind is ListOffsetsRequest:
        if request.replica_id >= 0:
            return [(op.CLUSTER_ACTION, CLUSTER)]
        return [(op.DESCRIBE, topic(p.topic)) for p in request.partitions]
    if kind in (JoinGroupRequest, SyncGroupRequest, HeartbeatRequest, LeaveGroupRequest):
        return [(op.READ, group(request.group_id))]
    if kind is OffsetCommitRequest:
        return [(op.READ, group(request.group_id))] + [
            (op.READ, topic(p.topic)) for p in request.offsets]
    if kind is OffsetFetchRequest:
        return [(op.DESCRIBE, group(request.group_id))]
    if kind is FindCoordinatorRequest:
        return [(op.DESCRIBE, group(request.group_id))]
    if kind is DescribeGroupsRequest:
        return [(op.DESCRIBE, group(g)) for g in request.group_ids]
    if kind is ListGroupsRequest:
        return [(op.DESCRIBE, CLUSTER)]
    return _controller_permissions(request)


def _controller_permissions(request: Any) -> list[tuple[AclOperation, Resource]]:
    op = AclOperation
    kind = type(request)
    if kind is CreateTopicsRequest:
        return [(op.CREATE, topic(t.name)) for t in request.topics]
    if kind is DeleteTopicsRequest:
        return [(op.DELETE, topic(name)) for name in request.names]
    if kind is CreatePartitionsRequest:
        return [(op.ALTER, topic(p.name)) for p in request.topics]
    if kind is AlterConfigsRequest:
        return [(op.ALTER_CONFIGS, topic(t.name)) for t in request.topics]
    if kind is DescribeConfigsRequest:
        return [(op.DESCRIBE_CONFIGS, topic(name)) for name in request.names]
    if kind in (ElectLeadersRequest, AlterPartitionReassignmentsRequest,
                CreateAclsRequest, DeleteAclsRequest, CreateCredentialRequest,
                RevokeCredentialRequest):
        return [(op.ALTER, CLUSTER)]
    if kind in (ListPartitionReassignmentsRequest, DescribeAclsRequest,
                DescribeCredentialsRequest):
        return [(op.DESCRIBE, CLUSTER)]
    return []


__all__ = ["ADMIN", "CLIENT", "CLUSTER", "CLUSTER_NAME", "ISSUED_ROLES", "LOCAL", "NODE",
           "NO_ACL_ADMIN_ONLY", "Authorizer", "Resource", "check_identity_name",
           "effective_identities", "group", "matches_resource", "may_send", "principal_of",
           "required_permissions", "topic"]
