"""Damaged small files: one error type (``DurableFormatError``) naming the file and the offset."""

from __future__ import annotations

import struct
from pathlib import Path

import crc32c
import pytest
from zafka.core.durable import DurableFormatError
from zafka.storage.checkpoints import (
    HIGH_WATERMARK_CHECKPOINT,
    LEADER_EPOCH_CHECKPOINT,
    RECOVERY_POINT_CHECKPOINT,
    CheckpointCorruption,
    LeaderEpochCache,
    read_offset_checkpoint,
)
from zafka.storage.files import DiskDirectory, LogCorruption
from zafka.storage.log import LogConfig, PartitionLog
from zafka.storage.memory import MemoryDirectory
from zafka.storage.raft_store import HARD_STATE_FILE, SNAPSHOT_FILE, RaftStore

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("name", [HARD_STATE_FILE, SNAPSHOT_FILE])
def test_a_truncated_raft_file_is_refused_naming_it(tmp_path: Path, name: str) -> None:
    golden = (GOLDEN / name).read_bytes()
    for length in (0, 1, len(golden) // 2, len(golden) - 1):
        (tmp_path / name).write_bytes(golden[:length])
        with pytest.raises(DurableFormatError) as caught:
            RaftStore(tmp_path)
        assert caught.value.source == str(tmp_path / name)
        assert str(caught.value).startswith(f"{tmp_path / name}: byte 0: ")


@pytest.mark.parametrize("name", [HARD_STATE_FILE, SNAPSHOT_FILE])
def test_every_bit_flip_in_a_raft_file_is_refused(tmp_path: Path, name: str) -> None:
    golden = (GOLDEN / name).read_bytes()
    for position in range(len(golden)):
        flipped = bytearray(golden)
        flipped[position] ^= 1 << (position % 8)
        (tmp_path / name).write_bytes(bytes(flipped))
        with pytest.raises(DurableFormatError, match="checksum mismatch"):
            RaftStore(tmp_path)


def test_a_hard_state_of_an_unknown_version_is_refused(tmp_path: Path) -> None:
    payload = b"\x02" + (GOLDEN / HARD_STATE_FILE).read_bytes()[1:-4]
    (tmp_path / HARD_STATE_FILE).write_bytes(payload + struct.pack(">I",
                                                                   crc32c.crc32c(payload)))
    with pytest.raises(DurableFormatError, match="byte 0: unknown format version 2"):
        RaftStore(tmp_path)


# ------------------------------------------------------------------------ checkpoints
@pytest.mark.parametrize("content,offset,reason", [
    (b"", 0, "truncated: the version line missing"),
    (b"1\n1\n7\n", 0, "unknown checkpoint version 1"),
    (b"0\n", 2, "truncated: the entry count line missing"),
    (b"0\nx\n", 2, "the entry count line: 1 integer"),
    (b"0\n2\n7\n", 6, "truncated: entry 1 of 2 missing"),
    (b"0\n1\n7 8\n", 4, "entry 0 of 1: 1 integer"),
    (b"0\n1\n\xff\n", 4, "entry 0 of 1: 1 integer"),
    (b"0\n1\n7\n8\n", 6, "2 bytes after 1 entries"),
])
def test_a_malformed_offset_checkpoint_names_the_file_and_offset(
        tmp_path: Path, content: bytes, offset: int, reason: str) -> None:
    (tmp_path / RECOVERY_POINT_CHECKPOINT).write_bytes(content)
    with pytest.raises(CheckpointCorruption) as caught:
        read_offset_checkpoint(DiskDirectory(tmp_path), RECOVERY_POINT_CHECKPOINT)
    error = caught.value
    assert isinstance(error, DurableFormatError) and isinstance(error, LogCorruption)
    assert error.source == str(tmp_path / RECOVERY_POINT_CHECKPOINT)
    assert error.offset == offset and error.reason.startswith(reason)


def test_every_bit_flip_of_a_leader_epoch_checkpoint_reads_or_is_refused(
        tmp_path: Path) -> None:
    """Text has no checksum: a flipped digit reads as another number; nothing else escapes."""
    golden = (GOLDEN / LEADER_EPOCH_CHECKPOINT).read_bytes()
    refused = 0
    for position in range(len(golden)):
        for bit in range(8):
            flipped = bytearray(golden)
            flipped[position] ^= 1 << bit
            (tmp_path / LEADER_EPOCH_CHECKPOINT).write_bytes(bytes(flipped))
            try:
                LeaderEpochCache(DiskDirectory(tmp_path))
            except CheckpointCorruption:
                refused += 1
    assert refused > len(golden) * 4


def test_a_memory_directory_names_the_checkpoint(tmp_path: Path) -> None:
    directory = MemoryDirectory()
    directory.write_atomic(HIGH_WATERMARK_CHECKPOINT, b"0\n1\n")
    with pytest.raises(CheckpointCorruption, match=f"^{HIGH_WATERMARK_CHECKPOINT}: byte 4: "):
        read_offset_checkpoint(directory, HIGH_WATERMARK_CHECKPOINT)


def test_a_log_with_a_damaged_checkpoint_does_not_open(tmp_path: Path) -> None:
    """A ``LogCorruption``: the broker sets the replica's files aside and refetches."""
    PartitionLog.open(tmp_path / "t-0", LogConfig(), lambda: 0).close()
    (tmp_path / "t-0" / LEADER_EPOCH_CHECKPOINT).write_bytes(b"0\n1\n3\n")
    with pytest.raises(LogCorruption, match=f"{LEADER_EPOCH_CHECKPOINT}: byte 4: entry 0"):
        PartitionLog.open(tmp_path / "t-0", LogConfig(), lambda: 0)
