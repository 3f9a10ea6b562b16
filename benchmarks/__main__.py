"""The zafka benchmark harness: ``python -m benchmarks [--quick] [--json FILE]``.

Starts its own clusters in temporary directories and measures, in one run:

- the machine's ceilings: pyzmq throughput between two processes over loopback (batched
  ~100 KB frames) and sequential disk write throughput;
- produce throughput: 100 B and 1 KiB records, ``acks=1`` and ``acks=all``, RF=3 on 3 brokers,
  1 and 6 partitions, 1 and 3 producer processes — records/s, MB/s and the fraction of the
  ceilings;
- consume throughput from the log written: one consumer, and a group of 3 processes;
- end-to-end latency (send to receipt by a consumer) p50 / p99 / p99.9 at a fixed rate with
  ``acks=all``;
- failover, start-up, broker restart with recovery of a large log, RSS and CPU of each process
  idle and under load, and a topic of many partitions (``benchmarks.cluster_bench``).

Prints a table per section and writes everything as JSON.  Figures are medians where runs
repeat; the machine is shared, so compare figures from the same run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from zafka.client import Admin, Consumer, Producer, TopicPartition

from benchmarks import cluster_bench, transport_bench
from zafka.launcher import Cluster


def disk_ceiling_mb_s(directory: Path, total_mb: int) -> float:
    """Sequential write of ``total_mb`` in 1 MiB writes, then one fsync."""
    block = os.urandom(1 << 20)
    path = directory / "ceiling.bin"
    began = time.perf_counter()
    with open(path, "wb") as handle:
        for _ in range(total_mb):
            handle.write(block)
        handle.flush()
        os.fsync(handle.fileno())
    elapsed = time.perf_counter() - began
    path.unlink()
    return total_mb * 1.048576 / elapsed


def network_ceiling_mb_s(quick: bool) -> float:
    row = transport_bench.measure("batched frames", 100_000, 500 if quick else 2_000, 3)
    return float(row["raw_pyzmq"]["mb_per_s"])


# --- produce -----------------------------------------------------------------------------


def produce_worker(cluster_file: str, topic: str, records: int, size: int, acks: Any,
                   results: Any) -> None:
    value = os.urandom(size)
    with Producer(cluster_file, acks=acks, batch_size=256 * 1024, linger_ms=5,
                  buffer_memory=64 << 20) as producer:
        producer.send(topic, value).get(timeout=60)
        began = time.perf_counter()
        for _ in range(records):
            producer.send(topic, value)
        producer.flush()
        results.put((records, time.perf_counter() - began))


def run_processes(target: Any, args: tuple[Any, ...], count: int) -> list[Any]:
    """Run ``target(*args, results)`` in ``count`` processes; what each put on ``results``."""
    results: Any = mp.Queue()
    workers = [mp.Process(target=target, args=(*args, results)) for _ in range(count)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    return outcomes


def produce_run(cluster_file: str, topic: str, records: int, size: int, acks: Any,
                producers: int) -> dict[str, Any]:
    outcomes = run_processes(produce_worker, (cluster_file, topic, records // producers, size,
                                              acks), producers)
    elapsed = max(seconds for _, seconds in outcomes)
    total = sum(count for count, _ in outcomes)
    return {"records": total, "seconds": round(elapsed, 3),
            "records_per_s": round(total / elapsed), "mb_per_s": round(total * size
                                                                      / elapsed / 1e6, 2)}


def produce_matrix(cluster: Cluster, admin: Admin, quick: bool) -> list[dict[str, Any]]:
    rows = []
    records = 60_000 if quick else 300_000
    sizes = (100,) if quick else (100, 1024)
    for size in sizes:
        for acks in (1, "all"):
            for partitions in (1, 6):
                for producers in ((1,) if quick else (1, 3)):
                    topic = f"p-{size}-{acks}-{partitions}-{producers}"
                    admin.create_topic(topic, partitions=partitions, replication_factor=3)
                    count = records if size == 100 else records // 4
                    row = produce_run(str(cluster.cluster_file_path), topic, count, size,
                                      acks, producers)
                    row.update(size=size, acks=acks, partitions=partitions, producers=producers)
                    rows.append(row)
                    print(f"  produce {size} B acks={acks} partitions={partitions} "
                          f"producers={producers}: {row['records_per_s']:,} records/s "
                          f"({row['mb_per_s']} MB/s)", flush=True)
    return rows


# --- consume -----------------------------------------------------------------------------


def consume_worker(cluster_file: str, topic: str, group: str | None, expected: int,
                   results: Any) -> None:
    options: dict[str, Any] = {"auto_offset_reset": "earliest", "max_poll_records": 10_000,
                               "consumer_timeout_ms": 5_000}
    if group:
        options["group_id"] = group
    with Consumer(cluster=cluster_file, **options) as consumer:
        if group:
            consumer.subscribe([topic])
        else:
            consumer.assign([TopicPartition(topic, p)
                             for p in sorted(consumer.partitions_for_topic(topic) or ())])
        count = 0
        first = last = 0.0
        while count < expected:
            records = consumer.poll(timeout_ms=5_000)
            if not records:
                break
            last = time.time()
            first = first or last
            count += len(records)
        results.put((count, first, last))


def consume_runs(cluster: Cluster, topic: str, total: int) -> list[dict[str, Any]]:
    rows = []
    for label, members in (("one consumer", 1), ("group of 3", 3)):
        group = f"bench-{time.time_ns()}" if members > 1 else None
        outcomes = run_processes(consume_worker, (str(cluster.cluster_file_path), topic, group,
                                                  total), members)
        count = sum(c for c, _, _ in outcomes)
        # from the first record any member received to the last: group start-up excluded
        seconds = max(last for _, _, last in outcomes) - min(
            first for _, first, _ in outcomes if first)
        rows.append({"consumers": label, "records": count, "seconds": round(seconds, 3),
                     "records_per_s": round(count / max(seconds, 1e-9))})
        print(f"  consume, {label}: {rows[-1]['records_per_s']:,} records/s", flush=True)
    return rows


# --- end-to-end latency ------------------------------------------------------------------


def end_to_end_latency(cluster: Cluster, admin: Admin, rate: int, seconds: float,
                       ) -> dict[str, Any]:
    admin.create_topic("e2e", partitions=3, replication_factor=3)
    path = str(cluster.cluster_file_path)
    latencies: list[float] = []
    stop = threading.Event()
    with Consumer(cluster=path, auto_offset_reset="latest", fetch_max_wait_ms=100,
                  max_poll_records=10_000) as consumer:
        consumer.assign([TopicPartition("e2e", p) for p in range(3)])
        for p in range(3):
            consumer.position(TopicPartition("e2e", p))

        def read() -> None:
            while not stop.is_set():
                for record in consumer.poll(timeout_ms=100):
                    latencies.append(time.perf_counter() - float(record.value))

        reader = threading.Thread(target=read)
        reader.start()
        with Producer(path, acks="all", linger_ms=1) as producer:
            total = int(rate * seconds)
            began = time.perf_counter()
            for i in range(total):
                due = began + i / rate
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                producer.send("e2e", repr(time.perf_counter()).encode())
            producer.flush()
        time.sleep(1.0)
        stop.set()
        reader.join()
    ordered = sorted(latencies)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {"rate": rate, "records": len(ordered), "p50_ms": at(0.5), "p99_ms": at(0.99),
            "p999_ms": at(0.999), "max_ms": round(ordered[-1] * 1000, 2) if ordered else None}


# --- restart and recovery ----------------------------------------------------------------


def restart_recovery(quick: bool) -> dict[str, Any]:
    """Write a large log, SIGKILL its leader broker, time restart and return to the ISR."""
    target_mb = 64 if quick else 1024
    with tempfile.TemporaryDirectory() as data, Cluster(brokers=3, data_dir=data) as cluster:
        path = str(cluster.cluster_file_path)
        with Admin(path) as admin:
            admin.create_topic("big", partitions=1, replication_factor=3,
                               config={"segment.bytes": 128 << 20})
            value = os.urandom(1024)
            with Producer(path, acks=1, batch_size=1 << 20, linger_ms=5) as producer:
                for _ in range(target_mb * 1024):
                    producer.send("big", value)
                producer.flush()
            leader = admin.describe_topic("big").partitions[0].leader
            name = f"broker-{leader}"
            cluster.kill(name)
            began = time.perf_counter()
            cluster.restart(name)
            serving = time.perf_counter() - began
            while leader not in admin.describe_topic("big").partitions[0].isr:
                time.sleep(0.05)
            in_isr = time.perf_counter() - began
    return {"log_mb": target_mb, "restart_to_serving_s": round(serving, 2),
            "restart_to_isr_s": round(in_isr, 2)}


# --- the run -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (a few minutes)")
    parser.add_argument("--json", default="benchmarks/results/latest.json")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"quick": args.quick, "cpus": os.cpu_count()}
    print("== ceilings", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        report["ceilings"] = {"disk_write_mb_s": round(disk_ceiling_mb_s(
            Path(scratch), 256 if args.quick else 1024), 1),
            "pyzmq_loopback_mb_s": round(network_ceiling_mb_s(args.quick), 1)}
    print(f"  disk {report['ceilings']['disk_write_mb_s']} MB/s, pyzmq loopback "
          f"{report['ceilings']['pyzmq_loopback_mb_s']} MB/s", flush=True)
    with tempfile.TemporaryDirectory() as data, Cluster(brokers=3, data_dir=data) as cluster, \
            Admin(str(cluster.cluster_file_path)) as admin:
        print("== idle processes", flush=True)
        report["idle"] = cluster_bench.process_costs(cluster, 3.0)
        print("== produce", flush=True)
        load: dict[str, Any] = {}
        sampler = threading.Thread(target=lambda: load.update(
            cluster_bench.process_costs(cluster, 5.0)))
        sampler.start()
        report["produce"] = produce_matrix(cluster, admin, args.quick)
        sampler.join()
        report["under_load"] = load
        ceiling = min(report["ceilings"].values())
        for row in report["produce"]:
            row["fraction_of_ceiling"] = round(row["mb_per_s"] / ceiling, 4)
        print("== consume", flush=True)
        biggest = max((r for r in report["produce"] if r["size"] == 100),
                      key=lambda r: (r["partitions"], r["records"]))
        topic = (f"p-{biggest['size']}-{biggest['acks']}-{biggest['partitions']}-"
                 f"{biggest['producers']}")
        report["consume"] = consume_runs(cluster, topic, biggest["records"])
        print("== end-to-end latency", flush=True)
        report["latency"] = end_to_end_latency(cluster, admin, 2_000 if args.quick else 10_000,
                                               5.0 if args.quick else 15.0)
        print(f"  {report['latency']}", flush=True)
    print("== start-up, failover, scale", flush=True)
    report["startup"] = cluster_bench.measure_startup(3 if args.quick else 5)
    report["failover"] = cluster_bench.measure_failover(3 if args.quick else 5)
    report["scale"] = cluster_bench.measure_scale(200 if args.quick else 1000)
    print("== restart and recovery", flush=True)
    report["restart"] = restart_recovery(args.quick)
    print_summary(report)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    print(f"\nwritten to {args.json}")
    return report


def print_summary(report: dict[str, Any]) -> None:
    print("\n== summary")
    best = max(report["produce"], key=lambda r: r["records_per_s"] if r["size"] == 100 else 0)
    rows = [
        ("produce 100 B, best", f"{best['records_per_s']:,} records/s "
                                f"(acks={best['acks']}, {best['partitions']} partitions, "
                                f"{best['producers']} producers)"),
        ("consume, one consumer", f"{report['consume'][0]['records_per_s']:,} records/s"),
        ("consume, group of 3", f"{report['consume'][1]['records_per_s']:,} records/s"),
        ("end-to-end p50 / p99 / p99.9", f"{report['latency']['p50_ms']} / "
                                         f"{report['latency']['p99_ms']} / "
                                         f"{report['latency']['p999_ms']} ms at "
                                         f"{report['latency']['rate']} records/s"),
        ("failover (median)", f"{report['failover']['median_s']:.2f} s"),
        ("start-up to serving (median)", f"{report['startup']['median_s']:.2f} s"),
        ("restart with a log of", f"{report['restart']['log_mb']} MB: serving in "
                                  f"{report['restart']['restart_to_serving_s']} s, in ISR in "
                                  f"{report['restart']['restart_to_isr_s']} s"),
        (f"{report['scale']['partitions']} partitions", f"led in "
         f"{report['scale']['create_until_led_s']:.1f} s; re-elected in "
         f"{report['scale']['reelect_after_kill_s']:.2f} s"),
        (f"produce to {report['scale']['partitions']} / 6 partitions", " / ".join(
            f"{rate:,}" for rate in reversed(report['scale']['produce_records_per_s'].values()))
         + " records/s (acks=all, 100 B)"),
        ("idle broker CPU with those partitions", ", ".join(
            f"{cost['cpu_cores']:.2f}" for name, cost in
            report['scale']['idle_with_partitions'].items() if name.startswith("broker"))
         + " cores"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
