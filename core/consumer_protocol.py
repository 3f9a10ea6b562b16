"""Kafka's ConsumerProtocol: the subscription and assignment bytes of protocol type "consumer".

Owns the byte layout of the metadata a consumer sends in JoinGroup (``Subscription``) and the
assignment its group leader hands out through SyncGroup, exactly as Kafka's
``ConsumerProtocolSubscription`` / ``ConsumerProtocolAssignment`` schemas lay them out, so a
zafka consumer and a Kafka client (librdkafka, kafka-python, aiokafka, Java) can be members
of one group and read each other's metadata.  The group coordinator keeps these bytes opaque;
only consumers (and the coordinator's check that an assignment gives no partition twice)
decode them.

Subscription (every field big-endian; strings int16-length UTF-8, bytes int32-length, -1 null):
  v0: version int16, topics [string], user_data bytes
  v1: + owned_partitions [topic string, partitions [int32]]
  v2: + generation_id int32
  v3: + rack_id nullable string
Assignment v0..v3: version int16, partitions [topic string, partitions [int32]], user_data.

A reader takes the fields of the versions it knows and ignores what a newer version appends
(Kafka's forward compatibility rule for this protocol).  zafka writes subscription v1 and
assignment v0, which every client above reads.

Must never: do I/O or keep state.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Iterable

from zafka.core.messages import TopicPartition

SUBSCRIPTION_VERSION = 1
ASSIGNMENT_VERSION = 0

_INT16 = struct.Struct(">h")
_INT32 = struct.Struct(">i")


@dataclasses.dataclass(frozen=True, slots=True)
class Subscription:
    """A consumer's JoinGroup metadata: subscribed topics and the partitions it owns now."""

    topics: tuple[str, ...]
    owned_partitions: tuple[TopicPartition, ...] = ()
    user_data: bytes = b""
    generation_id: int = -1
    rack_id: str | None = None


class _Writer:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def int16(self, value: int) -> None:
        self.parts.append(_INT16.pack(value))

    def int32(self, value: int) -> None:
        self.parts.append(_INT32.pack(value))

    def string(self, value: str | None) -> None:
        if value is None:
            self.int16(-1)
            return
        data = value.encode()
        self.int16(len(data))
        self.parts.append(data)

    def bytes_(self, value: bytes | None) -> None:
        if value is None:
            self.int32(-1)
            return
        self.int32(len(value))
        self.parts.append(bytes(value))

    def partitions(self, tps: Iterable[TopicPartition]) -> None:
        by_topic: dict[str, list[int]] = {}
        for tp in sorted(tps):
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        self.int32(len(by_topic))
        for topic, numbers in by_topic.items():
            self.string(topic)
            self.int32(len(numbers))
            for number in numbers:
                self.int32(number)

    def done(self) -> bytes:
        return b"".join(self.parts)


class _Reader:
    def __init__(self, data: bytes, what: str) -> None:
        self.data, self.pos, self.what = bytes(data), 0, what

    def _take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise ValueError(f"{self.what}: cut short at byte {self.pos} "
                             f"({len(self.data)} bytes)")
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk

    def int16(self) -> int:
        return int(_INT16.unpack(self._take(2))[0])

    def int32(self) -> int:
        return int(_INT32.unpack(self._take(4))[0])

    def string(self) -> str | None:
        size = self.int16()
        return None if size < 0 else self._take(size).decode()

    def bytes_(self) -> bytes | None:
        size = self.int32()
        return None if size < 0 else self._take(size)

    def count(self) -> int:
        size = self.int32()
        if size < -1 or size > len(self.data):
            raise ValueError(f"{self.what}: impossible array length {size}")
        return max(size, 0)

    def partitions(self) -> tuple[TopicPartition, ...]:
        out: list[TopicPartition] = []
        for _ in range(self.count()):
            topic = self.string() or ""
            out.extend(TopicPartition(topic, self.int32()) for _ in range(self.count()))
        return tuple(out)

    @property
    def at_end(self) -> bool:
        return self.pos >= len(self.data)


def encode_subscription(sub: Subscription, version: int = SUBSCRIPTION_VERSION) -> bytes:
    """ConsumerProtocolSubscription bytes of ``version`` (0..3)."""
    assert 0 <= version <= 3, version
    out = _Writer()
    out.int16(version)
    out.int32(len(sub.topics))
    for topic in sorted(sub.topics):
        out.string(topic)
    out.bytes_(sub.user_data or None)
    if version >= 1:
        out.partitions(sub.owned_partitions)
    if version >= 2:
        out.int32(sub.generation_id)
    if version >= 3:
        out.string(sub.rack_id)
    return out.done()


def decode_subscription(data: bytes) -> Subscription:
    """Parse ConsumerProtocolSubscription bytes of any version; ``ValueError`` if malformed."""
    src = _Reader(data, "consumer subscription")
    version = src.int16()
    if version < 0:
        raise ValueError(f"consumer subscription: negative version {version}")
    topics = tuple(src.string() or "" for _ in range(src.count()))
    user_data = src.bytes_() or b""
    owned: tuple[TopicPartition, ...] = ()
    generation_id, rack_id = -1, None
    if version >= 1 and not src.at_end:
        owned = src.partitions()
    if version >= 2 and not src.at_end:
        generation_id = src.int32()
    if version >= 3 and not src.at_end:
        rack_id = src.string()
    return Subscription(topics, owned, user_data, generation_id, rack_id)


def encode_assignment(partitions: Iterable[TopicPartition], user_data: bytes = b"") -> bytes:
    """ConsumerProtocolAssignment bytes (v0; partitions sorted, grouped by topic)."""
    out = _Writer()
    out.int16(ASSIGNMENT_VERSION)
    out.partitions(partitions)
    out.bytes_(user_data or None)
    return out.done()


def decode_assignment(data: bytes) -> tuple[TopicPartition, ...]:
    """Partitions of ConsumerProtocolAssignment bytes; empty bytes mean no partitions."""
    if not data:
        return ()
    src = _Reader(data, "consumer assignment")
    if src.int16() < 0:
        raise ValueError("consumer assignment: negative version")
    partitions = src.partitions()
    if not src.at_end:
        src.bytes_()
    return partitions


__all__ = [
    "ASSIGNMENT_VERSION", "SUBSCRIPTION_VERSION", "Subscription", "decode_assignment",
    "decode_subscription", "encode_assignment", "encode_subscription",
]
