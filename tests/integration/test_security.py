"""Principals, roles and ACLs on a real cluster (docs/security.md).

A program holding only the application's client file cannot act as a node: it cannot
complete a handshake with a node's key, every node-only and process-local message it sends is
refused (and counted) or does not even decode, fault injection is refused, and nothing it
sent changed a log, a topic or a config.  An admin identity may delete topics, an application
may not; ACLs allow and deny produce, consume, group join and config changes as written; a
revoked key is cut off on the running cluster.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import pickle
import stat
import subprocess
import sys
import time
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
from zafka.client.admin import Admin
from zafka.client.consumer import Consumer
from zafka.core import messages
from zafka.core.errors import (
    ClusterAuthorizationFailed,
    GroupAuthorizationFailed,
    RequestTimedOut,
    TopicAuthorizationFailed,
    ZafkaError,
)
from zafka.core.messages import (
    AclBinding,
    AclOperation,
    AclPermission,
    Audience,
    Envelope,
    FaultRule,
    FetchPartition,
    FetchRequest,
    JoinGroupRequest,
    PatternType,
    ProducePartitionData,
    ProduceRequest,
    ResourceType,
    SetFaults,
    StatusReply,
    StatusRequest,
    audience_of,
    catalogue,
)
from zafka.storage.records import Record, encode_batch
from zafka.transport.auth import Credentials
from zafka.transport.cluster_file import ClusterFile, client_bind_url
from zafka.transport.remote import Postbox

from zafka.launcher import Cluster


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One coordinator, one broker, started the way ``zafka`` starts (no testing flag),
    with a topic "orders"."""
    with Cluster(brokers=1, coordinators=1, data_dir=tmp_path_factory.mktemp("sec"),
                 tunables={"group_initial_rebalance_delay_ms": 0,
                           "group_min_session_timeout_ms": 500}) as cluster:
        with Admin(str(cluster.admin_file_path)) as admin:
            admin.create_topic("orders", partitions=1, replication_factor=1)
        yield cluster


def client_postbox(path: Path) -> Postbox:
    config = ClusterFile.load(path)
    return Postbox(client_bind_url(config), credentials=config.credentials).start()


def status(cluster: Cluster, name: str) -> StatusReply:
    reply = cluster.ref(name).ask(StatusRequest(), 5).result()
    assert isinstance(reply, StatusReply)
    return reply


def sample(hint: Any) -> Any:
    """A value of type ``hint`` (the simplest one), so a message passes the decoder's
    field-type checks and only its audience decides."""
    origin = typing.get_origin(hint)
    if hint in (int, float):
        return hint(0)
    if hint is str:
        return "x"
    if hint is bool:
        return False
    if hint in (bytes, messages.Blob):
        return b""
    if hint is Any or hint is type(None):
        return None
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return next(iter(hint))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return instance_of(hint)
    if origin is tuple:
        args = typing.get_args(hint)
        return () if args[-1] is Ellipsis else tuple(sample(a) for a in args)
    if origin is dict:
        return {}
    if origin in (typing.Union, types.UnionType):
        return sample(typing.get_args(hint)[0])
    raise AssertionError(f"no sample for {hint}")


def instance_of(cls: type) -> Any:
    hints = typing.get_type_hints(cls, vars(messages))
    return cls(**{f.name: sample(hints[f.name]) for f in dataclasses.fields(cls)
                  if f.default is dataclasses.MISSING and f.default_factory is
                  dataclasses.MISSING})


def top_level(audience: Audience) -> list[type]:
    return sorted((c for c in catalogue() if dataclasses.is_dataclass(c) and c is not Envelope
                   and audience_of(c) is audience), key=lambda c: c.__name__)


def orders_state(cluster: Cluster) -> tuple[Any, ...]:
    with Admin(str(cluster.admin_file_path)) as admin:
        info = admin.describe_topic("orders")
        return (admin.list_topics(), [(p.leader, p.log_end_offset, p.high_watermark)
                                      for p in info.partitions],
                admin.describe_configs("orders"))


def test_the_client_file_holds_no_node_secret_and_every_file_is_private(
        secured: Cluster) -> None:
    node = json.loads(secured.cluster_file_path.read_text())
    client = json.loads(secured.client_file_path.read_text())
    assert node["credentials"]["server_secret"]
    assert "server_secret" not in client["credentials"]
    assert client["credentials"]["client_public"] != node["credentials"]["client_public"]
    assert client["credentials"]["node_public"] == node["credentials"]["client_public"]
    assert node["credentials"]["client_secret"] not in secured.client_file_path.read_text()
    for path in (secured.cluster_file_path, secured.client_file_path,
                 secured.admin_file_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for _ in range(100):  # a broker makes its replicas' directories once it hosts them
        if (secured.data_dir / "broker-1" / "logs").exists():
            break
        time.sleep(0.05)
    for path in (secured.data_dir, secured.data_dir / "logs", secured.data_dir / "broker-1",
                 secured.data_dir / "broker-1" / "logs", secured.data_dir / "coordinator-1"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    for path in (secured.data_dir / "logs").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_a_client_cannot_complete_a_handshake_with_a_key_it_made_up_as_a_node(
        secured: Cluster) -> None:
    client = ClusterFile.load(secured.client_file_path)
    assert client.credentials is not None
    impostor = Credentials.generate()  # a node file of its own: not this cluster's keys
    before = status(secured, "broker-1").transport["auth_denied"]
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.linger = 0
    sock.curve_serverkey = client.credentials.server_public.encode()
    sock.curve_publickey = impostor.client_public.encode()
    sock.curve_secretkey = impostor.client_secret.encode()
    sock.connect(secured.node("broker-1").spec.address)
    sock.send_multipart([pickle.dumps(Envelope(source="tcp://127.0.0.1:1", reply_to="",
                                               dest="node", correlation_id=1,
                                               body=StatusRequest()))])
    try:
        for _ in range(100):
            if status(secured, "broker-1").transport["auth_denied"] > before:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the made-up key was not refused at the handshake")
    finally:
        sock.close()


def test_every_node_only_message_from_a_client_is_refused_counted_and_changes_nothing(
        secured: Cluster) -> None:
    before = orders_state(secured)
    postbox = client_postbox(secured.client_file_path)
    refused_types = top_level(Audience.NODE) + top_level(Audience.TESTING)
    try:
        for name, actor in (("broker-1", "broker"), ("coordinator-1", "coordinator")):
            address = secured.node(name).spec.address
            for cls in refused_types:
                future = postbox.ask(address, actor, instance_of(cls), 5)
                with pytest.raises(ClusterAuthorizationFailed):
                    future.result()
            refused = status(secured, name).transport
            assert all(refused.get(f"refused.{c.__name__}", 0) >= 1 for c in refused_types), \
                refused
    finally:
        postbox.stop()
    assert orders_state(secured) == before
    print(f"{len(refused_types)} node-only message types refused on each node")


def test_process_local_messages_do_not_even_decode_from_a_socket(secured: Cluster) -> None:
    before = orders_state(secured)
    client = ClusterFile.load(secured.client_file_path)
    assert client.credentials is not None
    local = top_level(Audience.LOCAL)
    assert {"ReplicaRemove", "ReplicaProduce", "FetchWant"} <= {c.__name__ for c in local}
    dropped = status(secured, "broker-1").transport.get("dropped_undecodable", 0)
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.linger = 1000
    client.credentials.apply_client(sock)
    sock.connect(secured.node("broker-1").spec.address)
    try:
        for cls in local:
            body = instance_of(cls)
            for dest in ("broker", "replica:orders:0"):
                sock.send_multipart([pickle.dumps(Envelope(
                    source="tcp://127.0.0.1:1", reply_to="", dest=dest, correlation_id=1,
                    body=body), protocol=5)])
        for _ in range(200):
            counters = status(secured, "broker-1").transport
            if counters.get("dropped_undecodable", 0) >= dropped + 2 * len(local):
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"not every process-local message was dropped: {counters}")
    finally:
        sock.close()
    assert orders_state(secured) == before


def test_fault_injection_is_refused_unless_the_node_was_started_for_testing(
        secured: Cluster) -> None:
    rule = FaultRule(kind="drop")
    postbox = client_postbox(secured.client_file_path)
    try:
        with pytest.raises(ClusterAuthorizationFailed):
            postbox.ask(secured.node("broker-1").spec.address, "node",
                        SetFaults(rules=(rule,)), 5).result()
    finally:
        postbox.stop()
    with pytest.raises(ClusterAuthorizationFailed):  # even with the node file
        secured.set_faults("broker-1", [rule])
    status(secured, "broker-1")  # still answers: nothing was dropped


def test_an_admin_may_delete_a_topic_an_application_may_not(secured: Cluster) -> None:
    with Admin(str(secured.admin_file_path)) as admin:
        admin.create_topic("doomed", partitions=1, replication_factor=1)
    with Admin(str(secured.client_file_path)) as app:
        with pytest.raises(TopicAuthorizationFailed):
            app.delete_topic("doomed")
        with pytest.raises(TopicAuthorizationFailed):
            app.alter_configs("doomed", {"retention.ms": 1000})
        assert "doomed" in app.list_topics()
    with Admin(str(secured.admin_file_path)) as admin:
        admin.delete_topic("doomed")
        assert "doomed" not in admin.list_topics()


def produce_raw(path: Path, cluster: Cluster, topic: str) -> Any:
    """One ProduceRequest as the identity of ``path`` (the reply, or the error raised)."""
    postbox = client_postbox(path)
    batch = encode_batch([Record(key=None, value=b"v", timestamp_ms=0)])
    try:
        return postbox.ask(cluster.node("broker-1").spec.address, "broker", ProduceRequest(
            acks=1, timeout_ms=5000, partitions=(ProducePartitionData(
                topic=topic, partition=0, records=batch),)), 10).result()
    finally:
        postbox.stop()


def wait_admitted(path: Path, cluster: Cluster) -> None:
    """Until every node admits the identity of ``path`` (each learns it from the metadata
    log, a moment after the controller committed it)."""
    for name in ("coordinator-1", "broker-1"):
        for _ in range(100):
            postbox = client_postbox(path)
            try:
                postbox.ask(cluster.node(name).spec.address, "node", StatusRequest(),
                            0.5).result()
                break
            except RequestTimedOut:
                time.sleep(0.05)
            finally:
                postbox.stop()
        else:
            pytest.fail(f"{name} never admitted {path.name}")


def acl(principal: str, operation: AclOperation, kind: ResourceType, name: str,
        permission: AclPermission = AclPermission.ALLOW,
        pattern: PatternType = PatternType.LITERAL) -> AclBinding:
    return AclBinding(principal=principal, operation=operation, resource_type=kind,
                      resource_name=name, pattern_type=pattern, permission=permission)


def fetch_raw(path: Path, cluster: Cluster, topic: str) -> Any:
    postbox = client_postbox(path)
    try:
        return postbox.ask(cluster.node("broker-1").spec.address, "broker", FetchRequest(
            replica_id=-1, max_wait_ms=0, min_bytes=1, max_bytes=1 << 20, partitions=(
                FetchPartition(topic=topic, partition=0, fetch_offset=0,
                               partition_max_bytes=1 << 20),)), 10).result()
    finally:
        postbox.stop()


def eventually(check: Any, refused: type[Exception] | None = None) -> None:
    """``check()`` succeeds (or raises ``refused``) once every node applied the latest ACLs
    (brokers follow the metadata log a moment behind the controller)."""
    last: BaseException | None = None
    for _ in range(100):
        try:
            check()
            if refused is None:
                return
        except Exception as error:  # noqa: BLE001 - the outcome is checked below
            if refused is not None and isinstance(error, refused):
                return
            last = error
        time.sleep(0.05)
    pytest.fail(f"{check} never {'raised ' + refused.__name__ if refused else 'succeeded'}"
                f" (last: {last!r})")


def test_acls_allow_and_deny_produce_consume_group_join_and_config_changes(
        secured: Cluster) -> None:
    client = secured.client_file_path
    with Admin(str(secured.admin_file_path)) as admin:
        admin.create_topic("acl-orders", partitions=1, replication_factor=1)
        alice = admin.create_credentials("alice", "client", secured.data_dir / "alice.json")
        assert stat.S_IMODE(alice.stat().st_mode) == 0o600
        wait_admitted(alice, secured)
        produce_raw(alice, secured, "acl-orders")  # no ACL yet: clients may write and read
        fetch_raw(client, secured, "acl-orders")
        admin.create_acls([acl("User:alice", AclOperation.WRITE, ResourceType.TOPIC, "acl-",
                               pattern=PatternType.PREFIXED)])
        # the topic has ACLs now, none for User:client: refused; User:alice may write
        eventually(lambda: produce_raw(client, secured, "acl-orders"),
                   TopicAuthorizationFailed)
        produce_raw(alice, secured, "acl-orders")
        with pytest.raises(TopicAuthorizationFailed):  # Write does not grant Read
            fetch_raw(alice, secured, "acl-orders")
        with Consumer(cluster=str(alice), auto_offset_reset="earliest") as consumer:
            consumer.assign([messages.TopicPartition("acl-orders", 0)])
            with pytest.raises(TopicAuthorizationFailed):
                for _ in range(20):
                    consumer.poll(timeout_ms=500)
        admin.create_acls([acl("User:alice", AclOperation.READ, ResourceType.TOPIC,
                               "acl-orders")])
        eventually(lambda: fetch_raw(alice, secured, "acl-orders"))
        admin.create_acls([acl("User:alice", AclOperation.WRITE, ResourceType.TOPIC,
                               "acl-orders", AclPermission.DENY)])
        eventually(lambda: produce_raw(alice, secured, "acl-orders"),  # deny wins
                   TopicAuthorizationFailed)
        with Consumer(cluster=str(alice), auto_offset_reset="earliest") as consumer:
            consumer.assign([messages.TopicPartition("acl-orders", 0)])
            records: list[Any] = []
            for _ in range(20):
                records += consumer.poll(timeout_ms=500)
                if len(records) >= 2:
                    break
            assert len(records) >= 2
        admin.create_acls([acl("User:alice", AclOperation.READ, ResourceType.GROUP,
                               "billing", AclPermission.DENY)])
        join = JoinGroupRequest(group_id="billing", session_timeout_ms=6000,
                                rebalance_timeout_ms=6000, protocols=())

        def join_billing() -> None:
            postbox = client_postbox(alice)
            try:
                postbox.ask(secured.node("broker-1").spec.address, "group", join, 10).result()
            finally:
                postbox.stop()

        eventually(join_billing, GroupAuthorizationFailed)
        with Admin(str(alice)) as as_alice:
            with pytest.raises(TopicAuthorizationFailed):  # no ACL: admins only
                as_alice.alter_configs("acl-orders", {"retention.ms": 60_000})
            admin.create_acls([acl("User:alice", AclOperation.ALTER_CONFIGS,
                                   ResourceType.TOPIC, "acl-orders")])
            eventually(lambda: as_alice.alter_configs("acl-orders", {"retention.ms": 60_000}))
        assert len(admin.describe_acls()) == 5


def test_a_revoked_key_is_cut_off_on_the_running_cluster(secured: Cluster) -> None:
    with Admin(str(secured.admin_file_path)) as admin:
        path = admin.create_credentials("mallory", "client", secured.data_dir / "mallory.json")
        wait_admitted(path, secured)
        postbox = client_postbox(path)
        address = secured.node("broker-1").spec.address
        try:
            postbox.ask(address, "node", StatusRequest(), 5).result()  # connected, admitted
            revoked_at = time.monotonic()
            admin.revoke_credentials("mallory")
            cut_off_after = None
            while time.monotonic() - revoked_at < 30:
                try:
                    postbox.ask(address, "node", StatusRequest(), 0.2).result()
                except RequestTimedOut:
                    cut_off_after = time.monotonic() - revoked_at
                    break
            assert cut_off_after is not None, "the revoked key still gets answers"
            print(f"revoked key cut off {cut_off_after * 1000:.0f} ms after the revocation "
                  "was requested (including the 200 ms the last ask waited)")
            with pytest.raises(ZafkaError):
                admin.revoke_credentials("mallory")  # once is enough
        finally:
            postbox.stop()
    assert status(secured, "broker-1").transport.get("dropped_revoked", 0) >= 1


def test_a_node_refuses_a_node_file_others_can_write(tmp_path: Path) -> None:
    node_file = tmp_path / "cluster.json"
    ClusterFile(cluster_id="x", credentials=Credentials.generate(), nodes=()).save(node_file)
    os.chmod(node_file, 0o620)
    result = subprocess.run(
        [sys.executable, "-m", "zafka.actors.node", "--role", "broker", "--id", "1",
         "--cluster-file", str(node_file), "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "writable by other users" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
