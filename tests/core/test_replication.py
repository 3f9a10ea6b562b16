"""The replication rules of a partition, one test per rule (Kafka's names and KIPs).

Leader: HW = min LEO over the (maximal) ISR, the leader's own LEO counted once flushed; acks;
ISR shrink/expand proposed and applied on commit; fencing by leader epoch; long polls; bounded
tables.  Follower: truncation by leader epoch (KIP-101/279) and diverging epochs (KIP-320).
Idempotent producers: the dedup window of 5, sequence and epoch checks.
"""

from __future__ import annotations

import pytest
from zafka.core.config import Tunables
from zafka.core.errors import ErrorCode, NotEnoughReplicas, RequestTimedOut
from zafka.core.producer_state import BatchHeader, ProducerStateTable
from zafka.core.replication import LeaderState
from zafka.core.replication_follower import FollowerPhase, FollowerRequestKind, FollowerState
from zafka.core.replication_types import (
    ACKS_ALL,
    ACKS_LEADER,
    CONSUMER_REPLICA_ID,
    EpochEndOffset,
    FetchDecision,
)

from tests.sim.replication_world import MemoryLog, Record

LAG = 30
TUNABLES = Tunables(replica_lag_time_max_ticks=LAG, replica_fetch_max_wait_ticks=5,
                    pending_acks_per_partition_max=3).validate()


def history(*epochs: tuple[int, int], end: int) -> MemoryLog:
    """A log of ``end`` records whose epochs start at the given offsets."""
    log = MemoryLog()
    starts = [*epochs[1:], (None, end)]
    for (epoch, start), (_, next_start) in zip(epochs, starts, strict=True):
        log.append([Record(o, epoch, f"v{o}", -1, -1, -1, o, 1)
                    for o in range(start, next_start)])
    log.flushed = end
    return log


def make_leader(*, isr: tuple[int, ...] = (1, 2, 3), leo: int = 0, hw: int = 0,
                fsync: bool = True, min_isr: int = 2, epoch: int = 5) -> LeaderState:
    return LeaderState(topic="t", partition=0, leader_id=1, leader_epoch=epoch,
                       partition_epoch=10, replicas=(1, 2, 3), isr=isr,
                       min_insync_replicas=min_isr, log_end_offset=leo, high_watermark=hw,
                       now_tick=0, fsync_before_ack=fsync, tunables=TUNABLES)


def fetch(leader: LeaderState, replica: int, offset: int, tick: int = 1,
          log: MemoryLog | None = None, last_epoch: int = 5, epoch: int = 5) -> FetchDecision:
    return leader.on_follower_fetch(
        replica_id=replica, fetch_offset=offset, last_fetched_epoch=last_epoch,
        current_leader_epoch=epoch, now_tick=tick,
        history=log or history((5, 0), end=leader.log_end_offset))


def append(leader: LeaderState, last_offset: int) -> None:
    leader.on_append(last_offset)
    leader.on_leader_flushed(last_offset + 1)


# --- high watermark ---------------------------------------------------------------------


def test_hw_is_the_min_leo_over_the_isr_and_only_moves_forward() -> None:
    leader = make_leader()
    append(leader, 9)
    assert leader.high_watermark == 0
    fetch(leader, 2, 6)
    assert leader.high_watermark == 0, "follower 3 has not reported: HW waits for it"
    effects = fetch(leader, 3, 4).effects
    assert effects.high_watermark == 4 == leader.high_watermark
    fetch(leader, 3, 8)
    assert leader.high_watermark == 6
    fetch(leader, 2, 3)  # a reordered older fetch
    assert leader.high_watermark == 6
    leader.invariants()


def test_leader_leo_counts_toward_hw_only_once_flushed_under_fsync_before_ack() -> None:
    leader = make_leader(isr=(1,), min_isr=1)
    assert leader.on_append(4).high_watermark is None
    assert leader.high_watermark == 0
    assert leader.on_leader_flushed(5).high_watermark == 5


def test_leader_leo_counts_at_append_when_fsync_is_off() -> None:
    leader = make_leader(isr=(1,), min_isr=1, fsync=False)
    assert leader.on_append(4).high_watermark == 5


# --- acks -------------------------------------------------------------------------------


def test_acks_all_completes_when_the_hw_passes_its_last_offset() -> None:
    leader = make_leader(isr=(1, 2))
    append(leader, 4)
    assert leader.add_pending_ack("a", 4, ACKS_ALL, deadline_tick=100).completed_acks == []
    assert fetch(leader, 2, 4).effects.completed_acks == []
    done = fetch(leader, 2, 5).effects.completed_acks
    assert [(a.key, a.last_offset, a.error) for a in done] == [("a", 4, ErrorCode.NONE)]


def test_acks_1_completes_once_the_leader_has_flushed_the_batch() -> None:
    leader = make_leader(isr=(1, 2))
    leader.on_append(2)
    assert leader.add_pending_ack("one", 2, ACKS_LEADER, deadline_tick=100).empty
    done = leader.on_leader_flushed(3).completed_acks
    assert [(a.key, a.error) for a in done] == [("one", ErrorCode.NONE)]
    assert leader.high_watermark == 0, "acks=1 does not wait for followers"


def test_acks_all_is_refused_before_append_when_isr_is_below_min_insync_replicas() -> None:
    leader = make_leader(isr=(1,), min_isr=2)
    assert isinstance(leader.check_append(ACKS_ALL), NotEnoughReplicas)
    assert leader.check_append(ACKS_LEADER) is None


def test_acks_all_gets_not_enough_replicas_after_append_if_isr_shrank_meanwhile() -> None:
    leader = make_leader(isr=(1, 2, 3), min_isr=3)
    append(leader, 0)
    leader.add_pending_ack("a", 0, ACKS_ALL, deadline_tick=100)
    fetch(leader, 2, 1)
    effects = leader.on_metadata(leader_id=1, leader_epoch=5, partition_epoch=11, isr=(1, 2))
    assert [(a.key, a.error) for a in effects.completed_acks] == [
        ("a", ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND)]


def test_pending_acks_are_bounded_and_overflow_is_refused_before_append() -> None:
    leader = make_leader()
    append(leader, 9)
    for key in range(3):
        assert leader.check_append(ACKS_ALL) is None
        leader.add_pending_ack(key, key, ACKS_ALL, deadline_tick=100)
    refused = leader.check_append(ACKS_ALL)
    assert isinstance(refused, RequestTimedOut) and "pending_acks_per_partition_max" in str(
        refused)
    assert leader.check_append(0) is None, "acks=0 holds no table entry"


def test_an_unacknowledged_produce_times_out_at_its_deadline() -> None:
    leader = make_leader()
    append(leader, 0)
    leader.add_pending_ack("a", 0, ACKS_ALL, deadline_tick=20)
    assert leader.tick(19).completed_acks == []
    assert [(a.key, a.error) for a in leader.tick(20).completed_acks] == [
        ("a", ErrorCode.REQUEST_TIMED_OUT)]
    assert leader.pending_ack_count == 0


# --- ISR --------------------------------------------------------------------------------


def test_isr_shrink_is_proposed_after_lag_time_and_takes_effect_only_when_committed() -> None:
    leader = make_leader()
    append(leader, 9)
    for tick in (10, 20, 30, 31):
        fetch(leader, 2, 10, tick=tick)
    assert leader.tick(LAG).alter_partition is None, "follower 3 is exactly at the limit"
    proposal = leader.tick(LAG + 1).alter_partition
    assert proposal is not None and proposal.new_isr == (1, 2)
    assert (proposal.leader_epoch, proposal.partition_epoch) == (5, 10)
    assert leader.isr == {1, 2, 3} and leader.high_watermark == 0, "not committed yet"
    assert leader.tick(LAG + 2).alter_partition is None, "one proposal in flight at a time"
    effects = leader.on_metadata(leader_id=1, leader_epoch=5, partition_epoch=11, isr=(1, 2))
    assert leader.isr == {1, 2} and effects.high_watermark == 10


def test_a_follower_that_keeps_fetching_to_the_end_stays_in_the_isr() -> None:
    leader = make_leader(isr=(1, 2), min_isr=1)
    for tick in range(1, 200, 10):
        append(leader, tick)
        fetch(leader, 2, tick + 1, tick=tick)
        assert leader.tick(tick).alter_partition is None


def test_a_silent_follower_that_has_everything_stays_in_sync_until_the_log_grows() -> None:
    leader = make_leader(leo=10, hw=10)
    fetch(leader, 2, 10, tick=1)
    fetch(leader, 3, 10, tick=1)
    assert leader.next_tick_due() is None, "an idle partition needs no timer"
    assert leader.tick(10 * LAG).alter_partition is None, "as in Kafka: caught up is in sync"
    append(leader, 11)
    assert leader.next_tick_due() == 1 + LAG + 1, "behind now: due when its lag runs out"
    proposal = leader.tick(10 * LAG + 1).alter_partition
    assert proposal is not None and proposal.new_isr == (1,)


def test_the_next_tick_due_covers_ack_deadlines_lag_and_alter_partition_retries() -> None:
    leader = make_leader()
    append(leader, 4)
    leader.add_pending_ack("a", last_offset=4, acks=-1, deadline_tick=500)
    fetch(leader, 2, 5, tick=3)
    assert leader.next_tick_due() == LAG + 1, "follower 3 is behind since tick 0"
    proposal = leader.tick(LAG + 1).alter_partition
    assert proposal is not None and proposal.new_isr == (1, 2)
    assert leader.next_tick_due() == LAG + 1 + 5, "the AlterPartition is resent if unanswered"
    leader.on_metadata(leader_id=1, leader_epoch=5, partition_epoch=11, isr=(1, 2))
    assert leader.next_tick_due() is None, "acked by the ISR {1, 2}: nothing left to time"


def test_isr_expand_is_proposed_when_follower_reaches_hw_and_counts_at_once() -> None:
    leader = make_leader(isr=(1, 2), leo=4, hw=4)
    append(leader, 9)
    assert fetch(leader, 3, 3).effects.alter_partition is None, "below the HW"
    fetch(leader, 2, 8)
    assert leader.high_watermark == 8
    proposal = fetch(leader, 3, 8).effects.alter_partition
    assert proposal is not None and proposal.new_isr == (1, 2, 3)
    fetch(leader, 2, 10)
    assert leader.high_watermark == 8, "a proposed member counts for the HW (KIP-497)"


def test_isr_expand_waits_for_the_current_epoch_start_offset() -> None:
    leader = make_leader(isr=(1, 2), leo=10, hw=4)
    assert fetch(leader, 3, 6).effects.alter_partition is None, "above HW, below epoch start"
    assert fetch(leader, 3, 10).effects.alter_partition is not None


def test_a_rejected_or_lost_alter_partition_is_proposed_again() -> None:
    leader = make_leader()
    append(leader, 9)
    fetch(leader, 2, 10, tick=LAG)
    assert leader.tick(LAG + 1).alter_partition is not None
    assert leader.tick(LAG + 2).alter_partition is None
    assert leader.tick(LAG + 1 + TUNABLES.replica_fetch_max_wait_ticks).alter_partition
    leader.on_alter_partition_rejected()
    assert leader.pending_isr is None and leader.tick(LAG + 10).alter_partition is not None


def test_stale_metadata_is_ignored_and_a_newer_leader_epoch_resigns() -> None:
    leader = make_leader()
    append(leader, 0)
    leader.add_pending_ack("a", 0, ACKS_ALL, deadline_tick=100)
    assert leader.on_metadata(leader_id=1, leader_epoch=5, partition_epoch=9, isr=(1,)).empty
    assert leader.isr == {1, 2, 3}
    effects = leader.on_metadata(leader_id=2, leader_epoch=6, partition_epoch=12, isr=(2, 3))
    assert effects.resigned and leader.resigned
    assert [(a.key, a.error) for a in effects.completed_acks] == [
        ("a", ErrorCode.NOT_LEADER_OR_FOLLOWER)]
    assert leader.check_append(ACKS_LEADER) is not None


# --- fencing and fetch ------------------------------------------------------------------


@pytest.mark.parametrize(("request_epoch", "error"), [
    (4, ErrorCode.FENCED_LEADER_EPOCH), (6, ErrorCode.UNKNOWN_LEADER_EPOCH),
    (5, ErrorCode.NONE), (-1, ErrorCode.NONE)])
def test_fetches_are_fenced_by_leader_epoch(request_epoch: int, error: ErrorCode) -> None:
    leader = make_leader()
    append(leader, 3)
    assert fetch(leader, 2, 4, epoch=request_epoch).error == error
    assert leader.on_consumer_fetch(fetch_offset=0,
                                    current_leader_epoch=request_epoch).error == error


def test_a_paused_old_leader_cannot_complete_acks_all() -> None:
    """Its followers moved to a newer epoch: their fetches are not counted, its proposals
    carry a stale epoch, and the pending produce times out."""
    leader = make_leader(isr=(1, 2, 3))
    append(leader, 0)
    leader.add_pending_ack("a", 0, ACKS_ALL, deadline_tick=50)
    assert fetch(leader, 2, 1, epoch=6).error == ErrorCode.UNKNOWN_LEADER_EPOCH
    assert fetch(leader, 3, 1, epoch=6).error == ErrorCode.UNKNOWN_LEADER_EPOCH
    assert leader.high_watermark == 0
    proposal = leader.tick(LAG + 1).alter_partition
    assert proposal is not None and proposal.leader_epoch == 5
    assert [a.error for a in leader.tick(50).completed_acks] == [ErrorCode.REQUEST_TIMED_OUT]


def test_only_replicas_may_fetch_as_followers() -> None:
    assert fetch(make_leader(), 7, 0).error == ErrorCode.NOT_LEADER_OR_FOLLOWER


def test_consumers_read_only_below_the_hw() -> None:
    leader = make_leader(isr=(1, 2))
    append(leader, 9)
    fetch(leader, 2, 6)
    decision = leader.on_consumer_fetch(fetch_offset=2, current_leader_epoch=-1)
    assert (decision.fetch_offset, decision.max_offset, decision.has_data) == (2, 6, True)
    assert not leader.on_consumer_fetch(fetch_offset=6, current_leader_epoch=-1).has_data
    assert leader.on_consumer_fetch(fetch_offset=11,
                                    current_leader_epoch=-1).error == \
        ErrorCode.OFFSET_OUT_OF_RANGE


def test_followers_read_up_to_the_leader_log_end() -> None:
    leader = make_leader(isr=(1, 2))
    leader.on_append(9)
    decision = fetch(leader, 2, 3)
    assert (decision.max_offset, decision.high_watermark) == (10, 0)


def test_long_poll_fetches_wake_when_data_is_readable_and_expire_at_max_wait() -> None:
    leader = make_leader(isr=(1, 2))
    append(leader, 4)
    fetch(leader, 2, 5)
    assert leader.add_pending_fetch("c", replica_id=CONSUMER_REPLICA_ID, fetch_offset=5,
                                    deadline_tick=40).empty
    assert leader.add_pending_fetch("f", replica_id=2, fetch_offset=5, deadline_tick=40).empty
    woken = leader.on_append(6).completed_fetches
    assert [(f.key, f.expired) for f in woken] == [("f", False)], "consumer waits for the HW"
    leader.on_leader_flushed(7)
    woken = fetch(leader, 2, 7).effects.completed_fetches
    assert [(f.key, f.expired) for f in woken] == [("c", False)]
    leader.add_pending_fetch("late", replica_id=CONSUMER_REPLICA_ID, fetch_offset=7,
                             deadline_tick=40)
    assert leader.tick(39).completed_fetches == []
    assert [(f.key, f.expired) for f in leader.tick(40).completed_fetches] == [("late", True)]


def test_long_poll_table_is_bounded() -> None:
    leader = make_leader()
    for key in range(3):
        leader.add_pending_fetch(key, replica_id=-1, fetch_offset=0, deadline_tick=9)
    overflow = leader.add_pending_fetch("x", replica_id=-1, fetch_offset=0, deadline_tick=9)
    assert [(f.key, f.expired) for f in overflow.completed_fetches] == [("x", True)]
    assert leader.pending_fetch_count == 3


# --- epochs: leader side ----------------------------------------------------------------


def test_a_fetch_from_a_divergent_log_gets_the_diverging_epoch_and_is_not_counted() -> None:
    """KIP-320: epoch 3 ends at 6 on the leader; the follower has epoch 3 up to 9."""
    log = history((1, 0), (3, 4), (5, 6), end=8)
    leader = make_leader(isr=(1, 2), leo=6, hw=4)
    append(leader, 7)
    decision = fetch(leader, 2, 9, log=log, last_epoch=3)
    assert decision.diverging_epoch == EpochEndOffset(leader_epoch=3, end_offset=6)
    assert not decision.has_data and leader.followers[2].log_end_offset == -1
    assert fetch(leader, 2, 6, log=log, last_epoch=3).diverging_epoch is None


def test_offset_for_leader_epoch_answers_where_an_epoch_ends() -> None:
    log = history((1, 0), (3, 4), (5, 6), end=8)
    leader = make_leader(leo=6)
    append(leader, 7)

    def ask(epoch: int, current: int = 5) -> tuple[ErrorCode, EpochEndOffset]:
        return leader.on_offset_for_leader_epoch(current_leader_epoch=current,
                                                 leader_epoch=epoch, history=log)

    assert ask(5) == (ErrorCode.NONE, EpochEndOffset(leader_epoch=5, end_offset=8))
    assert ask(3) == (ErrorCode.NONE, EpochEndOffset(leader_epoch=3, end_offset=6))
    assert ask(2) == (ErrorCode.NONE, EpochEndOffset(leader_epoch=1, end_offset=4))
    assert ask(3, current=4)[0] == ErrorCode.FENCED_LEADER_EPOCH


# --- follower ---------------------------------------------------------------------------


def make_follower(log: MemoryLog, hw: int = 0) -> FollowerState:
    return FollowerState(topic="t", partition=0, replica_id=2, leader_id=1, leader_epoch=5,
                         log_end_offset=log.log_end_offset, last_epoch=log.last_epoch,
                         high_watermark=hw, tunables=TUNABLES)


def answer_epoch(follower: FollowerState, log: MemoryLog, epoch_end: EpochEndOffset,
                 tick: int = 0, asked: int | None = None) -> int:
    request = follower.poll(tick)
    assert request is not None and request.kind is FollowerRequestKind.OFFSET_FOR_LEADER_EPOCH
    assert asked is None or request.last_fetched_epoch == asked
    decision = follower.on_offset_for_leader_epoch_response(
        request_id=request.request_id, error=ErrorCode.NONE, epoch_end=epoch_end,
        history=log, now_tick=tick)
    assert decision is not None
    log.truncate_to(decision.truncate_to)
    follower.on_log_end(log_end_offset=log.log_end_offset, last_epoch=log.last_epoch,
                        flushed_offset=log.log_end_offset)
    return decision.truncate_to


def test_new_follower_truncates_its_divergent_tail_by_leader_epoch_before_fetching() -> None:
    """KIP-101: the follower asks where its last epoch ends on the leader and cuts there."""
    log = history((1, 0), (3, 4), end=10)
    follower = make_follower(log)
    assert follower.phase is FollowerPhase.TRUNCATING
    request = follower.poll(0)
    assert request is not None and request.last_fetched_epoch == 3
    follower._in_flight = None  # the request was lost: a new one is asked
    assert answer_epoch(follower, log, EpochEndOffset(leader_epoch=3, end_offset=7)) == 7
    assert follower.phase is FollowerPhase.FETCHING and log.log_end_offset == 7
    request = follower.poll(1)
    assert request is not None and request.kind is FollowerRequestKind.FETCH
    assert (request.fetch_offset, request.last_fetched_epoch) == (7, 3)


def test_follower_asks_again_when_the_leader_answers_with_an_epoch_it_lacks() -> None:
    """KIP-279: the leader's largest epoch <= ours is 2, which this log never had."""
    log = history((1, 0), (3, 4), end=10)
    follower = make_follower(log)
    assert answer_epoch(follower, log, EpochEndOffset(leader_epoch=2, end_offset=6)) == 4
    assert follower.phase is FollowerPhase.TRUNCATING
    assert answer_epoch(follower, log, EpochEndOffset(leader_epoch=1, end_offset=3),
                        tick=1, asked=1) == 3
    assert follower.phase is FollowerPhase.FETCHING


def test_follower_truncates_to_its_hw_when_the_leader_does_not_know_its_epoch() -> None:
    log = history((1, 0), (3, 4), end=10)
    follower = make_follower(log, hw=5)
    assert answer_epoch(follower, log, EpochEndOffset(leader_epoch=-1, end_offset=-1)) == 5


def test_an_empty_epoch_at_the_log_end_is_dropped_by_truncating_at_the_log_end() -> None:
    """A replica that led epoch 4 without appending keeps (4, 10) in its epoch cache."""
    log = history((1, 0), end=10)
    log.assign_epoch(4, 10)
    follower = make_follower(log)
    assert answer_epoch(follower, log, EpochEndOffset(leader_epoch=1, end_offset=12)) == 10
    assert log.last_epoch == 1


def test_a_diverging_epoch_in_a_fetch_reply_truncates_the_follower() -> None:
    log = history((1, 0), (3, 4), end=10)
    follower = make_follower(log)
    answer_epoch(follower, log, EpochEndOffset(leader_epoch=3, end_offset=10))
    request = follower.poll(1)
    assert request is not None
    decision = follower.on_fetch_response(
        request_id=request.request_id, error=ErrorCode.NONE, high_watermark=9,
        diverging_epoch=EpochEndOffset(leader_epoch=3, end_offset=8), history=log,
        now_tick=1)
    assert decision is not None and decision.truncate_to == 8
    assert follower.leader_high_watermark == 0, "no HW from a diverging reply"


def test_follower_ignores_stale_replies_retries_after_timeout_and_backs_off_on_error() -> None:
    log = history((5, 0), end=3)
    follower = make_follower(log)
    answer_epoch(follower, log, EpochEndOffset(leader_epoch=5, end_offset=3))
    first = follower.poll(0)
    assert first is not None and follower.poll(1) is None, "one request in flight"
    retry = follower.poll(2 * TUNABLES.replica_fetch_max_wait_ticks + 1)
    assert retry is not None and retry.request_id != first.request_id
    assert not follower.accepts_fetch(first.request_id)
    assert follower.on_fetch_response(request_id=first.request_id, error=ErrorCode.NONE,
                                      high_watermark=3, diverging_epoch=None, history=log,
                                      now_tick=12) is None
    assert follower.leader_high_watermark == 0
    follower.on_fetch_response(request_id=retry.request_id,
                               error=ErrorCode.NOT_LEADER_OR_FOLLOWER, high_watermark=-1,
                               diverging_epoch=None, history=log, now_tick=12)
    assert follower.poll(13) is None and follower.poll(22) is not None


def test_follower_reports_a_new_log_end_only_once_it_is_flushed() -> None:
    log = history((5, 0), end=3)
    follower = make_follower(log)
    answer_epoch(follower, log, EpochEndOffset(leader_epoch=5, end_offset=3))
    request = follower.poll(0)
    assert request is not None
    follower.on_fetch_response(request_id=request.request_id, error=ErrorCode.NONE,
                               high_watermark=5, diverging_epoch=None, history=log, now_tick=0)
    follower.on_log_end(log_end_offset=5, last_epoch=5, flushed_offset=3)
    assert follower.high_watermark == 5 and follower.poll(1) is None
    follower.on_log_end(log_end_offset=5, last_epoch=5, flushed_offset=5)
    request = follower.poll(1)
    assert request is not None and request.fetch_offset == 5


def test_a_newer_leader_epoch_restarts_truncation_and_stale_ones_are_ignored() -> None:
    log = history((5, 0), end=3)
    follower = make_follower(log)
    answer_epoch(follower, log, EpochEndOffset(leader_epoch=5, end_offset=3))
    assert not follower.become_follower(leader_id=3, leader_epoch=5)
    assert follower.become_follower(leader_id=3, leader_epoch=6)
    request = follower.poll(0)
    assert request is not None and request.kind is FollowerRequestKind.OFFSET_FOR_LEADER_EPOCH
    assert (request.leader_id, request.current_leader_epoch) == (3, 6)


# --- idempotent producers ---------------------------------------------------------------


def produce(table: ProducerStateTable, seq: int, count: int, offset: int,
            epoch: int = 0, pid: int = 7) -> None:
    check = table.check(pid, epoch, seq, seq + count - 1)
    assert check.should_append, check
    table.on_batch_appended(pid, epoch, seq, seq + count - 1, offset, offset + count - 1)


def test_a_retried_batch_among_the_last_five_gets_its_original_offsets() -> None:
    table = ProducerStateTable(window=5)
    for i in range(6):
        produce(table, seq=2 * i, count=2, offset=100 + 2 * i)
    duplicate = table.check(7, 0, 2, 3).duplicate_of
    assert duplicate is not None and (duplicate.first_offset, duplicate.last_offset) == (
        102, 103)
    assert table.check(7, 0, 0, 1).error == ErrorCode.OUT_OF_ORDER_SEQUENCE, \
        "the sixth-newest batch has left the window"
    table.invariants()


def test_a_sequence_gap_is_out_of_order() -> None:
    table = ProducerStateTable()
    produce(table, seq=0, count=3, offset=0)
    assert table.check(7, 0, 4, 4).error == ErrorCode.OUT_OF_ORDER_SEQUENCE
    assert table.check(7, 0, 3, 3).should_append


def test_a_stale_producer_epoch_is_refused_and_a_new_epoch_restarts_at_zero() -> None:
    table = ProducerStateTable()
    produce(table, seq=0, count=3, offset=0, epoch=2)
    assert table.check(7, 1, 3, 3).error == ErrorCode.INVALID_PRODUCER_EPOCH
    assert table.check(7, 3, 5, 5).error == ErrorCode.OUT_OF_ORDER_SEQUENCE
    produce(table, seq=0, count=1, offset=3, epoch=3)
    assert table.producer_epoch(7) == 3 and len(table.batches(7)) == 1


def test_unknown_producers_start_at_zero_and_non_idempotent_batches_are_appended() -> None:
    table = ProducerStateTable()
    assert table.check(9, 0, 0, 3).should_append
    assert table.check(9, 0, 41, 41).error == ErrorCode.OUT_OF_ORDER_SEQUENCE, \
        "a later batch in flight never overtakes a lost first one"
    assert table.check(-1, -1, -1, -1).should_append


def test_sequences_wrap_after_int32_max() -> None:
    table = ProducerStateTable()
    table.on_batch_appended(7, 0, 2**31 - 2, 2**31 - 2, 0, 0)
    assert table.check(7, 0, 2**31 - 1, 2**31 - 1).should_append
    produce(table, seq=2**31 - 1, count=1, offset=1)
    assert table.check(7, 0, 0, 0).should_append


def test_a_new_leader_rebuilds_the_table_from_batch_headers() -> None:
    headers = [BatchHeader(producer_id=7, producer_epoch=0, base_sequence=3 * i,
                           record_count=3, base_offset=10 * i) for i in range(7)]
    table = ProducerStateTable.rebuild(headers, window=5)
    duplicate = table.check(7, 0, 18, 20).duplicate_of
    assert duplicate is not None and duplicate.first_offset == 60
    assert table.check(7, 0, 21, 22).should_append
    assert len(table.batches(7)) == 5


def test_a_rejected_addition_counts_for_the_hw_until_a_newer_partition_epoch_commits() -> None:
    """A retried copy of the proposal may still be committed after a rejection arrived."""
    leader = make_leader(isr=(1, 2), leo=4, hw=4)
    append(leader, 9)
    assert fetch(leader, 3, 4).effects.alter_partition is not None
    leader.on_alter_partition_rejected()
    fetch(leader, 2, 10)
    assert leader.high_watermark == 4, "replica 3 may yet be in the ISR"
    assert leader.on_metadata(leader_id=1, leader_epoch=5, partition_epoch=11,
                              isr=(1, 2)).high_watermark == 10


def test_a_follower_may_skip_offset_for_leader_epoch_and_truncate_on_its_first_fetch() -> None:
    log = history((1, 0), (3, 4), end=10)
    follower = FollowerState(topic="t", partition=0, replica_id=2, leader_id=1,
                             leader_epoch=5, log_end_offset=10, last_epoch=3,
                             high_watermark=0, truncate_on_fetch=True, tunables=TUNABLES)
    request = follower.poll(0)
    assert request is not None and request.kind is FollowerRequestKind.FETCH
    assert (request.fetch_offset, request.last_fetched_epoch) == (10, 3)
    decision = follower.on_fetch_response(
        request_id=request.request_id, error=ErrorCode.NONE, high_watermark=6,
        diverging_epoch=EpochEndOffset(leader_epoch=3, end_offset=7), history=log, now_tick=0)
    assert decision is not None and decision.truncate_to == 7


def test_timed_out_acks_do_not_accumulate_while_the_hw_is_stuck() -> None:
    leader = make_leader()
    append(leader, 0)
    for tick in range(1000):
        leader.add_pending_ack(tick, 0, ACKS_ALL, deadline_tick=tick)
        assert [a.key for a in leader.tick(tick).completed_acks] == [tick]
    assert sum(map(len, leader._acks_by_offset.values())) < 100


def test_a_fetch_left_with_a_fetcher_times_out_late_and_the_follower_knows_when() -> None:
    follower = FollowerState(topic="t", partition=0, replica_id=2, leader_id=1,
                             leader_epoch=5, log_end_offset=0, last_epoch=-1,
                             high_watermark=0, fetch_timeout_ticks=1_000, tunables=TUNABLES)
    request = follower.poll(7)
    assert request is not None and request.kind is FollowerRequestKind.FETCH
    assert follower.next_tick_due() == 7 + 1_000, "no wake-up before the long timeout"
    assert follower.poll(7 + 999) is None
    again = follower.poll(7 + 1_000)
    assert again is not None and again.request_id > request.request_id


def test_an_epoch_query_keeps_the_short_timeout() -> None:
    follower = FollowerState(topic="t", partition=0, replica_id=2, leader_id=1,
                             leader_epoch=5, log_end_offset=4, last_epoch=1,
                             high_watermark=0, fetch_timeout_ticks=1_000, tunables=TUNABLES)
    request = follower.poll(0)
    assert request is not None and request.kind is FollowerRequestKind.OFFSET_FOR_LEADER_EPOCH
    assert follower.next_tick_due() == 2 * 5 + 1


def test_a_fetch_asked_again_reads_without_counting_the_follower_as_there() -> None:
    """A held fetch answered later (its follower may have died meanwhile) must not put the
    follower back into the ISR, or the HW would wait for it until the leader gave up."""
    leader = make_leader(isr=(1, 3), leo=10, hw=10)
    decision = leader.on_follower_fetch(
        replica_id=2, fetch_offset=10, last_fetched_epoch=5, current_leader_epoch=5,
        now_tick=1, history=history((5, 0), end=10), record_progress=False)
    assert decision.error == ErrorCode.NONE and decision.max_offset == 10
    assert decision.effects.alter_partition is None
    assert leader.maximal_isr == {1, 3}
    proposal = fetch(leader, 2, 10, tick=2).effects.alter_partition
    assert proposal is not None and proposal.new_isr == (1, 2, 3), "a fresh fetch does"
