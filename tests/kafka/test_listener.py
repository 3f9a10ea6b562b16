"""The Kafka listener with real Kafka clients: bootstrap, ApiVersions, Metadata, bad input.

One cluster for the module (a real one, three brokers); every client takes its settings
from the plugin's ``kafka_config`` so the listener's security settings apply everywhere.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import AdminClient

from zafka.testing import ZafkaCluster, running_cluster


@pytest.fixture(scope="module")
def kafka_cluster() -> Iterator[ZafkaCluster]:
    with running_cluster(tunables={"kafka_request_bytes_max": 1 << 20,
                                   "kafka_connection_idle_ms": 1500}) as cluster:
        yield cluster


def counters(cluster: ZafkaCluster, broker: str = "broker-1") -> dict[str, int]:
    node = cluster.cluster.node(broker)
    return dict(cluster.cluster.status_of(node).broker.kafka_counters)  # type: ignore[union-attr]


def raw_connection(cluster: ZafkaCluster, authenticate: bool = False,
                   password: str | None = None) -> socket.socket:
    """A plain TCP connection to broker-1's listener, SASL PLAIN done if ``authenticate``."""
    host, port = cluster.bootstrap_servers.split(",")[0].rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    if authenticate:
        error_code = sasl_plain(sock, cluster.kafka_config["sasl.username"],
                                password or cluster.kafka_config["sasl.password"])
        assert error_code == 0
    return sock


def request(api_key: int, version: int, correlation_id: int, body: bytes) -> bytes:
    """A non-flexible request frame (header v1, client id "test")."""
    data = struct.pack(">hhih", api_key, version, correlation_id, 4) + b"test" + body
    return struct.pack(">i", len(data)) + data


def sasl_plain(sock: socket.socket, user: str, password: str) -> int:
    """SaslHandshake v1 + SaslAuthenticate v0 with PLAIN; SaslAuthenticate's error code."""
    sock.sendall(request(17, 1, 1, struct.pack(">h", 5) + b"PLAIN"))
    assert struct.unpack_from(">ih", read_frame(sock)) == (1, 0)
    token = b"\0" + user.encode() + b"\0" + password.encode()
    sock.sendall(request(36, 0, 2, struct.pack(">i", len(token)) + token))
    correlation_id, error_code = struct.unpack_from(">ih", read_frame(sock))
    assert correlation_id == 2
    return error_code


METADATA_V1_ALL = request(3, 1, 9, struct.pack(">i", -1))


def read_frame(sock: socket.socket) -> bytes:
    size = struct.unpack(">i", recv_exactly(sock, 4))[0]
    return recv_exactly(sock, size)


def recv_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def api_versions_request(version: int, correlation_id: int) -> bytes:
    body = struct.pack(">hhih", 18, version, correlation_id, 4) + b"test"
    if version >= 3:
        body += b"\x00" + b"\x06zafka" + b"\x021" + b"\x00"
    return struct.pack(">i", len(body)) + body


def test_librdkafka_sees_every_broker_at_its_kafka_address(kafka_cluster: ZafkaCluster) -> None:
    admin = AdminClient(kafka_cluster.kafka_config)
    expected = set(kafka_cluster.bootstrap_servers.split(","))
    deadline = time.monotonic() + 20
    while True:  # a broker fenced for a moment (a missed heartbeat on a loaded machine)
        metadata = admin.list_topics(timeout=20)  # is left out until it is back
        advertised = {f"{b.host}:{b.port}" for b in metadata.brokers.values()}
        if advertised == expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert advertised == expected
    assert metadata.cluster_id == kafka_cluster.cluster.config.cluster_id
    assert metadata.controller_id in metadata.brokers


def test_metadata_names_the_real_leaders_and_epochs(kafka_cluster: ZafkaCluster) -> None:
    admin = AdminClient(kafka_cluster.kafka_config)
    from zafka import Admin
    with Admin(kafka_cluster.cluster_file) as zadmin:
        zadmin.create_topic("leaders", partitions=3, replication_factor=3)
        described = {p.partition: p for p in zadmin.describe_topic("leaders").partitions}
    deadline = time.monotonic() + 30
    while True:  # the answering broker applies the new topic a moment after it commits
        metadata = admin.list_topics("leaders", timeout=20).topics["leaders"]
        if metadata.error is None and len(metadata.partitions) == 3 \
                or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert metadata.error is None
    assert sorted(metadata.partitions) == [0, 1, 2]
    for index, partition in metadata.partitions.items():
        assert partition.leader == described[index].leader
        assert sorted(partition.replicas) == sorted(described[index].replicas)
        assert sorted(partition.isrs) == sorted(described[index].isr)


def test_kafka_python_negotiates_versions(kafka_cluster: ZafkaCluster) -> None:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**kafka_cluster.kafka_python_config, request_timeout_ms=20000)
    try:
        assert len(admin.describe_cluster()["brokers"]) == 3
    finally:
        admin.close()


def test_api_versions_of_an_unknown_version_falls_back_to_v0(
        kafka_cluster: ZafkaCluster) -> None:
    with raw_connection(kafka_cluster) as sock:
        sock.sendall(api_versions_request(99, correlation_id=5))
        frame = read_frame(sock)
    correlation_id, error_code, count = struct.unpack_from(">ihi", frame)
    assert (correlation_id, error_code) == (5, 35)  # UNSUPPORTED_VERSION
    keys = {struct.unpack_from(">hhh", frame, 10 + 6 * i)[0] for i in range(count)}
    assert {3, 18} <= keys


def test_pipelined_requests_are_answered_in_order(kafka_cluster: ZafkaCluster) -> None:
    with raw_connection(kafka_cluster) as sock:
        sock.sendall(b"".join(api_versions_request(v % 4, correlation_id=v) for v in range(20)))
        ids = [struct.unpack_from(">i", read_frame(sock))[0] for _ in range(20)]
    assert ids == list(range(20))


@pytest.mark.parametrize("payload, reason", [
    (struct.pack(">i", 2 << 20), "closed_frame_too_large"),
    (struct.pack(">i", 3) + b"abc", "closed_bad_frame"),
    (struct.pack(">ihhih", 10, 9999, 0, 1, -1), "closed_unsupported_api"),
    (struct.pack(">ihhih", 10, 3, 77, 1, -1), "closed_unsupported_api"),
    (struct.pack(">ihhih", 14, 3, 1, 1, -1) + b"\x00\x00\x00\x05", "closed_bad_request"),
    (METADATA_V1_ALL, "closed_unauthenticated"),
])
def test_bad_input_closes_the_connection_and_is_counted(
        kafka_cluster: ZafkaCluster, payload: bytes, reason: str) -> None:
    before = counters(kafka_cluster).get(reason, 0)
    with raw_connection(kafka_cluster, authenticate=reason == "closed_bad_request") as sock:
        sock.sendall(payload)
        assert sock.recv(1) == b""  # closed by the broker
    assert counters(kafka_cluster).get(reason, 0) == before + 1
    with raw_connection(kafka_cluster) as sock:  # the broker serves others on
        sock.sendall(api_versions_request(3, correlation_id=1))
        assert struct.unpack_from(">i", read_frame(sock))[0] == 1


def test_a_truncated_frame_then_close_is_counted(kafka_cluster: ZafkaCluster) -> None:
    before = counters(kafka_cluster).get("closed_truncated_frame", 0)
    with raw_connection(kafka_cluster) as sock:
        sock.sendall(api_versions_request(3, correlation_id=1)[:-3])
    wait_for(lambda: counters(kafka_cluster).get("closed_truncated_frame", 0) == before + 1)


def test_a_silent_client_is_closed_after_the_idle_timeout(kafka_cluster: ZafkaCluster) -> None:
    before = counters(kafka_cluster).get("closed_idle", 0)
    with raw_connection(kafka_cluster) as sock:
        assert sock.recv(1) == b""
    assert counters(kafka_cluster).get("closed_idle", 0) == before + 1


def wait_for(condition: object, timeout: float = 10.0) -> None:
    import time
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)




def test_after_sasl_plain_a_raw_connection_is_served(kafka_cluster: ZafkaCluster) -> None:
    with raw_connection(kafka_cluster, authenticate=True) as sock:
        sock.sendall(METADATA_V1_ALL)
        assert struct.unpack_from(">i", read_frame(sock))[0] == 9


def test_a_wrong_password_is_answered_then_closed_and_counted(
        kafka_cluster: ZafkaCluster) -> None:
    before = counters(kafka_cluster).get("closed_sasl_failed", 0)
    with raw_connection(kafka_cluster) as sock:
        assert sasl_plain(sock, kafka_cluster.kafka_config["sasl.username"], "guess") == 58
        assert sock.recv(1) == b""
    wait_for(lambda: counters(kafka_cluster).get("closed_sasl_failed", 0) == before + 1)


def test_sasl_handshake_v0_takes_bare_tokens(kafka_cluster: ZafkaCluster) -> None:
    """Kafka's pre-KIP-152 flow: after SaslHandshake v0 the token is a bare frame."""
    config = kafka_cluster.kafka_config
    with raw_connection(kafka_cluster) as sock:
        sock.sendall(request(17, 0, 1, struct.pack(">h", 5) + b"PLAIN"))
        assert struct.unpack_from(">ih", read_frame(sock)) == (1, 0)
        token = f"\0{config['sasl.username']}\0{config['sasl.password']}".encode()
        sock.sendall(struct.pack(">i", len(token)) + token)
        assert read_frame(sock) == b""  # PLAIN's (empty) server token, bare
        sock.sendall(METADATA_V1_ALL)
        assert struct.unpack_from(">i", read_frame(sock))[0] == 9


def test_librdkafka_with_a_wrong_password_gets_no_metadata(
        kafka_cluster: ZafkaCluster) -> None:
    from confluent_kafka import KafkaException
    admin = AdminClient({**kafka_cluster.kafka_config, "sasl.password": "guess"})
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=3)
