"""``SendRecords`` from user actors that wait for a topic lookup or for buffer memory.

Owns (for ``ProducerActor``): the FIFO of accepted ``SendRecords`` messages not yet fully
appended, how far each got, and the per-record results gathered for its ``RecordsSent``
reply.  Records are appended in arrival order: while the head waits (a topic being looked up,
``buffer_memory`` full), later messages wait behind it — this is the actor-side twin of
``send`` blocking for up to ``max_block_ms``, without blocking the actor.

Must never: block, or reorder records.
"""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import Future
from typing import Any

from zafka.client.accumulator import BufferExhausted
from zafka.client.futures import RecordMetadata
from zafka.client.producer_messages import RecordsSent, SendRecords
from zafka.client.record_sender import TopicNotCached
from zafka.client.serializers import SerializationError
from zafka.core.errors import ZafkaError

PARKED_SENDS_MAX = 10_000


class _Parked:
    __slots__ = ("request", "next_index", "results", "pending", "deadline")

    def __init__(self, request: SendRecords, deadline: float) -> None:
        self.request = request
        self.next_index = 0
        self.results: list[Any] = [None] * len(request.records)
        self.pending = len(request.records)
        self.deadline = deadline


class ParkedSends:
    """Accepted ``SendRecords`` in order, appended as metadata and memory allow."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor
        self.queue: deque[_Parked] = deque()
        self.lookups: dict[str, Future[None]] = {}

    def __bool__(self) -> bool:
        return bool(self.queue)

    def add(self, request: SendRecords) -> None:
        parked = _Parked(request, time.monotonic() + self.actor.config.max_block_ms / 1000)
        if len(self.queue) >= PARKED_SENDS_MAX:
            error = BufferExhausted(f"{PARKED_SENDS_MAX} SendRecords already wait")
            for index in range(len(request.records)):
                self.settle(parked, index, error)
            return
        if not request.records:
            self.reply(parked)
            return
        self.queue.append(parked)

    def process(self) -> None:
        """Append what can be appended now, oldest first."""
        while self.queue:
            parked = self.queue[0]
            if not self.advance(parked):
                return
            self.queue.popleft()

    def advance(self, parked: _Parked) -> bool:
        """Append ``parked``'s records from where it stopped; True when all are in."""
        records = parked.request.records
        while parked.next_index < len(records):
            index = parked.next_index
            record = records[index]
            try:
                future = self.actor.sender.send(
                    record.topic, record.value, record.key, record.partition, record.headers,
                    record.timestamp_ms, max_block_s=0.0)
            except TopicNotCached:
                lookup = self.lookups.get(record.topic)
                if lookup is None:
                    lookup = self.lookups[record.topic] = Future()
                    self.actor.want_topic(record.topic, lookup)
                if not lookup.done():
                    return False
                del self.lookups[record.topic]
                error = lookup.exception()
                if error is None:
                    continue  # known now: send it
                self.settle(parked, index, error)
            except BufferExhausted as error:
                if time.monotonic() < parked.deadline:
                    return False
                self.settle(parked, index, error)
            except (ZafkaError, SerializationError, ValueError) as error:
                self.settle(parked, index, error)
            else:
                future.add_callback(self.settle, parked, index)
                future.add_errback(self.settle, parked, index)
            parked.next_index += 1
        return True

    def settle(self, parked: _Parked, index: int, outcome: RecordMetadata | BaseException,
               ) -> None:
        parked.results[index] = outcome
        parked.pending -= 1
        if parked.pending == 0:
            self.reply(parked)

    def reply(self, parked: _Parked) -> None:
        if parked.request.reply_to is not None:
            parked.request.reply_to.tell(RecordsSent(
                correlation_id=parked.request.correlation_id, results=tuple(parked.results)))

    def fail_all(self, error: BaseException) -> None:
        while self.queue:
            parked = self.queue.popleft()
            for index in range(parked.next_index, len(parked.request.records)):
                self.settle(parked, index, error)


__all__ = ["PARKED_SENDS_MAX", "ParkedSends"]
