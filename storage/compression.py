"""The four codecs of Kafka's RecordBatch v2: gzip, snappy, lz4 and zstd.

Owns the byte formats a batch's records section may be compressed with (the low three bits of
the batch attributes): gzip (RFC 1952), snappy (raw blocks, or the xerial ``SnappyOutputStream``
framing the Java client writes), lz4 (the LZ4 frame format) and zstd (a zstd frame).  One
maintained library, ``cramjam``, provides snappy, lz4 and zstd; gzip is the standard library's.

Brokers never call this module: they store batches as the client sent them.  Clients (and the
compaction cleaner, which must rewrite a batch it keeps part of) compress and decompress here.

Must never: do I/O or keep state.
"""

from __future__ import annotations

import gzip
import struct
import zlib

import cramjam
from zafka.core.errors import CorruptRecord, InvalidRequest

NONE = 0
GZIP = 1
SNAPPY = 2
LZ4 = 3
ZSTD = 4
NAMES = {NONE: "none", GZIP: "gzip", SNAPPY: "snappy", LZ4: "lz4", ZSTD: "zstd"}
CODECS = {name: code for code, name in NAMES.items()}

_XERIAL_MAGIC = b"\x82SNAPPY\x00"
_XERIAL_HEADER = 16  # magic (8) + version (4) + compatible version (4)
_INT32 = struct.Struct(">i")


def codec_of(name: str) -> int:
    """The attribute value of a codec named like Kafka's ``compression.type``."""
    try:
        return CODECS[name]
    except KeyError:
        raise ValueError(f"unknown compression type {name!r}; one of "
                         f"{', '.join(CODECS)}") from None


def compress(codec: int, data: bytes) -> bytes:
    """``data`` compressed with ``codec`` as Kafka clients write it."""
    if codec == NONE:
        return data
    if codec == GZIP:
        return gzip.compress(data, compresslevel=6, mtime=0)
    if codec == SNAPPY:
        return bytes(cramjam.snappy.compress_raw(data))
    if codec == LZ4:
        return bytes(cramjam.lz4.compress(data))
    if codec == ZSTD:
        return bytes(cramjam.zstd.compress(data))
    raise InvalidRequest(f"unsupported compression type {codec}")


def decompress(codec: int, data: bytes | memoryview) -> bytes:
    """The records section of a batch compressed with ``codec``.

    Raises ``InvalidRequest`` for an unknown codec and ``CorruptRecord`` for bytes the codec
    cannot decode.
    """
    if codec == NONE:
        return bytes(data)
    try:
        if codec == GZIP:
            return gzip.decompress(data)
        if codec == SNAPPY:
            return _snappy_decompress(bytes(data))
        if codec == LZ4:
            return bytes(cramjam.lz4.decompress(bytes(data)))
        if codec == ZSTD:
            return bytes(cramjam.zstd.decompress(bytes(data)))
    except (OSError, EOFError, zlib.error, cramjam.DecompressionError, struct.error) as exc:
        raise CorruptRecord(f"cannot decompress {NAMES[codec]} records: {exc}") from exc
    raise InvalidRequest(f"unsupported compression type {codec}")


def _snappy_decompress(data: bytes) -> bytes:
    """Raw snappy, or xerial framing: a 16-byte header then (int32 length, raw block)s."""
    if not data.startswith(_XERIAL_MAGIC):
        return bytes(cramjam.snappy.decompress_raw(data))
    parts = []
    pos = _XERIAL_HEADER
    while pos < len(data):
        (size,) = _INT32.unpack_from(data, pos)
        pos += 4
        if size < 0 or pos + size > len(data):
            raise CorruptRecord(f"snappy block of {size} bytes overruns its batch")
        parts.append(bytes(cramjam.snappy.decompress_raw(data[pos:pos + size])))
        pos += size
    return b"".join(parts)


__all__ = ["CODECS", "GZIP", "LZ4", "NAMES", "NONE", "SNAPPY", "ZSTD", "codec_of", "compress",
           "decompress"]
