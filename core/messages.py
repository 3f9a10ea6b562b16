"""The message catalogue: every message between actors or processes.

Each message is a frozen, slotted, keyword-only dataclass with a one-line docstring, declared
with ``@message``.  The transport's allow-listing unpickler accepts exactly the classes that
``catalogue()`` returns (plus ``core.errors.ErrorCode``), so a class that is not declared here
can never be decoded from the wire.

Bulk bytes (record batches) are carried as ``memoryview`` / ``bytearray`` fields: the codec
sends them as out-of-band ZeroMQ frames and the receiver gets a ``memoryview`` over the frame,
copied neither way.  ``bytes`` fields are fine for small values (they travel in-band).

The file is split into sections, one per protocol; each section is owned by one layer.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, dataclass_transform, overload

from zafka.core.errors import ErrorCode

T = TypeVar("T")

# The type of record-batch payloads on the wire (bytes in memory, memoryview after receipt).
Blob = bytes | bytearray | memoryview


class Audience(enum.Enum):
    """Who may send a message as the body of an envelope (checked by the receiving runtime
    against the sender's authenticated role, ``core.acl.may_send``)."""

    CLIENT = "client"  # any authenticated principal: applications, admins, nodes
    NODE = "node"  # cluster nodes only (the default: replies, raft, records, node requests)
    TESTING = "testing"  # nodes only, and only on a node started with --testing (faults)
    LOCAL = "local"  # nobody over the wire: a call between actors of one process


_AUDIENCES: dict[type, Audience] = {}


@overload
def message(cls: type[T], /) -> type[T]: ...


@overload
def message(*, audience: Audience) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(frozen_default=True, kw_only_default=True)
def message(cls: type[T] | None = None, /, *,
            audience: Audience = Audience.NODE) -> type[T] | Callable[[type[T]], type[T]]:
    """Declare a catalogue message: frozen, slotted, keyword-only dataclass, sent by
    ``audience`` (``@message`` alone: nodes only)."""

    def declare(target: type[T]) -> type[T]:
        made = dataclasses.dataclass(frozen=True, slots=True, kw_only=True)(target)
        _AUDIENCES[made] = audience
        return made

    return declare(cls) if cls is not None else declare


def audience_of(cls: type) -> Audience:
    """Who may send ``cls`` over the wire (``Audience.NODE`` for undeclared types)."""
    return _AUDIENCES.get(cls, Audience.NODE)


# =====================================================================================
# Section: transport and node plumbing (owner: transport/, actors/base.py)
# =====================================================================================


@message
class Envelope:
    """What travels between processes: a body addressed to an actor, with its reply path."""

    source: str  # address of the sending process ("tcp://127.0.0.1:9301")
    reply_to: str  # actor name at ``source`` that receives the reply ("" = none)
    dest: str  # actor name at the receiving process
    correlation_id: int
    body: Any
    # Stamped by the receiving endpoint from the peer's CURVE key (never trusted from the
    # wire): "User:<name>" and its role ("node" | "admin" | "client"; "local" in-process).
    principal: str = ""
    role: str = ""


@message
class Tick:
    """One logical tick from the process ticker."""

    count: int


@message
class ErrorReply:
    """A request failed; ``code`` names the Kafka-style error."""

    code: ErrorCode
    message: str = ""


@message(audience=Audience.CLIENT)
class StatusRequest:
    """Ask a node actor for its status."""


class NodeRole(enum.StrEnum):
    """What a process of a cluster is (the cluster file's ``role`` of a node)."""

    COORDINATOR = "coordinator"
    BROKER = "broker"
    CLIENT = "client"
    """A producer's, consumer's or admin's runtime."""


class RaftRole(enum.Enum):
    """A raft member's role; only the leader accepts proposals (it is the controller)."""

    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre-candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


class ReplicaRole(enum.StrEnum):
    """What a broker's replica of a partition does now."""

    LEADER = "leader"
    FOLLOWER = "follower"
    OFFLINE = "offline"
    """Neither: the partition has no leader this replica can follow."""


@message
class RegisteredBroker:
    """A broker as a coordinator's metadata knows it (part of ``CoordinatorStatus``)."""

    broker_id: int
    fenced: bool
    epoch: int
    address: str


@message
class CoordinatorStatus:
    """A coordinator's Raft state and the size of the metadata it holds."""

    raft_role: RaftRole
    term: int
    leader_id: int | None
    commit_index: int
    applied_index: int
    is_controller: bool
    metadata_offset: int
    brokers: tuple[RegisteredBroker, ...]
    topics: int


@message
class BrokerStatus:
    """A broker's registration and the work it has under way."""

    broker_epoch: int
    fenced: bool
    metadata_offset: int
    replicas: int
    replicas_starting: int
    calls_in_flight: int
    fetches_held: int
    fetch_partitions_answered_unchanged: int
    kafka_address: str = ""  # "host:port" of its Kafka listener ("" = none)
    kafka_counters: tuple[tuple[str, int], ...] = ()  # the listener's counters, by name


@message
class StatusReply:
    """A node's role, identity, transport counters and its role's status record."""

    role: NodeRole
    node_id: int
    pid: int
    address: str
    transport: dict[str, int]
    """The endpoint's counters (sent, received, dropped_undecodable, auth_denied, ...)."""
    undeliverable: int
    coordinator: CoordinatorStatus | None = None
    broker: BrokerStatus | None = None
    delivered: int = 0  # envelopes handed to this process's actors (local and remote)

    @property
    def serving(self) -> bool:
        """A broker registered and unfenced by the controller."""
        return self.broker is not None and not self.broker.fenced


@message(audience=Audience.CLIENT)
class Echo:
    """Ask an actor to send ``payload`` back (transport tests and benchmarks)."""

    payload: Any


@message
class EchoReply:
    """The payload of an ``Echo``, returned."""

    payload: Any


@message
class Shutdown:
    """Ask a node process to stop cleanly."""


@message
class FaultRule:
    """Test fault: ``drop`` (with probability) or ``delay`` traffic to ``dest_addresses``."""

    kind: str  # "drop" | "delay"
    dest_addresses: tuple[str, ...] = ()  # empty = every peer
    probability: float = 1.0
    delay_ms: int = 0


@message(audience=Audience.TESTING)
class SetFaults:
    """Replace a node's outbound fault rules (tests only; empty = heal)."""

    rules: tuple[FaultRule, ...]


@message
class Ack:
    """A request with nothing to return succeeded."""


@message(audience=Audience.TESTING)
class Relay:
    """Ask a node to tell ``EchoReply(payload)`` to actor ``actor`` at ``address``."""

    address: str
    actor: str
    payload: Any


# =====================================================================================
# Section: raft (owner: core/raft.py)
# =====================================================================================
# Every raft message carries ``from_id``, ``to_id`` (coordinator node ids) and the sender's
# ``term``.  Commands inside ``RaftEntry`` are opaque to raft (catalogue objects; ``None`` is
# the no-op a new leader appends).


@message
class RaftEntry:
    """One raft log entry: ``command`` at ``index``, created by the leader of ``term``."""

    term: int
    index: int
    command: Any


@message
class SnapshotMeta:
    """The last log entry a snapshot covers (its index and term)."""

    index: int
    term: int


@message
class RequestVote:
    """Ask for a vote (§5.2) or, with ``pre_vote``, whether a vote would be granted (§9.6)."""

    from_id: int
    to_id: int
    term: int  # pre-vote: the term the sender would campaign in (its term + 1)
    last_log_index: int
    last_log_term: int
    pre_vote: bool = False


@message
class RequestVoteResponse:
    """A (pre-)vote granted or refused."""

    from_id: int
    to_id: int
    term: int  # a granted pre-vote echoes the request's term
    granted: bool
    pre_vote: bool = False


@message
class AppendEntries:
    """Leader -> follower: entries after (prev_log_index, prev_log_term); empty = heartbeat."""

    from_id: int
    to_id: int
    term: int
    prev_log_index: int
    prev_log_term: int
    entries: tuple[RaftEntry, ...]
    leader_commit: int
    read_seq: int = 0  # echoed in the response; confirms leadership for read-index reads


@message
class AppendEntriesResponse:
    """Follower -> leader; on refusal, a conflict hint for fast back-off."""

    from_id: int
    to_id: int
    term: int
    success: bool
    match_index: int  # success: last index known to match; refusal: the refused prev index
    conflict_term: int = 0  # refusal: term of the follower's entry at prev index (0 = none)
    conflict_index: int = 0  # refusal: first index of conflict_term, or follower's last + 1
    read_seq: int = 0


@message
class InstallSnapshot:
    """Leader -> follower whose next entry was compacted away: the whole snapshot (§7)."""

    from_id: int
    to_id: int
    term: int
    meta: SnapshotMeta
    data: bytes
    read_seq: int = 0


@message
class InstallSnapshotResponse:
    """Follower -> leader: the snapshot (or a later prefix) is in place up to match_index."""

    from_id: int
    to_id: int
    term: int
    match_index: int
    read_seq: int = 0


# =====================================================================================
# Section: metadata commands and controller requests (owner: core/metadata.py)
# =====================================================================================


# --- metadata records: the state a coordinator replicates and a broker holds as its image ---


@message
class BrokerRecord:
    """A registered broker: address, epoch (offset of its registration) and fencing."""

    broker_id: int
    address: str
    broker_epoch: int
    incarnation: str  # unique per broker process start
    fenced: bool
    kafka_address: str = ""  # "host:port" of its Kafka listener, "" = none


@message
class TopicRecord:
    """A topic: id, name, internal flag and config overrides (canonical values)."""

    topic_id: str
    name: str
    num_partitions: int
    configs: tuple[tuple[str, str | int | bool], ...] = ()
    internal: bool = False


@message
class PartitionRecord:
    """A partition: replicas (first = preferred leader), leader (-1 = none), epochs, ISR."""

    topic: str
    topic_id: str
    partition: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    leader: int
    leader_epoch: int
    partition_epoch: int
    adding_replicas: tuple[int, ...] = ()  # ongoing reassignment: joining, not yet in sync
    removing_replicas: tuple[int, ...] = ()  # ongoing reassignment: leaving once it completes


@message
class MetadataImage:
    """The whole committed metadata as of ``offset``: snapshot and what brokers follow."""

    offset: int
    brokers: tuple[BrokerRecord, ...] = ()
    topics: tuple[TopicRecord, ...] = ()
    partitions: tuple[PartitionRecord, ...] = ()
    next_producer_id: int = 0
    identities: tuple[IdentityRecord, ...] = ()  # admitted beyond the node file's own
    revoked_keys: tuple[str, ...] = ()  # CURVE public keys refused from now on
    acls: tuple[AclBinding, ...] = ()


# --- metadata commands: proposed by the controller, committed by Raft, applied everywhere ---


@message
class RegisterBroker:
    """Register a broker process; a new incarnation gets a new epoch and starts fenced."""

    broker_id: int
    address: str
    incarnation: str
    kafka_address: str = ""


@message
class FenceBroker:
    """Fence a broker (session timed out or controlled shutdown)."""

    broker_id: int
    broker_epoch: int


@message
class UnfenceBroker:
    """Unfence a broker that heartbeats and has caught up with the metadata."""

    broker_id: int
    broker_epoch: int


@message
class CreateTopic:
    """Create a topic with an assignment computed by the controller."""

    topic_id: str
    name: str
    assignment: tuple[tuple[int, ...], ...]
    configs: tuple[tuple[str, str | int | bool], ...] = ()
    internal: bool = False


@message
class DeleteTopic:
    """Delete a topic and all its partitions."""

    name: str
    topic_id: str


@message
class CreatePartitions:
    """Grow a topic to ``total_count``; ``assignment`` lists the new partitions' replicas."""

    name: str
    topic_id: str
    total_count: int
    assignment: tuple[tuple[int, ...], ...]


@message
class AlterConfigs:
    """Set and delete config overrides of a topic (incremental)."""

    name: str
    set_configs: tuple[tuple[str, str | int | bool], ...] = ()
    delete_configs: tuple[str, ...] = ()


@message
class ChangeLeader:
    """Controller's partition change: new leader (-1 = none) and ISR, if the epoch matches."""

    topic: str
    partition: int
    partition_epoch: int  # the epoch the decision was made on; stale -> rejected
    leader: int
    isr: tuple[int, ...]


@message
class AlterPartition:
    """A partition leader's ISR change, checked against the current epochs."""

    topic: str
    partition: int
    broker_id: int
    broker_epoch: int
    leader_epoch: int
    partition_epoch: int
    new_isr: tuple[int, ...]


@message
class AllocateProducerIds:
    """Hand a broker the next block of ``count`` producer ids."""

    broker_id: int
    broker_epoch: int
    count: int


@message
class AlterPartitionReassignment:
    """Start, retarget or cancel (target = the original replicas) a partition's reassignment."""

    topic: str
    partition: int
    partition_epoch: int  # the epoch the decision was made on; stale -> rejected
    target: tuple[int, ...]
    leader: int  # the leader afterwards (the controller's choice; the current one if kept)


@message
class CompletePartitionReassignment:
    """Finish a reassignment whose adding replicas are in sync: replicas become the target."""

    topic: str
    partition: int
    partition_epoch: int
    leader: int


@message
class CommandResult:
    """What applying a command gave: error code (NONE = applied) and command-specific values."""

    error: ErrorCode = ErrorCode.NONE
    message: str = ""
    value: int = -1  # RegisterBroker: broker epoch; AllocateProducerIds: first producer id
    partition: PartitionRecord | None = None  # ChangeLeader / AlterPartition: the new state


# --- controller requests and replies (brokers and admin clients -> controller) ---


@message
class NotControllerReply:
    """This coordinator is not the controller; try the one named (-1 / "" = unknown)."""

    controller_id: int = -1
    controller_address: str = ""


@message
class BrokerRegistrationRequest:
    """A broker process announces itself (once per process start)."""

    broker_id: int
    address: str
    incarnation: str
    kafka_address: str = ""  # "host:port" Kafka clients reach it at ("" = no listener)


@message
class BrokerRegistrationReply:
    """The broker's epoch, or why registration failed."""

    error: ErrorCode = ErrorCode.NONE
    message: str = ""
    broker_epoch: int = -1


@message
class BrokerHeartbeatRequest:
    """A broker is alive; ``metadata_offset`` is how far it has applied the metadata."""

    broker_id: int
    broker_epoch: int
    metadata_offset: int
    want_fence: bool = False  # controlled shutdown: move leadership away, then fence


@message
class BrokerHeartbeatReply:
    """Whether the broker is fenced; StaleBrokerEpoch means it must register again."""

    error: ErrorCode = ErrorCode.NONE
    message: str = ""
    is_fenced: bool = True


@message(audience=Audience.CLIENT)
class MetadataFetchRequest:
    """Long-poll for metadata newer than ``known_offset``."""

    broker_id: int
    known_offset: int
    max_wait_ticks: int


@message
class MetadataFetchReply:
    """The committed metadata at ``offset``; ``image`` is None when nothing changed."""

    offset: int
    image: MetadataImage | None = None


@message
class NewTopic:
    """One topic to create; -1 = the default partition count / replication factor."""

    name: str
    num_partitions: int = -1
    replication_factor: int = -1
    configs: tuple[tuple[str, str | int | bool], ...] = ()
    assignment: tuple[tuple[int, ...], ...] = ()  # manual placement; () = let zafka place
    internal: bool = False  # set by zafka itself for __consumer_offsets, never by users


@message
class TopicResult:
    """Per-topic outcome of an admin request."""

    name: str
    error: ErrorCode = ErrorCode.NONE
    message: str = ""
    topic_id: str = ""


@message(audience=Audience.CLIENT)
class CreateTopicsRequest:
    """Create topics (``validate_only``: check without creating)."""

    topics: tuple[NewTopic, ...]
    validate_only: bool = False


@message
class CreateTopicsReply:
    """One result per requested topic, in order."""

    results: tuple[TopicResult, ...]


@message(audience=Audience.CLIENT)
class DeleteTopicsRequest:
    """Delete topics by name."""

    names: tuple[str, ...]


@message
class DeleteTopicsReply:
    """One result per requested topic, in order."""

    results: tuple[TopicResult, ...]


@message
class NewPartitions:
    """Grow a topic to ``total_count`` partitions (optionally with manual placement)."""

    name: str
    total_count: int
    assignment: tuple[tuple[int, ...], ...] = ()


@message(audience=Audience.CLIENT)
class CreatePartitionsRequest:
    """Add partitions to topics."""

    topics: tuple[NewPartitions, ...]
    validate_only: bool = False


@message
class CreatePartitionsReply:
    """One result per requested topic, in order."""

    results: tuple[TopicResult, ...]


@message
class ConfigEntry:
    """One effective config value as text, and whether it is the default."""

    name: str
    value: str
    is_default: bool


@message
class TopicConfigs:
    """The effective configs of one topic."""

    name: str
    error: ErrorCode = ErrorCode.NONE
    message: str = ""
    entries: tuple[ConfigEntry, ...] = ()


@message(audience=Audience.CLIENT)
class DescribeConfigsRequest:
    """Describe the effective configs of topics."""

    names: tuple[str, ...]


@message
class DescribeConfigsReply:
    """One entry per requested topic, in order."""

    results: tuple[TopicConfigs, ...]


@message
class AlterTopicConfigs:
    """Config changes for one topic: keys to set and keys to reset to their default."""

    name: str
    set_configs: tuple[tuple[str, str | int | bool], ...] = ()
    delete_configs: tuple[str, ...] = ()


@message(audience=Audience.CLIENT)
class AlterConfigsRequest:
    """Incrementally alter topic configs."""

    topics: tuple[AlterTopicConfigs, ...]
    validate_only: bool = False


@message
class AlterConfigsReply:
    """One result per requested topic, in order."""

    results: tuple[TopicResult, ...]


@message(audience=Audience.CLIENT)
class ListTopicsRequest:
    """List topic names."""

    include_internal: bool = False


@message
class TopicListing:
    """A topic's name, id, partition count and whether it is internal."""

    name: str
    topic_id: str
    num_partitions: int
    internal: bool


@message
class ListTopicsReply:
    """Every topic, sorted by name."""

    topics: tuple[TopicListing, ...]


@message(audience=Audience.CLIENT)
class DescribeTopicsRequest:
    """Describe topics (() = all, internal ones included)."""

    names: tuple[str, ...] = ()


@message
class TopicDescription:
    """A topic's partitions with leaders and ISRs."""

    name: str
    error: ErrorCode = ErrorCode.NONE
    message: str = ""
    topic_id: str = ""
    internal: bool = False
    partitions: tuple[PartitionRecord, ...] = ()


@message
class DescribeTopicsReply:
    """One description per requested topic and the brokers they refer to."""

    topics: tuple[TopicDescription, ...]
    brokers: tuple[BrokerRecord, ...]


@message
class AlterPartitionRequest:
    """A partition leader asks to change the ISR (the epochs are those it knows)."""

    broker_id: int
    broker_epoch: int
    topic: str
    partition: int
    leader_epoch: int
    partition_epoch: int
    new_isr: tuple[int, ...]


@message
class AlterPartitionReply:
    """The partition's state after the change, or why it was refused."""

    error: ErrorCode = ErrorCode.NONE
    message: str = ""
    partition: PartitionRecord | None = None


@message
class AllocateProducerIdsRequest:
    """A broker asks for a block of producer ids."""

    broker_id: int
    broker_epoch: int
    count: int = 1000


@message
class AllocateProducerIdsReply:
    """The first id of the allocated block and its size."""

    error: ErrorCode = ErrorCode.NONE
    message: str = ""
    first_producer_id: int = -1
    count: int = 0


class ElectionType(enum.Enum):
    """Kind of leader election an admin asks for."""

    PREFERRED = 0
    UNCLEAN = 1


@message(audience=Audience.CLIENT)
class ElectLeadersRequest:
    """Elect leaders for partitions (() = every partition)."""

    election_type: ElectionType
    partitions: tuple[tuple[str, int], ...] = ()


@message
class PartitionResult:
    """Per-partition outcome of an admin request."""

    topic: str
    partition: int
    error: ErrorCode = ErrorCode.NONE
    message: str = ""


@message
class ElectLeadersReply:
    """One result per partition considered."""

    results: tuple[PartitionResult, ...]


@message(audience=Audience.CLIENT)
class AlterPartitionReassignmentsRequest:
    """Reassign partitions: (topic, partition, target replicas) each; None as target cancels."""

    reassignments: tuple[tuple[str, int, tuple[int, ...] | None], ...]


@message
class AlterPartitionReassignmentsReply:
    """One result per requested partition, in order."""

    results: tuple[PartitionResult, ...]


@message(audience=Audience.CLIENT)
class ListPartitionReassignmentsRequest:
    """List ongoing reassignments of the named partitions (() = all)."""

    partitions: tuple[tuple[str, int], ...] = ()


@message
class OngoingReassignment:
    """A partition being reassigned: its replica set now, and who joins and who leaves."""

    topic: str
    partition: int
    replicas: tuple[int, ...]
    adding_replicas: tuple[int, ...]
    removing_replicas: tuple[int, ...]


@message
class ListPartitionReassignmentsReply:
    """The ongoing reassignments, sorted by topic and partition."""

    reassignments: tuple[OngoingReassignment, ...]


# =====================================================================================
# Section: replication, produce and fetch (owner: core/replication.py, actors/)
# =====================================================================================

LATEST_TIMESTAMP = -1  # ListOffsets: the next offset to be committed (the high watermark)
EARLIEST_TIMESTAMP = -2  # ListOffsets: the log start offset


@message
class EpochEndOffset:
    """Where a leader epoch ends in a replica's log; (-1, -1) means unknown there."""

    leader_epoch: int
    end_offset: int

    @property
    def undefined(self) -> bool:
        return self.end_offset == -1


@message
class ProducePartitionData:
    """Record batches (RecordBatch v2 bytes, producer fields in their headers) for one
    partition."""

    topic: str
    partition: int
    records: Blob


@message(audience=Audience.CLIENT)
class ProduceRequest:
    """Batches for many partitions led by one broker; acks 0, 1 or -1 (all)."""

    acks: int
    timeout_ms: int
    partitions: tuple[ProducePartitionData, ...]
    transactional_id: str | None = None


@message
class ProducePartitionResponse:
    """One partition's produce outcome: the base offset given to the first batch."""

    topic: str
    partition: int
    error: ErrorCode = ErrorCode.NONE
    base_offset: int = -1
    log_append_time_ms: int = -1
    log_start_offset: int = -1
    error_message: str = ""


@message
class ProduceResponse:
    """The outcome of a ``ProduceRequest``, one entry per partition it carried."""

    partitions: tuple[ProducePartitionResponse, ...]
    throttle_time_ms: int = 0


@message
class FetchPartition:
    """Where to read one partition; the epochs fence stale leaders and find divergence."""

    topic: str
    partition: int
    fetch_offset: int
    partition_max_bytes: int
    current_leader_epoch: int = -1  # -1 = do not check
    last_fetched_epoch: int = -1  # followers: epoch of their last record (KIP-320)
    log_start_offset: int = -1  # followers: their log start offset


@message(audience=Audience.CLIENT)
class FetchRequest:
    """Read many partitions; replica_id -1 = consumer (reads below the HW only)."""

    replica_id: int
    max_wait_ms: int
    min_bytes: int
    max_bytes: int
    partitions: tuple[FetchPartition, ...]


@message
class FetchPartitionResponse:
    """One partition's fetch result: raw batches plus the leader's HW and log start."""

    topic: str
    partition: int
    error: ErrorCode = ErrorCode.NONE
    high_watermark: int = -1
    last_stable_offset: int = -1
    log_start_offset: int = -1
    diverging_epoch: EpochEndOffset | None = None  # follower must truncate (KIP-320)
    leader_id: int = -1  # set with NOT_LEADER_OR_FOLLOWER / FENCED_LEADER_EPOCH if known
    leader_epoch: int = -1
    records: Blob = b""


@message
class FetchResponse:
    """The outcome of a ``FetchRequest``, one entry per partition it asked for."""

    partitions: tuple[FetchPartitionResponse, ...]
    error: ErrorCode = ErrorCode.NONE
    throttle_time_ms: int = 0


@message
class ListOffsetsPartition:
    """Find an offset by timestamp (``LATEST_TIMESTAMP`` -1 / ``EARLIEST_TIMESTAMP`` -2)."""

    topic: str
    partition: int
    timestamp: int
    current_leader_epoch: int = -1


@message(audience=Audience.CLIENT)
class ListOffsetsRequest:
    """Offsets by timestamp for many partitions; replica_id -1 = consumer."""

    partitions: tuple[ListOffsetsPartition, ...]
    replica_id: int = -1


@message
class ListOffsetsPartitionResponse:
    """The offset found (-1 if none) with the timestamp and epoch of its record."""

    topic: str
    partition: int
    error: ErrorCode = ErrorCode.NONE
    timestamp: int = -1
    offset: int = -1
    leader_epoch: int = -1


@message
class ListOffsetsResponse:
    """The outcome of a ``ListOffsetsRequest``, one entry per partition."""

    partitions: tuple[ListOffsetsPartitionResponse, ...]


@message
class OffsetForLeaderEpochPartition:
    """Ask where ``leader_epoch`` ends in the leader's log (KIP-101/KIP-279)."""

    topic: str
    partition: int
    leader_epoch: int
    current_leader_epoch: int = -1


@message
class OffsetForLeaderEpochRequest:
    """End offsets of epochs for many partitions; replica_id = the asking follower."""

    replica_id: int
    partitions: tuple[OffsetForLeaderEpochPartition, ...]


@message
class OffsetForLeaderEpochPartitionResponse:
    """The largest epoch <= the one asked and where it ends (-1, -1 = unknown)."""

    topic: str
    partition: int
    error: ErrorCode = ErrorCode.NONE
    leader_epoch: int = -1
    end_offset: int = -1


@message
class OffsetForLeaderEpochResponse:
    """The outcome of an ``OffsetForLeaderEpochRequest``, one entry per partition."""

    partitions: tuple[OffsetForLeaderEpochPartitionResponse, ...]



# =====================================================================================
# Section: consumer groups and offsets (owner: actors/group.py, client/)
# =====================================================================================


@dataclasses.dataclass(frozen=True, slots=True, order=True)
class TopicPartition:
    """A (topic, partition) pair; the one positional catalogue class, unpacks like a tuple."""

    topic: str
    partition: int

    def __iter__(self) -> Iterator[str | int]:
        return iter((self.topic, self.partition))


class GroupState(enum.Enum):
    """A consumer group's state, named like Kafka's classic group states."""

    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"


@message(audience=Audience.CLIENT)
class FindCoordinatorRequest:
    """Which broker coordinates ``group_id`` (leads its ``__consumer_offsets`` partition)?"""

    group_id: str


@message
class FindCoordinatorResponse:
    """The coordinator of a group: broker id, address and the offsets partition it leads."""

    error_code: ErrorCode
    node_id: int = -1
    address: str = ""
    partition: int = -1


@message
class GroupProtocol:
    """One assignor a joining member supports, with its opaque subscription metadata."""

    name: str
    metadata: bytes


@message(audience=Audience.CLIENT)
class JoinGroupRequest:
    """Join (or rejoin) a group; the reply is held until the rebalance completes."""

    group_id: str
    member_id: str = ""  # "" on the first join: the coordinator assigns one
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocol_type: str = "consumer"
    protocols: tuple[GroupProtocol, ...]
    client_id: str = ""
    client_host: str = ""


@message
class JoinGroupMember:
    """A member as the group leader sees it: its id and the metadata of the chosen protocol."""

    member_id: str
    metadata: bytes


@message
class JoinGroupResponse:
    """A generation formed: its id, protocol and leader; only the leader gets ``members``."""

    error_code: ErrorCode
    generation_id: int = -1
    protocol_type: str = ""
    protocol_name: str = ""
    leader: str = ""
    member_id: str = ""
    members: tuple[JoinGroupMember, ...] = ()


@message
class SyncGroupAssignment:
    """The opaque assignment the leader computed for one member."""

    member_id: str
    assignment: bytes


@message(audience=Audience.CLIENT)
class SyncGroupRequest:
    """Fetch this member's assignment; the leader also hands in everyone's assignments."""

    group_id: str
    generation_id: int
    member_id: str
    assignments: tuple[SyncGroupAssignment, ...] = ()


@message
class SyncGroupResponse:
    """This member's assignment for the current generation."""

    error_code: ErrorCode
    protocol_type: str = ""
    protocol_name: str = ""
    assignment: bytes = b""


@message(audience=Audience.CLIENT)
class HeartbeatRequest:
    """A member is alive; the reply says whether a rebalance is in progress."""

    group_id: str
    generation_id: int
    member_id: str


@message
class HeartbeatResponse:
    """NONE, or REBALANCE_IN_PROGRESS / ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID: rejoin."""

    error_code: ErrorCode


@message(audience=Audience.CLIENT)
class LeaveGroupRequest:
    """A member leaves its group at once (instead of waiting for its session to expire)."""

    group_id: str
    member_id: str


@message
class LeaveGroupResponse:
    """The outcome of a ``LeaveGroupRequest``."""

    error_code: ErrorCode


@message
class OffsetCommitPartition:
    """One partition's offset to commit: the next offset to consume, plus free-form metadata."""

    topic: str
    partition: int
    offset: int
    metadata: str = ""
    leader_epoch: int = -1


@message(audience=Audience.CLIENT)
class OffsetCommitRequest:
    """Commit offsets; generation -1 and member "" for a standalone consumer of an empty group."""

    group_id: str
    generation_id: int = -1
    member_id: str = ""
    offsets: tuple[OffsetCommitPartition, ...]


@message
class OffsetCommitPartitionResponse:
    """The outcome of committing one partition's offset."""

    topic: str
    partition: int
    error_code: ErrorCode


@message
class OffsetCommitResponse:
    """Per-partition outcomes of an ``OffsetCommitRequest``, in request order."""

    partitions: tuple[OffsetCommitPartitionResponse, ...]


@message(audience=Audience.CLIENT)
class OffsetFetchRequest:
    """Fetch a group's committed offsets; ``partitions=None`` means every committed one."""

    group_id: str
    partitions: tuple[TopicPartition, ...] | None = None


@message
class OffsetFetchPartition:
    """One committed offset (-1 and NONE when nothing was committed)."""

    topic: str
    partition: int
    offset: int
    metadata: str = ""
    leader_epoch: int = -1
    error_code: ErrorCode = ErrorCode.NONE


@message
class OffsetFetchResponse:
    """A group's committed offsets; ``error_code`` is group-level (e.g. NOT_COORDINATOR)."""

    error_code: ErrorCode
    partitions: tuple[OffsetFetchPartition, ...] = ()


@message(audience=Audience.CLIENT)
class ListGroupsRequest:
    """List the groups this coordinator owns, optionally only those in ``states_filter``."""

    states_filter: tuple[GroupState, ...] = ()


@message
class ListedGroup:
    """One group in a ``ListGroupsResponse``."""

    group_id: str
    protocol_type: str
    state: GroupState


@message
class ListGroupsResponse:
    """The groups a coordinator owns."""

    error_code: ErrorCode
    groups: tuple[ListedGroup, ...] = ()


@message(audience=Audience.CLIENT)
class DescribeGroupsRequest:
    """Describe groups: state, protocol, members and their assignments."""

    group_ids: tuple[str, ...]


@message
class DescribedMember:
    """A member of a described group, with its subscription metadata and assignment."""

    member_id: str
    client_id: str
    client_host: str
    metadata: bytes
    assignment: bytes


@message
class DescribedGroup:
    """One group's description; an unknown group is reported in state DEAD with no members."""

    error_code: ErrorCode
    group_id: str
    state: GroupState
    protocol_type: str = ""
    protocol_name: str = ""
    generation_id: int = -1
    leader: str = ""
    members: tuple[DescribedMember, ...] = ()


@message
class DescribeGroupsResponse:
    """Descriptions of the requested groups, in request order."""

    groups: tuple[DescribedGroup, ...]


@message
class DeleteGroupsRequest:
    """Delete empty groups and their committed offsets."""

    group_ids: tuple[str, ...]


@message
class DeletedGroup:
    """The outcome of deleting one group (NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND, ...)."""

    group_id: str
    error_code: ErrorCode


@message
class DeleteGroupsResponse:
    """Per-group outcomes of a ``DeleteGroupsRequest``, in request order."""

    results: tuple[DeletedGroup, ...]


# =====================================================================================
# Section: calls inside a broker (owner: actors/broker.py, actors/replica.py)
# =====================================================================================


@message(audience=Audience.LOCAL)
class ReplicaUpdate:
    """The committed state of a partition this broker hosts, with its topic's configs."""

    record: PartitionRecord
    configs: tuple[tuple[str, str | int | bool], ...]
    leader_address: str  # "" when the partition has no leader
    broker_epoch: int


@message(audience=Audience.LOCAL)
class ReplicaRemove:
    """This broker no longer hosts the replica: stop it and delete its log."""

    topic_id: str


@message(audience=Audience.LOCAL)
class ReplicaProduce:
    """One partition's share of a ``ProduceRequest``."""

    call_id: int
    acks: int
    timeout_ms: int
    data: ProducePartitionData


@message(audience=Audience.LOCAL)
class ReplicaDataReady:
    """A replica tells its broker that what a fetch can read from it changed — records
    appended, the high watermark moved, leadership gained or lost — with what it can now
    read (``leader_epoch`` -1: not leading) and the whole batches its last append added,
    [``appended_from``, ``appended_to``), so that the broker answers the fetches it holds
    for the partition without asking the replica again (``core.delayed_fetch``)."""

    topic: str
    partition: int
    leader_epoch: int = -1
    log_start_offset: int = -1
    log_end_offset: int = -1
    high_watermark: int = -1
    appended_from: int = -1
    appended_to: int = -1
    appended: Blob = b""


@message(audience=Audience.LOCAL)
class ReplicaFetch:
    """One partition's share of a ``FetchRequest``; ``max_wait_ms`` 0 answers at once.
    ``again``: a fetch the broker held, asked again for data only (the follower's position
    was recorded when the fetch first came)."""

    call_id: int
    replica_id: int
    max_wait_ms: int
    data: FetchPartition
    again: bool = False


@message(audience=Audience.LOCAL)
class ReplicaListOffsets:
    """One partition's share of a ``ListOffsetsRequest``."""

    call_id: int
    replica_id: int
    data: ListOffsetsPartition


@message(audience=Audience.LOCAL)
class ReplicaEpochEnd:
    """One partition's share of an ``OffsetForLeaderEpochRequest``."""

    call_id: int
    data: OffsetForLeaderEpochPartition


@message(audience=Audience.LOCAL)
class ReplicaCallDone:
    """A replica's answer to one ``Replica*`` call: the per-partition response."""

    call_id: int
    response: Any


@message(audience=Audience.LOCAL)
class ReplicaAlterIsr:
    """A leader asks its broker to send an ``AlterPartitionRequest`` to the controller."""

    topic: str
    partition: int
    leader_epoch: int
    partition_epoch: int
    new_isr: tuple[int, ...]


@message(audience=Audience.CLIENT)
class InitProducerIdRequest:
    """A producer asks any broker for an idempotent producer id (and epoch)."""

    transactional_id: str | None = None


@message
class InitProducerIdResponse:
    """The producer id and epoch to stamp on batches (sequences start at 0 per partition)."""

    error: ErrorCode = ErrorCode.NONE
    message: str = ""
    producer_id: int = -1
    producer_epoch: int = -1


@message(audience=Audience.LOCAL)
class ReplicaRead:
    """Read a hosted replica's log up to its log end (the broker's own group coordinator
    replaying ``__consumer_offsets``)."""

    call_id: int
    offset: int
    max_bytes: int


@message(audience=Audience.LOCAL)
class ReplicaReadDone:
    """Batches read from ``offset`` (empty at the log end) and the log end offset."""

    call_id: int
    records: Blob
    log_end_offset: int
    error: ErrorCode = ErrorCode.NONE


@message(audience=Audience.LOCAL)
class GroupPartitions:
    """The ``__consumer_offsets`` partitions this broker now leads (its groups)."""

    led: tuple[int, ...]
    num_partitions: int


@message(audience=Audience.LOCAL)
class FetchWant:
    """A follower replica's next fetch, batched by its broker's fetcher for that leader."""

    replica: str  # the replica actor's name
    request_id: int
    partition: FetchPartition


@message(audience=Audience.LOCAL)
class FetchedPartition:
    """The leader's answer for one partition of a batched follower fetch."""

    request_id: int
    response: FetchPartitionResponse


@message(audience=Audience.LOCAL)
class FetcherForget:
    """The partition is no longer fetched from this fetcher's leader."""

    topic: str
    partition: int


@message(audience=Audience.CLIENT)
class ReplicaStatusRequest:
    """Ask the broker for the state of every replica it hosts (tests, describe, chaos)."""


@message
class ReplicaStatus:
    """One replica's state: role, epochs, ISR, log start / end, HW, flushed offset."""

    topic: str
    partition: int
    role: ReplicaRole
    leader_epoch: int
    isr: tuple[int, ...]
    log_start_offset: int
    log_end_offset: int
    high_watermark: int
    flushed_offset: int


@message
class ReplicaStatusReply:
    """Every replica a broker hosts."""

    replicas: tuple[ReplicaStatus, ...]


# =====================================================================================
# Section: the Kafka listener (owner: actors/kafka_listener.py; process-local)
# =====================================================================================


@message(audience=Audience.LOCAL)
class KafkaCall:
    """The Kafka listener's thread hands a translated request to its actor to send."""

    call_id: int
    target: str  # "broker" | "controller"
    request: Any


# =====================================================================================
# Section: principals, credentials and ACLs (owner: core/acl.py, transport/auth.py)
# =====================================================================================


class AclOperation(enum.Enum):
    """What an ACL allows or denies (Kafka's names)."""

    ALL = "All"
    READ = "Read"
    WRITE = "Write"
    CREATE = "Create"
    DELETE = "Delete"
    ALTER = "Alter"
    DESCRIBE = "Describe"
    ALTER_CONFIGS = "AlterConfigs"
    DESCRIBE_CONFIGS = "DescribeConfigs"
    CLUSTER_ACTION = "ClusterAction"


class ResourceType(enum.Enum):
    """The kind of thing an ACL is about."""

    TOPIC = "Topic"
    GROUP = "Group"
    CLUSTER = "Cluster"


class PatternType(enum.Enum):
    """How an ACL's resource name matches: the exact name ("*" = any), or a prefix."""

    LITERAL = "Literal"
    PREFIXED = "Prefixed"


class AclPermission(enum.Enum):
    """Whether a matching ACL allows or denies (deny wins)."""

    ALLOW = "Allow"
    DENY = "Deny"


@message
class IdentityRecord:
    """A principal the cluster admits: name (principal "User:<name>"), role, CURVE key."""

    name: str
    role: str  # "node" | "admin" | "client"
    public_key: str  # Z85 CURVE public key


@message
class AclBinding:
    """One Kafka-style ACL: ``principal`` may (or may not) do ``operation`` to a resource."""

    principal: str  # "User:alice", or "User:*" for every principal
    operation: AclOperation
    resource_type: ResourceType
    resource_name: str  # literal "*" = every resource of the type
    pattern_type: PatternType = PatternType.LITERAL
    permission: AclPermission = AclPermission.ALLOW
    host: str = "*"


@message
class PutIdentity:
    """Metadata command: admit a further identity."""

    identity: IdentityRecord


@message
class RevokeIdentity:
    """Metadata command: take an identity back; its key is refused from then on."""

    name: str
    public_key: str


@message
class CreateAcls:
    """Metadata command: add ACL bindings (already present ones are kept once)."""

    bindings: tuple[AclBinding, ...]


@message
class DeleteAcls:
    """Metadata command: remove exactly these ACL bindings."""

    bindings: tuple[AclBinding, ...]


@message(audience=Audience.CLIENT)
class CreateCredentialRequest:
    """Admit identity ``name`` with ``role`` and the public half of its key (admins only)."""

    name: str
    role: str
    public_key: str


@message(audience=Audience.CLIENT)
class RevokeCredentialRequest:
    """Revoke identity ``name`` on the running cluster (admins only)."""

    name: str


@message(audience=Audience.CLIENT)
class DescribeCredentialsRequest:
    """List the identities the cluster admits (admins only)."""


@message
class DescribeCredentialsReply:
    """The identities admitted (bootstrap ones included) and the revoked keys."""

    identities: tuple[IdentityRecord, ...]
    revoked_keys: tuple[str, ...]


@message(audience=Audience.CLIENT)
class CreateAclsRequest:
    """Add ACL bindings (admins only)."""

    bindings: tuple[AclBinding, ...]


@message(audience=Audience.CLIENT)
class DeleteAclsRequest:
    """Remove ACL bindings (admins only)."""

    bindings: tuple[AclBinding, ...]


@message(audience=Audience.CLIENT)
class DescribeAclsRequest:
    """List every ACL binding (admins only)."""


@message
class DescribeAclsReply:
    """Every ACL binding in the metadata."""

    bindings: tuple[AclBinding, ...]


def catalogue() -> frozenset[type]:
    """Every class the wire may carry: the dataclasses and enums declared in this module."""
    found: set[type] = {ErrorCode}
    for value in globals().values():
        if not isinstance(value, type) or value.__module__ != __name__:
            continue
        if dataclasses.is_dataclass(value) or issubclass(value, enum.Enum):
            found.add(value)
    return frozenset(found)


__all__ = sorted(
    [name for name, value in globals().items()
     if isinstance(value, type) and value.__module__ == __name__ and not name.startswith("_")]
    + ["Blob", "EARLIEST_TIMESTAMP", "LATEST_TIMESTAMP", "audience_of", "catalogue", "message"]
)
