"""Durable formats: what zafka writes to disk, independent of Python module and class names.

Owns: the tagged value encoding, the table of durable types (``DURABLE_TYPES``: one stable
tag per record type, ``DURABLE_ENUMS``: one per enum), the versioned payloads of the Raft
log entry, the Raft hard state, the Raft snapshot file and the metadata snapshot (the
``MetadataImage``), and ``DurableFormatError``, the one error every durable decoder raises.

Every payload starts with a format version byte (``FORMAT_VERSION``); a reader refuses a
version it does not know.  Values are encoded as one tag byte, then:

======  =============  ======================================================================
 tag    value          then
======  =============  ======================================================================
 0x00   None           nothing
 0x01   False          nothing
 0x02   True           nothing
 0x03   int            zigzag LEB128 varint (any size)
 0x04   str            varint byte length, UTF-8
 0x05   bytes          varint length, the bytes (``bytearray``/``memoryview`` decode as bytes)
 0x06   tuple          varint count, the items
 0x07   frozenset      varint count, the items in the order of their encodings
 0x08   dict           varint count, key/value pairs in the order of the keys' encodings
 0x09   enum member    type tag (str), the member's value
 0x0A   record         type tag (str), varint field count, then (field name (str), value) each
======  =============  ======================================================================

A record is a dataclass listed in ``DURABLE_TYPES``; its fields are written by name, in
declaration order.  Decoding is by tag and name only: a record's class may move or be renamed
freely.  Compatible changes: add a field with a default (old bytes decode with the default);
reorder fields.  Anything else — renaming or removing a field, changing what a field holds,
a new tag — needs a new ``FORMAT_VERSION`` and a reader for the old one.  An unknown type
tag, an unknown field, a missing field without a default, trailing bytes and truncation are
``DurableFormatError``s naming the file and the byte offset.  Checksums are the storage
layer's: it frames these payloads and checks a CRC-32C before decoding.

Must never: do I/O, depend on ``__module__``/``__qualname__`` (no pickle), or accept a list,
float or any type outside the table (encoding one is a bug: ``TypeError``).
"""

from __future__ import annotations

import dataclasses
import enum
import struct
from collections.abc import Mapping
from typing import Any

from zafka.core.errors import CorruptRecord, ErrorCode
from zafka.core.messages import (
    AclBinding,
    AclOperation,
    AclPermission,
    AllocateProducerIds,
    AlterConfigs,
    AlterPartition,
    AlterPartitionReassignment,
    BrokerRecord,
    ChangeLeader,
    CompletePartitionReassignment,
    CreateAcls,
    CreatePartitions,
    CreateTopic,
    DeleteAcls,
    DeleteTopic,
    FenceBroker,
    IdentityRecord,
    MetadataImage,
    PartitionRecord,
    PatternType,
    PutIdentity,
    RaftEntry,
    RegisterBroker,
    ResourceType,
    RevokeIdentity,
    SnapshotMeta,
    TopicRecord,
    UnfenceBroker,
)
from zafka.core.raft_types import HardState, Snapshot

FORMAT_VERSION = 1
"""The version byte every durable payload starts with."""

DURABLE_TYPES: Mapping[str, type] = {
    # metadata records (the snapshot image)
    "broker": BrokerRecord,
    "topic": TopicRecord,
    "partition": PartitionRecord,
    "metadata_image": MetadataImage,
    # metadata commands (Raft log entries)
    "register_broker": RegisterBroker,
    "fence_broker": FenceBroker,
    "unfence_broker": UnfenceBroker,
    "create_topic": CreateTopic,
    "delete_topic": DeleteTopic,
    "create_partitions": CreatePartitions,
    "alter_configs": AlterConfigs,
    "change_leader": ChangeLeader,
    "alter_partition": AlterPartition,
    "allocate_producer_ids": AllocateProducerIds,
    "alter_partition_reassignment": AlterPartitionReassignment,
    "complete_partition_reassignment": CompletePartitionReassignment,
    # principals and ACLs (records and commands)
    "identity": IdentityRecord,
    "acl_binding": AclBinding,
    "put_identity": PutIdentity,
    "revoke_identity": RevokeIdentity,
    "create_acls": CreateAcls,
    "delete_acls": DeleteAcls,
}
"""Stable type tag -> record class.  A tag is never reused or renamed."""

DURABLE_ENUMS: Mapping[str, type[enum.Enum]] = {
    "error_code": ErrorCode, "acl_operation": AclOperation, "resource_type": ResourceType,
    "pattern_type": PatternType, "acl_permission": AclPermission}
"""Stable type tag -> enum class (members are written by value)."""

NESTING_MAX = 32
"""Deepest nesting of containers and records a decoder accepts."""

_NONE, _FALSE, _TRUE, _INT, _STR, _BYTES, _TUPLE, _FROZENSET, _DICT, _ENUM, _RECORD = range(11)
_RAFT_POSITION = struct.Struct(">QQ")  # index, term
RAFT_SNAPSHOT_DATA_OFFSET = 1 + _RAFT_POSITION.size
"""Where the state machine's bytes start in a Raft snapshot payload."""
_HARD_STATE = struct.Struct(">QqQ")  # term, voted_for (-1 = none), commit


class DurableFormatError(CorruptRecord):
    """Durable bytes that cannot be decoded: names the file and the byte offset."""

    retriable = False

    def __init__(self, source: str, offset: int, reason: str) -> None:
        super().__init__(f"{source}: byte {offset}: {reason}")
        self.source = source
        self.offset = offset
        self.reason = reason


class Registry:
    """The durable types a codec knows (``DURABLE`` is the one zafka writes with)."""

    def __init__(self, types: Mapping[str, type], enums: Mapping[str, type[enum.Enum]]) -> None:
        self.types = dict(types)
        self.enums = dict(enums)
        self._tags: dict[type, str] = {cls: tag for tag, cls in [*self.types.items(),
                                                                  *self.enums.items()]}
        assert len(self._tags) == len(self.types) + len(self.enums), "a class with two tags"
        self._fields: dict[type, tuple[frozenset[str], frozenset[str]]] = {}

    def fields_of(self, cls: type) -> tuple[frozenset[str], frozenset[str]]:
        """The names of ``cls``'s init fields, and of those without a default."""
        cached = self._fields.get(cls)
        if cached is None:
            fields = [f for f in dataclasses.fields(cls) if f.init]
            cached = self._fields[cls] = (
                frozenset(f.name for f in fields),
                frozenset(f.name for f in fields if f.default is dataclasses.MISSING
                          and f.default_factory is dataclasses.MISSING))
        return cached

    def tag_of(self, cls: type) -> str:
        tag = self._tags.get(cls)
        if tag is None:
            raise TypeError(f"{cls.__qualname__} is not a durable type (core.durable)")
        return tag


DURABLE = Registry(DURABLE_TYPES, DURABLE_ENUMS)


# ----------------------------------------------------------------------------- encoding
def _varint(value: int, out: bytearray) -> None:
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _text(text: str, out: bytearray) -> None:
    data = text.encode()
    _varint(len(data), out)
    out += data


def _encode(value: Any, out: bytearray, registry: Registry) -> None:
    if value is None:
        out.append(_NONE)
    elif value is True or value is False:
        out.append(_TRUE if value else _FALSE)
    elif isinstance(value, enum.Enum):
        out.append(_ENUM)
        _text(registry.tag_of(type(value)), out)
        _encode(value.value, out, registry)
    elif type(value) is int:
        out.append(_INT)
        _varint(2 * value if value >= 0 else -2 * value - 1, out)
    elif type(value) is str:
        out.append(_STR)
        _text(value, out)
    elif isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        out.append(_BYTES)
        _varint(len(data), out)
        out += data
    elif type(value) is tuple:
        out.append(_TUPLE)
        _varint(len(value), out)
        for item in value:
            _encode(item, out, registry)
    elif type(value) is frozenset:
        out.append(_FROZENSET)
        _varint(len(value), out)
        out += b"".join(sorted(encode_value(item, registry) for item in value))
    elif type(value) is dict:
        out.append(_DICT)
        _varint(len(value), out)
        pairs = sorted((encode_value(k, registry), encode_value(v, registry))
                       for k, v in value.items())
        out += b"".join(k + v for k, v in pairs)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        out.append(_RECORD)
        _text(registry.tag_of(type(value)), out)
        fields = dataclasses.fields(value)
        _varint(len(fields), out)
        for field in fields:
            _text(field.name, out)
            _encode(getattr(value, field.name), out, registry)
    else:
        raise TypeError(f"{type(value).__qualname__} has no durable encoding (core.durable)")


def encode_value(value: Any, registry: Registry = DURABLE) -> bytes:
    """The tagged encoding of ``value`` (no version byte: a part of a payload)."""
    out = bytearray()
    _encode(value, out, registry)
    return bytes(out)


# ----------------------------------------------------------------------------- decoding
class _Reader:
    """A cursor over one payload; every failure names ``source`` and the absolute offset."""

    def __init__(self, data: bytes, source: str, base: int, registry: Registry) -> None:
        self.data = data
        self.size = len(data)
        self.source = source
        self.base = base
        self.position = 0
        self.registry = registry

    def fail(self, reason: str, at: int | None = None) -> DurableFormatError:
        return DurableFormatError(self.source, self.base + (self.position if at is None
                                                            else at), reason)

    def take(self, size: int) -> bytes:
        end = self.position + size
        if end > self.size:
            raise self.fail(f"truncated: {size} bytes needed, {self.size - self.position} left")
        chunk = self.data[self.position:end]
        self.position = end
        return chunk

    def byte(self) -> int:
        if self.position >= self.size:
            raise self.fail("truncated: 1 byte needed, 0 left")
        self.position += 1
        return self.data[self.position - 1]

    def unpack(self, layout: struct.Struct) -> tuple[Any, ...]:
        return layout.unpack(self.take(layout.size))

    def varint(self) -> int:
        start, shift, value = self.position, 0, 0
        while True:
            byte = self.byte()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 7 * 20:
                raise self.fail("varint longer than 20 bytes", start)

    def text(self) -> str:
        start = self.position
        try:
            return self.take(self.varint()).decode()
        except UnicodeDecodeError as exc:
            raise self.fail(f"invalid UTF-8 ({exc.reason})", start) from None

    def value(self, depth: int = 0) -> Any:
        start = self.position
        if depth > NESTING_MAX:
            raise self.fail(f"nested deeper than {NESTING_MAX}")
        tag = self.byte()
        if tag <= _TRUE:
            return (None, False, True)[tag]
        if tag == _INT:
            zigzag = self.varint()
            return zigzag >> 1 if not zigzag & 1 else -(zigzag >> 1) - 1
        if tag == _STR:
            return self.text()
        if tag == _BYTES:
            return self.take(self.varint())
        if tag in (_TUPLE, _FROZENSET, _DICT):
            return self.container(tag, start, depth)
        if tag == _ENUM:
            return self.enum_member(start, depth)
        if tag == _RECORD:
            return self.record(start, depth)
        raise self.fail(f"unknown value tag 0x{tag:02x}", start)

    def container(self, tag: int, start: int, depth: int) -> Any:
        count = self.varint()
        if count > len(self.data) - self.position:
            raise self.fail(f"a count of {count} items in {len(self.data)} bytes", start)
        try:
            if tag == _TUPLE:
                return tuple(self.value(depth + 1) for _ in range(count))
            if tag == _FROZENSET:
                return frozenset(self.value(depth + 1) for _ in range(count))
            return {self.value(depth + 1): self.value(depth + 1) for _ in range(count)}
        except TypeError as exc:  # an unhashable key or member
            raise self.fail(f"bad container: {exc}", start) from None

    def enum_member(self, start: int, depth: int) -> enum.Enum:
        tag = self.text()
        cls = self.registry.enums.get(tag)
        if cls is None:
            raise self.fail(f"unknown enum type {tag!r}", start)
        raw = self.value(depth + 1)
        try:
            return cls(raw)
        except ValueError:
            raise self.fail(f"{raw!r} is not a value of enum type {tag!r}", start) from None

    def record(self, start: int, depth: int) -> Any:
        tag = self.text()
        cls = self.registry.types.get(tag)
        if cls is None:
            raise self.fail(f"unknown record type {tag!r}", start)
        known, required = self.registry.fields_of(cls)
        values: dict[str, Any] = {}
        for _ in range(self.varint()):
            at = self.position
            name = self.text()
            if name not in known or name in values:
                raise self.fail(f"record type {tag!r} has no field {name!r} (or it repeats)",
                                at)
            values[name] = self.value(depth + 1)
        if len(values) < len(known) and not required <= values.keys():
            missing = sorted(required - values.keys())
            raise self.fail(f"record type {tag!r} lacks field(s) {', '.join(missing)}", start)
        try:
            return cls(**values)
        except (TypeError, ValueError) as exc:  # a record's own checks refuse the values
            raise self.fail(f"record type {tag!r}: {exc}", start) from None

    def finish(self) -> None:
        if self.position != len(self.data):
            raise self.fail(f"{len(self.data) - self.position} trailing bytes")


def decode_value(data: bytes, *, source: str = "<bytes>", offset: int = 0,
                 registry: Registry = DURABLE) -> Any:
    """The value ``encode_value`` made; ``data[0]`` is at byte ``offset`` of ``source``."""
    reader = _Reader(bytes(data), source, offset, registry)
    value = reader.value()
    reader.finish()
    return value


def _versioned(data: bytes, source: str, offset: int, registry: Registry) -> _Reader:
    reader = _Reader(bytes(data), source, offset, registry)
    version = reader.take(1)[0]
    if version != FORMAT_VERSION:
        raise reader.fail(f"unknown format version {version} (this zafka reads "
                          f"{FORMAT_VERSION})", 0)
    return reader


def _expect(reader: _Reader, value: Any, cls: type, start: int) -> None:
    if not isinstance(value, cls):
        raise reader.fail(f"expected a {cls.__name__}, found {type(value).__name__}", start)


# ----------------------------------------------------------------------- the payloads
def encode_raft_entry(entry: RaftEntry, registry: Registry = DURABLE) -> bytes:
    """A Raft log entry: version, u64 index, u64 term, the command (``None``: a no-op)."""
    return (bytes([FORMAT_VERSION]) + _RAFT_POSITION.pack(entry.index, entry.term)
            + encode_value(entry.command, registry))


def decode_raft_entry(data: bytes, *, source: str = "<bytes>", offset: int = 0,
                      registry: Registry = DURABLE) -> RaftEntry:
    reader = _versioned(data, source, offset, registry)
    index, term = reader.unpack(_RAFT_POSITION)
    command = reader.value()
    reader.finish()
    return RaftEntry(term=term, index=index, command=command)


def encode_hard_state(hard: HardState) -> bytes:
    """The Raft hard state: version, u64 term, i64 voted_for (-1: none), u64 commit."""
    voted_for = -1 if hard.voted_for is None else hard.voted_for
    return bytes([FORMAT_VERSION]) + _HARD_STATE.pack(hard.term, voted_for, hard.commit)


def decode_hard_state(data: bytes, *, source: str = "<bytes>", offset: int = 0) -> HardState:
    reader = _versioned(data, source, offset, DURABLE)
    term, voted_for, commit = reader.unpack(_HARD_STATE)
    reader.finish()
    return HardState(term=term, voted_for=None if voted_for < 0 else voted_for, commit=commit)


def encode_raft_snapshot(snapshot: Snapshot) -> bytes:
    """A Raft snapshot: version, u64 last index, u64 last term, the state machine's bytes."""
    meta = snapshot.meta
    return bytes([FORMAT_VERSION]) + _RAFT_POSITION.pack(meta.index, meta.term) + snapshot.data


def decode_raft_snapshot(data: bytes, *, source: str = "<bytes>", offset: int = 0) -> Snapshot:
    reader = _versioned(data, source, offset, DURABLE)
    index, term = reader.unpack(_RAFT_POSITION)
    return Snapshot(meta=SnapshotMeta(index=index, term=term),
                    data=reader.data[reader.position:])


def encode_metadata_snapshot(image: MetadataImage, registry: Registry = DURABLE) -> bytes:
    """The metadata state machine's snapshot: version, then the image as a record."""
    return bytes([FORMAT_VERSION]) + encode_value(image, registry)


def decode_metadata_snapshot(data: bytes, *, source: str = "<bytes>", offset: int = 0,
                             registry: Registry = DURABLE) -> MetadataImage:
    reader = _versioned(data, source, offset, registry)
    image = reader.value()
    _expect(reader, image, MetadataImage, 1)
    reader.finish()
    assert isinstance(image, MetadataImage)
    return image


__all__ = [
    "DURABLE", "DURABLE_ENUMS", "DURABLE_TYPES", "FORMAT_VERSION", "NESTING_MAX",
    "RAFT_SNAPSHOT_DATA_OFFSET",
    "DurableFormatError", "Registry", "decode_hard_state", "decode_metadata_snapshot",
    "decode_raft_entry", "decode_raft_snapshot", "decode_value", "encode_hard_state",
    "encode_metadata_snapshot", "encode_raft_entry", "encode_raft_snapshot", "encode_value",
]
