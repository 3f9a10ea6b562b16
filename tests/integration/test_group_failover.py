"""Committed offsets live in the replicated __consumer_offsets topic: they survive the death
of the broker that coordinates the group, and the group carries on from them."""

from __future__ import annotations

from zafka.client import Admin, Consumer, Producer, TopicPartition
from zafka.core.messages import FindCoordinatorRequest

from tests.integration.wire import wait_until
from zafka.launcher import Cluster


def coordinator_of(cluster: Cluster, group: str) -> int:
    def ask() -> int | None:
        for node in cluster.brokers:
            if not node.running():
                continue
            reply = cluster.ref(node.name, "broker").ask(
                FindCoordinatorRequest(group_id=group), 5).result()
            if reply.error_code == 0:
                return int(reply.node_id)
        return None

    return int(wait_until(ask, timeout=30, what=f"a coordinator for {group}"))


def test_committed_offsets_survive_killing_the_group_coordinator(cluster_factory) -> None:  # type: ignore[no-untyped-def]
    cluster = cluster_factory(brokers=3)
    path = str(cluster.cluster_file_path)
    with Admin(path) as admin:
        admin.create_topic("ledger", partitions=2, replication_factor=3)
    with Producer(path) as producer:
        for i in range(40):
            producer.send("ledger", f"{i}".encode(), partition=i % 2)
        producer.flush()
    group = "auditors"
    with Consumer(cluster=path, group_id=group, enable_auto_commit=False,
                  auto_offset_reset="earliest") as consumer:
        consumer.assign([TopicPartition("ledger", 0), TopicPartition("ledger", 1)])
        consumer.commit({TopicPartition("ledger", 0): 7, TopicPartition("ledger", 1): 11})
    old = coordinator_of(cluster, group)
    cluster.kill(f"broker-{old}")
    new = wait_until(lambda: (c := coordinator_of(cluster, group)) != old and c,
                     what="another broker coordinating the group")
    assert new != old
    with Consumer(cluster=path, group_id=group, enable_auto_commit=False,
                  auto_offset_reset="earliest", consumer_timeout_ms=20_000) as consumer:
        assert consumer.committed(TopicPartition("ledger", 0)) == 7
        assert consumer.committed(TopicPartition("ledger", 1)) == 11
        consumer.assign([TopicPartition("ledger", 0), TopicPartition("ledger", 1)])
        first = {p: None for p in (0, 1)}
        for record in consumer:
            if first[record.partition] is None:
                first[record.partition] = record.offset
            if None not in first.values():
                break  # (the killed broker may have led a partition: allow for its failover)
        assert first == {0: 7, 1: 11}, "consumption resumes at the committed offsets"
