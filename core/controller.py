"""The controller's decisions: what the Raft leader proposes to the metadata log, and why.

Owns: broker liveness as seen by this controller (the tick of each broker's last heartbeat),
partition leader elections, ISR clean-up when brokers are fenced, preferred-leader balancing,
and the translation of broker and admin requests into metadata commands.

Driven purely by data: requests in, ``Decision``s out, and ``tick(now_tick)`` for timeouts.
A ``Decision`` names the commands to propose (in order) and builds the reply once the
coordinator has applied them and hands back their ``CommandResult``s; a decision without
commands is answered at once (``decision.reply(())``).  Decisions are made on the applied
state, which the owner must have brought up to its commit index before building a
``Controller`` (i.e. after the new leader's first entry commits); every command carries the
epochs it was decided on, so a decision that went stale is refused by ``MetadataState.apply``
and made again on a later tick.

Elections (Kafka's rules): the new leader comes from the ISR only, the first replica of the
assignment that is in the ISR and unfenced; fenced brokers leave the ISR; when no ISR member is
alive the partition goes offline (leader -1) keeping its last ISR, so the last leader is
elected again when it returns.  Only a topic with ``unclean.leader.election.enable=true`` may
elect a live replica outside the ISR (records may be lost).

Reassignments (KIP-455, rules in ``core.reassignment``): an admin request starts, retargets or
cancels them; ``tick`` completes each one as soon as its adding replicas are in the ISR.

Must never: read a clock, draw from module-level randomness, perform I/O, or mutate the
metadata state (only ``MetadataState.apply`` does, with committed commands).
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from zafka.core.config import DEFAULT, Tunables
from zafka.core.errors import (
    ErrorCode,
    InvalidPartitions,
    InvalidRequest,
    LeaderNotAvailable,
    TopicAlreadyExists,
    UnknownTopicOrPartition,
    ZafkaError,
)
from zafka.core.messages import (
    Ack,
    AllocateProducerIds,
    AllocateProducerIdsReply,
    AllocateProducerIdsRequest,
    AlterConfigs,
    AlterConfigsReply,
    AlterConfigsRequest,
    AlterPartition,
    AlterPartitionReassignmentsReply,
    AlterPartitionReassignmentsRequest,
    AlterPartitionReply,
    AlterPartitionRequest,
    AlterTopicConfigs,
    BrokerHeartbeatReply,
    BrokerHeartbeatRequest,
    BrokerRegistrationReply,
    BrokerRegistrationRequest,
    ChangeLeader,
    CommandResult,
    CreateAclsRequest,
    CreateCredentialRequest,
    CreatePartitions,
    CreatePartitionsReply,
    CreatePartitionsRequest,
    CreateTopic,
    CreateTopicsReply,
    CreateTopicsRequest,
    DeleteAcls,
    DeleteAclsRequest,
    DeleteTopic,
    DeleteTopicsReply,
    DeleteTopicsRequest,
    DescribeAclsReply,
    DescribeAclsRequest,
    DescribeConfigsRequest,
    DescribeCredentialsReply,
    DescribeCredentialsRequest,
    DescribeTopicsRequest,
    ElectionType,
    ElectLeadersReply,
    ElectLeadersRequest,
    ErrorReply,
    FenceBroker,
    IdentityRecord,
    ListPartitionReassignmentsReply,
    ListPartitionReassignmentsRequest,
    ListTopicsRequest,
    NewPartitions,
    NewTopic,
    PartitionRecord,
    PartitionResult,
    RegisterBroker,
    RevokeCredentialRequest,
    TopicResult,
    UnfenceBroker,
)
from zafka.core.metadata import MetadataCommand, MetadataState, merged_overrides
from zafka.core.metadata_views import describe_configs, describe_topics, list_topics
from zafka.core.placement import (
    assign_added_partitions,
    assign_replicas,
    check_assignment,
    preferred_leader_imbalance,
)
from zafka.core.reassignment import (
    completion_command,
    is_reassigning,
    ongoing_reassignments,
    reassignment_command,
)
from zafka.core.topic_config import validate_overrides, validate_topic_name

DEFAULT_NUM_PARTITIONS = 1
DEFAULT_REPLICATION_FACTOR_MAX = 3
"""With replication factor -1 a topic gets min(3, live brokers) replicas."""
PARTITIONS_PER_TOPIC_MAX = 10_000
LEADER_IMBALANCE_PER_BROKER_PERCENTAGE = 10
LEADER_IMBALANCE_CHECK_TICKS = 3_000


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    """Propose ``commands`` in order; once applied, ``reply(their results)`` is the answer."""

    commands: tuple[MetadataCommand, ...]
    reply: Callable[[tuple[CommandResult, ...]], Any]


@dataclasses.dataclass(frozen=True, slots=True)
class _Proposal:
    command: MetadataCommand
    to_result: Callable[[CommandResult], Any]


def _decide(outcomes: list[Any], wrap: Callable[[tuple[Any, ...]], Any]) -> Decision:
    """One decision from per-item outcomes: immediate results and ``_Proposal``s, in order."""
    proposals = [o for o in outcomes if isinstance(o, _Proposal)]

    def reply(results: tuple[CommandResult, ...]) -> Any:
        assert len(results) == len(proposals)
        answers = iter(p.to_result(r) for p, r in zip(proposals, results, strict=True))
        return wrap(tuple(next(answers) if isinstance(o, _Proposal) else o for o in outcomes))

    return Decision(tuple(p.command for p in proposals), reply)


def _topic_result(name: str, topic_id: str = "") -> Callable[[CommandResult], TopicResult]:
    return lambda r: TopicResult(name=name, error=r.error, message=r.message,
                                 topic_id=topic_id if not r.error else "")


def _partition_result(done: PartitionResult) -> Callable[[CommandResult], PartitionResult]:
    return lambda r: dataclasses.replace(done, error=r.error, message=r.message)


def _error_result(name: str, error: ZafkaError) -> TopicResult:
    return TopicResult(name=name, error=error.code, message=error.message)


def elect_leader(
    record: PartitionRecord, live: set[int], unclean: bool,
) -> tuple[int, tuple[int, ...]] | None:
    """The (leader, ISR) ``record`` should change to given the ``live`` brokers, or None."""
    live_isr = tuple(b for b in record.replicas if b in record.isr and b in live)
    if record.leader in live:
        return None if live_isr == record.isr else (record.leader, live_isr)
    if live_isr:
        return live_isr[0], live_isr
    candidates = [b for b in record.replicas if b in live]
    if unclean and candidates:
        return candidates[0], (candidates[0],)
    return None if record.leader == -1 else (-1, record.isr)


class Controller:
    """The Raft leader's decision maker; one per term of leadership."""

    def __init__(self, state: MetadataState, rng: random.Random, *, now_tick: int,
                 tunables: Tunables = DEFAULT,
                 bootstrap_identities: tuple[IdentityRecord, ...] = ()) -> None:
        self.state = state
        self.bootstrap_identities = bootstrap_identities  # what every node file admits
        self.rng = rng
        self.tunables = tunables
        self.now_tick = now_tick
        self.last_heartbeat_tick: dict[int, int] = {b: now_tick for b in state.brokers}
        self.pending: dict[tuple[Any, ...], int] = {}  # what was proposed, and when
        self._pending_changes = 0
        self._last_scan: tuple[int, frozenset[int], int] | None = None
        self.next_imbalance_check_tick = now_tick + LEADER_IMBALANCE_CHECK_TICKS
        self._handlers: dict[type, Callable[[Any], Decision]] = {
            BrokerRegistrationRequest: self.on_broker_registration,
            BrokerHeartbeatRequest: self.on_broker_heartbeat,
            CreateTopicsRequest: self.on_create_topics,
            DeleteTopicsRequest: self.on_delete_topics,
            CreatePartitionsRequest: self.on_create_partitions,
            AlterConfigsRequest: self.on_alter_configs,
            AlterPartitionRequest: self.on_alter_partition,
            AllocateProducerIdsRequest: self.on_allocate_producer_ids,
            ElectLeadersRequest: self.on_elect_leaders,
            AlterPartitionReassignmentsRequest: self.on_alter_partition_reassignments,
            ListPartitionReassignmentsRequest: self.on_list_partition_reassignments,
            DescribeConfigsRequest: lambda r: _now(describe_configs(self.state, r)),
            DescribeTopicsRequest: lambda r: _now(describe_topics(self.state, r)),
            ListTopicsRequest: lambda r: _now(list_topics(self.state, r)),
            **self._security_handlers(),
        }

    def _security_handlers(self) -> dict[type, Callable[[Any], Decision]]:
        """Credentials and ACLs: one checked command each, answered ``Ack`` or the error."""
        security = self.state.security
        boot = self.bootstrap_identities
        return {
            CreateCredentialRequest: lambda r: _one(
                lambda: security.put_identity_command(boot, r)),
            RevokeCredentialRequest: lambda r: _one(
                lambda: security.revoke_identity_command(boot, r)),
            CreateAclsRequest: lambda r: _one(lambda: security.create_acls_command(r.bindings)),
            DeleteAclsRequest: lambda r: _one(lambda: DeleteAcls(bindings=r.bindings)),
            DescribeCredentialsRequest: lambda r: _now(DescribeCredentialsReply(
                identities=tuple(security.known(boot).values()),
                revoked_keys=security.revoked_keys)),
            DescribeAclsRequest: lambda r: _now(DescribeAclsReply(bindings=security.acls)),
        }

    def handle(self, request: Any, now_tick: int) -> Decision:
        """The decision for any controller request (dispatch on its type)."""
        self.now_tick = max(self.now_tick, now_tick)
        return self._handlers[type(request)](request)

    # --- ticks: session timeouts and elections -----------------------------------------

    def tick(self, now_tick: int) -> list[MetadataCommand]:
        """Commands to propose now: fence silent brokers, elect leaders, complete
        reassignments, rebalance leaders."""
        self.now_tick = now_tick
        retry = self.tunables.controller_retry_ticks
        if self.pending:
            before = len(self.pending)
            self.pending = {k: t for k, t in self.pending.items() if now_tick - t < retry}
            self._pending_changes += before != len(self.pending)
        commands: list[MetadataCommand] = []
        for broker_id in self.state.live_broker_ids():
            last = self.last_heartbeat_tick.setdefault(broker_id, now_tick)
            if now_tick - last > self.tunables.broker_session_timeout_ticks:
                epoch = self.state.brokers[broker_id].broker_epoch
                commands += self._propose(("fence", broker_id), FenceBroker(
                    broker_id=broker_id, broker_epoch=epoch))
        if self._scan_key() != self._last_scan:  # a partition scan only after a change
            commands += self._elections(self.state.partitions.values())
            commands += self._reassignment_completions()
            self._last_scan = self._scan_key()
        if now_tick >= self.next_imbalance_check_tick:
            self.next_imbalance_check_tick = now_tick + LEADER_IMBALANCE_CHECK_TICKS
            commands += self._preferred_elections()
        return commands

    def _scan_key(self) -> tuple[int, frozenset[int], int]:
        """What elections and reassignment completions depend on: the applied metadata, the
        live brokers, and which changes are still awaiting their commit."""
        return self.state.offset, frozenset(self.live_brokers()), self._pending_changes

    def on_connection_lost(self, address: str) -> list[MetadataCommand]:
        """The coordinator lost its connection to ``address``: a live broker there has most
        likely died, so it is fenced now rather than after its session timeout (a broker
        that is in fact alive is unfenced again by its next heartbeat)."""
        for broker_id in self.state.live_broker_ids():
            broker = self.state.brokers[broker_id]
            if broker.address == address:
                return self._propose(("fence", broker_id), FenceBroker(
                    broker_id=broker_id, broker_epoch=broker.broker_epoch))
        return []

    def _propose(self, key: tuple[Any, ...], command: MetadataCommand) -> list[MetadataCommand]:
        if key in self.pending:
            return []
        self.pending[key] = self.now_tick
        self._pending_changes += 1
        return [command]

    def live_brokers(self) -> set[int]:
        """Unfenced brokers, minus those this controller is fencing."""
        fencing = {key[1] for key in self.pending if key[0] == "fence"}
        return set(self.state.live_broker_ids()) - fencing

    def _unclean_allowed(self, topic: str) -> bool:
        return self.state.topic_config(topic)["unclean.leader.election.enable"] is True

    def _elections(self, records: Iterable[PartitionRecord]) -> list[MetadataCommand]:
        live = self.live_brokers()
        commands: list[MetadataCommand] = []
        unclean: dict[str, bool] = {}
        for record in records:
            if record.leader in live and all(b in live for b in record.isr):
                continue  # the common case, decided without the topic's config
            if record.topic not in unclean:
                unclean[record.topic] = self._unclean_allowed(record.topic)
            change = elect_leader(record, live, unclean[record.topic])
            if change is not None:
                commands += self._propose(("partition", record.topic, record.partition),
                                          _change_leader(record, *change))
        return commands

    def _reassignment_completions(self) -> list[MetadataCommand]:
        live = self.live_brokers()
        commands: list[MetadataCommand] = []
        for record in self.state.partitions.values():
            command = completion_command(record, live) if is_reassigning(record) else None
            if command is not None:
                commands += self._propose(("partition", record.topic, record.partition), command)
        return commands

    def _preferred_elections(self) -> list[MetadataCommand]:
        records = list(self.state.partitions.values())
        ratios = preferred_leader_imbalance((p.replicas, p.leader) for p in records)
        skewed = {b for b, r in ratios.items()
                  if r * 100 > LEADER_IMBALANCE_PER_BROKER_PERCENTAGE}
        commands: list[MetadataCommand] = []
        for record in records:
            if record.replicas[0] in skewed and _preferred_change(record, self.live_brokers()):
                commands += self._propose(("partition", record.topic, record.partition),
                                          _change_leader(record, record.replicas[0], record.isr))
        return commands

    # --- brokers -----------------------------------------------------------------------

    def on_broker_registration(self, request: BrokerRegistrationRequest) -> Decision:
        """Register (or recognise again) a broker process; it starts fenced."""
        self.last_heartbeat_tick[request.broker_id] = self.now_tick
        current = self.state.brokers.get(request.broker_id)
        if current is not None and current.incarnation == request.incarnation:
            return _now(BrokerRegistrationReply(broker_epoch=current.broker_epoch))
        command = RegisterBroker(broker_id=request.broker_id, address=request.address,
                                 incarnation=request.incarnation,
                                 kafka_address=request.kafka_address)
        return Decision((command,), lambda r: BrokerRegistrationReply(
            error=r[0].error, message=r[0].message, broker_epoch=r[0].value))

    def on_broker_heartbeat(self, request: BrokerHeartbeatRequest) -> Decision:
        """Note the broker alive; unfence it once caught up, fence it if it asks to stop."""
        try:
            broker = self.state.check_broker_epoch(request.broker_id, request.broker_epoch)
        except ZafkaError as error:
            return _now(BrokerHeartbeatReply(error=error.code, message=error.message))
        self.last_heartbeat_tick[broker.broker_id] = self.now_tick
        epoch = broker.broker_epoch
        if request.want_fence and not broker.fenced:
            command: MetadataCommand = FenceBroker(broker_id=broker.broker_id, broker_epoch=epoch)
            self.pending[("fence", broker.broker_id)] = self.now_tick
        elif (not request.want_fence and broker.fenced
              and request.metadata_offset >= broker.broker_epoch):
            command = UnfenceBroker(broker_id=broker.broker_id, broker_epoch=epoch)
        else:
            return _now(BrokerHeartbeatReply(is_fenced=broker.fenced))
        fenced = isinstance(command, FenceBroker)
        return Decision((command,), lambda r: BrokerHeartbeatReply(
            error=r[0].error, message=r[0].message, is_fenced=fenced or bool(r[0].error)))

    def on_alter_partition(self, request: AlterPartitionRequest) -> Decision:
        """A leader's ISR change: refused at once if stale, else proposed."""
        command = AlterPartition(
            topic=request.topic, partition=request.partition, broker_id=request.broker_id,
            broker_epoch=request.broker_epoch, leader_epoch=request.leader_epoch,
            partition_epoch=request.partition_epoch, new_isr=request.new_isr)
        try:
            self.state.check_alter_partition(command)
        except ZafkaError as error:
            return _now(AlterPartitionReply(error=error.code, message=error.message))
        return Decision((command,), lambda r: AlterPartitionReply(
            error=r[0].error, message=r[0].message, partition=r[0].partition))

    def on_allocate_producer_ids(self, request: AllocateProducerIdsRequest) -> Decision:
        """A block of producer ids for a registered broker."""
        try:
            self.state.check_broker_epoch(request.broker_id, request.broker_epoch)
        except ZafkaError as error:
            return _now(AllocateProducerIdsReply(error=error.code, message=error.message))
        command = AllocateProducerIds(broker_id=request.broker_id,
                                      broker_epoch=request.broker_epoch, count=request.count)
        return Decision((command,), lambda r: AllocateProducerIdsReply(
            error=r[0].error, message=r[0].message, first_producer_id=r[0].value,
            count=0 if r[0].error else request.count))

    # --- admin -------------------------------------------------------------------------

    def on_create_topics(self, request: CreateTopicsRequest) -> Decision:
        """Validate and place each new topic; one CreateTopic per valid one."""
        seen: set[str] = set()
        outcomes: list[Any] = []
        for topic in request.topics:
            try:
                command = self._create_topic(topic, seen)
            except ZafkaError as error:
                outcomes.append(_error_result(topic.name, error))
                continue
            result = _topic_result(topic.name, command.topic_id)
            outcomes.append(result(CommandResult()) if request.validate_only
                            else _Proposal(command, result))
        return _decide(outcomes, lambda results: CreateTopicsReply(results=results))

    def _create_topic(self, topic: NewTopic, seen: set[str]) -> CreateTopic:
        validate_topic_name(topic.name, internal=topic.internal)
        _check_unique(topic.name, seen)
        if topic.name in self.state.topics:
            raise TopicAlreadyExists(f"topic {topic.name!r} already exists")
        if topic.assignment:
            assignment = topic.assignment
            check_assignment(assignment, self.state.brokers)
            if topic.num_partitions not in (-1, len(assignment)) or \
                    topic.replication_factor not in (-1, len(assignment[0])):
                raise InvalidRequest("give either an assignment or partition count and "
                                     "replication factor, not both")
        else:
            live = self.live_brokers()
            partitions = topic.num_partitions
            partitions = DEFAULT_NUM_PARTITIONS if partitions == -1 else partitions
            _check_partition_count(partitions)
            factor = topic.replication_factor
            if factor == -1:
                factor = max(1, min(DEFAULT_REPLICATION_FACTOR_MAX, len(live)))
            assignment = assign_replicas(live, partitions, factor, rng=self.rng)
        _check_partition_count(len(assignment))
        configs = validate_overrides(topic.configs, len(assignment[0]))
        topic_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        return CreateTopic(topic_id=topic_id, name=topic.name, assignment=assignment,
                           configs=configs, internal=topic.internal)

    def on_delete_topics(self, request: DeleteTopicsRequest) -> Decision:
        """One DeleteTopic per existing, non-internal topic."""
        seen: set[str] = set()
        outcomes: list[Any] = []
        for name in request.names:
            try:
                _check_unique(name, seen)
                topic = self.state.topics.get(name)
                if topic is None:
                    raise UnknownTopicOrPartition(f"topic {name!r} does not exist")
                if topic.internal:
                    raise InvalidRequest(f"topic {name!r} is internal and cannot be deleted")
            except ZafkaError as error:
                outcomes.append(_error_result(name, error))
                continue
            outcomes.append(_Proposal(DeleteTopic(name=name, topic_id=topic.topic_id),
                                      _topic_result(name, topic.topic_id)))
        return _decide(outcomes, lambda results: DeleteTopicsReply(results=results))

    def on_create_partitions(self, request: CreatePartitionsRequest) -> Decision:
        """Place the added partitions of each topic, continuing its spread."""
        seen: set[str] = set()
        outcomes: list[Any] = []
        for change in request.topics:
            try:
                _check_unique(change.name, seen)
                command = self._create_partitions(change)
            except ZafkaError as error:
                outcomes.append(_error_result(change.name, error))
                continue
            result = _topic_result(change.name, command.topic_id)
            outcomes.append(result(CommandResult()) if request.validate_only
                            else _Proposal(command, result))
        return _decide(outcomes, lambda results: CreatePartitionsReply(results=results))

    def _create_partitions(self, change: NewPartitions) -> CreatePartitions:
        topic = self.state.topics.get(change.name)
        if topic is None:
            raise UnknownTopicOrPartition(f"topic {change.name!r} does not exist")
        if change.total_count <= topic.num_partitions:
            raise InvalidPartitions(
                f"topic {topic.name!r} has {topic.num_partitions} partitions; the count can only "
                f"grow, {change.total_count} is not more")
        _check_partition_count(change.total_count)
        existing = tuple(p.replicas for p in self.state.topic_partitions(topic.name))
        added = change.total_count - topic.num_partitions
        if change.assignment:
            if len(change.assignment) != added:
                raise InvalidPartitions(
                    f"{len(change.assignment)} assignments given for {added} new partitions")
            check_assignment(existing + change.assignment, self.state.brokers)
            assignment = change.assignment
        else:
            assignment = assign_added_partitions(
                self.live_brokers(), existing, added, rng=self.rng)
        return CreatePartitions(name=topic.name, topic_id=topic.topic_id,
                                total_count=change.total_count, assignment=assignment)

    def on_alter_configs(self, request: AlterConfigsRequest) -> Decision:
        """Check each topic's new overrides; one AlterConfigs per valid topic."""
        seen: set[str] = set()
        outcomes: list[Any] = []
        for change in request.topics:
            try:
                _check_unique(change.name, seen)
                command = self._alter_configs(change)
            except ZafkaError as error:
                outcomes.append(_error_result(change.name, error))
                continue
            result = _topic_result(change.name)
            outcomes.append(result(CommandResult()) if request.validate_only
                            else _Proposal(command, result))
        return _decide(outcomes, lambda results: AlterConfigsReply(results=results))

    def _alter_configs(self, change: AlterTopicConfigs) -> AlterConfigs:
        topic = self.state.topics.get(change.name)
        if topic is None:
            raise UnknownTopicOrPartition(f"topic {change.name!r} does not exist")
        merged = merged_overrides(topic.configs, change.set_configs, change.delete_configs,
                                  self.state.replication_factor(topic.name))
        set_configs = tuple((k, v) for k, v in merged if (k, v) not in topic.configs)
        return AlterConfigs(name=topic.name, set_configs=set_configs,
                            delete_configs=tuple(sorted(set(change.delete_configs))))

    def on_elect_leaders(self, request: ElectLeadersRequest) -> Decision:
        """Preferred or unclean elections for the named partitions (() = all)."""
        targets = request.partitions or tuple(sorted(self.state.partitions))
        outcomes: list[Any] = []
        for topic, index in targets:
            record = self.state.partitions.get((topic, index))
            if record is None:
                outcomes.append(PartitionResult(
                    topic=topic, partition=index, error=UnknownTopicOrPartition.code,
                    message=f"partition {topic}-{index} does not exist"))
                continue
            outcomes.append(self._elect(record, request.election_type))
        return _decide(outcomes, lambda results: ElectLeadersReply(results=results))

    def on_alter_partition_reassignments(
        self, request: AlterPartitionReassignmentsRequest,
    ) -> Decision:
        """Start, retarget or cancel reassignments; one command per partition that changes."""
        seen: set[str] = set()
        outcomes: list[Any] = []
        for topic, index, target in request.reassignments:
            done = PartitionResult(topic=topic, partition=index)
            try:
                _check_unique(f"{topic}-{index}", seen)
                record = self.state.partitions.get((topic, index))
                if record is None:
                    raise UnknownTopicOrPartition(f"partition {topic}-{index} does not exist")
                command = reassignment_command(record, target, self.state.brokers,
                                               self.live_brokers())
                new = self.state.check_reassignment(command)
            except ZafkaError as error:
                outcomes.append(dataclasses.replace(done, error=error.code,
                                                    message=error.message))
                continue
            if new == dataclasses.replace(record, partition_epoch=new.partition_epoch):
                outcomes.append(done)  # already so: nothing to change
                continue
            self.pending[("partition", topic, index)] = self.now_tick
            outcomes.append(_Proposal(command, _partition_result(done)))
        return _decide(outcomes, lambda results: AlterPartitionReassignmentsReply(
            results=results))

    def on_list_partition_reassignments(
        self, request: ListPartitionReassignmentsRequest,
    ) -> Decision:
        """The ongoing reassignments (of the named partitions, or all)."""
        records = (self.state.partitions.values() if not request.partitions else
                   [p for key in request.partitions if (p := self.state.partitions.get(key))])
        return _now(ListPartitionReassignmentsReply(
            reassignments=ongoing_reassignments(records)))

    def _elect(self, record: PartitionRecord, kind: ElectionType) -> Any:
        live = self.live_brokers()
        done = PartitionResult(topic=record.topic, partition=record.partition)
        if kind is ElectionType.PREFERRED:
            if record.leader == record.replicas[0]:
                return done
            change = _preferred_change(record, live)
        else:
            if record.leader in live:
                return done
            change = elect_leader(record, live, True)
        if change is None or change[0] == -1:
            return dataclasses.replace(
                done, error=LeaderNotAvailable.code,
                message=f"no eligible {kind.name.lower()} leader for "
                        f"{record.topic}-{record.partition}")
        self.pending[("partition", record.topic, record.partition)] = self.now_tick
        return _Proposal(_change_leader(record, *change), _partition_result(done))


def _now(reply: Any) -> Decision:
    return Decision((), lambda results: reply)


def _one(build: Callable[[], MetadataCommand]) -> Decision:
    """Propose the command ``build`` makes (or answer the error it raises); reply ``Ack``."""
    try:
        command = build()
    except ZafkaError as error:
        return _now(ErrorReply(code=error.code, message=error.message))

    def reply(results: tuple[CommandResult, ...]) -> Any:
        (result,) = results
        if result.error is not ErrorCode.NONE:
            return ErrorReply(code=result.error, message=result.message)
        return Ack()

    return Decision((command,), reply)


def _check_unique(name: str, seen: set[str]) -> None:
    if name in seen:
        raise InvalidRequest(f"{name!r} appears more than once in the request")
    seen.add(name)


def _check_partition_count(count: int) -> None:
    if not 1 <= count <= PARTITIONS_PER_TOPIC_MAX:
        raise InvalidPartitions(
            f"a topic has 1 to {PARTITIONS_PER_TOPIC_MAX} partitions, not {count}")


def _change_leader(record: PartitionRecord, leader: int, isr: tuple[int, ...]) -> ChangeLeader:
    return ChangeLeader(topic=record.topic, partition=record.partition,
                        partition_epoch=record.partition_epoch, leader=leader, isr=isr)


def _preferred_change(
    record: PartitionRecord, live: set[int],
) -> tuple[int, tuple[int, ...]] | None:
    preferred = record.replicas[0]
    if record.leader == preferred or preferred not in live or preferred not in record.isr:
        return None
    return preferred, record.isr


# --- read-only answers (any coordinator with the committed state may give them) ---------


__all__ = [
    "Controller", "DEFAULT_NUM_PARTITIONS", "DEFAULT_REPLICATION_FACTOR_MAX", "Decision",
    "LEADER_IMBALANCE_CHECK_TICKS", "LEADER_IMBALANCE_PER_BROKER_PERCENTAGE",
    "PARTITIONS_PER_TOPIC_MAX", "elect_leader",
]
