"""Consumer groups of real Kafka clients against a real zafka cluster.

For confluent-kafka (librdkafka), kafka-python and aiokafka each: three consumers join one
group and split a six-partition topic; one leaves and the other two take its partitions;
offsets are committed; a consumer that joins the group afresh resumes from the commit.  And a
librdkafka consumer and zafka's own consumer share one group.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from zafka.testing import ZafkaCluster, running_cluster

PARTITIONS = 6
RECORDS = 600


@pytest.fixture(scope="module")
def kafka_cluster() -> Iterator[ZafkaCluster]:
    with running_cluster() as cluster:
        yield cluster


def new_topic(cluster: ZafkaCluster, records: int = RECORDS) -> tuple[str, set[bytes]]:
    """A fresh topic of PARTITIONS partitions (RF 3) holding ``records`` records."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    name = f"groups-{uuid.uuid4().hex[:8]}"
    admin = AdminClient(cluster.kafka_config)
    admin.create_topics([NewTopic(name, PARTITIONS, 3)])[name].result(30)
    return name, produce(cluster, name, range(records), Producer)


def produce(cluster: ZafkaCluster, topic: str, numbers: Any, producer_class: Any) -> set[bytes]:
    producer = producer_class({**cluster.kafka_config, "acks": "all",
                               "enable.idempotence": True, "linger.ms": 5})
    values = set()
    for i in numbers:
        value = f"{topic}-{i}".encode()
        producer.produce(topic, value, key=str(i).encode())
        values.add(value)
    assert producer.flush(30) == 0
    return values


def wait_until(condition: Callable[[], bool], step: Callable[[], None],
               timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not met within {timeout} s"
        step()


# --- confluent-kafka --------------------------------------------------------------------


def test_confluent_kafka_group_splits_rebalances_commits_and_resumes(
        kafka_cluster: ZafkaCluster) -> None:
    from confluent_kafka import Consumer, TopicPartition

    topic, values = new_topic(kafka_cluster)
    group = f"g-{topic}"
    settings = {**kafka_cluster.kafka_config, "group.id": group,
                "auto.offset.reset": "earliest", "enable.auto.commit": False,
                "session.timeout.ms": 10000, "heartbeat.interval.ms": 500}
    consumers = [Consumer(settings) for _ in range(3)]
    seen: list[bytes] = []
    try:
        for consumer in consumers:
            consumer.subscribe([topic])

        def poll_all() -> None:
            for consumer in consumers:
                message = consumer.poll(0.05)
                if message is not None and message.error() is None:
                    seen.append(message.value())
                    consumer.commit(message=message, asynchronous=False)

        def assigned() -> list[int]:
            return [len(c.assignment()) for c in consumers]

        wait_until(lambda: sorted(assigned()) == [2, 2, 2], poll_all,
                   what="three members with two partitions each")
        consumers.pop().close()  # leaves the group: the other two take its partitions
        wait_until(lambda: sorted(assigned()) == [3, 3], poll_all,
                   what="two members with three partitions each")
        wait_until(lambda: set(seen) >= values, poll_all, what="every record consumed")
        committed = consumers[0].committed(
            [TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=20)
        ends = {p: consumers[0].get_watermark_offsets(TopicPartition(topic, p), timeout=20)[1]
                for p in range(PARTITIONS)}
        assert {tp.partition: tp.offset for tp in committed} == ends
    finally:
        for consumer in consumers:
            consumer.close()

    from confluent_kafka import Producer
    later = produce(kafka_cluster, topic, range(RECORDS, RECORDS + 60), Producer)
    resumed = Consumer(settings)
    again: list[bytes] = []
    try:
        resumed.subscribe([topic])

        def poll_one() -> None:
            message = resumed.poll(0.1)
            if message is not None and message.error() is None:
                again.append(message.value())

        wait_until(lambda: len(again) >= len(later), poll_one, what="the new records")
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            poll_one()
    finally:
        resumed.close()
    assert sorted(again) == sorted(later)  # from the commit on: nothing before it again


def test_a_librdkafka_consumer_and_a_zafka_consumer_share_one_group(
        kafka_cluster: ZafkaCluster) -> None:
    from confluent_kafka import Consumer

    from zafka import Consumer as ZafkaConsumer

    topic, values = new_topic(kafka_cluster)
    group = f"mixed-{topic}"
    theirs = Consumer({**kafka_cluster.kafka_config, "group.id": group,
                       "auto.offset.reset": "earliest", "session.timeout.ms": 10000,
                       "heartbeat.interval.ms": 500})
    ours = ZafkaConsumer(topic, cluster=kafka_cluster.cluster.client_file_path, group_id=group,
                         auto_offset_reset="earliest")
    seen: list[bytes] = []
    try:
        theirs.subscribe([topic])

        def poll_both() -> None:
            message = theirs.poll(0.05)
            if message is not None and message.error() is None:
                seen.append(message.value())
            seen.extend(r.value for r in ours.poll(timeout_ms=50))

        wait_until(lambda: len(theirs.assignment()) == 3 and len(ours.assignment()) == 3,
                   poll_both, what="three partitions each")
        assert {tp.partition for tp in theirs.assignment()}.isdisjoint(
            {tp.partition for tp in ours.assignment()})
        wait_until(lambda: set(seen) >= values, poll_both, what="every record consumed")
    finally:
        theirs.close()
        ours.close()


# --- kafka-python -----------------------------------------------------------------------


def test_kafka_python_group_splits_rebalances_commits_and_resumes(
        kafka_cluster: ZafkaCluster) -> None:
    """kafka-python's poll blocks through a rebalance, so each member polls in its own
    thread, as an application's would."""
    from kafka import KafkaConsumer, TopicPartition

    topic, values = new_topic(kafka_cluster)
    group = f"g-{topic}"

    def consumer() -> Any:
        return KafkaConsumer(topic, group_id=group, auto_offset_reset="earliest",
                             enable_auto_commit=False, session_timeout_ms=10000,
                             heartbeat_interval_ms=500,
                             **kafka_cluster.kafka_python_config)

    seen: list[bytes] = []
    members = [PollingMember(consumer(), seen) for _ in range(3)]
    try:
        def assigned() -> list[int]:
            return [len(m.assignment) for m in members]

        wait_until(lambda: sorted(assigned()) == [2, 2, 2], lambda: time.sleep(0.1),
                   what="three members with two partitions each")
        members.pop().stop()
        wait_until(lambda: sorted(assigned()) == [3, 3], lambda: time.sleep(0.1),
                   what="two members with three partitions each")
        wait_until(lambda: set(seen) >= values, lambda: time.sleep(0.1),
                   what="every record consumed")
    finally:
        for member in members:
            member.stop()
    checker = consumer()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        ends = checker.end_offsets(partitions)
        assert {tp: checker.committed(tp) for tp in partitions} == ends
    finally:
        checker.close()

    from confluent_kafka import Producer
    later = produce(kafka_cluster, topic, range(RECORDS, RECORDS + 60), Producer)
    again: list[bytes] = []
    resumed = PollingMember(consumer(), again)
    try:
        wait_until(lambda: len(again) >= len(later), lambda: time.sleep(0.1),
                   what="the new records")
        time.sleep(1.0)
    finally:
        resumed.stop()
    assert sorted(again) == sorted(later)


class PollingMember:
    """A kafka-python consumer polling (and committing what it read) in its own thread."""

    def __init__(self, consumer: Any, seen: list[bytes]) -> None:
        self.consumer = consumer
        self.seen = seen
        self.assignment: set[Any] = set()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            batches = self.consumer.poll(timeout_ms=100)
            for records in batches.values():
                self.seen.extend(r.value for r in records)
            if batches:
                self.consumer.commit()
            self.assignment = set(self.consumer.assignment())
        self.consumer.close()  # leaves the group

    def stop(self) -> None:
        if self.running:
            self.running = False
            self.thread.join(30)


# --- aiokafka ---------------------------------------------------------------------------


def test_aiokafka_group_splits_rebalances_commits_and_resumes(
        kafka_cluster: ZafkaCluster) -> None:
    asyncio.run(aiokafka_group(kafka_cluster))


async def aiokafka_group(kafka_cluster: ZafkaCluster) -> None:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    topic, values = new_topic(kafka_cluster)
    group = f"g-{topic}"

    def consumer() -> Any:
        return AIOKafkaConsumer(topic, group_id=group, auto_offset_reset="earliest",
                                enable_auto_commit=False, session_timeout_ms=10000,
                                heartbeat_interval_ms=500,
                                **kafka_cluster.kafka_python_config)

    consumers = [consumer() for _ in range(3)]
    seen: list[bytes] = []

    async def poll_all() -> None:
        for member in consumers:
            batches = await member.getmany(timeout_ms=50)
            for records in batches.values():
                seen.extend(r.value for r in records)
            if batches:
                await member.commit()

    async def until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"{what} not met within {timeout} s"
            await poll_all()

    try:
        for member in consumers:
            await member.start()
        await until(lambda: sorted(len(c.assignment()) for c in consumers) == [2, 2, 2],
                    "three members with two partitions each")
        await consumers.pop().stop()
        await until(lambda: sorted(len(c.assignment()) for c in consumers) == [3, 3],
                    "two members with three partitions each")
        await until(lambda: set(seen) >= values, "every record consumed")
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        ends = await consumers[0].end_offsets(partitions)
        assert {tp: await consumers[0].committed(tp) for tp in partitions} == ends
    finally:
        for member in consumers:
            await member.stop()

    from confluent_kafka import Producer
    later = produce(kafka_cluster, topic, range(RECORDS, RECORDS + 60), Producer)
    resumed = consumer()
    consumers = [resumed]
    seen.clear()
    try:
        await resumed.start()
        await until(lambda: len(seen) >= len(later), "the new records")
        for _ in range(5):
            await poll_all()
    finally:
        await resumed.stop()
    assert sorted(seen) == sorted(later)
