"""Kafka framing: 4-byte big-endian sizes, request headers v1/v2, response headers v0/v1.

Owns: cutting a byte stream into frames (refusing one larger than the listener's limit
before reading it) and the header formats.  Header v1 is api key, api version, correlation
id and a nullable client id; v2 (flexible versions) adds tagged fields, which are skipped
(Kafka defines none a broker must read).  Responses carry header v0 (correlation id) or, for
flexible versions, v1 (plus an empty tagged-field section); ApiVersions always answers with
v0 so a client that does not know the broker yet can read it.

Must never: interpret a body (``codec`` does).
"""

from __future__ import annotations

import dataclasses
import struct

SIZE = struct.Struct(">i")
HEADER_V1 = struct.Struct(">hhih")


class FrameError(Exception):
    """The byte stream is not Kafka framing; the connection must be closed."""


class FrameTooLarge(FrameError):
    """A frame announced a size above the listener's limit (socket.request.max.bytes)."""


@dataclasses.dataclass(frozen=True, slots=True)
class RequestHeader:
    """A request's header and where its body starts in the frame."""

    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    body_offset: int = 0


class FrameReader:
    """Accumulates bytes and hands out whole frames (without their size prefix)."""

    def __init__(self, frame_bytes_max: int) -> None:
        self.frame_bytes_max = frame_bytes_max
        self._buffer = bytearray()

    @property
    def pending_bytes(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Append ``data``; the frames now complete.  Raises ``FrameError`` on a size that
        is negative or too large (nothing of the frame is buffered beyond its header)."""
        self._buffer += data
        frames = []
        start = 0
        buffer = self._buffer
        while len(buffer) - start >= SIZE.size:
            (size,) = SIZE.unpack_from(buffer, start)
            if size < HEADER_V1.size:
                raise FrameError(f"frame size {size} is shorter than a request header")
            if size > self.frame_bytes_max:
                raise FrameTooLarge(f"frame of {size} bytes exceeds socket.request.max.bytes "
                                    f"({self.frame_bytes_max})")
            end = start + SIZE.size + size
            if end > len(buffer):
                break
            frames.append(bytes(buffer[start + SIZE.size:end]))
            start = end
        if start:
            del buffer[:start]
        return frames


def read_uvarint(data: bytes | memoryview, offset: int) -> tuple[int, int]:
    """An unsigned varint at ``offset``: (value, next offset)."""
    value = shift = 0
    while True:
        if offset >= len(data):
            raise FrameError("truncated varint")
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, offset
        shift += 7
        if shift > 28:
            raise FrameError("varint longer than 5 bytes")


def skip_tagged_fields(data: bytes, offset: int) -> int:
    count, offset = read_uvarint(data, offset)
    for _ in range(count):
        _, offset = read_uvarint(data, offset)
        size, offset = read_uvarint(data, offset)
        offset += size
        if offset > len(data):
            raise FrameError("truncated tagged field")
    return offset


def parse_request_header(frame: bytes, flexible: bool) -> RequestHeader:
    """Header v1 (or v2 when ``flexible``) at the start of ``frame``."""
    api_key, api_version, correlation_id, client_len = HEADER_V1.unpack_from(frame, 0)
    offset = HEADER_V1.size
    client_id = None
    if client_len >= 0:
        if offset + client_len > len(frame):
            raise FrameError("truncated client id")
        client_id = frame[offset:offset + client_len].decode("utf-8", "replace")
        offset += client_len
    if flexible:
        offset = skip_tagged_fields(frame, offset)
    return RequestHeader(api_key, api_version, correlation_id, client_id, offset)


def peek_api(frame: bytes) -> tuple[int, int, int]:
    """(api key, api version, correlation id) of a frame, before its version is known."""
    api_key, api_version, correlation_id, _ = HEADER_V1.unpack_from(frame, 0)
    return api_key, api_version, correlation_id


def response_frame(correlation_id: int, body: bytes, flexible_header: bool) -> bytes:
    """Size prefix, response header v0 (or v1 with an empty tagged-field section), body."""
    tags = b"\x00" if flexible_header else b""
    head = SIZE.pack(4 + len(tags) + len(body)) + SIZE.pack(correlation_id) + tags
    return head + body


__all__ = ["FrameError", "FrameReader", "FrameTooLarge", "RequestHeader",
           "parse_request_header", "peek_api", "read_uvarint", "response_frame",
           "skip_tagged_fields"]
