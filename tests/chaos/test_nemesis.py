"""The disk nemeses damage a replica's files the way they claim to, and the partition log
recovers from the damage on open (no exception, a shorter log) when the damage lies past its
recovery point, as it does after a SIGKILL.  (Record timestamps are fixed so that the damage
lands on the same bytes every run.)"""

from __future__ import annotations

import random
import time
from pathlib import Path

from zafka.chaos.harness import read_log
from zafka.chaos.nemesis import cut_to_recovery_point, damage_tail, position_of_offset
from zafka.storage.checkpoints import RECOVERY_POINT_CHECKPOINT
from zafka.storage.files import DiskDirectory
from zafka.storage.log import LogConfig, PartitionLog
from zafka.storage.records import Record, encode_batch


def clock() -> int:
    return int(time.time() * 1000)


def written_log(directory: Path, batches: int = 10, per_batch: int = 5) -> list[bytes]:
    log = PartitionLog.open(directory, LogConfig(), clock)
    values = []
    for b in range(batches):
        batch = [f"{b}-{i}".encode() for i in range(per_batch)]
        values += batch
        log.append_as_leader(memoryview(bytearray(encode_batch(
            [Record(key=None, value=v, timestamp_ms=1_000) for v in batch]))), 0)
    log.flush()
    log.close()
    return values


def stale_checkpoint(directory: Path, offset: int = 0) -> None:
    DiskDirectory(directory).write_atomic(RECOVERY_POINT_CHECKPOINT,
                                          f"0\n1\n{offset}\n".encode())


def test_a_damaged_tail_is_cut_on_open_and_the_rest_survives(tmp_path: Path) -> None:
    rng = random.Random(5)
    for attempt in range(6):
        directory = tmp_path / f"p-{attempt}"
        values = written_log(directory)
        stale_checkpoint(directory)  # as after a SIGKILL: the damage lies past it
        segment = sorted(directory.glob("*.log"))[-1]
        size = segment.stat().st_size
        damage = damage_tail(segment, rng)
        assert damage["damage"] in ("truncate", "bitflip")
        if damage["damage"] == "truncate":
            assert segment.stat().st_size == size - damage["bytes"]
        else:
            assert segment.stat().st_size == size
        log = PartitionLog.open(directory, LogConfig(), clock)
        survivors = [v for _, v in read_log(log)]
        log.close()
        assert survivors == values[:len(survivors)] and len(survivors) < len(values), \
            "a prefix survives; the damaged batch and what follows are gone"


def test_losing_unflushed_writes_cuts_the_segment_back_to_the_recovery_point(
        tmp_path: Path) -> None:
    values = written_log(tmp_path, batches=10, per_batch=5)
    stale_checkpoint(tmp_path, 20)
    segment = sorted(tmp_path.glob("*.log"))[-1]
    assert position_of_offset(segment, 20) > 0
    cut = cut_to_recovery_point(tmp_path)
    assert cut is not None and cut["recovery_point"] == 20 and cut["bytes_lost"] > 0
    log = PartitionLog.open(tmp_path, LogConfig(), clock)
    assert log.log_end_offset == 20
    assert [v for _, v in read_log(log)] == values[:20]
    log.close()

