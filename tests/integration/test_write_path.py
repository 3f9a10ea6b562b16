"""The write path at the leader, counted in actor messages: an ``acks=all`` write whose
followers' fetches are held at the leader's broker (Kafka's delayed fetch, several followed
partitions per fetch) is answered from what the replica announced — nobody asks the replica
again for what it just told its broker — so a write costs a handful of actor messages at the
leader (``docs/architecture.md`` counts them: 11; asking again cost 19)."""

from __future__ import annotations

from typing import Any

from zafka.client import Admin, Producer

from tests.integration.wire import wait_until

WRITES = 100
MESSAGES_PER_WRITE_MAX = 14
"""The count is 11 (see the module docstring); the slack covers the cluster's own traffic
during the writes (heartbeats, metadata, idle fetch rounds).  Asking again would give 19."""


def test_an_acks_all_write_costs_a_handful_of_actor_messages_at_the_leader(
        cluster_factory: Any) -> None:
    cluster = cluster_factory(brokers=3, coordinators=3)
    path = str(cluster.cluster_file_path)
    with Admin(path) as admin:
        admin.create_topic("w", partitions=6, replication_factor=3)
        wait_until(lambda: all(p.leader > 0 and len(p.isr) == 3
                               for p in admin.describe_topic("w").partitions),
                   what="every partition led with a full ISR")
        leader = cluster.node(f"broker-{admin.describe_topic('w').partitions[0].leader}")
    with Producer(path, acks="all", linger_ms=0) as producer:
        for _ in range(20):  # metadata, producer id, followers' fetch sessions
            producer.send("w", b"warm", partition=0).get(timeout=30)
        before = cluster.status_of(leader).delivered
        offsets = [producer.send("w", b"x" * 100, partition=0).get(timeout=30).offset
                   for _ in range(WRITES)]
        after = cluster.status_of(leader).delivered
    assert offsets == list(range(20, 20 + WRITES))
    per_write = (after - before - 1) / WRITES  # the first status request is counted
    assert per_write <= MESSAGES_PER_WRITE_MAX, f"{per_write:.1f} actor messages per write"
