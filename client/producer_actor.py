"""The producer's I/O actor: drains ready batches into one ``ProduceRequest`` per broker.

Owns: the producer id / epoch and the next sequence of every partition (idempotence), the
table of produce requests in flight (bounded by ``max_in_flight_requests_per_connection`` per
broker, with deadlines), the metadata lookups (``client.producer_metadata``), and the
``SendRecords`` messages of user actors waiting for metadata or buffer memory.  Only this
actor completes batches.

Rules it keeps (Kafka's): with idempotence up to ``max_in_flight_requests_per_connection`` (5)
batches of a partition in flight, in sequence order (the accumulator's drain keeps the order,
and a retried partition resends from its oldest batch once none is in flight); without it one,
so a retry never reorders. A batch gets its sequence when first drained and is resent byte for
byte, so the leader recognises a duplicate; ``OutOfOrderSequence`` means the leader appended
nothing: behind an unfinished batch the gap is that batch's and it is retried in order; for the
oldest batch of its partition it is given a sequence of a new producer id; a retriable error
(``NotLeaderOrFollower``, ``NotEnoughReplicas``, ``RequestTimedOut``, ...) is retried after
``retry_backoff_ms`` with a metadata refresh until ``retries`` or ``delivery_timeout_ms`` run
out, then the last error is raised; ``RecordTooLarge`` splits a batch of several records in
halves; a batch that fails after it may have been appended gives the producer a new producer
id, so later batches never meet a sequence gap. A request that stays unanswered while its
partition's leader moved is given up early and its batches resent to the new leader (safe: the
leader deduplicates).

Must never: block (futures and callbacks complete on this thread; nothing here waits).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from zafka.client.accumulator import ProducerBatch, RecordAccumulator, record_size
from zafka.client.admin import ClientClosed
from zafka.client.producer_config import ProducerConfig
from zafka.client.producer_messages import (
    FlushRecords,
    RecordsFlushed,
    SendRecords,
    Wake,
    WantTopic,
)
from zafka.client.producer_metadata import MetadataMixin
from zafka.client.producer_parked import ParkedSends
from zafka.client.record_sender import RecordSender
from zafka.client.runtime import ClientActor
from zafka.core.errors import ErrorCode, ZafkaError, error_for
from zafka.core.messages import (
    Envelope,
    ErrorReply,
    ProducePartitionData,
    ProduceRequest,
    ProduceResponse,
    Tick,
)
from zafka.storage.records import HEADER_SIZE, encode_batch
from zafka.transport.cluster_file import ClusterFile

SEQUENCE_MODULO = 2**31
STALE_REQUEST_S = 1.0  # unanswered this long: check whether the leader moved
REJECTED = frozenset({ErrorCode.RECORD_TOO_LARGE, ErrorCode.CORRUPT_RECORD,
                      ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_TOPIC})
"""Errors after which the batch was certainly not appended (its sequence can be reused)."""


@dataclass(slots=True)
class InFlight:
    """A produce request awaiting its response."""

    broker: int
    batches: list[ProducerBatch]
    sent_at: float
    deadline: float


@dataclass(slots=True)
class ProducerStats:
    """Counters for tests and benchmarks."""

    requests: int = 0
    batches: int = 0
    records: int = 0
    retries: int = 0
    metadata_requests: int = 0
    producer_ids: list[int] = field(default_factory=list)
    most_in_flight_per_partition: int = 0  # the most batches of one partition seen in flight


class ProducerActor(MetadataMixin, ClientActor):
    """Sends batches from the accumulator; completes their futures."""

    def __init__(self, runtime: Any, name: str, config: ProducerConfig, cluster: ClusterFile,
                 sender: RecordSender) -> None:
        super().__init__(runtime, name)
        self.config = config
        self.sender = sender
        self.accumulator: RecordAccumulator = sender.accumulator
        self.acks = config.acks_code
        self.in_flight: dict[int, InFlight] = {}
        self.broker_requests: dict[int, int] = {}
        self.sequences: dict[tuple[str, int], int] = {}
        self.partition_requests: dict[tuple[str, int], int] = {}  # batches in flight
        self.stats = ProducerStats()
        self.parked = ParkedSends(self)
        self.init_metadata([node.address for node in cluster.brokers])

    # --- dispatch of in-process messages --------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        kind = type(message)
        if kind is Wake:
            self.sender.wake_pending = False
            return self.run()
        if kind is SendRecords:
            self.parked.add(message)
            return self.run()
        if kind is WantTopic:
            return self.want_topic(message.topic, message.waiter)
        if kind is FlushRecords:
            return self.on_flush_records(message)
        return super().on_receive(message)

    def on_start(self) -> None:
        if self.config.enable_idempotence:
            self.request_producer_id()

    def on_stop(self) -> None:
        error = ClientClosed("the producer was closed before the record was acknowledged")
        for flight in self.in_flight.values():
            for batch in flight.batches:
                self.fail(batch, error)
        self.in_flight.clear()
        for batch in self.accumulator.abort_unsent():
            batch.result.complete(-1, error)
        self.parked.fail_all(error)

    def on_tick(self, tick: Tick) -> None:
        now = time.monotonic()
        for correlation_id, flight in list(self.in_flight.items()):
            if now >= flight.deadline:
                self.abandon(correlation_id, ErrorCode.REQUEST_TIMED_OUT,
                             f"no produce response from broker {flight.broker} within "
                             f"request_timeout_ms={self.config.request_timeout_ms}")
            elif now - flight.sent_at > STALE_REQUEST_S:
                self.request_metadata()
        self.check_metadata_deadlines(now)
        self.run()

    def on_flush_records(self, request: FlushRecords) -> None:
        results = self.accumulator.begin_flush()
        remaining = [len(results)]

        def settled() -> None:
            remaining[0] -= 1
            if remaining[0] == 0:
                self.accumulator.end_flush()
                if request.reply_to is not None:
                    request.reply_to.tell(RecordsFlushed(correlation_id=request.correlation_id))

        remaining[0] += 1
        for result in results:
            result.on_done(settled)
        settled()
        self.run()

    # --- draining -----------------------------------------------------------------------

    def run(self) -> None:
        """Admit parked sends, send every ready batch, and ask for the next look."""
        self.parked.process()
        self.refresh_if_old()
        ready = not self.config.enable_idempotence or self.producer_id >= 0
        next_check_s = None
        for _ in range(self.accumulator.max_in_flight_per_partition if ready else 0):
            drained = self.accumulator.drain(self.sender.metadata.leader_of, self.can_send)
            for batch in drained.expired:
                batch.result.complete(-1, batch.last_error or self.expired_error(batch))
                self.after_failure(batch, batch.last_error)
            if drained.leaderless:
                self.request_metadata()
            for broker, batches in drained.by_broker.items():
                self.send_produce(broker, batches)
            next_check_s = drained.next_check_s
            if not drained.by_broker:
                break
        self.schedule(next_check_s)

    def can_send(self, broker: int) -> bool:
        limit: int = self.config.max_in_flight_requests_per_connection
        return self.broker_requests.get(broker, 0) < limit

    def schedule(self, delay_s: float | None) -> None:
        delays = [flight.deadline - time.monotonic() for flight in self.in_flight.values()]
        if self.in_flight:
            delays.append(STALE_REQUEST_S)
        if delay_s is not None:
            delays.append(delay_s)
        delays.extend(self.metadata_delays())
        if self.parked:
            delays.append(self.config.retry_backoff_ms / 1000)
        if delays:
            self.wake_after(max(0.0, min(delays)))

    def send_produce(self, broker: int, batches: list[ProducerBatch]) -> None:
        address = self.sender.metadata.brokers[broker]
        partitions = []
        for batch in batches:
            batch.attempts += 1
            partitions.append(ProducePartitionData(topic=batch.topic, partition=batch.partition,
                                                   records=batch.encoded or self.encode(batch)))
        request = ProduceRequest(acks=self.acks, timeout_ms=self.config.request_timeout_ms,
                                 partitions=tuple(partitions))
        self.stats.requests += 1
        self.stats.batches += len(batches)
        if self.acks == 0:
            self.send(address, "broker", request)
            for batch in batches:
                self.succeed(batch, -1)
            return
        correlation_id = self.runtime.postbox.next_correlation_id()
        now = time.monotonic()
        self.in_flight[correlation_id] = InFlight(
            broker, batches, now, now + self.config.request_timeout_ms / 1000 + 1.0)
        self.broker_requests[broker] = self.broker_requests.get(broker, 0) + 1
        for batch in batches:
            key = (batch.topic, batch.partition)
            count = self.partition_requests[key] = self.partition_requests.get(key, 0) + 1
            if count > self.stats.most_in_flight_per_partition:
                self.stats.most_in_flight_per_partition = count
        self.send(address, "broker", request, correlation_id=correlation_id,
                  reply_to=self.name)

    def encode(self, batch: ProducerBatch) -> memoryview:
        """Stamp producer id, epoch and the partition's next sequence; encode once."""
        producer_id = producer_epoch = sequence = -1
        if self.config.enable_idempotence:
            key = (batch.topic, batch.partition)
            producer_id, producer_epoch = self.producer_id, self.producer_epoch
            if batch.base_sequence >= 0 and batch.producer_id == producer_id:
                sequence = batch.base_sequence  # a part of a split batch keeps its place
            else:
                sequence = self.sequences.get(key, 0)
                self.sequences[key] = (sequence + len(batch.records)) % SEQUENCE_MODULO
        batch.producer_id = producer_id
        batch.base_sequence = sequence
        batch.encoded = memoryview(encode_batch(
            batch.records, producer_id=producer_id, producer_epoch=producer_epoch,
            base_sequence=sequence, compression=self.config.compression_code))
        return batch.encoded

    # --- responses ----------------------------------------------------------------------

    def on_produce_response(self, response: ProduceResponse, envelope: Envelope) -> None:
        flight = self.finish_request(envelope.correlation_id)
        if flight is None:
            return  # answered after we gave up on it: its batches were resent
        answers = {(r.topic, r.partition): r for r in response.partitions}
        for batch in flight.batches:
            answer = answers.get((batch.topic, batch.partition))
            if answer is None:
                self.batch_error(batch, ErrorCode.INVALID_REQUEST, "no answer for partition")
            elif answer.error == ErrorCode.NONE:
                self.succeed(batch, answer.base_offset)
            elif answer.error == ErrorCode.DUPLICATE_SEQUENCE:
                self.succeed(batch, -1)
            else:
                self.batch_error(batch, answer.error, answer.error_message)
        self.run()

    def on_error_reply(self, reply: ErrorReply, envelope: Envelope) -> None:
        if envelope.correlation_id in self.in_flight:
            self.abandon(envelope.correlation_id, reply.code, reply.message)
        else:
            self.on_metadata_error(envelope.correlation_id, reply)
        self.run()

    def finish_request(self, correlation_id: int) -> InFlight | None:
        flight = self.in_flight.pop(correlation_id, None)
        if flight is not None:
            self.broker_requests[flight.broker] -= 1
            for batch in flight.batches:
                key = (batch.topic, batch.partition)
                self.partition_requests[key] -= 1
                if not self.partition_requests[key]:
                    del self.partition_requests[key]
        return flight

    def abandon(self, correlation_id: int, code: ErrorCode, message: str) -> None:
        """Give up waiting for a request; its batches go back for a retry."""
        flight = self.finish_request(correlation_id)
        assert flight is not None
        for batch in flight.batches:
            self.batch_error(batch, code, message)

    def abandon_moved(self) -> None:
        """Requests to a broker that no longer leads their partitions are given up (after a
        metadata refresh); the batches go to the new leaders."""
        metadata = self.sender.metadata
        for correlation_id, flight in list(self.in_flight.items()):
            moved = any(metadata.leader_of(b.topic, b.partition) not in (None, flight.broker)
                        for b in flight.batches)
            if moved and time.monotonic() - flight.sent_at > STALE_REQUEST_S:
                self.abandon(correlation_id, ErrorCode.NOT_LEADER_OR_FOLLOWER,
                             f"broker {flight.broker} no longer leads the partition")

    def batch_error(self, batch: ProducerBatch, code: ErrorCode, message: str) -> None:
        error = error_for(code, f"{batch.topic}-{batch.partition}: {message or code.name}")
        batch.last_error = error
        if code == ErrorCode.RECORD_TOO_LARGE and len(batch.records) > 1:
            self.split(batch)
            return
        if code in self.REFRESH_ERRORS or code == ErrorCode.NOT_ENOUGH_REPLICAS:
            self.request_metadata()
        now = time.monotonic()
        in_time = now - batch.created + self.config.retry_backoff_ms / 1000 < \
            self.config.delivery_timeout_ms / 1000
        retriable = error.retriable and batch.attempts <= self.config.retries
        if code == ErrorCode.OUT_OF_ORDER_SEQUENCE:
            retriable = self.out_of_order_is_retriable(batch)
        if retriable and in_time:
            self.stats.retries += 1
            self.accumulator.retry_later(batch, now + self.config.retry_backoff_ms / 1000)
            return
        if code in REJECTED:
            self.rewind_sequence(batch)
        self.fail(batch, error)

    def out_of_order_is_retriable(self, batch: ProducerBatch) -> bool:
        """``OutOfOrderSequence``: the leader appended nothing.  Behind an unfinished batch
        of its partition, the gap is that batch's: retry (in order, after it).  The oldest
        batch of its partition: a batch before it failed, or the leader forgot this producer
        — it is given a sequence of a new producer id (taken now unless a failure already
        replaced the id it carries) and retried."""
        if self.accumulator.earlier_unfinished(batch):
            return True
        if batch.producer_id >= 0 and batch.producer_id == self.producer_id:
            self.reset_producer_id()
        batch.encoded = None
        batch.base_sequence = -1
        return True

    def split(self, batch: ProducerBatch) -> None:
        """Resend a rejected batch's records as two batches (the same sequences, so the
        batches behind it in flight still follow)."""
        batch.encoded = None
        half = len(batch.records) // 2
        parts = []
        for start, stop in ((0, half), (half, len(batch.records))):
            part = ProducerBatch(batch.topic, batch.partition, batch.created, closed=True)
            if batch.base_sequence >= 0:
                part.producer_id = batch.producer_id
                part.base_sequence = (batch.base_sequence + start) % SEQUENCE_MODULO
            part.records = batch.records[start:stop]
            part.futures = batch.futures[start:stop]
            part.memory_bytes = sum(record_size(r) for r in part.records)
            part.size_bytes = HEADER_SIZE + part.memory_bytes
            for index, future in enumerate(part.futures):
                future.rebind(part.result, index)
            parts.append(part)
        parts[-1].memory_bytes += batch.memory_bytes - sum(p.memory_bytes for p in parts)
        batch.result.split_into([part.result for part in parts])
        self.accumulator.split(batch, parts)

    def rewind_sequence(self, batch: ProducerBatch) -> None:
        """The batch was refused, not appended: its sequence goes to the next one — or, if
        batches after it already carry sequences, the producer id is replaced (they then
        meet ``OutOfOrderSequence`` and are given sequences of the new id)."""
        key = (batch.topic, batch.partition)
        if batch.base_sequence >= 0 and batch.producer_id == self.producer_id:
            following = (batch.base_sequence + len(batch.records)) % SEQUENCE_MODULO
            if self.sequences.get(key) == following:
                self.sequences[key] = batch.base_sequence
            else:
                self.reset_producer_id()
        batch.encoded = None

    def succeed(self, batch: ProducerBatch, base_offset: int) -> None:
        self.accumulator.complete(batch)
        self.stats.records += len(batch.records)
        batch.result.complete(base_offset)

    def fail(self, batch: ProducerBatch, error: BaseException) -> None:
        self.accumulator.complete(batch)
        batch.result.complete(-1, error)
        self.after_failure(batch, error)

    def after_failure(self, batch: ProducerBatch, error: BaseException | None) -> None:
        """A batch that may have been appended failed: start a new producer id, so the
        partition's next batch does not leave a sequence gap."""
        if batch.encoded is not None and batch.producer_id >= 0 and \
                batch.producer_id == self.producer_id:
            self.reset_producer_id()

    def expired_error(self, batch: ProducerBatch) -> ZafkaError:
        return error_for(ErrorCode.REQUEST_TIMED_OUT,
                         f"{batch.topic}-{batch.partition}: {len(batch.records)} record(s) "
                         f"expired after delivery_timeout_ms={self.config.delivery_timeout_ms}"
                         " (no leader to send them to)")

    def reset_producer_id(self) -> None:
        self.producer_id = -1
        self.sequences.clear()
        self.request_producer_id()


__all__ = ["InFlight", "ProducerActor", "ProducerStats"]
