"""Apache Kafka RecordBatch v2 (magic 2): encode, decode, and header-only access.

Owns the byte layout of a batch (61-byte header, CRC-32C over ``attributes..end``, zigzag
varint records) and nothing else.  Brokers use only the header functions (``read_header``,
``check_crc``, ``validate_batches``, ``set_base_offset``, ``set_partition_leader_epoch``):
they never decode records.  Clients use ``encode_batch`` / ``decode_batch``.

Must never: do I/O, know about logs, offsets assignment policy or replication.
Compression: none, gzip, snappy, lz4 and zstd (``storage.compression``); a broker stores a
compressed batch as the client sent it.  Timestamps: a batch whose attributes say
LogAppendTime gives every record the batch's ``maxTimestamp`` (``set_log_append_time`` stamps
it, as a Kafka broker does for a topic with ``message.timestamp.type=LogAppendTime``).
"""

from __future__ import annotations

import dataclasses
import operator
import struct
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

import crc32c
from zafka.core.errors import CorruptRecord, RecordTooLarge
from zafka.storage import compression as codecs

Buffer = bytes | bytearray | memoryview
Headers = tuple[tuple[str, bytes | None], ...]

MAGIC = 2
HEADER_SIZE = 61
LOG_OVERHEAD = 12
"""``baseOffset`` + ``batchLength``: the bytes of a batch not counted by ``batchLength``."""
COMPRESSION_NONE = 0
COMPRESSION_GZIP = 1
COMPRESSION_SNAPPY = 2
COMPRESSION_LZ4 = 3
COMPRESSION_ZSTD = 4
COMPRESSION_MASK = 0x07
TIMESTAMP_TYPE_MASK = 0x08
TRANSACTIONAL_MASK = 0x10
CONTROL_MASK = 0x20
NO_PRODUCER_ID = -1
NO_SEQUENCE = -1

_HEADER = struct.Struct(">qiibIhiqqqhii")
_CRC_START = 21
_CRC_OFFSET = 17
_ATTRIBUTES_OFFSET = 21
_MAX_TIMESTAMP_OFFSET = 35
_EPOCH = struct.Struct(">i")
_OFFSET = struct.Struct(">q")
_CRC = struct.Struct(">I")
assert _HEADER.size == HEADER_SIZE


def _zigzag_varint(value: int) -> bytes:
    zigzag = (value << 1) ^ (value >> 63)
    out = bytearray()
    while zigzag >= 0x80:
        out.append((zigzag & 0x7F) | 0x80)
        zigzag >>= 7
    out.append(zigzag)
    return bytes(out)


_TABLE_SIZE = 1 << 15
_VARINT = [_zigzag_varint(n) for n in range(_TABLE_SIZE)]
"""Zigzag varints of 0 .. 32767 (lengths, offset deltas, small timestamp deltas)."""
_NULL = _zigzag_varint(-1)


_RECORD_FIELDS = operator.attrgetter("key", "value", "headers", "timestamp_ms")


def _varint(value: int) -> bytes:
    return _VARINT[value] if 0 <= value < _TABLE_SIZE else _zigzag_varint(value)


@dataclasses.dataclass(frozen=True, slots=True)
class Record:
    """One record to produce: key and value may be None (a None value is a tombstone)."""

    key: bytes | None
    value: bytes | None
    headers: Headers = ()
    _: dataclasses.KW_ONLY
    timestamp_ms: int


class ConsumerRecord(NamedTuple):
    """One decoded record with the offset the log gave it."""

    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: Headers


class BatchHeader(NamedTuple):
    """The 61-byte header of one batch, as read from the wire or the log."""

    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    record_count: int

    @property
    def size(self) -> int:
        """Bytes of the whole batch, header included."""
        return self.batch_length + LOG_OVERHEAD

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self) -> int:
        return self.base_offset + self.last_offset_delta + 1

    @property
    def compression(self) -> int:
        return self.attributes & COMPRESSION_MASK

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & TRANSACTIONAL_MASK)

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & CONTROL_MASK)

    @property
    def last_sequence(self) -> int:
        if self.base_sequence == NO_SEQUENCE:
            return NO_SEQUENCE
        return (self.base_sequence + self.last_offset_delta) % 0x80000000


def read_header(buf: Buffer, pos: int = 0, *, whole: bool = True) -> BatchHeader:
    """The header of the batch at ``pos``: magic 2, sane lengths, and (if ``whole``) all of
    the batch's bytes present in ``buf``.

    Raises ``CorruptRecord`` when the bytes cannot be a v2 batch or the batch is cut short.
    """
    if len(buf) - pos < HEADER_SIZE:
        raise CorruptRecord(f"batch at byte {pos}: {len(buf) - pos} bytes, header needs 61")
    header = BatchHeader._make(_HEADER.unpack_from(buf, pos))
    if header.magic != MAGIC:
        raise CorruptRecord(f"batch at byte {pos}: magic {header.magic}, expected 2")
    if header.batch_length < HEADER_SIZE - LOG_OVERHEAD or header.last_offset_delta < 0:
        raise CorruptRecord(f"batch at byte {pos}: impossible length {header.batch_length} "
                            f"or last offset delta {header.last_offset_delta}")
    if whole and pos + header.size > len(buf):
        raise CorruptRecord(f"batch at byte {pos}: {header.size} bytes declared, "
                            f"{len(buf) - pos} present")
    return header


def check_crc(buf: Buffer, pos: int, header: BatchHeader) -> None:
    """Raise ``CorruptRecord`` unless the CRC-32C of the batch at ``pos`` matches its header."""
    actual = crc32c.crc32c(memoryview(buf)[pos + _CRC_START:pos + header.size])
    if actual != header.crc:
        raise CorruptRecord(f"batch at byte {pos} (base offset {header.base_offset}): "
                            f"CRC {actual:#010x} != stored {header.crc:#010x}")


def validate_batches(buf: Buffer, max_batch_bytes: int | None = None) -> list[BatchHeader]:
    """Headers of every batch in ``buf``; every byte must belong to a whole, valid batch.

    Raises ``CorruptRecord`` (bad length, magic, CRC, partial batch) or ``RecordTooLarge``
    (``max_batch_bytes`` exceeded), like a Kafka broker validating a produce request.
    """
    headers = []
    pos = 0
    end = len(buf)
    while pos < end:
        header = read_header(buf, pos)
        if max_batch_bytes is not None and header.size > max_batch_bytes:
            raise RecordTooLarge(f"batch of {header.size} bytes exceeds max.message.bytes "
                                 f"{max_batch_bytes}")
        check_crc(buf, pos, header)
        headers.append(header)
        pos += header.size
    return headers


def iter_batches(buf: Buffer) -> Iterator[tuple[BatchHeader, memoryview]]:
    """Whole batches of concatenated ``buf`` as (header, view); a trailing partial batch is
    ignored (as Kafka consumers do with fetch responses).  CRCs are not checked here."""
    view = memoryview(buf)
    pos = 0
    end = len(view)
    while end - pos >= LOG_OVERHEAD:
        (length,) = _EPOCH.unpack_from(view, pos + 8)
        if pos + length + LOG_OVERHEAD > end:
            return
        header = read_header(view, pos)
        yield header, view[pos:pos + header.size]
        pos += header.size


def set_base_offset(buf: bytearray | memoryview, pos: int, base_offset: int) -> None:
    """Overwrite ``baseOffset`` of the batch at ``pos`` (outside the CRC)."""
    _OFFSET.pack_into(buf, pos, base_offset)


def set_partition_leader_epoch(buf: bytearray | memoryview, pos: int, epoch: int) -> None:
    """Overwrite ``partitionLeaderEpoch`` of the batch at ``pos`` (outside the CRC)."""
    _EPOCH.pack_into(buf, pos + 8 + 4, epoch)


def set_log_append_time(buf: bytearray | memoryview, pos: int, timestamp_ms: int) -> None:
    """Mark the batch at ``pos`` LogAppendTime with ``timestamp_ms`` as its max timestamp and
    recompute its CRC (both are inside it); the records, compressed or not, are untouched."""
    header = read_header(buf, pos)
    attributes = header.attributes | TIMESTAMP_TYPE_MASK
    struct.pack_into(">h", buf, pos + _ATTRIBUTES_OFFSET, attributes)
    struct.pack_into(">q", buf, pos + _MAX_TIMESTAMP_OFFSET, timestamp_ms)
    crc = crc32c.crc32c(memoryview(buf)[pos + _CRC_START:pos + header.size])
    _CRC.pack_into(buf, pos + _CRC_OFFSET, crc)


def encode_batch(
    records: Sequence[Record],
    *,
    base_offset: int = 0,
    producer_id: int = NO_PRODUCER_ID,
    producer_epoch: int = -1,
    base_sequence: int = NO_SEQUENCE,
    partition_leader_epoch: int = -1,
    compression: int = COMPRESSION_NONE,
    is_transactional: bool = False,
    offset_deltas: Sequence[int] | None = None,
    last_offset_delta: int | None = None,
    log_append_time: int | None = None,
) -> bytes:
    """One v2 batch holding ``records`` (at least one).

    ``offset_deltas`` (default 0, 1, 2, ...) and ``last_offset_delta`` (default the last
    delta) let a compacted batch keep its records' original offsets and its offset range;
    ``log_append_time`` (ms) marks the batch LogAppendTime with that max timestamp.
    """
    if not records:
        raise ValueError("a record batch holds at least one record")
    if offset_deltas is None:
        offset_deltas = range(len(records))
    base_timestamp = records[0].timestamp_ms
    body = _encode_records(records, offset_deltas, base_timestamp)
    body = codecs.compress(compression, body)
    attributes = (compression | (TRANSACTIONAL_MASK if is_transactional else 0)
                  | (TIMESTAMP_TYPE_MASK if log_append_time else 0))
    if last_offset_delta is None:
        last_offset_delta = offset_deltas[-1]
    max_timestamp = max(r.timestamp_ms for r in records)
    if log_append_time is not None:
        max_timestamp = log_append_time
    header = _HEADER.pack(
        base_offset, HEADER_SIZE - LOG_OVERHEAD + len(body), partition_leader_epoch, MAGIC, 0,
        attributes, last_offset_delta, base_timestamp, max_timestamp, producer_id,
        producer_epoch, base_sequence, len(records),
    )
    crc = crc32c.crc32c(header[_CRC_START:])
    crc = crc32c.crc32c(body, crc)
    return b"".join((header[:_CRC_OFFSET], _CRC.pack(crc), header[_CRC_START:], body))


def _encode_records(
    records: Sequence[Record], offset_deltas: Iterable[int], base_timestamp: int
) -> bytes:
    table = _VARINT
    small = _TABLE_SIZE
    null = _NULL
    varint = _varint
    parts: list[bytes] = []
    append = parts.append
    fields = _RECORD_FIELDS
    for (key, value, headers, ts), delta in zip(map(fields, records), offset_deltas,
                                                strict=True):
        ts -= base_timestamp
        body = b"\x00%b%b%b%b%b%b%b" % (
            table[ts] if 0 <= ts < small else varint(ts),
            table[delta] if delta < small else varint(delta),
            null if key is None else varint(len(key)), b"" if key is None else key,
            null if value is None else varint(len(value)), b"" if value is None else value,
            _encode_headers(headers) if headers else b"\x00",
        )
        size = len(body)
        append(table[size] if size < small else varint(size))
        append(body)
    return b"".join(parts)


def _encode_headers(headers: Headers) -> bytes:
    parts = [_varint(len(headers))]
    for name, value in headers:
        name_bytes = name.encode()
        parts.append(_varint(len(name_bytes)))
        parts.append(name_bytes)
        if value is None:
            parts.append(_NULL)
        else:
            parts.append(_varint(len(value)))
            parts.append(bytes(value))
    return b"".join(parts)


def decode_batch(buf: Buffer, *, check: bool = True) -> list[ConsumerRecord]:
    """Records of the single batch at the start of ``buf`` (CRC checked unless told not)."""
    header = read_header(buf)
    if check:
        check_crc(buf, 0, header)
    body = codecs.decompress(header.compression, memoryview(buf)[HEADER_SIZE:header.size])
    try:
        records = _decode_records(body, header)
    except (IndexError, UnicodeDecodeError) as exc:
        raise CorruptRecord(f"batch at offset {header.base_offset}: bad record: {exc}") from exc
    if header.attributes & TIMESTAMP_TYPE_MASK:
        stamp = header.max_timestamp
        return [r._replace(timestamp_ms=stamp) for r in records]
    return records


def decode_batches(buf: Buffer, *, check: bool = True) -> list[ConsumerRecord]:
    """Records of every whole batch in concatenated ``buf``, in offset order."""
    out: list[ConsumerRecord] = []
    for _, view in iter_batches(buf):
        out.extend(decode_batch(view, check=check))
    return out


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    byte = data[pos]
    if byte < 0x80:
        return (byte >> 1) ^ -(byte & 1), pos + 1
    shift = 0
    result = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return (result >> 1) ^ -(result & 1), pos
        shift += 7
        if shift > 63:
            raise IndexError("varint longer than 10 bytes")


def _decode_records(data: bytes, header: BatchHeader) -> list[ConsumerRecord]:
    """Every record of a batch's (uncompressed) record bytes.

    Every consumer's hot loop: the one- and two-byte zigzag varints that almost every length,
    delta and size fits in are decoded inline; longer ones go through ``_read_varint``.
    """
    read = _read_varint
    out: list[ConsumerRecord] = []
    append = out.append
    record = ConsumerRecord
    base_offset = header.base_offset
    base_ts = header.base_timestamp
    pos = 0
    for _ in range(header.record_count):
        byte = data[pos]
        if byte < 0x80:
            length, pos = (byte >> 1) ^ -(byte & 1), pos + 1
        elif data[pos + 1] < 0x80:
            raw = (byte & 0x7F) | (data[pos + 1] << 7)
            length, pos = (raw >> 1) ^ -(raw & 1), pos + 2
        else:
            length, pos = read(data, pos)
        end = pos + length
        byte = data[pos + 1]  # + 1: record attributes, unused
        if byte < 0x80:
            ts_delta, pos = (byte >> 1) ^ -(byte & 1), pos + 2
        else:
            ts_delta, pos = read(data, pos + 1)
        byte = data[pos]
        if byte < 0x80:
            offset_delta, pos = (byte >> 1) ^ -(byte & 1), pos + 1
        elif data[pos + 1] < 0x80:
            raw = (byte & 0x7F) | (data[pos + 1] << 7)
            offset_delta, pos = (raw >> 1) ^ -(raw & 1), pos + 2
        else:
            offset_delta, pos = read(data, pos)
        if data[pos] == 1:  # key length -1: no key
            key, pos = None, pos + 1
        else:
            size, pos = read(data, pos)
            key = None if size < 0 else data[pos:pos + size]
            pos += max(size, 0)
        byte = data[pos]
        if byte < 0x80:
            size, pos = (byte >> 1) ^ -(byte & 1), pos + 1
        elif data[pos + 1] < 0x80:
            raw = (byte & 0x7F) | (data[pos + 1] << 7)
            size, pos = (raw >> 1) ^ -(raw & 1), pos + 2
        else:
            size, pos = read(data, pos)
        value = None if size < 0 else data[pos:pos + size]
        pos += max(size, 0)
        headers: Headers = ()
        if data[pos] == 0:
            pos += 1
        else:
            headers, pos = _decode_headers(data, pos)
        if pos != end:
            raise IndexError(f"record length {length} does not match its fields")
        append(record(base_offset + offset_delta, base_ts + ts_delta, key, value, headers))
    if pos != len(data):
        raise IndexError(f"{len(data) - pos} bytes after the last record")
    return out


def _decode_headers(data: bytes, pos: int) -> tuple[Headers, int]:
    count, pos = _read_varint(data, pos)
    headers = []
    for _ in range(count):
        name_len, pos = _read_varint(data, pos)
        if name_len < 0:
            raise IndexError("null header key")
        name = data[pos:pos + name_len].decode()
        pos += name_len
        value_len, pos = _read_varint(data, pos)
        value = None if value_len < 0 else data[pos:pos + value_len]
        pos += max(value_len, 0)
        headers.append((name, value))
    return tuple(headers), pos


def rebuild_batch(header: BatchHeader, kept: Sequence[ConsumerRecord]) -> bytes:
    """A copy of a batch holding only ``kept`` of its records, at their original offsets,
    with the same offset range, producer state and compression (used by compaction)."""
    records = [Record(r.key, r.value, r.headers, timestamp_ms=r.timestamp_ms) for r in kept]
    return encode_batch(
        records, base_offset=header.base_offset, producer_id=header.producer_id,
        producer_epoch=header.producer_epoch, base_sequence=header.base_sequence,
        partition_leader_epoch=header.partition_leader_epoch,
        compression=header.compression, is_transactional=header.is_transactional,
        offset_deltas=[r.offset - header.base_offset for r in kept],
        last_offset_delta=header.last_offset_delta,
        log_append_time=(header.max_timestamp if header.attributes & TIMESTAMP_TYPE_MASK
                         else None),
    )


__all__ = [
    "COMPRESSION_GZIP", "COMPRESSION_LZ4", "COMPRESSION_NONE", "COMPRESSION_SNAPPY",
    "COMPRESSION_ZSTD", "HEADER_SIZE", "LOG_OVERHEAD", "MAGIC",
    "BatchHeader", "Buffer", "ConsumerRecord", "Headers", "Record", "check_crc",
    "decode_batch", "decode_batches", "encode_batch", "iter_batches", "read_header",
    "rebuild_batch", "set_base_offset", "set_log_append_time", "set_partition_leader_epoch",
    "validate_batches",
]
