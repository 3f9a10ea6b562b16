"""Creating a cluster's Kafka authentication: a generated user and password, the brokers'
salted copies of it, and (with TLS) the cluster CA and server certificate.

Owns nothing after it returns: the result goes into the cluster file's ``kafka_auth``.  It
is the one place the Kafka layer draws randomness (``secrets``) and writes files; the
launcher calls it once, when a cluster is created.
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


__all__ = ["create_kafka_auth"]
