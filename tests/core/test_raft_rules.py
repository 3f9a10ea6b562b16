"""Raft's rules, one test each, named after the section of the paper (Ongaro & Ousterhout,
"In Search of an Understandable Consensus Algorithm", extended version; §6.4 and §9.6 are
from Ongaro's thesis) that states them."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest
from zafka.core.config import Tunables
from zafka.core.messages import (
    AppendEntries,
    AppendEntriesResponse,
    InstallSnapshot,
    InstallSnapshotResponse,
    RaftEntry,
    RequestVote,
    RequestVoteResponse,
    SnapshotMeta,
)
from zafka.core.raft import RaftNode
from zafka.core.raft_types import HardState, NotLeader, PersistentState, Ready, Role, Snapshot

TUNABLES = Tunables(election_ticks=10, heartbeat_ticks=2, raft_max_entries_per_append=4,
                    raft_max_inflight_appends=2).validate()


def entries(terms: Sequence[int], start: int = 1) -> tuple[RaftEntry, ...]:
    return tuple(RaftEntry(term=t, index=start + i, command=f"c{start + i}")
                 for i, t in enumerate(terms))


def node(node_id: int = 1, terms: Sequence[int] = (), term: int | None = None,
         voters: Sequence[int] = (1, 2, 3), commit: int = 0,
         snapshot: Snapshot | None = None, seed: int = 0) -> RaftNode:
    start = snapshot.meta.index + 1 if snapshot else 1
    state = PersistentState(
        hard_state=HardState(term=term if term is not None else max(terms, default=0),
                             commit=commit),
        snapshot=snapshot, entries=entries(terms, start))
    raft = RaftNode(node_id, voters, state, TUNABLES, random.Random(seed))
    raft.invariants()
    return raft


def drain(raft: RaftNode) -> Ready:
    """Carry out a Ready (the test stands in for persist, send and apply) and advance."""
    ready = raft.ready()
    raft.advance(ready)
    raft.invariants()
    return ready


def sent(ready: Ready, kind: type, to: int | None = None) -> list[Any]:
    return [m for m in ready.messages if isinstance(m, kind) and to in (None, m.to_id)]


def make_leader(raft: RaftNode) -> RaftNode:
    """Win the pre-vote and the election with the other voters' grants."""
    raft.campaign()
    for peer in raft.voters:
        if peer != raft.node_id and raft.role is Role.PRE_CANDIDATE:
            raft.step(RequestVoteResponse(from_id=peer, to_id=raft.node_id, term=raft.term + 1,
                                          granted=True, pre_vote=True))
    for peer in raft.voters:
        if peer != raft.node_id and raft.role is Role.CANDIDATE:
            raft.step(RequestVoteResponse(from_id=peer, to_id=raft.node_id, term=raft.term,
                                          granted=True))
    assert raft.role is Role.LEADER
    drain(raft)
    return raft


def append(raft: RaftNode, leader: int, term: int, prev: tuple[int, int],
           new: tuple[RaftEntry, ...] = (), commit: int = 0) -> AppendEntriesResponse:
    raft.step(AppendEntries(from_id=leader, to_id=raft.node_id, term=term, prev_log_index=prev[0],
                            prev_log_term=prev[1], entries=new, leader_commit=commit))
    [response] = sent(drain(raft), AppendEntriesResponse)
    assert isinstance(response, AppendEntriesResponse)
    return response


def ack(leader: RaftNode, peer: int, match: int, read_seq: int = 0) -> None:
    leader.step(AppendEntriesResponse(from_id=peer, to_id=leader.node_id, term=leader.term,
                                      success=True, match_index=match, read_seq=read_seq))


# --------------------------------------------------------------------------- §5.1 terms
def test_5_1_a_higher_term_in_any_message_makes_a_leader_step_down_and_adopt_it() -> None:
    leader = make_leader(node(terms=[1], term=1))
    leader.step(AppendEntriesResponse(from_id=2, to_id=1, term=9, success=False, match_index=0))
    assert (leader.role, leader.term, leader.voted_for) == (Role.FOLLOWER, 9, None)
    assert drain(leader).hard_state == HardState(term=9, voted_for=None, commit=0)


def test_5_1_a_request_from_an_older_term_is_refused_and_told_the_current_term() -> None:
    follower = node(terms=[1, 2], term=5)
    response = append(follower, leader=2, term=3, prev=(2, 2), new=entries([3], start=3))
    assert (response.success, response.term) == (False, 5)
    assert follower.log.last_index == 2 and follower.leader_id is None


# ----------------------------------------------------------------- §5.2 leader election
def test_5_2_a_node_grants_at_most_one_vote_per_term_and_persists_it_before_replying() -> None:
    voter = node(terms=[1], term=1)
    voter.step(RequestVote(from_id=2, to_id=1, term=2, last_log_index=1, last_log_term=1))
    ready = drain(voter)
    assert ready.hard_state == HardState(term=2, voted_for=2, commit=0)  # persisted first
    assert [m.granted for m in sent(ready, RequestVoteResponse)] == [True]
    voter.step(RequestVote(from_id=3, to_id=1, term=2, last_log_index=1, last_log_term=1))
    assert [m.granted for m in sent(drain(voter), RequestVoteResponse)] == [False]
    voter.step(RequestVote(from_id=2, to_id=1, term=2, last_log_index=1, last_log_term=1))
    assert [m.granted for m in sent(drain(voter), RequestVoteResponse)] == [True]  # a retry


def test_5_2_election_timeouts_are_randomized_in_election_to_twice_election_ticks() -> None:
    timeouts = set()
    for seed in range(50):
        raft = node(seed=seed)
        ticks = 0
        while raft.role is Role.FOLLOWER:
            raft.tick()
            ticks += 1
        timeouts.add(ticks)
    assert min(timeouts) >= TUNABLES.election_ticks
    assert max(timeouts) < 2 * TUNABLES.election_ticks and len(timeouts) > 3


def test_5_2_a_candidate_votes_for_itself_in_a_new_term_and_wins_with_a_majority() -> None:
    raft = node(terms=[1, 1], term=1, voters=(1, 2, 3, 4, 5))
    raft.campaign()
    raft.step(RequestVoteResponse(from_id=2, to_id=1, term=2, granted=True, pre_vote=True))
    raft.step(RequestVoteResponse(from_id=3, to_id=1, term=2, granted=True, pre_vote=True))
    assert (raft.role, raft.term, raft.voted_for) == (Role.CANDIDATE, 2, 1)
    ready = drain(raft)
    assert ready.hard_state == HardState(term=2, voted_for=1, commit=0)
    votes = [m for m in sent(ready, RequestVote) if not m.pre_vote]
    assert {m.to_id for m in votes} == {2, 3, 4, 5}
    assert all((m.last_log_index, m.last_log_term) == (2, 1) for m in votes)
    raft.step(RequestVoteResponse(from_id=2, to_id=1, term=2, granted=True))
    raft.step(RequestVoteResponse(from_id=3, to_id=1, term=2, granted=False))
    assert raft.role is Role.CANDIDATE
    raft.step(RequestVoteResponse(from_id=4, to_id=1, term=2, granted=True))
    assert raft.role is Role.LEADER and raft.leader_id == 1


def test_5_2_a_candidate_that_hears_from_the_leader_of_its_term_becomes_follower() -> None:
    raft = node(terms=[1], term=1)
    raft.campaign()
    raft.step(RequestVoteResponse(from_id=2, to_id=1, term=2, granted=True, pre_vote=True))
    assert raft.role is Role.CANDIDATE
    response = append(raft, leader=3, term=2, prev=(1, 1))
    assert response.success and (raft.role, raft.leader_id) == (Role.FOLLOWER, 3)


# ----------------------------------------------------------------- §5.3 log replication
def test_5_3_consistency_check_refuses_and_hints_the_first_index_of_the_conflicting_term() -> None:
    follower = node(terms=[1, 1, 2, 2, 2], term=3)
    response = append(follower, leader=2, term=3, prev=(5, 3), new=entries([3], start=6))
    assert not response.success
    assert (response.match_index, response.conflict_term, response.conflict_index) == (5, 2, 3)
    assert follower.log.last_index == 5


def test_5_3_a_follower_missing_the_previous_entry_hints_its_last_index_plus_one() -> None:
    follower = node(terms=[1, 1], term=3)
    response = append(follower, leader=2, term=3, prev=(7, 3))
    assert (response.success, response.conflict_term, response.conflict_index) == (False, 0, 3)


def test_5_3_a_conflicting_suffix_is_truncated_and_the_ready_says_from_where() -> None:
    follower = node(terms=[1, 1, 2, 2], term=3)
    ready_entries = entries([3, 3], start=3)
    follower.step(AppendEntries(from_id=2, to_id=1, term=3, prev_log_index=2, prev_log_term=1,
                                entries=ready_entries, leader_commit=0))
    ready = drain(follower)
    assert ready.truncate_from == 3 and ready.entries == ready_entries
    assert sent(ready, AppendEntriesResponse)[0].match_index == 4


def test_5_3_a_duplicated_or_reordered_append_never_truncates_matching_entries() -> None:
    follower = node(terms=[1, 1, 1], term=1)
    response = append(follower, leader=2, term=1, prev=(1, 1), new=entries([1], start=2))
    assert response.success and response.match_index == 2
    assert follower.log.last_index == 3


def test_5_3_the_leader_skips_a_whole_conflicting_term_in_one_round_trip() -> None:
    for conflict_term, expected_prev in [(2, 3), (1, 3)]:
        leader = make_leader(node(terms=[1, 1, 1, 3, 3], term=3))  # no-op at 6 (term 4)
        # follower [1, 1, 1, 2, 2] -> hint (2, 4): no term 2 here, so next = its index 4;
        # follower [1, 1, 1, 1, 1] -> hint (1, 2): term 1 ends at 3 here, so next = 4
        leader.step(AppendEntriesResponse(from_id=2, to_id=1, term=4, success=False,
                                          match_index=5, conflict_term=conflict_term,
                                          conflict_index=4 if conflict_term == 2 else 2))
        [probe] = sent(drain(leader), AppendEntries, to=2)
        assert probe.prev_log_index == expected_prev


def test_5_3_an_entry_replicated_on_a_majority_commits_and_followers_learn_the_commit() -> None:
    leader = make_leader(node(terms=[], term=0))
    index = leader.propose("x")
    drain(leader)
    ack(leader, 2, index)
    assert leader.commit_index == index
    ready = drain(leader)
    assert [e.command for e in ready.committed_entries] == [None, "x"]
    follower = node(node_id=2)
    append(follower, leader=1, term=1, prev=(0, 0), new=entries([1, 1]), commit=index)
    assert follower.commit_index == index


def test_5_3_the_leader_counts_its_own_log_towards_commit_only_once_persisted() -> None:
    leader = make_leader(node(terms=[], term=0))
    index = leader.propose("x")
    ack(leader, 2, index)  # one follower + a leader that has not persisted yet: no majority
    assert leader.commit_index == 1
    drain(leader)
    assert leader.commit_index == index


def test_5_3_pipelined_appends_stop_at_the_in_flight_limit_until_acknowledged() -> None:
    leader = make_leader(node(terms=[], term=0))
    ack(leader, 2, 1)  # follower 2 matches: replicate optimistically from now on
    drain(leader)
    for i in range(TUNABLES.raft_max_inflight_appends * TUNABLES.raft_max_entries_per_append * 2):
        leader.propose(i)
    appends = sent(drain(leader), AppendEntries, to=2)
    assert len(appends) == TUNABLES.raft_max_inflight_appends
    ack(leader, 2, appends[0].entries[-1].index)
    [more] = sent(drain(leader), AppendEntries, to=2)
    assert more.prev_log_index == appends[-1].entries[-1].index
    assert len(more.entries) == TUNABLES.raft_max_entries_per_append  # the backlog, batched


# -------------------------------------------------------------------- §5.4 safety
def test_5_4_1_election_restriction_refuses_a_candidate_with_a_less_up_to_date_log() -> None:
    for candidate_last in [(9, 2), (2, 3)]:  # (index, term): older last term; shorter log
        for pre_vote in (False, True):
            voter = node(terms=[1, 3, 3], term=3)
            voter.step(RequestVote(from_id=2, to_id=1, term=4, last_log_index=candidate_last[0],
                                   last_log_term=candidate_last[1], pre_vote=pre_vote))
            [response] = sent(drain(voter), RequestVoteResponse)
            assert not response.granted and voter.voted_for is None


def test_5_4_2_figure_8_an_earlier_term_entry_commits_only_with_one_of_the_current_term() -> None:
    """A leader of term 4 that holds a term-2 entry replicated on a majority must not commit
    it by counting replicas (a term-3 candidate could still overwrite it); it commits once
    its own term-4 no-op reaches a majority, which commits the term-2 entry indirectly."""
    leader = make_leader(node(terms=[1, 2], term=3, voters=(1, 2, 3, 4, 5)))
    assert leader.term == 4 and leader.log.last_index == 3
    ack(leader, 2, 2)
    ack(leader, 3, 2)
    assert leader.commit_index == 0
    ack(leader, 2, 3)
    assert leader.commit_index == 0
    ack(leader, 3, 3)
    assert leader.commit_index == 3
    assert [e.term for e in drain(leader).committed_entries] == [1, 2, 4]


def test_7_an_append_overlapping_a_followers_snapshot_is_accepted_after_the_snapshot() -> None:
    """Entries up to the follower's commit (here: its snapshot) match every later leader's
    log, so an append whose previous entry was compacted away is checked from the commit."""
    snapshot = Snapshot(meta=SnapshotMeta(index=5, term=1), data=b"five")
    follower = node(node_id=2, terms=[], term=1, commit=5, snapshot=snapshot)
    response = append(follower, leader=1, term=1, prev=(3, 1), new=entries([1, 1, 1, 1], 4))
    assert response.success and response.match_index == 7
    assert follower.log.last_index == 7


# ---------------------------------------------------------------------- §7 snapshots
def test_7_compaction_discards_the_log_prefix_and_the_ready_persists_the_snapshot() -> None:
    leader = make_leader(node(terms=[], term=0, voters=(1,)))
    for command in "abc":
        leader.propose(command)
    drain(leader)
    drain(leader)  # applies
    assert leader.applied_index == 4
    leader.compact(3, b"state@3")
    ready = drain(leader)
    assert ready.snapshot == Snapshot(meta=SnapshotMeta(index=3, term=1), data=b"state@3")
    assert leader.log.snapshot_index == 3 and leader.log.last_index == 4


def test_7_a_follower_behind_the_compacted_prefix_is_sent_the_snapshot() -> None:
    snapshot = Snapshot(meta=SnapshotMeta(index=5, term=1), data=b"five")
    leader = make_leader(node(terms=[1], term=1, commit=6, snapshot=snapshot))
    leader.step(AppendEntriesResponse(from_id=2, to_id=1, term=2, success=False, match_index=6,
                                      conflict_index=2))
    [install] = sent(drain(leader), InstallSnapshot, to=2)
    assert (install.meta, install.data) == (snapshot.meta, b"five")
    leader.step(InstallSnapshotResponse(from_id=2, to_id=1, term=2, match_index=5))
    [follow_up] = sent(drain(leader), AppendEntries, to=2)
    assert follow_up.prev_log_index == 5 and len(follow_up.entries) == 2


def test_7_a_follower_with_a_conflicting_log_restores_the_snapshot_for_its_application() -> None:
    follower = node(node_id=2, terms=[1, 1, 2], term=2, commit=1)
    follower.step(InstallSnapshot(from_id=1, to_id=2, term=3,
                                  meta=SnapshotMeta(index=4, term=3), data=b"four"))
    ready = drain(follower)
    assert ready.snapshot == ready.apply_snapshot == Snapshot(
        meta=SnapshotMeta(index=4, term=3), data=b"four")
    assert ready.truncate_from == 5 and ready.committed_entries == ()
    assert sent(ready, InstallSnapshotResponse)[0].match_index == 4
    assert (follower.log.last_index, follower.commit_index, follower.applied_index) == (4, 4, 4)


def test_7_a_follower_holding_the_snapshots_last_entry_keeps_the_entries_after_it() -> None:
    follower = node(node_id=2, terms=[1, 1, 1, 1], term=1)
    follower.step(InstallSnapshot(from_id=1, to_id=2, term=1,
                                  meta=SnapshotMeta(index=2, term=1), data=b"two"))
    ready = drain(follower)
    assert ready.apply_snapshot is None and follower.log.last_index == 4
    assert [e.index for e in ready.committed_entries] == [1, 2]


def test_7_a_restarted_node_hands_its_snapshot_to_the_application_first() -> None:
    snapshot = Snapshot(meta=SnapshotMeta(index=3, term=1), data=b"three")
    raft = node(terms=[1, 2], term=2, commit=4, snapshot=snapshot)
    ready = drain(raft)
    assert ready.apply_snapshot == snapshot
    assert [e.index for e in ready.committed_entries] == [4]
    assert ready.snapshot is None  # already durable


# ------------------------------------------------------------- §9.6 PreVote, CheckQuorum
def test_9_6_a_pre_vote_round_changes_no_term_and_no_vote() -> None:
    raft = node(terms=[1], term=1)
    raft.campaign()
    assert (raft.role, raft.term, raft.voted_for) == (Role.PRE_CANDIDATE, 1, None)
    ready = drain(raft)
    assert ready.hard_state is None
    assert all(m.pre_vote and m.term == 2 for m in sent(ready, RequestVote))
    voter = node(node_id=2, terms=[1], term=1)
    voter.step(sent(ready, RequestVote, to=2)[0])
    [response] = sent(drain(voter), RequestVoteResponse)
    assert response.granted and response.term == 2
    assert (voter.term, voter.voted_for) == (1, None)


def test_9_6_a_refused_pre_vote_returns_the_node_to_follower_in_the_same_term() -> None:
    raft = node(terms=[1], term=1)
    raft.campaign()
    raft.step(RequestVoteResponse(from_id=2, to_id=1, term=1, granted=False, pre_vote=True))
    raft.step(RequestVoteResponse(from_id=3, to_id=1, term=1, granted=False, pre_vote=True))
    assert (raft.role, raft.term) == (Role.FOLLOWER, 1)


def test_9_6_a_node_that_heard_from_its_leader_ignores_votes_for_a_higher_term() -> None:
    """CheckQuorum lease: neither a pre-vote nor a vote disturbs a live leader's follower."""
    follower = node(node_id=2, terms=[1], term=1)
    append(follower, leader=1, term=1, prev=(1, 1))
    for pre_vote in (True, False):
        follower.step(RequestVote(from_id=3, to_id=2, term=2, last_log_index=5,
                                  last_log_term=1, pre_vote=pre_vote))
        assert not drain(follower).messages and follower.term == 1
    for _ in range(TUNABLES.election_ticks):
        follower.tick()  # the leader went silent: the lease has run out
    follower.step(RequestVote(from_id=3, to_id=2, term=2, last_log_index=5, last_log_term=1,
                              pre_vote=True))
    assert [m.granted for m in sent(drain(follower), RequestVoteResponse)] == [True]


def test_check_quorum_a_leader_without_majority_contact_for_a_timeout_steps_down() -> None:
    leader = make_leader(node(terms=[1], term=1))
    for _ in range(2 * TUNABLES.election_ticks):
        leader.tick()
    assert (leader.role, leader.leader_id, leader.term) == (Role.FOLLOWER, None, 2)
    with pytest.raises(NotLeader):
        leader.propose("late")


def test_check_quorum_a_leader_hearing_from_a_majority_stays_leader() -> None:
    leader = make_leader(node(terms=[1], term=1))
    for _ in range(5 * TUNABLES.election_ticks):
        leader.tick()
        ack(leader, 2, 2)
    assert leader.role is Role.LEADER


# -------------------------------------------------------------------- §6.4 read index
def test_6_4_a_read_is_served_after_a_majority_confirms_leadership_after_the_request() -> None:
    leader = make_leader(node(terms=[1], term=1))
    ack(leader, 2, 2)  # the no-op commits: the leader knows the latest commit index
    drain(leader)
    leader.read_index("r1")
    ready = drain(leader)
    [probe] = sent(ready, AppendEntries, to=2)
    assert ready.reads == () and probe.read_seq == 1
    ack(leader, 3, 0, read_seq=0)  # an answer to an earlier round confirms nothing
    assert drain(leader).reads == ()
    ack(leader, 3, 2, read_seq=probe.read_seq)
    assert [(r.ctx, r.index) for r in drain(leader).reads] == [("r1", 2)]


def test_6_4_a_new_leader_serves_reads_only_once_an_entry_of_its_term_commits() -> None:
    leader = make_leader(node(terms=[1], term=1))
    leader.read_index("r1")
    ack(leader, 2, 1, read_seq=1)  # leadership confirmed, but the no-op is not committed
    assert drain(leader).reads == ()
    ack(leader, 2, 2, read_seq=1)
    ready = drain(leader)
    assert [(r.ctx, r.index) for r in ready.reads] == [("r1", 2)]
    assert ready.committed_entries[-1].index == 2  # applied in the same Ready, before reads


def test_6_4_reads_of_a_deposed_leader_are_dropped_and_followers_refuse_reads() -> None:
    leader = make_leader(node(terms=[1], term=1))
    leader.read_index("r1")
    leader.step(AppendEntries(from_id=3, to_id=1, term=5, prev_log_index=0, prev_log_term=0,
                              entries=(), leader_commit=0))
    assert drain(leader).dropped_reads == ("r1",)
    with pytest.raises(NotLeader) as refused:
        leader.read_index("r2")
    assert refused.value.leader_id == 3


def test_propose_on_a_follower_raises_not_leader_naming_the_known_leader() -> None:
    follower = node(node_id=2, terms=[1], term=1)
    with pytest.raises(NotLeader) as unknown:
        follower.propose("x")
    assert unknown.value.leader_id is None
    append(follower, leader=3, term=1, prev=(1, 1))
    with pytest.raises(NotLeader) as known:
        follower.propose("x")
    assert known.value.leader_id == 3
