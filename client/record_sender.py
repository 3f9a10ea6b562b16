"""The front half of ``send``: serialize, check sizes, choose the partition, append.

Owns: the serializers, the partitioner (under its own lock: user threads send at once) and
the current ``ClusterMetadata`` snapshot it partitions with (replaced by the I/O actor, read
here without a lock).  Both the blocking ``Producer.send`` (on the caller's thread) and the
I/O actor's ``SendRecords`` handler come through ``RecordSender.send``; the record is
serialized on the thread that sends it, never on the I/O thread of someone else.

Must never: wait for the network.  A topic missing from the snapshot raises ``TopicNotCached``
and the caller asks the I/O actor to look it up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

import pykka
from zafka.client.accumulator import RecordAccumulator, record_size
from zafka.client.admin import ClientClosed
from zafka.client.futures import FutureRecordMetadata
from zafka.client.metadata import ClusterMetadata
from zafka.client.partitioner import DefaultPartitioner
from zafka.client.producer_config import ProducerConfig
from zafka.client.producer_messages import Wake
from zafka.client.serializers import SerializationError, resolve_serializer
from zafka.core.errors import RecordTooLarge, UnknownTopicOrPartition
from zafka.storage.records import HEADER_SIZE, Headers, Record

HeadersSpec = Iterable[tuple[str, bytes | None]] | Mapping[str, bytes | None] | None


class TopicNotCached(Exception):
    """The metadata snapshot does not know the topic yet (look it up, then send again)."""

    def __init__(self, topic: str) -> None:
        super().__init__(topic)
        self.topic = topic


def normalize_headers(headers: HeadersSpec) -> Headers:
    if not headers:
        return ()
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    normalized = []
    for name, value in pairs:
        if not isinstance(name, str):
            raise SerializationError(f"header names must be str, not {type(name).__name__}")
        if value is not None and not isinstance(value, bytes | bytearray | memoryview):
            raise SerializationError(f"header {name!r}: values must be bytes or None, not "
                                     f"{type(value).__name__}")
        normalized.append((name, None if value is None else bytes(value)))
    return tuple(normalized)


class RecordSender:
    """Turns one user record into an appended record and its future."""

    def __init__(self, config: ProducerConfig, accumulator: RecordAccumulator,
                 partitioner: DefaultPartitioner | None = None) -> None:
        self.config = config
        self.accumulator = accumulator
        self.actor_ref: Any = None  # the I/O actor, told ``Wake`` when batches are ready
        self.wake_pending = False
        self.metadata = ClusterMetadata()
        self.partitioner = partitioner or DefaultPartitioner()
        self._partition_lock = threading.Lock()
        self._serialize_key = resolve_serializer(config.key_serializer)
        self._serialize_value = resolve_serializer(config.value_serializer)
        self._raw_keys = config.key_serializer in (None, "bytes")
        self._raw_values = config.value_serializer in (None, "bytes")
        self._size_max = min(config.max_request_size, config.buffer_memory) - HEADER_SIZE

    def send(self, topic: str, value: Any = None, key: Any = None,
             partition: int | None = None, headers: HeadersSpec = None,
             timestamp_ms: int | None = None, *, max_block_s: float) -> FutureRecordMetadata:
        """Append one record; raises ``SerializationError``, ``RecordTooLarge``,
        ``UnknownTopicOrPartition`` (bad partition), ``TopicNotCached``, ``BufferExhausted``."""
        if value is None and key is None:
            raise ValueError("send needs a value or a key (a None value with a key is a "
                             "tombstone)")
        key_bytes = key if type(key) is bytes and self._raw_keys else self._serialize_key(key)
        value_bytes = value if type(value) is bytes and self._raw_values else \
            self._serialize_value(value)
        if timestamp_ms is None:
            timestamp_ms = int(time.time() * 1000)
        record = Record(key_bytes, value_bytes, normalize_headers(headers),
                        timestamp_ms=timestamp_ms)
        size = record_size(record)
        if size > self._size_max:
            raise RecordTooLarge(
                f"the record is {size} bytes when serialized, larger than max_request_size="
                f"{self.config.max_request_size} or buffer_memory={self.config.buffer_memory}")
        count = self.metadata.partition_count(topic)
        if count is None:
            raise TopicNotCached(topic)
        key_size = -1 if key_bytes is None else len(key_bytes)
        value_size = -1 if value_bytes is None else len(value_bytes)
        if partition is not None or key_bytes is not None:
            chosen = self._explicit_partition(topic, key_bytes, partition, count)
            future, wake = self.accumulator.append(
                topic, chosen, record, size, max_block_s=max_block_s, key_size=key_size,
                value_size=value_size)
        else:
            future, wake = self._append_sticky(topic, record, size, count, max_block_s,
                                               key_size, value_size)
        if wake:
            self.wake()
        assert future is not None
        return future

    def wake(self) -> None:
        """Tell the I/O actor to drain (once until it has looked)."""
        if not self.wake_pending and self.actor_ref is not None:
            self.wake_pending = True
            try:
                self.actor_ref.tell(Wake())
            except pykka.ActorDeadError:
                raise ClientClosed("the producer's I/O actor has stopped") from None

    def _explicit_partition(self, topic: str, key: bytes | None, partition: int | None,
                            count: int) -> int:
        if partition is None:
            assert key is not None
            with self._partition_lock:
                return self.partitioner.partition(topic, key, count)
        if not 0 <= partition < count:
            raise UnknownTopicOrPartition(f"topic {topic!r} has partitions 0..{count - 1}, "
                                          f"not {partition}")
        return partition

    def _append_sticky(self, topic: str, record: Record, size: int, count: int,
                       max_block_s: float, key_size: int, value_size: int,
                       ) -> tuple[FutureRecordMetadata | None, bool]:
        """Kafka's sticky choice: stay on one partition until its batch is full."""
        available = self.metadata.available_partitions(topic) or None
        with self._partition_lock:
            chosen = self.partitioner.partition(topic, None, count, available)
        future, wake = self.accumulator.append(
            topic, chosen, record, size, max_block_s=max_block_s, abort_on_new_batch=True,
            key_size=key_size, value_size=value_size)
        if future is not None:
            return future, wake
        with self._partition_lock:
            chosen = self.partitioner.on_new_batch(topic, count, chosen, available)
        return self.accumulator.append(topic, chosen, record, size, max_block_s=max_block_s,
                                       key_size=key_size, value_size=value_size)


__all__ = ["HeadersSpec", "RecordSender", "TopicNotCached", "normalize_headers"]
