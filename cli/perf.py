"""``perf-produce`` and ``perf-consume``: load generators shaped like Kafka's perf tools.

``perf-produce`` sends ``--num-records`` records of ``--record-size`` bytes (optionally at a
target ``--throughput``), prints a progress line every few seconds and a summary with
records/s, MB/s and the average, p50, p95, p99 and max acknowledgement latency, like
``kafka-producer-perf-test.sh``.  ``perf-consume`` reads ``--num-records`` from the beginning
and reports records/s and MB/s, like ``kafka-consumer-perf-test.sh``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from typing import Any

from zafka.cli.common import CommandError, sub_command
from zafka.cli.console import acks_value, join_or_assign
from zafka.client import Consumer, Producer
from zafka.transport.cluster_file import DEFAULT_PATH

PROGRESS_EVERY_S = 5.0


class LatencyRecorder:
    """Acknowledgement latencies (ms) of sent records, recorded from producer callbacks."""

    def __init__(self) -> None:
        self.latencies_ms: list[float] = []
        self.failed = 0
        self.first_error: BaseException | None = None
        self._lock = threading.Lock()
        self.window_start = time.perf_counter()
        self.window_count = 0
        self.window_bytes = 0
        self.window_max_ms = 0.0
        self.window_sum_ms = 0.0

    def done(self, sent_at: float, size: int) -> None:
        latency = (time.perf_counter() - sent_at) * 1000
        with self._lock:
            self.latencies_ms.append(latency)
            self.window_count += 1
            self.window_bytes += size
            self.window_sum_ms += latency
            self.window_max_ms = max(self.window_max_ms, latency)

    def failure(self, error: BaseException) -> None:
        with self._lock:
            self.failed += 1
            self.first_error = self.first_error or error

    def progress_line(self) -> str:
        with self._lock:
            elapsed = time.perf_counter() - self.window_start
            count, size = self.window_count, self.window_bytes
            average = self.window_sum_ms / count if count else 0.0
            line = (f"{count} records sent, {count / elapsed:,.1f} records/sec "
                    f"({size / elapsed / 1e6:.2f} MB/sec), {average:.1f} ms avg latency, "
                    f"{self.window_max_ms:.1f} ms max latency.")
            self.window_start, self.window_count, self.window_bytes = time.perf_counter(), 0, 0
            self.window_max_ms = self.window_sum_ms = 0.0
        return line


def percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def produce_summary(recorder: LatencyRecorder, elapsed: float, size: int) -> dict[str, Any]:
    ordered = sorted(recorder.latencies_ms)
    count = len(ordered)
    return {"records": count, "failed": recorder.failed, "seconds": round(elapsed, 3),
            "records_per_s": round(count / elapsed, 1),
            "mb_per_s": round(count * size / elapsed / 1e6, 3),
            "avg_latency_ms": round(sum(ordered) / count, 2) if count else 0.0,
            "p50_ms": round(percentile(ordered, 0.50), 2),
            "p95_ms": round(percentile(ordered, 0.95), 2),
            "p99_ms": round(percentile(ordered, 0.99), 2),
            "p999_ms": round(percentile(ordered, 0.999), 2),
            "max_ms": round(ordered[-1], 2) if ordered else 0.0}


def run_perf_produce(args: argparse.Namespace) -> int:
    if args.num_records <= 0 or args.record_size <= 0:
        raise CommandError("--num-records and --record-size must be positive")
    payload = os.urandom(args.record_size)
    recorder = LatencyRecorder()
    options: dict[str, Any] = {"acks": args.acks, "batch_size": args.batch_size,
                               "linger_ms": args.linger_ms}
    if args.acks != "all":
        options["enable_idempotence"] = False
    with Producer(args.cluster, **options) as producer:
        began = next_progress = time.perf_counter()
        for i in range(args.num_records):
            if args.throughput > 0:
                ahead = began + i / args.throughput - time.perf_counter()
                if ahead > 0:
                    time.sleep(ahead)
            sent_at = time.perf_counter()
            future = producer.send(args.topic, payload)
            future.add_callback(lambda _m, t=sent_at: recorder.done(t, args.record_size))
            future.add_errback(recorder.failure)
            if sent_at >= next_progress + PROGRESS_EVERY_S:
                next_progress = sent_at
                print(recorder.progress_line(), file=sys.stderr, flush=True)
        producer.flush()
        elapsed = time.perf_counter() - began
    summary = produce_summary(recorder, elapsed, args.record_size)
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{summary['records']} records sent, {summary['records_per_s']:,.1f} records/sec "
              f"({summary['mb_per_s']:.2f} MB/sec), {summary['avg_latency_ms']:.2f} ms avg "
              f"latency, {summary['max_ms']:.2f} ms max latency, {summary['p50_ms']:.2f} ms "
              f"50th, {summary['p95_ms']:.2f} ms 95th, {summary['p99_ms']:.2f} ms 99th, "
              f"{summary['p999_ms']:.2f} ms 99.9th.")
    if recorder.failed:
        print(f"zafka: {recorder.failed} records failed: {recorder.first_error}",
              file=sys.stderr)
        return 1
    return 0


def run_perf_consume(args: argparse.Namespace) -> int:
    options: dict[str, Any] = {"auto_offset_reset": "earliest",
                               "consumer_timeout_ms": args.timeout_ms,
                               "max_poll_records": 5000}
    if args.group:
        options["group_id"] = args.group
    count = size = 0
    with Consumer(cluster=args.cluster, **options) as consumer:
        join_or_assign(consumer, args.topic, args.group)
        began = time.perf_counter()
        while count < args.num_records:
            records = consumer.poll(timeout_ms=args.timeout_ms,
                                    max_records=args.num_records - count)
            if not records:
                break
            count += len(records)
            size += sum(len(r.value or b"") for r in records)
        elapsed = max(time.perf_counter() - began, 1e-9)
    summary = {"records": count, "mb": round(size / 1e6, 3), "seconds": round(elapsed, 3),
               "records_per_s": round(count / elapsed, 1),
               "mb_per_s": round(size / elapsed / 1e6, 3)}
    if args.json:
        print(json.dumps(summary))
    else:
        print("data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, seconds")
        print(f"{summary['mb']:.4f}, {summary['mb_per_s']:.4f}, {count}, "
              f"{summary['records_per_s']:.1f}, {summary['seconds']:.3f}")
    if count < args.num_records:
        print(f"zafka: only {count} of {args.num_records} records arrived within "
              f"{args.timeout_ms} ms of silence", file=sys.stderr)
        return 1
    return 0


def register(commands: Any) -> None:
    produce = sub_command(
        commands, "perf-produce", "Producer load test: records/s, MB/s and latency.",
        ["perf-produce --topic perf --num-records 100000 --record-size 100",
         "perf-produce --topic perf --num-records 50000 --record-size 1024 "
         "--throughput 10000 --acks all"],
        run_perf_produce, default_file=DEFAULT_PATH)
    produce.add_argument("--topic", required=True)
    produce.add_argument("--num-records", type=int, required=True)
    produce.add_argument("--record-size", type=int, required=True, metavar="BYTES")
    produce.add_argument("--throughput", type=float, default=-1,
                         help="records/s to aim at (-1: as fast as possible)")
    produce.add_argument("--acks", type=acks_value, default="all", help="0, 1 or all")
    produce.add_argument("--batch-size", type=int, default=256 * 1024)
    produce.add_argument("--linger-ms", type=int, default=5)
    produce.add_argument("--json", action="store_true", help="print the summary as JSON")

    consume = sub_command(
        commands, "perf-consume", "Consumer load test: records/s and MB/s.",
        ["perf-consume --topic perf --num-records 100000"],
        run_perf_consume, default_file=DEFAULT_PATH)
    consume.add_argument("--topic", required=True)
    consume.add_argument("--num-records", type=int, required=True)
    consume.add_argument("--group", default=None)
    consume.add_argument("--timeout-ms", type=int, default=10_000,
                         help="give up after this long without a record")
    consume.add_argument("--json", action="store_true", help="print the summary as JSON")


__all__ = ["LatencyRecorder", "percentile", "produce_summary", "register"]
