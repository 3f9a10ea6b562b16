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
