"""A pytest plugin: a real, replicated, Kafka-compatible zafka cluster for any test suite.

Installed with the package (the ``pytest11`` entry point ``zafka``), it offers the session
fixture ``zafka_cluster``: three coordinators and three brokers in their own processes,
started once per test session in a temporary directory and stopped at its end::

    def test_orders(zafka_cluster):
        from confluent_kafka import Producer
        producer = Producer(zafka_cluster.kafka_config)
        producer.produce("orders", b"hello")
        assert producer.flush(10) == 0

``kafka_config`` is a dict of confluent-kafka (librdkafka) settings; ``kafka_python_config``
the same settings as kafka-python / aiokafka keyword arguments.  Both carry whatever the
cluster's listeners require (addresses, and credentials when authentication is on).

Owns: the fixture's cluster for the session.  Must never: leave a process running.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # imported when a cluster starts: pytest loads this plugin in every run
    from zafka.launcher import Cluster

KAFKA_PYTHON_NAMES = {
    "bootstrap.servers": "bootstrap_servers",
    "security.protocol": "security_protocol",
    "sasl.mechanism": "sasl_mechanism",
    "sasl.mechanisms": "sasl_mechanism",
    "sasl.username": "sasl_plain_username",
    "sasl.password": "sasl_plain_password",
    "ssl.ca.location": "ssl_cafile",
}


def kafka_python_config(kafka_config: dict[str, str]) -> dict[str, Any]:
    """confluent-kafka's dotted settings as kafka-python / aiokafka keyword arguments."""
    return {KAFKA_PYTHON_NAMES[k]: v for k, v in kafka_config.items()
            if k in KAFKA_PYTHON_NAMES}


class ZafkaCluster:
    """What a test gets: the running cluster and how Kafka clients reach it."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    @property
    def bootstrap_servers(self) -> str:
        return self.cluster.bootstrap_servers

    @property
    def kafka_config(self) -> dict[str, str]:
        """A fresh dict of confluent-kafka settings (add your own keys freely)."""
        return self.cluster.kafka_config()

    @property
    def kafka_python_config(self) -> dict[str, Any]:
        return kafka_python_config(self.kafka_config)

    @property
    def cluster_file(self) -> Path:
        return self.cluster.cluster_file_path


@contextmanager
def running_cluster(brokers: int = 3, coordinators: int = 3,
                    data_dir: str | Path | None = None, **options: Any) -> Iterator[ZafkaCluster]:
    """Start a cluster (in a temporary directory unless ``data_dir``), stop it on exit."""
    from zafka.launcher import Cluster

    with tempfile.TemporaryDirectory(prefix="zafka-") as scratch:
        cluster = Cluster(brokers=brokers, coordinators=coordinators,
                          data_dir=data_dir or scratch, **options)
        with cluster:
            yield ZafkaCluster(cluster)


@pytest.fixture(scope="session")
def zafka_cluster() -> Iterator[ZafkaCluster]:
    """A three-broker zafka cluster for the whole test session."""
    with running_cluster() as cluster:
        yield cluster


__all__ = ["ZafkaCluster", "kafka_python_config", "running_cluster", "zafka_cluster"]
