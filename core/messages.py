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
from collections.abc import Iterator
from typing import Any, TypeVar

from core.errors import ErrorCode

T = TypeVar("T")

# The type of record-batch payloads on the wire (bytes in memory, memoryview after receipt).
Blob = bytes | bytearray | memoryview


def message(cls: type[T]) -> type[T]:
    """Declare a catalogue message: frozen, slotted, keyword-only dataclass."""
    return dataclasses.dataclass(frozen=True, slots=True, kw_only=True)(cls)


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


@message
class Tick:
    """One logical tick from the process ticker."""

    count: int


@message
class ErrorReply:
    """A request failed; ``code`` names the Kafka-style error."""

    code: ErrorCode
    message: str = ""


@message
class StatusRequest:
    """Ask a node actor for its status."""


@message
class StatusReply:
    """A node's role, identity and role-specific details."""

    role: str
    node_id: int
    pid: int
    address: str
    details: dict[str, Any]


@message
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


# =====================================================================================
# Section: raft (owner: core/raft.py)
# =====================================================================================


# =====================================================================================
# Section: metadata commands and controller requests (owner: core/metadata.py)
# =====================================================================================


# =====================================================================================
# Section: replication, produce and fetch (owner: core/replication.py, actors/)
# =====================================================================================


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


@message
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


@message
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


@message
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


@message
class HeartbeatRequest:
    """A member is alive; the reply says whether a rebalance is in progress."""

    group_id: str
    generation_id: int
    member_id: str


@message
class HeartbeatResponse:
    """NONE, or REBALANCE_IN_PROGRESS / ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID: rejoin."""

    error_code: ErrorCode


@message
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


@message
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


@message
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


@message
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


@message
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


def catalogue() -> frozenset[type]:
    """Every class the wire may carry: the dataclasses and enums declared in this module."""
    found: set[type] = {ErrorCode}
    for value in globals().values():
        if not isinstance(value, type) or value.__module__ != __name__:
            continue
        if dataclasses.is_dataclass(value) or issubclass(value, enum.Enum):
            found.add(value)
    return frozenset(found)


__all__ = [
    "Blob", "Echo", "EchoReply", "Envelope", "ErrorReply", "Shutdown", "StatusReply",
    "StatusRequest", "Tick", "catalogue", "message",
]
