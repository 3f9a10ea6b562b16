"""Cluster-level figures: start-up, failover, idle cost, and scale with partitions.

``python -m benchmarks.cluster_bench [--quick] [--json FILE]``

- start-up: from launching ``Cluster(brokers=3)`` to every broker serving (median of runs);
- failover: from SIGKILL of a partition leader to the next acknowledged ``acks=all`` write
  of a producer that keeps sending (median of runs);
- idle cost: RSS of every process and CPU seconds per second over an idle interval;
- scale: a topic of many partitions (1,000 in full mode), RF=3 on 3 brokers — time to create
  it until every partition has a leader (and until the metadata is quiet), idle CPU and RSS
  per broker,
  ``acks=all`` produce throughput of 100-byte records to it beside a 6-partition topic of the
  same cluster, and the time until every partition led by a killed broker has a new leader.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from zafka.client import Admin, Producer

from zafka.launcher import Cluster

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def process_costs(cluster: Cluster, seconds: float) -> dict[str, dict[str, float]]:
    """RSS (MB) and CPU use (fraction of one core) of each node over ``seconds``."""
    pids = {n.name: n.pid for n in cluster.nodes if n.running() and n.pid}
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    time.sleep(seconds)
    return {name: {"rss_mb": round(rss_mb(pid), 1),
                   "cpu_cores": round((cpu_seconds(pid) - before[name]) / seconds, 3)}
            for name, pid in pids.items()}


def measure_startup(runs: int) -> dict[str, Any]:
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            began = time.perf_counter()
            cluster = Cluster(brokers=3, coordinators=3, data_dir=tmp)
            try:
                cluster.start()
                times.append(time.perf_counter() - began)
            finally:
                cluster.stop()
    return {"runs": runs, "median_s": statistics.median(times), "all_s": times}


def keep_sending(producer: Producer, stop: threading.Event, acked: list[float]) -> None:
    """Send one record at a time until stopped, noting when each was acknowledged."""
    while not stop.is_set():
        producer.send("failover", b"x").get(timeout=60)
        acked.append(time.perf_counter())


def measure_failover(runs: int) -> dict[str, Any]:
    results = []
    with tempfile.TemporaryDirectory() as tmp, Cluster(brokers=3, data_dir=tmp) as cluster:
        admin = Admin(str(cluster.cluster_file_path))
        admin.create_topic("failover", partitions=1, replication_factor=3,
                           config={"min.insync.replicas": 2})
        producer = Producer(str(cluster.cluster_file_path), acks="all", linger_ms=0,
                            request_timeout_ms=5000)
        try:
            for run in range(runs):
                producer.send("failover", b"warm-up").get(timeout=30)
                leader = admin.describe_topic("failover").partitions[0].leader
                acked: list[float] = []
                stop = threading.Event()

                sender = threading.Thread(target=keep_sending, args=(producer, stop, acked))
                sender.start()
                time.sleep(0.5)
                killed_at = time.perf_counter()
                cluster.kill(f"broker-{leader}")
                deadline = time.monotonic() + 30
                while not any(t > killed_at + 0.05 for t in acked) \
                        and time.monotonic() < deadline:
                    time.sleep(0.005)
                after = [t for t in acked if t > killed_at + 0.05]
                results.append(after[0] - killed_at if after else float("nan"))
                stop.set()
                sender.join()
                cluster.restart(f"broker-{leader}")
                print(f"  failover run {run + 1}: {results[-1]:.3f} s")
        finally:
            producer.close()
            admin.close()
    return {"runs": runs, "median_s": statistics.median(results), "all_s": results}


def wait_settled(cluster: Cluster, admin: Admin, topic: str) -> float:
    """Wait until every replica runs, the ISR is full and no metadata changed for 3 s;
    return when that began."""
    from zafka.core.messages import StatusRequest

    last: tuple[int, ...] = ()
    since = time.perf_counter()
    while True:
        brokers = [cluster.ref(n.name, "broker").ask(StatusRequest(), 10).result().broker
                   for n in cluster.brokers]
        offsets = tuple(b.metadata_offset for b in brokers if b is not None)
        busy = any(b is None or b.replicas_starting for b in brokers) or any(
            len(p.isr) < len(p.replicas) for p in admin.describe_topic(topic).partitions)
        if busy or offsets != last:
            last, since = offsets, time.perf_counter()
        elif time.perf_counter() - since >= 3.0:
            return since
        time.sleep(0.2)


def measure_scale(partitions: int, produce_records: int = 200_000) -> dict[str, Any]:
    from benchmarks.produce_bench import run_once

    with tempfile.TemporaryDirectory() as tmp, Cluster(brokers=3, data_dir=tmp) as cluster:
        admin = Admin(str(cluster.cluster_file_path), request_timeout_ms=120_000)
        try:
            idle_before = process_costs(cluster, 3.0)
            began = time.perf_counter()
            admin.create_topic("wide", partitions=partitions, replication_factor=3)
            while any(p.leader < 0 or p.high_watermark < 0
                      for p in admin.describe_topic("wide").partitions):
                time.sleep(0.1)
            create_s = time.perf_counter() - began
            settled_s = wait_settled(cluster, admin, "wide") - began
            idle_after = process_costs(cluster, 10.0)
            admin.create_topic("narrow", partitions=6, replication_factor=3)
            options = {"acks": "all", "linger_ms": 5, "batch_size": 256 * 1024}
            produce = {name: run_once(cluster.cluster_file_path, name, produce_records,
                                      options)["records_per_s"]
                       for name in ("narrow", "wide")}
            victim = "broker-1"
            led = [p.partition for p in admin.describe_topic("wide").partitions if p.leader == 1]
            killed_at = time.perf_counter()
            cluster.kill(victim)
            while True:
                info = admin.describe_topic("wide").partitions
                if all(info[p].leader not in (-1, 1) for p in led):
                    break
                time.sleep(0.05)
            reelect_s = time.perf_counter() - killed_at
        finally:
            admin.close()
    return {"partitions": partitions, "create_until_led_s": create_s,
            "create_until_settled_s": settled_s,
            "produce_records_per_s": {"6_partitions": produce["narrow"],
                                      f"{partitions}_partitions": produce["wide"]},
            "reelect_after_kill_s": reelect_s, "partitions_moved": len(led),
            "idle_empty_cluster": idle_before, "idle_with_partitions": idle_after}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    report: dict[str, Any] = {}
    report["startup"] = measure_startup(3 if args.quick else 5)
    print(f"start-up to serving: median {report['startup']['median_s']:.2f} s")
    report["failover"] = measure_failover(3 if args.quick else 5)
    print(f"failover to next acked write: median {report['failover']['median_s']:.2f} s")
    report["scale"] = measure_scale(200 if args.quick else 1000)
    scale = report["scale"]
    print(f"{scale['partitions']} partitions RF=3: created and led in "
          f"{scale['create_until_led_s']:.1f} s (settled {scale['create_until_settled_s']:.1f}"
          f" s); {scale['partitions_moved']} re-elected "
          f"{scale['reelect_after_kill_s']:.2f} s after their leader was killed")
    for name, rate in scale["produce_records_per_s"].items():
        print(f"  produce acks=all, 100 B records, {name.replace('_', ' ')}: {rate:,} rec/s")
    for name, cost in scale["idle_with_partitions"].items():
        print(f"  idle {name}: {cost['rss_mb']:.0f} MB RSS, {cost['cpu_cores']:.3f} cores")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
