"""Kafka's ACL rules and zafka's role rules, as a specification (core.acl)."""

from __future__ import annotations

from zafka.core.acl import Authorizer, group, may_send, topic
from zafka.core.messages import (
    AclBinding,
    AclOperation,
    AclPermission,
    Audience,
    IdentityRecord,
    PatternType,
    ResourceType,
)

ALICE = "User:alice"
IDENTITIES = [IdentityRecord(name="alice", role="client", public_key="a" * 40),
              IdentityRecord(name="ops", role="admin", public_key="b" * 40)]


def allow(op: AclOperation, name: str, principal: str = ALICE,
          pattern: PatternType = PatternType.LITERAL,
          permission: AclPermission = AclPermission.ALLOW) -> AclBinding:
    return AclBinding(principal=principal, operation=op, resource_type=ResourceType.TOPIC,
                      resource_name=name, pattern_type=pattern, permission=permission)


def test_process_local_messages_are_never_accepted_from_a_socket() -> None:
    for role in ("node", "admin", "client", ""):
        assert not may_send(role, Audience.LOCAL, testing=True)
    assert may_send("local", Audience.LOCAL, testing=False)


def test_node_only_messages_need_the_node_role() -> None:
    assert may_send("node", Audience.NODE, testing=False)
    assert not may_send("admin", Audience.NODE, testing=False)
    assert not may_send("client", Audience.NODE, testing=False)
    assert all(may_send(r, Audience.CLIENT, testing=False) for r in ("node", "admin", "client"))
    assert not may_send("", Audience.CLIENT, testing=False), "an unstamped envelope"


def test_fault_injection_needs_a_node_started_for_testing() -> None:
    assert not may_send("node", Audience.TESTING, testing=False)
    assert may_send("node", Audience.TESTING, testing=True)
    assert not may_send("client", Audience.TESTING, testing=True)


def test_without_acls_clients_read_write_and_create_but_only_admins_delete_or_alter() -> None:
    authorizer = Authorizer(IDENTITIES)
    for op in (AclOperation.READ, AclOperation.WRITE, AclOperation.CREATE,
               AclOperation.DESCRIBE, AclOperation.DESCRIBE_CONFIGS):
        assert authorizer.authorize(ALICE, op, topic("t")), op
    for op in (AclOperation.DELETE, AclOperation.ALTER, AclOperation.ALTER_CONFIGS):
        assert not authorizer.authorize(ALICE, op, topic("t")), op
        assert authorizer.authorize("User:ops", op, topic("t")), "admins bypass ACLs"


def test_deny_by_default_allows_only_what_an_acl_allows() -> None:
    authorizer = Authorizer(IDENTITIES, [allow(AclOperation.READ, "t")],
                            allow_everyone_if_no_acl_found=False)
    assert authorizer.authorize(ALICE, AclOperation.READ, topic("t"))
    assert not authorizer.authorize(ALICE, AclOperation.READ, topic("u"))


def test_acls_on_a_resource_deny_whoever_they_do_not_allow() -> None:
    authorizer = Authorizer(IDENTITIES, [allow(AclOperation.WRITE, "t")])
    assert authorizer.authorize(ALICE, AclOperation.WRITE, topic("t"))
    assert not authorizer.authorize("User:bob", AclOperation.WRITE, topic("t"))
    assert not authorizer.authorize(ALICE, AclOperation.READ, topic("t"))


def test_deny_wins_over_allow_and_wildcards_match_everyone() -> None:
    authorizer = Authorizer(IDENTITIES, [
        allow(AclOperation.ALL, "*", principal="User:*"),
        allow(AclOperation.WRITE, "t", permission=AclPermission.DENY)])
    assert authorizer.authorize(ALICE, AclOperation.READ, topic("t"))
    assert not authorizer.authorize(ALICE, AclOperation.WRITE, topic("t"))
    assert authorizer.authorize("User:bob", AclOperation.WRITE, topic("t"))


def test_prefixed_acls_match_names_that_start_with_the_prefix() -> None:
    authorizer = Authorizer(IDENTITIES, [allow(AclOperation.WRITE, "orders-",
                                               pattern=PatternType.PREFIXED)])
    assert authorizer.authorize(ALICE, AclOperation.WRITE, topic("orders-eu"))
    assert authorizer.authorize(ALICE, AclOperation.WRITE, topic("other")), "no ACL: default"
    assert not authorizer.authorize("User:bob", AclOperation.WRITE, topic("orders-eu"))


def test_read_and_write_imply_describe_alter_configs_implies_describe_configs() -> None:
    authorizer = Authorizer(IDENTITIES, [allow(AclOperation.READ, "t"),
                                         allow(AclOperation.ALTER_CONFIGS, "t")])
    assert authorizer.authorize(ALICE, AclOperation.DESCRIBE, topic("t"))
    assert authorizer.authorize(ALICE, AclOperation.DESCRIBE_CONFIGS, topic("t"))
    assert not authorizer.authorize(ALICE, AclOperation.WRITE, topic("t"))


def test_acls_of_one_resource_type_say_nothing_about_another() -> None:
    authorizer = Authorizer(IDENTITIES, [allow(AclOperation.READ, "g")])
    assert authorizer.authorize("User:bob", AclOperation.READ, group("g"))


def test_identities_revocations_and_acls_survive_a_metadata_snapshot() -> None:
    from zafka.core.durable import decode_metadata_snapshot, encode_metadata_snapshot
    from zafka.core.messages import CreateAcls, PutIdentity, RevokeIdentity
    from zafka.core.metadata import MetadataState

    state = MetadataState()
    binding = allow(AclOperation.WRITE, "orders-", pattern=PatternType.PREFIXED)
    for command in (PutIdentity(identity=IDENTITIES[0]), PutIdentity(identity=IDENTITIES[1]),
                    RevokeIdentity(name="ops", public_key="b" * 40),
                    CreateAcls(bindings=(binding, binding))):
        assert state.apply(command).error == 0
    restored = MetadataState.restore(decode_metadata_snapshot(
        encode_metadata_snapshot(state.snapshot())))
    assert restored.security.identities == {"alice": IDENTITIES[0]}
    assert restored.security.revoked_keys == ("b" * 40,)
    assert restored.security.acls == (binding,), "a binding is stored once"
    again = restored.apply(PutIdentity(identity=IDENTITIES[1]))
    assert again.error != 0, "a revoked key never comes back"
