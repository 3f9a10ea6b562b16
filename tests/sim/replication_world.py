"""A deterministic world for one partition with three replicas, driven by the real cores.

Owns: an in-memory partition log model (``MemoryLog``: records with epochs, a flushed mark,
Kafka's leader-epoch history; a crash loses what was not flushed), a seeded lossy network
(loss, delay, reorder, duplication, cut links), a minimal controller (fences silent brokers,
elects leaders from the ISR only, commits AlterPartition by partition epoch, bumps the leader
epoch when a broker restarts), idempotent acks=all producers, and brokers that feed every
message and tick into ``LeaderState`` / ``FollowerState`` / ``ProducerStateTable``.

Must never: make a replication decision itself.  Everything a broker decides comes from the
cores; this module only carries out their effects, the way the actors will.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Hashable
from typing import Any

from core.config import Tunables
from core.errors import ErrorCode
from core.producer_state import BatchHeader, ProducerStateTable
from core.replication import LeaderState
from core.replication_follower import FollowerRequestKind, FollowerState
from core.replication_types import (
    ACKS_ALL,
    UNDEFINED_EPOCH,
    AlterPartitionProposal,
    EpochEndOffset,
    LeaderEffects,
)

TOPIC, PARTITION = "t", 0
BROKERS = (1, 2, 3)
CONTROLLER = 0
MIN_ISR = 2
TUNABLES = Tunables(replica_lag_time_max_ticks=40, replica_fetch_max_wait_ticks=8,
                    pending_acks_per_partition_max=64).validate()
SESSION_TIMEOUT_TICKS = 30
HEARTBEAT_TICKS = 4
PRODUCE_TIMEOUT_TICKS = 30
FETCH_MAX_RECORDS = 4


@dataclasses.dataclass(frozen=True)
class Record:
    """One record; the batch fields are those a RecordBatch v2 header carries."""

    offset: int
    epoch: int
    value: str
    producer_id: int
    producer_epoch: int
    base_sequence: int
    base_offset: int
    record_count: int


class MemoryLog:
    """The partition log model: records, flushed mark, Kafka's leader-epoch cache."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.flushed = 0
        self.epochs: list[tuple[int, int]] = []  # (epoch, start offset), durable

    @property
    def log_end_offset(self) -> int:
        return len(self.records)

    @property
    def last_epoch(self) -> int:
        return self.epochs[-1][0] if self.epochs else UNDEFINED_EPOCH

    def assign_epoch(self, epoch: int, start_offset: int) -> None:
        if not self.epochs or epoch > self.epochs[-1][0]:
            self.epochs.append((epoch, start_offset))

    def append(self, records: list[Record]) -> None:
        for record in records:
            assert record.offset == len(self.records), "appends are contiguous"
            self.assign_epoch(record.epoch, record.offset)
            self.records.append(record)

    def truncate_to(self, offset: int) -> None:
        del self.records[offset:]
        self.flushed = min(self.flushed, offset)
        self.epochs = [(e, s) for e, s in self.epochs if s < offset]

    def crash(self) -> None:
        del self.records[self.flushed:]
        self.epochs = [(e, s) for e, s in self.epochs if s <= self.flushed]

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        """Kafka's ``LeaderEpochFileCache.endOffsetFor``."""
        if not self.epochs or epoch == UNDEFINED_EPOCH:
            return UNDEFINED_EPOCH, -1
        if epoch == self.epochs[-1][0]:
            return epoch, self.log_end_offset
        higher = [(e, s) for e, s in self.epochs if e > epoch]
        if not higher:
            return UNDEFINED_EPOCH, -1
        floor = [(e, s) for e, s in self.epochs if e <= epoch]
        return (floor[-1][0] if floor else epoch), higher[0][1]

    def read(self, offset: int, max_records: int, max_offset: int) -> list[Record]:
        """Whole batches from ``offset``, about ``max_records`` (at least one batch)."""
        end = min(offset + max_records, max_offset)
        if end > offset:
            last = self.records[end - 1]
            end = last.base_offset + last.record_count
        return self.records[offset:end]

    def headers(self) -> list[BatchHeader]:
        return [BatchHeader(producer_id=r.producer_id, producer_epoch=r.producer_epoch,
                            base_sequence=r.base_sequence, record_count=r.record_count,
                            base_offset=r.base_offset)
                for r in self.records if r.offset == r.base_offset]


@dataclasses.dataclass(frozen=True)
class PartitionState:
    leader: int
    leader_epoch: int
    partition_epoch: int
    isr: frozenset[int]

    @property
    def version(self) -> tuple[int, int]:
        return self.leader_epoch, self.partition_epoch


@dataclasses.dataclass(frozen=True)
class Msg:
    """A message in flight; ``kind`` names it, ``body`` carries its fields."""

    src: int | str
    dst: int | str
    kind: str
    body: dict[str, Any]


class Network:
    """Seeded delivery with loss, delay (hence reorder), duplication and cut links."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.queue: list[tuple[int, int, Msg]] = []
        self.seq = 0
        self.chaos = False
        self.cut: set[tuple[int | str, int | str]] = set()

    def send(self, now: int, msg: Msg) -> None:
        copies = 1
        if self.chaos:
            if (msg.src, msg.dst) in self.cut or self.rng.random() < 0.08:
                return
            copies = 2 if self.rng.random() < 0.04 else 1
        for _ in range(copies):
            delay = self.rng.randint(1, 6) if self.chaos else 1
            self.seq += 1
            self.queue.append((now + delay, self.seq, msg))

    def due(self, now: int) -> list[Msg]:
        ready = sorted((m for m in self.queue if m[0] <= now), key=lambda m: (m[0], m[1]))
        self.queue = [m for m in self.queue if m[0] > now]
        return [m for _, _, m in ready]


class Controller:
    """The committed partition state and broker liveness (a reliable Raft quorum)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.state = PartitionState(leader=1, leader_epoch=1, partition_epoch=1,
                                    isr=frozenset(BROKERS))
        self.last_heartbeat = dict.fromkeys(BROKERS, 0)
        self.incarnation = dict.fromkeys(BROKERS, 0)
        self.fenced: set[int] = set()

    def on_message(self, msg: Msg) -> None:
        now = self.world.now
        if msg.kind == "heartbeat":
            broker, incarnation = msg.body["broker"], msg.body["incarnation"]
            if incarnation > self.incarnation[broker]:
                self.incarnation[broker] = incarnation
                self._restarted(broker)
            if incarnation == self.incarnation[broker]:
                self.last_heartbeat[broker] = now
                if broker in self.fenced:
                    self.fenced.discard(broker)
                    if self.state.leader == -1:
                        self._elect()
                self.world.send(CONTROLLER, broker, "registered",
                                incarnation=incarnation, state=self.state)
        elif msg.kind == "alter_partition":
            self._on_alter_partition(msg.src, msg.body["proposal"])

    def _on_alter_partition(self, src: int | str, proposal: AlterPartitionProposal) -> None:
        state = self.state
        new_isr = frozenset(proposal.new_isr)
        ok = (proposal.leader_id == state.leader
              and proposal.leader_epoch == state.leader_epoch
              and proposal.partition_epoch == state.partition_epoch
              and state.leader in new_isr and not (new_isr - state.isr) & self.fenced)
        if ok:
            self.commit(dataclasses.replace(state, isr=new_isr,
                                            partition_epoch=state.partition_epoch + 1))
        self.world.send(CONTROLLER, src, "alter_partition_reply", ok=ok, state=self.state)

    def _restarted(self, broker: int) -> None:
        """A new incarnation: its unflushed tail is gone, so it may not keep leading."""
        if self.state.leader == broker:
            self._elect(exclude=broker)

    def _elect(self, exclude: int | None = None) -> None:
        candidates = [b for b in BROKERS if b in self.state.isr and b not in self.fenced]
        others = [b for b in candidates if b != exclude]
        leader = others[0] if others else (candidates[0] if candidates else -1)
        isr = self.state.isr
        if leader != -1 and exclude is not None and leader != exclude:
            isr = isr - {exclude}
        self.commit(PartitionState(leader=leader, leader_epoch=self.state.leader_epoch + 1,
                                   partition_epoch=self.state.partition_epoch + 1, isr=isr))

    def commit(self, state: PartitionState) -> None:
        assert state.leader == -1 or state.leader in state.isr, "leaders come from the ISR"
        assert state.isr, "the ISR is never empty"
        self.state = state
        self.world.committed_states.append(state)
        self.broadcast()

    def broadcast(self) -> None:
        for target in (*BROKERS, *self.world.producers):
            self.world.send(CONTROLLER, target, "metadata", state=self.state)

    def tick(self) -> None:
        now = self.world.now
        for broker in BROKERS:
            silent = now - self.last_heartbeat[broker] > SESSION_TIMEOUT_TICKS
            if silent and broker not in self.fenced:
                self.fenced.add(broker)
                if self.state.leader == broker:
                    self._elect(exclude=broker)
        if now % 5 == 0:
            self.broadcast()


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
                high_watermark=self.high_watermark, tunables=TUNABLES)
        else:
            self.follower.become_follower(leader_id=state.leader,
                                          leader_epoch=state.leader_epoch)

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
            replica_id=msg.src, fetch_offset=body["fetch_offset"],  # type: ignore[arg-type]
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
                key, replica_id=msg.src,  # type: ignore[arg-type]
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
        follower, body = self.follower, msg.body
        if follower is None or not follower.accepts_fetch(body["request_id"]):
            return
        decision = follower.on_fetch_response(
            request_id=body["request_id"], error=body["error"],
            high_watermark=body.get("high_watermark", -1),
            diverging_epoch=body.get("diverging_epoch"), history=self.log,
            now_tick=self.world.now)
        if decision is not None:
            self._truncate(decision.truncate_to)
            return
        if body["error"] == ErrorCode.NONE and body["records"]:
            self.log.append(list(body["records"]))
            self._report_log()
        self.hw_checkpoint = max(self.hw_checkpoint, follower.high_watermark)

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
        if self.follower is not None:
            request = self.follower.poll(now)
            if request is not None:
                kind = ("fetch" if request.kind is FollowerRequestKind.FETCH
                        else "offset_for_leader_epoch")
                self.world.send(self.id, request.leader_id, kind,
                                request_id=request.request_id,
                                current_leader_epoch=request.current_leader_epoch,
                                fetch_offset=request.fetch_offset,
                                last_fetched_epoch=request.last_fetched_epoch,
                                epoch=request.last_fetched_epoch)

    def invariants(self) -> None:
        if self.leader is not None:
            self.leader.invariants()
            epoch, hw = self.leader.leader_epoch, self.leader.high_watermark
            assert hw >= self.hw_seen.get(epoch, 0), (
                f"HW went back on leader {self.id} in epoch {epoch}")
            self.hw_seen[epoch] = hw
        if self.follower is not None:
            self.follower.invariants()
        self.producers.invariants()


class Producer:
    """An idempotent acks=all producer: one batch in flight, retried until acknowledged."""

    def __init__(self, world: World, name: str, producer_id: int) -> None:
        self.world, self.name, self.producer_id = world, name, producer_id
        self.leader = 1
        self.sequence = 0
        self.batch: list[str] | None = None
        self.request_id = 0
        self.sent_at = -(10**9)
        self.next_value = 0
        self.enabled = True

    def on_message(self, msg: Msg) -> None:
        if msg.kind == "metadata":
            self.leader = msg.body["state"].leader
        elif msg.kind == "produce_reply" and msg.body["request_id"] == self.request_id:
            error = msg.body["error"]
            assert error not in (ErrorCode.OUT_OF_ORDER_SEQUENCE,
                                 ErrorCode.INVALID_PRODUCER_EPOCH), f"{self.name}: {error!r}"
            if error == ErrorCode.NONE and self.batch is not None:
                self.world.on_acked(self.producer_id, self.sequence, self.batch,
                                    msg.body["base_offset"])
                self.sequence += len(self.batch)
                self.batch = None
                self.request_id += 1  # a duplicated reply must not acknowledge the next batch
            else:
                self.sent_at = self.world.now - PRODUCE_TIMEOUT_TICKS + 3  # retry soon

    def tick(self) -> None:
        now = self.world.now
        if self.batch is None and self.enabled:
            count = self.world.rng.randint(1, 3)
            self.batch = [f"{self.name}-{self.next_value + i}" for i in range(count)]
            self.next_value += count
            self.sent_at = -(10**9)
        if self.batch is None or now - self.sent_at < PRODUCE_TIMEOUT_TICKS + 5:
            return
        if self.leader == -1:
            return
        self.request_id += 1
        self.sent_at = now
        self.world.send(self.name, self.leader, "produce", request_id=self.request_id,
                        producer_id=self.producer_id, producer_epoch=0,
                        sequence=self.sequence, values=tuple(self.batch))


class World:
    """The whole simulation: network, controller, brokers, producers and the checks."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.now = 0
        self.network = Network(random.Random(seed * 7919 + 1))
        self.producers = {"p1": Producer(self, "p1", 1000), "p2": Producer(self, "p2", 1001)}
        self.committed_states: list[PartitionState] = []
        self.controller = Controller(self)
        self.brokers = {b: Broker(self, b) for b in BROKERS}
        self.acked: dict[int, tuple[str, int, int]] = {}  # offset -> (value, pid, base seq)
        self.acked_count = 0
        self.controller.broadcast()

    def send(self, src: int | str, dst: int | str, kind: str, **body: Any) -> None:
        self.network.send(self.now, Msg(src, dst, kind, body))

    def on_acked(self, producer_id: int, sequence: int, values: list[str],
                 base_offset: int) -> None:
        for i, value in enumerate(values):
            previous = self.acked.get(base_offset + i)
            assert previous is None or previous[0] == value, (
                f"offset {base_offset + i} acknowledged for {previous} and {value}")
            self.acked[base_offset + i] = (value, producer_id, sequence)
        self.acked_count += 1

    def step(self) -> None:
        """One tick: deliver, maybe a fault, flush (group commit), then every tick."""
        self.now += 1
        for msg in self.network.due(self.now):
            self._deliver(msg)
        if self.network.chaos:
            self._chaos_event()
        for broker in self.brokers.values():
            if broker.active:
                broker.flush()
        self.controller.tick()
        for broker in self.brokers.values():
            if broker.active:
                broker.tick()
        for producer in self.producers.values():
            producer.tick()
        self.check_invariants()

    def _deliver(self, msg: Msg) -> None:
        if msg.dst == CONTROLLER:
            self.controller.on_message(msg)
        elif isinstance(msg.dst, str):
            self.producers[msg.dst].on_message(msg)
        else:
            broker = self.brokers[msg.dst]
            if not broker.alive:
                return
            if not broker.active:  # paused: the message waits in its socket buffer
                self.network.seq += 1
                self.network.queue.append((broker.paused_until, self.network.seq, msg))
                return
            broker.on_message(msg)

    def _chaos_event(self) -> None:
        rng = self.rng
        roll = rng.random()
        up = [b for b in self.brokers.values() if b.alive]
        if roll < 0.006 and len(up) >= 2:
            rng.choice(up).crash()
        elif roll < 0.03:
            for broker in self.brokers.values():
                if not broker.alive and rng.random() < 0.5:
                    broker.restart()
        elif roll < 0.036 and up:
            rng.choice(up).paused_until = self.now + rng.randint(10, 80)
        elif roll < 0.042:
            nodes: list[int | str] = [CONTROLLER, *BROKERS]
            a, b = rng.sample(nodes, 2)
            self.network.cut.add((a, b))
            if rng.random() < 0.5:
                self.network.cut.add((b, a))
        elif roll < 0.06:
            self.network.cut.clear()

    def heal(self) -> None:
        self.network.chaos = False
        self.network.cut.clear()
        for broker in self.brokers.values():
            broker.paused_until = 0
            if not broker.alive:
                broker.restart()

    # --- invariants ---------------------------------------------------------------------

    def check_invariants(self) -> None:
        for broker in self.brokers.values():
            if broker.alive:
                broker.invariants()
        self.check_acknowledged_records_kept()
        self.check_committed_prefixes_agree()
        self.check_current_leader_hw()

    def check_acknowledged_records_kept(self) -> None:
        """No acks=all-acknowledged record is lost: every ISR member and the current leader
        hold it at its offset (a crashed replica's flushed log counts)."""
        state = self.controller.state
        holders = set(state.isr) | ({state.leader} if state.leader != -1 else set())
        for broker_id in holders:
            records = self.brokers[broker_id].log.records
            for offset, (value, _, _) in self.acked.items():
                assert offset < len(records) and records[offset].value == value, (
                    f"acknowledged {value}@{offset} missing on ISR member {broker_id}")

    def check_committed_prefixes_agree(self) -> None:
        """No two replicas hold different records at the same offset below their HWs."""
        live = [b for b in self.brokers.values() if b.alive]
        for i, a in enumerate(live):
            for b in live[i + 1:]:
                bound = min(a.high_watermark, b.high_watermark)
                assert a.log.records[:bound] == b.log.records[:bound], (
                    f"replicas {a.id} and {b.id} differ below HW {bound}")

    def check_current_leader_hw(self) -> None:
        """The legitimate leader's HW never exceeds the LEO of any committed ISR member."""
        state = self.controller.state
        if state.leader == -1:
            return
        leader = self.brokers[state.leader].leader
        if leader is None or leader.leader_epoch != state.leader_epoch:
            return
        for broker_id in state.isr:
            leo = self.brokers[broker_id].log.log_end_offset
            assert leader.high_watermark <= leo, (
                f"HW {leader.high_watermark} beyond ISR member {broker_id} LEO {leo}")

    def converged(self) -> bool:
        logs = [b.log.records for b in self.brokers.values()]
        hws = {b.high_watermark for b in self.brokers.values()}
        return (all(log == logs[0] for log in logs) and hws == {len(logs[0])}
                and self.controller.state.isr == frozenset(BROKERS))


def run(seed: int, chaos_ticks: int = 600, healed_ticks: int = 400) -> World:
    """Chaos, then healing with producers still running, then quiet until convergence."""
    world = World(seed)
    world.network.chaos = True
    for _ in range(chaos_ticks):
        world.step()
    world.heal()
    acked_before_heal = world.acked_count
    for _ in range(healed_ticks):
        world.step()
    assert world.acked_count > acked_before_heal, "no progress after healing"
    for producer in world.producers.values():
        producer.enabled = False
    for _ in range(400):
        world.step()
        if world.converged() and all(p.batch is None for p in world.producers.values()):
            return world
    raise AssertionError("replicas did not converge after healing")
