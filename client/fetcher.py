"""Fetch positions, pipelined fetches and the buffer of fetched records, for one consumer.

Owns: the state of every assigned partition (``PartitionState``: position, next fetch
offset, buffered batches, paused, pending reset, error) and the fetches in flight — at most
one per leader broker, covering every fetchable partition it leads.  When a fetch answers,
its batches are only header-parsed (the next fetch offset is the last batch's end) and
buffered, and the next fetch to that broker can go out at once; records are decoded when
``drain`` hands them to ``poll()``, and records below the position are dropped (a batch may
start before it).  A partition stops being fetched while its buffer holds
``max_partition_fetch_bytes`` or more, so memory stays bounded.

A response for a partition whose fetch offset changed meanwhile (seek, reset, revocation) is
ignored.  OffsetOutOfRange applies ``auto_offset_reset``: a reset to the earliest/latest
offset, or (``"none"``) an error ``poll()`` raises until the user seeks.

Must never: send anything itself (``Fetcher.fetches()`` builds the requests; the consumer
actor sends them), block, or hand out a record below a partition's position.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from typing import Any

import zafka.storage.records as codec
from zafka.client.consumer_config import ConsumerConfig, ConsumerRecord, NoOffsetForPartition
from zafka.client.consumer_metadata import ConsumerMetadata
from zafka.client.serializers import Deserializer, SerializationError
from zafka.core.errors import ErrorCode, OffsetOutOfRange, ZafkaError, error_for
from zafka.core.messages import (
    FetchPartition,
    FetchRequest,
    FetchResponse,
    ListOffsetsPartition,
    ListOffsetsRequest,
    TopicPartition,
)

REFRESH_ERRORS = frozenset({
    ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    ErrorCode.FENCED_LEADER_EPOCH, ErrorCode.UNKNOWN_LEADER_EPOCH,
    ErrorCode.LEADER_NOT_AVAILABLE, ErrorCode.REQUEST_TIMED_OUT,
    ErrorCode.CORRUPT_RECORD,
})


@dataclasses.dataclass(slots=True, eq=False)
class PartitionState:
    """One assigned partition, as this consumer sees it."""

    position: int | None = None  # next offset poll() hands out; None until resolved
    fetch_offset: int = -1  # next offset to fetch (position + what is buffered)
    awaiting_committed: bool = False  # group mode: ask the coordinator first
    reset_to: int | None = None  # pending ListOffsets timestamp (-2 / -1)
    reset_in_flight: bool = False
    batches: deque[tuple[codec.BatchHeader, memoryview]] = dataclasses.field(
        default_factory=deque)
    records: list[codec.ConsumerRecord] = dataclasses.field(default_factory=list)
    index: int = 0
    buffered_bytes: int = 0
    paused: bool = False
    high_watermark: int = -1
    error: ZafkaError | None = None
    retry_at: int = 0  # tick before which this partition is not fetched again

    def seek(self, offset: int) -> None:
        assert offset >= 0, offset
        self.position = self.fetch_offset = offset
        self.awaiting_committed = False
        self.reset_to = None
        self.reset_in_flight = False
        self.error = None
        self.clear_buffer()

    def request_reset(self, timestamp: int) -> None:
        self.position = None
        self.reset_to = timestamp
        self.reset_in_flight = False
        self.awaiting_committed = False
        self.error = None
        self.clear_buffer()

    def clear_buffer(self) -> None:
        self.batches.clear()
        self.records = []
        self.index = 0
        self.buffered_bytes = 0

    @property
    def has_records(self) -> bool:
        return self.index < len(self.records) or bool(self.batches)


class Fetcher:
    """Assigned partitions' positions and buffers, and the fetches in flight per broker."""

    def __init__(self, config: ConsumerConfig, metadata: ConsumerMetadata,
                 key_deserializer: Deserializer, value_deserializer: Deserializer) -> None:
        self.config = config
        self.metadata = metadata
        self.states: dict[TopicPartition, PartitionState] = {}
        self.in_flight: set[int] = set()  # broker ids with a fetch outstanding
        self.now = 0
        self.backoff_ticks = 1
        self._rotation = 0
        self._key = None if config.key_deserializer in (None, "bytes") else key_deserializer
        self._value = None if config.value_deserializer in (None, "bytes") \
            else value_deserializer

    # --- assignment and positions -------------------------------------------------------

    def assign(self, partitions: list[TopicPartition], awaiting_committed: bool) -> None:
        """Track exactly ``partitions`` (keeping the state of those already tracked)."""
        wanted = set(partitions)
        for tp in [tp for tp in self.states if tp not in wanted]:
            del self.states[tp]
        for tp in partitions:
            if tp not in self.states:
                state = self.states[tp] = PartitionState()
                if awaiting_committed:
                    state.awaiting_committed = True
                else:
                    self.reset_or_fail(tp, state, None)

    def reset_or_fail(self, tp: TopicPartition, state: PartitionState,
                      out_of_range: int | None) -> None:
        """Apply ``auto_offset_reset`` (no offset known, or ``out_of_range`` refused)."""
        timestamp = self.config.reset_timestamp
        if timestamp is not None:
            state.request_reset(timestamp)
            return
        state.clear_buffer()
        state.awaiting_committed = False
        if out_of_range is None:
            state.error = NoOffsetForPartition(
                f"{tp.topic}-{tp.partition} has no committed offset and "
                f"auto_offset_reset='none': seek() to an offset first")
        else:
            state.error = OffsetOutOfRange(
                f"offset {out_of_range} is out of range for {tp.topic}-{tp.partition} and "
                f"auto_offset_reset='none': seek() to a valid offset")

    def state(self, tp: TopicPartition) -> PartitionState | None:
        return self.states.get(tp)

    def first_error(self) -> ZafkaError | None:
        """The error ``poll()`` raises now, if any partition has one."""
        for state in self.states.values():
            if state.error is not None:
                return state.error
        return None

    # --- fetching -----------------------------------------------------------------------

    def fetchable(self, state: PartitionState) -> bool:
        return (state.position is not None and not state.paused and state.error is None
                and state.buffered_bytes < self.config.max_partition_fetch_bytes
                and state.retry_at <= self.now)

    def fetches(self) -> list[tuple[int, str, FetchRequest, dict[TopicPartition, int]]]:
        """One request per leader broker without a fetch in flight that leads a fetchable
        partition: (broker id, address, request, {partition: fetch offset sent})."""
        by_broker: dict[int, tuple[str, list[FetchPartition]]] = {}
        for tp, state in self.states.items():
            if not self.fetchable(state):
                continue
            leader = self.metadata.leader(tp)
            if leader is None:
                self.metadata.refresh_needed = True
                continue
            broker_id, address, epoch = leader
            if broker_id in self.in_flight:
                continue
            by_broker.setdefault(broker_id, (address, []))[1].append(FetchPartition(
                topic=tp.topic, partition=tp.partition, fetch_offset=state.fetch_offset,
                partition_max_bytes=self.config.max_partition_fetch_bytes,
                current_leader_epoch=epoch))
        out = []
        for broker_id, (address, parts) in by_broker.items():
            self.in_flight.add(broker_id)
            request = FetchRequest(replica_id=-1, max_wait_ms=self.config.fetch_max_wait_ms,
                                   min_bytes=self.config.fetch_min_bytes,
                                   max_bytes=self.config.fetch_max_bytes,
                                   partitions=tuple(parts))
            out.append((broker_id, address, request,
                        {TopicPartition(p.topic, p.partition): p.fetch_offset for p in parts}))
        return out

    def on_fetch_response(self, broker_id: int, sent: dict[TopicPartition, int],
                          reply: FetchResponse | ZafkaError) -> None:
        """Buffer what a fetch brought; failures mark their partitions for a retry."""
        self.in_flight.discard(broker_id)
        if isinstance(reply, ZafkaError) and not reply.retriable \
                and reply.code == ErrorCode.TOPIC_AUTHORIZATION_FAILED:
            for tp in sent:  # not allowed to read: poll raises it instead of retrying
                state = self.states.get(tp)
                if state is not None:
                    state.error = reply
            return
        if isinstance(reply, ZafkaError):
            self.metadata.refresh_needed = True
            for tp in sent:
                self._retry_later(tp)
            return
        for part in reply.partitions:
            tp = TopicPartition(part.topic, part.partition)
            state = self.states.get(tp)
            if state is None or state.position is None or state.fetch_offset != sent.get(tp):
                continue  # revoked, seeked or reset while the fetch was out
            if part.error == ErrorCode.NONE:
                state.high_watermark = part.high_watermark
                if len(part.records):
                    self._buffer(state, part.records)
            elif part.error == ErrorCode.OFFSET_OUT_OF_RANGE:
                self.reset_or_fail(tp, state, state.fetch_offset)
            elif part.error in REFRESH_ERRORS:
                self.metadata.refresh_needed = True
                self._retry_later(tp)
            else:
                state.error = error_for(part.error, f"fetching {tp.topic}-{tp.partition}")

    def _retry_later(self, tp: TopicPartition) -> None:
        state = self.states.get(tp)
        if state is not None:
            state.retry_at = self.now + self.backoff_ticks

    @staticmethod
    def _buffer(state: PartitionState, records: Any) -> None:
        for header, view in codec.iter_batches(records):
            if header.next_offset <= state.fetch_offset:
                continue
            state.fetch_offset = header.next_offset
            if header.is_control:
                continue
            state.batches.append((header, view))
            state.buffered_bytes += header.size

    # --- offset resets ------------------------------------------------------------------

    def resets(self) -> list[tuple[str, ListOffsetsRequest]]:
        """ListOffsets requests for partitions awaiting a reset, one per leader."""
        by_address: dict[str, list[ListOffsetsPartition]] = {}
        for tp, state in self.states.items():
            if state.reset_to is None or state.reset_in_flight or state.retry_at > self.now:
                continue
            leader = self.metadata.leader(tp)
            if leader is None:
                self.metadata.refresh_needed = True
                continue
            state.reset_in_flight = True
            by_address.setdefault(leader[1], []).append(ListOffsetsPartition(
                topic=tp.topic, partition=tp.partition, timestamp=state.reset_to,
                current_leader_epoch=leader[2]))
        return [(address, ListOffsetsRequest(partitions=tuple(parts)))
                for address, parts in by_address.items()]

    def on_reset_response(self, request: ListOffsetsRequest, reply: Any) -> None:
        """Apply resets the leader answered; the others are tried again after a backoff."""
        answers = {} if isinstance(reply, ZafkaError) else {
            TopicPartition(p.topic, p.partition): p for p in reply.partitions}
        for asked in request.partitions:
            tp = TopicPartition(asked.topic, asked.partition)
            state = self.states.get(tp)
            if state is None or not state.reset_in_flight or state.reset_to != asked.timestamp:
                continue
            state.reset_in_flight = False
            answer = answers.get(tp)
            if answer is not None and answer.error == ErrorCode.NONE and answer.offset >= 0:
                state.seek(answer.offset)
            else:
                self.metadata.refresh_needed = True
                state.retry_at = self.now + self.backoff_ticks

    # --- handing records out ------------------------------------------------------------

    def drain(self, max_records: int) -> list[ConsumerRecord]:
        """Up to ``max_records`` buffered records, taken from the partitions in turn."""
        out: list[ConsumerRecord] = []
        partitions = list(self.states.items())
        count = len(partitions)
        self._rotation += 1
        for i in range(count):
            tp, state = partitions[(self._rotation + i) % count]
            if state.paused or state.position is None or state.error is not None:
                continue
            self._take(tp, state, max_records - len(out), out)
            if len(out) >= max_records:
                break
        return out

    def _take(self, tp: TopicPartition, state: PartitionState, wanted: int,
              out: list[ConsumerRecord]) -> None:
        position = state.position
        assert position is not None
        while wanted > 0:
            if state.index >= len(state.records):
                if not state.batches:
                    state.position = max(position, state.fetch_offset)
                    return
                header, view = state.batches.popleft()
                state.buffered_bytes -= header.size
                if header.next_offset <= position:
                    continue
                state.records = codec.decode_batch(view, check=self.config.check_crcs)
                state.index = 0
                records = state.records
                while state.index < len(records) and records[state.index].offset < position:
                    state.index += 1
            chunk = state.records[state.index:state.index + wanted]
            taken = self._convert(tp, chunk, out)
            state.index += taken
            wanted -= taken
            if taken:
                position = chunk[taken - 1].offset + 1
                state.position = position
            if taken < len(chunk):
                return  # a record failed to deserialize: it stays at the position

    def _convert(self, tp: TopicPartition, chunk: list[codec.ConsumerRecord],
                 out: list[ConsumerRecord]) -> int:
        topic, partition = tp.topic, tp.partition
        key, value = self._key, self._value
        try:
            out.extend([ConsumerRecord(
                topic, partition, r.offset, r.timestamp_ms,
                r.key if key is None else key(r.key),
                r.value if value is None else value(r.value), r.headers) for r in chunk])
            return len(chunk)
        except SerializationError:
            pass
        for taken, r in enumerate(chunk):
            try:
                out.append(ConsumerRecord(
                    topic, partition, r.offset, r.timestamp_ms,
                    r.key if key is None else key(r.key),
                    r.value if value is None else value(r.value), r.headers))
            except SerializationError as exc:
                if not out:
                    raise SerializationError(
                        f"record {topic}-{partition}@{r.offset} could not be deserialized "
                        f"({exc}); seek() past it to go on") from exc
                return taken
        return len(chunk)

    def has_records(self) -> bool:
        return any(s.has_records and not s.paused and s.error is None
                   for s in self.states.values())

__all__ = ["Fetcher", "PartitionState", "REFRESH_ERRORS"]
