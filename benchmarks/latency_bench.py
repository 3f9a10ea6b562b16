"""Write-path latency with the producer and the consumer in separate processes.

``python -m benchmarks.latency_bench [--quick] [--rates 200,2000,10000] [--json FILE]``

Starts a cluster of 3 coordinators and 3 brokers, one topic of one partition (RF=3) per run,
one consumer process reading from the end and one producer process sending at a fixed rate
(100 B values carrying their send time).  For ``acks=1`` and ``acks=all`` at each rate it
reports the acknowledgement latency (send to the future's completion, in the producer) and
the end-to-end latency (send to receipt by the consumer's ``poll``): p50 / p99 / p99.9 /
max; and the actor messages per acknowledged write at the leader broker (one write at a
time).  Both processes read ``time.perf_counter`` (CLOCK_MONOTONIC, shared by the processes of
one machine).  Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from zafka.client import Admin, Consumer, Producer, TopicPartition

from zafka.launcher import Cluster

VALUE_BYTES = 100


def percentiles(samples: list[float]) -> dict[str, float | None]:
    """p50 / p99 / p99.9 / max of ``samples`` (seconds) in milliseconds."""
    ordered = sorted(samples)
    if not ordered:
        return {"p50_ms": None, "p99_ms": None, "p999_ms": None, "max_ms": None}

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {"p50_ms": at(0.5), "p99_ms": at(0.99), "p999_ms": at(0.999),
            "max_ms": round(ordered[-1] * 1000, 2)}


def consumer_process(cluster_file: str, topic: str, expected: int, ready: Any,
                     results: Any) -> None:
    latencies: list[float] = []
    with Consumer(cluster=cluster_file, auto_offset_reset="latest", fetch_max_wait_ms=500,
                  max_poll_records=10_000) as consumer:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.position(partition)
        ready.put(True)
        idle_since = time.perf_counter()
        while len(latencies) < expected and time.perf_counter() - idle_since < 10.0:
            records = consumer.poll(timeout_ms=200)
            now = time.perf_counter()
            if records:
                idle_since = now
            for record in records:
                if record.value.startswith(b"warm-up"):
                    continue
                latencies.append(now - float(record.value[:24]))
    results.put(("e2e", latencies))


def producer_process(cluster_file: str, topic: str, acks: Any, rate: int, seconds: float,
                     linger_ms: int, results: Any) -> None:
    acked: list[float] = []
    padding = b" " * VALUE_BYTES
    in_flight = int(os.environ.get("LATENCY_BENCH_IN_FLIGHT", "5"))
    with Producer(cluster_file, acks=acks, linger_ms=linger_ms,
                  max_in_flight_requests_per_connection=in_flight) as producer:
        producer.send(topic, b"warm-up".ljust(VALUE_BYTES)).get(timeout=30)
        total = int(rate * seconds)
        began = time.perf_counter()
        for i in range(total):
            due = began + i / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            sent = time.perf_counter()
            value = (repr(sent).encode().ljust(24) + padding)[:VALUE_BYTES]
            producer.send(topic, value).add_callback(
                lambda _metadata, sent=sent: acked.append(time.perf_counter() - sent))
        producer.flush()
        elapsed = time.perf_counter() - began
    results.put(("ack", acked, elapsed))


def measure(cluster: Cluster, admin: Admin, acks: Any, rate: int, seconds: float,
            linger_ms: int) -> dict[str, Any]:
    topic = f"lat-{acks}-{rate}-{linger_ms}-{time.time_ns()}"
    admin.create_topic(topic, partitions=1, replication_factor=3)
    path = str(cluster.cluster_file_path)
    ready: Any = mp.Queue()
    results: Any = mp.Queue()
    expected = int(rate * seconds)
    reader = mp.Process(target=consumer_process, args=(path, topic, expected, ready, results))
    reader.start()
    ready.get(timeout=60)
    writer = mp.Process(target=producer_process,
                        args=(path, topic, acks, rate, seconds, linger_ms, results))
    writer.start()
    outcome: dict[str, Any] = {}
    for _ in range(2):
        item = results.get(timeout=seconds + 120)
        outcome[item[0]] = item[1:]
    writer.join()
    reader.join()
    acked, elapsed = outcome["ack"]
    received = outcome["e2e"][0]
    return {"acks": acks, "rate": rate, "linger_ms": linger_ms, "records": expected,
            "achieved_rate": round(expected / elapsed), "acked": len(acked),
            "received": len(received), "ack": percentiles(acked),
            "e2e": percentiles(received)}


def messages_per_write(cluster: Cluster, admin: Admin, acks: Any, writes: int = 200,
                       ) -> dict[str, Any]:
    """Actor messages per acknowledged write, one write at a time (each waits for its ack):
    the envelopes the leader broker's process handed to its actors, and the followers'."""
    topic = f"msgs-{acks}-{time.time_ns()}"
    admin.create_topic(topic, partitions=1, replication_factor=3)
    leader = admin.describe_topic(topic).partitions[0].leader
    names = [f"broker-{b}" for b in sorted(admin.describe_topic(topic).partitions[0].replicas)]

    def delivered() -> dict[str, int]:
        return {name: cluster.status_of(cluster.node(name)).delivered for name in names}

    with Producer(str(cluster.cluster_file_path), acks=acks, linger_ms=0) as producer:
        for _ in range(20):  # warm: metadata, producer id, fetch sessions
            producer.send(topic, b"w").get(timeout=30)
        before = delivered()
        for _ in range(writes):
            producer.send(topic, b"x" * VALUE_BYTES).get(timeout=30)
        after = delivered()
    per_write = {name: round((after[name] - before[name] - 1) / writes, 2) for name in names}
    return {"acks": acks, "writes": writes, "leader": f"broker-{leader}",
            "leader_messages_per_write": per_write[f"broker-{leader}"],
            "messages_per_write": per_write}


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"\n{'rate/s':>7} {'acks':>4} {'linger':>6} | {'ack p50':>7} {'p99':>6} "
          f"{'p99.9':>6} {'max':>6} | {'e2e p50':>7} {'p99':>6} {'p99.9':>6} {'max':>6}")
    for row in rows:
        ack, e2e = row["ack"], row["e2e"]
        print(f"{row['rate']:>7} {row['acks']!s:>4} {row['linger_ms']:>6} | "
              f"{ack['p50_ms']!s:>7} {ack['p99_ms']!s:>6} {ack['p999_ms']!s:>6} "
              f"{ack['max_ms']!s:>6} | {e2e['p50_ms']!s:>7} {e2e['p99_ms']!s:>6} "
              f"{e2e['p999_ms']!s:>6} {e2e['max_ms']!s:>6}")
    print("(milliseconds; producer and consumer in separate processes, RF=3, 3 brokers)")


def run(rates: list[int], seconds: float, linger_ms: int,
        ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows = []
    with tempfile.TemporaryDirectory() as data, Cluster(brokers=3, data_dir=data) as cluster, \
            Admin(str(cluster.cluster_file_path)) as admin:
        counts = [messages_per_write(cluster, admin, acks) for acks in (1, "all")]
        for count in counts:
            print(f"  acks={count['acks']}: {count['leader_messages_per_write']} actor messages "
                  f"per write at the leader ({count['messages_per_write']})", flush=True)
        for rate in rates:
            for acks in (1, "all"):
                row = measure(cluster, admin, acks, rate, seconds, linger_ms)
                rows.append(row)
                print(f"  {rate}/s acks={acks}: ack {row['ack']} e2e {row['e2e']}",
                      flush=True)
    return rows, counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.latency_bench")
    parser.add_argument("--quick", action="store_true", help="5 s per run instead of 15 s")
    parser.add_argument("--rates", default="200,2000,10000")
    parser.add_argument("--linger-ms", type=int, default=1)
    parser.add_argument("--json", default="benchmarks/results/latency.json")
    args = parser.parse_args(argv)
    rates = [int(rate) for rate in args.rates.split(",")]
    rows, counts = run(rates, 5.0 if args.quick else 15.0, args.linger_ms)
    print_table(rows)
    for count in counts:
        print(f"acks={count['acks']}: {count['leader_messages_per_write']} actor messages per "
              f"acknowledged write at the leader broker")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"cpus": os.cpu_count(), "rows": rows,
                                           "messages": counts}, indent=2))
    print(f"written to {args.json}")


if __name__ == "__main__":
    main()
