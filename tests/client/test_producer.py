"""The Producer against a real cluster: acks, batching, back-pressure, partitioning, errors,
the actor API, compression; and retries across a leader kill (its own cluster)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pykka
import pytest
from zafka.client import (
    BufferExhausted,
    FlushRecords,
    Producer,
    ProducerRecord,
    RecordMetadata,
    RecordsFlushed,
    RecordsSent,
    SendRecords,
)
from zafka.client.admin import Admin, ClientClosed
from zafka.client.partitioner import partition_for_key
from zafka.client.producer_config import ProducerConfigError
from zafka.client.serializers import SerializationError
from zafka.core.errors import NotEnoughReplicas, RecordTooLarge, UnknownTopicOrPartition
from zafka.core.messages import FetchPartition, FetchRequest
from zafka.storage.records import COMPRESSION_GZIP, BatchHeader, ConsumerRecord, decode_batches
from zafka.storage.records import iter_batches as iter_log_batches

from zafka.launcher import Cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with Cluster(brokers=3, coordinators=3, data_dir=tmp_path_factory.mktemp("producer")) \
            as running:
        yield running


@pytest.fixture(scope="module")
def admin(cluster: Cluster) -> Iterator[Admin]:
    with Admin(str(cluster.cluster_file_path)) as client:
        yield client


_topics = iter(range(1_000_000))


def new_topic(admin: Admin, partitions: int = 1, replication_factor: int = 3,
              **config: Any) -> str:
    name = f"topic-{next(_topics)}"
    admin.create_topic(name, partitions, replication_factor, config=config)
    return name


def producer(cluster: Cluster, **options: Any) -> Producer:
    return Producer(str(cluster.cluster_file_path), **options)


def read_raw(cluster: Cluster, admin: Admin, topic: str, partition: int = 0) -> bytes:
    """Every committed batch of a partition, as the leader returns them."""
    leader = admin.describe_topic(topic).partitions[partition].leader
    address = cluster.config.node("broker", leader).address
    data = bytearray()
    offset = 0
    while True:
        reply = cluster.postbox.ask(address, "broker", FetchRequest(
            replica_id=-1, max_wait_ms=0, min_bytes=1, max_bytes=4 << 20,
            partitions=(FetchPartition(topic=topic, partition=partition, fetch_offset=offset,
                                       partition_max_bytes=4 << 20),)), 5).result()
        part = reply.partitions[0]
        batches = list(iter_log_batches(part.records))
        if not batches:
            return bytes(data)
        for header, view in batches:
            data += view
            offset = header.next_offset


def read_records(cluster: Cluster, admin: Admin, topic: str, partition: int = 0,
                 ) -> list[ConsumerRecord]:
    return decode_batches(read_raw(cluster, admin, topic, partition))


def log_batches(cluster: Cluster, admin: Admin, topic: str, records: int = 0,
                ) -> list[BatchHeader]:
    """The committed batch headers; with ``records``, waits up to 10 s until that many are
    committed (below acks=all a record is acknowledged before its followers have it)."""
    deadline = time.monotonic() + 10
    while True:
        headers = [header for header, _ in iter_log_batches(read_raw(cluster, admin, topic))]
        if sum(h.record_count for h in headers) >= records or time.monotonic() > deadline:
            return headers
        time.sleep(0.05)


# --- sending and acknowledgements ---------------------------------------------------------


def test_send_returns_a_future_with_the_offset_where_the_record_landed(
        cluster: Cluster, admin: Admin) -> None:
    topic = new_topic(admin)
    with producer(cluster) as p:
        first = p.send(topic, b"v0", key=b"k", headers=[("h", b"1")], timestamp_ms=1234)
        second = p.send(topic, b"v1")
        meta = first.get(timeout=10)
        assert meta == RecordMetadata(topic, 0, 0, 1234, 1, 2)
        assert second.get(timeout=10).offset == 1
        assert first.is_done and first.succeeded() and first.exception is None
    records = read_records(cluster, admin, topic)
    assert [(r.offset, r.key, r.value, r.headers, r.timestamp_ms) for r in records[:1]] == \
        [(0, b"k", b"v0", (("h", b"1"),), 1234)]
    assert records[1].value == b"v1"


@pytest.mark.parametrize("acks", [0, 1, "all"])
def test_every_acks_setting_delivers_records(cluster: Cluster, admin: Admin,
                                             acks: int | str) -> None:
    topic = new_topic(admin)
    with producer(cluster, acks=acks) as p:
        futures = [p.send(topic, f"v{i}".encode()) for i in range(20)]
        p.flush(timeout=10)
        offsets = [f.get(timeout=1).offset for f in futures]
    if acks == 0:
        assert offsets == [-1] * 20, "acks=0: the broker says nothing, offsets are unknown"
    else:
        assert offsets == list(range(20))
    deadline = time.monotonic() + 5  # below acks=all, followers may still be catching up
    while len(read_records(cluster, admin, topic)) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [r.value for r in read_records(cluster, admin, topic)] == \
        [f"v{i}".encode() for i in range(20)]


def test_idempotence_is_on_by_default_and_off_with_weaker_acks(cluster: Cluster,
                                                                admin: Admin) -> None:
    topic = new_topic(admin)
    with producer(cluster) as p:
        p.send(topic, b"x").get(timeout=10)
    with producer(cluster, acks=1) as p:
        p.send(topic, b"y").get(timeout=10)
    headers = log_batches(cluster, admin, topic, records=2)
    assert headers[0].producer_id >= 0 and headers[0].base_sequence == 0
    assert headers[1].producer_id == -1, "acks=1 left idempotence at its default: off"
    with pytest.raises(ProducerConfigError, match="acks"):
        producer(cluster, acks=1, enable_idempotence=True)


def test_callbacks_and_errbacks_run_with_the_outcome(cluster: Cluster, admin: Admin) -> None:
    topic = new_topic(admin, **{"max.message.bytes": 1000})
    outcomes: list[Any] = []
    done = threading.Event()
    with producer(cluster) as p:
        p.send(topic, b"ok").add_callback(outcomes.append).add_errback(outcomes.append)
        p.send(topic, b"x" * 2000).add_errback(lambda e: (outcomes.append(e), done.set()))
        assert done.wait(10)
        p.flush(timeout=10)
    assert isinstance(outcomes[0], RecordMetadata) and isinstance(outcomes[1], RecordTooLarge)


# --- batching and partitioning ------------------------------------------------------------


def test_linger_ms_gathers_records_into_fewer_larger_batches(cluster: Cluster,
                                                              admin: Admin) -> None:
    eager, lingering = new_topic(admin), new_topic(admin)
    with producer(cluster, linger_ms=0, acks=1) as p:
        for i in range(30):
            p.send(eager, b"%d" % i).get(timeout=10)
    with producer(cluster, linger_ms=300, batch_size=1 << 20) as p:
        futures = [p.send(lingering, b"%d" % i) for i in range(30)]
        assert not any(f.is_done for f in futures), "nothing is sent before linger_ms"
        [f.get(timeout=10) for f in futures]
        assert p.stats().requests == 1
    assert len(log_batches(cluster, admin, eager, records=30)) == 30
    assert [h.record_count for h in log_batches(cluster, admin, lingering)] == [30]


def test_batch_size_caps_the_bytes_of_one_batch(cluster: Cluster, admin: Admin) -> None:
    topic = new_topic(admin)
    with producer(cluster, linger_ms=60_000, batch_size=2_000, delivery_timeout_ms=120_000) \
            as p:
        for _ in range(50):
            p.send(topic, b"x" * 100)
        p.flush(timeout=10)
    headers = log_batches(cluster, admin, topic)
    assert len(headers) >= 3 and all(h.size <= 2_000 for h in headers)
    assert sum(h.record_count for h in headers) == 50


def test_a_keyed_record_lands_on_its_murmur2_partition(cluster: Cluster, admin: Admin) -> None:
    topic = new_topic(admin, partitions=5)
    keys = [f"user-{i}".encode() for i in range(20)]
    with producer(cluster) as p:
        futures = {key: p.send(topic, b"v", key=key) for key in keys}
        placed = {key: future.get(timeout=10).partition for key, future in futures.items()}
    assert placed == {key: partition_for_key(key, 5) for key in keys}
    assert len(set(placed.values())) > 1


def test_keyless_records_stick_to_one_partition_per_batch(cluster: Cluster,
                                                           admin: Admin) -> None:
    topic = new_topic(admin, partitions=4)
    with producer(cluster, linger_ms=200) as p:
        futures = [p.send(topic, b"v") for _ in range(10)]
        partitions = {f.get(timeout=10).partition for f in futures}
    assert len(partitions) == 1, "one open batch: keyless records stick to its partition"


def test_an_explicit_partition_is_used_and_checked(cluster: Cluster, admin: Admin) -> None:
    topic = new_topic(admin, partitions=3)
    with producer(cluster) as p:
        assert p.send(topic, b"v", partition=2).get(timeout=10).partition == 2
        assert p.partitions_for(topic) == {0, 1, 2}
        with pytest.raises(UnknownTopicOrPartition, match="not 7"):
            p.send(topic, b"v", partition=7)


def test_gzip_batches_are_compressed_and_read_back(cluster: Cluster, admin: Admin) -> None:
    topic = new_topic(admin)
    with producer(cluster, compression_type="gzip", linger_ms=100) as p:
        for i in range(100):
            p.send(topic, b"the same text again %d" % i)
        p.flush(timeout=10)
    headers = log_batches(cluster, admin, topic)
    assert {h.compression for h in headers} == {COMPRESSION_GZIP}
    assert sum(h.size for h in headers) < 100 * 20
    assert [r.value for r in read_records(cluster, admin, topic)] == \
        [b"the same text again %d" % i for i in range(100)]
    with pytest.raises(ProducerConfigError, match="'brotli' is not supported"):
        producer(cluster, compression_type="brotli")


# --- back-pressure and errors --------------------------------------------------------------


def test_a_full_buffer_blocks_send_for_max_block_ms_then_raises(cluster: Cluster,
                                                                  admin: Admin) -> None:
    topic = new_topic(admin)
    with producer(cluster, buffer_memory=4_000, max_block_ms=200, linger_ms=60_000,
                  batch_size=100_000) as p:
        buffered = []
        started = time.monotonic()
        with pytest.raises(BufferExhausted, match="buffer_memory=4000"):
            for _ in range(100):
                buffered.append(p.send(topic, b"x" * 100))
        assert time.monotonic() - started >= 0.2
        assert 30 <= len(buffered) < 4_000 / 100, "memory counts the records' bytes"
        p.flush(timeout=10)
        after = p.send(topic, b"room again after the flush")
        p.flush(timeout=10)
        assert after.get(timeout=1).offset == len(buffered)


def test_sending_to_an_unknown_topic_raises_after_metadata_lookups(cluster: Cluster) -> None:
    with producer(cluster) as p:
        with pytest.raises(UnknownTopicOrPartition, match="does not exist"):
            p.send("no-such-topic", b"v")


def test_a_topic_created_a_moment_ago_is_found(cluster: Cluster, admin: Admin) -> None:
    with producer(cluster) as p:
        topic = new_topic(admin)
        assert p.send(topic, b"v").get(timeout=10).offset == 0


def test_serializer_failures_raise_from_send(cluster: Cluster, admin: Admin) -> None:
    topic = new_topic(admin)
    with producer(cluster, value_serializer="json") as p:
        with pytest.raises(SerializationError, match="json"):
            p.send(topic, object())
        assert p.send(topic, {"ok": True}).get(timeout=10).offset == 0

    def broken(value: Any) -> bytes:
        raise RuntimeError("no")

    with producer(cluster, key_serializer=broken) as p:
        with pytest.raises(SerializationError, match="no"):
            p.send(topic, b"v", key="k")
    with producer(cluster) as p:
        with pytest.raises(SerializationError, match="bytes"):
            p.send(topic, "a str with the default bytes serializer")
    assert [r.value for r in read_records(cluster, admin, topic)] == [b'{"ok":true}']


def test_a_record_over_max_request_size_is_refused_by_send(cluster: Cluster,
                                                             admin: Admin) -> None:
    topic = new_topic(admin)
    with producer(cluster, max_request_size=1_000) as p:
        with pytest.raises(RecordTooLarge, match="max_request_size"):
            p.send(topic, b"x" * 2_000)


def test_a_record_over_max_message_bytes_fails_with_record_too_large(cluster: Cluster,
                                                                       admin: Admin) -> None:
    topic = new_topic(admin, **{"max.message.bytes": 1000})
    with producer(cluster) as p:
        with pytest.raises(RecordTooLarge, match="max.message.bytes"):
            p.send(topic, b"x" * 2_000).get(timeout=10)
        assert p.send(topic, b"small").get(timeout=10).offset == 0, \
            "the refused record left no sequence gap"


def test_a_batch_over_max_message_bytes_is_split_and_delivered_in_order(
        cluster: Cluster, admin: Admin) -> None:
    topic = new_topic(admin, **{"max.message.bytes": 1000})
    with producer(cluster, linger_ms=100, batch_size=16_384) as p:
        futures = [p.send(topic, b"%03d" % i + b"x" * 200) for i in range(12)]
        offsets = [f.get(timeout=10).offset for f in futures]
    assert offsets == list(range(12))
    assert [r.value[:3] for r in read_records(cluster, admin, topic)] == \
        [b"%03d" % i for i in range(12)]


def test_use_after_close_raises_client_closed(cluster: Cluster, admin: Admin) -> None:
    topic = new_topic(admin)
    p = producer(cluster, linger_ms=60_000)
    pending = p.send(topic, b"sent by close")
    p.close()
    assert pending.get(timeout=1).offset == 0, "close sends what is buffered"
    with pytest.raises(ClientClosed):
        p.send(topic, b"v")
    with pytest.raises(ClientClosed):
        p.flush()
    p.close()


# --- the actor API -------------------------------------------------------------------------


class Collector(pykka.ThreadingActor):
    """A user's actor that sends records through the producer and keeps the replies."""

    def __init__(self, producer_ref: Any, topic: str) -> None:
        super().__init__()
        self.producer_ref = producer_ref
        self.topic = topic
        self.replies: list[Any] = []
        self.done = threading.Event()

    def on_receive(self, message: Any) -> None:
        if message == "go":
            records = tuple(ProducerRecord(topic=self.topic, value={"n": i}) for i in range(5))
            self.producer_ref.tell(SendRecords(records=records + (
                ProducerRecord(topic="no-such-topic", value=1),), reply_to=self.actor_ref,
                correlation_id=7))
            self.producer_ref.tell(FlushRecords(reply_to=self.actor_ref, correlation_id=8))
        else:
            self.replies.append(message)
            if len(self.replies) == 2:
                self.done.set()


def test_user_actors_send_records_and_receive_results_as_messages(cluster: Cluster,
                                                                  admin: Admin) -> None:
    topic = new_topic(admin)
    with producer(cluster, value_serializer="json") as p:
        collector = Collector.start(p.actor_ref, topic)
        try:
            collector.tell("go")
            done = collector.proxy().done.get(timeout=5)
            assert done.wait(15)
            replies = collector.proxy().replies.get(timeout=5)
        finally:
            collector.stop()
    sent = next(r for r in replies if isinstance(r, RecordsSent))
    assert sent.correlation_id == 7
    assert [m.offset for m in sent.results[:5]] == [0, 1, 2, 3, 4]
    assert isinstance(sent.results[5], UnknownTopicOrPartition)
    assert RecordsFlushed(correlation_id=8) in replies


# --- failures ------------------------------------------------------------------------------


def produce_numbers(p: Producer, topic: str, count: int, kill: Any) -> list[Any]:
    futures = []
    for n in range(count):
        futures.append(p.send(topic, b"%06d" % n))
        if n == count // 3:
            kill()
        if n % 50 == 0:
            time.sleep(0.01)
    return futures


def test_acknowledged_records_survive_a_leader_kill_exactly_once_in_order(
        cluster_factory: Any) -> None:
    """acks=all + idempotence: retries after the leader dies resend the same batches; the
    new leader deduplicates, so the log holds each record once, in send order."""
    failing = cluster_factory(brokers=3, coordinators=3)
    with Admin(str(failing.cluster_file_path)) as admin:
        topic = new_topic(admin, partitions=1)
        strict = new_topic(admin, **{"min.insync.replicas": 3})
        leader = admin.describe_topic(topic).partitions[0].leader
        with producer(failing, request_timeout_ms=3_000, delivery_timeout_ms=60_000,
                      linger_ms=5) as p:
            futures = produce_numbers(p, topic, 3_000,
                                      lambda: failing.kill(f"broker-{leader}"))
            offsets = [f.get(timeout=60).offset for f in futures]
            assert p.stats().retries > 0, "the kill made the producer retry"
        assert offsets == list(range(3_000))
        values = [r.value for r in read_records(failing, admin, topic)]
        assert values == [b"%06d" % n for n in range(3_000)]

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the dead broker leaves the ISR; a leader remains
            state = admin.describe_topic(strict).partitions[0]
            if state.leader != -1 and len(state.isr) == 2:
                break
            time.sleep(0.1)
        with producer(failing, request_timeout_ms=1_000, delivery_timeout_ms=4_000) as p:
            with pytest.raises(NotEnoughReplicas):
                p.send(strict, b"v").get(timeout=10)


def test_five_batches_in_flight_survive_a_leader_sigkill_exactly_once_in_order(
        cluster_factory: Any) -> None:
    """Idempotence pipelines up to 5 batches of a partition; a SIGKILL of the leader with
    the pipeline full loses no acknowledged record and duplicates or reorders none: retries
    resend from the oldest unfinished batch, and the new leader deduplicates by sequence."""
    failing = cluster_factory(brokers=3, coordinators=3)
    with Admin(str(failing.cluster_file_path)) as admin:
        topic = new_topic(admin, partitions=1)
        leader = admin.describe_topic(topic).partitions[0].leader
        acknowledged: list[int] = []
        with producer(failing, request_timeout_ms=3_000, delivery_timeout_ms=60_000,
                      batch_size=256, linger_ms=0) as p:
            futures = produce_numbers(p, topic, 3_000,
                                      lambda: failing.kill(f"broker-{leader}"))
            for n, future in enumerate(futures):
                future.add_callback(lambda _m, n=n: acknowledged.append(n))
            offsets = [f.get(timeout=60).offset for f in futures]
            stats = p.stats()
        assert stats.most_in_flight_per_partition == 5, "the pipeline was full"
        assert stats.retries > 0, "the kill made the producer retry"
        assert offsets == list(range(3_000))
        assert sorted(acknowledged) == list(range(3_000))
        values = [r.value for r in read_records(failing, admin, topic)]
        assert values == [b"%06d" % n for n in range(3_000)], "each record once, in order"


def test_without_idempotence_one_batch_per_partition_is_in_flight(
        cluster: Cluster, admin: Admin) -> None:
    topic = new_topic(admin)
    with producer(cluster, acks=1, batch_size=256, linger_ms=0) as p:
        futures = [p.send(topic, b"%06d" % n) for n in range(500)]
        offsets = [f.get(timeout=30).offset for f in futures]
        assert p.stats().most_in_flight_per_partition == 1
    assert offsets == list(range(500))


def test_a_producer_connects_through_the_zafka_cluster_variable(
        cluster: Cluster, admin: Admin, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    topic = new_topic(admin)
    monkeypatch.setenv("ZAFKA_CLUSTER", str(cluster.cluster_file_path))
    monkeypatch.chdir(tmp_path)
    with Producer() as p:
        assert p.send(topic, b"v").get(timeout=10).offset == 0
