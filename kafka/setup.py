"""Creating a cluster's Kafka authentication: a generated user and password, the brokers'
salted copies of it, and (with TLS) the cluster CA and server certificate.

Owns nothing after it returns: the result goes into the cluster file's ``kafka_auth``.  It
is the one place the Kafka layer draws randomness (``secrets``) and writes files; the
launcher calls it when a cluster is created and when an operator adds a Kafka user.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from zafka.kafka import tls
from zafka.kafka.auth_config import MODES, KafkaAuth


def create_kafka_auth(data_dir: Path, hosts: list[str], mode: str = "scram",
                      use_tls: bool = False) -> dict[str, Any]:
    """The ``kafka_auth`` section of a new cluster's file."""
    if mode not in MODES:
        raise ValueError(f"--kafka-auth must be one of {', '.join(MODES)}, not {mode!r}")
    ca_file = ""
    if use_tls:
        files = tls.generate(data_dir / "tls", [*hosts, "localhost", "127.0.0.1"])
        ca_file = str(files.ca_cert)
    if mode == "none":
        return KafkaAuth("none", use_tls, ca_file=ca_file).to_dict()
    return KafkaAuth.generate(secrets.token_urlsafe(24), lambda: secrets.token_bytes(16),
                              tls=use_tls, ca_file=ca_file).to_dict()


def add_kafka_user(kafka_auth: dict[str, Any], user: str, admin: bool = False,
                   ) -> tuple[dict[str, Any], str]:
    """``kafka_auth`` with SASL user ``user`` added (or given a new password), and that
    password; ``ValueError`` if the cluster's listeners take no users or the name is bad."""
    password = secrets.token_urlsafe(24)
    auth = KafkaAuth.from_dict(kafka_auth).with_user(
        user, password, lambda: secrets.token_bytes(16), admin=admin)
    return auth.to_dict(), password


def remove_kafka_user(kafka_auth: dict[str, Any], user: str) -> dict[str, Any]:
    """``kafka_auth`` without SASL user ``user`` (``ValueError`` if it cannot go)."""
    return KafkaAuth.from_dict(kafka_auth).without_user(user).to_dict()


__all__ = ["add_kafka_user", "create_kafka_auth", "remove_kafka_user"]
