"""The admin client's credential and ACL operations (``Admin.create_credentials`` ...).

Owns: issuing a client identity (its key pair is made here, on the admin's machine; only the
public half goes to the cluster) and writing its client file (mode 0600), and the ACL
requests.  Everything is decided by the controller (``core.security_state``, ``core.acl``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from zafka.core.errors import ErrorCode, InvalidRequest, error_for
from zafka.core.messages import (
    AclBinding,
    CreateAclsRequest,
    CreateCredentialRequest,
    DeleteAclsRequest,
    DescribeAclsReply,
    DescribeAclsRequest,
    DescribeCredentialsReply,
    DescribeCredentialsRequest,
    ErrorReply,
    IdentityRecord,
    RevokeCredentialRequest,
)
from zafka.transport.cluster_file import ClusterFile

Request = Callable[[Any], Any]


def _checked(reply: Any) -> Any:
    if isinstance(reply, ErrorReply) and reply.code != ErrorCode.NONE:
        raise error_for(reply.code, reply.message)
    return reply


def create_credentials(request: Request, config: ClusterFile, name: str, role: str,
                       path: str | Path) -> Path:
    """Admit identity ``name`` with ``role`` and write its client file to ``path``."""
    if config.credentials is None:
        raise InvalidRequest("this cluster runs without authentication: no credentials")
    credentials = config.credentials.issue()
    identity = IdentityRecord(name=name, role=role, public_key=credentials.client_public)
    _checked(request(CreateCredentialRequest(name=name, role=role,
                                             public_key=identity.public_key)))
    target = Path(path)
    config.client_file(identity, credentials).save(target)
    return target


def revoke_credentials(request: Request, name: str) -> None:
    _checked(request(RevokeCredentialRequest(name=name)))


def describe_credentials(request: Request) -> tuple[IdentityRecord, ...]:
    reply = _checked(request(DescribeCredentialsRequest()))
    assert isinstance(reply, DescribeCredentialsReply)
    return reply.identities


def create_acls(request: Request, bindings: Iterable[AclBinding]) -> None:
    _checked(request(CreateAclsRequest(bindings=tuple(bindings))))


def delete_acls(request: Request, bindings: Iterable[AclBinding]) -> None:
    _checked(request(DeleteAclsRequest(bindings=tuple(bindings))))


def describe_acls(request: Request) -> tuple[AclBinding, ...]:
    reply = _checked(request(DescribeAclsRequest()))
    assert isinstance(reply, DescribeAclsReply)
    return reply.bindings


__all__ = ["create_acls", "create_credentials", "delete_acls", "describe_acls",
           "describe_credentials", "revoke_credentials"]
