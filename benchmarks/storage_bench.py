"""Storage benchmarks: codec, append (fsync per batch and lazy) beside a plain file write,
read, and recovery after a clean close and after a crash.

Run: ``python -m benchmarks.storage_bench [--quick] [--json FILE]``.  Every figure is the
median of ``--repeat`` runs; the table is printed and the figures are written as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from zafka.storage.log import LogConfig, PartitionLog
from zafka.storage.records import Record, decode_batch, encode_batch, iter_batches

RECORDS_PER_BATCH = 1000
VALUE_BYTES = 100


def median_seconds(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def one_batch() -> bytes:
    records = [Record(None, os.urandom(VALUE_BYTES), timestamp_ms=1_700_000_000_000 + i)
               for i in range(RECORDS_PER_BATCH)]
    return encode_batch(records)


def bench_codec(repeat: int) -> dict[str, float]:
    records = [Record(b"key-%d" % i, os.urandom(VALUE_BYTES), timestamp_ms=i)
               for i in range(RECORDS_PER_BATCH)]
    data = encode_batch(records)
    rounds = 20
    encode = median_seconds(lambda: [encode_batch(records) for _ in range(rounds)], repeat)
    decode = median_seconds(lambda: [decode_batch(data) for _ in range(rounds)], repeat)
    total = rounds * RECORDS_PER_BATCH
    return {"encode_records_per_s": total / encode, "decode_records_per_s": total / decode}


def plain_write(path: Path, data: bytes, count: int, fsync_each: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    try:
        for _ in range(count):
            os.write(fd, data)
            if fsync_each:
                os.fdatasync(fd)
        os.fdatasync(fd)
    finally:
        os.close(fd)


def log_append(path: Path, data: bytes, count: int, fsync_each: bool) -> None:
    log = PartitionLog.open(path, LogConfig(segment_bytes=256 * 1024 * 1024), lambda: 0)
    for _ in range(count):
        log.append_as_leader(data, leader_epoch=0)
        if fsync_each:
            log.flush()
    log.close()


def bench_append(work: Path, count: int, repeat: int) -> dict[str, float]:
    data = one_batch()
    out: dict[str, float] = {}

    def fresh(name: str) -> Path:
        target = work / name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        return target

    for mode, fsync_each in (("fsync_per_batch", True), ("lazy", False)):
        plain = median_seconds(
            lambda each=fsync_each: plain_write(fresh("plain") / "f", data, count, each), repeat)
        logged = median_seconds(
            lambda each=fsync_each: log_append(fresh("log"), data, count, each), repeat)
        records = count * RECORDS_PER_BATCH
        out[f"append_{mode}_records_per_s"] = records / logged
        out[f"append_{mode}_mb_per_s"] = count * len(data) / logged / 1e6
        out[f"plain_write_{mode}_mb_per_s"] = count * len(data) / plain / 1e6
        out[f"append_{mode}_vs_plain_ratio"] = plain / logged
    return out


def build_log(path: Path, total_bytes: int, crash: bool) -> int:
    data = one_batch()
    log = PartitionLog.open(path, LogConfig(segment_bytes=128 * 1024 * 1024), lambda: 0)
    for _ in range(total_bytes // len(data)):
        log.append_as_leader(data, leader_epoch=0)
    if crash:
        log.flush()
        for _ in range(50):  # an unflushed tail the crash leaves behind
            log.append_as_leader(data, leader_epoch=0)
        for segment in log.segments:
            segment.log.close()
    else:
        log.close()
    return log.log_end_offset


def bench_read_and_recovery(work: Path, total_bytes: int, repeat: int) -> dict[str, float]:
    out: dict[str, float] = {}
    clean, crashed = work / "clean", work / "crashed"
    for target in (clean, crashed):
        shutil.rmtree(target, ignore_errors=True)
    end = build_log(clean, total_bytes, crash=False)
    build_log(crashed, total_bytes, crash=True)
    size = sum(f.stat().st_size for f in clean.glob("*.log"))
    out["log_bytes"] = size

    def read_everything() -> None:
        log = PartitionLog.open(clean, LogConfig(), lambda: 0)
        offset = 0
        while offset < end:
            offset = _next_offset(log.read(offset, 1024 * 1024))
        log.close()

    out["read_mb_per_s"] = size / median_seconds(read_everything, repeat) / 1e6
    out["recovery_clean_s"] = median_seconds(
        lambda: PartitionLog.open(clean, LogConfig(), lambda: 0).close(), repeat)
    recovery = []
    for _ in range(repeat):
        shutil.rmtree(crashed)
        build_log(crashed, total_bytes, crash=True)
        start = time.perf_counter()
        PartitionLog.open(crashed, LogConfig(), lambda: 0).close()
        recovery.append(time.perf_counter() - start)
    out["recovery_after_crash_s"] = statistics.median(recovery)
    return out


def _next_offset(view: memoryview) -> int:
    last = None
    for header, _ in iter_batches(view):
        last = header
    assert last is not None, "a read below the LEO returns at least one batch"
    return last.next_offset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    parser.add_argument("--json", default="storage_bench.json", help="where to write results")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default=None, help="scratch directory (default: a temp dir)")
    args = parser.parse_args()
    append_batches = 200 if args.quick else 2000
    log_bytes = (64 if args.quick else 1024) * 1024 * 1024
    work = Path(tempfile.mkdtemp(prefix="zafka-bench-", dir=args.dir))
    try:
        results = {"quick": args.quick, "value_bytes": VALUE_BYTES,
                   "records_per_batch": RECORDS_PER_BATCH, **bench_codec(args.repeat),
                   **bench_append(work, append_batches, args.repeat),
                   **bench_read_and_recovery(work, log_bytes, args.repeat)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    width = max(len(k) for k in results)
    for key, value in results.items():
        shown = f"{value:,.3f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {shown:>16}")
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
