"""Consumer-group administration: list groups, describe one with its lag.

Owns: nothing; the blocking calls behind ``Admin.list_groups`` and ``Admin.describe_group``.
Groups live on the brokers that lead their ``__consumer_offsets`` partitions, so listing
asks every broker; describing asks the group's coordinator for members and committed
offsets, and each partition's leader for its end offset (the high watermark) to compute lag.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from zafka.core.errors import ErrorCode, ZafkaError, error_for
from zafka.core.group_codec import decode_assignment
from zafka.core.messages import (
    DescribeGroupsRequest,
    DescribeTopicsRequest,
    FindCoordinatorRequest,
    ListGroupsRequest,
    ListOffsetsPartition,
    ListOffsetsRequest,
    OffsetFetchRequest,
)
from zafka.transport.remote import Postbox

COORDINATOR_WAIT_S = 15.0


@dataclasses.dataclass(frozen=True, slots=True)
class GroupMember:
    member_id: str
    client_id: str
    client_host: str
    partitions: list[tuple[str, int]]


@dataclasses.dataclass(frozen=True, slots=True)
class GroupPartition:
    topic: str
    partition: int
    committed: int  # -1: nothing committed
    end_offset: int  # the high watermark; -1 if its leader did not answer
    lag: int | None
    member_id: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class GroupDescription:
    group_id: str
    state: str
    protocol: str
    generation: int
    coordinator: int
    members: list[GroupMember]
    partitions: list[GroupPartition]


def list_groups(postbox: Postbox, brokers: list[str], timeout: float) -> list[dict[str, str]]:
    """Every group of every broker: id, protocol type and state."""
    futures = [postbox.ask(a, "group", ListGroupsRequest(), timeout) for a in brokers]
    groups: dict[str, dict[str, str]] = {}
    for future in futures:
        try:
            reply = future.result()
        except ZafkaError:
            continue  # a broker down coordinates nothing until its partitions move
        for group in reply.groups:
            groups[group.group_id] = {"group": group.group_id, "state": group.state.value,
                                      "protocol_type": group.protocol_type}
    return sorted(groups.values(), key=lambda g: g["group"])


def find_coordinator(postbox: Postbox, brokers: list[str], group_id: str,
                     timeout: float) -> Any:
    deadline = time.monotonic() + min(timeout, COORDINATOR_WAIT_S)
    while True:
        for address in brokers:
            try:
                reply = postbox.ask(address, "broker", FindCoordinatorRequest(group_id=group_id),
                                    3.0).result()
            except ZafkaError:
                continue
            if reply.error_code == ErrorCode.NONE:
                return reply
        if time.monotonic() > deadline:
            raise error_for(ErrorCode.COORDINATOR_NOT_AVAILABLE,
                            f"no coordinator for group {group_id!r} answered")
        time.sleep(0.2)


def describe_group(postbox: Postbox, brokers: list[str], group_id: str,
                   timeout: float) -> GroupDescription:
    coordinator = find_coordinator(postbox, brokers, group_id, timeout)
    described = postbox.ask(coordinator.address, "group",
                            DescribeGroupsRequest(group_ids=(group_id,)), timeout).result()
    group = described.groups[0] if described.groups else None
    fetched = postbox.ask(coordinator.address, "group", OffsetFetchRequest(group_id=group_id),
                          timeout).result()
    if fetched.error_code != ErrorCode.NONE:
        raise error_for(fetched.error_code, f"offsets of group {group_id!r}")
    members = [GroupMember(m.member_id, m.client_id, m.client_host,
                           [(tp.topic, tp.partition) for tp in decode_assignment(m.assignment)])
               for m in (group.members if group else ())]
    owner = {tp: m.member_id for m in members for tp in m.partitions}
    committed = {(p.topic, p.partition): p.offset for p in fetched.partitions}
    keys = sorted(set(committed) | set(owner))
    ends = end_offsets(postbox, brokers, keys, timeout)
    partitions = []
    for key in keys:
        offset, end = committed.get(key, -1), ends.get(key, -1)
        lag = end - offset if offset >= 0 and end >= 0 else None
        partitions.append(GroupPartition(key[0], key[1], offset, end, lag, owner.get(key)))
    return GroupDescription(
        group_id=group_id, state=group.state.value if group else "Dead",
        protocol=group.protocol_name if group else "",
        generation=group.generation_id if group else -1, coordinator=coordinator.node_id,
        members=members, partitions=partitions)


def end_offsets(postbox: Postbox, brokers: list[str], keys: list[tuple[str, int]],
                timeout: float) -> dict[tuple[str, int], int]:
    """The high watermark of each partition, asked of its leader."""
    if not keys:
        return {}
    metadata = postbox.ask(brokers[0], "broker", DescribeTopicsRequest(
        names=tuple(sorted({t for t, _ in keys}))), timeout).result()
    address = {b.broker_id: b.address for b in metadata.brokers}
    leaders = {(p.topic, p.partition): p.leader for t in metadata.topics for p in t.partitions}
    by_leader: dict[int, list[tuple[str, int]]] = {}
    for key in keys:
        if leaders.get(key, -1) in address:
            by_leader.setdefault(leaders[key], []).append(key)
    result: dict[tuple[str, int], int] = {}
    for leader, parts in by_leader.items():
        try:
            reply = postbox.ask(address[leader], "broker", ListOffsetsRequest(partitions=tuple(
                ListOffsetsPartition(topic=t, partition=p, timestamp=-1) for t, p in parts)),
                timeout).result()
        except ZafkaError:
            continue
        for part in reply.partitions:
            if part.error == ErrorCode.NONE:
                result[(part.topic, part.partition)] = part.offset
    return result


__all__ = ["GroupDescription", "GroupMember", "GroupPartition", "describe_group",
           "end_offsets", "list_groups"]
