"""The data of the group coordinator: groups, members, limits and the effects it returns.

Owns: ``Group`` and ``Member`` (plain records with the small queries the coordinator asks of
them), ``GroupLimits`` (bounds and timeouts, in milliseconds, converted to ticks), and the
effect types ``GroupEffects`` / ``SendReply`` / ``AppendRecords``.  The rules that change this
state live in ``core.group``.

Must never: do I/O, read a clock or use randomness.
"""

from __future__ import annotations

import dataclasses

from zafka.core import group_codec as codec
from zafka.core.errors import ErrorCode
from zafka.core.group_codec import GroupMetadata, MemberMetadata, OffsetAndMetadata
from zafka.core.messages import (
    DeletedGroup,
    DeleteGroupsResponse,
    DescribedGroup,
    DescribedMember,
    GroupProtocol,
    GroupState,
    JoinGroupRequest,
    OffsetCommitPartitionResponse,
    OffsetCommitResponse,
    SyncGroupResponse,
    TopicPartition,
)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class GroupLimits:
    """Bounds and timeouts of the group coordinator (Kafka's broker ``group.*`` settings)."""

    tick_ms: int = 10
    groups_max: int = 10_000
    group_max_size: int = 1_000
    group_min_session_timeout_ms: int = 6_000
    group_max_session_timeout_ms: int = 1_800_000
    group_initial_rebalance_delay_ms: int = 3_000
    offset_metadata_max_bytes: int = 4_096

    def ticks(self, ms: int) -> int:
        """Milliseconds as whole ticks, rounded up."""
        return -(-ms // self.tick_ms)

    def validate(self) -> GroupLimits:
        """Raise ``ValueError`` naming the first broken rule; return self."""
        rules = [
            (self.tick_ms > 0, "tick_ms > 0"),
            (self.groups_max > 0 and self.group_max_size > 0,
             "groups_max > 0 and group_max_size > 0"),
            (0 < self.group_min_session_timeout_ms <= self.group_max_session_timeout_ms,
             "0 < group_min_session_timeout_ms <= group_max_session_timeout_ms"),
            (self.group_initial_rebalance_delay_ms >= 0,
             "group_initial_rebalance_delay_ms >= 0"),
        ]
        for ok, rule in rules:
            if not ok:
                raise ValueError(f"invalid group limits: {rule}")
        return self


@dataclasses.dataclass(frozen=True, slots=True)
class SendReply:
    """Effect: send ``body`` to the caller-given ``reply_to`` token."""

    reply_to: object
    body: object


@dataclasses.dataclass(frozen=True, slots=True)
class AppendRecords:
    """Effect: append (key, value) records to a ``__consumer_offsets`` partition, then report
    the outcome with ``GroupCoordinator.on_append_done(append_id, error)``."""

    append_id: int
    partition: int
    records: tuple[tuple[bytes, bytes | None], ...]


@dataclasses.dataclass(slots=True)
class GroupEffects:
    """What a coordinator call asks the caller to do: appends first, then replies."""

    appends: list[AppendRecords] = dataclasses.field(default_factory=list)
    replies: list[SendReply] = dataclasses.field(default_factory=list)

    def reply(self, reply_to: object, body: object) -> GroupEffects:
        self.replies.append(SendReply(reply_to, body))
        return self

    def append(self, append_id: int, partition: int,
               records: tuple[tuple[bytes, bytes | None], ...]) -> None:
        self.appends.append(AppendRecords(append_id, partition, records))

    def extend(self, other: GroupEffects) -> None:
        self.appends.extend(other.appends)
        self.replies.extend(other.replies)


@dataclasses.dataclass(frozen=True, slots=True)
class Waiter:
    """A held request: where its reply goes."""

    reply_to: object


def append_error(error: ErrorCode) -> ErrorCode:
    """The error a client sees when its append to ``__consumer_offsets`` failed (Kafka's map)."""
    if error in (ErrorCode.NONE, ErrorCode.NOT_COORDINATOR, ErrorCode.INVALID_REQUEST):
        return error
    if error in (ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.NOT_ENOUGH_REPLICAS,
                 ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND, ErrorCode.REQUEST_TIMED_OUT,
                 ErrorCode.COORDINATOR_NOT_AVAILABLE):
        return ErrorCode.COORDINATOR_NOT_AVAILABLE
    if error in (ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.FENCED_LEADER_EPOCH):
        return ErrorCode.NOT_COORDINATOR
    return ErrorCode.INTERNAL


@dataclasses.dataclass(slots=True)
class PendingCommit:
    """An offset commit waiting for its append; per-partition results in request order."""

    group_id: str
    reply_to: object
    results: list[tuple[TopicPartition, ErrorCode]] = dataclasses.field(default_factory=list)
    offsets: dict[TopicPartition, OffsetAndMetadata] = dataclasses.field(default_factory=dict)

    def response(self, append_outcome: ErrorCode) -> OffsetCommitResponse:
        return OffsetCommitResponse(partitions=tuple(
            OffsetCommitPartitionResponse(
                topic=tp.topic, partition=tp.partition,
                error_code=append_outcome if code is ErrorCode.NONE else code)
            for tp, code in self.results))


@dataclasses.dataclass(frozen=True, slots=True)
class PendingDelete:
    """Deleted groups waiting for their tombstones' append; per-group results in order."""

    reply_to: object
    results: tuple[tuple[str, ErrorCode], ...]

    def response(self, append_outcome: ErrorCode) -> DeleteGroupsResponse:
        return DeleteGroupsResponse(results=tuple(
            DeletedGroup(group_id=g, error_code=append_outcome if code is ErrorCode.NONE
                         else code) for g, code in self.results))


@dataclasses.dataclass(frozen=True, slots=True)
class PendingSync:
    """The leader's assignments of one generation, waiting for their append."""

    group_id: str
    generation_id: int
    assignments: dict[str, bytes]


@dataclasses.dataclass(slots=True)
class Member:
    """One group member."""

    member_id: str
    client_id: str
    client_host: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    session_timeout_ticks: int
    rebalance_timeout_ticks: int
    protocols: tuple[GroupProtocol, ...]
    assignment: bytes = b""
    session_deadline: int = 0
    join_waiter: Waiter | None = None
    sync_waiter: Waiter | None = None

    @classmethod
    def joining(cls, member_id: str, req: JoinGroupRequest, limits: GroupLimits) -> Member:
        member = cls(member_id, "", "", 0, 0, 0, 0, ())
        member.update(req, limits)
        return member

    @classmethod
    def restored(cls, meta: MemberMetadata, protocol_name: str, limits: GroupLimits) -> Member:
        return cls(meta.member_id, meta.client_id, meta.client_host, meta.session_timeout_ms,
                   meta.rebalance_timeout_ms, limits.ticks(meta.session_timeout_ms),
                   limits.ticks(meta.rebalance_timeout_ms),
                   (GroupProtocol(name=protocol_name, metadata=meta.subscription),),
                   meta.assignment)

    def update(self, req: JoinGroupRequest, limits: GroupLimits) -> None:
        self.client_id, self.client_host = req.client_id, req.client_host
        self.session_timeout_ms = req.session_timeout_ms
        self.rebalance_timeout_ms = max(req.rebalance_timeout_ms, req.session_timeout_ms)
        self.session_timeout_ticks = limits.ticks(self.session_timeout_ms)
        self.rebalance_timeout_ticks = limits.ticks(self.rebalance_timeout_ms)
        self.protocols = req.protocols

    def metadata(self, protocol_name: str) -> bytes:
        """This member's metadata for ``protocol_name`` (b"" if it does not support it)."""
        return next((p.metadata for p in self.protocols if p.name == protocol_name), b"")

    def session_expired(self, now: int) -> bool:
        """Held requests keep a session alive; otherwise it ends at its deadline."""
        waiting = self.join_waiter is not None or self.sync_waiter is not None
        return not waiting and now >= self.session_deadline


@dataclasses.dataclass(slots=True)
class Group:
    """One consumer group and its committed offsets."""

    group_id: str
    partition: int
    state: GroupState = GroupState.EMPTY
    protocol_type: str = ""
    protocol_name: str = ""
    generation_id: int = 0
    leader: str = ""
    members: dict[str, Member] = dataclasses.field(default_factory=dict)
    offsets: dict[TopicPartition, OffsetAndMetadata] = dataclasses.field(default_factory=dict)
    rebalance_deadline: int = 0
    initial_delay_deadline: int = 0
    sync_deadline: int = 0
    pending_sync: set[str] = dataclasses.field(default_factory=set)
    store_pending: bool = False

    def supports(self, protocol_type: str, names: set[str], excluding: str) -> bool:
        """May a member with these protocols be (or stay) in the group?"""
        others = [m for m in self.members.values() if m.member_id != excluding]
        if not others:
            return True
        common = set.intersection(*({p.name for p in m.protocols} for m in others))
        return protocol_type == self.protocol_type and bool(common & names)

    def select_protocol(self) -> str:
        """Kafka's vote: each member backs its most preferred common protocol; ties by name."""
        common = set.intersection(*({p.name for p in m.protocols}
                                    for m in self.members.values()))
        assert common, f"group {self.group_id}: no common protocol"
        votes = dict.fromkeys(common, 0)
        for m in self.members.values():
            votes[next(p.name for p in m.protocols if p.name in common)] += 1
        return min(common, key=lambda name: (-votes[name], name))

    def extend_initial_delay(self, now: int, delay_ticks: int) -> None:
        """A member joined during the initial delay: wait a little longer (bounded)."""
        if now < self.initial_delay_deadline:
            self.initial_delay_deadline = min(now + delay_ticks, self.rebalance_deadline)

    def metadata(self, assignments: dict[str, bytes] | None = None) -> GroupMetadata:
        """What a group metadata record stores."""
        return GroupMetadata(self.protocol_type, self.generation_id, self.protocol_name,
                             self.leader, tuple(MemberMetadata(
                                 m.member_id, m.client_id, m.client_host,
                                 m.session_timeout_ms, m.rebalance_timeout_ms,
                                 m.metadata(self.protocol_name),
                                 (assignments or {}).get(m.member_id, m.assignment))
                                 for m in self.members.values()))

    def sync_response(self, member: Member) -> SyncGroupResponse:
        return SyncGroupResponse(error_code=ErrorCode.NONE, protocol_type=self.protocol_type,
                                 protocol_name=self.protocol_name,
                                 assignment=member.assignment)

    def assignments_disjoint(self, assignments: dict[str, bytes]) -> bool:
        """For the consumer protocol: no partition is given to two members."""
        if self.protocol_type != "consumer":
            return True
        seen: set[TopicPartition] = set()
        for data in assignments.values():
            try:
                partitions = codec.decode_assignment(data)
            except (ValueError, KeyError, TypeError):
                return False
            if seen.intersection(partitions) or len(set(partitions)) != len(partitions):
                return False
            seen.update(partitions)
        return True

    def describe(self) -> DescribedGroup:
        """This group as DescribeGroups reports it."""
        members = tuple(DescribedMember(
            member_id=m.member_id, client_id=m.client_id, client_host=m.client_host,
            metadata=m.metadata(self.protocol_name), assignment=m.assignment)
            for m in self.members.values())
        return DescribedGroup(
            error_code=ErrorCode.NONE, group_id=self.group_id, state=self.state,
            protocol_type=self.protocol_type, protocol_name=self.protocol_name,
            generation_id=self.generation_id, leader=self.leader, members=members)

    def check(self) -> None:
        """Assert this group's invariants."""
        assert self.generation_id >= 0, self.group_id
        if self.state is GroupState.EMPTY:
            assert not self.members, self.group_id
        if self.state in (GroupState.COMPLETING_REBALANCE, GroupState.STABLE):
            assert self.leader in self.members, (self.group_id, self.leader)
            assert all(m.join_waiter is None for m in self.members.values()), self.group_id
            assert all(any(p.name == self.protocol_name for p in m.protocols)
                       for m in self.members.values()), self.group_id
        if self.state is GroupState.STABLE:
            assert all(m.sync_waiter is None for m in self.members.values()), self.group_id
            assert self.assignments_disjoint({m.member_id: m.assignment
                                              for m in self.members.values()}), self.group_id
        if self.state is not GroupState.PREPARING_REBALANCE:
            assert all(m.join_waiter is None for m in self.members.values()), self.group_id


__all__ = [
    "AppendRecords", "Group", "GroupEffects", "GroupLimits", "Member", "PendingCommit",
    "PendingDelete", "PendingSync", "SendReply", "Waiter", "append_error",
]
