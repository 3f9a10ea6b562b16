"""Kafka-client throughput: confluent-kafka (librdkafka) through the Kafka listeners, beside
zafka's own client, in one run against one cluster.

Starts its own cluster (3 coordinators, 3 brokers, SASL SCRAM on the listeners as by
default) in a temporary directory.  For each client, in its own process:

- produce ``--records`` values of 100 B with ``acks=all`` to a topic of ``--partitions``
  partitions, replication factor 3; records/s from the first send to the last
  acknowledgement (flush);
- consume them back from offset 0 with one consumer assigned every partition; records/s from
  the first poll to the last record.

Each measurement runs ``--repeat`` times (fresh topic each time) and the median is reported.
Beside every figure: CPU seconds the three brokers and the client process spent, per million
records, which tells what bounds a run (a broker core near 1 s/s is the broker's Python).

Run: ``python -m benchmarks.kafka_bench [--quick] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from zafka.cli.common import format_table
from zafka.client import Admin, Consumer, Producer, TopicPartition

from zafka.launcher import Cluster

VALUE_BYTES = 100
# librdkafka's default linger (5 ms), a throughput setting (20 ms: bigger batches, fewer
# requests for the brokers to handle), and zafka's own client at its usual 5 ms
CLIENTS = [("librdkafka", 5), ("librdkafka", 20), ("zafka", 5)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / 100.0


# --- the workers: each in its own process, each puts (records, seconds, client cpu) --------


def confluent_produce(config: dict[str, str], topic: str, records: int, linger_ms: int,
                      results: Any) -> None:
    from confluent_kafka import Producer as KafkaProducer

    producer = KafkaProducer({**config, "acks": "all", "enable.idempotence": True,
                              "linger.ms": linger_ms, "batch.size": 1_000_000,
                              "queue.buffering.max.messages": 2_000_000,
                              "queue.buffering.max.kbytes": 1_048_576})
    value = b"v" * VALUE_BYTES
    producer.produce(topic, value)
    producer.flush(30)
    produce, poll = producer.produce, producer.poll
    cpu = time.process_time()
    began = time.perf_counter()
    for i in range(records):
        try:
            produce(topic, value)
        except BufferError:
            poll(0.005)
            produce(topic, value)
        if i & 0xFFFF == 0:
            poll(0)
    assert producer.flush(120) == 0
    results.put((records, time.perf_counter() - began, time.process_time() - cpu))


def confluent_consume(config: dict[str, str], topic: str, partitions: int, expected: int,
                      results: Any) -> None:
    from confluent_kafka import Consumer as KafkaConsumer
    from confluent_kafka import TopicPartition as KafkaPartition

    consumer = KafkaConsumer({**config, "group.id": f"bench-{topic}",
                              "enable.auto.commit": False, "fetch.max.bytes": 52_428_800,
                              "max.partition.fetch.bytes": 10_485_760,
                              # keep fetching while the application drains the queue
                              # (librdkafka otherwise pauses 1 s once 100,000 wait)
                              "queued.min.messages": 1_000_000,
                              "queued.max.messages.kbytes": 1_048_576,
                              "fetch.queue.backoff.ms": 1})
    consumer.assign([KafkaPartition(topic, p, 0) for p in range(partitions)])
    count = 0
    began = cpu = 0.0
    while count < expected:
        # consume(n) waits for n messages (or the timeout): never ask for more than remain
        messages = consumer.consume(min(10_000, expected - count), 1.0)
        if messages and not count:
            began, cpu = time.perf_counter(), time.process_time()
        count += sum(1 for m in messages if m.error() is None)
    results.put((count, time.perf_counter() - began, time.process_time() - cpu))
    consumer.close()


def zafka_produce(cluster_file: str, topic: str, records: int, results: Any) -> None:
    value = b"v" * VALUE_BYTES
    with Producer(cluster_file, acks="all", batch_size=262_144, linger_ms=CLIENTS[-1][1],
                  buffer_memory=64 << 20) as producer:
        producer.send(topic, value).get(timeout=30)
        send = producer.send
        cpu = time.process_time()
        began = time.perf_counter()
        for _ in range(records):
            send(topic, value)
        producer.flush()
        results.put((records, time.perf_counter() - began, time.process_time() - cpu))


def zafka_consume(cluster_file: str, topic: str, partitions: int, expected: int,
                  results: Any) -> None:
    with Consumer(cluster=cluster_file, auto_offset_reset="earliest",
                  max_poll_records=100_000) as consumer:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        count = 0
        began = cpu = 0.0
        while count < expected:
            polled = consumer.poll(timeout_ms=1_000)
            got = len(polled)
            if got and not count:
                began, cpu = time.perf_counter(), time.process_time()
            count += got
        results.put((count, time.perf_counter() - began, time.process_time() - cpu))


# --- the harness ---------------------------------------------------------------------------


def in_process(target: Any, args: tuple[Any, ...]) -> tuple[int, float, float]:
    results: Any = mp.Queue()
    worker = mp.Process(target=target, args=(*args, results))
    worker.start()
    try:
        outcome: tuple[int, float, float] = results.get(timeout=600)
    finally:
        worker.join(30)
        if worker.is_alive():
            worker.kill()
    return outcome


def measure(cluster: Cluster, target: Any, args: tuple[Any, ...]) -> dict[str, float]:
    brokers = [n.process.pid for n in cluster.nodes
               if n.name.startswith("broker") and n.process is not None]
    before = [cpu_seconds(pid) for pid in brokers]
    records, seconds, client_cpu = in_process(target, args)
    broker_cpu = sum(cpu_seconds(pid) for pid in brokers) - sum(before)
    per_million = 1e6 / max(records, 1)
    return {"records": records, "seconds": round(seconds, 3),
            "records_per_s": round(records / seconds),
            "mb_per_s": round(records * VALUE_BYTES / seconds / 1e6, 1),
            "broker_cpu_s_per_m": round(broker_cpu * per_million, 2),
            "client_cpu_s_per_m": round(client_cpu * per_million, 2)}


def median_row(label: str, runs: list[dict[str, float]]) -> dict[str, Any]:
    middle = sorted(runs, key=lambda r: r["records_per_s"])[len(runs) // 2]
    return {"run": label, **middle, "runs": [r["records_per_s"] for r in runs],
            "median_records_per_s": statistics.median(r["records_per_s"] for r in runs)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer records, one repeat")
    parser.add_argument("--records", type=int, default=None)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--json", default="kafka_bench.json", help="where to write results")
    args = parser.parse_args(argv)
    records = args.records or (200_000 if args.quick else 1_000_000)
    repeat = args.repeat or (1 if args.quick else 3)
    rows = []
    with tempfile.TemporaryDirectory() as data_dir, \
            Cluster(brokers=3, coordinators=3, data_dir=data_dir) as cluster, \
            Admin(str(cluster.cluster_file_path)) as admin:
        config = cluster.kafka_config()
        cluster_file = str(cluster.cluster_file_path)
        runs: dict[str, list[dict[str, float]]] = {}
        for number in range(repeat):
            for client, linger_ms in CLIENTS:
                label = f"{client} linger.ms={linger_ms}"
                topic = f"{client}-{linger_ms}-{number}"
                admin.create_topic(topic, args.partitions, 3)
                if client == "librdkafka":
                    produced = measure(cluster, confluent_produce,
                                       (config, topic, records, linger_ms))
                    consumed = measure(cluster, confluent_consume,
                                       (config, topic, args.partitions, records + 1))
                else:
                    produced = measure(cluster, zafka_produce, (cluster_file, topic, records))
                    consumed = measure(cluster, zafka_consume,
                                       (cluster_file, topic, args.partitions, records + 1))
                runs.setdefault(f"{label} produce", []).append(produced)
                runs.setdefault(f"{label} consume", []).append(consumed)
                print(f"  {label} run {number + 1}: produce {produced['records_per_s']:,} "
                      f"records/s, consume {consumed['records_per_s']:,} records/s", flush=True)
        rows = [median_row(label, label_runs) for label, label_runs in runs.items()]
    print(f"{VALUE_BYTES}-byte values, acks=all, 3 brokers, {args.partitions} partitions, "
          f"replication factor 3, median of {repeat}")
    columns = ["run", "records", "records_per_s", "mb_per_s", "broker_cpu_s_per_m",
               "client_cpu_s_per_m", "runs"]
    print(format_table(rows, columns))
    Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
