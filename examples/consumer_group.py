"""Consumer groups: three consumers share a topic's partitions; one leaves; the others take
over its partitions, and nothing committed is read twice.

Run a cluster first (``python cluster.py --brokers 3``), then:

    python examples/consumer_group.py
"""

from __future__ import annotations

import time
import uuid

from zafka import Admin, Consumer, Producer

TOPIC = "group-demo"


def drain(consumers: list[Consumer], seconds: float) -> dict[str, int]:
    """Poll every consumer for a while; how many records each one read."""
    counts = {c.config.client_id: 0 for c in consumers}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for consumer in consumers:
            counts[consumer.config.client_id] += len(consumer.poll(timeout_ms=100))
    return counts


def produce(first: int, last: int) -> None:
    with Producer() as producer:
        for i in range(first, last):
            producer.send(TOPIC, f"record-{i}".encode())
        producer.flush()


def show_owners(consumers: list[Consumer]) -> None:
    for consumer in consumers:
        print(f"  {consumer.config.client_id} owns "
              f"{sorted(tp.partition for tp in consumer.assignment())}")


def main() -> None:
    group = f"demo-{uuid.uuid4().hex[:6]}"
    with Admin() as admin:
        if TOPIC not in admin.list_topics():
            admin.create_topic(TOPIC, partitions=6, replication_factor=3)
    consumers = [Consumer(TOPIC, group_id=group, client_id=f"consumer-{i}",
                          auto_offset_reset="earliest", session_timeout_ms=6000,
                          heartbeat_interval_ms=500) for i in range(3)]
    produce(0, 600)
    print("first round:", drain(consumers, 8))
    show_owners(consumers)
    leaving = consumers.pop()
    leaving.close()  # commits its position and leaves the group: a rebalance follows
    print(f"{leaving.config.client_id} left")
    produce(600, 900)
    print("second round:", drain(consumers, 8))
    show_owners(consumers)
    for consumer in consumers:
        consumer.close()


if __name__ == "__main__":
    main()
