"""The cluster-metadata state machine every coordinator applies, and the image brokers follow.

Owns: ``MetadataState`` — registered brokers, topics (with config overrides), partitions
(replicas, leader, leader epoch, ISR, partition epoch), the next producer id, and ``offset``,
the log index of the last applied command — and the helpers a broker uses on the
``MetadataImage`` it holds (``replicas_for_broker``, ``replica_changes``).

``apply(command, offset=...)`` is deterministic: the same committed commands give the same
state on every coordinator.  A command that breaks a rule is *rejected*: the returned
``CommandResult`` carries the Kafka error code and message, nothing but ``offset`` changes, and
no exception leaves the state machine (every replica applies the same log, so the outcome must
be data).  Anything else that goes wrong is a bug and fails fast.

Epochs: a broker's epoch is the offset of the command that registered its current
incarnation (as in KRaft).  A partition's ``leader_epoch`` grows whenever its leader changes
(and when a reassignment changes its replica set, see ``core.reassignment``); its
``partition_epoch`` grows on every change, so a change computed on a stale view is refused.

Reassignments (KIP-455): a partition record carries ``adding_replicas`` / ``removing_replicas``
while it moves; ``AlterPartitionReassignment`` starts, retargets or cancels one and
``CompletePartitionReassignment`` finishes it (the rules are ``core.reassignment``'s).

Must never: decide anything (placement, elections, timeouts are ``core.controller``'s), read
a clock, or perform I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from zafka.core.errors import (
    FencedLeaderEpoch,
    InvalidConfig,
    InvalidPartitions,
    InvalidReplicationFactor,
    InvalidRequest,
    NotLeaderOrFollower,
    StaleBrokerEpoch,
    TopicAlreadyExists,
    UnknownTopicOrPartition,
    ZafkaError,
)
from zafka.core.messages import (
    AllocateProducerIds,
    AlterConfigs,
    AlterPartition,
    AlterPartitionReassignment,
    BrokerRecord,
    ChangeLeader,
    CommandResult,
    CompletePartitionReassignment,
    CreateAcls,
    CreatePartitions,
    CreateTopic,
    DeleteAcls,
    DeleteTopic,
    FenceBroker,
    MetadataFetchReply,
    MetadataFetchRequest,
    MetadataImage,
    PartitionRecord,
    PutIdentity,
    RegisterBroker,
    RevokeIdentity,
    TopicRecord,
    UnfenceBroker,
)
from zafka.core.placement import check_assignment
from zafka.core.reassignment import (
    check_target,
    complete_reassignment,
    is_reassigning,
    start_reassignment,
    target_replicas,
)
from zafka.core.security_state import SecurityState
from zafka.core.topic_config import (
    TOPIC_CONFIGS,
    ConfigValue,
    effective_config,
    parse_config_value,
    validate_overrides,
    validate_topic_name,
)

MetadataCommand = (
    RegisterBroker | FenceBroker | UnfenceBroker | CreateTopic | DeleteTopic | CreatePartitions
    | AlterConfigs | ChangeLeader | AlterPartition | AllocateProducerIds
    | AlterPartitionReassignment | CompletePartitionReassignment
    | PutIdentity | RevokeIdentity | CreateAcls | DeleteAcls
)
PRODUCER_ID_BLOCK_MAX = 100_000
"""Largest producer-id block one request may take."""


class MetadataState:
    """The replicated metadata; mutate only through ``apply``."""

    def __init__(self) -> None:
        self.offset = 0
        self.brokers: dict[int, BrokerRecord] = {}
        self.topics: dict[str, TopicRecord] = {}
        self.partitions: dict[tuple[str, int], PartitionRecord] = {}
        self.next_producer_id = 0
        self.security = SecurityState()  # issued identities, revoked keys, ACLs
        self._image: MetadataImage | None = None
        self._handlers: dict[type, Callable[[Any], CommandResult]] = {
            RegisterBroker: self._register_broker, FenceBroker: self._fence_broker,
            UnfenceBroker: self._unfence_broker, CreateTopic: self._create_topic,
            DeleteTopic: self._delete_topic, CreatePartitions: self._create_partitions,
            AlterConfigs: self._alter_configs, ChangeLeader: self._change_leader,
            AlterPartition: self._alter_partition,
            AllocateProducerIds: self._allocate_producer_ids,
            AlterPartitionReassignment: self._alter_partition_reassignment,
            CompletePartitionReassignment: self._complete_partition_reassignment,
            PutIdentity: self.security.apply_put_identity,
            RevokeIdentity: self.security.apply_revoke_identity,
            CreateAcls: self.security.apply_create_acls,
            DeleteAcls: self.security.apply_delete_acls,
        }

    # --- applying commands -------------------------------------------------------------

    def apply(self, command: MetadataCommand, *, offset: int | None = None) -> CommandResult:
        """Apply one committed command at log index ``offset`` (default: the next one)."""
        offset = self.offset + 1 if offset is None else offset
        assert offset > self.offset, f"offset {offset} not after {self.offset}"
        handler = self._handlers[type(command)]
        self.offset = offset
        self._image = None
        try:
            return handler(command)
        except ZafkaError as error:
            return CommandResult(error=error.code, message=error.message)

    def _register_broker(self, command: RegisterBroker) -> CommandResult:
        if command.broker_id < 0 or not command.address or not command.incarnation:
            raise InvalidRequest(
                "a broker registers with an id >= 0, an address and an incarnation")
        current = self.brokers.get(command.broker_id)
        if current is not None and current.incarnation == command.incarnation:
            return CommandResult(value=current.broker_epoch)
        self.brokers[command.broker_id] = BrokerRecord(
            broker_id=command.broker_id, address=command.address, broker_epoch=self.offset,
            incarnation=command.incarnation, fenced=True,
            kafka_address=command.kafka_address)
        return CommandResult(value=self.offset)

    def check_broker_epoch(self, broker_id: int, broker_epoch: int) -> BrokerRecord:
        """The registration of ``broker_id``; ``StaleBrokerEpoch`` unless it has that epoch."""
        broker = self.brokers.get(broker_id)
        if broker is None:
            raise StaleBrokerEpoch(f"broker {broker_id} is not registered")
        if broker.broker_epoch != broker_epoch:
            raise StaleBrokerEpoch(
                f"broker {broker_id} has epoch {broker.broker_epoch}, not {broker_epoch}")
        return broker

    def _fence_broker(self, command: FenceBroker) -> CommandResult:
        broker = self.check_broker_epoch(command.broker_id, command.broker_epoch)
        self.brokers[broker.broker_id] = dataclasses.replace(broker, fenced=True)
        return CommandResult(value=broker.broker_epoch)

    def _unfence_broker(self, command: UnfenceBroker) -> CommandResult:
        broker = self.check_broker_epoch(command.broker_id, command.broker_epoch)
        self.brokers[broker.broker_id] = dataclasses.replace(broker, fenced=False)
        return CommandResult(value=broker.broker_epoch)

    def _new_partitions(
        self, name: str, topic_id: str, first: int, assignment: tuple[tuple[int, ...], ...],
    ) -> list[PartitionRecord]:
        check_assignment(assignment, self.brokers)
        records = []
        for index, replicas in enumerate(assignment, start=first):
            isr = tuple(b for b in replicas if not self.brokers[b].fenced)
            if not isr:
                raise InvalidReplicationFactor(
                    f"every broker assigned to partition {index} of {name!r} is fenced: "
                    f"{list(replicas)}")
            records.append(PartitionRecord(
                topic=name, topic_id=topic_id, partition=index, replicas=replicas, isr=isr,
                leader=isr[0], leader_epoch=0, partition_epoch=0))
        return records

    def _create_topic(self, command: CreateTopic) -> CommandResult:
        validate_topic_name(command.name, internal=command.internal)
        if command.name in self.topics:
            raise TopicAlreadyExists(f"topic {command.name!r} already exists")
        if any(t.topic_id == command.topic_id for t in self.topics.values()):
            raise InvalidRequest(f"topic id {command.topic_id} is already in use")
        if not command.assignment:
            raise InvalidPartitions("a topic needs at least one partition")
        records = self._new_partitions(command.name, command.topic_id, 0, command.assignment)
        configs = validate_overrides(command.configs, len(command.assignment[0]))
        self.topics[command.name] = TopicRecord(
            topic_id=command.topic_id, name=command.name,
            num_partitions=len(command.assignment), configs=configs, internal=command.internal)
        for record in records:
            self.partitions[(command.name, record.partition)] = record
        return CommandResult()

    def _topic(self, name: str, topic_id: str | None = None) -> TopicRecord:
        topic = self.topics.get(name)
        if topic is None or (topic_id is not None and topic.topic_id != topic_id):
            raise UnknownTopicOrPartition(f"topic {name!r} does not exist")
        return topic

    def _delete_topic(self, command: DeleteTopic) -> CommandResult:
        topic = self._topic(command.name, command.topic_id)
        for index in range(topic.num_partitions):
            del self.partitions[(topic.name, index)]
        del self.topics[topic.name]
        return CommandResult()

    def _create_partitions(self, command: CreatePartitions) -> CommandResult:
        topic = self._topic(command.name, command.topic_id)
        if command.total_count <= topic.num_partitions:
            raise InvalidPartitions(
                f"topic {topic.name!r} has {topic.num_partitions} partitions; the count can "
                f"only grow, {command.total_count} is not more")
        if topic.num_partitions + len(command.assignment) != command.total_count:
            raise InvalidPartitions(
                f"topic {topic.name!r} has {topic.num_partitions} partitions; "
                f"{len(command.assignment)} more do not make {command.total_count}")
        factor = len(target_replicas(self.partitions[(topic.name, 0)]))
        if any(len(replicas) != factor for replicas in command.assignment):
            raise InvalidReplicationFactor(
                f"new partitions of {topic.name!r} must have {factor} replicas like the others")
        records = self._new_partitions(
            topic.name, topic.topic_id, topic.num_partitions, command.assignment)
        for record in records:
            self.partitions[(topic.name, record.partition)] = record
        self.topics[topic.name] = dataclasses.replace(topic, num_partitions=command.total_count)
        return CommandResult()

    def _alter_configs(self, command: AlterConfigs) -> CommandResult:
        topic = self._topic(command.name)
        configs = merged_overrides(
            topic.configs, command.set_configs, command.delete_configs,
            self.replication_factor(topic.name))
        self.topics[topic.name] = dataclasses.replace(topic, configs=configs)
        return CommandResult()

    def _partition(self, topic: str, partition: int) -> PartitionRecord:
        record = self.partitions.get((topic, partition))
        if record is None:
            raise UnknownTopicOrPartition(f"partition {topic}-{partition} does not exist")
        return record

    @staticmethod
    def _check_isr(record: PartitionRecord, isr: tuple[int, ...]) -> None:
        name = f"{record.topic}-{record.partition}"
        if not isr or len(set(isr)) != len(isr):
            raise InvalidRequest(f"ISR {list(isr)} of {name} must be non-empty and distinct")
        if not set(isr) <= set(record.replicas):
            raise InvalidRequest(
                f"ISR {list(isr)} of {name} is not a subset of its replicas "
                f"{list(record.replicas)}")

    def _changed(
        self, record: PartitionRecord, leader: int, isr: tuple[int, ...],
    ) -> PartitionRecord:
        ordered = tuple(b for b in record.replicas if b in isr)
        new = dataclasses.replace(
            record, leader=leader, isr=ordered, partition_epoch=record.partition_epoch + 1,
            leader_epoch=record.leader_epoch + (leader != record.leader))
        self.partitions[(record.topic, record.partition)] = new
        return new

    def _current(self, topic: str, partition: int, partition_epoch: int) -> PartitionRecord:
        """The partition, if it is still at ``partition_epoch`` (``FencedLeaderEpoch`` if not)."""
        record = self._partition(topic, partition)
        if partition_epoch != record.partition_epoch:
            raise FencedLeaderEpoch(
                f"partition {record.topic}-{record.partition} is at partition epoch "
                f"{record.partition_epoch}, the change was made on {partition_epoch}")
        return record

    def _change_leader(self, command: ChangeLeader) -> CommandResult:
        record = self._current(command.topic, command.partition, command.partition_epoch)
        self._check_isr(record, command.isr)
        if command.leader != -1:
            if command.leader not in command.isr:
                raise InvalidRequest(f"leader {command.leader} is not in ISR {command.isr}")
            if self.brokers[command.leader].fenced:
                raise InvalidRequest(f"broker {command.leader} is fenced and cannot lead")
        return CommandResult(partition=self._changed(record, command.leader, command.isr))

    def check_alter_partition(self, command: AlterPartition) -> PartitionRecord:
        """The partition ``command`` would change; raises the Kafka error that refuses it."""
        record = self._partition(command.topic, command.partition)
        self.check_broker_epoch(command.broker_id, command.broker_epoch)
        name = f"{record.topic}-{record.partition}"
        if command.broker_id != record.leader:
            raise NotLeaderOrFollower(
                f"broker {command.broker_id} does not lead {name} (leader: {record.leader})")
        if command.leader_epoch != record.leader_epoch:
            raise FencedLeaderEpoch(
                f"{name} is at leader epoch {record.leader_epoch}, not {command.leader_epoch}")
        if command.partition_epoch != record.partition_epoch:
            raise FencedLeaderEpoch(
                f"{name} is at partition epoch {record.partition_epoch}, "
                f"not {command.partition_epoch}")
        self._check_isr(record, command.new_isr)
        if record.leader not in command.new_isr:
            raise InvalidRequest(f"new ISR {list(command.new_isr)} of {name} drops its leader")
        joining = [b for b in command.new_isr if b not in record.isr and self.brokers[b].fenced]
        if joining:
            raise InvalidRequest(f"fenced brokers {joining} cannot join the ISR of {name}")
        return record

    def _alter_partition(self, command: AlterPartition) -> CommandResult:
        record = self.check_alter_partition(command)
        return CommandResult(partition=self._changed(record, record.leader, command.new_isr))

    def check_reassignment(self, command: AlterPartitionReassignment) -> PartitionRecord:
        """The partition as ``command`` would leave it; raises the Kafka error that refuses it."""
        record = self._current(command.topic, command.partition, command.partition_epoch)
        check_target(record, command.target, self.brokers)
        new = start_reassignment(record, command.target, command.leader)
        self._check_new_leader(record, new.leader)
        return new

    def _alter_partition_reassignment(self, command: AlterPartitionReassignment) -> CommandResult:
        new = self.check_reassignment(command)
        self.partitions[(new.topic, new.partition)] = new
        return CommandResult(partition=new)

    def _complete_partition_reassignment(
        self, command: CompletePartitionReassignment,
    ) -> CommandResult:
        record = self._current(command.topic, command.partition, command.partition_epoch)
        new = complete_reassignment(record, command.leader)
        self._check_new_leader(record, new.leader)
        self.partitions[(new.topic, new.partition)] = new
        return CommandResult(partition=new)

    def _check_new_leader(self, record: PartitionRecord, leader: int) -> None:
        if leader != record.leader and self.brokers[leader].fenced:
            raise InvalidRequest(f"broker {leader} is fenced and cannot lead")

    def _allocate_producer_ids(self, command: AllocateProducerIds) -> CommandResult:
        self.check_broker_epoch(command.broker_id, command.broker_epoch)
        if not 1 <= command.count <= PRODUCER_ID_BLOCK_MAX:
            raise InvalidRequest(
                f"a producer-id block holds 1 to {PRODUCER_ID_BLOCK_MAX} ids, not {command.count}")
        first = self.next_producer_id
        self.next_producer_id += command.count
        return CommandResult(value=first)

    # --- queries -----------------------------------------------------------------------

    def topic_partitions(self, name: str) -> tuple[PartitionRecord, ...]:
        """The partitions of topic ``name`` in index order (() if there is no such topic)."""
        topic = self.topics.get(name)
        if topic is None:
            return ()
        return tuple(self.partitions[(name, i)] for i in range(topic.num_partitions))

    def replication_factor(self, name: str) -> int:
        """The fewest replicas any partition of topic ``name`` has (or will have once its
        ongoing reassignment completes)."""
        return min(len(target_replicas(p)) for p in self.topic_partitions(name))

    def topic_config(self, name: str) -> dict[str, ConfigValue]:
        """The effective config of topic ``name`` (defaults overlaid with its overrides)."""
        return effective_config(self.topics[name].configs)

    def live_broker_ids(self) -> tuple[int, ...]:
        """Registered, unfenced brokers, sorted."""
        return tuple(sorted(b for b, r in self.brokers.items() if not r.fenced))

    # --- snapshots and invariants ------------------------------------------------------

    def snapshot(self) -> MetadataImage:
        """The whole state as a catalogue value (what Raft snapshots and brokers receive)."""
        if self._image is None:
            self._image = MetadataImage(
                offset=self.offset,
                brokers=tuple(self.brokers[b] for b in sorted(self.brokers)),
                topics=tuple(self.topics[t] for t in sorted(self.topics)),
                partitions=tuple(self.partitions[k] for k in sorted(self.partitions)),
                next_producer_id=self.next_producer_id,
                identities=tuple(self.security.identities.values()),
                revoked_keys=self.security.revoked_keys, acls=self.security.acls)
        return self._image

    @classmethod
    def restore(cls, image: MetadataImage) -> MetadataState:
        """A state equal to the one ``image`` was taken from."""
        state = cls()
        state.offset = image.offset
        state.brokers = {b.broker_id: b for b in image.brokers}
        state.topics = {t.name: t for t in image.topics}
        state.partitions = {(p.topic, p.partition): p for p in image.partitions}
        state.next_producer_id = image.next_producer_id
        state.security.restore(image.identities, image.revoked_keys, image.acls)
        state.invariants()
        return state

    def invariants(self) -> None:
        """Assert the rules every committed state obeys (fail fast on a bug)."""
        assert self.offset >= 0 and self.next_producer_id >= 0
        self.security.invariants()
        assert all(k == b.broker_id for k, b in self.brokers.items())
        assert len({t.topic_id for t in self.topics.values()}) == len(self.topics)
        assert sum(t.num_partitions for t in self.topics.values()) == len(self.partitions)
        for (name, index), p in self.partitions.items():
            topic = self.topics[name]
            assert p.topic == name and p.partition == index and p.topic_id == topic.topic_id
            assert 0 <= index < topic.num_partitions, p
            assert p.replicas and len(set(p.replicas)) == len(p.replicas), p
            assert set(p.replicas) <= set(self.brokers), p
            assert p.isr and set(p.isr) <= set(p.replicas), p
            assert p.leader == -1 or p.leader in p.isr, p
            assert p.leader_epoch >= 0 and p.partition_epoch >= p.leader_epoch >= 0, p
            assert set(p.adding_replicas) <= set(p.replicas), p
            assert set(p.removing_replicas) <= set(p.replicas), p
            assert not set(p.adding_replicas) & set(p.removing_replicas), p
            assert not is_reassigning(p) or target_replicas(p), p


def merged_overrides(
    current: tuple[tuple[str, ConfigValue], ...],
    set_configs: tuple[tuple[str, ConfigValue], ...],
    delete_configs: tuple[str, ...],
    replication_factor: int,
) -> tuple[tuple[str, ConfigValue], ...]:
    """A topic's overrides after an incremental alter; ``InvalidConfig`` if they break a rule."""
    overrides = dict(current)
    setting = dict(set_configs)
    for key in delete_configs:
        if key not in TOPIC_CONFIGS:
            parse_config_value(key, "")  # raises InvalidConfig naming the valid keys
        if key in setting:
            raise InvalidConfig(f"topic config {key!r} is both set and deleted")
        overrides.pop(key, None)
    overrides.update(setting)
    return validate_overrides(overrides, replication_factor)


def replicas_for_broker(image: MetadataImage, broker_id: int) -> tuple[PartitionRecord, ...]:
    """The partitions with a replica on ``broker_id`` (lead them where ``leader == broker_id``)."""
    return tuple(p for p in image.partitions if broker_id in p.replicas)


@dataclasses.dataclass(frozen=True, slots=True)
class ReplicaChanges:
    """What a broker must do to go from one image to the next."""

    leading: tuple[PartitionRecord, ...]  # led here now, and new or changed
    following: tuple[PartitionRecord, ...]  # hosted, led elsewhere (or nowhere), new or changed
    removed: tuple[PartitionRecord, ...]  # hosted before, not now (stop it, delete its log)


def replica_changes(
    old: MetadataImage | None, new: MetadataImage, broker_id: int,
) -> ReplicaChanges:
    """The replicas ``broker_id`` must start, update or stop between ``old`` and ``new``.

    A topic deleted and created again under the same name has a new topic id: its old
    replicas are ``removed`` and the new ones start afresh.
    """
    before = {(p.topic_id, p.partition): p
              for p in (replicas_for_broker(old, broker_id) if old else ())}
    after = {(p.topic_id, p.partition): p for p in replicas_for_broker(new, broker_id)}
    changed = [p for key, p in after.items() if before.get(key) != p]
    return ReplicaChanges(
        leading=tuple(p for p in changed if p.leader == broker_id),
        following=tuple(p for p in changed if p.leader != broker_id),
        removed=tuple(p for key, p in before.items() if key not in after))


def metadata_fetch_reply(
    state: MetadataState, request: MetadataFetchRequest,
) -> MetadataFetchReply | None:
    """The reply to a broker's metadata fetch, or None to hold the long-poll (nothing new)."""
    if request.known_offset >= state.offset:
        return None
    return MetadataFetchReply(offset=state.offset, image=state.snapshot())


__all__ = [
    "MetadataCommand", "MetadataState", "PRODUCER_ID_BLOCK_MAX", "ReplicaChanges",
    "merged_overrides", "metadata_fetch_reply", "replica_changes", "replicas_for_broker",
]
