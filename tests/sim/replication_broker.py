"""A simulated broker hosting one replica of the partition: the shell around the cores.

Owns: one replica's ``MemoryLog``, its HW checkpoint, incarnation, the committed partition state
it last saw, and its role: a ``LeaderState`` with a ``ProducerStateTable`` or a
``FollowerState``; and, like a real broker, a ``FetchBatcher`` per leader broker that its
follower's fetches travel through (``core.fetch_batcher``, as ``FetcherActor`` carries it
out), with the ticker's rule that the earliest of several wake-ups wins.  It carries out the
cores' effects the way ``ReplicaActor`` (``actors/replica.py``, which owns the log and, while
it leads, the leader state) does: append, flush, truncate, reply, send.

It records the follower fetches that timed out at the follower although its fetcher no
longer held them (``fetch_timeouts``, the ticks): a lost want, which the follower's own
timeout — the safety net — recovers from, and which the simulation shows never happens once
the network is healthy.  (An idle follower's want the fetcher still long-polls for also
times out at the follower and is simply renewed: that is not a loss.)

Must never: make a replication decision itself; every decision comes from a core.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from zafka.core.errors import ErrorCode
from zafka.core.fetch_batcher import BatcherEffects, FetchBatcher
from zafka.core.messages import (
    FetchedPartition,
    FetchPartition,
    FetchPartitionResponse,
    FetchResponse,
    FetchWant,
)
from zafka.core.producer_state import ProducerStateTable
from zafka.core.replication import LeaderState
from zafka.core.replication_follower import FollowerRequestKind, FollowerState
from zafka.core.replication_types import ACKS_ALL, EpochEndOffset, LeaderEffects

from tests.sim.replication_model import (
    BROKERS,
    CONTROLLER,
    FETCH_MAX_RECORDS,
    HEARTBEAT_TICKS,
    MIN_ISR,
    PARTITION,
    PRODUCE_TIMEOUT_TICKS,
    TOPIC,
    TUNABLES,
    MemoryLog,
    Msg,
    PartitionState,
    Record,
)

if TYPE_CHECKING:
    from tests.sim.replication_world import World

# As on a real broker: the fetcher gives up on an unanswered request after two fetch waits
# and a bit (FetcherActor), the replica only after six (replica_follower's 3 s at 50 ticks).
FETCHER_TIMEOUT_TICKS = 2 * TUNABLES.replica_fetch_max_wait_ticks + 10
FOLLOWER_FETCH_TIMEOUT_TICKS = 6 * TUNABLES.replica_fetch_max_wait_ticks


class Broker:
    """One broker's replica of the partition: the shells around the replication cores."""

    def __init__(self, world: World, broker_id: int) -> None:
        self.world, self.id = world, broker_id
        self.log = MemoryLog()
        self.hw_checkpoint = 0
        self.incarnation = 0
        self.alive, self.paused_until = True, 0
        self.registered = True
        self.known: PartitionState | None = None
        self.leader: LeaderState | None = None
        self.follower: FollowerState | None = None
        self.producers = ProducerStateTable(TUNABLES.producer_dedup_window_batches)
        self.held: dict[Hashable, Msg] = {}
        self.hw_seen: dict[int, int] = {}
        self.truncate_on_fetch = world.rng.random() < 0.5  # KIP-320 only, or KIP-101 first
        self.batchers: dict[int, FetchBatcher] = {}  # leader broker -> its fetcher's core
        self.batcher_due: dict[int, int] = {}  # leader broker -> the fetcher's wake-up
        self.fetch_in_flight: tuple[int, int] | None = None  # (request id, sent at tick)
        self.fetch_timeouts: list[int] = []  # ticks at which a follower fetch timed out

    @property
    def active(self) -> bool:
        return self.alive and self.world.now >= self.paused_until

    @property
    def high_watermark(self) -> int:
        if self.leader is not None and not self.leader.resigned:
            return self.leader.high_watermark
        if self.follower is not None:
            return self.follower.high_watermark
        return min(self.hw_checkpoint, self.log.log_end_offset)

    # --- lifecycle ----------------------------------------------------------------------

    def crash(self) -> None:
        self.alive = False
        self.log.crash()
        self.leader, self.follower, self.known = None, None, None
        self.held.clear()
        self.batchers.clear()  # a fetcher's state dies with its process
        self.batcher_due.clear()
        self.fetch_in_flight = None

    def restart(self) -> None:
        self.alive, self.registered = True, False
        self.incarnation += 1
        self.hw_checkpoint = min(self.hw_checkpoint, self.log.log_end_offset)

    # --- messages -----------------------------------------------------------------------

    def on_message(self, msg: Msg) -> None:
        handler = getattr(self, f"on_{msg.kind}")
        handler(msg)

    def on_registered(self, msg: Msg) -> None:
        if msg.body["incarnation"] == self.incarnation:
            self.registered = True
            self.on_metadata(msg)

    def on_metadata(self, msg: Msg) -> None:
        state: PartitionState = msg.body["state"]
        if not self.registered or (self.known and state.version <= self.known.version):
            return
        self.known = state
        if state.leader == self.id:
            self._lead(state)
        else:
            self._resign()
            self._follow(state)

    def _lead(self, state: PartitionState) -> None:
        if self.leader is not None and self.leader.leader_epoch == state.leader_epoch:
            self.apply(self.leader.on_metadata(leader_id=state.leader,
                                               leader_epoch=state.leader_epoch,
                                               partition_epoch=state.partition_epoch,
                                               isr=state.isr))
            return
        self._resign()
        self.follower = None
        self.log.assign_epoch(state.leader_epoch, self.log.log_end_offset)
        self.producers = ProducerStateTable.rebuild(self.log.headers(),
                                                    TUNABLES.producer_dedup_window_batches)
        self.leader = LeaderState(
            topic=TOPIC, partition=PARTITION, leader_id=self.id,
            leader_epoch=state.leader_epoch, partition_epoch=state.partition_epoch,
            replicas=BROKERS, isr=state.isr, min_insync_replicas=MIN_ISR,
            log_end_offset=self.log.log_end_offset, flushed_offset=self.log.flushed,
            high_watermark=self.high_watermark, now_tick=self.world.now, tunables=TUNABLES)

    def _resign(self) -> None:
        if self.leader is not None:
            self.hw_checkpoint = self.leader.high_watermark
            self.apply(self.leader.resign())
            self.leader = None

    def _follow(self, state: PartitionState) -> None:
        if state.leader == -1:
            return
        if self.follower is None:
            self.follower = FollowerState(
                topic=TOPIC, partition=PARTITION, replica_id=self.id, leader_id=state.leader,
                leader_epoch=state.leader_epoch, log_end_offset=self.log.log_end_offset,
                last_epoch=self.log.last_epoch, flushed_offset=self.log.flushed,
                high_watermark=self.high_watermark, request_id_base=self.incarnation << 32,
                truncate_on_fetch=self.truncate_on_fetch,
                fetch_timeout_ticks=FOLLOWER_FETCH_TIMEOUT_TICKS, tunables=TUNABLES)
        else:
            self.follower.become_follower(leader_id=state.leader,
                                          leader_epoch=state.leader_epoch)
            self.fetch_in_flight = None
        for leader_id in list(self.batchers):  # the other fetchers forget the partition
            if leader_id != state.leader:
                self.carry_out(leader_id, self.batchers[leader_id].forget(
                    TOPIC, PARTITION, self.world.now))

    def on_alter_partition_reply(self, msg: Msg) -> None:
        if not msg.body["ok"] and self.leader is not None:
            self.leader.on_alter_partition_rejected()
        self.on_metadata(msg)

    def on_produce(self, msg: Msg) -> None:
        body = msg.body
        key = (msg.src, body["request_id"])
        leader = self.leader
        if leader is None or leader.resigned:
            self.reply_produce(msg.src, body["request_id"], ErrorCode.NOT_LEADER_OR_FOLLOWER)
            return
        refused = leader.check_append(ACKS_ALL)
        check = self.producers.check(body["producer_id"], body["producer_epoch"],
                                     body["sequence"],
                                     body["sequence"] + len(body["values"]) - 1)
        if refused is not None or check.error != ErrorCode.NONE:
            code = refused.code if refused is not None else check.error
            self.reply_produce(msg.src, body["request_id"], code)
            return
        if key in self.held:
            return  # a duplicated copy of a request already waiting for its ack
        if check.duplicate_of is not None:
            first, last = check.duplicate_of.first_offset, check.duplicate_of.last_offset
        else:
            first, last = self._append_as_leader(leader, body)
        self.held[key] = dataclasses.replace(msg, body={**body, "base_offset": first})
        self.apply(leader.add_pending_ack(key, last, ACKS_ALL,
                                          self.world.now + PRODUCE_TIMEOUT_TICKS))

    def _append_as_leader(self, leader: LeaderState, body: dict[str, Any]) -> tuple[int, int]:
        first = self.log.log_end_offset
        count = len(body["values"])
        self.log.append([
            Record(offset=first + i, epoch=leader.leader_epoch, value=value,
                   producer_id=body["producer_id"], producer_epoch=body["producer_epoch"],
                   base_sequence=body["sequence"], base_offset=first, record_count=count)
            for i, value in enumerate(body["values"])])
        last = first + count - 1
        self.producers.on_batch_appended(body["producer_id"], body["producer_epoch"],
                                         body["sequence"], body["sequence"] + count - 1,
                                         first, last)
        self.apply(leader.on_append(last))
        return first, last

    def reply_produce(self, dst: int | str, request_id: int, error: ErrorCode,
                      base_offset: int = -1) -> None:
        self.world.send(self.id, dst, "produce_reply", request_id=request_id, error=error,
                        base_offset=base_offset)

    def on_fetch(self, msg: Msg) -> None:
        body = msg.body
        leader = self.leader
        if leader is None:
            self.world.send(self.id, msg.src, "fetch_reply", request_id=body["request_id"],
                            error=ErrorCode.NOT_LEADER_OR_FOLLOWER)
            return
        decision = leader.on_follower_fetch(
            replica_id=int(msg.src), fetch_offset=body["fetch_offset"],
            last_fetched_epoch=body["last_fetched_epoch"],
            current_leader_epoch=body["current_leader_epoch"], now_tick=self.world.now,
            history=self.log)
        self.apply(decision.effects)
        if decision.has_data or decision.error != ErrorCode.NONE or decision.diverging_epoch:
            self.send_fetch_reply(msg, decision.error, decision.diverging_epoch)
            return
        key = ("fetch", msg.src, body["request_id"])
        if key not in self.held and not leader.resigned:
            self.held[key] = msg
            self.apply(leader.add_pending_fetch(
                key, replica_id=int(msg.src),
                fetch_offset=body["fetch_offset"],
                deadline_tick=self.world.now + TUNABLES.replica_fetch_max_wait_ticks))

    def send_fetch_reply(self, msg: Msg, error: ErrorCode,
                         diverging: EpochEndOffset | None = None) -> None:
        offset = msg.body["fetch_offset"]
        records: list[Record] = []
        hw = -1
        if error == ErrorCode.NONE and self.leader is not None:
            hw = self.leader.high_watermark
            if diverging is None:
                records = self.log.read(offset, FETCH_MAX_RECORDS, self.leader.log_end_offset)
        self.world.send(self.id, msg.src, "fetch_reply", request_id=msg.body["request_id"],
                        error=error, high_watermark=hw, diverging_epoch=diverging,
                        records=records)

    def on_fetch_reply(self, msg: Msg) -> None:
        """A leader's answer to a fetcher's request: the fetcher's core decides."""
        body = msg.body
        batcher = self.batchers.get(int(msg.src))
        if batcher is None:
            return
        part = FetchPartitionResponse(
            topic=TOPIC, partition=PARTITION, error=body["error"],
            high_watermark=body.get("high_watermark", -1),
            diverging_epoch=body.get("diverging_epoch"),
            records=tuple(body.get("records", ())))  # type: ignore[arg-type]  # sim records
        self.carry_out(int(msg.src), batcher.on_response(
            body["request_id"], FetchResponse(partitions=(part,)), self.world.now))

    def on_fetched(self, fetched: FetchedPartition) -> None:
        """The fetcher handed the replica an answer (as ``on_fetched_partition``)."""
        follower, part = self.follower, fetched.response
        if follower is None or not follower.accepts_fetch(fetched.request_id):
            return
        self.fetch_in_flight = None
        decision = follower.on_fetch_response(
            request_id=fetched.request_id, error=part.error,
            high_watermark=part.high_watermark, diverging_epoch=part.diverging_epoch,
            history=self.log, now_tick=self.world.now)
        if decision is not None:
            self._truncate(decision.truncate_to)
            return
        if part.error == ErrorCode.NONE and part.records:
            self.log.append(list(part.records))  # type: ignore[arg-type]
            self._report_log()
        self.hw_checkpoint = max(self.hw_checkpoint, follower.high_watermark)

    def carry_out(self, leader_id: int, effects: BatcherEffects) -> None:
        """What ``FetcherActor`` does with its core's effects."""
        if effects.send is not None:
            want = effects.send.partitions[0]
            self.world.send(self.id, leader_id, "fetch",
                            request_id=effects.send.correlation_id,
                            current_leader_epoch=want.current_leader_epoch,
                            fetch_offset=want.fetch_offset,
                            last_fetched_epoch=want.last_fetched_epoch)
        for _, fetched in effects.deliver:
            self.on_fetched(fetched)
        if effects.wake_at is not None:
            due = max(effects.wake_at, self.world.now + 1)
            current = self.batcher_due.get(leader_id)
            if current is None or due < current:
                self.batcher_due[leader_id] = due

    def on_offset_for_leader_epoch(self, msg: Msg) -> None:
        body = msg.body
        if self.leader is None:
            error, end = ErrorCode.NOT_LEADER_OR_FOLLOWER, None
        else:
            error, end = self.leader.on_offset_for_leader_epoch(
                current_leader_epoch=body["current_leader_epoch"],
                leader_epoch=body["epoch"], history=self.log)
        self.world.send(self.id, msg.src, "offset_for_leader_epoch_reply",
                        request_id=body["request_id"], error=error, epoch_end=end)

    def on_offset_for_leader_epoch_reply(self, msg: Msg) -> None:
        if self.follower is None:
            return
        decision = self.follower.on_offset_for_leader_epoch_response(
            request_id=msg.body["request_id"], error=msg.body["error"],
            epoch_end=msg.body["epoch_end"], history=self.log, now_tick=self.world.now)
        if decision is not None:
            self._truncate(decision.truncate_to)

    def _truncate(self, offset: int) -> None:
        self.log.truncate_to(offset)
        self.hw_checkpoint = min(self.hw_checkpoint, offset)
        self._report_log()

    def _report_log(self) -> None:
        if self.follower is not None:
            self.follower.on_log_end(log_end_offset=self.log.log_end_offset,
                                     last_epoch=self.log.last_epoch,
                                     flushed_offset=self.log.flushed)

    # --- effects and time ---------------------------------------------------------------

    def apply(self, effects: LeaderEffects) -> None:
        """Carry out what the leader core decided: send, then reply."""
        if effects.alter_partition is not None:
            self.world.send(self.id, CONTROLLER, "alter_partition",
                            proposal=effects.alter_partition)
        for ack in effects.completed_acks:
            held = self.held.pop(ack.key)
            self.reply_produce(held.src, held.body["request_id"], ack.error,
                               held.body["base_offset"])
        for fetch in effects.completed_fetches:
            self.send_fetch_reply(self.held.pop(fetch.key), fetch.error)

    def flush(self) -> None:
        self.log.flushed = self.log.log_end_offset
        if self.leader is not None and not self.leader.resigned:
            self.apply(self.leader.on_leader_flushed(self.log.flushed))
        self._report_log()

    def tick(self) -> None:
        now = self.world.now
        if now % HEARTBEAT_TICKS == self.id % HEARTBEAT_TICKS:
            self.world.send(self.id, CONTROLLER, "heartbeat", broker=self.id,
                            incarnation=self.incarnation)
        if self.leader is not None:
            self.apply(self.leader.tick(now))
            if self.leader.resigned:
                self.leader = None
            else:
                self.hw_checkpoint = self.leader.high_watermark
        for leader_id, due in list(self.batcher_due.items()):
            if due <= now:
                del self.batcher_due[leader_id]
                self.carry_out(leader_id, self.batchers[leader_id].on_tick(now))
        if self.follower is not None:
            request = self.follower.poll(now)
            if request is None:
                return
            if request.kind is not FollowerRequestKind.FETCH:
                self.world.send(self.id, request.leader_id, "offset_for_leader_epoch",
                                request_id=request.request_id,
                                current_leader_epoch=request.current_leader_epoch,
                                epoch=request.last_fetched_epoch)
                return
            batcher = self.batchers.setdefault(
                request.leader_id, FetchBatcher(FETCHER_TIMEOUT_TICKS,
                                                correlation_base=self.incarnation << 32))
            if self.fetch_in_flight is not None:  # the last one was never answered ...
                held = batcher.wants.get((TOPIC, PARTITION))
                if held is None or held.request_id != self.fetch_in_flight[0]:
                    self.fetch_timeouts.append(now)  # ... and the fetcher no longer had it
            self.fetch_in_flight = (request.request_id, now)
            self.carry_out(request.leader_id, batcher.want(FetchWant(
                replica="replica", request_id=request.request_id, partition=FetchPartition(
                    topic=TOPIC, partition=PARTITION, fetch_offset=request.fetch_offset,
                    partition_max_bytes=1 << 20,
                    current_leader_epoch=request.current_leader_epoch,
                    last_fetched_epoch=request.last_fetched_epoch)), now))

    def invariants(self) -> None:
        if self.leader is not None:
            self.leader.invariants()
            epoch, hw = self.leader.leader_epoch, self.leader.high_watermark
            assert hw >= self.hw_seen.get(epoch, 0), (
                f"HW went back on leader {self.id} in epoch {epoch}")
            self.hw_seen[epoch] = hw
            self.producers.invariants()
        if self.follower is not None:
            self.follower.invariants()
        now = self.world.now
        for leader_id, batcher in self.batchers.items():
            unscheduled = batcher.unscheduled(now, self.batcher_due.get(leader_id))
            assert not unscheduled, (
                f"broker {self.id}'s fetcher for broker {leader_id}: unscheduled want "
                f"{unscheduled} at tick {now}")


