"""Topics, produce, fetch, ISR and failover across real broker processes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from zafka.client.admin import Admin
from zafka.core.errors import InvalidPartitions, NotEnoughReplicas, ZafkaError

from tests.integration.wire import RawProducer, leader_of, read_partition, wait_until
from zafka.launcher import Cluster


@pytest.fixture
def three(cluster_factory) -> Cluster:  # type: ignore[no-untyped-def]
    return cluster_factory(brokers=3, coordinators=3)


@pytest.fixture
def admin(three: Cluster):  # type: ignore[no-untyped-def]
    with Admin(str(three.cluster_file_path)) as client:
        yield client


def full_isr(admin: Admin, topic: str) -> bool:
    return all(sorted(p.isr) == sorted(p.replicas) and p.leader >= 0
               for p in admin.describe_topic(topic).partitions)


def test_produce_acks_all_is_replicated_and_described(three: Cluster, admin: Admin) -> None:
    admin.create_topic("orders", partitions=3, replication_factor=3)
    producer = RawProducer(three, admin, "orders")
    for partition in range(3):
        for batch in range(4):
            producer.send(partition, [f"{partition}-{batch}-{i}".encode() for i in range(10)])
    info = admin.describe_topic("orders")
    assert [p.high_watermark for p in info.partitions] == [40, 40, 40]
    assert [p.log_end_offset for p in info.partitions] == [40, 40, 40]
    assert {p.leader for p in info.partitions} == {1, 2, 3}, "leaders are balanced"
    for p in info.partitions:
        assert sorted(p.isr) == [1, 2, 3] and p.leader == p.replicas[0]
    values = [v for _, v in read_partition(three, admin, "orders", 1)]
    assert values == [f"1-{b}-{i}".encode() for b in range(4) for i in range(10)]


def test_sigkill_of_a_leader_mid_stream_loses_nothing_acknowledged(three: Cluster,
                                                                   admin: Admin) -> None:
    admin.create_topic("stream", partitions=3, replication_factor=3,
                       config={"min.insync.replicas": 2})
    producer = RawProducer(three, admin, "stream")
    acknowledged: dict[int, list[bytes]] = {0: [], 1: [], 2: []}
    victim = leader_of(admin, "stream", 0)
    stop = threading.Event()
    errors: list[BaseException] = []

    def produce() -> None:
        n = 0
        try:
            while not stop.is_set():
                for partition in range(3):
                    values = [f"{partition}:{n}:{i}".encode() for i in range(5)]
                    producer.send(partition, values)
                    acknowledged[partition].extend(values)
                n += 1
        except BaseException as error:  # reported below
            errors.append(error)

    thread = threading.Thread(target=produce)
    thread.start()
    wait_until(lambda: len(acknowledged[0]) >= 100, what="records before the kill")
    killed_at = time.monotonic()
    three.kill(f"broker-{victim}")
    count = len(acknowledged[0])
    wait_until(lambda: len(acknowledged[0]) > count + 50, what="produce after failover")
    failover_s = time.monotonic() - killed_at
    three.restart(f"broker-{victim}")
    wait_until(lambda: len(acknowledged[0]) > count + 200, what="produce after restart")
    stop.set()
    thread.join(timeout=60)
    assert not errors, errors
    print(f"producing resumed {failover_s:.2f} s after the leader was killed")
    wait_until(lambda: full_isr(admin, "stream"), what="the restarted broker back in ISR")
    for partition in range(3):
        read = read_partition(three, admin, "stream", partition)
        offsets = [o for o, _ in read]
        assert offsets == list(range(offsets[0], offsets[0] + len(offsets))), "no gaps"
        assert [v for _, v in read] == acknowledged[partition], \
            "every acknowledged record exactly once, in order"


def test_min_insync_replicas_refuses_acks_all_but_not_acks_1(three: Cluster,
                                                             admin: Admin) -> None:
    admin.create_topic("guarded", partitions=1, replication_factor=3,
                       config={"min.insync.replicas": 2})
    leader = leader_of(admin, "guarded", 0)
    for broker in (b for b in (1, 2, 3) if b != leader):
        three.kill(f"broker-{broker}")
    wait_until(lambda: len(admin.describe_topic("guarded").partitions[0].isr) == 1,
               what="the ISR to shrink to the leader")
    strict = RawProducer(three, admin, "guarded", acks=-1)
    before = admin.describe_topic("guarded").partitions[0].log_end_offset
    with pytest.raises(NotEnoughReplicas):
        strict.attempt(0, _batch(b"refused"))
    assert admin.describe_topic("guarded").partitions[0].log_end_offset == before, \
        "NotEnoughReplicas must append nothing"
    relaxed = RawProducer(three, admin, "guarded", acks=1, idempotent=False)
    assert relaxed.attempt(0, _batch(b"accepted")) == before


def _batch(value: bytes) -> bytes:
    from zafka.storage.records import Record, encode_batch

    return encode_batch([Record(key=None, value=value, timestamp_ms=int(time.time() * 1000))])


def test_lowering_retention_ms_deletes_old_segments_of_a_live_topic(three: Cluster,
                                                                     admin: Admin) -> None:
    admin.create_topic("logs", partitions=1, replication_factor=3,
                       config={"segment.bytes": 1024, "max.message.bytes": 1024})
    producer = RawProducer(three, admin, "logs")
    for i in range(20):
        producer.send(0, [b"x" * 200, f"{i}".encode()])
    leader = leader_of(admin, "logs", 0)
    directory = Path(three.data_dir) / f"broker-{leader}" / "logs" / "logs-0"
    before = sorted(directory.glob("*.log"))
    assert len(before) > 3 and admin.describe_topic("logs").partitions[0].log_start_offset == 0
    admin.alter_configs("logs", {"retention.ms": 1})
    wait_until(lambda: admin.describe_topic("logs").partitions[0].log_start_offset > 0,
               what="old segments deleted")
    after = sorted(directory.glob("*.log"))
    assert len(after) < len(before) and after[-1] == before[-1], "the active segment stays"
    assert admin.describe_configs("logs")["retention.ms"] == "1"


def test_partitions_grow_from_3_to_6_and_never_shrink(three: Cluster, admin: Admin) -> None:
    admin.create_topic("grow", partitions=3, replication_factor=2)
    admin.create_partitions("grow", 6)
    wait_until(lambda: all(p.leader >= 0 and p.high_watermark == 0
                           for p in admin.describe_topic("grow").partitions),
               what="new partitions led")
    assert len(admin.describe_topic("grow").partitions) == 6
    assert RawProducer(three, admin, "grow").send(5, [b"on a new partition"]) == 0
    with pytest.raises(InvalidPartitions, match="can only grow"):
        admin.create_partitions("grow", 3)
    assert len(admin.describe_topic("grow").partitions) == 6


def test_delete_topic_removes_its_data_from_every_broker(three: Cluster, admin: Admin) -> None:
    admin.create_topic("doomed", partitions=2, replication_factor=3)
    RawProducer(three, admin, "doomed").send(0, [b"bye"])
    dirs = [Path(three.data_dir) / f"broker-{b}" / "logs" / "doomed-0" for b in (1, 2, 3)]
    assert all(d.exists() for d in dirs)
    admin.delete_topic("doomed")
    wait_until(lambda: not any(d.exists() for d in dirs), what="logs deleted")
    assert "doomed" not in admin.list_topics()


def test_a_restarted_follower_truncates_and_catches_up(three: Cluster, admin: Admin) -> None:
    admin.create_topic("catchup", partitions=1, replication_factor=3)
    producer = RawProducer(three, admin, "catchup")
    leader = leader_of(admin, "catchup", 0)
    follower = next(b for b in (1, 2, 3) if b != leader)
    three.kill(f"broker-{follower}")
    for i in range(30):
        producer.send(0, [f"{i}".encode()])
    three.restart(f"broker-{follower}")
    wait_until(lambda: full_isr(admin, "catchup"), what="the follower back in the ISR")
    status = three.ref(f"broker-{follower}", "broker").ask(_status(), 5).result()
    replica = next(r for r in status.replicas if r.topic == "catchup")
    assert replica.role == "follower" and replica.log_end_offset == 30


def _status():  # type: ignore[no-untyped-def]
    from zafka.core.messages import ReplicaStatusRequest

    return ReplicaStatusRequest()


def test_unknown_topic_and_bad_requests_get_clear_errors(three: Cluster, admin: Admin) -> None:
    with pytest.raises(ZafkaError, match="does not exist"):
        admin.describe_topic("nope")
    producer = RawProducer(three, admin, "nope", idempotent=False)
    from zafka.core.errors import UnknownTopicOrPartition
    from zafka.core.messages import ProducePartitionData, ProduceRequest

    reply = three.ref("broker-1", "broker").ask(ProduceRequest(
        acks=-1, timeout_ms=1000, partitions=(ProducePartitionData(
            topic="nope", partition=0, records=memoryview(bytearray(_batch(b"x")))),)),
        5).result()
    assert reply.partitions[0].error == UnknownTopicOrPartition.code
    assert producer.producer_id == -1


def test_a_killed_broker_is_fenced_when_its_connection_drops_not_its_session_timeout(
        cluster_factory) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import FAST_TUNABLES

    cluster = cluster_factory(brokers=3, coordinators=3, tunables={
        **FAST_TUNABLES, "broker_session_timeout_ticks": 6_000})  # a one-minute session
    with Admin(str(cluster.cluster_file_path)) as admin:
        admin.create_topic("fenced", partitions=6, replication_factor=3)
        wait_until(lambda: full_isr(admin, "fenced"), what="a full ISR")
        led = [p.partition for p in admin.describe_topic("fenced").partitions if p.leader == 2]
        assert led
        cluster.kill("broker-2")
        wait_until(lambda: all(p.leader not in (-1, 2) and 2 not in p.isr
                               for p in admin.describe_topic("fenced").partitions),
                   timeout=30, what="broker 2 fenced long before its session ran out")
