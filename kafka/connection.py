"""One Kafka connection, sans-IO: bytes in, decoded requests out; responses out in order.

Owns: the connection's frame buffer and its responses in flight.  Kafka requires a
connection's responses in the order of its requests, so each request gets a sequence number
and a finished response waits until every earlier one is written.  A request that needs no
response (``acks=0`` produce) frees its place at once.

Bad input: a frame above ``frame_bytes_max``, a size too small for a header, a body that does
not decode, an unknown API key or version — ``ProtocolViolation`` with a reason; the caller
counts it and closes the connection, as Kafka does.  ApiVersions of an unknown version is
answered (v0 fallback) instead.

Must never: block, or reorder responses.
"""

from __future__ import annotations

from typing import Any

from zafka.kafka import api_versions, codec, registry
from zafka.kafka.framing import (
    FrameError,
    FrameReader,
    FrameTooLarge,
    RequestHeader,
    parse_request_header,
    peek_api,
    response_frame,
)
from zafka.kafka.handler import Context, Outcome, Respond


class ProtocolViolation(Exception):
    """The peer broke the protocol; ``reason`` names how (for the listener's counters)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


class KafkaConnection:
    """The protocol state of one client connection."""

    def __init__(self, context: Context, frame_bytes_max: int) -> None:
        self.context = context
        self.reader = FrameReader(frame_bytes_max)
        self.next_sequence = 0
        self.next_to_write = 0
        self.headers: dict[int, RequestHeader] = {}
        self.done: dict[int, bytes | None] = {}
        self.requests = 0

    @property
    def in_flight(self) -> int:
        return len(self.headers)

    def receive(self, data: bytes) -> list[tuple[int, Outcome]]:
        """Feed bytes read from the socket; (sequence, outcome) for each whole request."""
        try:
            frames = self.reader.feed(data)
        except FrameTooLarge as error:
            raise ProtocolViolation("frame_too_large", str(error)) from None
        except FrameError as error:
            raise ProtocolViolation("bad_frame", str(error)) from None
        return [self._request(frame) for frame in frames]

    def _request(self, frame: bytes) -> tuple[int, Outcome]:
        api_key, version, correlation_id = peek_api(frame)
        sequence = self.next_sequence
        self.next_sequence += 1
        self.requests += 1
        if api_key == api_versions.API_KEY and not registry.serves(api_key, version):
            self.headers[sequence] = RequestHeader(api_key, 0, correlation_id, None)
            return sequence, Respond(api_versions.unsupported_version_response(self.context))
        if not registry.serves(api_key, version):
            raise ProtocolViolation("unsupported_api",
                                    f"api key {api_key} version {version} is not served")
        try:
            header = parse_request_header(frame, codec.is_flexible(api_key, version))
        except FrameError as error:
            raise ProtocolViolation("bad_header", str(error)) from None
        try:
            request = codec.decode_request(api_key, version, frame, header.body_offset)
        except codec.DecodeError as error:
            raise ProtocolViolation("bad_request", str(error)) from None
        self.headers[sequence] = header
        return sequence, registry.dispatch(request, header, self.context)

    def respond(self, sequence: int, outcome: Respond) -> bytes:
        """Record the response of request ``sequence``; the bytes now writable, in order."""
        header = self.headers[sequence]
        self.done[sequence] = None if outcome.body is None else \
            self.encode(header, outcome.body)
        out = []
        while self.next_to_write in self.done:
            frame = self.done.pop(self.next_to_write)
            del self.headers[self.next_to_write]
            self.next_to_write += 1
            if frame is not None:
                out.append(frame)
        return b"".join(out)

    @staticmethod
    def encode(header: RequestHeader, body: Any) -> bytes:
        flexible = bool(body.__flexible__) and header.api_key != api_versions.API_KEY
        return response_frame(header.correlation_id, codec.encode(body), flexible)


__all__ = ["KafkaConnection", "ProtocolViolation"]
