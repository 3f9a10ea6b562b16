"""Consumer-group APIs of the Kafka listener, served by zafka's own group coordinator.

Versions served (Kafka api key: versions):
  JoinGroup (11): 0-9        SyncGroup (14): 0-5        Heartbeat (12): 0-4
  LeaveGroup (13): 0-5       OffsetCommit (8): 2-8      OffsetFetch (9): 1-8
  ListGroups (16): 0-4       DescribeGroups (15): 0-5   DeleteGroups (42): 0-2
FindCoordinator (10, v0-v4) is in ``kafka.coordinator``.

Each API is two pure translations: a decoded Kafka request (attributes named like Kafka's
JSON schema fields in snake_case) into catalogue requests for the broker's ``group`` actor
(``core.group`` decides everything), and the catalogue replies into the Kafka response's
fields (a dict of the same snake_case names).  The group coordinator keeps protocol metadata
and assignments as opaque bytes per protocol name, as Kafka does, so zafka's consumer and
Kafka clients join one group.

How this differs from Kafka:
- Static membership (``group.instance.id``, JoinGroup v5+) is accepted but ignored: such a
  member is a dynamic member (a restart rejoins as a new member and triggers a rebalance).
- JoinGroup v4+ never answers MEMBER_ID_REQUIRED: a first join gets its member id at once.
- JoinGroup ``reason`` (v8+) and LeaveGroup ``reason`` (v5) are not recorded;
  ``skip_assignment`` (v9) is always false.
- OffsetCommit ``retention_time_ms`` (v2-v4) is ignored: offsets live until the group is
  deleted (or compaction removes their tombstones); ``require_stable`` (OffsetFetch v7+) is
  always honoured trivially, since zafka has no pending transactional offsets.
- DescribeGroups reports ``authorized_operations`` as unknown (-2**31).
- The KIP-848 consumer protocol (ConsumerGroupHeartbeat) is not served: clients use the
  classic protocol.

Must never: decide anything about groups (that is ``core.group``), do I/O, or block.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from zafka.core.errors import ErrorCode
from zafka.core.messages import (
    DeleteGroupsRequest,
    DeleteGroupsResponse,
    DescribeGroupsRequest,
    DescribeGroupsResponse,
    GroupProtocol,
    GroupState,
    HeartbeatRequest,
    HeartbeatResponse,
    JoinGroupRequest,
    JoinGroupResponse,
    LeaveGroupRequest,
    LeaveGroupResponse,
    ListGroupsRequest,
    ListGroupsResponse,
    OffsetCommitPartition,
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetFetchPartition,
    OffsetFetchRequest,
    OffsetFetchResponse,
    SyncGroupAssignment,
    SyncGroupRequest,
    SyncGroupResponse,
    TopicPartition,
)

JOIN_GROUP, HEARTBEAT, LEAVE_GROUP, SYNC_GROUP = 11, 12, 13, 14
OFFSET_COMMIT, OFFSET_FETCH, DESCRIBE_GROUPS, LIST_GROUPS, DELETE_GROUPS = 8, 9, 15, 16, 42
VERSIONS = {JOIN_GROUP: (0, 9), SYNC_GROUP: (0, 5), HEARTBEAT: (0, 4), LEAVE_GROUP: (0, 5),
            OFFSET_COMMIT: (2, 8), OFFSET_FETCH: (1, 8), LIST_GROUPS: (0, 4),
            DESCRIBE_GROUPS: (0, 5), DELETE_GROUPS: (0, 2)}
UNKNOWN_SERVER_ERROR = -1
UNKNOWN_OPERATIONS = -(2**31)


def kafka_error(code: ErrorCode) -> int:
    """A catalogue error as the Kafka error code a client understands."""
    if code in (ErrorCode.NO_QUORUM, ErrorCode.CLUSTER_UNREACHABLE):
        return int(ErrorCode.COORDINATOR_NOT_AVAILABLE)
    if code is ErrorCode.INTERNAL:
        return UNKNOWN_SERVER_ERROR
    return int(code)


# --- JoinGroup / SyncGroup / Heartbeat / LeaveGroup ------------------------------------


def join_group(req: Any, version: int, client_id: str, client_host: str) -> JoinGroupRequest:
    session_ms = int(req.session_timeout_ms)
    return JoinGroupRequest(
        group_id=req.group_id, member_id=req.member_id or "", session_timeout_ms=session_ms,
        rebalance_timeout_ms=int(req.rebalance_timeout_ms) if version >= 1 else session_ms,
        protocol_type=req.protocol_type,
        protocols=tuple(GroupProtocol(name=p.name, metadata=bytes(p.metadata))
                        for p in req.protocols),
        client_id=client_id, client_host=client_host)


def join_group_response(reply: JoinGroupResponse) -> dict[str, Any]:
    return {"throttle_time_ms": 0, "error_code": kafka_error(reply.error_code),
            "generation_id": reply.generation_id, "protocol_type": reply.protocol_type or None,
            "protocol_name": reply.protocol_name or None, "leader": reply.leader,
            "skip_assignment": False, "member_id": reply.member_id,
            "members": [{"member_id": m.member_id, "group_instance_id": None,
                         "metadata": bytes(m.metadata)} for m in reply.members]}


def sync_group(req: Any) -> SyncGroupRequest:
    return SyncGroupRequest(
        group_id=req.group_id, generation_id=int(req.generation_id), member_id=req.member_id,
        assignments=tuple(SyncGroupAssignment(member_id=a.member_id,
                                              assignment=bytes(a.assignment))
                          for a in req.assignments or ()))


def sync_group_response(reply: SyncGroupResponse) -> dict[str, Any]:
    return {"throttle_time_ms": 0, "error_code": kafka_error(reply.error_code),
            "protocol_type": reply.protocol_type or None,
            "protocol_name": reply.protocol_name or None, "assignment": bytes(reply.assignment)}


def heartbeat(req: Any) -> HeartbeatRequest:
    return HeartbeatRequest(group_id=req.group_id, generation_id=int(req.generation_id),
                            member_id=req.member_id)


def heartbeat_response(reply: HeartbeatResponse) -> dict[str, Any]:
    return {"throttle_time_ms": 0, "error_code": kafka_error(reply.error_code)}


def leave_group(req: Any, version: int) -> list[LeaveGroupRequest]:
    """One catalogue request per leaving member (v3+ batches members)."""
    ids = [m.member_id for m in req.members] if version >= 3 else [req.member_id]
    return [LeaveGroupRequest(group_id=req.group_id, member_id=m) for m in ids]


def leave_group_response(requests: Sequence[LeaveGroupRequest],
                         replies: Sequence[LeaveGroupResponse], version: int) -> dict[str, Any]:
    """v0-v2: the one member's error; v3+: per member, top level NONE unless all failed
    alike (Kafka reports member errors per member)."""
    codes = [kafka_error(r.error_code) for r in replies]
    top = codes[0] if version < 3 and codes else 0
    if version >= 3 and codes and all(c == int(ErrorCode.NOT_COORDINATOR) for c in codes):
        top = int(ErrorCode.NOT_COORDINATOR)
    return {"throttle_time_ms": 0, "error_code": top,
            "members": [{"member_id": q.member_id, "group_instance_id": None,
                         "error_code": c} for q, c in zip(requests, codes, strict=True)]}


# --- offsets ------------------------------------------------------------------------


def offset_commit(req: Any, version: int) -> OffsetCommitRequest:
    generation = getattr(req, "generation_id_or_member_epoch", None)
    if generation is None:
        generation = getattr(req, "generation_id", -1)
    return OffsetCommitRequest(
        group_id=req.group_id, generation_id=int(generation), member_id=req.member_id or "",
        offsets=tuple(OffsetCommitPartition(
            topic=t.name, partition=int(p.partition_index), offset=int(p.committed_offset),
            metadata=p.committed_metadata or "",
            leader_epoch=int(p.committed_leader_epoch) if version >= 6 else -1)
            for t in req.topics for p in t.partitions))


def offset_commit_response(reply: OffsetCommitResponse) -> dict[str, Any]:
    topics: dict[str, list[dict[str, Any]]] = {}
    for p in reply.partitions:
        topics.setdefault(p.topic, []).append(
            {"partition_index": p.partition, "error_code": kafka_error(p.error_code)})
    return {"throttle_time_ms": 0,
            "topics": [{"name": t, "partitions": ps} for t, ps in topics.items()]}


def offset_fetch(req: Any, version: int) -> list[OffsetFetchRequest]:
    """One catalogue request per group (v8+ asks for several groups at once)."""
    if version >= 8:
        return [OffsetFetchRequest(group_id=g.group_id, partitions=_wanted(g.topics))
                for g in req.groups]
    return [OffsetFetchRequest(group_id=req.group_id, partitions=_wanted(req.topics))]


def _wanted(topics: Any) -> tuple[TopicPartition, ...] | None:
    if topics is None:
        return None
    return tuple(TopicPartition(t.name, int(p)) for t in topics for p in t.partition_indexes)


def _fetched_topics(reply: OffsetFetchResponse) -> list[dict[str, Any]]:
    topics: dict[str, list[dict[str, Any]]] = {}
    for p in reply.partitions:
        topics.setdefault(p.topic, []).append({
            "partition_index": p.partition, "committed_offset": p.offset,
            "committed_leader_epoch": p.leader_epoch, "metadata": p.metadata,
            "error_code": kafka_error(p.error_code)})
    return [{"name": t, "partitions": ps} for t, ps in topics.items()]


def offset_fetch_response(requests: Sequence[OffsetFetchRequest],
                          replies: Sequence[OffsetFetchResponse], version: int) -> dict[str, Any]:
    if version >= 8:
        return {"throttle_time_ms": 0, "groups": [
            {"group_id": q.group_id, "topics": _fetched_topics(r),
             "error_code": kafka_error(r.error_code)}
            for q, r in zip(requests, replies, strict=True)]}
    reply = replies[0]
    topics = _fetched_topics(reply)
    if version < 2 and reply.error_code is not ErrorCode.NONE:
        wanted = requests[0].partitions or ()  # v0-v1 carry the group error per partition
        topics = _fetched_topics(OffsetFetchResponse(error_code=ErrorCode.NONE, partitions=tuple(
            _missing(tp, reply.error_code) for tp in wanted)))
    return {"throttle_time_ms": 0, "topics": topics,
            "error_code": kafka_error(reply.error_code)}


def _missing(tp: TopicPartition, error: ErrorCode) -> OffsetFetchPartition:
    return OffsetFetchPartition(topic=tp.topic, partition=tp.partition, offset=-1,
                                error_code=error)


# --- admin --------------------------------------------------------------------------


def list_groups(req: Any, version: int) -> ListGroupsRequest:
    states = tuple(GroupState(s) for s in (req.states_filter or ()) if s in _STATE_NAMES) \
        if version >= 4 else ()
    if version >= 4 and req.states_filter and not states:
        states = (GroupState.DEAD,)  # only unknown states asked for: nothing matches
    return ListGroupsRequest(states_filter=states)


_STATE_NAMES = {s.value for s in GroupState}


def list_groups_response(reply: ListGroupsResponse) -> dict[str, Any]:
    return {"throttle_time_ms": 0, "error_code": kafka_error(reply.error_code),
            "groups": [{"group_id": g.group_id, "protocol_type": g.protocol_type,
                        "group_state": g.state.value} for g in reply.groups]}


def describe_groups(req: Any) -> DescribeGroupsRequest:
    return DescribeGroupsRequest(group_ids=tuple(req.groups))


def describe_groups_response(reply: DescribeGroupsResponse) -> dict[str, Any]:
    return {"throttle_time_ms": 0, "groups": [{
        "error_code": kafka_error(g.error_code), "group_id": g.group_id,
        "group_state": g.state.value, "protocol_type": g.protocol_type,
        "protocol_data": g.protocol_name,
        "members": [{"member_id": m.member_id, "group_instance_id": None,
                     "client_id": m.client_id, "client_host": m.client_host,
                     "member_metadata": bytes(m.metadata),
                     "member_assignment": bytes(m.assignment)} for m in g.members],
        "authorized_operations": UNKNOWN_OPERATIONS} for g in reply.groups]}


def delete_groups(req: Any) -> DeleteGroupsRequest:
    return DeleteGroupsRequest(group_ids=tuple(req.groups_names))


def delete_groups_response(reply: DeleteGroupsResponse) -> dict[str, Any]:
    return {"throttle_time_ms": 0, "results": [
        {"group_id": r.group_id, "error_code": kafka_error(r.error_code)}
        for r in reply.results]}


__all__ = [
    "VERSIONS", "delete_groups", "delete_groups_response", "describe_groups",
    "describe_groups_response", "heartbeat", "heartbeat_response", "join_group",
    "join_group_response", "kafka_error", "leave_group", "leave_group_response",
    "list_groups", "list_groups_response", "offset_commit", "offset_commit_response",
    "offset_fetch", "offset_fetch_response", "sync_group", "sync_group_response",
]
