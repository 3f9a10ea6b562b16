"""Records as Kafka clients send them, read back exactly.

confluent-kafka, kafka-python and aiokafka each produce (``acks=all``, idempotent) with every
codec — none, gzip, snappy, lz4, zstd — records with headers, null keys, null values
(tombstones) and their own CreateTime timestamps.  librdkafka reads every record back, and so
does zafka's own consumer: same keys, values, headers and timestamps, in order per
partition.  A topic with ``message.timestamp.type=LogAppendTime`` gets the broker's time.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from zafka.testing import ZafkaCluster, running_cluster

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
COUNT = 200
BASE_MS = 1_700_000_000_000

# (key, value, headers, timestamp ms) as the producer sends it
Sent = tuple[bytes | None, bytes | None, tuple[tuple[str, bytes | None], ...], int]


@pytest.fixture(scope="module")
def kafka_cluster() -> Iterator[ZafkaCluster]:
    with running_cluster() as cluster:
        yield cluster


def records(tag: str, null_headers: bool = True) -> list[Sent]:
    """Every shape a record can take: plain, null key, tombstone, headers (one null unless
    the client refuses them: kafka-python does)."""
    out: list[Sent] = []
    for i in range(COUNT):
        key = None if i % 7 == 3 and i % 11 != 5 else f"k{i % 13}".encode()
        value = None if i % 11 == 5 else f"{tag}-{i}".encode() * (1 + i % 5)
        headers: tuple[tuple[str, bytes | None], ...] = ()
        if i % 3 == 0:
            headers = (("trace", f"t{i}".encode()), ("empty", b""))
            if null_headers:
                headers += (("nothing", None),)
        out.append((key, value, headers, BASE_MS + i))
    return out


def create_topic(cluster: ZafkaCluster, configs: dict[str, str] | None = None) -> str:
    from confluent_kafka.admin import AdminClient, NewTopic

    name = f"records-{uuid.uuid4().hex[:8]}"
    admin = AdminClient(cluster.kafka_config)
    admin.create_topics([NewTopic(name, 1, 3, config=configs or {})])[name].result(30)
    return name


def read_with_librdkafka(cluster: ZafkaCluster, topic: str, count: int) -> list[Any]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({**cluster.kafka_config, "group.id": f"read-{topic}",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    got: list[Any] = []
    deadline = time.monotonic() + 60
    try:
        while len(got) < count:
            assert time.monotonic() < deadline, f"read {len(got)} of {count}"
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                got.append(message)
    finally:
        consumer.close()
    return got


def read_with_zafka(cluster: ZafkaCluster, topic: str, count: int) -> list[Any]:
    from zafka import Consumer, TopicPartition

    consumer = Consumer(cluster=cluster.cluster.client_file_path, auto_offset_reset="earliest")
    consumer.assign([TopicPartition(topic, 0)])
    got: list[Any] = []
    deadline = time.monotonic() + 60
    try:
        while len(got) < count:
            assert time.monotonic() < deadline, f"read {len(got)} of {count}"
            got.extend(consumer.poll(timeout_ms=200))
    finally:
        consumer.close()
    return got


def check_read_back(cluster: ZafkaCluster, topic: str, sent: list[Sent]) -> None:
    theirs = read_with_librdkafka(cluster, topic, len(sent))
    assert [(m.key(), m.value(), tuple(m.headers() or ()), m.timestamp()[1]) for m in theirs] \
        == sent
    assert [m.offset() for m in theirs] == list(range(len(sent)))
    ours = read_with_zafka(cluster, topic, len(sent))
    assert [(r.key, r.value, r.headers, r.timestamp) for r in ours] == sent


@pytest.mark.parametrize("codec", CODECS)
def test_confluent_kafka_records_round_trip(kafka_cluster: ZafkaCluster, codec: str) -> None:
    from confluent_kafka import Producer

    topic = create_topic(kafka_cluster)
    sent = records(f"confluent-{codec}")
    producer = Producer({**kafka_cluster.kafka_config, "acks": "all",
                         "enable.idempotence": True, "compression.type": codec,
                         "linger.ms": 20})
    for key, value, headers, timestamp in sent:
        producer.produce(topic, value, key=key, headers=list(headers) or None,
                         timestamp=timestamp)
    assert producer.flush(30) == 0
    check_read_back(kafka_cluster, topic, sent)


@pytest.mark.parametrize("codec", CODECS)
def test_kafka_python_records_round_trip(kafka_cluster: ZafkaCluster, codec: str) -> None:
    from kafka import KafkaProducer

    topic = create_topic(kafka_cluster)
    sent = records(f"kafka-python-{codec}", null_headers=False)
    producer = KafkaProducer(**kafka_cluster.kafka_python_config, acks="all",
                             enable_idempotence=True, linger_ms=20,
                             compression_type=None if codec == "none" else codec)
    try:
        for key, value, headers, timestamp in sent:
            producer.send(topic, value, key=key, headers=list(headers), partition=0,
                          timestamp_ms=timestamp)
        producer.flush(30)
    finally:
        producer.close()
    check_read_back(kafka_cluster, topic, sent)


@pytest.mark.parametrize("codec", CODECS)
def test_aiokafka_records_round_trip(kafka_cluster: ZafkaCluster, codec: str) -> None:
    topic = create_topic(kafka_cluster)
    sent = records(f"aiokafka-{codec}")

    async def produce() -> None:
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(**kafka_cluster.kafka_python_config, acks="all",
                                    enable_idempotence=True, linger_ms=20,
                                    compression_type=None if codec == "none" else codec)
        await producer.start()
        try:
            sending = [await producer.send(topic, value, key=key, headers=list(headers),
                                           partition=0, timestamp_ms=timestamp)
                       for key, value, headers, timestamp in sent]
            await asyncio.gather(*sending)
        finally:
            await producer.stop()

    asyncio.run(produce())
    check_read_back(kafka_cluster, topic, sent)


def test_log_append_time_topics_stamp_the_brokers_time(kafka_cluster: ZafkaCluster) -> None:
    from confluent_kafka import TIMESTAMP_LOG_APPEND_TIME, Producer

    topic = create_topic(kafka_cluster, {"message.timestamp.type": "LogAppendTime"})
    producer = Producer({**kafka_cluster.kafka_config, "acks": "all", "linger.ms": 5,
                         "compression.type": "zstd"})
    before = int(time.time() * 1000)
    for i in range(20):
        producer.produce(topic, f"v{i}".encode(), timestamp=BASE_MS + i)
    assert producer.flush(30) == 0
    after = int(time.time() * 1000)
    read = read_with_librdkafka(kafka_cluster, topic, 20)
    assert [m.value() for m in read] == [f"v{i}".encode() for i in range(20)]
    for message in read:
        kind, stamp = message.timestamp()
        assert kind == TIMESTAMP_LOG_APPEND_TIME
        assert before - 5000 <= stamp <= after + 5000  # the broker's clock, not BASE_MS
