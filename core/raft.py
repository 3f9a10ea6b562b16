"""Raft consensus for the coordinators, as a sans-IO state machine (etcd-io/raft's RawNode).

Owns: one member's role, term, vote, log, commit and applied indexes, the leader's per-peer
replication progress and pending read-index reads.  Driven by ``tick()``, ``step(msg)``,
``propose(command)``, ``read_index(ctx)`` and ``compact(index, data)``; hands back effects as
a ``Ready`` (persist -> send -> apply -> advance, see ``core.raft_types.Ready``).

Design choices:
- PreVote (§9.6) and CheckQuorum: a member that heard from a leader within ``election_ticks``
  ignores vote requests for a higher term, and a leader that has not heard from a majority
  within ``election_ticks`` steps down; a partitioned or paused member cannot depose a healthy
  leader when it returns, and a leader cut off from the majority stops acting as controller.
- Linearizable reads use the read index (§6.4), not a lease: the leader records its commit
  index (once an entry of its own term is committed), confirms leadership with a round of
  AppendEntries whose ``read_seq`` a majority echoes, and hands the read out in a ``Ready``
  whose applied index reaches it.  No clock assumption is needed.
- The leader counts its own log towards commit only up to what it has persisted (advance).
- No membership changes and no leadership transfer: ``voters`` is fixed.

Must never: do I/O, read a clock, use module-level randomness, or interpret commands.
"""

from __future__ import annotations

import dataclasses
import random
from collections import deque
from collections.abc import Sequence
from typing import Any

from core.config import Tunables
from core.messages import (
    AppendEntries,
    AppendEntriesResponse,
    InstallSnapshot,
    InstallSnapshotResponse,
    RaftEntry,
    RequestVote,
    RequestVoteResponse,
    SnapshotMeta,
)
from core.raft_log import RaftLog
from core.raft_progress import Progress, quorum_index
from core.raft_types import (
    HardState,
    NotLeader,
    PersistentState,
    RaftMessage,
    ReadState,
    Ready,
    Role,
    Snapshot,
)


@dataclasses.dataclass(slots=True)
class _PendingRead:
    ctx: Any
    seq: int
    index: int | None  # None until an entry of the leader's term is committed


class RaftNode:
    """One raft member.  Not thread-safe: one owner drives it."""

    def __init__(self, node_id: int, voters: Sequence[int], state: PersistentState,
                 tunables: Tunables, rng: random.Random) -> None:
        assert node_id in voters and len(set(voters)) == len(voters), (node_id, voters)
        self.node_id = node_id
        self.voters = tuple(sorted(voters))
        self._tunables = tunables
        self._rng = rng
        snapshot = state.snapshot
        meta = snapshot.meta if snapshot else SnapshotMeta(index=0, term=0)
        self._log = RaftLog(meta.index, meta.term, state.entries)
        self._snapshot = snapshot
        hard = state.hard_state
        assert meta.index <= hard.commit or hard.commit == 0, (hard, meta)
        assert hard.commit <= self._log.last_index, (hard, self._log.last_index)
        self._term, self._voted_for = hard.term, hard.voted_for
        self._commit = max(hard.commit, meta.index)
        self._applied = meta.index
        self._role = Role.FOLLOWER
        self._leader_id: int | None = None
        self._votes: dict[int, bool] = {}
        self._progress: dict[int, Progress] = {}
        self._election_elapsed = 0
        self._heartbeat_elapsed = 0
        self._randomized_timeout = tunables.election_ticks
        # durability bookkeeping (see ready/advance)
        self._prev_hard = HardState(term=self._term, voted_for=self._voted_for,
                                    commit=self._commit)
        self._stable_last = self._log.last_index
        self._unstable_from: int | None = None
        self._truncate_from: int | None = None
        self._snapshot_to_persist: Snapshot | None = None
        self._snapshot_to_apply: Snapshot | None = snapshot
        self._messages: list[RaftMessage] = []
        self._outstanding: Ready | None = None
        # read index
        self._read_seq = 0
        self._pending_reads: deque[_PendingRead] = deque()
        self._read_states: deque[ReadState] = deque()
        self._dropped_reads: list[Any] = []
        self.become_follower(self._term, None)

    # ----------------------------------------------------------------------- properties
    @property
    def term(self) -> int:
        return self._term

    @property
    def role(self) -> Role:
        return self._role

    @property
    def leader_id(self) -> int | None:
        return self._leader_id

    @property
    def commit_index(self) -> int:
        return self._commit

    @property
    def applied_index(self) -> int:
        return self._applied

    @property
    def voted_for(self) -> int | None:
        return self._voted_for

    @property
    def log(self) -> RaftLog:
        """The in-memory log (read-only for callers)."""
        return self._log

    @property
    def _quorum(self) -> int:
        return len(self.voters) // 2 + 1

    @property
    def _peers(self) -> tuple[int, ...]:
        return tuple(v for v in self.voters if v != self.node_id)

    # ------------------------------------------------------------------------ inputs
    def tick(self) -> None:
        """One logical tick: election timer for non-leaders, heartbeats/CheckQuorum for leaders."""
        if self._role is Role.LEADER:
            self._tick_leader()
            return
        self._election_elapsed += 1
        if self._election_elapsed >= self._randomized_timeout:
            self.campaign()

    def propose(self, command: Any) -> int:
        """Append ``command`` to the leader's log; the index it will commit at, if it does.

        The command committed at that index is this one iff its entry's term equals the
        ``term`` at the time of the call.  Raises ``NotLeader`` (a ``NotController``) on a
        non-leader, naming the leader it knows.
        """
        if self._role is not Role.LEADER:
            raise NotLeader(self._leader_id)
        index = self._append_local(command)
        for peer in self._peers:
            self._maybe_send_append(peer)
        return index

    def read_index(self, ctx: Any) -> None:
        """Start a linearizable read; ``ctx`` comes back in ``Ready.reads`` (or dropped_reads).

        Raises ``NotLeader`` on a non-leader.
        """
        if self._role is not Role.LEADER:
            raise NotLeader(self._leader_id)
        self._read_seq += 1
        index = self._commit if self._committed_in_term() else None
        self._pending_reads.append(_PendingRead(ctx, self._read_seq, index))
        for peer in self._peers:
            self._send_append(peer)
        self._confirm_reads()

    def compact(self, index: int, data: bytes) -> None:
        """The application's snapshot ``data`` covers entries up to applied ``index``.

        The log prefix up to ``index`` is dropped; the next Ready persists the snapshot.
        A no-op when the current snapshot already covers ``index``.
        """
        assert index <= self._applied, (index, self._applied)
        if index <= self._log.snapshot_index:
            return
        self._log.compact(index)
        self._snapshot = Snapshot(meta=SnapshotMeta(index=index, term=self._log.snapshot_term),
                                  data=data)
        self._snapshot_to_persist = self._snapshot

    def step(self, msg: RaftMessage) -> None:
        """Handle one message from a peer (§5.1: terms first, then the message itself)."""
        assert msg.to_id == self.node_id and msg.from_id in self.voters, msg
        if msg.term > self._term:
            if isinstance(msg, RequestVote):
                if self._in_lease():
                    return  # CheckQuorum: a live leader exists; do not let this one disrupt
                if not msg.pre_vote:
                    self.become_follower(msg.term, None)
            elif not (isinstance(msg, RequestVoteResponse) and msg.pre_vote and msg.granted):
                leader = msg.from_id if isinstance(msg, AppendEntries | InstallSnapshot) else None
                self.become_follower(msg.term, leader)
        elif msg.term < self._term:
            self._on_stale_term(msg)
            return
        if isinstance(msg, AppendEntries):
            self.on_append_entries(msg)
        elif isinstance(msg, AppendEntriesResponse):
            self.on_append_entries_response(msg)
        elif isinstance(msg, RequestVote):
            self.on_request_vote(msg)
        elif isinstance(msg, RequestVoteResponse):
            self.on_request_vote_response(msg)
        elif isinstance(msg, InstallSnapshot):
            self.on_install_snapshot(msg)
        else:
            self.on_install_snapshot_response(msg)

    # ------------------------------------------------------------------------ elections
    def campaign(self) -> None:
        """Election timeout: start a pre-vote round (§9.6) that may lead to an election."""
        self._role = Role.PRE_CANDIDATE
        self._leader_id = None
        self._reset_timers()
        self._votes = {self.node_id: True}
        self._request_votes(pre_vote=True)
        self._tally_votes()

    def become_candidate(self) -> None:
        """§5.2: increment the term, vote for self, request votes from everyone else."""
        self._term += 1
        self._voted_for = self.node_id
        self._role = Role.CANDIDATE
        self._leader_id = None
        self._reset_timers()
        self._votes = {self.node_id: True}
        self._request_votes(pre_vote=False)
        self._tally_votes()

    def become_leader(self) -> None:
        """Won the election: set up progress and append the term's no-op (§5.4.2, §8)."""
        assert self._role is Role.CANDIDATE and self._voted_for == self.node_id
        self._role = Role.LEADER
        self._leader_id = self.node_id
        self._reset_timers()
        next_index = self._log.last_index + 1
        self._progress = {peer: Progress(next=next_index) for peer in self._peers}
        self._append_local(None)
        for peer in self._peers:
            self._send_append(peer)
        self._maybe_commit()

    def become_follower(self, term: int, leader_id: int | None) -> None:
        """Follow ``leader_id`` (or nobody yet) in ``term``; a new term clears the vote."""
        assert term >= self._term, (term, self._term)
        if term > self._term:
            self._term, self._voted_for = term, None
        self._role = Role.FOLLOWER
        self._leader_id = leader_id
        self._progress = {}
        self._votes = {}
        self._reset_timers()
        self._dropped_reads.extend(read.ctx for read in self._pending_reads)
        self._pending_reads.clear()

    def _request_votes(self, pre_vote: bool) -> None:
        term = self._term + 1 if pre_vote else self._term
        for peer in self._peers:
            self._send(RequestVote(from_id=self.node_id, to_id=peer, term=term,
                                   last_log_index=self._log.last_index,
                                   last_log_term=self._log.last_term, pre_vote=pre_vote))

    def _tally_votes(self) -> None:
        granted = sum(self._votes.values())
        refused = len(self._votes) - granted
        if granted >= self._quorum:
            if self._role is Role.PRE_CANDIDATE:
                self.become_candidate()
            else:
                self.become_leader()
        elif refused >= self._quorum:
            self.become_follower(self._term, None)

    def on_request_vote(self, msg: RequestVote) -> None:
        """§5.2 one vote per term, §5.4.1 election restriction, §9.6 pre-vote."""
        can_vote = (self._voted_for == msg.from_id
                    or (self._voted_for is None and self._leader_id is None)
                    or (msg.pre_vote and msg.term > self._term))
        granted = can_vote and self._log.is_up_to_date(msg.last_log_index, msg.last_log_term)
        if granted and not msg.pre_vote:
            self._voted_for = msg.from_id
            self._election_elapsed = 0
        term = msg.term if granted and msg.pre_vote else self._term
        self._send(RequestVoteResponse(from_id=self.node_id, to_id=msg.from_id, term=term,
                                       granted=granted, pre_vote=msg.pre_vote))

    def on_request_vote_response(self, msg: RequestVoteResponse) -> None:
        if msg.pre_vote:
            if self._role is not Role.PRE_CANDIDATE:
                return
            if msg.granted and msg.term != self._term + 1:
                return  # a grant from an earlier pre-vote round
        elif self._role is not Role.CANDIDATE:
            return
        self._votes[msg.from_id] = msg.granted
        self._tally_votes()

    def _in_lease(self) -> bool:
        """Heard from a live leader (or am one) within the minimum election timeout."""
        return (self._leader_id is not None
                and self._election_elapsed < self._tunables.election_ticks)

    def _on_stale_term(self, msg: RaftMessage) -> None:
        """§5.1: refuse a message from an older term, telling the sender the current term."""
        if isinstance(msg, AppendEntries):
            self._send(AppendEntriesResponse(from_id=self.node_id, to_id=msg.from_id,
                                             term=self._term, success=False,
                                             match_index=msg.prev_log_index))
        elif isinstance(msg, InstallSnapshot):
            self._send(InstallSnapshotResponse(from_id=self.node_id, to_id=msg.from_id,
                                               term=self._term, match_index=0))
        elif isinstance(msg, RequestVote) and msg.pre_vote:
            self._send(RequestVoteResponse(from_id=self.node_id, to_id=msg.from_id,
                                           term=self._term, granted=False, pre_vote=True))

    def _reset_timers(self) -> None:
        self._election_elapsed = 0
        self._heartbeat_elapsed = 0
        election = self._tunables.election_ticks
        self._randomized_timeout = self._rng.randrange(election, 2 * election)

    # ------------------------------------------------------------------------ follower
    def _follow(self, leader_id: int) -> None:
        assert self._role is not Role.LEADER, "§5.2 election safety: two leaders in one term"
        if self._role is not Role.FOLLOWER:
            self.become_follower(self._term, leader_id)
        self._leader_id = leader_id
        self._election_elapsed = 0

    def on_append_entries(self, msg: AppendEntries) -> None:
        """§5.3: consistency check on (prev_log_index, prev_log_term), then append."""
        self._follow(msg.from_id)
        prev_index, prev_term, entries = msg.prev_log_index, msg.prev_log_term, msg.entries
        if prev_index < self._commit:  # our committed prefix matches every later leader's
            entries = tuple(e for e in entries if e.index > self._commit)
            prev_index = self._commit
            prev_term = self._log.term_at(prev_index)
        our_term = self._log.term_at(prev_index)
        if our_term != prev_term:
            self._reply_append(msg, success=False, match_index=msg.prev_log_index,
                               conflict=self._conflict_hint(prev_index, our_term))
            return
        self._append_from_leader(entries)
        last_new = prev_index + len(entries)
        if msg.leader_commit > self._commit:
            self._commit = max(self._commit, min(msg.leader_commit, last_new))
        self._reply_append(msg, success=True, match_index=last_new, conflict=(0, 0))

    def _conflict_hint(self, prev_index: int, our_term: int | None) -> tuple[int, int]:
        """(conflict_term, conflict_index) for fast back-off of the leader's next index."""
        if our_term is None:
            return 0, self._log.last_index + 1
        floor = self._commit + 1
        return our_term, self._log.first_index_of_term(prev_index, floor)

    def _append_from_leader(self, entries: tuple[RaftEntry, ...]) -> None:
        for position, entry in enumerate(entries):
            existing = self._log.term_at(entry.index)
            if existing == entry.term:
                continue  # already there (a duplicate or reordered AppendEntries)
            if existing is not None:
                assert entry.index > self._commit, "§5.3 a committed entry must never change"
                self._log.truncate_from(entry.index)
                self._note_truncation(entry.index)
            for new in entries[position:]:
                self._log.append(new)
            self._note_unstable(entry.index)
            return

    def _reply_append(self, msg: AppendEntries, success: bool, match_index: int,
                      conflict: tuple[int, int]) -> None:
        self._send(AppendEntriesResponse(
            from_id=self.node_id, to_id=msg.from_id, term=self._term, success=success,
            match_index=match_index, conflict_term=conflict[0], conflict_index=conflict[1],
            read_seq=msg.read_seq))

    def on_install_snapshot(self, msg: InstallSnapshot) -> None:
        """§7: replace the log with the leader's snapshot unless we already hold its prefix."""
        self._follow(msg.from_id)
        meta = msg.meta
        if meta.index > self._commit:
            if self._log.term_at(meta.index) == meta.term:
                self._commit = meta.index  # our log already holds the snapshot's last entry
            else:
                self._restore(Snapshot(meta=meta, data=msg.data))
        self._send(InstallSnapshotResponse(from_id=self.node_id, to_id=msg.from_id,
                                           term=self._term, match_index=self._commit,
                                           read_seq=msg.read_seq))

    def _restore(self, snapshot: Snapshot) -> None:
        meta = snapshot.meta
        self._log.reset(meta.index, meta.term)
        self._snapshot = snapshot
        self._snapshot_to_persist = snapshot
        self._snapshot_to_apply = snapshot
        self._commit = self._applied = meta.index
        self._unstable_from = None
        self._note_truncation(meta.index + 1)
        self._stable_last = min(self._stable_last, meta.index)

    # ------------------------------------------------------------------------ leader
    def _tick_leader(self) -> None:
        self._heartbeat_elapsed += 1
        self._election_elapsed += 1
        for progress in self._progress.values():
            progress.snapshot_wait = max(0, progress.snapshot_wait - 1)
        if self._election_elapsed >= self._tunables.election_ticks:
            self._election_elapsed = 0
            if not self._check_quorum():
                self.become_follower(self._term, None)
                return
        if self._heartbeat_elapsed >= self._tunables.heartbeat_ticks:
            self._heartbeat_elapsed = 0
            for peer in self._peers:
                self._progress[peer].on_heartbeat()
                self._send_append(peer)

    def _check_quorum(self) -> bool:
        """CheckQuorum: did a majority (counting self) respond during the last timeout?"""
        active = 1 + sum(p.recent_active for p in self._progress.values())
        for progress in self._progress.values():
            progress.recent_active = False
        return active >= self._quorum

    def _append_local(self, command: Any) -> int:
        entry = RaftEntry(term=self._term, index=self._log.last_index + 1, command=command)
        self._log.append(entry)
        self._note_unstable(entry.index)
        return entry.index

    def _maybe_send_append(self, peer: int) -> None:
        if self._progress[peer].may_send(self._log.last_index,
                                         self._tunables.raft_max_inflight_appends):
            self._send_append(peer)

    def _send_append(self, peer: int) -> None:
        progress = self._progress[peer]
        if progress.next <= self._log.snapshot_index:
            self._send_snapshot(peer, progress)
            return
        prev_index = progress.next - 1
        prev_term = self._log.term_at(prev_index)
        assert prev_term is not None, (peer, progress, self._log.snapshot_index)
        entries = self._log.slice(progress.next,
                                  progress.next + self._tunables.raft_max_entries_per_append)
        self._send(AppendEntries(from_id=self.node_id, to_id=peer, term=self._term,
                                 prev_log_index=prev_index, prev_log_term=prev_term,
                                 entries=entries, leader_commit=self._commit,
                                 read_seq=self._read_seq))
        progress.on_sent(entries[-1].index if entries else None)

    def _send_snapshot(self, peer: int, progress: Progress) -> None:
        if progress.snapshot_wait > 0:
            return
        assert self._snapshot is not None
        self._send(InstallSnapshot(from_id=self.node_id, to_id=peer, term=self._term,
                                   meta=self._snapshot.meta, data=self._snapshot.data,
                                   read_seq=self._read_seq))
        progress.on_snapshot_sent(max(self._tunables.heartbeat_ticks,
                                      self._tunables.election_ticks // 2))

    def on_append_entries_response(self, msg: AppendEntriesResponse) -> None:
        if self._role is not Role.LEADER:
            return
        progress = self._progress[msg.from_id]
        progress.on_response(msg.read_seq)
        if msg.success:
            if progress.on_match(msg.match_index):
                self._maybe_commit()
            self._maybe_send_append(msg.from_id)
        elif progress.is_current_refusal(msg.match_index):
            progress.back_off(self._next_after_refusal(msg), msg.match_index,
                              self._log.last_index)
            self._send_append(msg.from_id)
        self._confirm_reads()

    def _next_after_refusal(self, msg: AppendEntriesResponse) -> int:
        """Fast back-off: skip the follower's whole conflicting term in one round trip."""
        if msg.conflict_term > 0:
            last_of_term = self._log.last_index_of_term(msg.conflict_term)
            if last_of_term is not None:
                return last_of_term + 1
        return msg.conflict_index

    def on_install_snapshot_response(self, msg: InstallSnapshotResponse) -> None:
        if self._role is not Role.LEADER:
            return
        progress = self._progress[msg.from_id]
        progress.on_response(msg.read_seq)
        if progress.on_match(msg.match_index):
            self._maybe_commit()
        self._maybe_send_append(msg.from_id)
        self._confirm_reads()

    def _maybe_commit(self) -> None:
        """§5.3/§5.4.2: commit the majority-replicated index if its entry is of this term."""
        matches = [p.match for p in self._progress.values()]
        matches.append(min(self._stable_last, self._log.last_index))
        index = quorum_index(matches, self._quorum)
        if index > self._commit and self._log.term_at(index) == self._term:
            self._commit = index
            for read in self._pending_reads:
                if read.index is None:
                    read.index = index
            self._confirm_reads()

    def _committed_in_term(self) -> bool:
        return self._log.term_at(self._commit) == self._term

    def _confirm_reads(self) -> None:
        """§6.4: reads whose heartbeat round a majority acknowledged become ReadStates."""
        if self._role is not Role.LEADER:
            return
        acked = [p.read_seq for p in self._progress.values()] + [self._read_seq]
        confirmed_seq = quorum_index(acked, self._quorum)
        while self._pending_reads:
            read = self._pending_reads[0]
            if read.seq > confirmed_seq or read.index is None:
                return
            self._pending_reads.popleft()
            self._read_states.append(ReadState(ctx=read.ctx, index=read.index))

    # ------------------------------------------------------------------------ ready
    def _send(self, msg: RaftMessage) -> None:
        self._messages.append(msg)

    def _note_unstable(self, index: int) -> None:
        if self._unstable_from is None or index < self._unstable_from:
            self._unstable_from = index

    def _note_truncation(self, index: int) -> None:
        if self._truncate_from is None or index < self._truncate_from:
            self._truncate_from = index
        self._stable_last = min(self._stable_last, index - 1)

    def _hard_state(self) -> HardState:
        return HardState(term=self._term, voted_for=self._voted_for, commit=self._commit)

    def _servable_reads(self, applied: int) -> tuple[ReadState, ...]:
        served: list[ReadState] = []
        while self._read_states and self._read_states[0].index <= applied:
            served.append(self._read_states.popleft())
        return tuple(served)

    def has_ready(self) -> bool:
        """True if ``ready()`` has effects to carry out (always False while one is out)."""
        if self._outstanding is not None:
            return False
        return bool(self._messages or self._unstable_from is not None
                    or self._truncate_from is not None or self._snapshot_to_persist
                    or self._snapshot_to_apply or self._dropped_reads
                    or self._hard_state() != self._prev_hard or self._commit > self._applied
                    or (self._read_states and self._read_states[0].index <= self._applied))

    def ready(self) -> Ready:
        """Take the pending effects; carry them out in order, then call ``advance``."""
        assert self._outstanding is None, "advance() the previous Ready first"
        hard = self._hard_state()
        entries = (self._log.slice(self._unstable_from, self._log.last_index + 1)
                   if self._unstable_from is not None else ())
        committed = (self._log.slice(self._applied + 1, self._commit + 1)
                     if self._commit > self._applied else ())
        ready = Ready(
            hard_state=hard if hard != self._prev_hard else None,
            snapshot=self._snapshot_to_persist, truncate_from=self._truncate_from,
            entries=entries, messages=tuple(self._messages),
            apply_snapshot=self._snapshot_to_apply, committed_entries=committed,
            reads=self._servable_reads(committed[-1].index if committed else self._applied),
            dropped_reads=tuple(self._dropped_reads))
        self._prev_hard = hard
        self._unstable_from = self._truncate_from = None
        self._snapshot_to_persist = self._snapshot_to_apply = None
        self._messages.clear()
        self._dropped_reads.clear()
        self._outstanding = ready
        return ready

    def advance(self, ready: Ready) -> None:
        """``ready`` was persisted, sent and applied: update stable and applied indexes."""
        assert ready is self._outstanding, "advance() takes the last Ready, once"
        self._outstanding = None
        stable = self._stable_last
        if ready.snapshot is not None:
            stable = max(stable, ready.snapshot.meta.index)
        if ready.truncate_from is not None:
            stable = min(stable, ready.truncate_from - 1)
        if ready.entries:
            stable = ready.entries[-1].index
        for pending in (self._unstable_from, self._truncate_from):
            if pending is not None:
                stable = min(stable, pending - 1)
        self._stable_last = min(stable, self._log.last_index)
        if ready.committed_entries:
            self._applied = max(self._applied, ready.committed_entries[-1].index)
        if self._role is Role.LEADER and ready.entries:
            self._maybe_commit()

    # ------------------------------------------------------------------------ checks
    def invariants(self) -> None:
        """Assert what must hold between any two calls (tests call this after every step)."""
        log = self._log
        assert log.snapshot_index <= self._applied <= self._commit <= log.last_index, (
            log.snapshot_index, self._applied, self._commit, log.last_index)
        assert log.last_term <= self._term, (log.last_term, self._term)
        assert self._stable_last <= log.last_index
        assert self._voted_for is None or self._voted_for in self.voters
        if self._role is Role.LEADER:
            assert self._leader_id == self.node_id and self._voted_for == self.node_id
            assert log.term_at(log.last_index) == self._term, "leader appends a no-op"
            for peer, progress in self._progress.items():
                assert progress.match < progress.next <= log.last_index + 1, (peer, progress)
        else:
            assert not self._progress and not self._pending_reads
        if self._role is Role.CANDIDATE:
            assert self._voted_for == self.node_id
