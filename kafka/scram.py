"""SASL SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802, RFC 7677) and PLAIN, as sans-IO state machines.

Owns: the broker's side of a SASL exchange: ``ScramServer`` (client-first -> server-first ->
client-final -> server-final) and ``check_plain``; and ``ScramCredential``, what a broker
stores of a user's password: salt, iteration count (at least 4,096), StoredKey = H(ClientKey)
and ServerKey.  The password itself is never kept: a SCRAM proof is checked against StoredKey,
and a PLAIN password is checked by salting it again and comparing the StoredKey it yields.

The exchange is driven with ``step(message) -> bytes``; it raises ``SaslFailed`` with a
message fit for the client when the user is unknown, the proof is wrong, or a message breaks
the RFC's grammar; ``principal`` names the authenticated user afterwards.  The server nonce
is handed in (the edge draws it from ``secrets``), so a run is reproducible in a test.

Differences from Kafka: SCRAM extensions in client-first (``tokenauth`` for delegation
tokens) are refused; channel binding is not offered (``n,,`` / ``y,,`` only, as Kafka).

Must never: do I/O, read a clock, use global randomness, or keep a password in clear.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Any

MIN_ITERATIONS = 4096
MECHANISMS = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}


class SaslFailed(Exception):
    """Authentication failed; the message may be shown to the client."""


@dataclasses.dataclass(frozen=True, slots=True)
class ScramCredential:
    """What a broker keeps of one user's password for one SCRAM mechanism."""

    mechanism: str
    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes

    @classmethod
    def from_password(cls, password: str, salt: bytes, mechanism: str = "SCRAM-SHA-256",
                      iterations: int = MIN_ITERATIONS) -> ScramCredential:
        """Salt and hash ``password`` (``salt`` is random bytes chosen by the caller)."""
        if mechanism not in MECHANISMS:
            raise ValueError(f"unknown SCRAM mechanism {mechanism!r}")
        if iterations < MIN_ITERATIONS:
            raise ValueError(f"SCRAM iterations must be >= {MIN_ITERATIONS}, not {iterations}")
        digest = MECHANISMS[mechanism]
        salted = hashlib.pbkdf2_hmac(digest, password.encode(), salt, iterations)
        client_key = hmac.digest(salted, b"Client Key", digest)
        return cls(mechanism, salt, iterations, hashlib.new(digest, client_key).digest(),
                   hmac.digest(salted, b"Server Key", digest))

    def matches(self, password: str) -> bool:
        """Does ``password`` yield this credential (constant-time comparison)?"""
        other = ScramCredential.from_password(password, self.salt, self.mechanism,
                                              self.iterations)
        return hmac.compare_digest(other.stored_key, self.stored_key)

    def to_dict(self) -> dict[str, Any]:
        return {"mechanism": self.mechanism, "salt": _b64(self.salt),
                "iterations": self.iterations, "stored_key": _b64(self.stored_key),
                "server_key": _b64(self.server_key)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScramCredential:
        credential = cls(str(data["mechanism"]), base64.b64decode(data["salt"]),
                         int(data["iterations"]), base64.b64decode(data["stored_key"]),
                         base64.b64decode(data["server_key"]))
        if credential.mechanism not in MECHANISMS or credential.iterations < MIN_ITERATIONS:
            raise ValueError(f"bad SCRAM credential: {credential.mechanism} with "
                             f"{credential.iterations} iterations")
        return credential


Lookup = Callable[[str, str], "ScramCredential | None"]
"""(user, mechanism) -> that user's credential, or None if there is none."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _fields(message: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in message.split(","):
        key, sep, value = part.partition("=")
        if not key or not sep:
            raise SaslFailed(f"malformed SCRAM attribute {part[:20]!r}")
        out.setdefault(key, value)
    return out


def _username(saslname: str) -> str:
    """RFC 5802 ``saslname``: '=2C' is ',' and '=3D' is '='; any other '=' is an error."""
    if "=" in saslname.replace("=2C", "").replace("=3D", ""):
        raise SaslFailed("malformed SCRAM user name")
    return saslname.replace("=2C", ",").replace("=3D", "=")


def _printable(nonce: str) -> bool:
    return bool(nonce) and all(0x21 <= ord(c) <= 0x7E and c != "," for c in nonce)


class ScramServer:
    """One SCRAM exchange on the broker's side (see the module docstring)."""

    def __init__(self, mechanism: str, lookup: Lookup, server_nonce: str) -> None:
        if mechanism not in MECHANISMS:
            raise ValueError(f"unknown SCRAM mechanism {mechanism!r}")
        assert _printable(server_nonce), "the server nonce must be printable, without ','"
        self.mechanism = mechanism
        self.digest = MECHANISMS[mechanism]
        self.lookup = lookup
        self.server_nonce = server_nonce
        self.stage = "client-first"
        self.user = ""
        self.principal: str | None = None
        self._credential: ScramCredential | None = None
        self._nonce = ""
        self._gs2 = ""
        self._auth_prefix = ""

    @property
    def done(self) -> bool:
        return self.stage == "done"

    def step(self, message: bytes) -> bytes:
        """Take the client's next message; return the server's answer."""
        try:
            text = message.decode()
        except UnicodeDecodeError:
            raise self._fail("SCRAM messages are UTF-8") from None
        if self.stage == "client-first":
            return self._client_first(text)
        if self.stage == "client-final":
            return self._client_final(text)
        raise self._fail(f"unexpected SCRAM message after {self.stage}")

    def _fail(self, reason: str) -> SaslFailed:
        self.stage = "failed"
        return SaslFailed(reason)

    def _client_first(self, text: str) -> bytes:
        parts = text.split(",", 2)
        if len(parts) != 3 or parts[0] not in ("n", "y") or (
                parts[1] and not parts[1].startswith("a=")):
            raise self._fail("SCRAM client-first must start with 'n,,' (no channel binding)")
        self._gs2 = f"{parts[0]},{parts[1]},"
        bare = parts[2]
        attrs = _fields(bare)
        if set(attrs) - {"n", "r"}:
            raise self._fail("SCRAM extensions (delegation tokens) are not supported")
        if "n" not in attrs or not _printable(attrs.get("r", "")):
            raise self._fail("SCRAM client-first needs n=<user> and r=<nonce>")
        self.user = _username(attrs["n"])
        authzid = parts[1][2:]
        if authzid and authzid != self.user:
            raise self._fail("SCRAM authorization id must equal the user name")
        self._credential = self.lookup(self.user, self.mechanism)
        if self._credential is None:
            raise self._fail("Authentication failed: invalid user name or password")
        self._nonce = attrs["r"] + self.server_nonce
        server_first = (f"r={self._nonce},s={_b64(self._credential.salt)},"
                        f"i={self._credential.iterations}")
        self._auth_prefix = f"{bare},{server_first}"
        self.stage = "client-final"
        return server_first.encode()

    def _client_final(self, text: str) -> bytes:
        without_proof, sep, proof_b64 = text.rpartition(",p=")
        credential = self._credential
        assert credential is not None
        if not sep:
            raise self._fail("SCRAM client-final has no proof")
        attrs = _fields(without_proof)
        # Kafka's server checks that the client's nonce *ends with* the combined nonce, and
        # librdkafka before 2.1 sends its own nonce once more in front of it: accept that
        # too (the proof covers the message as sent, so it is checked all the same).
        if not attrs.get("r", "").endswith(self._nonce):
            raise self._fail("SCRAM nonce mismatch")
        if attrs.get("c") != _b64(self._gs2.encode()):
            raise self._fail("SCRAM channel binding mismatch")
        try:
            proof = base64.b64decode(proof_b64, validate=True)
        except ValueError:
            raise self._fail("SCRAM proof is not base64") from None
        auth_message = f"{self._auth_prefix},{without_proof}".encode()
        signature = hmac.digest(credential.stored_key, auth_message, self.digest)
        if len(proof) != len(signature):
            raise self._fail("Authentication failed: invalid user name or password")
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        if not hmac.compare_digest(hashlib.new(self.digest, client_key).digest(),
                                   credential.stored_key):
            raise self._fail("Authentication failed: invalid user name or password")
        self.stage = "done"
        self.principal = self.user
        server_signature = hmac.digest(credential.server_key, auth_message, self.digest)
        return f"v={_b64(server_signature)}".encode()


def check_plain(message: bytes, lookup: Lookup) -> str:
    """SASL PLAIN (RFC 4616) ``authzid NUL authcid NUL password``: the user, or ``SaslFailed``.

    The password is checked against the user's SCRAM-SHA-256 (else SCRAM-SHA-512) credential.
    """
    parts = message.split(b"\x00")
    if len(parts) != 3:
        raise SaslFailed("SASL PLAIN expects authzid NUL user NUL password")
    try:
        authzid, user, password = (p.decode() for p in parts)
    except UnicodeDecodeError:
        raise SaslFailed("SASL PLAIN fields are UTF-8") from None
    if authzid and authzid != user:
        raise SaslFailed("SASL PLAIN authorization id must equal the user name")
    credential = lookup(user, "SCRAM-SHA-256") or lookup(user, "SCRAM-SHA-512")
    if not user or credential is None or not credential.matches(password):
        raise SaslFailed("Authentication failed: invalid user name or password")
    return user


__all__ = ["MECHANISMS", "MIN_ITERATIONS", "Lookup", "SaslFailed", "ScramCredential",
           "ScramServer", "check_plain"]
