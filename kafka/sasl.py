"""The SASL gate of one Kafka connection: SaslHandshake v0-v1 and SaslAuthenticate v0-v2.

Owns, per connection, whether it has authenticated and as whom, and which requests it may
make: until the SASL exchange succeeds a connection gets nothing but ApiVersions,
SaslHandshake and SaslAuthenticate (any other request closes it, as a Kafka broker does).
Mechanisms: SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN (``kafka.scram``), checked against the
users' stored (salted) credentials, ``KafkaUsers``.  The authenticated user becomes the
principal ``User:<name>`` that authorization sees.

After SaslHandshake v0 a client sends its SASL tokens as bare length-prefixed frames without a
request header (Kafka's pre-KIP-152 flow); ``raw_tokens`` tells the listener so, and it hands
those frames to ``on_raw_token``.  From v1 the tokens travel in SaslAuthenticate requests.

Differences from Kafka: no GSSAPI or OAUTHBEARER; no re-authentication (KIP-368): the session
lifetime is 0, meaning the connection stays authenticated until it closes.

Must never: do I/O, read a clock, or use global randomness (server nonces are handed in).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from zafka.kafka.scram import (
    MECHANISMS,
    SaslFailed,
    ScramCredential,
    ScramServer,
    check_plain,
)

API_VERSIONS = 18
SASL_HANDSHAKE = 17
SASL_AUTHENTICATE = 36
PRE_AUTH_APIS = frozenset({API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE})
ENABLED_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN")
DEFAULT_MECHANISM = "SCRAM-SHA-256"
DEFAULT_USER = "zafka"

NONE = 0
ILLEGAL_SASL_STATE = 34
UNSUPPORTED_SASL_MECHANISM = 33
SASL_AUTHENTICATION_FAILED = 58


@dataclasses.dataclass(frozen=True, slots=True)
class KafkaUsers:
    """The Kafka listener's users: user -> mechanism -> stored SCRAM credential."""

    credentials: Mapping[str, Mapping[str, ScramCredential]]

    def lookup(self, user: str, mechanism: str) -> ScramCredential | None:
        return self.credentials.get(user, {}).get(mechanism)

    @classmethod
    def with_password(cls, user: str, password: str, salt_bytes: Callable[[], bytes],
                      iterations: int = 4096) -> KafkaUsers:
        """One user with credentials for both SCRAM mechanisms (salts from ``salt_bytes``)."""
        return cls({user: {m: ScramCredential.from_password(password, salt_bytes(), m,
                                                            iterations)
                           for m in MECHANISMS}})

    def to_dict(self) -> dict[str, Any]:
        return {user: {m: c.to_dict() for m, c in by_mechanism.items()}
                for user, by_mechanism in self.credentials.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KafkaUsers:
        return cls({str(user): {str(m): ScramCredential.from_dict(c) for m, c in mechs.items()}
                    for user, mechs in data.items()})


@dataclasses.dataclass(frozen=True, slots=True)
class SaslReply:
    """What the gate answers to one SASL request."""

    error_code: int
    error_message: str | None = None
    auth_bytes: bytes = b""
    mechanisms: tuple[str, ...] = ENABLED_MECHANISMS
    close: bool = False  # close the connection after sending this reply


class SaslGate:
    """The authentication state of one connection (see the module docstring)."""

    def __init__(self, users: KafkaUsers | None, nonce: Callable[[], str]) -> None:
        self.users = users  # None: authentication is off (--kafka-auth none)
        self.nonce = nonce
        self.mechanism: str | None = None
        self.raw_tokens = False
        self.user: str | None = None
        self.failures = 0
        self._scram: ScramServer | None = None

    @property
    def authenticated(self) -> bool:
        return self.users is None or self.user is not None

    @property
    def principal(self) -> str:
        """``User:<name>`` once authenticated; ``User:ANONYMOUS`` with authentication off."""
        return f"User:{self.user}" if self.user is not None else "User:ANONYMOUS"

    def allows(self, api_key: int) -> bool:
        """May this connection make a request with ``api_key`` now?"""
        return self.authenticated or api_key in PRE_AUTH_APIS

    def on_handshake(self, mechanism: str, version: int) -> SaslReply:
        """SaslHandshake: pick the mechanism (v0: raw tokens follow; v1: SaslAuthenticate)."""
        if self.users is None or self.user is not None or self.mechanism is not None:
            return SaslReply(ILLEGAL_SASL_STATE, close=True)
        if mechanism not in ENABLED_MECHANISMS:
            return SaslReply(UNSUPPORTED_SASL_MECHANISM, close=True)
        self.mechanism = mechanism
        self.raw_tokens = version == 0
        if mechanism != "PLAIN":
            self._scram = ScramServer(mechanism, self.users.lookup, self.nonce())
        return SaslReply(NONE)

    def on_authenticate(self, auth_bytes: bytes) -> SaslReply:
        """SaslAuthenticate (or a raw token after SaslHandshake v0): one step of the exchange."""
        if self.users is None or self.mechanism is None or self.user is not None:
            return SaslReply(ILLEGAL_SASL_STATE, "SaslAuthenticate before SaslHandshake",
                             close=True)
        try:
            if self._scram is None:
                self.user = check_plain(auth_bytes, self.users.lookup)
                return SaslReply(NONE)
            answer = self._scram.step(auth_bytes)
        except SaslFailed as exc:
            self.failures += 1
            return SaslReply(SASL_AUTHENTICATION_FAILED,
                             f"Authentication failed during authentication due to invalid "
                             f"credentials with SASL mechanism {self.mechanism}: {exc}",
                             close=True)
        if self._scram.done:
            self.user = self._scram.principal
        return SaslReply(NONE, auth_bytes=answer)


VERSIONS = {SASL_HANDSHAKE: (0, 1), SASL_AUTHENTICATE: (0, 2)}


def sasl_handshake_response(gate: SaslGate, req: Any, version: int) -> tuple[dict[str, Any],
                                                                              bool]:
    """SaslHandshake's response fields, and whether to close the connection after it."""
    reply = gate.on_handshake(str(req.mechanism), version)
    return {"error_code": reply.error_code, "mechanisms": list(reply.mechanisms)}, reply.close


def sasl_authenticate_response(gate: SaslGate, req: Any) -> tuple[dict[str, Any], bool]:
    """SaslAuthenticate's response fields (session lifetime 0: no re-authentication), and
    whether to close the connection after it."""
    reply = gate.on_authenticate(bytes(req.auth_bytes))
    return {"error_code": reply.error_code, "error_message": reply.error_message,
            "auth_bytes": reply.auth_bytes, "session_lifetime_ms": 0}, reply.close


__all__ = [
    "DEFAULT_MECHANISM", "DEFAULT_USER", "ENABLED_MECHANISMS", "PRE_AUTH_APIS", "KafkaUsers",
    "SaslGate", "SaslReply", "VERSIONS", "sasl_authenticate_response",
    "sasl_handshake_response",
]
