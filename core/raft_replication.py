"""The replication half of a raft member: its state, log replication (§5.3), snapshots (§7),
commit (§5.4.2) and the Ready bookkeeping.  ``core.raft.RaftNode`` adds elections and the
public inputs on top.

Owns: a member's term, vote, role, log, commit and applied indexes, the leader's per-peer
progress, read-index queue and the effects not yet handed out in a ``Ready``.
Must never: do I/O, read a clock, use module-level randomness, or interpret commands.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from zafka.core.config import Tunables
from zafka.core.messages import (
    AppendEntries,
    AppendEntriesResponse,
    InstallSnapshot,
    InstallSnapshotResponse,
    RaftEntry,
    SnapshotMeta,
)
from zafka.core.raft_log import RaftLog
from zafka.core.raft_progress import Progress, quorum_index
from zafka.core.raft_reads import ReadIndexQueue
from zafka.core.raft_types import HardState, PersistentState, RaftMessage, Ready, Role, Snapshot


class RaftReplication:
    """State and replication of one raft member; subclassed by ``RaftNode``."""

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
        self._snapshot_to_persist: Snapshot | None = None
        self._snapshot_to_apply: Snapshot | None = snapshot
        self._messages: list[RaftMessage] = []
        self._outstanding: Ready | None = None
        self._reads = ReadIndexQueue()
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
        self._reads.drop_pending()

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
        prev_index, entries = msg.prev_log_index, msg.entries
        if prev_index < self._commit:  # our committed prefix matches every later leader's
            entries = tuple(e for e in entries if e.index > self._commit)
            prev_index = self._commit
        elif self._log.term_at(prev_index) != msg.prev_log_term:
            self._reply_append(msg, success=False, match_index=prev_index,
                               conflict=self._log.conflict_hint(prev_index, self._commit + 1))
            return
        self._append_from_leader(entries)
        last_new = prev_index + len(entries)
        if msg.leader_commit > self._commit:
            self._commit = max(self._commit, min(msg.leader_commit, last_new))
        self._reply_append(msg, success=True, match_index=last_new, conflict=(0, 0))

    def _append_from_leader(self, entries: tuple[RaftEntry, ...]) -> None:
        for position, entry in enumerate(entries):
            existing = self._log.term_at(entry.index)
            if existing == entry.term:
                continue  # already there (a duplicate or reordered AppendEntries)
            if existing is not None:
                assert entry.index > self._commit, "§5.3 a committed entry must never change"
                self._log.truncate_from(entry.index)
            for new in entries[position:]:
                self._log.append(new)
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
                                 read_seq=self._reads.seq))
        progress.on_sent(entries[-1].index if entries else None)

    def _send_snapshot(self, peer: int, progress: Progress) -> None:
        if progress.snapshot_wait > 0:
            return
        assert self._snapshot is not None
        self._send(InstallSnapshot(from_id=self.node_id, to_id=peer, term=self._term,
                                   meta=self._snapshot.meta, data=self._snapshot.data,
                                   read_seq=self._reads.seq))
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
            hint = self._log.next_after_conflict(msg.conflict_term, msg.conflict_index)
            progress.back_off(hint, msg.match_index, self._log.last_index)
            self._send_append(msg.from_id)
        self._confirm_reads()

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
        matches.append(self._log.stable_last)
        index = quorum_index(matches, self._quorum)
        if index > self._commit and self._log.term_at(index) == self._term:
            self._commit = index
            self._reads.on_commit_in_term(index)
            self._confirm_reads()

    def _committed_in_term(self) -> bool:
        return self._log.term_at(self._commit) == self._term

    def _confirm_reads(self) -> None:
        """§6.4: reads whose heartbeat round a majority acknowledged become ReadStates."""
        if self._role is not Role.LEADER:
            return
        acked = [p.read_seq for p in self._progress.values()] + [self._reads.seq]
        self._reads.confirm(quorum_index(acked, self._quorum))

    # ------------------------------------------------------------------------ ready
    def _send(self, msg: RaftMessage) -> None:
        self._messages.append(msg)

    def _hard_state(self) -> HardState:
        return HardState(term=self._term, voted_for=self._voted_for, commit=self._commit)

    def _hard_state_changed(self) -> bool:
        prev = self._prev_hard
        return (self._term, self._voted_for) != (prev.term, prev.voted_for)

    def has_ready(self) -> bool:
        """True if ``ready()`` has effects to carry out (always False while one is out)."""
        if self._outstanding is not None:
            return False
        log = self._log
        return bool(self._messages or log.unstable_from is not None
                    or log.truncated_from is not None or self._snapshot_to_persist
                    or self._snapshot_to_apply or self._reads.has_work(self._applied)
                    or self._hard_state_changed() or self._commit > self._applied)

    def ready(self) -> Ready:
        """Take the pending effects; carry them out in order, then call ``advance``."""
        assert self._outstanding is None, "advance() the previous Ready first"
        hard = self._hard_state() if self._hard_state_changed() else None
        truncate_from, entries = self._log.take_unstable()
        committed = (self._log.slice(self._applied + 1, self._commit + 1)
                     if self._commit > self._applied else ())
        ready = Ready(
            hard_state=hard,
            snapshot=self._snapshot_to_persist, truncate_from=truncate_from,
            entries=entries, messages=tuple(self._messages),
            apply_snapshot=self._snapshot_to_apply, committed_entries=committed,
            reads=self._reads.take_servable(committed[-1].index if committed else self._applied),
            dropped_reads=self._reads.take_dropped())
        if hard is not None:
            self._prev_hard = hard
        self._snapshot_to_persist = self._snapshot_to_apply = None
        self._messages.clear()
        self._outstanding = ready
        return ready

    def advance(self, ready: Ready) -> None:
        """``ready`` was persisted, sent and applied: update stable and applied indexes."""
        assert ready is self._outstanding, "advance() takes the last Ready, once"
        self._outstanding = None
        self._log.mark_stable(ready.snapshot.meta.index if ready.snapshot else None,
                              ready.truncate_from, ready.entries)
        if ready.committed_entries:
            self._applied = max(self._applied, ready.committed_entries[-1].index)
        if self._role is Role.LEADER and ready.entries:
            self._maybe_commit()
