"""The consumer-group APIs as a family of the listener: FindCoordinator, JoinGroup,
SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, ListGroups, DescribeGroups,
DeleteGroups.

The translations are ``kafka.groups`` and ``kafka.coordinator``; this module chains their
catalogue requests to this broker's group coordinator actor (``Target.GROUP``), one after the
other when a Kafka request names several groups or members, and builds the response entity
of the request's version.  FindCoordinator asks the broker actor who leads the group's
``__consumer_offsets`` partition, then the broker's metadata for that broker's advertised
Kafka address.  A Kafka client sends a group's requests to its coordinator, as to Kafka's;
another broker's group actor answers ``NOT_COORDINATOR`` and the client looks again.

Must never: decide anything about groups (``core.group`` does), do I/O, or block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from zafka.core.errors import ErrorCode
from zafka.core.messages import (
    DeletedGroup,
    DeleteGroupsResponse,
    DescribedGroup,
    DescribeGroupsResponse,
    DescribeTopicsReply,
    DescribeTopicsRequest,
    ErrorReply,
    FindCoordinatorResponse,
    GroupState,
    HeartbeatResponse,
    JoinGroupResponse,
    LeaveGroupResponse,
    ListGroupsResponse,
    OffsetCommitPartitionResponse,
    OffsetCommitResponse,
    OffsetFetchResponse,
    SyncGroupResponse,
)
from zafka.kafka import codec, coordinator, groups
from zafka.kafka.framing import RequestHeader
from zafka.kafka.handler import Ask, Context, Outcome, Respond, Target, build, timeout_ms

OFFSETS_TOPIC = "__consumer_offsets"
APIS = {**groups.VERSIONS, **coordinator.VERSIONS}


class _Timeouts:
    """A kio JoinGroup request read with the ``*_ms`` names of Kafka's schema, which the
    translations use (kio makes durations of them)."""

    def __init__(self, request: Any) -> None:
        self._request = request

    def __getattr__(self, name: str) -> Any:
        if name.endswith("_ms") and not hasattr(self._request, name):
            return timeout_ms(getattr(self._request, name.removesuffix("_ms")))
        return getattr(self._request, name)


def ask_each(target: Target, requests: Sequence[Any], failed: Callable[[Any, ErrorReply], Any],
             finish: Callable[[list[Any]], Outcome]) -> Outcome:
    """Ask ``requests`` one after another; ``finish`` gets their replies in order (an
    ``ErrorReply`` turned into the request's own failure by ``failed``)."""
    replies: list[Any] = []

    def next_outcome() -> Outcome:
        if len(replies) == len(requests):
            return finish(replies)
        request = requests[len(replies)]

        def answer(reply: Any) -> Outcome:
            replies.append(failed(request, reply) if isinstance(reply, ErrorReply) else reply)
            return next_outcome()

        return Ask(target, request, answer)

    return next_outcome()


PASSED_ON = frozenset({ErrorCode.NOT_COORDINATOR, ErrorCode.GROUP_AUTHORIZATION_FAILED,
                       ErrorCode.TOPIC_AUTHORIZATION_FAILED,
                       ErrorCode.CLUSTER_AUTHORIZATION_FAILED})


def _unreachable(code: ErrorCode) -> ErrorCode:
    """What a client hears when the group actor could not be asked (retriable), or was
    not allowed to be (an ACL refusal, final)."""
    return code if code in PASSED_ON else ErrorCode.COORDINATOR_NOT_AVAILABLE


def failed_reply(request: Any, reply: ErrorReply) -> Any:
    """The catalogue reply of ``request`` had the group coordinator failed it whole."""
    code = _unreachable(reply.code)
    name = type(request).__name__
    if name == "OffsetCommitRequest":
        return OffsetCommitResponse(partitions=tuple(OffsetCommitPartitionResponse(
            topic=p.topic, partition=p.partition, error_code=code) for p in request.offsets))
    if name == "DescribeGroupsRequest":
        return DescribeGroupsResponse(groups=tuple(
            DescribedGroup(group_id=g, error_code=code, state=GroupState.DEAD)
            for g in request.group_ids))
    if name == "DeleteGroupsRequest":
        return DeleteGroupsResponse(results=tuple(DeletedGroup(group_id=g, error_code=code)
                                                  for g in request.group_ids))
    simple = {"JoinGroupRequest": JoinGroupResponse, "SyncGroupRequest": SyncGroupResponse,
              "HeartbeatRequest": HeartbeatResponse, "LeaveGroupRequest": LeaveGroupResponse,
              "OffsetFetchRequest": OffsetFetchResponse, "ListGroupsRequest": ListGroupsResponse,
              "FindCoordinatorRequest": FindCoordinatorResponse}
    return simple[name](error_code=code)


def handle(request: Any, header: RequestHeader, context: Context) -> Outcome:
    key, version = header.api_key, header.api_version
    cls = codec.response_class(key, version)

    def respond(fields: dict[str, Any]) -> Outcome:
        return Respond(build(cls, fields))

    def one(asked: Any, shape: Callable[[Any], dict[str, Any]]) -> Outcome:
        return ask_each(Target.GROUP, [asked], failed_reply,
                        lambda replies: respond(shape(replies[0])))

    if key == coordinator.FIND_COORDINATOR:
        return find_coordinator(request, version, respond)
    if key == groups.JOIN_GROUP:
        client_id = header.client_id or ""
        return one(groups.join_group(_Timeouts(request), version, client_id, context.peer_host),
                   groups.join_group_response)
    if key == groups.SYNC_GROUP:
        return one(groups.sync_group(request), groups.sync_group_response)
    if key == groups.HEARTBEAT:
        return one(groups.heartbeat(request), groups.heartbeat_response)
    if key == groups.LEAVE_GROUP:
        leaving = groups.leave_group(request, version)
        return ask_each(Target.GROUP, leaving, failed_reply, lambda replies: respond(
            groups.leave_group_response(leaving, replies, version)))
    if key == groups.OFFSET_COMMIT:
        return one(groups.offset_commit(request, version), groups.offset_commit_response)
    if key == groups.OFFSET_FETCH:
        fetching = groups.offset_fetch(request, version)
        return ask_each(Target.GROUP, fetching, failed_reply, lambda replies: respond(
            groups.offset_fetch_response(fetching, replies, version)))
    if key == groups.LIST_GROUPS:
        return one(groups.list_groups(request, version), groups.list_groups_response)
    if key == groups.DESCRIBE_GROUPS:
        return one(groups.describe_groups(request), groups.describe_groups_response)
    return one(groups.delete_groups(request), groups.delete_groups_response)


def find_coordinator(request: Any, version: int,
                     respond: Callable[[dict[str, Any]], Outcome]) -> Outcome:
    """Who coordinates each key, then where that broker's Kafka listener is."""
    key_type, keys = coordinator.find_coordinator(request, version)
    asked = coordinator.catalogue_requests(key_type, keys)

    def with_addresses(replies: list[Any]) -> Outcome:
        def answer(described: DescribeTopicsReply | ErrorReply) -> Outcome:
            brokers = {} if isinstance(described, ErrorReply) else {
                b.broker_id: b.kafka_address for b in described.brokers
                if b.kafka_address and not b.fenced}

            def address(broker_id: int) -> tuple[str, int] | None:
                where = brokers.get(broker_id)
                if not where:
                    return None
                host, port = where.rsplit(":", 1)
                return host, int(port)

            return respond(coordinator.find_coordinator_response(
                key_type, keys, replies, version, address))

        if not asked:
            return answer(DescribeTopicsReply(topics=(), brokers=()))
        return Ask(Target.BROKER, DescribeTopicsRequest(names=(OFFSETS_TOPIC,)), answer)

    return ask_each(Target.BROKER, asked, failed_reply, with_addresses)


__all__ = ["APIS", "ask_each", "find_coordinator", "handle"]
