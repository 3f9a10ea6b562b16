"""``PartitionLog.verify_tail``: a replica CRC-checks its log's tail when it starts, so bit
rot in flushed data near the end is found before the replica serves it."""

from __future__ import annotations

from pathlib import Path

from zafka.storage.log import LogConfig, PartitionLog
from zafka.storage.records import Record, encode_batch


def write_log(directory: Path, batches: int) -> list[int]:
    log = PartitionLog.open(directory, LogConfig(), lambda: 0)
    bases = []
    for n in range(batches):
        batch = encode_batch([Record(key=None, value=f"{n}-{i}".encode() * 20,
                                     timestamp_ms=n) for i in range(5)])
        bases.append(log.append_as_leader(batch, leader_epoch=0).first_offset)
    log.flush()
    log.close()
    return bases


def flip_byte(segment: Path, position: int) -> None:
    with open(segment, "r+b") as handle:
        handle.seek(position)
        byte = handle.read(1)
        handle.seek(position)
        handle.write(bytes([byte[0] ^ 0x10]))


def test_a_clean_tail_verifies(tmp_path: Path) -> None:
    write_log(tmp_path, 20)
    log = PartitionLog.open(tmp_path, LogConfig(), lambda: 0)
    assert log.verify_tail(1 << 20) is None


def test_a_flipped_bit_in_the_last_flushed_batch_is_found(tmp_path: Path) -> None:
    bases = write_log(tmp_path, 20)
    segment = next(tmp_path.glob("*.log"))
    flip_byte(segment, segment.stat().st_size - 7)  # inside the last batch's records
    log = PartitionLog.open(tmp_path, LogConfig(), lambda: 0)
    assert log.verify_tail(1 << 20) == bases[-1]
    log.truncate_to(bases[-1])
    assert log.log_end_offset == bases[-1] and log.verify_tail(1 << 20) is None


def test_damage_before_the_checked_tail_is_left_to_reads(tmp_path: Path) -> None:
    bases = write_log(tmp_path, 200)
    segment = next(tmp_path.glob("*.log"))
    flip_byte(segment, 100)  # in the first batch, far from the tail
    log = PartitionLog.open(tmp_path, LogConfig(), lambda: 0)
    assert log.verify_tail(2048) is None, "the check is bounded to the tail"
    assert log.verify_tail(1 << 30) == bases[0]
