"""ReplicaActor: one partition replica hosted by this broker — its log, and its role.

Owns: the replica's ``PartitionLog`` (sole owner: nothing else opens it), and the role state
decided by the pure cores: ``core.replication.LeaderState`` plus the idempotent-producer table
while this broker leads the partition, ``core.replication_follower.FollowerState`` while it
follows.  (Kafka splits this between a Partition and a fetcher thread; here one actor owns the
log *and* the leader state, so a produce costs no extra hop between actors.)

Leader: appends produce batches (offsets and epoch stamped by the log), fsyncs before
counting its own log end toward the high watermark (group commit: one fsync per request),
holds ``acks=all`` replies until the HW passes them, serves follower and consumer fetches
(long-polls held until data or their deadline) and proposes ISR changes through its broker.
Follower: truncates by leader epoch, then fetches from the leader in a loop, appending and
fsyncing before it reports its new log end with the next fetch.

Every handler decodes, calls the core, then carries out its effects (persist -> send ->
reply).  Timers are wake-ups from the process ticker, asked for only while there is work.

Must never: make a replication decision itself, block, or read another replica's log.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import Any

from zafka.actors.base import BaseActor
from zafka.actors.metrics import ReplicaMetricsMixin
from zafka.actors.replica_follower import FollowerMixin
from zafka.actors.replica_io import (
    error_fetch,
    log_config_for,
    min_insync_for,
    read_response,
)
from zafka.actors.runtime import NodeRuntime
from zafka.core.errors import ErrorCode, ZafkaError
from zafka.core.messages import (
    Envelope,
    EpochEndOffset,
    ListOffsetsPartitionResponse,
    OffsetForLeaderEpochPartitionResponse,
    PartitionRecord,
    ProducePartitionResponse,
    ReplicaAlterIsr,
    ReplicaCallDone,
    ReplicaDataReady,
    ReplicaEpochEnd,
    ReplicaFetch,
    ReplicaListOffsets,
    ReplicaProduce,
    ReplicaRead,
    ReplicaReadDone,
    ReplicaRemove,
    ReplicaRole,
    ReplicaStatus,
    ReplicaStatusRequest,
    ReplicaUpdate,
    Tick,
)
from zafka.core.producer_state import BatchHeader as ProducerBatch
from zafka.core.producer_state import BatchMetadata, ProducerStateTable
from zafka.core.replication import LeaderState
from zafka.core.replication_follower import FollowerState
from zafka.core.replication_types import ACKS_NONE, LeaderEffects
from zafka.storage.files import LogCorruption
from zafka.storage.log import PartitionLog
from zafka.storage.records import iter_batches, validate_batches

FLUSH_CHECK_TICKS = 100
"""How often a replica with unflushed data under a lazy ``flush.ms`` policy checks it."""
HW_CHECKPOINT_TICKS = 500
RETENTION_CHECK_TICKS = 3_000
TAIL_CHECK_BYTES = 4 * 1024 * 1024
"""How much of a log's tail is CRC-checked when its replica starts."""


def replica_actor_name(topic: str, partition: int) -> str:
    return f"replica:{topic}:{partition}"


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


class ReplicaActor(ReplicaMetricsMixin, FollowerMixin, BaseActor):
    """One partition replica (see the module docstring)."""

    def __init__(self, runtime: NodeRuntime, name: str, directory: Path,
                 update: ReplicaUpdate) -> None:
        super().__init__(runtime, name)
        self.broker_id = runtime.node_id
        self.tunables = runtime.tunables
        self.record = update.record
        self.configs = dict(update.configs)
        self.directory = directory
        self.log: PartitionLog  # opened in on_start, on this actor's thread, not its starter's
        self.leader: LeaderState | None = None
        self.producers: ProducerStateTable | None = None
        self.follower: FollowerState | None = None
        self.leader_address = ""
        self.broker_epoch = update.broker_epoch
        self.calls: dict[Hashable, tuple[Envelope, Any]] = {}  # held produce / fetch calls
        self.next_key = 0
        self.next_hw_checkpoint_tick = 0
        self.checkpointed_hw: int | None = None  # what the HW checkpoint file holds
        self.next_retention_tick = RETENTION_CHECK_TICKS
        self.pending_update: ReplicaUpdate | None = update
        self.fetchable: tuple[Any, ...] = ("starting",)  # what the broker was last told
        self.removed = False

    def open_log(self, directory: Path) -> PartitionLog:
        """Open (and recover) the replica's log, CRC-checking its tail.  A damaged batch in the
        tail cuts the log there; damage the log's recovery refuses is set aside — its files
        kept for inspection — and the replica starts empty.  Either way the replica is out of
        the ISR after this broker's restart and fetches what it lacks from the leader, so
        damaged bytes are neither served nor ever lead."""
        config = log_config_for(self.configs, self.tunables)
        try:
            log = PartitionLog.open(directory, config, wall_clock_ms)
            damaged = log.verify_tail(TAIL_CHECK_BYTES)
            if damaged is not None:
                self.logger.error("%s-%d: a damaged batch at offset %d in the log's tail; "
                                  "cutting the log there to fetch the rest from the leader",
                                  self.record.topic, self.record.partition, damaged)
                log.truncate_to(damaged)
            return log
        except LogCorruption as error:
            kept = directory.with_name(f"{directory.name}.corrupt-{wall_clock_ms()}")
            directory.rename(kept)
            self.logger.error("%s-%d: %s; the damaged files are kept in %s and the replica "
                              "starts empty, to fetch everything from its leader",
                              self.record.topic, self.record.partition, error, kept)
            return PartitionLog.open(directory, config, wall_clock_ms)

    def on_start(self) -> None:
        self.log = self.open_log(self.directory)
        update, self.pending_update = self.pending_update, None
        assert update is not None
        self.on_replica_update(update, None)

    def on_receive(self, message: Any) -> Any:
        result = super().on_receive(message)
        self.tell_broker_if_fetchable_changed()
        if not self.removed:
            self.schedule_wake()
        return result

    def schedule_wake(self) -> None:
        """After any message: ask for a tick at the earliest thing due — a held request's
        deadline, an ISR check on a follower that fell behind, an AlterPartition retry, a
        follower's request timeout, a lazy flush, an HW checkpoint, retention of closed
        segments.  An idle replica with nothing due is never woken."""
        now = self.now_tick
        due: list[int] = []
        for core in (self.leader, self.follower):
            when = core.next_tick_due() if core is not None else None
            if when is not None:
                due.append(when)
        log = self.log
        if not log.config.fsync_before_ack and log.needs_flush and \
                log.config.flush_ms is not None:
            due.append(now + FLUSH_CHECK_TICKS)
        if self.current_hw() != self.checkpointed_hw:
            due.append(self.next_hw_checkpoint_tick)
        if log.has_closed_segments:
            due.append(self.next_retention_tick)
        if due:
            self.wake_in(max(1, min(due) - now))

    def tell_broker_if_fetchable_changed(self) -> None:
        """After any message: if what a fetch from this leader could see or cause changed
        (log bounds, flushed offset, HW, ISR, a pending ISR change, leadership), tell the
        broker: it holds the long-poll fetches that span many partitions, and answers a
        fetch that nothing could have changed without asking (see ``broker_routing``)."""
        if self.removed:
            return
        leader, log = self.leader, self.log
        fetchable: tuple[Any, ...] = () if leader is None else (
            leader.leader_epoch, log.log_start_offset, log.log_end_offset, log.recovery_point,
            leader.high_watermark, leader.isr, leader.pending_isr)
        if fetchable != self.fetchable:
            told_end = self.fetchable[2] if len(self.fetchable) > 2 else -1
            self.fetchable = fetchable
            if leader is None:
                ready = ReplicaDataReady(topic=self.record.topic, partition=self.record.partition)
            else:
                appended = appended_batches(log, told_end)
                ready = ReplicaDataReady(
                    topic=self.record.topic, partition=self.record.partition,
                    leader_epoch=leader.leader_epoch, log_start_offset=log.log_start_offset,
                    log_end_offset=log.log_end_offset, high_watermark=leader.high_watermark,
                    appended_from=told_end if len(appended) else -1,
                    appended_to=log.log_end_offset if len(appended) else -1,
                    appended=appended)
            self.send(self.runtime.address, "broker", ready)

    def on_stop(self) -> None:
        self.checkpoint_high_watermark()
        self.log.close()

    @property
    def now_tick(self) -> int:
        """The process ticker's count (a replica is woken only when it has work, so it reads
        the clock of ticks instead of remembering the last tick it saw)."""
        return int(self.runtime.ticker.count)

    @property
    def tp(self) -> str:
        return f"{self.record.topic}-{self.record.partition}"

    # --- metadata -----------------------------------------------------------------------

    def on_replica_update(self, update: ReplicaUpdate, envelope: Envelope | None) -> None:
        record = update.record
        self.broker_epoch = update.broker_epoch
        self.leader_address = update.leader_address
        if dict(update.configs) != self.configs:
            self.configs = dict(update.configs)
            self.log.update_config(log_config_for(self.configs, self.tunables))
            self.log.apply_retention(wall_clock_ms())
        if record.leader_epoch < self.record.leader_epoch:
            return  # stale
        self.record = record
        if record.leader == self.broker_id:
            self.lead(record)
        elif record.leader < 0:
            self.resign()
            self.follower = None
        else:
            self.follow(record)
        self.wake_in(1)

    def lead(self, record: PartitionRecord) -> None:
        if self.leader is not None and self.leader.leader_epoch == record.leader_epoch:
            self.apply(self.leader.on_metadata(
                leader_id=record.leader, leader_epoch=record.leader_epoch,
                partition_epoch=record.partition_epoch, isr=record.isr))
            return
        self.resign()
        self.follower = None
        log = self.log
        log.assign_epoch(record.leader_epoch, log.log_end_offset)
        self.flush_log()
        self.producers = ProducerStateTable.rebuild(
            _producer_headers(log), self.tunables.producer_dedup_window_batches)
        self.leader = LeaderState(
            topic=record.topic, partition=record.partition, leader_id=self.broker_id,
            leader_epoch=record.leader_epoch, partition_epoch=record.partition_epoch,
            replicas=record.replicas, isr=record.isr,
            min_insync_replicas=min_insync_for(self.configs),
            log_end_offset=log.log_end_offset, high_watermark=log.high_watermark_checkpoint,
            flushed_offset=log.recovery_point, now_tick=self.now_tick,
            fsync_before_ack=log.config.fsync_before_ack, tunables=self.tunables)
        self.logger.info("%s leader in epoch %d (LEO %d, HW %d, ISR %s)", self.tp,
                      record.leader_epoch, log.log_end_offset, self.leader.high_watermark,
                      sorted(record.isr))

    def resign(self) -> None:
        if self.leader is not None:
            leader, self.leader = self.leader, None
            self.producers = None
            self.apply(leader.resign())
            self.checkpointed_hw = min(leader.high_watermark, self.log.log_end_offset)
            self.log.checkpoint_high_watermark(self.checkpointed_hw)

    def on_replica_remove(self, message: ReplicaRemove, envelope: Envelope) -> None:
        self.resign()
        self.tell_broker_if_fetchable_changed()
        self.removed = True
        self.log.delete()
        self.logger.info("%s removed from this broker", self.tp)
        self.runtime.unregister(self.name)
        self.stop()

    def on_replica_status_request(self, message: ReplicaStatusRequest,
                                  envelope: Envelope) -> None:
        if self.leader is not None:
            role, hw, isr = ReplicaRole.LEADER, self.leader.high_watermark, self.leader.isr
        else:
            role = ReplicaRole.FOLLOWER if self.follower is not None else ReplicaRole.OFFLINE
            hw = self.follower.high_watermark if self.follower else -1
            isr = frozenset(self.record.isr)
        self.reply(envelope, ReplicaStatus(
            topic=self.record.topic, partition=self.record.partition, role=role,
            leader_epoch=self.record.leader_epoch, isr=tuple(sorted(isr)),
            log_start_offset=self.log.log_start_offset,
            log_end_offset=self.log.log_end_offset, high_watermark=hw,
            flushed_offset=self.log.recovery_point))

    # --- time ---------------------------------------------------------------------------

    def on_tick(self, tick: Tick) -> None:
        if self.leader is not None:
            self.apply(self.leader.tick(self.now_tick))
        if self.follower is not None:
            self.poll_leader()
        if self.now_tick >= self.next_hw_checkpoint_tick:
            self.next_hw_checkpoint_tick = self.now_tick + HW_CHECKPOINT_TICKS
            self.checkpoint_high_watermark()
        if self.now_tick >= self.next_retention_tick:
            self.next_retention_tick = self.now_tick + RETENTION_CHECK_TICKS
            self.log.apply_retention(wall_clock_ms())
            if "compact" in self.log.config.cleanup_policy:
                self.log.compact(wall_clock_ms())
        self.flush_lazily()

    def current_hw(self) -> int | None:
        if self.leader is not None:
            return self.leader.high_watermark
        if self.follower is not None:
            return self.follower.high_watermark
        return None

    def checkpoint_high_watermark(self) -> None:
        hw = self.current_hw()
        if hw is None:
            return
        if self.checkpointed_hw is None:
            self.checkpointed_hw = self.log.high_watermark_checkpoint
        if hw != self.checkpointed_hw:
            self.log.checkpoint_high_watermark(hw)
            self.checkpointed_hw = hw

    def flush_lazily(self) -> None:
        if self.log.config.fsync_before_ack or not self.log.needs_flush:
            return
        flushed = self.log.maybe_flush(wall_clock_ms())
        if self.leader is not None:
            self.apply(self.leader.on_leader_flushed(flushed))

    # --- leader: produce ----------------------------------------------------------------

    def on_replica_produce(self, call: ReplicaProduce, envelope: Envelope) -> None:
        data = call.data
        if self.leader is None or self.producers is None:
            self.done(envelope, call.call_id, self.produce_error(
                data, ErrorCode.NOT_LEADER_OR_FOLLOWER, "this broker does not lead it"))
            return
        refused = self.leader.check_append(call.acks)
        try:
            if refused is not None:
                raise refused
            headers = validate_batches(data.records, self.log.config.max_message_bytes)
        except ZafkaError as error:
            self.done(envelope, call.call_id, self.produce_error(data, error.code, error.message))
            return
        sequence_refusal, duplicate = self.check_sequences(headers)
        if sequence_refusal is not None:
            self.done(envelope, call.call_id, sequence_refusal)
            return
        if duplicate is not None:  # a retry: answer as for the first attempt, once replicated
            self.hold_ack(envelope, call, duplicate.first_offset, duplicate.last_offset,
                          LeaderEffects())
            return
        info = self.log.append_as_leader(data.records, self.leader.leader_epoch,
                                         int(time.time() * 1000))
        for header in info.batches:
            self.producers.on_header_appended(_producer_header(header))
        effects = self.leader.on_append(info.last_offset, self.now_tick)
        if self.log.config.fsync_before_ack:
            effects.merge(self.leader.on_leader_flushed(self.flush_log()))
        self.hold_ack(envelope, call, info.first_offset, info.last_offset, effects)

    def hold_ack(self, envelope: Envelope, call: ReplicaProduce, first_offset: int,
                 last_offset: int, effects: LeaderEffects) -> None:
        """Answer the produce once its acks condition holds for ``last_offset``."""
        assert self.leader is not None
        data = call.data
        if call.acks == ACKS_NONE:
            self.apply(effects)
            return
        response = ProducePartitionResponse(
            topic=data.topic, partition=data.partition, base_offset=first_offset,
            log_start_offset=self.log.log_start_offset)
        key = self.hold(envelope, (call.call_id, response))
        deadline = self.now_tick + max(1, call.timeout_ms // self.tunables.tick_ms)
        effects.merge(self.leader.add_pending_ack(key, last_offset, call.acks, deadline))
        self.apply(effects)

    def check_sequences(self, headers: list[Any],
                        ) -> tuple[ProducePartitionResponse | None, BatchMetadata | None]:
        """Idempotence: (the refusal, None) for a refused batch, (None, the original) for a
        retried duplicate, (None, None) to append."""
        assert self.producers is not None and self.record is not None
        for header in headers:
            check = self.producers.check(header.producer_id, header.producer_epoch,
                                         header.base_sequence, header.last_sequence)
            if check.duplicate_of is not None and len(headers) == 1:
                return None, check.duplicate_of
            if check.error != ErrorCode.NONE or check.duplicate_of is not None:
                code = check.error if check.error != ErrorCode.NONE else \
                    ErrorCode.DUPLICATE_SEQUENCE
                return ProducePartitionResponse(
                    topic=self.record.topic, partition=self.record.partition, error=code,
                    error_message=f"producer {header.producer_id} epoch "
                                  f"{header.producer_epoch} sequence {header.base_sequence}"
                ), None
        return None, None

    def produce_error(self, data: Any, code: ErrorCode, message: str) -> ProducePartitionResponse:
        return ProducePartitionResponse(topic=data.topic, partition=data.partition, error=code,
                                        error_message=message)

    # --- leader: fetch, offsets, epochs -------------------------------------------------

    def on_replica_fetch(self, call: ReplicaFetch, envelope: Envelope) -> None:
        data = call.data
        if self.leader is None:
            self.done(envelope, call.call_id, error_fetch(
                data, ErrorCode.NOT_LEADER_OR_FOLLOWER, self.record))
            return
        decision = self.decide_fetch(call, again=call.again)
        self.apply(decision.effects)
        if decision.has_data or decision.error != ErrorCode.NONE \
                or decision.diverging_epoch is not None or call.max_wait_ms <= 0:
            self.done(envelope, call.call_id, read_response(self.log, data, decision, self.record))
            return
        key = self.hold(envelope, call)
        deadline = self.now_tick + max(1, call.max_wait_ms // self.tunables.tick_ms)
        self.apply(self.leader.add_pending_fetch(key, replica_id=call.replica_id,
                                                 fetch_offset=data.fetch_offset,
                                                 deadline_tick=deadline))

    def decide_fetch(self, call: ReplicaFetch, *, again: bool) -> Any:
        """What to read for ``call``; ``again``: a fetch held and answered later, whose
        follower position was recorded when it first came."""
        assert self.leader is not None
        data = call.data
        if call.replica_id >= 0:
            return self.leader.on_follower_fetch(
                replica_id=call.replica_id, fetch_offset=data.fetch_offset,
                last_fetched_epoch=data.last_fetched_epoch,
                current_leader_epoch=data.current_leader_epoch, now_tick=self.now_tick,
                history=self.log, record_progress=not again)
        return self.leader.on_consumer_fetch(fetch_offset=data.fetch_offset,
                                             current_leader_epoch=data.current_leader_epoch)

    def on_replica_list_offsets(self, call: ReplicaListOffsets, envelope: Envelope) -> None:
        data = call.data
        response = ListOffsetsPartitionResponse(topic=data.topic, partition=data.partition,
                                                error=ErrorCode.NOT_LEADER_OR_FOLLOWER)
        if self.leader is not None:
            hw = self.leader.high_watermark
            if data.timestamp == -2:
                offset: int | None = self.log.log_start_offset
            elif data.timestamp == -1:
                offset = hw
            else:
                found = self.log.offset_for_timestamp(data.timestamp)
                offset = found if found is not None and found < hw else None
            response = ListOffsetsPartitionResponse(
                topic=data.topic, partition=data.partition, timestamp=data.timestamp,
                offset=-1 if offset is None else offset, leader_epoch=self.leader.leader_epoch)
        self.done(envelope, call.call_id, response)

    def on_replica_epoch_end(self, call: ReplicaEpochEnd, envelope: Envelope) -> None:
        data = call.data
        if self.leader is None:
            error, end = ErrorCode.NOT_LEADER_OR_FOLLOWER, EpochEndOffset(leader_epoch=-1,
                                                                          end_offset=-1)
        else:
            error, end = self.leader.on_offset_for_leader_epoch(
                current_leader_epoch=data.current_leader_epoch, leader_epoch=data.leader_epoch,
                history=self.log)
        self.done(envelope, call.call_id, OffsetForLeaderEpochPartitionResponse(
            topic=data.topic, partition=data.partition, error=error,
            leader_epoch=end.leader_epoch, end_offset=end.end_offset))

    def on_replica_read(self, call: ReplicaRead, envelope: Envelope) -> None:
        """Read whole batches up to the log end (the local group coordinator's replay)."""
        log = self.log
        offset = max(call.offset, log.log_start_offset)
        try:
            records: Any = log.read(offset, call.max_bytes) if offset < log.log_end_offset \
                else b""
            error = ErrorCode.NONE
        except ZafkaError as exc:
            records, error = b"", exc.code
        self.reply(envelope, ReplicaReadDone(call_id=call.call_id, records=records,
                                             log_end_offset=log.log_end_offset, error=error))

    # --- leader: effects ----------------------------------------------------------------

    def apply(self, effects: LeaderEffects) -> None:
        """Carry out a leader core's effects: propose ISR changes, then answer held calls."""
        if effects.alter_partition is not None:
            proposal = effects.alter_partition
            self.send(self.runtime.address, "broker", ReplicaAlterIsr(
                topic=proposal.topic, partition=proposal.partition,
                leader_epoch=proposal.leader_epoch, partition_epoch=proposal.partition_epoch,
                new_isr=proposal.new_isr), reply_to=self.name)
        for ack in effects.completed_acks:
            envelope, (call_id, response) = self.calls.pop(ack.key)
            if ack.error != ErrorCode.NONE:
                response = self.produce_error(response, ack.error, "not acknowledged")
            self.done(envelope, call_id, response)
        for fetch in effects.completed_fetches:
            envelope, call = self.calls.pop(fetch.key)
            if fetch.error != ErrorCode.NONE or self.leader is None:
                code = fetch.error if fetch.error != ErrorCode.NONE else \
                    ErrorCode.NOT_LEADER_OR_FOLLOWER
                self.done(envelope, call.call_id, error_fetch(call.data, code, self.record))
                continue
            decision = self.decide_fetch(call, again=True)  # recorded when it first came
            self.done(envelope, call.call_id, read_response(self.log, call.data, decision,
                                                            self.record))
            if not decision.effects.empty:
                self.apply(decision.effects)

    def on_alter_partition_reply(self, reply: Any, envelope: Envelope) -> None:
        if self.leader is None:
            return
        if reply.error != ErrorCode.NONE or reply.partition is None:
            self.leader.on_alter_partition_rejected()
            return
        record = reply.partition
        self.apply(self.leader.on_metadata(leader_id=record.leader,
                                           leader_epoch=record.leader_epoch,
                                           partition_epoch=record.partition_epoch,
                                           isr=record.isr))

    def hold(self, envelope: Envelope, what: Any) -> int:
        self.next_key += 1
        self.calls[self.next_key] = (envelope, what)
        self.time_held(envelope, what)
        return self.next_key

    def done(self, envelope: Envelope, call_id: int, response: Any) -> None:
        self.time_done(envelope, call_id)
        self.reply(envelope, ReplicaCallDone(call_id=call_id, response=response))

APPENDED_BYTES_MAX = 1 << 20
"""The most bytes of new batches a replica hands its broker with ``ReplicaDataReady``."""


def appended_batches(log: PartitionLog, since: int) -> Any:
    """The whole batches in [``since``, log end) if they are few (one read of what was just
    written, still in the page cache), else ``b""`` (held fetches then ask the replica)."""
    end = log.log_end_offset
    if since < log.log_start_offset or since >= end:
        return b""
    try:
        data = log.read(since, APPENDED_BYTES_MAX, max_offset=end)
    except ZafkaError:
        return b""
    headers = [header for header, _ in iter_batches(data)]
    if not headers or headers[0].base_offset != since or headers[-1].next_offset != end \
            or len(data) > APPENDED_BYTES_MAX:
        return b""
    return data


def _producer_header(header: Any) -> ProducerBatch:
    return ProducerBatch(producer_id=header.producer_id, producer_epoch=header.producer_epoch,
                         base_sequence=header.base_sequence, record_count=header.record_count,
                         base_offset=header.base_offset)


def _producer_headers(log: PartitionLog) -> Iterator[ProducerBatch]:
    for header in log.iter_batch_headers(log.log_start_offset):
        if header.producer_id >= 0 and header.record_count > 0:
            yield _producer_header(header)


__all__ = ["ReplicaActor", "replica_actor_name"]
