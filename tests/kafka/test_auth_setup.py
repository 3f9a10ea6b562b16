"""A new cluster's Kafka authentication: SCRAM on by default with a generated user, the
brokers' salted copy of its password, client settings for each Kafka client, TLS on request,
and 'none' only when asked for."""

from __future__ import annotations

from pathlib import Path

import pytest
from zafka.kafka.auth_config import KafkaAuth
from zafka.kafka.setup import create_kafka_auth

from zafka.launcher import Cluster


def test_a_new_cluster_requires_scram_with_a_generated_user(tmp_path: Path) -> None:
    auth = Cluster(brokers=1, coordinators=1, data_dir=tmp_path).kafka_auth
    assert auth.enabled and auth.username and len(auth.password) >= 24
    stored = auth.users.lookup(auth.username, "SCRAM-SHA-256")
    assert stored is not None and stored.iterations >= 4096 and stored.matches(auth.password)
    assert auth.password not in repr(auth.users.to_dict())
    assert auth.confluent_settings() == {
        "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": auth.username, "sasl.password": auth.password}
    assert auth.kafka_python_settings()["sasl_plain_password"] == auth.password


def test_two_clusters_get_different_passwords(tmp_path: Path) -> None:
    one = create_kafka_auth(tmp_path / "a", ["127.0.0.1"])
    two = create_kafka_auth(tmp_path / "b", ["127.0.0.1"])
    assert one["password"] != two["password"]


def test_tls_generates_the_cluster_ca_and_names_it_for_clients(tmp_path: Path) -> None:
    auth = KafkaAuth.from_dict(create_kafka_auth(tmp_path, ["127.0.0.1"], use_tls=True))
    assert auth.security_protocol == "SASL_SSL"
    assert Path(auth.confluent_settings()["ssl.ca.location"]).read_text().startswith(
        "-----BEGIN CERTIFICATE-----")


def test_no_authentication_is_an_explicit_choice(tmp_path: Path) -> None:
    auth = KafkaAuth.from_dict(create_kafka_auth(tmp_path, ["127.0.0.1"], mode="none"))
    assert not auth.enabled and auth.confluent_settings() == {"security.protocol": "PLAINTEXT"}
    with pytest.raises(ValueError, match="--kafka-auth must be one of scram, none"):
        create_kafka_auth(tmp_path, ["127.0.0.1"], mode="open")


def test_the_generated_user_is_an_admin_and_added_users_are_not_unless_asked() -> None:
    auth = KafkaAuth.generate("secret-password", lambda: b"salt" * 4)
    assert auth.super_users() == frozenset({"User:zafka"})
    more = auth.with_user("app", "app-password", lambda: b"salt" * 4)
    more = more.with_user("ops", "ops-password", lambda: b"salt" * 4, admin=True)
    assert more.super_users() == frozenset({"User:zafka", "User:ops"})
    stored = more.users.lookup("app", "SCRAM-SHA-512")
    assert stored is not None and stored.matches("app-password")
    again = KafkaAuth.from_dict(more.to_dict())
    assert again == more
    demoted = again.with_user("ops", "new-password", lambda: b"salt" * 4)
    assert demoted.super_users() == frozenset({"User:zafka"})


def test_settings_made_before_user_roles_keep_the_generated_user_an_admin() -> None:
    old = KafkaAuth.generate("secret-password", lambda: b"salt" * 4).to_dict()
    del old["admins"]
    assert KafkaAuth.from_dict(old).super_users() == frozenset({"User:zafka"})


@pytest.mark.parametrize("name", ["", "a:b", "a,b", "a=b"])
def test_a_bad_user_name_is_refused(name: str) -> None:
    auth = KafkaAuth.generate("secret-password", lambda: b"salt" * 4)
    with pytest.raises(ValueError, match="may not"):
        auth.with_user(name, "pw", lambda: b"salt" * 4)


def test_a_listener_without_authentication_takes_no_users() -> None:
    auth = KafkaAuth("none")
    assert auth.super_users() is None  # nobody is told apart: nothing is checked
    with pytest.raises(ValueError, match="no users"):
        auth.with_user("app", "pw", lambda: b"salt" * 4)


def test_a_user_can_be_removed_but_not_the_generated_one() -> None:
    auth = KafkaAuth.generate("secret-password", lambda: b"salt" * 4)
    more = auth.with_user("ops", "pw", lambda: b"salt" * 4, admin=True)
    fewer = more.without_user("ops")
    assert "ops" not in fewer.users.credentials and fewer.super_users() == auth.super_users()
    with pytest.raises(ValueError, match="generated"):
        more.without_user("zafka")
    with pytest.raises(ValueError, match="no Kafka user"):
        more.without_user("nobody")
