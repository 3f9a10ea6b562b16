"""The actor-level API: your own pykka actor talks to the producer and consumer actors
with messages and never blocks.

``producer.actor_ref`` accepts ``SendRecords`` and answers ``RecordsSent`` to the ``reply_to``
you give it.  The cluster's own actors are reachable too: ``RemoteRef(postbox, address,
"broker")`` (see ``cluster.Cluster.ref``) sends catalogue messages to any node.

    python examples/actors.py
"""

from __future__ import annotations

import threading
from typing import Any

import pykka
from zafka.client import Admin, Producer, ProducerRecord, RecordsSent, SendRecords
from zafka.core.messages import StatusRequest
from zafka.transport.cluster_file import ClusterFile
from zafka.transport.remote import Postbox, RemoteRef

TOPIC = "actor-demo"


class OrderTaker(pykka.ThreadingActor):
    """Receives orders, hands them to the producer actor, and reports the offsets."""

    def __init__(self, producer_ref: Any, done: threading.Event) -> None:
        super().__init__()
        self.producer_ref = producer_ref
        self.done = done

    def on_receive(self, message: Any) -> None:
        if isinstance(message, list):  # a batch of orders from the outside world
            records = tuple(ProducerRecord(topic=TOPIC, value=o.encode()) for o in message)
            self.producer_ref.tell(SendRecords(records=records, reply_to=self.actor_ref))
        elif isinstance(message, RecordsSent):  # the producer's answer, as a message
            for result in message.results:
                print(f"acknowledged at partition {result.partition}, offset {result.offset}")
            self.done.set()


def main() -> None:
    with Admin() as admin:
        if TOPIC not in admin.list_topics():
            admin.create_topic(TOPIC, partitions=2, replication_factor=3)
    with Producer() as producer:
        done = threading.Event()
        taker = OrderTaker.start(producer.actor_ref, done)
        taker.tell(["espresso", "croissant", "orange juice"])
        done.wait(30)
        taker.stop()

    config = ClusterFile.load(None)
    postbox = Postbox(credentials=config.credentials).start()
    try:
        broker = RemoteRef(postbox, config.brokers[0].address, "broker")
        status = broker.ask(StatusRequest(), timeout=5).result()
        print(f"broker {status.node_id} hosts {status.broker.replicas} replicas")
    finally:
        postbox.stop()


if __name__ == "__main__":
    main()
