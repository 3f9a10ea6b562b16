"""Failover: kill a partition's leader while producing; nothing acknowledged is lost.

This example starts its own throwaway cluster (with the ``Cluster`` API, in a temporary
directory) because it kills and restarts one of its brokers:

    python examples/failover.py
"""

from __future__ import annotations

import tempfile
import threading
import time

from zafka import Admin, Cluster, Consumer, Producer, TopicPartition


def main() -> None:
    with tempfile.TemporaryDirectory() as data, Cluster(brokers=3, data_dir=data) as cluster:
        path = str(cluster.client_file_path)  # the application's identity
        with Admin(str(cluster.admin_file_path)) as admin:
            admin.create_topic("payments", partitions=1, replication_factor=3,
                               config={"min.insync.replicas": 2})
            leader = admin.describe_topic("payments").partitions[0].leader
        acknowledged: list[int] = []
        stop = threading.Event()

        def produce() -> None:
            with Producer(path, acks="all") as producer:
                i = 0
                while not stop.is_set():
                    producer.send("payments", str(i).encode()).get(timeout=60)
                    acknowledged.append(i)
                    i += 1

        writer = threading.Thread(target=produce)
        writer.start()
        time.sleep(1.0)
        print(f"{len(acknowledged)} records acknowledged; killing broker-{leader}, the leader")
        killed = time.monotonic()
        before = len(acknowledged)
        cluster.kill(f"broker-{leader}")
        while len(acknowledged) == before:
            time.sleep(0.01)
        print(f"writes resumed {time.monotonic() - killed:.2f} s later on a new leader")
        cluster.restart(f"broker-{leader}")
        time.sleep(1.0)
        stop.set()
        writer.join()
        with Consumer(cluster=path, consumer_timeout_ms=3000) as consumer:
            consumer.assign([TopicPartition("payments", 0)])
            consumer.seek_to_beginning()
            read = [int(r.value) for r in consumer]
        assert read == acknowledged, "every acknowledged record, exactly once, in order"
        print(f"all {len(acknowledged)} acknowledged records read back exactly once, in order")


if __name__ == "__main__":
    main()
