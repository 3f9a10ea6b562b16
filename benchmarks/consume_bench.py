"""Consumer throughput: records/s and MB/s read by one consumer from a real local cluster.

Starts its own cluster (3 coordinators, 3 brokers) in a temporary directory, creates a topic
(replication factor 3), writes ``--records`` records with raw ``ProduceRequest``s carrying
big batches (one per partition per request), then reads the whole topic from the beginning
with one ``Consumer`` per configuration (``assign`` of every partition,
``auto_offset_reset="earliest"``).  The figure is records returned by ``poll()`` per second,
first poll to last record.

Run: ``python -m benchmarks.consume_bench [--quick] [--json FILE] [--profile]``.
``--profile`` runs the first configuration under cProfile twice over: the caller's thread
(``poll()``) and the consumer actor's thread (fetch responses, decoding), printing the top
functions of each.
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
from zafka.client.consumer import Consumer, TopicPartition
from zafka.core.messages import ProducePartitionData, ProduceRequest
from zafka.storage.records import Record, encode_batch

from zafka.launcher import Cluster

VALUE_BYTES = 100
BATCH_RECORDS = 5_000
CONFIGS: list[dict[str, Any]] = [
    {},
    {"max_poll_records": 5_000},
    {"max_poll_records": 5_000, "value_deserializer": "str", "check_crcs": False},
]


def write(cluster: Cluster, admin: Admin, topic: str, partitions: int, records: int) -> float:
    """Append ``records`` records spread evenly over the partitions; returns seconds."""
    batch = memoryview(bytearray(encode_batch([
        Record(key=None, value=b"v" * VALUE_BYTES, timestamp_ms=1_000 + i)
        for i in range(BATCH_RECORDS)])))
    leaders = {p.partition: p.leader for p in admin.describe_topic(topic).partitions}
    started = time.perf_counter()
    for _ in range(max(1, records // (BATCH_RECORDS * partitions))):
        futures = []
        for broker in sorted(set(leaders.values())):
            parts = tuple(ProducePartitionData(topic=topic, partition=p, records=batch)
                          for p, leader in leaders.items() if leader == broker)
            futures.append(cluster.ref(f"broker-{broker}", "broker").ask(
                ProduceRequest(acks=-1, timeout_ms=30_000, partitions=parts), 60))
        for future in futures:
            for part in future.result().partitions:
                assert part.error == 0, part
    return time.perf_counter() - started


def consume(path: Path, topic: str, partitions: int, records: int, options: dict[str, Any],
            profile: tuple[cProfile.Profile, cProfile.Profile] | None) -> dict[str, Any]:
    with Consumer(cluster=str(path), auto_offset_reset="earliest", **options) as consumer:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        if profile is not None:
            consumer.actor_ref.proxy().after(1, profile[1].enable).get()
            profile[0].enable()
        started = time.perf_counter()
        count = polls = 0
        while count < records:
            count += len(consumer.poll(timeout_ms=1_000))
            polls += 1
        elapsed = time.perf_counter() - started
        if profile is not None:
            profile[0].disable()
            consumer.actor_ref.proxy().after(1, profile[1].disable).get()
            time.sleep(0.1)
    return {"options": options, "records": count, "seconds": round(elapsed, 3),
            "records_per_s": round(count / elapsed), "polls": polls,
            "mb_per_s": round(count * VALUE_BYTES / elapsed / 1e6, 1)}


def format_table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'options':<70} {'records/s':>10} {'MB/s':>6} {'polls':>6}"]
    for row in rows:
        lines.append(f"{json.dumps(row['options']):<70} {row['records_per_s']:>10} "
                     f"{row['mb_per_s']:>6} {row['polls']:>6}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer records")
    parser.add_argument("--records", type=int, default=None)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--json", default="consume_bench.json", help="where to write results")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    wanted = args.records or (300_000 if args.quick else 2_000_000)
    rows = []
    with tempfile.TemporaryDirectory() as data_dir, \
            Cluster(brokers=3, coordinators=3, data_dir=data_dir) as cluster, \
            Admin(str(cluster.cluster_file_path)) as admin:
        topic = "bench"
        admin.create_topic(topic, args.partitions, 3)
        time.sleep(1.0)  # let every follower join the ISR before acks=all writes
        written = write(cluster, admin, topic, args.partitions, wanted)
        records = max(1, wanted // (BATCH_RECORDS * args.partitions)) * BATCH_RECORDS \
            * args.partitions
        print(f"wrote {records} records in {written:.1f} s")
        for number, options in enumerate(CONFIGS):
            profile = (cProfile.Profile(), cProfile.Profile()) \
                if args.profile and number == 0 else None
            rows.append(consume(cluster.cluster_file_path, topic, args.partitions, records,
                                options, profile))
            if profile is not None:
                for name, prof in zip(("caller thread", "consumer actor thread"), profile,
                                      strict=True):
                    print(f"--- {name} ---")
                    pstats.Stats(prof).sort_stats("tottime").print_stats(15)
    print(f"one consumer, {VALUE_BYTES}-byte values, 3 brokers, {args.partitions} partitions, "
          f"{records} records")
    print(format_table(rows))
    Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
