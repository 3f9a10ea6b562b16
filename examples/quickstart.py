"""Quickstart: create a topic, produce a few records, consume them back.

Run a cluster first (``python cluster.py --brokers 3``), then, from the repository root:

    python examples/quickstart.py

The client file is found at ./data/client.json, or wherever $ZAFKA_CLUSTER points.
"""

from __future__ import annotations

from zafka.core.errors import TopicAlreadyExists

from zafka import Admin, Consumer, Producer, TopicPartition

TOPIC = "quickstart"


def main() -> None:
    with Admin() as admin:
        try:
            admin.create_topic(TOPIC, partitions=3, replication_factor=3)
        except TopicAlreadyExists:
            pass

    with Producer(value_serializer="json", key_serializer="str") as producer:
        for i, user in enumerate(["alice", "bob", "carol", "dave"]):
            metadata = producer.send(TOPIC, {"order": i, "user": user}, key=user).get(timeout=30)
            print(f"sent order {i} for {user} -> partition {metadata.partition}, "
                  f"offset {metadata.offset}")

    with Consumer(value_deserializer="json", key_deserializer="str",
                  auto_offset_reset="earliest", consumer_timeout_ms=3000) as consumer:
        consumer.assign([TopicPartition(TOPIC, p) for p in range(3)])
        for record in consumer:
            print(f"read {record.key}: {record.value} "
                  f"(partition {record.partition}, offset {record.offset})")


if __name__ == "__main__":
    main()
