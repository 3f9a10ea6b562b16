"""The controller: session timeouts, ISR-only elections, admin requests turned into commands."""

from __future__ import annotations

import random
from typing import Any

from zafka.core.config import Tunables
from zafka.core.controller import Controller, Decision, elect_leader
from zafka.core.errors import ErrorCode
from zafka.core.messages import (
    AllocateProducerIdsRequest,
    AlterConfigsRequest,
    AlterPartitionRequest,
    AlterTopicConfigs,
    BrokerHeartbeatRequest,
    BrokerRegistrationRequest,
    ChangeLeader,
    CreatePartitionsRequest,
    CreateTopicsRequest,
    DeleteTopicsRequest,
    DescribeConfigsRequest,
    DescribeTopicsRequest,
    ElectionType,
    ElectLeadersRequest,
    FenceBroker,
    ListTopicsRequest,
    NewPartitions,
    NewTopic,
    PartitionRecord,
)
from zafka.core.metadata import MetadataCommand, MetadataState

TUNABLES = Tunables(broker_heartbeat_ticks=2, broker_session_timeout_ticks=10,
                    controller_retry_ticks=2)


class Cluster:
    """A controller whose proposals commit at once (the coordinator's job, done inline)."""

    def __init__(self, brokers: int = 3) -> None:
        self.state = MetadataState()
        self.controller = Controller(self.state, random.Random(1), now_tick=0, tunables=TUNABLES)
        self.now = 0
        for b in range(1, brokers + 1):
            self.register(b)

    def run(self, decision: Decision) -> Any:
        return decision.reply(tuple(self.state.apply(c) for c in decision.commands))

    def request(self, request: Any) -> Any:
        return self.run(self.controller.handle(request, self.now))

    def register(self, broker: int, incarnation: str = "") -> int:
        reply = self.request(BrokerRegistrationRequest(
            broker_id=broker, address=f"tcp://h:{broker}", incarnation=incarnation or f"i{broker}"))
        assert reply.error == ErrorCode.NONE
        assert self.heartbeat(broker).is_fenced is False
        return int(reply.broker_epoch)

    def heartbeat(self, broker: int, **fields: Any) -> Any:
        return self.request(BrokerHeartbeatRequest(
            broker_id=broker, broker_epoch=self.state.brokers[broker].broker_epoch,
            metadata_offset=self.state.offset, **fields))

    def tick(self, ticks: int = 1, alive: tuple[int, ...] = ()) -> list[MetadataCommand]:
        """Advance time; brokers in ``alive`` heartbeat every tick; apply what is proposed."""
        proposed: list[MetadataCommand] = []
        for _ in range(ticks):
            self.now += 1
            for b in alive:
                self.heartbeat(b)
            commands = self.controller.tick(self.now)
            for command in commands:
                assert self.state.apply(command).error == ErrorCode.NONE, command
            self.state.invariants()
            proposed += commands
        return proposed

    def create(self, name: str = "t", partitions: int = 3, factor: int = 3,
               configs: tuple[tuple[str, str | int | bool], ...] = ()) -> Any:
        return self.request(CreateTopicsRequest(topics=(NewTopic(
            name=name, num_partitions=partitions, replication_factor=factor,
            configs=configs),)))

    def partition(self, name: str = "t", index: int = 0) -> PartitionRecord:
        return self.state.partitions[(name, index)]


def test_registration_and_first_heartbeat_unfence_a_broker() -> None:
    cluster = Cluster(0)
    reply = cluster.request(BrokerRegistrationRequest(broker_id=1, address="a", incarnation="x"))
    assert reply.broker_epoch == 1 and cluster.state.brokers[1].fenced
    behind = cluster.request(BrokerHeartbeatRequest(broker_id=1, broker_epoch=1,
                                                    metadata_offset=0))
    assert behind.is_fenced, "a broker that has not caught up with the metadata stays fenced"
    assert cluster.heartbeat(1).is_fenced is False
    assert not cluster.state.brokers[1].fenced


def test_a_repeated_registration_is_answered_without_a_new_command() -> None:
    cluster = Cluster(1)
    decision = cluster.controller.handle(
        BrokerRegistrationRequest(broker_id=1, address="tcp://h:1", incarnation="i1"), 0)
    assert decision.commands == () and decision.reply(()).broker_epoch == 1


def test_heartbeat_with_a_stale_epoch_is_refused() -> None:
    cluster = Cluster(1)
    reply = cluster.request(BrokerHeartbeatRequest(broker_id=1, broker_epoch=99,
                                                   metadata_offset=50))
    assert reply.error == ErrorCode.STALE_BROKER_EPOCH


def test_a_silent_broker_is_fenced_after_the_session_timeout() -> None:
    cluster = Cluster(3)
    cluster.create()
    assert not [c for c in cluster.tick(10, alive=(1, 2)) if isinstance(c, FenceBroker)]
    proposed = cluster.tick(1, alive=(1, 2))
    assert FenceBroker(broker_id=3, broker_epoch=cluster.state.brokers[3].broker_epoch) \
        in proposed
    assert cluster.state.live_broker_ids() == (1, 2)


def test_leaders_are_elected_from_the_isr_and_fenced_brokers_leave_it() -> None:
    cluster = Cluster(3)
    cluster.create(partitions=3)
    led_by_1 = [p for p in cluster.state.partitions.values() if p.leader == 1]
    cluster.tick(12, alive=(2, 3))
    for old in led_by_1:
        new = cluster.partition(old.topic, old.partition)
        assert new.leader == next(b for b in old.replicas if b != 1)
        assert new.leader_epoch == old.leader_epoch + 1 and 1 not in new.isr
    assert all(1 not in p.isr for p in cluster.state.partitions.values())


def test_a_leader_outside_the_isr_is_never_elected_by_default() -> None:
    cluster = Cluster(3)
    cluster.create(partitions=1)
    leader = cluster.partition().leader
    shrink = AlterPartitionRequest(
        broker_id=leader, broker_epoch=cluster.state.brokers[leader].broker_epoch, topic="t",
        partition=0, leader_epoch=0, partition_epoch=0, new_isr=(leader,))
    assert cluster.request(shrink).error == ErrorCode.NONE
    others = tuple(b for b in (1, 2, 3) if b != leader)
    cluster.tick(12, alive=others)
    record = cluster.partition()
    assert (record.leader, record.isr) == (-1, (leader,)), "offline, keeping the last ISR"


def test_unclean_election_when_the_topic_enables_it() -> None:
    cluster = Cluster(3)
    cluster.create(partitions=1, configs=(("unclean.leader.election.enable", "true"),))
    leader = cluster.partition().leader
    cluster.request(AlterPartitionRequest(
        broker_id=leader, broker_epoch=cluster.state.brokers[leader].broker_epoch, topic="t",
        partition=0, leader_epoch=0, partition_epoch=0, new_isr=(leader,)))
    others = tuple(b for b in cluster.partition().replicas if b != leader)
    cluster.tick(12, alive=others)
    record = cluster.partition()
    assert (record.leader, record.isr) == (others[0], (others[0],))


def test_returning_isr_member_is_unfenced_and_elected_again() -> None:
    cluster = Cluster(2)
    cluster.create(partitions=1, factor=1)
    owner = cluster.partition().leader
    other = 3 - owner
    cluster.tick(12, alive=(other,))
    assert cluster.partition().leader == -1
    cluster.register(owner, incarnation="restarted")
    cluster.tick(1, alive=(1, 2))
    record = cluster.partition()
    assert record.leader == owner and record.leader_epoch == 2


def test_re_registration_with_a_new_incarnation_moves_leadership_away() -> None:
    cluster = Cluster(3)
    cluster.create(partitions=1)
    leader = cluster.partition().leader
    cluster.request(BrokerRegistrationRequest(broker_id=leader, address="x", incarnation="new"))
    assert cluster.state.brokers[leader].fenced
    cluster.tick(1)
    assert cluster.partition().leader not in (leader, -1)


def test_controlled_shutdown_fences_at_once() -> None:
    cluster = Cluster(3)
    cluster.create(partitions=1)
    leader = cluster.partition().leader
    assert cluster.heartbeat(leader, want_fence=True).is_fenced
    cluster.tick(1)
    assert cluster.partition().leader != leader


def test_stale_alter_partition_is_refused_without_a_command() -> None:
    cluster = Cluster(3)
    cluster.create(partitions=1)
    record = cluster.partition()
    request = AlterPartitionRequest(
        broker_id=record.leader, broker_epoch=cluster.state.brokers[record.leader].broker_epoch,
        topic="t", partition=0, leader_epoch=0, partition_epoch=0, new_isr=(record.leader,))
    assert cluster.request(request).partition.partition_epoch == 1
    decision = cluster.controller.handle(request, cluster.now)
    assert decision.commands == ()
    assert decision.reply(()).error == ErrorCode.FENCED_LEADER_EPOCH


def test_create_topics_places_validates_and_reports_per_topic() -> None:
    cluster = Cluster(3)
    reply = cluster.request(CreateTopicsRequest(topics=(
        NewTopic(name="a", num_partitions=6, replication_factor=2),
        NewTopic(name="a", num_partitions=1, replication_factor=1),
        NewTopic(name="b", num_partitions=1, replication_factor=4),
        NewTopic(name="c", configs=(("retention.ms", "x"),)),
        NewTopic(name="d", num_partitions=0),
        NewTopic(name="e"),
    )))
    assert [r.error.name for r in reply.results] == [
        "NONE", "INVALID_REQUEST", "INVALID_REPLICATION_FACTOR", "INVALID_CONFIG",
        "INVALID_PARTITIONS", "NONE"]
    assert reply.results[0].topic_id == cluster.state.topics["a"].topic_id
    assert cluster.state.replication_factor("e") == 3
    again = cluster.create("a")
    assert again.results[0].error == ErrorCode.TOPIC_ALREADY_EXISTS


def test_validate_only_creates_nothing() -> None:
    cluster = Cluster(3)
    decision = cluster.controller.handle(CreateTopicsRequest(
        topics=(NewTopic(name="a", num_partitions=1, replication_factor=1),),
        validate_only=True), 0)
    assert decision.commands == () and decision.reply(()).results[0].error == ErrorCode.NONE


def test_delete_create_partitions_and_configs_round_trip() -> None:
    cluster = Cluster(3)
    cluster.create("t", partitions=2, factor=2)
    grown = cluster.request(CreatePartitionsRequest(topics=(
        NewPartitions(name="t", total_count=5), NewPartitions(name="t", total_count=9),
        NewPartitions(name="u", total_count=2))))
    assert [r.error.name for r in grown.results] == [
        "NONE", "INVALID_REQUEST", "UNKNOWN_TOPIC_OR_PARTITION"]
    assert cluster.state.topics["t"].num_partitions == 5
    shrink = cluster.request(CreatePartitionsRequest(topics=(NewPartitions(name="t",
                                                                           total_count=5),)))
    assert shrink.results[0].error == ErrorCode.INVALID_PARTITIONS
    altered = cluster.request(AlterConfigsRequest(topics=(
        AlterTopicConfigs(name="t", set_configs=(("min.insync.replicas", "2"),)),
        AlterTopicConfigs(name="t2"),
        )))
    assert [r.error.name for r in altered.results] == ["NONE", "UNKNOWN_TOPIC_OR_PARTITION"]
    too_many = cluster.request(AlterConfigsRequest(topics=(
        AlterTopicConfigs(name="t", set_configs=(("min.insync.replicas", "3"),)),)))
    assert too_many.results[0].error == ErrorCode.INVALID_CONFIG
    described = cluster.request(DescribeConfigsRequest(names=("t",))).results[0]
    entries = {e.name: e for e in described.entries}
    assert entries["min.insync.replicas"].value == "2"
    assert not entries["min.insync.replicas"].is_default and entries["retention.ms"].is_default
    deleted = cluster.request(DeleteTopicsRequest(names=("t", "t")))
    assert [r.error.name for r in deleted.results] == ["NONE", "INVALID_REQUEST"]
    assert cluster.request(ListTopicsRequest()).topics == ()


def test_internal_topics_are_hidden_and_cannot_be_deleted() -> None:
    cluster = Cluster(1)
    cluster.request(CreateTopicsRequest(topics=(NewTopic(
        name="__consumer_offsets", num_partitions=2, replication_factor=1, internal=True),)))
    assert cluster.request(ListTopicsRequest()).topics == ()
    assert len(cluster.request(ListTopicsRequest(include_internal=True)).topics) == 1
    reply = cluster.request(DeleteTopicsRequest(names=("__consumer_offsets",)))
    assert reply.results[0].error == ErrorCode.INVALID_REQUEST
    described = cluster.request(DescribeTopicsRequest())
    assert len(described.topics[0].partitions) == 2 and len(described.brokers) == 1


def test_producer_id_blocks_come_from_the_log() -> None:
    cluster = Cluster(1)
    epoch = cluster.state.brokers[1].broker_epoch
    first = cluster.request(AllocateProducerIdsRequest(broker_id=1, broker_epoch=epoch))
    second = cluster.request(AllocateProducerIdsRequest(broker_id=1, broker_epoch=epoch))
    assert (first.first_producer_id, second.first_producer_id, second.count) == (0, 1000, 1000)
    stale = cluster.request(AllocateProducerIdsRequest(broker_id=1, broker_epoch=epoch + 1))
    assert stale.error == ErrorCode.STALE_BROKER_EPOCH


def test_preferred_leader_election_on_request_and_when_skewed() -> None:
    cluster = Cluster(3)
    cluster.create(partitions=3)
    cluster.tick(12, alive=(2, 3))
    cluster.register(1, incarnation="back")
    skewed = [p for p in cluster.state.partitions.values() if p.leader != p.replicas[0]]
    assert skewed and all(p.replicas[0] == 1 for p in skewed)
    reply = cluster.request(ElectLeadersRequest(election_type=ElectionType.PREFERRED))
    assert any(r.error == ErrorCode.LEADER_NOT_AVAILABLE for r in reply.results), \
        "broker 1 is not back in the ISR yet"
    for p in skewed:
        cluster.request(AlterPartitionRequest(
            broker_id=p.leader, broker_epoch=cluster.state.brokers[p.leader].broker_epoch,
            topic="t", partition=p.partition, leader_epoch=p.leader_epoch,
            partition_epoch=cluster.partition(index=p.partition).partition_epoch,
            new_isr=(1, 2, 3)))
    proposed = cluster.tick(3000, alive=(1, 2, 3))
    assert any(isinstance(c, ChangeLeader) for c in proposed)
    assert all(p.leader == p.replicas[0] for p in cluster.state.partitions.values())


def test_elect_leader_rules() -> None:
    record = PartitionRecord(topic="t", topic_id="i", partition=0, replicas=(1, 2, 3),
                             isr=(1, 3), leader=1, leader_epoch=0, partition_epoch=0)
    assert elect_leader(record, {1, 2, 3}, False) is None
    assert elect_leader(record, {1, 2}, False) == (1, (1,))
    assert elect_leader(record, {2, 3}, False) == (3, (3,))
    assert elect_leader(record, {2}, False) == (-1, (1, 3))
    assert elect_leader(record, {2}, True) == (2, (2,))


class CountingPartitions(dict):  # type: ignore[type-arg]
    """The state's partition table, counting full scans."""

    scans = 0

    def values(self):  # type: ignore[no-untyped-def]
        CountingPartitions.scans += 1
        return super().values()


def test_idle_ticks_do_not_scan_the_partitions_but_a_change_is_still_seen() -> None:
    cluster = Cluster(3)
    cluster.create(partitions=50)
    cluster.state.partitions = CountingPartitions(cluster.state.partitions)
    cluster.tick(3, alive=(1, 2, 3))
    CountingPartitions.scans = 0
    assert cluster.tick(9, alive=(1, 2, 3)) == []
    assert CountingPartitions.scans == 0, "nothing changed: no tick looked at the partitions"
    led_by_3 = {(p.topic, p.partition) for p in cluster.state.partitions.values()
                if p.leader == 3}
    cluster.tick(12, alive=(1, 2))  # broker 3 goes silent and is fenced
    assert all(cluster.partition(*key).leader in (1, 2) for key in led_by_3)
    assert all(3 not in p.isr for p in cluster.state.partitions.values())


def test_a_lost_connection_fences_the_broker_at_that_address_once() -> None:
    cluster = Cluster(3)
    cluster.create(partitions=6)
    epoch = cluster.state.brokers[2].broker_epoch
    assert cluster.controller.on_connection_lost("tcp://h:9") == [], "no broker there"
    assert cluster.controller.on_connection_lost("tcp://h:2") == [
        FenceBroker(broker_id=2, broker_epoch=epoch)]
    assert cluster.controller.on_connection_lost("tcp://h:2") == [], "already being fenced"
    assert cluster.state.apply(FenceBroker(broker_id=2, broker_epoch=epoch)).error == 0
    cluster.tick(1, alive=(1, 3))
    assert all(p.leader != 2 and 2 not in p.isr for p in cluster.state.partitions.values())
    cluster.tick(1, alive=(1, 2, 3))
    assert not cluster.state.brokers[2].fenced, "alive after all: its heartbeat unfences it"
