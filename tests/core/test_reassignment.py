"""Partition reassignment (KIP-455): start, completion by the controller, cancel, validation.

Each test drives the real controller and metadata state machine; the controller's proposals
commit at once (``tests.core.test_controller.Cluster``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from zafka.core.errors import ErrorCode
from zafka.core.messages import (
    AlterPartition,
    AlterPartitionReassignment,
    AlterPartitionReassignmentsRequest,
    AlterPartitionRequest,
    CompletePartitionReassignment,
    CreateTopicsRequest,
    ElectionType,
    ElectLeadersRequest,
    ListPartitionReassignmentsRequest,
    NewTopic,
    OngoingReassignment,
    PartitionRecord,
)
from zafka.core.metadata import MetadataState, replica_changes
from zafka.core.placement import decommission_plan
from zafka.core.reassignment import original_replicas, target_replicas

from tests.core.test_controller import Cluster


def make(brokers: int = 4, assignment: tuple[tuple[int, ...], ...] = ((1, 2, 3),)) -> Cluster:
    cluster = Cluster(brokers)
    reply = cluster.request(CreateTopicsRequest(topics=(NewTopic(name="t",
                                                                 assignment=assignment),)))
    assert reply.results[0].error == ErrorCode.NONE
    return cluster


def reassign(cluster: Cluster, *items: tuple[str, int, tuple[int, ...] | None]) -> Any:
    reply = cluster.request(AlterPartitionReassignmentsRequest(reassignments=items))
    cluster.state.invariants()
    return reply


def join_isr(cluster: Cluster, *brokers: int, index: int = 0) -> PartitionRecord:
    """The partition leader reports ``brokers`` caught up (AlterPartition), as a leader does."""
    record = cluster.partition("t", index)
    reply = cluster.request(AlterPartitionRequest(
        broker_id=record.leader, broker_epoch=cluster.state.brokers[record.leader].broker_epoch,
        topic="t", partition=index, leader_epoch=record.leader_epoch,
        partition_epoch=record.partition_epoch, new_isr=tuple(sorted({*record.isr, *brokers}))))
    assert reply.error == ErrorCode.NONE, reply
    return cluster.partition("t", index)


def completions(commands: list[Any]) -> list[CompletePartitionReassignment]:
    return [c for c in commands if isinstance(c, CompletePartitionReassignment)]


ALIVE = (1, 2, 3, 4)


# --- starting ---------------------------------------------------------------------------


def test_start_makes_replicas_the_union_with_the_target_first() -> None:
    cluster = make()
    before = cluster.partition()
    reply = reassign(cluster, ("t", 0, (2, 3, 4)))
    assert reply.results[0].error == ErrorCode.NONE
    record = cluster.partition()
    assert record.replicas == (2, 3, 4, 1), "target first (preferred leader), then removing"
    assert (record.adding_replicas, record.removing_replicas) == ((4,), (1,))
    assert record.isr == (2, 3, 1) and record.leader == before.leader == 1
    assert record.partition_epoch == before.partition_epoch + 1
    assert record.leader_epoch == before.leader_epoch + 1, \
        "a new replica set starts a new leader epoch so the leader learns its new follower"


def test_the_new_replica_starts_on_its_broker_and_the_old_one_stops_at_completion() -> None:
    cluster = make()
    image0 = cluster.state.snapshot()
    reassign(cluster, ("t", 0, (2, 3, 4)))
    image1 = cluster.state.snapshot()
    started = replica_changes(image0, image1, 4)
    assert [p.partition for p in started.following] == [0] and not started.removed
    join_isr(cluster, 4)
    cluster.tick(3, alive=ALIVE)
    removed = replica_changes(image1, cluster.state.snapshot(), 1)
    assert [p.partition for p in removed.removed] == [0], "broker 1 stops it, deletes its log"


def test_no_completion_while_an_adding_replica_is_out_of_sync() -> None:
    cluster = make()
    reassign(cluster, ("t", 0, (2, 3, 4)))
    assert completions(cluster.tick(5, alive=ALIVE)) == []
    assert cluster.partition().adding_replicas == (4,)


def test_completion_when_the_adding_replicas_join_the_isr_moves_a_leaving_leader() -> None:
    cluster = make()
    reassign(cluster, ("t", 0, (2, 3, 4)))
    started = join_isr(cluster, 4)
    proposed = completions(cluster.tick(3, alive=ALIVE))
    assert proposed == [CompletePartitionReassignment(
        topic="t", partition=0, partition_epoch=started.partition_epoch, leader=2)]
    record = cluster.partition()
    assert record.replicas == (2, 3, 4) and record.isr == (2, 3, 4)
    assert (record.adding_replicas, record.removing_replicas) == ((), ())
    assert record.leader == 2, "the leaving leader hands over to the target's first replica"
    assert record.leader_epoch == started.leader_epoch + 1


def test_a_leader_that_stays_keeps_leading_and_target_order_is_kept() -> None:
    cluster = make()
    reassign(cluster, ("t", 0, (4, 1, 2)))
    join_isr(cluster, 4)
    cluster.tick(3, alive=ALIVE)
    record = cluster.partition()
    assert (record.replicas, record.isr, record.leader) == ((4, 1, 2), (4, 1, 2), 1)


def test_a_leaving_leader_hands_over_to_the_first_live_in_sync_target_replica() -> None:
    cluster = make()
    reassign(cluster, ("t", 0, (2, 3, 4)))
    cluster.tick(12, alive=(1, 3, 4))  # broker 2 is fenced and leaves the ISR
    assert completions(cluster.tick(1, alive=(1, 3, 4))) == []
    join_isr(cluster, 4)
    cluster.tick(3, alive=(1, 3, 4))
    record = cluster.partition()
    assert (record.replicas, record.isr, record.leader) == ((2, 3, 4), (3, 4), 3)


def test_isr_becomes_isr_intersect_target_even_if_a_staying_replica_lags() -> None:
    cluster = make()
    reassign(cluster, ("t", 0, (2, 3, 4)))
    record = cluster.partition()
    shrink = AlterPartitionRequest(
        broker_id=1, broker_epoch=cluster.state.brokers[1].broker_epoch, topic="t", partition=0,
        leader_epoch=record.leader_epoch, partition_epoch=record.partition_epoch, new_isr=(1, 2))
    assert cluster.request(shrink).error == ErrorCode.NONE
    join_isr(cluster, 4)
    cluster.tick(3, alive=ALIVE)
    record = cluster.partition()
    assert (record.replicas, record.isr, record.leader) == ((2, 3, 4), (2, 4), 2)


def test_replication_factor_may_grow_and_shrink_and_removal_alone_completes_at_once() -> None:
    cluster = make()
    reassign(cluster, ("t", 0, (1, 2, 3, 4)))
    join_isr(cluster, 4)
    cluster.tick(3, alive=ALIVE)
    assert cluster.partition().replicas == (1, 2, 3, 4)
    assert cluster.state.replication_factor("t") == 4
    reassign(cluster, ("t", 0, (3,)))
    assert cluster.state.replication_factor("t") == 1, "counted by the target"
    cluster.tick(3, alive=ALIVE)
    record = cluster.partition()
    assert (record.replicas, record.isr, record.leader) == ((3,), (3,), 3)


def test_elections_and_isr_changes_during_a_reassignment_keep_it() -> None:
    cluster = make()
    reassign(cluster, ("t", 0, (2, 3, 4)))
    cluster.tick(12, alive=(2, 3, 4))  # the leader, broker 1, is fenced: 2 is elected
    record = cluster.partition()
    assert record.leader == 2 and 1 not in record.isr
    assert (record.adding_replicas, record.removing_replicas) == ((4,), (1,))
    join_isr(cluster, 4)
    cluster.tick(3, alive=(2, 3, 4))
    assert cluster.partition().replicas == (2, 3, 4)


# --- cancelling and retargeting ---------------------------------------------------------


def test_cancel_reverts_to_the_original_replicas_and_drops_the_adding_ones() -> None:
    cluster = make()
    reassign(cluster, ("t", 0, (2, 3, 4)))
    join_isr(cluster, 4, index=0)
    record = cluster.partition()
    cancelled = dataclasses.replace(record, replicas=(2, 3, 1))
    assert original_replicas(record) == (2, 3, 1)
    reply = reassign(cluster, ("t", 0, None))
    assert reply.results[0].error == ErrorCode.NONE
    after = cluster.partition()
    assert after.replicas == cancelled.replicas and after.isr == (2, 3, 1)
    assert (after.adding_replicas, after.removing_replicas, after.leader) == ((), (), 1)
    assert completions(cluster.tick(3, alive=ALIVE)) == []


def test_cancel_moves_leadership_off_an_adding_replica() -> None:
    cluster = make()
    reassign(cluster, ("t", 0, (4, 1, 2)))
    join_isr(cluster, 4)  # no tick yet: the reassignment is still in progress
    reply = cluster.request(ElectLeadersRequest(election_type=ElectionType.PREFERRED,
                                                partitions=(("t", 0),)))
    assert reply.results[0].error == ErrorCode.NONE
    assert (cluster.partition().leader, cluster.partition().adding_replicas) == (4, (4,))
    reassign(cluster, ("t", 0, None))
    after = cluster.partition()
    assert (after.replicas, after.isr, after.leader) == ((1, 2, 3), (1, 2, 3), 1)


def test_a_new_target_replaces_an_ongoing_reassignment_from_the_original_replicas() -> None:
    cluster = make(brokers=5)
    reassign(cluster, ("t", 0, (2, 3, 4)))
    assert reassign(cluster, ("t", 0, (1, 2, 5))).results[0].error == ErrorCode.NONE
    record = cluster.partition()
    assert record.replicas == (1, 2, 5, 3), "4 was joining and is dropped at once"
    assert (record.adding_replicas, record.removing_replicas) == ((5,), (3,))
    assert target_replicas(record) == (1, 2, 5)


def test_cancel_without_a_reassignment_is_refused() -> None:
    cluster = make()
    reply = reassign(cluster, ("t", 0, None))
    assert reply.results[0].error == ErrorCode.INVALID_REQUEST
    assert "no reassignment" in reply.results[0].message


# --- validation, idempotence, stale decisions -------------------------------------------


@pytest.mark.parametrize(("item", "code"), [
    (("nope", 0, (1, 2)), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
    (("t", 7, (1, 2)), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
    (("t", 0, (1, 9)), ErrorCode.INVALID_REPLICA_ASSIGNMENT),
    (("t", 0, (2, 2, 4)), ErrorCode.INVALID_REPLICA_ASSIGNMENT),
    (("t", 0, ()), ErrorCode.INVALID_REPLICATION_FACTOR),
])
def test_invalid_reassignments_are_refused_per_partition(
    item: tuple[str, int, tuple[int, ...]], code: ErrorCode,
) -> None:
    cluster = make(assignment=((1, 2, 3), (2, 3, 1)))
    reply = reassign(cluster, item, ("t", 1, (2, 3, 4)))
    assert reply.results[0].error == code and reply.results[0].message
    assert reply.results[1].error == ErrorCode.NONE, "the valid item is still carried out"
    assert cluster.partition("t", 0).partition_epoch == 0
    assert cluster.partition("t", 1).adding_replicas == (4,)


def test_a_partition_named_twice_in_one_request_is_refused_the_second_time() -> None:
    cluster = make()
    reply = reassign(cluster, ("t", 0, (2, 3, 4)), ("t", 0, (1, 2, 4)))
    assert [r.error for r in reply.results] == [ErrorCode.NONE, ErrorCode.INVALID_REQUEST]


def test_reassigning_to_the_current_replicas_changes_nothing() -> None:
    cluster = make()
    decision = cluster.controller.handle(AlterPartitionReassignmentsRequest(
        reassignments=(("t", 0, (1, 2, 3)),)), cluster.now)
    assert decision.commands == () and decision.reply(()).results[0].error == ErrorCode.NONE
    reassign(cluster, ("t", 0, (2, 3, 4)))
    epoch = cluster.partition().partition_epoch
    assert reassign(cluster, ("t", 0, (2, 3, 4))).results[0].error == ErrorCode.NONE
    assert cluster.partition().partition_epoch == epoch, "executing a plan twice is harmless"


def test_commands_decided_on_a_stale_partition_epoch_are_rejected() -> None:
    cluster = make()
    decision = cluster.controller.handle(AlterPartitionReassignmentsRequest(
        reassignments=(("t", 0, (2, 3, 4)),)), cluster.now)
    start = decision.commands[0]
    assert isinstance(start, AlterPartitionReassignment)
    join_isr(cluster, 1)  # any committed change to the partition moves its epoch on
    assert cluster.state.apply(start).error == ErrorCode.FENCED_LEADER_EPOCH
    reassign(cluster, ("t", 0, (2, 3, 4)))
    record = join_isr(cluster, 4)
    stale = CompletePartitionReassignment(topic="t", partition=0,
                                          partition_epoch=record.partition_epoch - 1, leader=2)
    assert cluster.state.apply(stale).error == ErrorCode.FENCED_LEADER_EPOCH


def test_completion_before_the_adding_replicas_are_in_sync_is_refused() -> None:
    cluster = make()
    reassign(cluster, ("t", 0, (2, 3, 4)))
    record = cluster.partition()
    early = CompletePartitionReassignment(topic="t", partition=0,
                                          partition_epoch=record.partition_epoch, leader=2)
    result = cluster.state.apply(early)
    assert result.error == ErrorCode.INVALID_REQUEST and "[4]" in result.message


def test_list_reports_ongoing_reassignments_only() -> None:
    cluster = make(assignment=((1, 2, 3), (2, 3, 1)))
    reassign(cluster, ("t", 1, (2, 3, 4)))
    reply = cluster.request(ListPartitionReassignmentsRequest())
    assert reply.reassignments == (OngoingReassignment(
        topic="t", partition=1, replicas=(2, 3, 4, 1), adding_replicas=(4,),
        removing_replicas=(1,)),)
    named = cluster.request(ListPartitionReassignmentsRequest(partitions=(("t", 0), ("x", 1))))
    assert named.reassignments == ()


def test_snapshot_and_restore_keep_an_ongoing_reassignment() -> None:
    cluster = make()
    reassign(cluster, ("t", 0, (2, 3, 4)))
    state = cluster.state
    restored = MetadataState.restore(state.snapshot())
    assert restored.snapshot() == state.snapshot()
    assert restored.partitions[("t", 0)].adding_replicas == (4,)
    record = state.partitions[("t", 0)]
    join = AlterPartition(topic="t", partition=0, broker_id=1,
                          broker_epoch=state.brokers[1].broker_epoch,
                          leader_epoch=record.leader_epoch,
                          partition_epoch=record.partition_epoch, new_isr=(1, 2, 3, 4))
    complete = CompletePartitionReassignment(topic="t", partition=0,
                                             partition_epoch=record.partition_epoch + 1, leader=2)
    for command in (join, complete):
        assert restored.apply(command) == state.apply(command)
        assert restored.snapshot() == state.snapshot()
    assert restored.partitions[("t", 0)].replicas == (2, 3, 4)


# --- preferred leaders after a move -----------------------------------------------------


def test_preferred_election_moves_leadership_to_the_new_first_replica() -> None:
    cluster = make()
    reassign(cluster, ("t", 0, (4, 1, 2)))
    join_isr(cluster, 4)
    cluster.tick(3, alive=ALIVE)
    assert cluster.partition().leader == 1
    reply = cluster.request(ElectLeadersRequest(election_type=ElectionType.PREFERRED))
    assert [r.error for r in reply.results] == [ErrorCode.NONE]
    assert cluster.partition().leader == 4


# --- decommission plans -----------------------------------------------------------------


def test_decommission_plan_replaces_the_broker_in_place_on_the_least_loaded() -> None:
    assignment = {("a", 0): (1, 2, 3), ("a", 1): (2, 3, 1), ("a", 2): (3, 1, 2),
                  ("b", 0): (2, 3)}
    plan = decommission_plan(assignment, 1, (1, 2, 3, 4, 5))
    assert set(plan) == {("a", 0), ("a", 1), ("a", 2)}
    assert plan[("a", 0)] == (4, 2, 3) and plan[("a", 1)] == (2, 3, 5)
    assert plan[("a", 2)] == (3, 4, 2)
    assert all(1 not in r and len(set(r)) == 3 for r in plan.values())


def test_decommission_plan_refuses_when_a_replication_factor_cannot_be_kept() -> None:
    from zafka.core.errors import InvalidReplicationFactor

    with pytest.raises(InvalidReplicationFactor, match="topic 'a' has replication factor 3"):
        decommission_plan({("a", 0): (1, 2, 3), ("b", 0): (2,)}, 1, (1, 2, 3))
