"""Recovery on open: torn and corrupt tails are cut, damaged flushed data fails loudly,
indexes are rebuilt, and a SIGKILLed writer loses nothing it reported flushed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from zafka.storage.files import LogCorruption
from zafka.storage.log import LogConfig, PartitionLog
from zafka.storage.memory import MemoryPartitionLog
from zafka.storage.records import decode_batches, validate_batches
from zafka.storage.segment import INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX, segment_name

from tests.storage.conftest import Clock, batch, read_all, values_of

ROOT = Path(__file__).resolve().parents[2]


def write_batches(path: Path, count: int, config: LogConfig, flush: bool) -> list[int]:
    """A log of ``count`` 4-record batches; returns each batch's file size after it."""
    log = PartitionLog.open(path, config, Clock())
    ends = []
    for i in range(count):
        log.append_as_leader(batch(values_of(4, f"b{i}-", 40)), leader_epoch=0)
        ends.append(log.active_segment.size)
    if flush:
        log.close()
    else:
        for segment in log.segments:
            segment.log.close()
    return ends


def segment_file(path: Path, base: int = 0, suffix: str = LOG_SUFFIX) -> Path:
    return path / (segment_name(base) + suffix)


def test_torn_tail_is_cut_at_every_byte_of_the_last_batch(tmp_path: Path) -> None:
    source = tmp_path / "source"
    ends = write_batches(source, 5, LogConfig(), flush=False)
    original = segment_file(source).read_bytes()
    for cut in range(ends[-2] + 1, ends[-1]):
        directory = tmp_path / f"cut{cut}"
        directory.mkdir()
        segment_file(directory).write_bytes(original[:cut])
        log = PartitionLog.open(directory, LogConfig(), Clock())
        assert log.log_end_offset == 16, cut
        assert segment_file(directory).stat().st_size == ends[-2]
        log.append_as_leader(batch(values_of(1)), leader_epoch=0)
        assert [r.offset for r in read_all(log)] == list(range(17))
        log.close()


@pytest.mark.parametrize("victim", [4, 2], ids=["last-batch", "middle-batch"])
def test_flipped_bit_in_unflushed_data_cuts_from_the_bad_batch(tmp_path: Path,
                                                                 victim: int) -> None:
    ends = write_batches(tmp_path, 5, LogConfig(), flush=False)
    data = bytearray(segment_file(tmp_path).read_bytes())
    data[ends[victim] - 10] ^= 0x04
    segment_file(tmp_path).write_bytes(bytes(data))
    log = PartitionLog.open(tmp_path, LogConfig(), Clock())
    assert log.log_end_offset == 4 * victim
    assert validate_batches(log.read(0, 1 << 20))


def test_flipped_bit_in_flushed_data_is_reported_loudly(tmp_path: Path) -> None:
    ends = write_batches(tmp_path, 5, LogConfig(), flush=True)
    data = bytearray(segment_file(tmp_path).read_bytes())
    data[ends[1] - 10] ^= 0x04
    segment_file(tmp_path).write_bytes(bytes(data))
    log = PartitionLog.open(tmp_path, LogConfig(), Clock())
    assert log.log_end_offset == 20, "flushed data is never dropped"
    with pytest.raises(LogCorruption, match="CRC"):
        log.read(0, 1 << 20)


def test_damaged_header_before_the_recovery_point_fails_the_open(tmp_path: Path) -> None:
    config = LogConfig(segment_bytes=700)
    write_batches(tmp_path, 8, config, flush=True)
    data = bytearray(segment_file(tmp_path, 8).read_bytes())
    data[16] = 7  # magic of the segment's first batch
    segment_file(tmp_path, 8).write_bytes(bytes(data))
    os.remove(segment_file(tmp_path, 8, INDEX_SUFFIX))
    with pytest.raises(LogCorruption, match="magic"):
        PartitionLog.open(tmp_path, config, Clock())


def test_truncated_flushed_data_fails_the_open(tmp_path: Path) -> None:
    ends = write_batches(tmp_path, 5, LogConfig(), flush=True)
    os.truncate(segment_file(tmp_path), ends[2])
    with pytest.raises(LogCorruption, match="flushed data is missing"):
        PartitionLog.open(tmp_path, LogConfig(), Clock())


@pytest.mark.parametrize("damage", ["deleted", "garbage", "truncated"])
def test_missing_or_garbage_indexes_are_rebuilt(tmp_path: Path, damage: str) -> None:
    config = LogConfig(segment_bytes=2000, index_interval_bytes=300)
    write_batches(tmp_path, 20, config, flush=True)
    clean = PartitionLog.open(tmp_path, config, Clock())
    expected = [(s.base_offset, list(s.offset_index.keys), list(s.time_index.keys))
                for s in clean.segments]
    reads = [bytes(clean.read(o, 600)) for o in range(0, 80, 3)]
    clean.close()
    for suffix in (INDEX_SUFFIX, TIME_INDEX_SUFFIX):
        index = segment_file(tmp_path, 0, suffix)
        if damage == "deleted":
            index.unlink()
        elif damage == "garbage":
            index.write_bytes(os.urandom(index.stat().st_size) + b"\xff")
        else:
            index.write_bytes(index.read_bytes()[:-3])
    log = PartitionLog.open(tmp_path, config, Clock())
    assert [(s.base_offset, list(s.offset_index.keys), list(s.time_index.keys))
            for s in log.segments] == expected
    assert [bytes(log.read(o, 600)) for o in range(0, 80, 3)] == reads
    assert segment_file(tmp_path, 0, INDEX_SUFFIX).stat().st_size == 8 * len(expected[0][1])


def test_index_pointing_into_the_middle_of_a_batch_is_rebuilt(tmp_path: Path) -> None:
    config = LogConfig(segment_bytes=2000, index_interval_bytes=300)
    write_batches(tmp_path, 20, config, flush=True)
    index = segment_file(tmp_path, 0, INDEX_SUFFIX)
    entries = bytearray(index.read_bytes())
    entries[-1] += 1
    index.write_bytes(bytes(entries))
    log = PartitionLog.open(tmp_path, config, Clock())
    assert [r.offset for r in read_all(log)] == list(range(80))


def test_sigkilled_writer_keeps_every_batch_it_reported_flushed(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-m", "tests.storage.crash_writer",
                              str(tmp_path)], stdout=subprocess.PIPE, cwd=ROOT, env=env)
    assert child.stdout is not None
    reported = []
    deadline = time.monotonic() + 10
    while len(reported) < 300 and time.monotonic() < deadline:
        reported.append(int(child.stdout.readline()))
    child.send_signal(signal.SIGKILL)
    child.wait()
    reported += [int(line) for line in child.stdout.read().split()]
    assert len(reported) >= 300
    log = PartitionLog.open(tmp_path, LogConfig(segment_bytes=64 * 1024), Clock())
    assert log.log_end_offset >= reported[-1]
    records = read_all(log)
    assert [r.offset for r in records] == list(range(log.log_end_offset))
    assert len(log.segments) > 1


def test_memory_crash_loses_exactly_the_unflushed_appends() -> None:
    log = MemoryPartitionLog.create(LogConfig(segment_bytes=500), Clock())
    for _ in range(6):
        log.append_as_leader(batch(values_of(3, size=40)), leader_epoch=2)
    assert log.flush() == 18
    log.append_as_leader(batch(values_of(3, size=40)), leader_epoch=3)
    log.crash()
    assert log.log_end_offset == 18
    assert log.latest_epoch == 2, "the epoch of lost records is forgotten"
    assert [r.value for r in decode_batches(log.read(15, 1 << 20))] == values_of(3, size=40)
