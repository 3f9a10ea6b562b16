"""The producer's record accumulator: per-partition batches in bounded memory.

Owns: one deque of ``ProducerBatch`` per topic-partition, the count of buffered bytes
(``buffer_memory``, with back-pressure: ``append`` waits up to ``max_block_s`` for room, then
raises ``BufferExhausted``), and the decision which batches are ready to send
(``batch_size`` reached, ``linger_ms`` elapsed, a flush or close in progress, a retry due).

Like Kafka's ``RecordAccumulator`` it is shared by two sides, under one lock: the threads that
call ``Producer.send`` append records; the producer's I/O actor drains ready batches, completes
them and releases their memory.  Up to ``max_in_flight_per_partition`` batches of a partition
travel at once (5 with idempotence, Kafka's ``max.in.flight.requests.per.connection``; 1
without, so that nothing can reorder), always in queue order: the batches in flight are a
prefix of the partition's queue.  A batch leaves only when every batch before it is in
flight and none after it is; so a batch sent back for a retry leaves again only once the
later ones came back too, and the partition resends from its oldest batch, in order — the
leader sees its sequences in order (or recognises the duplicates).  A batch that finishes
before an older one stays in the queue as a placeholder until the older ones finish: a batch
leaves only within ``max_in_flight_per_partition`` places of the oldest unfinished one, so a
retry of that one always finds it in the leader's window of the last five batches.  A batch
joins batches of its partition in flight only once it is full (or flushed): at low rates the
records that arrive during a round trip then travel together, one request and one fsync for
all of them, as with one batch in flight; at high rates full batches pipeline.
Everything the lock guards lives here; the lock is never held while a future's callbacks run
or while anything is sent.

Must never: send, encode, or decide about errors and retries (the I/O actor does).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from zafka.client.futures import BatchResult, FutureRecordMetadata
from zafka.core.errors import RequestTimedOut
from zafka.storage.records import HEADER_SIZE, Record

RECORD_OVERHEAD_BYTES = 16  # attributes, varints for lengths, deltas and header count
TopicPartitionKey = tuple[str, int]


class BufferExhausted(RequestTimedOut):
    """``send`` waited ``max_block_ms`` for ``buffer_memory`` to free up, in vain."""


def record_size(record: Record) -> int:
    """Bytes a record is counted for in a batch and in ``buffer_memory`` (an upper bound of
    its encoded size)."""
    size = RECORD_OVERHEAD_BYTES
    if record.key is not None:
        size += len(record.key)
    if record.value is not None:
        size += len(record.value)
    for name, value in record.headers:
        size += len(name) + (0 if value is None else len(value)) + 6
    return size


@dataclass(eq=False, slots=True)
class ProducerBatch:
    """Records for one partition that travel (and are retried) together."""

    topic: str
    partition: int
    created: float
    records: list[Record] = field(default_factory=list)
    futures: list[FutureRecordMetadata] = field(default_factory=list)
    size_bytes: int = HEADER_SIZE
    memory_bytes: int = 0
    closed: bool = False  # drained once: no more appends, its bytes are final
    in_flight: bool = False
    done: bool = False  # finished while a batch before it was not: kept to hold its place
    attempts: int = 0
    retry_at: float = 0.0
    last_error: BaseException | None = None
    encoded: memoryview | None = None
    base_sequence: int = -1
    producer_id: int = -1
    result: BatchResult = field(init=False)

    def __post_init__(self) -> None:
        self.result = BatchResult(self.topic, self.partition)


@dataclass(slots=True)
class Drained:
    """What one drain found: batches per leader broker, partitions lacking a leader,
    batches past ``delivery_timeout_ms`` (removed, to be failed), and when to look again."""

    by_broker: dict[int, list[ProducerBatch]] = field(default_factory=dict)
    leaderless: set[str] = field(default_factory=set)
    expired: list[ProducerBatch] = field(default_factory=list)
    next_check_s: float | None = None

    def check_in(self, delay_s: float) -> None:
        if self.next_check_s is None or delay_s < self.next_check_s:
            self.next_check_s = max(0.0, delay_s)


class RecordAccumulator:
    """Batches per partition, bounded by ``buffer_memory`` bytes."""

    def __init__(self, *, batch_size: int, linger_ms: int, buffer_memory: int,
                 delivery_timeout_ms: int, max_request_size: int,
                 max_in_flight_per_partition: int = 1) -> None:
        assert max_in_flight_per_partition >= 1
        self.max_in_flight_per_partition = max_in_flight_per_partition
        self.batch_size = batch_size
        self.linger_s = linger_ms / 1000
        self.buffer_memory = buffer_memory
        self.delivery_timeout_s = delivery_timeout_ms / 1000
        self.max_request_size = max_request_size
        self.used_bytes = 0
        self.closing = False
        self._flushes = 0
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._batches: dict[TopicPartitionKey, deque[ProducerBatch]] = {}

    # --- the sending threads' side ------------------------------------------------------

    def append(self, topic: str, partition: int, record: Record, size: int, *,
               max_block_s: float, abort_on_new_batch: bool = False,
               key_size: int = -1, value_size: int = -1,
               ) -> tuple[FutureRecordMetadata | None, bool]:
        """Add ``record`` (counted as ``size`` bytes) to the partition's open batch.

        Returns (future, wake): ``wake`` is True when a batch was opened or filled (the I/O
        actor should look).  With ``abort_on_new_batch`` returns (None, False) instead of
        opening a batch after an earlier one of the partition (the sticky partitioner then
        moves on).  Raises ``BufferExhausted``.
        """
        key = (topic, partition)
        with self._lock:
            if self.used_bytes + size <= self.buffer_memory:
                self.used_bytes += size
            else:
                self._reserve(size, max_block_s)
            queue = self._batches.get(key)
            batch = queue[-1] if queue else None
            if batch is None or batch.closed or batch.size_bytes + size > self.batch_size:
                if abort_on_new_batch and batch is not None:
                    self._release(size)
                    return None, False
                batch = ProducerBatch(topic, partition, time.monotonic())
                if queue is None:
                    queue = self._batches[key] = deque()
                queue.append(batch)
                wake = True
            else:
                wake = False
            future = FutureRecordMetadata(batch.result, len(batch.records), record.timestamp_ms,
                                          key_size, value_size)
            batch.records.append(record)
            batch.futures.append(future)
            batch.memory_bytes += size
            was_full = batch.size_bytes >= self.batch_size
            batch.size_bytes += size
            return future, wake or (not was_full and batch.size_bytes >= self.batch_size)

    def _reserve(self, size: int, max_block_s: float) -> None:
        deadline = time.monotonic() + max_block_s
        while self.used_bytes + size > self.buffer_memory:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closing:
                raise BufferExhausted(
                    f"{self.used_bytes} of buffer_memory={self.buffer_memory} bytes are in use "
                    f"and none freed up within max_block_ms={max_block_s * 1000:.0f} for a "
                    f"record of {size} bytes")
            self._room.wait(remaining)
        self.used_bytes += size

    def _release(self, size: int) -> None:
        self.used_bytes -= size
        assert self.used_bytes >= 0, "released more buffer memory than reserved"
        self._room.notify_all()

    def begin_flush(self) -> list[BatchResult]:
        """Make every batch ready now; returns the results to wait for."""
        with self._lock:
            self._flushes += 1
            return [b.result for queue in self._batches.values() for b in queue if not b.done]

    def end_flush(self) -> None:
        with self._lock:
            self._flushes -= 1

    def begin_close(self) -> None:
        """Send everything at once from now on; waiting senders give up."""
        with self._lock:
            self.closing = True
            self._room.notify_all()

    # --- the I/O actor's side -----------------------------------------------------------

    def drain(self, leader_of: Callable[[str, int], int | None],
              can_send: Callable[[int], bool]) -> Drained:
        """Take the next ready batch of each partition whose leader can take a request (call
        again for the one after: one batch per partition per request)."""
        now = time.monotonic()
        drained = Drained()
        request_bytes: dict[int, int] = {}
        with self._lock:
            for key, queue in list(self._batches.items()):
                head = self._head(key, queue, now, drained)
                if head is None:
                    continue
                leader = leader_of(head.topic, head.partition)
                if leader is None:
                    drained.leaderless.add(head.topic)
                    continue
                size = request_bytes.get(leader, 0)
                if not can_send(leader) or (size and size + head.size_bytes >
                                            self.max_request_size):
                    continue
                request_bytes[leader] = size + head.size_bytes
                head.closed = head.in_flight = True
                drained.by_broker.setdefault(leader, []).append(head)
        return drained

    def _head(self, key: TopicPartitionKey, queue: deque[ProducerBatch], now: float,
              drained: Drained) -> ProducerBatch | None:
        """The partition's next batch to send if it is ready (expired heads not in flight
        go to ``drained``)."""
        while queue and not queue[0].in_flight and \
                now - queue[0].created > self.delivery_timeout_s:
            expired = queue.popleft()
            self._release(expired.memory_bytes)
            drained.expired.append(expired)
        if not queue:
            del self._batches[key]
            return None
        for index, head in enumerate(queue):  # noqa: B007 (the loop finds index and head)
            if not head.in_flight and not head.done:
                break
        else:
            return None
        if index >= self.max_in_flight_per_partition or any(
                queue[later].in_flight for later in range(index + 1, len(queue))):
            return None  # a full pipeline, or a retry waiting for later ones to come back
        if head.retry_at > now:
            drained.check_in(head.retry_at - now)
            return None
        if any(queue[earlier].in_flight for earlier in range(index)) and not (
                head.attempts or index < len(queue) - 1 or head.size_bytes >= self.batch_size
                or self._flushes or self.closing):
            return None  # behind a batch in flight only when full: group commit when quiet
        lingered = now - head.created
        if (head.attempts or index < len(queue) - 1 or head.size_bytes >= self.batch_size
                or lingered >= self.linger_s or self._flushes or self.closing):
            return head
        drained.check_in(self.linger_s - lingered)
        return None

    def earlier_unfinished(self, batch: ProducerBatch) -> bool:
        """Whether a batch of the same partition queued before ``batch`` is unfinished."""
        with self._lock:
            queue = self._batches.get((batch.topic, batch.partition))
            return queue is not None and bool(queue) and queue[0] is not batch

    def complete(self, batch: ProducerBatch) -> None:
        """Remove a finished batch and free its memory (then complete its result).  Batches
        usually finish in order; one that finishes before an older one stays as a placeholder
        (``done``) until the older ones finish."""
        with self._lock:
            queue = self._batches[(batch.topic, batch.partition)]
            batch.in_flight = False
            if queue[0] is batch:
                queue.popleft()
                while queue and queue[0].done:
                    queue.popleft()
            else:
                batch.done = True
            self._release(batch.memory_bytes)

    def retry_later(self, batch: ProducerBatch, at: float) -> None:
        """The in-flight batch goes back to wait until ``at`` (monotonic s), in its place."""
        with self._lock:
            batch.in_flight = False
            batch.retry_at = at

    def split(self, batch: ProducerBatch, parts: Iterable[ProducerBatch]) -> None:
        """Replace the in-flight batch by ``parts`` (same records, same order, same place)."""
        with self._lock:
            queue = self._batches[(batch.topic, batch.partition)]
            index = queue.index(batch)
            del queue[index]
            for offset, part in enumerate(parts):
                queue.insert(index + offset, part)

    def abort_unsent(self) -> list[ProducerBatch]:
        """Remove every batch not in flight (closing with a deadline); the caller fails
        them."""
        aborted: list[ProducerBatch] = []
        with self._lock:
            for key, queue in list(self._batches.items()):
                kept = deque(b for b in queue if b.in_flight or b.done)
                aborted.extend(b for b in queue if not b.in_flight and not b.done)
                for b in queue:
                    if not b.in_flight and not b.done:
                        self._release(b.memory_bytes)
                while kept and kept[0].done:
                    kept.popleft()
                if kept:
                    self._batches[key] = kept
                else:
                    del self._batches[key]
        return aborted

    def has_unsent(self) -> bool:
        with self._lock:
            return any(not b.done for queue in self._batches.values() for b in queue)


__all__ = ["BufferExhausted", "Drained", "ProducerBatch", "RecordAccumulator", "record_size"]
