"""One Kafka connection, sans-IO: bytes in, decoded requests out; responses out in order.

Owns: the connection's frame buffer and its responses in flight.  Kafka requires a
connection's responses in the order of its requests, so each request gets a sequence number
and a finished response waits until every earlier one is written.  A request that needs no
response (``acks=0`` produce) frees its place at once.

Authentication: the connection's ``SaslGate`` (``kafka.sasl``) answers SaslHandshake and
SaslAuthenticate itself (they are per-connection state, not broker requests), and until it
has authenticated any other request but ApiVersions is a ``ProtocolViolation``
("unauthenticated").  After SaslHandshake v0 the client's tokens come as bare frames
without a header; they are answered as bare frames.  A failed exchange is answered, then the
connection closes (``Respond.close``).

Bad input: a frame above ``frame_bytes_max``, a size too small for a header, a body that does
not decode, an unknown API key or version — ``ProtocolViolation`` with a reason; the caller
counts it and closes the connection, as Kafka does.  ApiVersions of an unknown version is
answered (v0 fallback) instead.

Must never: block, or reorder responses.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from zafka.kafka import api_versions, codec, registry, sasl
from zafka.kafka.framing import (
    FrameError,
    FrameReader,
    FrameTooLarge,
    RequestHeader,
    parse_request_header,
    peek_api,
    response_frame,
)
from zafka.kafka.handler import Context, Outcome, Respond, error, make
from zafka.kafka.sasl import KafkaUsers, SaslGate

RAW_TOKEN = -1  # the api key recorded for a bare SASL token frame (SaslHandshake v0 flow)


class ProtocolViolation(Exception):
    """The peer broke the protocol; ``reason`` names how (for the listener's counters)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


class KafkaConnection:
    """The protocol state of one client connection."""

    def __init__(self, context: Context, frame_bytes_max: int,
                 users: KafkaUsers | None = None,
                 nonce: Callable[[], str] = lambda: "") -> None:
        """``users``: the SASL users a client must authenticate as (None: no SASL)."""
        self.context = context
        self.gate = SaslGate(users, nonce)
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

    @property
    def principal(self) -> str:
        """Whom this connection speaks for (``User:<name>``; ``User:ANONYMOUS`` without SASL)."""
        return self.gate.principal

    def _request(self, frame: bytes) -> tuple[int, Outcome]:
        sequence = self.next_sequence
        self.next_sequence += 1
        self.requests += 1
        if self.gate.raw_tokens and not self.gate.authenticated:
            self.headers[sequence] = RequestHeader(RAW_TOKEN, 0, 0, None)
            reply = self.gate.on_authenticate(frame)
            return sequence, Respond(reply.auth_bytes, close=reply.close)
        api_key, version, correlation_id = peek_api(frame)
        if api_key == api_versions.API_KEY and not registry.serves(api_key, version):
            self.headers[sequence] = RequestHeader(api_key, 0, correlation_id, None)
            return sequence, Respond(api_versions.unsupported_version_response(self.context))
        if not registry.serves(api_key, version):
            raise ProtocolViolation("unsupported_api",
                                    f"api key {api_key} version {version} is not served")
        if not self.gate.allows(api_key):
            raise ProtocolViolation("unauthenticated",
                                    f"api key {api_key} before SASL authentication")
        try:
            header = parse_request_header(frame, codec.is_flexible(api_key, version))
        except FrameError as error:
            raise ProtocolViolation("bad_header", str(error)) from None
        try:
            request = codec.decode_request(api_key, version, frame, header.body_offset)
        except codec.DecodeError as error:
            raise ProtocolViolation("bad_request", str(error)) from None
        self.headers[sequence] = header
        if api_key in sasl.VERSIONS:
            return sequence, self._sasl(request, header)
        return sequence, registry.dispatch(request, header, self.context)

    def _sasl(self, request: Any, header: RequestHeader) -> Respond:
        cls = codec.response_class(header.api_key, header.api_version)
        if header.api_key == sasl.SASL_HANDSHAKE:
            fields, close = sasl.sasl_handshake_response(self.gate, request, header.api_version)
        else:
            fields, close = sasl.sasl_authenticate_response(self.gate, request)
        fields["error_code"] = error(fields["error_code"])
        if "mechanisms" in fields:
            fields["mechanisms"] = tuple(fields["mechanisms"])
        if "session_lifetime_ms" in fields:
            fields["session_lifetime"] = timedelta(milliseconds=fields.pop("session_lifetime_ms"))
        return Respond(make(cls, **fields), close=close)

    def respond(self, sequence: int, outcome: Respond) -> bytes:
        """Record the response of request ``sequence``; the bytes now writable, in order."""
        header = self.headers[sequence]
        if header.api_key == RAW_TOKEN:
            self.done[sequence] = struct.pack(">i", len(outcome.body)) + outcome.body
        else:
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
