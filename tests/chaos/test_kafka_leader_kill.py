"""A librdkafka producer at full speed while its partition's leader is SIGKILLed.

confluent-kafka (librdkafka) produces with ``acks=all`` and idempotence, as fast as it can,
to a three-partition topic (RF 3, ``min.insync.replicas=2``) through the Kafka listeners.
Partition 0's leader is killed with SIGKILL mid-stream and restarted; the producer keeps
going throughout and is flushed at the end.  A librdkafka consumer then reads every
partition from the beginning: every acknowledged record is there exactly once, at the offset
its acknowledgement named, and each partition holds what was sent to it in the order it was
sent (the numbers in the values only grow).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from zafka.testing import ZafkaCluster, running_cluster

pytestmark = pytest.mark.timeout(240)
TOPIC = "leader-kill"
PARTITIONS = 3


@pytest.fixture
def kafka_cluster() -> Iterator[ZafkaCluster]:
    with running_cluster() as cluster:
        yield cluster


class FullSpeedProducer(threading.Thread):
    """Produces ``<partition>:<n>`` values round-robin over the partitions until stopped;
    records every acknowledgement (and every failure) from librdkafka's delivery reports."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(name="full-speed-producer", daemon=True)
        from confluent_kafka import Producer

        self.producer = Producer({**config, "acks": "all", "enable.idempotence": True,
                                  "linger.ms": 2, "message.timeout.ms": 60000})
        self.stop = threading.Event()
        self.acked: dict[bytes, tuple[int, int]] = {}  # value -> (partition, offset)
        self.failed: list[tuple[bytes, str]] = []
        self.sent = 0
        self.error: BaseException | None = None

    def report(self, error: Any, message: Any) -> None:
        if error is None:
            self.acked[message.value()] = (message.partition(), message.offset())
        else:
            self.failed.append((message.value(), str(error)))

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                partition = self.sent % PARTITIONS
                value = f"{partition}:{self.sent // PARTITIONS}".encode()
                try:
                    self.producer.produce(TOPIC, value, partition=partition,
                                          on_delivery=self.report)
                    self.sent += 1
                except BufferError:  # the local queue is full: let deliveries drain it
                    self.producer.poll(0.01)
                    continue
                if self.sent % 1000 == 0:
                    self.producer.poll(0)
            assert self.producer.flush(90) == 0, "records still unacknowledged after 90 s"
        except BaseException as error:  # noqa: BLE001 - re-raised in the test's thread
            self.error = error

    def acked_count(self) -> int:
        return len(self.acked)


def read_everything(config: dict[str, Any]) -> list[tuple[int, int, bytes]]:
    """Every record of every partition, as (partition, offset, value), up to the end."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({**config, "group.id": "leader-kill-reader",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        ends = {p: consumer.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=30)[1]
                for p in range(PARTITIONS)}
        consumer.assign([TopicPartition(TOPIC, p, 0) for p in range(PARTITIONS)])
        seen: list[tuple[int, int, bytes]] = []
        next_offset = dict.fromkeys(range(PARTITIONS), 0)
        deadline = time.monotonic() + 120
        while any(next_offset[p] < ends[p] for p in range(PARTITIONS)):
            assert time.monotonic() < deadline, f"read stalled at {next_offset} of {ends}"
            for message in consumer.consume(10000, 1.0):
                assert message.error() is None, message.error()
                seen.append((message.partition(), message.offset(), message.value()))
                next_offset[message.partition()] = message.offset() + 1
        return seen
    finally:
        consumer.close()


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        time.sleep(0.05)


def test_sigkill_of_the_leader_under_a_full_speed_librdkafka_producer(
        kafka_cluster: ZafkaCluster) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    config = kafka_cluster.kafka_config
    admin = AdminClient(config)
    admin.create_topics([NewTopic(TOPIC, PARTITIONS, 3, config={
        "min.insync.replicas": "2"})])[TOPIC].result(30)

    def partition_leader() -> int:
        partitions = admin.list_topics(TOPIC, timeout=10).topics[TOPIC].partitions
        return partitions[0].leader if 0 in partitions else -1

    wait_for(lambda: partition_leader() >= 0, 30, "partition 0 has a leader in Metadata")
    leader = partition_leader()
    victim = f"broker-{leader}"

    producer = FullSpeedProducer(config)
    producer.start()
    try:
        wait_for(lambda: producer.acked_count() >= 20000, 60, "20,000 records acknowledged")
        kafka_cluster.cluster.kill(victim)
        killed_at = producer.acked_count()
        wait_for(lambda: producer.acked_count() >= killed_at + 20000, 60,
                 "20,000 more records acknowledged without the old leader")
        kafka_cluster.cluster.restart(victim)
        restarted_at = producer.acked_count()
        wait_for(lambda: producer.acked_count() >= restarted_at + 10000, 60,
                 "10,000 more records acknowledged after the restart")
    finally:
        producer.stop.set()
        producer.join(120)
    assert not producer.is_alive()
    if producer.error is not None:
        raise producer.error
    assert producer.failed == []  # librdkafka retried through the failover; nothing given up

    records = read_everything(config)
    read_at: dict[bytes, list[tuple[int, int]]] = {}
    for partition, offset, value in records:
        read_at.setdefault(value, []).append((partition, offset))
    duplicated = {v: places for v, places in read_at.items() if len(places) > 1}
    assert duplicated == {}
    lost = [v for v in producer.acked if v not in read_at]
    assert lost == []
    moved = {v: (where, read_at[v][0]) for v, where in producer.acked.items()
             if read_at[v][0] != where}
    assert moved == {}
    for partition in range(PARTITIONS):
        numbers = [int(v.split(b":")[1]) for p, _, v in records if p == partition]
        assert all(v.startswith(f"{partition}:".encode())
                   for p, _, v in records if p == partition)
        assert numbers == sorted(numbers), f"partition {partition} out of order"
    assert len(producer.acked) == producer.sent
