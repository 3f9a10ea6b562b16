"""Raft consensus for the coordinators, as a sans-IO state machine (etcd-io/raft's RawNode).

Owns: elections (§5.2, PreVote §9.6, CheckQuorum), the term rules of ``step`` (§5.1) and
the public inputs; log replication, snapshots, commit and the Ready bookkeeping live in the
base class ``core.raft_replication.RaftReplication``.  Driven by ``tick()``, ``step(msg)``,
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

from typing import Any

from zafka.core.messages import (
    AppendEntries,
    AppendEntriesResponse,
    InstallSnapshot,
    InstallSnapshotResponse,
    RequestVote,
    RequestVoteResponse,
    SnapshotMeta,
)
from zafka.core.raft_progress import Progress
from zafka.core.raft_replication import RaftReplication
from zafka.core.raft_types import NotLeader, RaftMessage, Role, Snapshot


class RaftNode(RaftReplication):
    """One raft member.  Not thread-safe: one owner drives it.

    ``RaftNode(node_id, voters, state, tunables, rng)``: ``state`` is what the raft store
    loaded; ``rng`` draws the randomized election timeouts.
    """

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
        self._reads.start(ctx, self._commit if self._committed_in_term() else None)
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

    # ------------------------------------------------------------------------ checks
    def invariants(self) -> None:
        """Assert what must hold between any two calls (tests call this after every step)."""
        log = self._log
        assert log.snapshot_index <= self._applied <= self._commit <= log.last_index, (
            log.snapshot_index, self._applied, self._commit, log.last_index)
        assert log.last_term <= self._term, (log.last_term, self._term)
        assert log.stable_last <= log.last_index
        assert self._voted_for is None or self._voted_for in self.voters
        if self._role is Role.LEADER:
            assert self._leader_id == self.node_id and self._voted_for == self.node_id
            assert log.term_at(log.last_index) == self._term, "leader appends a no-op"
            for peer, progress in self._progress.items():
                assert progress.match < progress.next <= log.last_index + 1, (peer, progress)
        else:
            assert not self._progress and not self._reads.has_pending
        if self._role is Role.CANDIDATE:
            assert self._voted_for == self.node_id
