"""Real Kafka clients against a real zafka cluster: confluent-kafka (librdkafka),
kafka-python, aiokafka and kcat, each creating a topic with its Admin client, producing with
``acks=all`` and idempotence, reading it back from the beginning (assigned partitions),
describing and altering configs and adding partitions.

One cluster for the module; every client's settings come from the plugin's
``kafka_config`` / ``kafka_python_config`` (the listener's security settings apply to all).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

from zafka.testing import ZafkaCluster, running_cluster

RECORDS = 500


@pytest.fixture(scope="module")
def kafka_cluster() -> Iterator[ZafkaCluster]:
    with running_cluster() as cluster:
        yield cluster


def expected(prefix: str) -> list[tuple[bytes, bytes]]:
    return [(f"k{i}".encode(), f"{prefix}-{i}".encode()) for i in range(RECORDS)]


# --- confluent-kafka (librdkafka) -------------------------------------------------------


def test_confluent_kafka(kafka_cluster: ZafkaCluster) -> None:
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import (
        AdminClient,
        AlterConfigOpType,
        ConfigEntry,
        ConfigResource,
        NewPartitions,
        NewTopic,
    )

    config = kafka_cluster.kafka_config
    admin = AdminClient(config)
    admin.create_topics([NewTopic("ck", 3, 3)])["ck"].result(30)
    for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
        producer = Producer({**config, "acks": "all", "enable.idempotence": True,
                             "compression.type": codec, "linger.ms": 5})
        for key, value in expected(codec):
            producer.produce("ck", key=key, value=value)
        assert producer.flush(60) == 0
    consumer = Consumer({**config, "group.id": "ck-reader", "enable.auto.commit": False})
    consumer.assign([TopicPartition("ck", p, 0) for p in range(3)])
    got: list[tuple[bytes, bytes]] = []
    deadline = time.monotonic() + 60
    while len(got) < 5 * RECORDS and time.monotonic() < deadline:
        message = consumer.poll(1.0)
        if message is not None and message.error() is None:
            got.append((message.key(), message.value()))
    consumer.close()
    assert sorted(got) == sorted(kv for c in ("none", "gzip", "snappy", "lz4", "zstd")
                                 for kv in expected(c))

    resource = ConfigResource("topic", "ck", incremental_configs=[
        ConfigEntry("retention.ms", "3600000",
                    incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([resource])[resource].result(30)
    described = admin.describe_configs([ConfigResource("topic", "ck")])
    entries = next(iter(described.values())).result(30)
    assert entries["retention.ms"].value == "3600000"
    assert not entries["retention.ms"].is_default
    assert entries["segment.bytes"].is_default

    admin.create_partitions([NewPartitions("ck", 5)])["ck"].result(30)
    wait_for(lambda: len(admin.list_topics("ck", timeout=10).topics["ck"].partitions) == 5)


def test_confluent_transactions_are_refused_cleanly(kafka_cluster: ZafkaCluster) -> None:
    from confluent_kafka import KafkaException, Producer

    producer = Producer({**kafka_cluster.kafka_config, "transactional.id": "tx-1"})
    with pytest.raises(KafkaException) as raised:
        producer.init_transactions(30)
    assert raised.value.args[0].fatal()  # a clear, final refusal, not a hang or a retry


# --- kafka-python -----------------------------------------------------------------------


def test_kafka_python(kafka_cluster: ZafkaCluster) -> None:
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic

    config = kafka_cluster.kafka_python_config
    admin = KafkaAdminClient(**config, request_timeout_ms=30000)
    try:
        admin.create_topics([NewTopic("kp", 2, 3)])
        producer = KafkaProducer(**config, acks="all", enable_idempotence=True,
                                 compression_type="gzip", linger_ms=5)
        for key, value in expected("kp"):
            producer.send("kp", key=key, value=value)
        producer.flush(60)
        producer.close()
        consumer = KafkaConsumer(**config, enable_auto_commit=False,
                                 consumer_timeout_ms=10000)
        partitions = [TopicPartition("kp", p) for p in range(2)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        got = [(m.key, m.value) for m in consumer]
        consumer.close()
        assert sorted(got) == sorted(expected("kp"))

        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "kp",
                                            configs={"retention.ms": "7200000"})])
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "kp")])
        assert ("retention.ms", "7200000") in config_pairs(described)
        admin.create_partitions({"kp": NewPartitions(total_count=4)})
        wait_for(lambda: len(admin.describe_topics(["kp"])[0]["partitions"]) == 4)
    finally:
        admin.close()


def config_pairs(described: object) -> set[tuple[str, str]]:
    """(name, value) pairs from a DescribeConfigs result: kafka-python 3's nested dict
    ({"topic": {name: {key: {"value": ...}}}}) or aiokafka's response objects."""
    pairs = set()
    if isinstance(described, dict):
        for topics in described.values():
            for entries in topics.values():
                pairs |= {(key, entry["value"]) for key, entry in entries.items()}
        return pairs
    for response in described:  # type: ignore[attr-defined]
        for resource in response.resources:
            for entry in resource[4]:  # error, message, type, name, configs
                pairs.add((entry[0], entry[1]))
    return pairs


# --- aiokafka ---------------------------------------------------------------------------


def test_aiokafka(kafka_cluster: ZafkaCluster) -> None:
    asyncio.run(aiokafka_round(kafka_cluster))


async def aiokafka_round(kafka_cluster: ZafkaCluster) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    config = kafka_cluster.kafka_python_config
    admin = AIOKafkaAdminClient(**config, request_timeout_ms=30000)
    await admin.start()
    try:
        await admin.create_topics([NewTopic("ak", 2, 3)])
        producer = AIOKafkaProducer(**config, acks="all", enable_idempotence=True,
                                    compression_type="lz4")
        await producer.start()
        try:
            for key, value in expected("ak"):
                await producer.send("ak", key=key, value=value)
            await producer.flush()
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(**config, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = [TopicPartition("ak", p) for p in range(2)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            got: list[tuple[bytes, bytes]] = []
            while len(got) < RECORDS:
                batches = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), 30)
                got += [(m.key, m.value) for ms in batches.values() for m in ms]
        finally:
            await consumer.stop()
        assert sorted(got) == sorted(expected("ak"))

        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "ak",
                                                  configs={"cleanup.policy": "compact"})])
        described = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, "ak")])
        assert ("cleanup.policy", "compact") in config_pairs(described)
        await admin.create_partitions({"ak": NewPartitions(total_count=3)})
        deadline = time.monotonic() + 30  # brokers learn the new partition from the controller
        while len((await admin.describe_topics(["ak"]))[0]["partitions"]) != 3:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


# --- kcat -------------------------------------------------------------------------------


def kcat(kafka_cluster: ZafkaCluster, *args: str, stdin: str = "") -> str:
    options = [f"-X{k}={v}" for k, v in kafka_cluster.kafka_config.items()
               if k != "bootstrap.servers"]
    result = subprocess.run(["kcat", "-b", kafka_cluster.bootstrap_servers, *options, *args],
                            input=stdin, capture_output=True, text=True, timeout=60, check=True)
    return result.stdout


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed")
def test_kcat_lists_produces_and_consumes(kafka_cluster: ZafkaCluster) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(kafka_cluster.kafka_config)
    admin.create_topics([NewTopic("kc", 1, 3)])["kc"].result(30)
    wait_for(lambda: 'topic "kc" with 1 partitions' in kcat(kafka_cluster, "-L", "-t", "kc"))
    assert "3 brokers:" in kcat(kafka_cluster, "-L")
    lines = [f"line-{i}" for i in range(100)]
    kcat(kafka_cluster, "-P", "-t", "kc", "-X", "acks=all", stdin="\n".join(lines) + "\n")
    out = kcat(kafka_cluster, "-C", "-t", "kc", "-o", "beginning", "-e", "-q")
    assert out.split() == lines


def wait_for(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)
