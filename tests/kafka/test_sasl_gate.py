"""The per-connection SASL gate: what an unauthenticated connection may do, handshake
versions, SCRAM and PLAIN through it, and the refusals that close a connection."""

from __future__ import annotations

import itertools

import pytest
from kafka.net.sasl.scram import ScramClient
from zafka.kafka.sasl import (
    ILLEGAL_SASL_STATE,
    SASL_AUTHENTICATION_FAILED,
    UNSUPPORTED_SASL_MECHANISM,
    KafkaUsers,
    SaslGate,
)

_salts = (b"salt-%d" % i for i in itertools.count())
USERS = KafkaUsers.with_password("alice", "wonderland", lambda: next(_salts))


def gate(users: KafkaUsers | None = USERS) -> SaslGate:
    return SaslGate(users, lambda: "server-nonce")


def test_before_authentication_only_api_versions_and_sasl_are_allowed() -> None:
    g = gate()
    assert [k for k in range(70) if g.allows(k)] == [17, 18, 36]
    assert g.principal == "User:ANONYMOUS" and not g.authenticated


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_scram_through_handshake_v1_and_authenticate(mechanism: str) -> None:
    g = gate()
    assert g.on_handshake(mechanism, version=1).error_code == 0 and not g.raw_tokens
    client = ScramClient("alice", "wonderland", mechanism)
    first = g.on_authenticate(client.first_message())
    client.process_server_first_message(first.auth_bytes)
    final = g.on_authenticate(client.final_message())
    client.process_server_final_message(final.auth_bytes)
    assert g.authenticated and g.principal == "User:alice" and g.allows(0)


def test_handshake_v0_switches_the_connection_to_raw_tokens() -> None:
    g = gate()
    g.on_handshake("PLAIN", version=0)
    assert g.raw_tokens
    assert g.on_authenticate(b"\x00alice\x00wonderland").error_code == 0
    assert g.principal == "User:alice"


def test_a_wrong_password_fails_and_closes() -> None:
    g = gate()
    g.on_handshake("PLAIN", version=1)
    reply = g.on_authenticate(b"\x00alice\x00guess")
    assert (reply.error_code, reply.close) == (SASL_AUTHENTICATION_FAILED, True)
    assert "invalid credentials with SASL mechanism PLAIN" in (reply.error_message or "")
    assert not g.authenticated and g.failures == 1


def test_unknown_mechanisms_and_out_of_order_requests_are_refused() -> None:
    g = gate()
    reply = g.on_handshake("GSSAPI", version=1)
    assert (reply.error_code, reply.close) == (UNSUPPORTED_SASL_MECHANISM, True)
    assert "SCRAM-SHA-256" in reply.mechanisms
    assert gate().on_authenticate(b"x").error_code == ILLEGAL_SASL_STATE
    g = gate()
    g.on_handshake("PLAIN", version=1)
    g.on_authenticate(b"\x00alice\x00wonderland")
    assert g.on_handshake("PLAIN", version=1).error_code == ILLEGAL_SASL_STATE


def test_with_authentication_off_every_request_is_allowed_and_sasl_is_refused() -> None:
    g = gate(users=None)
    assert g.authenticated and g.allows(0) and g.principal == "User:ANONYMOUS"
    assert g.on_handshake("PLAIN", version=1).error_code == ILLEGAL_SASL_STATE


def test_users_round_trip_through_their_stored_form() -> None:
    stored = USERS.to_dict()
    assert "wonderland" not in repr(stored)
    assert KafkaUsers.from_dict(stored) == USERS
