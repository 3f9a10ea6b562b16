"""Encodings of the group protocol: ``__consumer_offsets`` records and consumer-protocol bytes.

Owns: the key and value bytes of the records the group coordinator writes to the internal,
compacted topic ``__consumer_offsets`` (committed offsets and group metadata), the choice of
that topic's partition for a group (Kafka's ``abs(groupId.hashCode()) % n``).  The consumer
protocol's subscription / assignment bytes, which travel opaquely through JoinGroup and
SyncGroup, are Kafka's own (``core.consumer_protocol``, re-exported here).

Every key and value starts with a big-endian int16: the record type (keys) or the schema
version (values); the rest is compact, key-sorted JSON so equal keys are equal bytes and
compaction keeps the latest value per key.  A ``None`` value is a tombstone.

Must never: do I/O or keep state; it only turns values into bytes and back.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import struct
from typing import Any

from zafka.core.consumer_protocol import (
    Subscription,
    decode_assignment,
    decode_subscription,
    encode_assignment,
    encode_subscription,
)
from zafka.core.messages import TopicPartition

OFFSETS_TOPIC = "__consumer_offsets"
OFFSET_KEY_TYPE = 1
GROUP_KEY_TYPE = 2
VALUE_VERSION = 1

_INT16 = struct.Struct(">h")


def java_string_hash(text: str) -> int:
    """Java's ``String.hashCode()``: s[0]*31^(n-1) + ... over UTF-16 code units, as int32."""
    h = 0
    for unit in struct.unpack(f"<{len(text.encode('utf-16-le')) // 2}H",
                              text.encode("utf-16-le")):
        h = (31 * h + unit) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def offsets_partition_for(group_id: str, num_partitions: int) -> int:
    """The ``__consumer_offsets`` partition of a group: Kafka's ``Utils.abs(hash) % n``."""
    assert num_partitions > 0, num_partitions
    h = java_string_hash(group_id)
    return (0 if h == -(1 << 31) else abs(h)) % num_partitions


@dataclasses.dataclass(frozen=True, slots=True)
class OffsetAndMetadata:
    """A committed offset: the next offset to consume, its metadata and leader epoch."""

    offset: int
    metadata: str = ""
    leader_epoch: int = -1


@dataclasses.dataclass(frozen=True, slots=True)
class MemberMetadata:
    """What a group metadata record keeps of one member."""

    member_id: str
    client_id: str
    client_host: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    subscription: bytes
    assignment: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class GroupMetadata:
    """A group as persisted after each completed rebalance."""

    protocol_type: str
    generation_id: int
    protocol_name: str
    leader: str
    members: tuple[MemberMetadata, ...]


def _dump(prefix: int, obj: object) -> bytes:
    return _INT16.pack(prefix) + json.dumps(obj, separators=(",", ":"),
                                            sort_keys=True).encode()


def _load(data: bytes) -> tuple[int, Any]:
    if len(data) < 2:
        raise ValueError(f"group record too short: {len(data)} bytes")
    (prefix,) = _INT16.unpack_from(data)
    return prefix, json.loads(bytes(data[2:]))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def offset_key(group_id: str, tp: TopicPartition) -> bytes:
    """Record key of a committed offset."""
    return _dump(OFFSET_KEY_TYPE, [group_id, tp.topic, tp.partition])


def group_key(group_id: str) -> bytes:
    """Record key of a group's metadata."""
    return _dump(GROUP_KEY_TYPE, [group_id])


def encode_offset(value: OffsetAndMetadata) -> bytes:
    """Record value of a committed offset."""
    return _dump(VALUE_VERSION, {"offset": value.offset, "metadata": value.metadata,
                                 "leader_epoch": value.leader_epoch})


def encode_group(value: GroupMetadata) -> bytes:
    """Record value of a group's metadata."""
    members = [{"member_id": m.member_id, "client_id": m.client_id,
                "client_host": m.client_host, "session_timeout_ms": m.session_timeout_ms,
                "rebalance_timeout_ms": m.rebalance_timeout_ms,
                "subscription": _b64(m.subscription), "assignment": _b64(m.assignment)}
               for m in value.members]
    return _dump(VALUE_VERSION, {"protocol_type": value.protocol_type,
                                 "generation_id": value.generation_id,
                                 "protocol_name": value.protocol_name,
                                 "leader": value.leader, "members": members})


@dataclasses.dataclass(frozen=True, slots=True)
class OffsetRecordKey:
    """A decoded offset key."""

    group_id: str
    tp: TopicPartition


@dataclasses.dataclass(frozen=True, slots=True)
class GroupRecordKey:
    """A decoded group metadata key."""

    group_id: str


def decode_key(key: bytes) -> OffsetRecordKey | GroupRecordKey:
    """Decode a record key; raises ``ValueError`` on an unknown record type."""
    kind, body = _load(key)
    if kind == OFFSET_KEY_TYPE:
        group_id, topic, partition = body
        return OffsetRecordKey(group_id, TopicPartition(topic, partition))
    if kind == GROUP_KEY_TYPE:
        return GroupRecordKey(body[0])
    raise ValueError(f"unknown __consumer_offsets key type {kind}")


def _check_version(version: int) -> None:
    if version != VALUE_VERSION:
        raise ValueError(f"unsupported __consumer_offsets value version {version}")


def decode_offset(value: bytes) -> OffsetAndMetadata:
    """Decode a committed-offset value."""
    version, body = _load(value)
    _check_version(version)
    return OffsetAndMetadata(body["offset"], body["metadata"], body["leader_epoch"])


def decode_group(value: bytes) -> GroupMetadata:
    """Decode a group metadata value."""
    version, body = _load(value)
    _check_version(version)
    members = tuple(MemberMetadata(
        m["member_id"], m["client_id"], m["client_host"], m["session_timeout_ms"],
        m["rebalance_timeout_ms"], base64.b64decode(m["subscription"]),
        base64.b64decode(m["assignment"])) for m in body["members"])
    return GroupMetadata(body["protocol_type"], body["generation_id"], body["protocol_name"],
                         body["leader"], members)


__all__ = [
    "OFFSETS_TOPIC", "GroupMetadata", "GroupRecordKey", "MemberMetadata", "OffsetAndMetadata",
    "OffsetRecordKey", "Subscription", "decode_assignment", "decode_group", "decode_key",
    "decode_offset", "decode_subscription", "encode_assignment", "encode_group",
    "encode_offset", "encode_subscription", "group_key", "java_string_hash", "offset_key",
    "offsets_partition_for",
]
