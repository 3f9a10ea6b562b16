"""Kafka clients meet the cluster's ACLs: SASL users other than admins have each request
checked as zafka's own client identities do (``docs/security.md``).

A real cluster with two extra SASL users — ``app`` (a client) and ``ops`` (an admin) —
added to its node file before it starts; confluent-kafka as each of them.  Without ACLs an
application may produce, consume and join groups but not delete topics, alter configs or add
partitions; ACLs written with zafka's admin tool deny writes and group joins as written; an
admin user is never checked.  The client files carry no Kafka secret they do not need.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)
from zafka.cli.main import main
from zafka.client.admin import Admin
from zafka.core.messages import AclBinding, AclOperation, AclPermission, ResourceType

from zafka.launcher import Cluster


@pytest.fixture(scope="module")
def users(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    cluster = Cluster(brokers=3, coordinators=3, data_dir=tmp_path_factory.mktemp("kacl"))
    app = cluster.add_kafka_user("app")
    ops = cluster.add_kafka_user("ops", admin=True)
    with cluster:
        admin = AdminClient(cluster.kafka_config())
        for topic in ("orders", "locked"):
            admin.create_topics([NewTopic(topic, 3, 3)])[topic].result(30)
        yield {"cluster": cluster, "app": app, "ops": ops, "admin": cluster.kafka_config()}


def kafka_error(raised: pytest.ExceptionInfo[KafkaException]) -> int:
    return int(raised.value.args[0].code())


def produce(settings: dict[str, str], topic: str, value: bytes) -> list[Any]:
    """Produce one record; the delivery errors librdkafka reported (empty: acknowledged)."""
    errors: list[Any] = []
    producer = Producer({**settings, "acks": "all", "message.timeout.ms": 20000})
    producer.produce(topic, value, on_delivery=lambda err, _msg: errors.append(err)
                     if err is not None else None)
    assert producer.flush(30) == 0
    return errors


def first_message(settings: dict[str, str], group: str, topic: str) -> Any:
    consumer = Consumer({**settings, "group.id": group, "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None:
                return message
        return None
    finally:
        consumer.close()


def test_an_application_user_may_produce_and_consume_but_not_delete_or_alter(
        users: dict[str, Any]) -> None:
    app = users["app"]
    assert produce(app, "orders", b"from-app") == []
    message = first_message(app, "billing", "orders")
    assert message is not None and message.error() is None and message.value() == b"from-app"

    admin = AdminClient(app)
    with pytest.raises(KafkaException) as raised:
        admin.delete_topics(["orders"])["orders"].result(30)
    assert kafka_error(raised) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    resource = ConfigResource("topic", "orders", incremental_configs=[
        ConfigEntry("retention.ms", "60000", incremental_operation=AlterConfigOpType.SET)])
    with pytest.raises(KafkaException) as raised:
        admin.incremental_alter_configs([resource])[resource].result(30)
    assert kafka_error(raised) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    with pytest.raises(KafkaException) as raised:
        admin.create_partitions([NewPartitions("orders", 6)])["orders"].result(30)
    assert kafka_error(raised) == KafkaError.TOPIC_AUTHORIZATION_FAILED

    with Admin(str(users["cluster"].admin_file_path)) as zadmin:
        described = zadmin.describe_topic("orders")
        assert len(described.partitions) == 3  # nothing was changed
        defaults = {key: is_default for key, _, is_default in zadmin.config_entries("orders")}
        assert defaults["retention.ms"]

    ops = AdminClient(users["ops"])  # an admin user is never checked
    ops.incremental_alter_configs([resource])[resource].result(30)
    ops.create_partitions([NewPartitions("orders", 6)])["orders"].result(30)


def test_acls_deny_an_application_user_as_written(users: dict[str, Any]) -> None:
    with Admin(str(users["cluster"].admin_file_path)) as zadmin:
        zadmin.create_acls([
            AclBinding(principal="User:app", operation=AclOperation.WRITE,
                       resource_type=ResourceType.TOPIC, resource_name="locked",
                       permission=AclPermission.DENY),
            AclBinding(principal="User:app", operation=AclOperation.READ,
                       resource_type=ResourceType.GROUP, resource_name="closed",
                       permission=AclPermission.DENY)])
    app = users["app"]
    deadline = time.monotonic() + 10  # every broker applies the new ACLs
    while True:
        errors = produce(app, "locked", b"denied")
        if errors or time.monotonic() > deadline:
            break
    assert [e.code() for e in errors] == [KafkaError.TOPIC_AUTHORIZATION_FAILED]
    assert produce(users["ops"], "locked", b"allowed") == []
    refused = first_message(app, "closed", "orders")
    assert refused is not None and refused.error() is not None
    assert refused.error().code() == KafkaError.GROUP_AUTHORIZATION_FAILED

    cluster: Cluster = users["cluster"]
    denied = sum(dict(cluster.status_of(node).broker.kafka_counters)  # type: ignore[union-attr]
                 .get("requests_denied", 0) for node in cluster.brokers)
    assert denied >= 2


def test_client_files_carry_only_the_kafka_settings_their_role_needs(
        users: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    cluster: Cluster = users["cluster"]
    client = json.loads(cluster.client_file_path.read_text())["kafka_auth"]
    admin = json.loads(cluster.admin_file_path.read_text())["kafka_auth"]
    node = json.loads(cluster.cluster_file_path.read_text())["kafka_auth"]
    assert "users" not in client and "password" not in client and client["mode"] == "scram"
    assert "users" not in admin and admin["password"] == node["password"]
    assert sorted(node["users"]) == ["app", "ops", "zafka"]
    assert sorted(node["admins"]) == ["ops", "zafka"]

    assert main(["kafka-users", "--add", "x", "--cluster", str(cluster.client_file_path)]) != 0
    assert "client file" in capsys.readouterr().err
    assert main(["kafka-users", "--add", "bad:name",
                 "--cluster", str(cluster.cluster_file_path)]) != 0
    assert "may not" in capsys.readouterr().err
    assert main(["kafka-users", "--add", "later",
                 "--cluster", str(cluster.cluster_file_path)]) == 0
    printed = capsys.readouterr().out
    settings = json.loads(printed.split("Kafka client settings: ", 1)[1])
    assert settings["sasl.username"] == "later" and len(settings["sasl.password"]) > 20
    stored = json.loads(Path(cluster.cluster_file_path).read_text())["kafka_auth"]
    assert "later" in stored["users"] and "later" not in stored["admins"]
    assert main(["kafka-users", "--remove", "later",
                 "--cluster", str(cluster.cluster_file_path)]) == 0
    assert "Removed Kafka user User:later" in capsys.readouterr().out
    stored = json.loads(Path(cluster.cluster_file_path).read_text())["kafka_auth"]
    assert "later" not in stored["users"]
    assert main(["kafka-users", "--remove", "zafka",
                 "--cluster", str(cluster.cluster_file_path)]) != 0
    assert "generated" in capsys.readouterr().err
