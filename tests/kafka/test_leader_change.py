"""Leader changes as a Kafka client sees them on the wire: Metadata's leader epochs, and
``NOT_LEADER_OR_FOLLOWER`` / ``FENCED_LEADER_EPOCH`` / ``UNKNOWN_LEADER_EPOCH`` with the
current leader, so clients re-route the way they do with Kafka.

Requests are encoded and responses decoded with kio (the Kafka schemas' classes), sent over
a SASL-authenticated socket to a chosen broker of a real cluster; the partition's leader is
SIGKILLed to move the leadership.  And a broker started by hand with ``--kafka-port`` and
``--kafka-advertise`` is reached and advertised at the address it was given.
"""

from __future__ import annotations

import datetime
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kio.serial import entity_reader
from zafka.core.errors import ErrorCode
from zafka.kafka import codec
from zafka.kafka.handler import make
from zafka.storage.records import Record, encode_batch
from zafka.transport.cluster_file import ClusterFile

from tests.kafka.test_listener import read_frame, sasl_plain
from zafka import Admin
from zafka.testing import ZafkaCluster, running_cluster

TOPIC = "epochs"


@pytest.fixture
def kafka_cluster() -> Iterator[ZafkaCluster]:
    with running_cluster() as cluster:
        yield cluster


def kafka_address(cluster: ZafkaCluster, broker_id: int) -> tuple[str, int]:
    config = ClusterFile.load(cluster.cluster_file)
    host, port = config.node("broker", broker_id).kafka_address.rsplit(":", 1)
    return host, int(port)


class Wire:
    """One authenticated connection to one broker's Kafka listener."""

    def __init__(self, cluster: ZafkaCluster, broker_id: int) -> None:
        self.sock = socket.create_connection(kafka_address(cluster, broker_id), timeout=15)
        settings = cluster.kafka_config
        assert sasl_plain(self.sock, settings["sasl.username"], settings["sasl.password"]) == 0
        self.correlation_id = 100

    def ask(self, api_key: int, version: int, body: Any) -> Any:
        self.correlation_id += 1
        header = struct.pack(">hhih", api_key, version, self.correlation_id, 4) + b"test"
        if codec.is_flexible(api_key, version):
            header += b"\x00"  # request header v2: no tagged fields
        data = header + codec.encode(body)
        self.sock.sendall(struct.pack(">i", len(data)) + data)
        frame = read_frame(self.sock)
        assert struct.unpack_from(">i", frame)[0] == self.correlation_id
        offset = 5 if codec.is_flexible(api_key, version) else 4  # response header v1 / v0
        response, _ = entity_reader(codec.response_class(api_key, version))(frame, offset)
        return response

    def close(self) -> None:
        self.sock.close()


def metadata(wire: Wire) -> Any:
    cls = codec.request_class(3, 12)
    request = make(cls, topics=lambda item: (make(item, name=TOPIC, topic_id=None),),
                   allow_auto_topic_creation=False,
                   include_topic_authorized_operations=False)
    partition = wire.ask(3, 12, request).topics[0].partitions[0]
    return int(partition.leader_id), int(partition.leader_epoch)


def fetch(wire: Wire, current_leader_epoch: int) -> Any:
    cls = codec.request_class(1, 12)
    request = make(cls, max_wait=datetime.timedelta(milliseconds=10), min_bytes=1,
                   topics=lambda topic_cls: (make(
                       topic_cls, topic=TOPIC, partitions=lambda part_cls: (make(
                           part_cls, partition=0, current_leader_epoch=current_leader_epoch,
                           fetch_offset=0, partition_max_bytes=1 << 20),)),),
                   forgotten_topics_data=(), rack_id="")
    return wire.ask(1, 12, request).responses[0].partitions[0]


def produce(wire: Wire) -> Any:
    batch = encode_batch([Record(b"k", b"v", timestamp_ms=int(time.time() * 1000))])
    cls = codec.request_class(0, 9)
    request = make(cls, acks=-1, timeout=datetime.timedelta(seconds=10),
                   topic_data=lambda topic_cls: (make(
                       topic_cls, name=TOPIC, partition_data=lambda part_cls: (make(
                           part_cls, index=0, records=batch),)),))
    return wire.ask(0, 9, request).responses[0].partition_responses[0]


def test_a_leader_change_surfaces_as_kafkas_errors_with_the_new_leader(
        kafka_cluster: ZafkaCluster) -> None:
    with Admin(kafka_cluster.cluster_file) as admin:
        admin.create_topic(TOPIC, partitions=1, replication_factor=3,
                           config={"min.insync.replicas": 2})
        before = admin.describe_topic(TOPIC).partitions[0]
    leader, epoch = before.leader, before.leader_epoch
    follower = next(b for b in before.replicas if b != leader)

    wire = Wire(kafka_cluster, follower)
    deadline = time.monotonic() + 30
    while metadata(wire) != (leader, epoch):  # the broker applies the new topic
        assert time.monotonic() < deadline, f"metadata says {metadata(wire)}"
        time.sleep(0.05)
    assert ErrorCode(produce(wire).error_code) is ErrorCode.NOT_LEADER_OR_FOLLOWER
    at_follower = fetch(wire, epoch)
    assert ErrorCode(at_follower.error_code) is ErrorCode.NOT_LEADER_OR_FOLLOWER
    wire.close()

    at_leader = Wire(kafka_cluster, leader)
    assert ErrorCode(produce(at_leader).error_code) is ErrorCode.NONE
    assert ErrorCode(fetch(at_leader, epoch + 5).error_code) is ErrorCode.UNKNOWN_LEADER_EPOCH
    at_leader.close()

    kafka_cluster.cluster.kill(f"broker-{leader}")
    deadline = time.monotonic() + 30
    wire = Wire(kafka_cluster, follower)
    while metadata(wire)[0] in (leader, -1):
        assert time.monotonic() < deadline, "no new leader within 30 s"
        time.sleep(0.1)
    new_leader, new_epoch = metadata(wire)
    assert new_epoch > epoch
    wire.close()

    at_new = Wire(kafka_cluster, new_leader)
    fenced = fetch(at_new, epoch)
    assert ErrorCode(fenced.error_code) is ErrorCode.FENCED_LEADER_EPOCH
    assert (fenced.current_leader.leader_id, fenced.current_leader.leader_epoch) == \
        (new_leader, new_epoch)
    current = fetch(at_new, new_epoch)
    assert ErrorCode(current.error_code) is ErrorCode.NONE
    assert int(current.high_watermark) == 1  # the record acknowledged by the old leader
    at_new.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_broker_started_by_hand_listens_and_advertises_as_told(
        kafka_cluster: ZafkaCluster, tmp_path: Path) -> None:
    from confluent_kafka.admin import AdminClient

    port, advertised_port = free_port(), free_port()
    advertise = f"localhost:{advertised_port}"
    node = subprocess.Popen(
        [sys.executable, "-m", "zafka.cli.main", "node", "--role", "broker", "--id", "4",
         "--join", str(kafka_cluster.cluster_file), "--host", "127.0.0.1",
         "--data-dir", str(tmp_path / "broker-4"), "--kafka-port", str(port),
         "--kafka-advertise", advertise],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        admin = AdminClient(kafka_cluster.kafka_config)
        deadline = time.monotonic() + 60
        while 4 not in admin.list_topics(timeout=10).brokers:
            assert node.poll() is None, node.stderr.read().decode()[-2000:] \
                if node.stderr else "broker-4 ended"
            assert time.monotonic() < deadline, "broker 4 never joined"
            time.sleep(0.2)
        broker = admin.list_topics(timeout=10).brokers[4]
        assert (broker.host, broker.port) == ("localhost", advertised_port)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            settings = kafka_cluster.kafka_config
            assert sasl_plain(sock, settings["sasl.username"], settings["sasl.password"]) == 0
    finally:
        node.terminate()
        try:
            node.wait(20)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()
