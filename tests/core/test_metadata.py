"""The metadata state machine: every command's effect and every rule that rejects one."""

from __future__ import annotations

import dataclasses

import pytest
from zafka.core.errors import ErrorCode
from zafka.core.messages import (
    AllocateProducerIds,
    AlterConfigs,
    AlterPartition,
    ChangeLeader,
    CommandResult,
    CreatePartitions,
    CreateTopic,
    DeleteTopic,
    FenceBroker,
    MetadataFetchRequest,
    RegisterBroker,
    UnfenceBroker,
)
from zafka.core.metadata import (
    MetadataCommand,
    MetadataState,
    metadata_fetch_reply,
    replica_changes,
    replicas_for_broker,
)

ASSIGNMENT = ((1, 2, 3), (2, 3, 1))


def cluster(brokers: int = 3) -> MetadataState:
    state = MetadataState()
    for b in range(1, brokers + 1):
        epoch = state.apply(RegisterBroker(broker_id=b, address=f"tcp://h:{b}",
                                           incarnation=f"i{b}")).value
        assert state.apply(UnfenceBroker(broker_id=b, broker_epoch=epoch)).error == 0
    return state


def with_topic(
    state: MetadataState, configs: tuple[tuple[str, str | int | bool], ...] = (),
) -> MetadataState:
    result = state.apply(CreateTopic(topic_id="id-t", name="t", assignment=ASSIGNMENT,
                                     configs=configs))
    assert result.error == ErrorCode.NONE, result
    return state


def rejected(state: MetadataState, command: MetadataCommand) -> CommandResult:
    """Apply a command that must be refused; check nothing but the offset changed."""
    before = state.snapshot()
    result = state.apply(command)
    assert result.error != ErrorCode.NONE
    assert state.snapshot() == dataclasses.replace(before, offset=state.offset)
    state.invariants()
    return result


def epoch(state: MetadataState, broker: int) -> int:
    return state.brokers[broker].broker_epoch


# --- brokers ---------------------------------------------------------------------------


def test_registration_gets_the_offset_as_epoch_and_starts_fenced() -> None:
    state = MetadataState()
    result = state.apply(RegisterBroker(broker_id=1, address="a", incarnation="x"), offset=5)
    assert result == CommandResult(value=5)
    assert state.brokers[1].fenced and state.brokers[1].broker_epoch == 5 and state.offset == 5


def test_registering_the_same_incarnation_again_keeps_the_epoch() -> None:
    state = cluster(1)
    first = epoch(state, 1)
    assert state.apply(RegisterBroker(broker_id=1, address="tcp://h:1", incarnation="i1")
                       ).value == first
    assert not state.brokers[1].fenced


def test_a_new_incarnation_gets_a_new_epoch_and_is_fenced() -> None:
    state = cluster(1)
    old = epoch(state, 1)
    assert state.apply(RegisterBroker(broker_id=1, address="a", incarnation="i1-again")
                       ).value > old
    assert state.brokers[1].fenced


def test_registration_needs_id_address_and_incarnation() -> None:
    result = rejected(MetadataState(), RegisterBroker(broker_id=-1, address="", incarnation=""))
    assert result.error == ErrorCode.INVALID_REQUEST


def test_fence_and_unfence_need_the_current_broker_epoch() -> None:
    state = cluster(2)
    assert state.apply(FenceBroker(broker_id=1, broker_epoch=epoch(state, 1))).error == 0
    assert state.brokers[1].fenced
    assert rejected(state, UnfenceBroker(broker_id=1, broker_epoch=epoch(state, 1) + 99)
                    ).error == ErrorCode.STALE_BROKER_EPOCH
    assert rejected(state, FenceBroker(broker_id=7, broker_epoch=0)
                    ).error == ErrorCode.STALE_BROKER_EPOCH
    assert state.apply(UnfenceBroker(broker_id=1, broker_epoch=epoch(state, 1))).error == 0
    assert state.live_broker_ids() == (1, 2)


# --- topics ----------------------------------------------------------------------------


def test_create_topic_elects_the_first_replica_with_a_full_isr() -> None:
    state = with_topic(cluster(), (("retention.ms", "1000"),))
    p0, p1 = state.topic_partitions("t")
    assert (p0.leader, p0.isr, p0.leader_epoch, p0.partition_epoch) == (1, (1, 2, 3), 0, 0)
    assert p1.leader == 2 and p1.replicas == (2, 3, 1)
    assert state.topic_config("t")["retention.ms"] == 1000
    state.invariants()


def test_create_topic_leaves_fenced_replicas_out_of_the_isr() -> None:
    state = cluster()
    state.apply(FenceBroker(broker_id=1, broker_epoch=epoch(state, 1)))
    with_topic(state)
    assert state.partitions[("t", 0)].leader == 2
    assert state.partitions[("t", 0)].isr == (2, 3)


@pytest.mark.parametrize("command, code", [
    (CreateTopic(topic_id="x", name="t", assignment=ASSIGNMENT), "TOPIC_ALREADY_EXISTS"),
    (CreateTopic(topic_id="id-t", name="u", assignment=ASSIGNMENT), "INVALID_REQUEST"),
    (CreateTopic(topic_id="x", name="bad name", assignment=ASSIGNMENT), "INVALID_TOPIC"),
    (CreateTopic(topic_id="x", name="__x", assignment=ASSIGNMENT), "INVALID_TOPIC"),
    (CreateTopic(topic_id="x", name="u", assignment=()), "INVALID_PARTITIONS"),
    (CreateTopic(topic_id="x", name="u", assignment=((1, 9),)), "INVALID_REPLICA_ASSIGNMENT"),
    (CreateTopic(topic_id="x", name="u", assignment=((1, 1),)), "INVALID_REPLICA_ASSIGNMENT"),
    (CreateTopic(topic_id="x", name="u", assignment=((1,),), configs=(("nope", 1),)),
     "INVALID_CONFIG"),
    (CreateTopic(topic_id="x", name="u", assignment=((1,),),
                 configs=(("min.insync.replicas", 2),)), "INVALID_CONFIG"),
])
def test_create_topic_rejections(command: CreateTopic, code: str) -> None:
    assert rejected(with_topic(cluster()), command).error == ErrorCode[code]


def test_create_topic_on_fenced_brokers_only_is_refused() -> None:
    state = cluster()
    state.apply(FenceBroker(broker_id=3, broker_epoch=epoch(state, 3)))
    result = rejected(state, CreateTopic(topic_id="x", name="u", assignment=((3,),)))
    assert result.error == ErrorCode.INVALID_REPLICATION_FACTOR


def test_internal_topics_may_use_the_reserved_prefix() -> None:
    state = cluster()
    result = state.apply(CreateTopic(topic_id="x", name="__consumer_offsets",
                                     assignment=((1,),), internal=True))
    assert result.error == 0 and state.topics["__consumer_offsets"].internal


def test_delete_topic_removes_it_and_its_partitions() -> None:
    state = with_topic(cluster())
    assert state.apply(DeleteTopic(name="t", topic_id="id-t")).error == 0
    assert not state.topics and not state.partitions
    state.invariants()


def test_delete_topic_needs_the_right_name_and_id() -> None:
    state = with_topic(cluster())
    for command in (DeleteTopic(name="u", topic_id="id-t"), DeleteTopic(name="t", topic_id="old")):
        assert rejected(state, command).error == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION


def test_create_partitions_appends_new_partitions() -> None:
    state = with_topic(cluster())
    result = state.apply(CreatePartitions(name="t", topic_id="id-t", total_count=3,
                                          assignment=((3, 1, 2),)))
    assert result.error == 0 and state.topics["t"].num_partitions == 3
    assert state.partitions[("t", 2)].leader == 3
    state.invariants()


@pytest.mark.parametrize("total, assignment, code", [
    (2, (), "INVALID_PARTITIONS"),
    (1, (), "INVALID_PARTITIONS"),
    (4, ((3, 1, 2),), "INVALID_PARTITIONS"),
    (3, ((3, 1),), "INVALID_REPLICATION_FACTOR"),
    (3, ((3, 1, 9),), "INVALID_REPLICA_ASSIGNMENT"),
])
def test_create_partitions_rejections(
    total: int, assignment: tuple[tuple[int, ...], ...], code: str,
) -> None:
    state = with_topic(cluster())
    command = CreatePartitions(name="t", topic_id="id-t", total_count=total,
                               assignment=assignment)
    assert rejected(state, command).error == ErrorCode[code]
    assert rejected(state, dataclasses.replace(command, name="u")
                    ).error == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION


def test_alter_configs_sets_and_deletes_overrides() -> None:
    state = with_topic(cluster(), (("retention.ms", 5),))
    result = state.apply(AlterConfigs(name="t", set_configs=(("cleanup.policy", "compact"),),
                                      delete_configs=("retention.ms",)))
    assert result.error == 0
    assert state.topics["t"].configs == (("cleanup.policy", "compact"),)
    assert state.topic_config("t")["retention.ms"] == 7 * 24 * 3600 * 1000


@pytest.mark.parametrize("command, code", [
    (AlterConfigs(name="u"), "UNKNOWN_TOPIC_OR_PARTITION"),
    (AlterConfigs(name="t", set_configs=(("retention.ms", "x"),)), "INVALID_CONFIG"),
    (AlterConfigs(name="t", delete_configs=("nope",)), "INVALID_CONFIG"),
    (AlterConfigs(name="t", set_configs=(("min.insync.replicas", 4),)), "INVALID_CONFIG"),
    (AlterConfigs(name="t", set_configs=(("segment.ms", 4),), delete_configs=("segment.ms",)),
     "INVALID_CONFIG"),
])
def test_alter_configs_rejections(command: AlterConfigs, code: str) -> None:
    assert rejected(with_topic(cluster()), command).error == ErrorCode[code]


# --- partitions ------------------------------------------------------------------------


def test_change_leader_bumps_both_epochs_and_orders_the_isr_by_replicas() -> None:
    state = with_topic(cluster())
    result = state.apply(ChangeLeader(topic="t", partition=0, partition_epoch=0, leader=3,
                                      isr=(3, 2)))
    assert result.partition is not None
    assert (result.partition.leader, result.partition.isr) == (3, (2, 3))
    assert (result.partition.leader_epoch, result.partition.partition_epoch) == (1, 1)
    assert state.partitions[("t", 0)] == result.partition


def test_isr_only_change_keeps_the_leader_epoch() -> None:
    state = with_topic(cluster())
    result = state.apply(ChangeLeader(topic="t", partition=0, partition_epoch=0, leader=1,
                                      isr=(1,)))
    assert result.partition is not None
    assert (result.partition.leader_epoch, result.partition.partition_epoch) == (0, 1)


def test_offline_partition_keeps_its_last_isr() -> None:
    state = with_topic(cluster())
    state.apply(ChangeLeader(topic="t", partition=0, partition_epoch=0, leader=-1, isr=(1,)))
    record = state.partitions[("t", 0)]
    assert (record.leader, record.isr, record.leader_epoch) == (-1, (1,), 1)


@pytest.mark.parametrize("change, code", [
    (dict(partition=5), "UNKNOWN_TOPIC_OR_PARTITION"),
    (dict(partition_epoch=1), "FENCED_LEADER_EPOCH"),
    (dict(isr=()), "INVALID_REQUEST"),
    (dict(isr=(1, 4)), "INVALID_REQUEST"),
    (dict(leader=2, isr=(1, 3)), "INVALID_REQUEST"),
    (dict(leader=3, isr=(3,)), "INVALID_REQUEST"),  # broker 3 is fenced below
])
def test_change_leader_rejections(change: dict[str, object], code: str) -> None:
    state = with_topic(cluster())
    state.apply(FenceBroker(broker_id=3, broker_epoch=epoch(state, 3)))
    command = dataclasses.replace(
        ChangeLeader(topic="t", partition=0, partition_epoch=0, leader=2, isr=(2,)), **change)
    assert rejected(state, command).error == ErrorCode[code]


def alter(state: MetadataState, **change: object) -> AlterPartition:
    command = AlterPartition(topic="t", partition=0, broker_id=1,
                             broker_epoch=epoch(state, 1), leader_epoch=0, partition_epoch=0,
                             new_isr=(1, 2))
    return dataclasses.replace(command, **change)  # type: ignore[arg-type]


def test_alter_partition_from_the_leader_changes_the_isr() -> None:
    state = with_topic(cluster())
    result = state.apply(alter(state))
    assert result.error == 0 and result.partition is not None
    assert (result.partition.isr, result.partition.partition_epoch) == ((1, 2), 1)
    assert result.partition.leader_epoch == 0
    grown = state.apply(alter(state, partition_epoch=1, new_isr=(1, 2, 3)))
    assert grown.error == 0 and state.partitions[("t", 0)].isr == (1, 2, 3)


@pytest.mark.parametrize("change, code", [
    (dict(partition_epoch=7), "FENCED_LEADER_EPOCH"),
    (dict(leader_epoch=3), "FENCED_LEADER_EPOCH"),
    (dict(broker_epoch=12345), "STALE_BROKER_EPOCH"),
    (dict(broker_id=2), "NOT_LEADER_OR_FOLLOWER"),
    (dict(new_isr=(2, 3)), "INVALID_REQUEST"),
    (dict(new_isr=(1, 5)), "INVALID_REQUEST"),
    (dict(new_isr=()), "INVALID_REQUEST"),
    (dict(topic="u"), "UNKNOWN_TOPIC_OR_PARTITION"),
])
def test_alter_partition_rejections(change: dict[str, object], code: str) -> None:
    state = with_topic(cluster())
    if change.get("broker_id") == 2:
        change["broker_epoch"] = epoch(state, 2)
    assert rejected(state, alter(state, **change)).error == ErrorCode[code]


def test_a_fenced_broker_cannot_join_the_isr() -> None:
    state = with_topic(cluster())
    state.apply(alter(state, new_isr=(1, 2)))
    state.apply(FenceBroker(broker_id=3, broker_epoch=epoch(state, 3)))
    result = rejected(state, alter(state, partition_epoch=1, new_isr=(1, 2, 3)))
    assert result.error == ErrorCode.INVALID_REQUEST and "fenced" in result.message


def test_producer_id_blocks_do_not_overlap() -> None:
    state = cluster()
    first = state.apply(AllocateProducerIds(broker_id=1, broker_epoch=epoch(state, 1), count=10))
    second = state.apply(AllocateProducerIds(broker_id=2, broker_epoch=epoch(state, 2), count=5))
    assert (first.value, second.value, state.next_producer_id) == (0, 10, 15)
    assert rejected(state, AllocateProducerIds(broker_id=1, broker_epoch=0, count=1)
                    ).error == ErrorCode.STALE_BROKER_EPOCH
    assert rejected(state, AllocateProducerIds(broker_id=1, broker_epoch=epoch(state, 1),
                                               count=0)).error == ErrorCode.INVALID_REQUEST


# --- snapshots, determinism, images ----------------------------------------------------


def history() -> list[MetadataCommand]:
    return [
        RegisterBroker(broker_id=1, address="a", incarnation="x"),
        RegisterBroker(broker_id=2, address="b", incarnation="y"),
        UnfenceBroker(broker_id=1, broker_epoch=1),
        UnfenceBroker(broker_id=2, broker_epoch=2),
        CreateTopic(topic_id="i", name="t", assignment=((1, 2), (2, 1)),
                    configs=(("retention.ms", 9),)),
        CreateTopic(topic_id="i", name="t", assignment=((1, 2),)),  # rejected
        AlterPartition(topic="t", partition=1, broker_id=2, broker_epoch=2, leader_epoch=0,
                       partition_epoch=0, new_isr=(2,)),
        AllocateProducerIds(broker_id=1, broker_epoch=1, count=1000),
        CreatePartitions(name="t", topic_id="i", total_count=3, assignment=((2, 1),)),
        FenceBroker(broker_id=1, broker_epoch=1),
        ChangeLeader(topic="t", partition=0, partition_epoch=0, leader=2, isr=(2,)),
    ]


def test_same_commands_give_the_same_state_and_results() -> None:
    first, second = MetadataState(), MetadataState()
    results = [first.apply(c) for c in history()]
    assert results == [second.apply(c) for c in history()]
    assert first.snapshot() == second.snapshot()
    assert [r.error for r in results].count(ErrorCode.TOPIC_ALREADY_EXISTS) == 1


def test_snapshot_restore_round_trip() -> None:
    state = MetadataState()
    for command in history():
        state.apply(command)
        state.invariants()
    restored = MetadataState.restore(state.snapshot())
    assert restored.snapshot() == state.snapshot()
    more = UnfenceBroker(broker_id=1, broker_epoch=1)
    assert restored.apply(more) == state.apply(more)
    assert restored.snapshot() == state.snapshot()


def test_replicas_for_broker_and_replica_changes() -> None:
    state = with_topic(cluster(4))
    old = state.snapshot()
    assert [p.partition for p in replicas_for_broker(old, 1)] == [0, 1]
    assert replicas_for_broker(old, 4) == ()
    first = replica_changes(None, old, 1)
    assert [p.partition for p in first.leading] == [0]
    assert [p.partition for p in first.following] == [1]
    state.apply(ChangeLeader(topic="t", partition=0, partition_epoch=0, leader=2, isr=(2, 3)))
    moved = replica_changes(old, state.snapshot(), 1)
    assert moved.leading == () and [p.leader for p in moved.following] == [2]
    state.apply(DeleteTopic(name="t", topic_id="id-t"))
    gone = replica_changes(old, state.snapshot(), 1)
    assert [p.partition for p in gone.removed] == [0, 1]


def test_metadata_fetch_answers_only_when_there_is_something_newer() -> None:
    state = cluster(1)
    assert metadata_fetch_reply(state, MetadataFetchRequest(
        broker_id=1, known_offset=state.offset, max_wait_ticks=5)) is None
    reply = metadata_fetch_reply(state, MetadataFetchRequest(
        broker_id=1, known_offset=0, max_wait_ticks=5))
    assert reply is not None and reply.offset == state.offset
    assert reply.image == state.snapshot()


def test_offsets_must_increase() -> None:
    state = cluster(1)
    with pytest.raises(AssertionError):
        state.apply(UnfenceBroker(broker_id=1, broker_epoch=1), offset=state.offset)
