"""SCRAM-SHA-256/512 and PLAIN on the broker's side: RFC 7677's test vector, kafka-python's own
SCRAM client against our server, and every way an exchange must fail."""

from __future__ import annotations

import base64

import pytest
from kafka.net.sasl.scram import ScramClient
from zafka.kafka.scram import (
    MIN_ITERATIONS,
    SaslFailed,
    ScramCredential,
    ScramServer,
    check_plain,
)

SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
PENCIL = ScramCredential.from_password("pencil", SALT)


def lookup_for(**users: ScramCredential):
    return lambda user, mechanism: (users.get(user) if users.get(user) is not None
                                    and users[user].mechanism == mechanism else None)


def test_rfc_7677_test_vector() -> None:
    server = ScramServer("SCRAM-SHA-256", lookup_for(user=PENCIL),
                         "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")
    first = server.step(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
    assert first == (b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                     b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
    final = server.step(b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                        b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    assert final == b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    assert server.done and server.principal == "user"


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_kafka_pythons_scram_client_authenticates(mechanism: str) -> None:
    credential = ScramCredential.from_password("s3cret", b"salt-bytes", mechanism)
    client = ScramClient("alice", "s3cret", mechanism)
    server = ScramServer(mechanism, lookup_for(alice=credential), "servernonce")
    client.process_server_first_message(server.step(client.first_message()))
    client.process_server_final_message(server.step(client.final_message()))
    assert server.principal == "alice"


def test_a_wrong_password_is_refused_and_the_exchange_ends() -> None:
    client = ScramClient("user", "not pencil", "SCRAM-SHA-256")
    server = ScramServer("SCRAM-SHA-256", lookup_for(user=PENCIL), "n0nce")
    client.process_server_first_message(server.step(client.first_message()))
    with pytest.raises(SaslFailed, match="invalid user name or password"):
        server.step(client.final_message())
    assert server.principal is None
    with pytest.raises(SaslFailed, match="unexpected"):
        server.step(b"c=biws")


def test_an_unknown_user_is_refused_like_a_wrong_password() -> None:
    server = ScramServer("SCRAM-SHA-256", lookup_for(user=PENCIL), "n0nce")
    with pytest.raises(SaslFailed, match="invalid user name or password"):
        server.step(b"n,,n=mallory,r=abc")


@pytest.mark.parametrize("message, error", [
    (b"p=tls-unique,,n=user,r=abc", "channel binding"),
    (b"n,,n=user", "needs n=<user> and r=<nonce>"),
    (b"n,,n=user,r=abc,tokenauth=true", "extensions"),
    (b"n,,n=us=er,r=abc", "user name"),
    (b"\xff\xfe", "UTF-8"),
    (b"n,,garbage", "malformed"),
])
def test_malformed_client_first_messages_get_a_clear_refusal(message: bytes,
                                                            error: str) -> None:
    server = ScramServer("SCRAM-SHA-256", lookup_for(user=PENCIL), "n0nce")
    with pytest.raises(SaslFailed, match=error):
        server.step(message)


def test_a_replayed_nonce_or_a_missing_proof_is_refused() -> None:
    for final, error in [(b"c=biws,r=someone-elses,p=AAAA", "nonce"), (b"c=biws,r=x", "proof")]:
        server = ScramServer("SCRAM-SHA-256", lookup_for(user=PENCIL), "n0nce")
        server.step(b"n,,n=user,r=abc")
        with pytest.raises(SaslFailed, match=error):
            server.step(final)


def test_stored_credentials_never_hold_the_password_and_survive_a_round_trip() -> None:
    stored = PENCIL.to_dict()
    assert "pencil" not in repr(stored) and stored["iterations"] >= MIN_ITERATIONS
    assert ScramCredential.from_dict(stored) == PENCIL
    with pytest.raises(ValueError, match="iterations"):
        ScramCredential.from_password("pencil", SALT, iterations=1000)
    with pytest.raises(ValueError, match="bad SCRAM credential"):
        ScramCredential.from_dict({**stored, "iterations": 10})


def test_plain_checks_the_password_against_the_salted_credential() -> None:
    lookup = lookup_for(user=PENCIL)
    assert check_plain(b"\x00user\x00pencil", lookup) == "user"
    assert check_plain(b"user\x00user\x00pencil", lookup) == "user"
    for bad in (b"\x00user\x00wrong", b"\x00nobody\x00pencil", b"\x00\x00"):
        with pytest.raises(SaslFailed, match="invalid user name or password"):
            check_plain(bad, lookup)
    with pytest.raises(SaslFailed, match="authzid NUL user NUL password"):
        check_plain(b"user:pencil", lookup)
    with pytest.raises(SaslFailed, match="authorization id"):
        check_plain(b"admin\x00user\x00pencil", lookup)


def test_a_final_nonce_with_the_client_nonce_repeated_in_front_is_accepted() -> None:
    """librdkafka before 2.1 (kcat 1.7 ships 2.0) sends ``r=<client nonce><combined nonce>``;
    Kafka accepts a final nonce that ends with the combined one, and so does zafka — with the
    proof computed over the message as sent."""
    import base64
    import hashlib
    import hmac

    server = ScramServer("SCRAM-SHA-256", lookup_for(user=PENCIL), "n0nce")
    bare = "n=user,r=abc"
    server_first = server.step(f"n,,{bare}".encode()).decode()
    without_proof = "c=biws,r=abc" + "abcn0nce"
    salted = hashlib.pbkdf2_hmac("sha256", b"pencil", SALT, PENCIL.iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    auth_message = f"{bare},{server_first},{without_proof}".encode()
    signature = hmac.digest(stored_key, auth_message, "sha256")
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    server.step(f"{without_proof},p={base64.b64encode(proof).decode()}".encode())
    assert server.done and server.principal == "user"
