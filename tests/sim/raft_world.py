"""A deterministic world for raft: real ``RaftNode``s over a seeded, faulty in-memory network.

Everything random comes from one ``random.Random(seed)``: message loss, duplication, delay
(and so reordering), symmetric and one-way partitions, paused nodes, crashes that lose
unflushed writes (``MemoryRaftStore.stage`` + ``crash``) and restarts from the store.  Each
node runs the effects of its ``Ready`` in the contract's order: persist -> send -> apply ->
advance.  ``RaftChecker`` asserts the paper's safety properties after every step.
"""

from __future__ import annotations

import dataclasses
import heapq
import pickle
import random
from typing import Any

from zafka.core.config import Tunables
from zafka.core.messages import AppendEntries, InstallSnapshot
from zafka.core.raft import RaftNode
from zafka.core.raft_types import NotLeader, RaftMessage, Ready, Role
from zafka.storage.raft_store import MemoryRaftStore

SIM_TUNABLES = Tunables(election_ticks=10, heartbeat_ticks=2, raft_max_entries_per_append=2,
                        raft_max_inflight_appends=4).validate()


@dataclasses.dataclass
class Faults:
    """The network's behaviour; ``heal()`` keeps delay (reordering) but nothing else."""

    loss: float = 0.0
    duplication: float = 0.0
    max_delay_ticks: int = 1
    blocked: set[tuple[int, int]] = dataclasses.field(default_factory=set)  # (from, to)

    def heal(self) -> None:
        self.loss = self.duplication = 0.0
        self.blocked.clear()


class SimNode:
    """One coordinator: its store survives crashes; the raft node and the state do not."""

    def __init__(self, node_id: int) -> None:
        self.node_id = node_id
        self.store = MemoryRaftStore()
        self.raft: RaftNode | None = None
        self.applied: list[Any] = []  # the state machine: command at index i is applied[i-1]
        self.paused_until = 0

    @property
    def up(self) -> bool:
        return self.raft is not None


class RaftChecker:
    """Election Safety, Log Matching, Leader Completeness, State Machine Safety (Fig. 3)."""

    def __init__(self) -> None:
        self.leaders: dict[int, int] = {}  # term -> leader id
        self.committed: dict[int, tuple[int, Any]] = {}  # index -> (term, command)
        self.committed_in: dict[int, int] = {}  # index -> term in which it was seen committed
        self.entries: dict[tuple[int, int], tuple[Any, int]] = {}  # (index, term) -> (cmd, prev)
        self.checked_commit: dict[int, int] = {}
        self.leader_seen: set[tuple[int, int]] = set()

    @property
    def max_committed(self) -> int:
        return max(self.committed, default=0)

    def on_entries(self, raft: RaftNode, ready: Ready) -> None:
        """Log Matching: an (index, term) pair always holds the same command and follows the
        same previous term, so two logs agreeing on one entry agree on all before it."""
        for entry in ready.entries:
            prev = raft.log.term_at(entry.index - 1)
            assert prev is not None
            known = self.entries.setdefault((entry.index, entry.term), (entry.command, prev))
            assert known == (entry.command, prev), ("Log Matching", entry, known, prev)

    def on_message(self, msg: RaftMessage) -> None:
        """Election Safety, seen on the wire: only one node sends appends in a term."""
        if isinstance(msg, AppendEntries | InstallSnapshot):
            leader = self.leaders.setdefault(msg.term, msg.from_id)
            assert leader == msg.from_id, ("Election Safety", msg.term, leader, msg.from_id)

    def on_step(self, node: SimNode) -> None:
        raft = node.raft
        assert raft is not None
        raft.invariants()
        if raft.role is Role.LEADER:
            leader = self.leaders.setdefault(raft.term, raft.node_id)
            assert leader == raft.node_id, ("Election Safety", raft.term, leader, raft.node_id)
            if (raft.term, raft.node_id) not in self.leader_seen:
                self.leader_seen.add((raft.term, raft.node_id))
                self.check_leader_completeness(raft)
        self.check_commit(raft)

    def check_leader_completeness(self, raft: RaftNode) -> None:
        """§5.4: a leader's log holds every entry committed in earlier terms.

        An entry counts as committed in the term of the first node seen holding it committed
        (no earlier than the true one, so the check never blames a leader wrongly)."""
        for index, (term, _command) in self.committed.items():
            if index > raft.log.snapshot_index and self.committed_in[index] < raft.term:
                assert raft.log.term_at(index) == term, ("Leader Completeness", index, term)

    def check_commit(self, raft: RaftNode) -> None:
        """A committed entry never changes: every node's committed prefix agrees."""
        start = max(self.checked_commit.get(raft.node_id, 0), raft.log.snapshot_index)
        for index in range(start + 1, raft.commit_index + 1):
            entry = raft.log.entry(index)
            known = self.committed.setdefault(index, (entry.term, entry.command))
            self.committed_in.setdefault(index, raft.term)
            assert known == (entry.term, entry.command), ("committed entry changed", index)
        self.checked_commit[raft.node_id] = raft.commit_index

    def forget_commit(self, node_id: int) -> None:
        self.checked_commit.pop(node_id, None)

    def on_apply(self, node: SimNode, index: int, command: Any) -> None:
        """State Machine Safety: every node applies the same command at the same index."""
        assert index == len(node.applied) + 1, ("applied out of order", index, len(node.applied))
        assert self.committed[index][1] == command, ("State Machine Safety", index)
        node.applied.append(command)

    def on_snapshot(self, node: SimNode, index: int, applied: list[Any]) -> None:
        assert len(applied) == index
        for i, command in enumerate(applied, start=1):
            if i in self.committed:
                assert self.committed[i][1] == command, ("snapshot differs", i)
        node.applied = applied


class RaftWorld:
    """``nodes`` coordinators driven one tick at a time; ``run_chaos`` / ``run_healed``."""

    def __init__(self, seed: int, nodes: int, tunables: Tunables = SIM_TUNABLES) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.tunables = tunables
        self.voters = tuple(range(1, nodes + 1))
        self.nodes = {i: SimNode(i) for i in self.voters}
        self.faults = Faults()
        self.now = 0
        self._queue: list[tuple[int, int, RaftMessage]] = []
        self._sequence = 0
        self._next_command = 0
        self.checker = RaftChecker()
        self.pending_reads: dict[int, int] = {}  # read ctx -> commit index it must reach
        self.reads_served = 0
        for node_id in self.voters:
            self.start(node_id)

    # ------------------------------------------------------------------ nodes
    def start(self, node_id: int) -> None:
        node = self.nodes[node_id]
        assert node.raft is None
        node.applied = []
        node.raft = RaftNode(node_id, self.voters, node.store.load(), self.tunables,
                             random.Random(self.rng.getrandbits(32)))
        self.checker.forget_commit(node_id)
        self.checker.on_step(node)

    def crash(self, node_id: int, mid_persist: bool) -> None:
        """Stop a node; with ``mid_persist`` it dies inside its next persist step."""
        node = self.nodes[node_id]
        assert node.raft is not None
        if mid_persist and node.raft.has_ready():
            node.store.stage(node.raft.ready())
        node.store.crash(self.rng)
        node.raft = None

    def leaders(self) -> list[RaftNode]:
        return [n.raft for n in self.nodes.values()
                if n.raft is not None and n.raft.role is Role.LEADER]

    def propose(self, command: Any = None) -> int | None:
        """Propose at the live leader with the highest term, if any (None: no leader)."""
        leaders = sorted(self.leaders(), key=lambda r: r.term)
        if not leaders:
            return None
        if command is None:
            self._next_command += 1
            command = self._next_command
        return leaders[-1].propose(command)

    def read(self) -> None:
        leaders = self.leaders()
        if leaders:
            ctx = self._sequence
            self._sequence += 1
            self.rng.choice(leaders).read_index(ctx)
            self.pending_reads[ctx] = self.checker.max_committed

    # ------------------------------------------------------------------ time
    def step(self) -> None:
        """One tick: tick every running node, deliver due messages, run every Ready, check."""
        self.now += 1
        running = [n for n in self.nodes.values() if n.up and n.paused_until <= self.now]
        for node in running:
            assert node.raft is not None
            node.raft.tick()
        self._deliver()
        for node in running:
            assert node.raft is not None
            if node.raft.has_ready():
                self._handle_ready(node, node.raft)
            self.checker.on_step(node)

    def _deliver(self) -> None:
        due: list[RaftMessage] = []
        while self._queue and self._queue[0][0] <= self.now:
            due.append(heapq.heappop(self._queue)[2])
        self.rng.shuffle(due)
        for msg in due:
            node = self.nodes[msg.to_id]
            if node.raft is None:
                continue  # lost with the process
            if node.paused_until > self.now:
                self._enqueue(node.paused_until, msg)  # waits in the paused process's socket
                continue
            node.raft.step(msg)

    def send(self, msg: RaftMessage) -> None:
        faults = self.faults
        if (msg.from_id, msg.to_id) in faults.blocked or self.rng.random() < faults.loss:
            return
        copies = 2 if self.rng.random() < faults.duplication else 1
        for _ in range(copies):
            self._enqueue(self.now + self.rng.randint(1, faults.max_delay_ticks), msg)

    def _enqueue(self, at: int, msg: RaftMessage) -> None:
        self._sequence += 1
        heapq.heappush(self._queue, (at, self._sequence, msg))

    def _handle_ready(self, node: SimNode, raft: RaftNode) -> None:
        ready = raft.ready()
        self.checker.on_entries(raft, ready)
        node.store.persist(ready)
        for msg in ready.messages:
            self.checker.on_message(msg)
            self.send(msg)
        if ready.apply_snapshot is not None:
            applied = list(pickle.loads(ready.apply_snapshot.data))
            self.checker.on_snapshot(node, ready.apply_snapshot.meta.index, applied)
        self.checker.check_commit(raft)
        for entry in ready.committed_entries:
            self.checker.on_apply(node, entry.index, entry.command)
        for read in ready.reads:
            required = self.pending_reads.pop(read.ctx)
            assert read.index >= required, ("§6.4 stale read", read, required)
            assert read.index <= len(node.applied)
            self.reads_served += 1
        for ctx in ready.dropped_reads:
            self.pending_reads.pop(ctx)
        raft.advance(ready)

    # ------------------------------------------------------------------ phases
    def chaos_event(self) -> None:
        """At most a few random faults or client actions per tick."""
        rng, nodes = self.rng, list(self.nodes.values())
        roll = rng.random()
        if roll < 0.02:
            up = [n for n in nodes if n.up]
            if up:
                self.crash(rng.choice(up).node_id, mid_persist=rng.random() < 0.5)
        elif roll < 0.035:
            self.partition()
        elif roll < 0.05:
            self.faults.blocked.clear()
        elif roll < 0.055:
            rng.choice(nodes).paused_until = self.now + rng.randint(5, 60)
        for node in nodes:
            if not node.up and rng.random() < 0.05:
                self.start(node.node_id)
        self.client_actions()

    def client_actions(self) -> None:
        rng = self.rng
        if rng.random() < 0.3:
            self.propose()
        if rng.random() < 0.05:
            self.read()
        if rng.random() < 0.03:
            self.propose_at_follower()
        for node in self.nodes.values():
            raft = node.raft
            if raft is not None and rng.random() < 0.02 and raft.applied_index > 0:
                index = raft.applied_index
                raft.compact(index, pickle.dumps(tuple(node.applied[:index]), protocol=5))

    def propose_at_follower(self) -> None:
        """A non-leader refuses a proposal and names the leader it knows."""
        followers = [n.raft for n in self.nodes.values()
                     if n.raft is not None and n.raft.role is not Role.LEADER]
        if followers:
            raft = self.rng.choice(followers)
            try:
                raft.propose("refused")
            except NotLeader as error:
                assert error.leader_id == raft.leader_id
            else:
                raise AssertionError("a follower accepted a proposal")

    def partition(self) -> None:
        """A random symmetric split, isolated node, or one-way cut."""
        rng, voters = self.rng, list(self.voters)
        kind = rng.choice(("split", "isolate", "one-way"))
        if kind == "one-way":
            a, b = rng.sample(voters, 2)
            self.faults.blocked.add((a, b))
            return
        rng.shuffle(voters)
        size = 1 if kind == "isolate" else rng.randint(1, len(voters) // 2)
        minority = set(voters[:size])
        for a in self.voters:
            for b in self.voters:
                if (a in minority) != (b in minority):
                    self.faults.blocked.add((a, b))

    def run_chaos(self, ticks: int) -> None:
        rng = self.rng
        self.faults.loss = rng.choice((0.0, 0.02, 0.1))
        self.faults.duplication = rng.choice((0.0, 0.05))
        self.faults.max_delay_ticks = rng.choice((1, 2, 4))
        for _ in range(ticks):
            self.chaos_event()
            self.step()

    def heal(self) -> None:
        self.faults.heal()
        for node in self.nodes.values():
            node.paused_until = 0
            if not node.up:
                self.start(node.node_id)

    def run_healed(self, max_ticks: int) -> int:
        """Liveness: a leader is elected and a new command commits on every node.

        Returns the ticks it took; fails if it takes more than ``max_ticks``.
        """
        marker = ("healed", self.seed)
        proposed_in: set[tuple[int, int]] = set()
        for elapsed in range(1, max_ticks + 1):
            for leader in self.leaders():
                if (leader.node_id, leader.term) not in proposed_in:
                    proposed_in.add((leader.node_id, leader.term))
                    leader.propose(marker)
            self.step()
            if all(marker in node.applied for node in self.nodes.values()):
                return elapsed
        raise AssertionError(f"no progress within {max_ticks} ticks after healing")

    def check_logs_match(self) -> None:
        """Log Matching over whole logs: equal (index, term) => equal prefixes."""
        rafts = [n.raft for n in self.nodes.values() if n.raft is not None]
        for a in rafts:
            for b in rafts:
                low = max(a.log.snapshot_index, b.log.snapshot_index) + 1
                high = min(a.log.last_index, b.log.last_index)
                agreed = [i for i in range(low, high + 1) if a.log.term_at(i) == b.log.term_at(i)]
                if agreed:
                    top = agreed[-1]
                    assert a.log.slice(low, top + 1) == b.log.slice(low, top + 1), (
                        "Log Matching", a.node_id, b.node_id, top)
