"""A deterministic world for one partition with three replicas, driven by the real cores.

Owns: the minimal controller (fences silent brokers, elects leaders from the ISR only, commits
AlterPartition by leader and partition epoch, bumps the leader epoch when a broker restarts),
idempotent acks=all producers (one batch in flight, or a pipeline of five), the fault schedule
(crashes that lose unflushed writes, pauses, cut links, on top of the lossy network of
``replication_model``), the named invariants checked after every tick, and ``run(seed)``:
chaos, healing, convergence. Brokers are ``replication_broker.Broker``: shells around
``LeaderState`` / ``FollowerState`` / ``ProducerStateTable`` and their fetchers'
``FetchBatcher``.  Beside the data invariants, a named liveness one: once the network is
healthy no follower fetch is lost (its own timeout never fires).

Must never: make a replication decision itself; the cores decide, the world only delivers.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from zafka.core.errors import ErrorCode
from zafka.core.replication_types import AlterPartitionProposal

from tests.sim.replication_broker import FOLLOWER_FETCH_TIMEOUT_TICKS, Broker
from tests.sim.replication_model import (
    BROKERS,
    CONTROLLER,
    PRODUCE_TIMEOUT_TICKS,
    SESSION_TIMEOUT_TICKS,
    MemoryLog,
    Msg,
    Network,
    PartitionState,
    Record,
)

__all__ = ["MemoryLog", "Record", "World", "run"]


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
        targets: list[int | str] = [*BROKERS, *self.world.producers]
        for target in targets:
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

    @property
    def idle(self) -> bool:
        return self.batch is None

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


@dataclasses.dataclass(eq=False)
class SimBatch:
    """One batch of a pipelined producer: its values, sequence and current attempt."""

    values: list[str]
    sequence: int
    request_id: int = 0
    in_flight: bool = False
    done: bool = False
    sent_at: int = 0
    retry_at: int = 0
    sent_oldest: bool = False  # the attempt left with no earlier batch unfinished


class PipelinedProducer:
    """An idempotent acks=all producer with up to ``IN_FLIGHT_MAX`` batches in flight, kept in
    order by the client's rules (``client.accumulator`` / ``client.producer_actor``): the
    batches in flight are a prefix of the queue; a batch leaves only when none after it is in
    flight, so a failed batch is resent once the later ones came back, oldest first; an
    ``OutOfOrderSequence`` behind an unfinished batch is retried; a batch acknowledged before
    an older one holds its place until the older one is, and a batch leaves only within
    ``IN_FLIGHT_MAX`` places of the oldest unacknowledged one (the leader's dedup window).
    Every attempt has its own request id.  Nothing is ever given up, so the oldest batch
    never meets a sequence gap."""

    IN_FLIGHT_MAX = 5
    QUEUE_MAX = 8

    def __init__(self, world: World, name: str, producer_id: int) -> None:
        self.world, self.name, self.producer_id = world, name, producer_id
        self.leader = 1
        self.queue: list[SimBatch] = []
        self.next_sequence = 0
        self.next_value = 0
        self.request_ids = 0
        self.enabled = True
        self.most_in_flight = 0

    @property
    def idle(self) -> bool:
        return not self.queue

    def on_message(self, msg: Msg) -> None:
        if msg.kind == "metadata":
            self.leader = msg.body["state"].leader
            return
        if msg.kind != "produce_reply":
            return
        batch = next((b for b in self.queue if b.in_flight and not b.done
                      and b.request_id == msg.body["request_id"]), None)
        if batch is None:
            return  # a duplicated or late reply
        error = msg.body["error"]
        assert error != ErrorCode.INVALID_PRODUCER_EPOCH, f"{self.name}: {error!r}"
        # A gap reported for an attempt sent while an earlier batch was unfinished is that
        # batch's: this network may deliver its answer after the earlier batch's
        # acknowledgement (one connection's answers arrive in order; these need not).
        assert error != ErrorCode.OUT_OF_ORDER_SEQUENCE or not batch.sent_oldest, (
            f"{self.name}: sequence gap before its oldest batch {batch.sequence}")
        if error == ErrorCode.NONE:
            self.world.on_acked(self.producer_id, batch.sequence, batch.values,
                                msg.body["base_offset"])
            batch.done, batch.in_flight = True, False
            while self.queue and self.queue[0].done:
                self.queue.pop(0)
        else:
            batch.in_flight = False
            batch.retry_at = self.world.now + 3

    def tick(self) -> None:
        now = self.world.now
        if self.enabled and len(self.queue) < self.QUEUE_MAX and self.world.rng.random() < 0.5:
            count = self.world.rng.randint(1, 3)
            self.queue.append(SimBatch(
                [f"{self.name}-{self.next_value + i}" for i in range(count)],
                self.next_sequence))
            self.next_value += count
            self.next_sequence += count
        for batch in self.queue:
            if batch.in_flight and now - batch.sent_at >= PRODUCE_TIMEOUT_TICKS + 5:
                batch.in_flight = False  # unanswered: resend (the leader deduplicates)
        while self.leader != -1 and self.send_next(now):
            pass

    def send_next(self, now: int) -> bool:
        for index, batch in enumerate(self.queue):  # noqa: B007 (finds index and batch)
            if not batch.in_flight and not batch.done:
                break
        else:
            return False
        if index >= self.IN_FLIGHT_MAX or batch.retry_at > now or any(
                later.in_flight for later in self.queue[index + 1:]):
            return False
        self.request_ids += 1
        batch.request_id, batch.in_flight, batch.sent_at = self.request_ids, True, now
        batch.sent_oldest = index == 0
        self.most_in_flight = max(self.most_in_flight, index + 1)
        self.world.send(self.name, self.leader, "produce", request_id=batch.request_id,
                        producer_id=self.producer_id, producer_epoch=0,
                        sequence=batch.sequence, values=tuple(batch.values))
        return True


class World:
    """The whole simulation: network, controller, brokers, producers and the checks."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.now = 0
        self.network = Network(random.Random(seed * 7919 + 1))
        self.producers: dict[str, Producer | PipelinedProducer] = {
            "p1": Producer(self, "p1", 1000), "p2": Producer(self, "p2", 1001),
            "p3": PipelinedProducer(self, "p3", 1002)}
        self.committed_states: list[PartitionState] = []
        self.controller = Controller(self)
        self.brokers = {b: Broker(self, b) for b in BROKERS}
        self.acked: dict[int, tuple[str, int, int]] = {}  # offset -> (value, pid, base seq)
        self.acked_count = 0
        self.healed_at: int | None = None
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
        for broker in self.brokers.values():
            broker.log.verified = min(broker.log.verified, base_offset)
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
                self.network.deliver_at(broker.paused_until, msg)
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
        self.healed_at = self.now
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
        self.check_no_lost_want()

    def check_no_lost_want(self) -> None:
        """On a healthy network every follower fetch is answered through its broker's
        fetcher: the follower's own timeout (the safety net) never fires once the requests
        lost before healing have timed out."""
        if self.healed_at is None:
            return
        settled = self.healed_at + FOLLOWER_FETCH_TIMEOUT_TICKS + 10
        for broker in self.brokers.values():
            late = [t for t in broker.fetch_timeouts if t > settled]
            assert not late, (f"lost want: broker {broker.id}'s follower fetch timed out at "
                              f"tick {late[0]} on a healthy network (healed at "
                              f"{self.healed_at})")

    def check_acknowledged_records_kept(self) -> None:
        """No acks=all-acknowledged record is lost: every ISR member and the current leader
        hold it at its offset (a crashed replica's flushed log counts)."""
        state = self.controller.state
        holders = set(state.isr) | ({state.leader} if state.leader != -1 else set())
        end = max(self.acked, default=-1) + 1
        for broker_id in holders:
            log = self.brokers[broker_id].log
            assert end <= log.log_end_offset, (
                f"acknowledged records up to {end} missing on ISR member {broker_id}")
            for offset in range(log.verified, end):
                acked = self.acked.get(offset)
                assert acked is None or log.records[offset].value == acked[0], (
                    f"acknowledged {acked[0]}@{offset} replaced on ISR member {broker_id}")
            log.verified = end

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

    def check_exactly_once(self) -> None:
        """Idempotent retries never duplicate a record, and each producer's records are in
        its send order."""
        values = [r.value for r in self.brokers[BROKERS[0]].log.records]
        assert len(values) == len(set(values)), "a retried batch was appended twice"
        for name in self.producers:
            sent = [int(v.split("-")[1]) for v in values if v.startswith(f"{name}-")]
            assert sent == list(range(len(sent))), f"{name}'s records out of order or lost"


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
        if world.converged() and all(p.idle for p in world.producers.values()):
            world.check_exactly_once()
            return world
    raise AssertionError("replicas did not converge after healing")
