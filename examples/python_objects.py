"""Any Python object as a record: dataclasses and functions travel through cloudpickle.

Unpickling runs code chosen by whoever produced the record, so the consumer must opt in
with ``value_deserializer="pickle"``: do it only for topics whose producers you trust.

    python examples/python_objects.py
"""

from __future__ import annotations

import dataclasses

from zafka import Admin, Consumer, Producer, TopicPartition

TOPIC = "python-objects"


@dataclasses.dataclass
class Order:
    id: int
    items: list[str]
    total: float


def main() -> None:
    with Admin() as admin:
        if TOPIC not in admin.list_topics():
            admin.create_topic(TOPIC, partitions=1, replication_factor=3)
    discount = 0.9
    with Producer(value_serializer="pickle") as producer:
        start = producer.send(TOPIC, Order(1, ["book", "pen"], 12.5)).get(timeout=30).offset
        producer.send(TOPIC, lambda total: round(total * discount, 2)).get(timeout=30)
    with Consumer(value_deserializer="pickle", consumer_timeout_ms=3000) as consumer:
        consumer.assign([TopicPartition(TOPIC, 0)])
        consumer.seek(TopicPartition(TOPIC, 0), start)
        order, price_rule = [r.value for r in consumer][:2]
    print(f"received {order!r}")
    print(f"the received function prices it at {price_rule(order.total)}")


if __name__ == "__main__":
    main()
