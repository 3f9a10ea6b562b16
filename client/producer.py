"""Producer: send records to topics, batched per partition, acknowledged by futures.

Shaped after kafka-python's ``KafkaProducer`` (same option names and behaviour)::

    from zafka.client import Producer
    with Producer("data/cluster.json", value_serializer="json", linger_ms=5) as producer:
        future = producer.send("orders", {"id": 1}, key=b"alice")
        metadata = future.get(timeout=10)   # RecordMetadata(topic, partition, offset, ...)
        producer.send("orders", {"id": 2}).add_callback(print).add_errback(log_error)
        producer.flush()

``send`` serializes the record on the caller's thread, picks its partition (Kafka's murmur2
of the key, or the sticky partitioner for keyless records), appends it to the partition's
open batch and returns a ``FutureRecordMetadata`` at once.  The producer's I/O actor (a pykka
actor, ``producer.actor_ref``) sends ready batches — full (``batch_size``), lingered
(``linger_ms``) or flushed — as one ``ProduceRequest`` per broker, retries retriable errors
(``retries``, ``retry_backoff_ms``, ``delivery_timeout_ms``) with a metadata refresh, and
completes the futures.  Your own actors may instead send ``SendRecords`` / ``FlushRecords``
messages to ``producer.actor_ref`` and receive ``RecordsSent`` / ``RecordsFlushed`` replies,
never blocking.

Options (kafka-python's names and defaults): ``acks`` (0, 1, "all"), ``enable_idempotence``
(True; needs acks="all"), ``retries`` (infinite), ``retry_backoff_ms`` (100),
``request_timeout_ms`` (30000), ``delivery_timeout_ms`` (120000), ``linger_ms`` (0),
``batch_size`` (16384), ``buffer_memory`` (32 MiB; ``send`` blocks up to ``max_block_ms``
(60000) for room, then raises ``BufferExhausted``), ``max_request_size`` (1 MiB),
``max_in_flight_requests_per_connection`` (5), ``metadata_max_age_ms``, ``compression_type``
(None, "gzip", "snappy", "lz4" or "zstd"), ``key_serializer`` / ``value_serializer``
("bytes", "str", "json", "pickle" or a callable), ``client_id``.

Errors: ``send`` raises ``SerializationError``, ``RecordTooLarge`` (over
``max_request_size``), ``UnknownTopicOrPartition`` (after metadata lookups), ``BufferExhausted``
and ``ClientClosed``; a future raises the broker's Kafka-named error (``RecordTooLarge`` beyond
the topic's ``max.message.bytes``, ``NotEnoughReplicas`` once retries run out, ...).

Must never: be used from inside an actor (``send`` may block); use ``actor_ref`` there.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import pykka
from zafka.client.accumulator import RecordAccumulator
from zafka.client.admin import ClientClosed
from zafka.client.futures import FutureRecordMetadata
from zafka.client.producer_actor import ProducerActor, ProducerStats
from zafka.client.producer_config import ProducerConfig
from zafka.client.producer_messages import WantTopic
from zafka.client.record_sender import HeadersSpec, RecordSender, TopicNotCached
from zafka.client.runtime import start_actor, start_runtime
from zafka.core.errors import RequestTimedOut
from zafka.core.messages import DescribeTopicsRequest
from zafka.transport.cluster_file import ClusterFile

_counter = [0]


class Producer:
    """A thread-safe producer for the cluster in the cluster file ``cluster`` (a path; else
    $ZAFKA_CLUSTER; else ./data/cluster.json)."""

    def __init__(self, cluster: str | os.PathLike[str] | None = None, **options: Any) -> None:
        self.config = ProducerConfig.from_options(options)
        self.cluster = ClusterFile.load(cluster)
        self._accumulator = RecordAccumulator(
            batch_size=self.config.batch_size, linger_ms=self.config.linger_ms,
            buffer_memory=self.config.buffer_memory,
            delivery_timeout_ms=self.config.delivery_timeout_ms,
            max_request_size=self.config.max_request_size,
            max_in_flight_per_partition=self.config.max_in_flight_requests_per_connection
            if self.config.enable_idempotence else 1)
        self._sender = RecordSender(self.config, self._accumulator)
        self._runtime = start_runtime(self.cluster, role="producer")
        _counter[0] += 1
        self.name = f"producer-{self.config.client_id or _counter[0]}"
        self._closed = False
        try:
            self.actor_ref: pykka.ActorRef[ProducerActor] = start_actor(
                self._runtime, ProducerActor, self.name, self.config, self.cluster,
                self._sender)
        except BaseException:
            self._runtime.stop()
            raise
        self._sender.actor_ref = self.actor_ref
        self._max_block_s = self.config.max_block_ms / 1000

    def __enter__(self) -> Producer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Producer({self.name!r}, acks={self.config.acks!r})"

    # --- sending ------------------------------------------------------------------------

    def send(self, topic: str, value: Any = None, key: Any = None,
             partition: int | None = None, headers: HeadersSpec = None,
             timestamp_ms: int | None = None) -> FutureRecordMetadata:
        """Queue one record; the future gives its ``RecordMetadata`` once acknowledged."""
        if self._closed:
            raise ClientClosed(f"{self.name} is closed")
        deadline = time.monotonic() + self._max_block_s
        while True:
            try:
                return self._sender.send(topic, value, key, partition, headers, timestamp_ms,
                                         max_block_s=max(0.0, deadline - time.monotonic()))
            except TopicNotCached:
                self._wait_for_topic(topic, deadline)
                self._check_open()

    def _wait_for_topic(self, topic: str, deadline: float) -> None:
        waiter: Future[None] = Future()
        self.actor_ref.tell(WantTopic(topic=topic, waiter=waiter))
        try:
            waiter.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            raise RequestTimedOut(f"no metadata for topic {topic!r} within max_block_ms="
                                  f"{self.config.max_block_ms}") from None

    def flush(self, timeout: float | None = None) -> None:
        """Send everything buffered now and wait until it is acknowledged or failed
        (raises ``RequestTimedOut`` after ``timeout`` s)."""
        self._check_open()
        self._flush(timeout)

    def _flush(self, timeout: float | None) -> None:
        results = self._accumulator.begin_flush()
        try:
            self._sender.wake_pending = False
            self._sender.wake()
            deadline = None if timeout is None else time.monotonic() + timeout
            for result in results:
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                if not result.wait(remaining):
                    raise RequestTimedOut(f"flush did not complete within {timeout} s")
            if self.config.acks_code == 0:
                self._wait_delivered(deadline)
        finally:
            self._accumulator.end_flush()

    def _wait_delivered(self, deadline: float | None) -> None:
        """acks=0: records count as sent once queued; a round trip to every broker, behind
        them on the same connection, proves they arrived."""
        remaining = 5.0 if deadline is None else max(0.05, deadline - time.monotonic())
        asks = [self._runtime.postbox.ask(address, "broker", DescribeTopicsRequest(names=()),
                                          remaining)
                for address in self._sender.metadata.brokers.values()]
        for ask in asks:
            ask.exception()

    def close(self, timeout: float | None = None) -> None:
        """Send what is buffered (waiting up to ``timeout`` s; None = until done), then stop.
        Records not acknowledged by then fail with an error; later calls raise
        ``ClientClosed``."""
        if self._closed:
            return
        self._closed = True
        self._accumulator.begin_close()
        try:
            if self.actor_ref.is_alive():
                self._flush(timeout)
        except RequestTimedOut:
            pass
        finally:
            self._runtime.stop()

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosed(f"{self.name} is closed")
        if not self.actor_ref.is_alive():
            raise ClientClosed(f"{self.name}'s I/O actor stopped after an error (see the log)")

    # --- introspection ------------------------------------------------------------------

    def partitions_for(self, topic: str) -> set[int]:
        """The partition numbers of ``topic`` (looked up if needed)."""
        self._check_open()
        count = self._sender.metadata.partition_count(topic)
        if count is None:
            self._wait_for_topic(topic, time.monotonic() + self._max_block_s)
            count = self._sender.metadata.partition_count(topic) or 0
        return set(range(count))

    def stats(self) -> ProducerStats:
        """Requests, batches and records sent so far (a snapshot)."""
        stats: ProducerStats = self.actor_ref.proxy().stats.get(timeout=5)
        return stats


__all__ = ["Producer"]
