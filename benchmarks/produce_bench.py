"""Producer throughput: records/s and MB/s from one producer to a real local cluster.

Starts its own cluster (3 coordinators, 3 brokers by default) in a temporary directory,
creates a topic with replication factor 3, and sends fixed-size values with one
``Producer`` for each configuration (acks, batch_size, linger_ms, compression).  A run sends
``--records`` records as fast as ``send`` accepts them, then flushes; the figure is records
acknowledged per second of wall-clock time, first send to last acknowledgement;
``client_cpu_us_per_record`` is the producer process's CPU time (all its threads) per record,
which tells a client-bound run from a cluster-bound one.

Run: ``python -m benchmarks.produce_bench [--quick] [--json FILE] [--profile]``.
``--profile`` runs the first configuration under cProfile and prints the top functions of
the sending thread (the I/O actor runs on another thread and is not in that profile).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

from zafka.client.admin import Admin
from zafka.client.producer import Producer

from zafka.launcher import Cluster

VALUE_BYTES = 100

CONFIGS: list[dict[str, Any]] = [
    {"acks": "all", "batch_size": 262_144, "linger_ms": 5},
    {"acks": "all", "batch_size": 16_384, "linger_ms": 0},
    {"acks": 1, "batch_size": 262_144, "linger_ms": 5},
    {"acks": 0, "batch_size": 262_144, "linger_ms": 5},
    {"acks": "all", "batch_size": 262_144, "linger_ms": 5, "compression_type": "gzip"},
]


def run_once(cluster_file: Path, topic: str, records: int, options: dict[str, Any],
             profile: cProfile.Profile | None = None) -> dict[str, Any]:
    value = b"v" * VALUE_BYTES
    with Producer(str(cluster_file), buffer_memory=64 << 20, **options) as producer:
        producer.send(topic, value).get(timeout=30)  # metadata and producer id in place
        send = producer.send
        if profile is not None:
            profile.enable()
        cpu_started = time.process_time()
        started = time.perf_counter()
        for _ in range(records):
            send(topic, value)
        sent = time.perf_counter()
        producer.flush()
        finished = time.perf_counter()
        cpu = time.process_time() - cpu_started
        if profile is not None:
            profile.disable()
        stats = producer.stats()
    elapsed = finished - started
    return {**options, "records": records, "seconds": round(elapsed, 3),
            "records_per_s": round(records / elapsed),
            "mb_per_s": round(records * VALUE_BYTES / elapsed / 1e6, 2),
            "send_records_per_s": round(records / (sent - started)),
            "client_cpu_us_per_record": round(cpu / records * 1e6, 1),
            "requests": stats.requests, "batches": stats.batches,
            "records_per_batch": round(stats.records / max(1, stats.batches))}


def format_table(rows: list[dict[str, Any]]) -> str:
    columns = ["acks", "batch_size", "linger_ms", "compression_type", "records",
               "records_per_s", "mb_per_s", "send_records_per_s", "client_cpu_us_per_record",
               "requests",
               "records_per_batch"]
    lines = ["  ".join(f"{c:>18}" for c in columns)]
    for row in rows:
        lines.append("  ".join(f"{str(row.get(c, '-')):>18}" for c in columns))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer records, two configs")
    parser.add_argument("--records", type=int, default=None)
    parser.add_argument("--brokers", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--json", default="produce_bench.json", help="where to write results")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    records = args.records or (50_000 if args.quick else 300_000)
    configs = CONFIGS[:2] if args.quick else CONFIGS
    rows = []
    with tempfile.TemporaryDirectory() as data_dir, \
            Cluster(brokers=args.brokers, coordinators=3, data_dir=data_dir) as cluster, \
            Admin(str(cluster.cluster_file_path)) as admin:
        for number, options in enumerate(configs):
            topic = f"bench-{number}"
            admin.create_topic(topic, args.partitions, min(3, args.brokers))
            profile = cProfile.Profile() if args.profile and number == 0 else None
            rows.append(run_once(cluster.cluster_file_path, topic, records, options, profile))
            if profile is not None:
                pstats.Stats(profile).sort_stats("cumulative").print_stats(20)
    print(f"one producer, {VALUE_BYTES}-byte values, {args.brokers} brokers, "
          f"{args.partitions} partitions, replication factor {min(3, args.brokers)}")
    print(format_table(rows))
    Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
