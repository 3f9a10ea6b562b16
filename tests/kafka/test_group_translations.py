"""The group APIs' translations, end to end without sockets: a real client's request
(kafka-python's schema-generated classes, encoded then decoded at each version) goes through
``zafka.kafka.groups`` into the real group coordinator (``core.group``), and its answer comes
back as a Kafka response that kafka-python encodes and decodes at the same version."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from kafka.protocol.consumer.group import (
    HeartbeatRequest,
    HeartbeatResponse,
    JoinGroupRequest,
    JoinGroupResponse,
    LeaveGroupRequest,
    LeaveGroupResponse,
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetFetchRequest,
    OffsetFetchResponse,
    SyncGroupRequest,
    SyncGroupResponse,
)
from zafka.core.consumer_protocol import Subscription, encode_assignment, encode_subscription
from zafka.core.group import GroupCoordinator
from zafka.core.group_model import GroupLimits
from zafka.core.messages import TopicPartition
from zafka.kafka import groups

LIMITS = GroupLimits(tick_ms=1, group_min_session_timeout_ms=5,
                     group_initial_rebalance_delay_ms=0)


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def build(cls: Any, data: dict[str, Any], version: int, root: Any = None,
          fields: list[dict[str, Any]] | None = None) -> Any:
    """A kafka-python message from response fields named in snake_case."""
    root = root or cls
    kwargs: dict[str, Any] = {}
    for field in fields if fields is not None else cls._json["fields"]:
        name = snake(field["name"])
        if name not in data:
            continue
        value = data[name]
        if "fields" in field and value is not None:
            nested = getattr(cls, field["type"].removeprefix("[]"))
            value = [build(nested, v, version, root, field["fields"]) for v in value]
        kwargs[name] = value
    return cls(version=version, **kwargs) if cls is root else cls(**kwargs)


def wire(message: Any, version: int) -> Any:
    """Encode and decode at ``version``, as a broker receives it / a client reads it."""
    return type(message).decode(message.encode(version=version), version=version)


class Coordinator:
    def __init__(self) -> None:
        self.core = GroupCoordinator(1, random.Random(1), LIMITS)
        self.core.load(0, [])
        self.replies: dict[int, Any] = {}
        self.next = 0

    def call(self, handler: str, request: Any) -> int:
        self.next += 1
        effects = getattr(self.core, handler)(request, self.next)
        while effects.appends or effects.replies:
            for reply in effects.replies:
                self.replies[reply.reply_to] = reply.body
            appends, effects = effects.appends, type(effects)()
            for append in appends:
                effects.extend(self.core.on_append_done(append.append_id,
                                                        groups.ErrorCode.NONE))
        return self.next


SUBSCRIPTION = encode_subscription(Subscription(("t",)))


@pytest.mark.parametrize("version", [0, 1, 5, 7, 9])
def test_join_sync_heartbeat_commit_fetch_leave_at_every_version(version: int) -> None:
    coord = Coordinator()
    join = wire(JoinGroupRequest(
        version=version, group_id="g", session_timeout_ms=1000, rebalance_timeout_ms=2000,
        member_id="", group_instance_id=None, protocol_type="consumer",
        protocols=[JoinGroupRequest.JoinGroupRequestProtocol(name="range",
                                                             metadata=SUBSCRIPTION)],
        reason=None), version)
    token = coord.call("on_join_group", groups.join_group(join, version, "cli", "/127.0.0.1"))
    answer = wire(build(JoinGroupResponse, groups.join_group_response(coord.replies[token]),
                        version), version)
    assert answer.error_code == 0 and answer.leader == answer.member_id
    assert [bytes(m.metadata) for m in answer.members] == [SUBSCRIPTION]
    member, generation = answer.member_id, answer.generation_id

    sync_v = min(version, 5)
    mine = encode_assignment([TopicPartition("t", 0)])
    sync = wire(SyncGroupRequest(
        version=sync_v, group_id="g", generation_id=generation, member_id=member,
        group_instance_id=None, protocol_type="consumer", protocol_name="range",
        assignments=[SyncGroupRequest.SyncGroupRequestAssignment(member_id=member,
                                                                 assignment=mine)]), sync_v)
    token = coord.call("on_sync_group", groups.sync_group(sync))
    synced = wire(build(SyncGroupResponse, groups.sync_group_response(coord.replies[token]),
                        sync_v), sync_v)
    assert synced.error_code == 0 and bytes(synced.assignment) == mine

    hb_v = min(version, 4)
    beat = wire(HeartbeatRequest(version=hb_v, group_id="g", generation_id=generation,
                                 member_id=member, group_instance_id=None), hb_v)
    token = coord.call("on_heartbeat", groups.heartbeat(beat))
    assert wire(build(HeartbeatResponse, groups.heartbeat_response(coord.replies[token]),
                      hb_v), hb_v).error_code == 0

    commit_v = min(max(version, 2), 8)
    commit = wire(OffsetCommitRequest(
        version=commit_v, group_id="g", generation_id_or_member_epoch=generation,
        member_id=member, group_instance_id=None, retention_time_ms=-1, topics=[
            OffsetCommitRequest.OffsetCommitRequestTopic(name="t", partitions=[
                OffsetCommitRequest.OffsetCommitRequestTopic.OffsetCommitRequestPartition(
                    partition_index=0, committed_offset=42, committed_leader_epoch=3,
                    committed_metadata="m")])]), commit_v)
    token = coord.call("on_offset_commit", groups.offset_commit(commit, commit_v))
    committed = wire(build(OffsetCommitResponse, groups.offset_commit_response(
        coord.replies[token]), commit_v), commit_v)
    assert [(t.name, p.partition_index, p.error_code) for t in committed.topics
            for p in t.partitions] == [("t", 0, 0)]

    fetch_v = min(max(version, 1), 7)
    fetch = wire(OffsetFetchRequest(version=fetch_v, group_id="g", topics=[
        OffsetFetchRequest.OffsetFetchRequestTopic(name="t", partition_indexes=[0, 1])],
        require_stable=False), fetch_v)
    requests = groups.offset_fetch(fetch, fetch_v)
    replies = [coord.replies[coord.call("on_offset_fetch", r)] for r in requests]
    fetched = wire(build(OffsetFetchResponse, groups.offset_fetch_response(
        requests, replies, fetch_v), fetch_v), fetch_v)
    assert [(p.partition_index, p.committed_offset) for t in fetched.topics
            for p in t.partitions] == [(0, 42), (1, -1)]

    leave_v = min(version, 5)
    leave = wire(LeaveGroupRequest(
        version=leave_v, group_id="g", member_id=member, members=[
            LeaveGroupRequest.MemberIdentity(member_id=member, group_instance_id=None,
                                             reason=None),
            LeaveGroupRequest.MemberIdentity(member_id="stranger", group_instance_id=None,
                                             reason=None)]), leave_v)
    requests = groups.leave_group(leave, leave_v)
    replies = [coord.replies[coord.call("on_leave_group", r)] for r in requests]
    left = wire(build(LeaveGroupResponse, groups.leave_group_response(
        requests, replies, leave_v), leave_v), leave_v)
    assert left.error_code == 0
    if leave_v >= 3:
        assert [(m.member_id, m.error_code) for m in left.members] == [
            (member, 0), ("stranger", 25)], "per-member errors: UNKNOWN_MEMBER_ID"
    assert coord.core.groups["g"].members == {}


def test_offset_fetch_v8_asks_for_several_groups_at_once() -> None:
    coord = Coordinator()
    fetch = wire(OffsetFetchRequest(version=8, groups=[
        OffsetFetchRequest.OffsetFetchRequestGroup(group_id=g, topics=None)
        for g in ("a", "b")], require_stable=True), 8)
    requests = groups.offset_fetch(fetch, 8)
    replies = [coord.replies[coord.call("on_offset_fetch", r)] for r in requests]
    fetched = wire(build(OffsetFetchResponse, groups.offset_fetch_response(
        requests, replies, 8), 8), 8)
    assert [(g.group_id, g.error_code, g.topics) for g in fetched.groups] == [
        ("a", 0, []), ("b", 0, [])]
