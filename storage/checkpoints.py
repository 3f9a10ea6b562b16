"""Checkpoint files of one partition: leader-epoch cache, recovery point, high watermark.

Owns their text formats (Kafka's: a version line ``0``, a count line, then one line per entry
of space-separated decimal integers, each line ending in ``\n``; nothing after the entries)
and the leader-epoch cache rules (Kafka's ``LeaderEpochFileCache``).  A file that does not
parse — an unknown version, a short or extra line, a non-integer — is ``CheckpointCorruption``
(a ``LogCorruption`` and a ``core.durable.DurableFormatError``) naming the file and the byte
offset of the line.  Every change is written with
``Directory.write_atomic``, so a crash leaves the old or the new file, never a mix.

Must never: read or write segments.
"""

from __future__ import annotations

import bisect
import logging
from typing import NamedTuple

from zafka.core.durable import DurableFormatError
from zafka.storage.files import Directory, DiskDirectory, LogCorruption

LEADER_EPOCH_CHECKPOINT = "leader-epoch-checkpoint"
RECOVERY_POINT_CHECKPOINT = "recovery-point-offset-checkpoint"
HIGH_WATERMARK_CHECKPOINT = "replication-offset-checkpoint"
UNDEFINED_EPOCH = -1
UNDEFINED_EPOCH_OFFSET = -1
_VERSION = 0

log = logging.getLogger(__name__)


class CheckpointCorruption(LogCorruption, DurableFormatError):
    """A checkpoint file that cannot be read: names the file and the byte offset."""


def _source(directory: Directory, name: str) -> str:
    return str(directory.path / name) if isinstance(directory, DiskDirectory) else name


def _parse(source: str, data: bytes, fields: int) -> list[list[int]]:
    """The rows of a checkpoint; ``CheckpointCorruption`` at the first line that is wrong."""
    lines = data.split(b"\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)

    def numbers(row: int, width: int, what: str) -> list[int]:
        if row >= len(lines) or (row == len(lines) - 1 and not lines[row]):
            raise CheckpointCorruption(source, min(starts[row], len(data)),
                                       f"truncated: {what} missing")
        try:
            values = [int(x) for x in lines[row].decode("ascii").split()]
        except (UnicodeDecodeError, ValueError):
            values = []
        if len(values) != width:
            raise CheckpointCorruption(source, starts[row], f"{what}: {width} integer(s) "
                                       f"expected, found {lines[row][:40]!r}")
        return values

    (version,) = numbers(0, 1, "the version line")
    if version != _VERSION:
        raise CheckpointCorruption(source, 0, f"unknown checkpoint version {version} (this "
                                   f"zafka reads {_VERSION})")
    (count,) = numbers(1, 1, "the entry count line")
    rows = [numbers(2 + i, fields, f"entry {i} of {count}") for i in range(count)]
    end = starts[2 + count] if 2 + count < len(starts) else len(data)
    if data[end:]:
        raise CheckpointCorruption(source, end, f"{len(data) - end} bytes after {count} "
                                   "entries")
    return rows


def _format(rows: list[tuple[int, ...]]) -> bytes:
    lines = [str(_VERSION), str(len(rows))] + [" ".join(map(str, row)) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def read_offset_checkpoint(directory: Directory, name: str) -> int | None:
    """The offset stored in checkpoint ``name``, or None when there is none."""
    data = directory.read_bytes(name)
    if data is None:
        return None
    rows = _parse(_source(directory, name), data, 1)
    return rows[0][0] if rows else None


def write_offset_checkpoint(directory: Directory, name: str, offset: int) -> None:
    """Store ``offset`` in checkpoint ``name`` atomically."""
    directory.write_atomic(name, _format([(offset,)]))


class EpochEntry(NamedTuple):
    """Leader ``epoch`` started writing at ``start_offset``."""

    epoch: int
    start_offset: int


class LeaderEpochCache:
    """Which leader epoch wrote which offsets; persisted on every change."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory
        data = directory.read_bytes(LEADER_EPOCH_CHECKPOINT)
        rows = ([] if data is None
                else _parse(_source(directory, LEADER_EPOCH_CHECKPOINT), data, 2))
        self._entries = [EpochEntry(epoch, start) for epoch, start in rows]

    @property
    def entries(self) -> tuple[EpochEntry, ...]:
        return tuple(self._entries)

    @property
    def latest_epoch(self) -> int:
        return self._entries[-1].epoch if self._entries else UNDEFINED_EPOCH

    def assign(self, epoch: int, start_offset: int) -> None:
        """Record that ``epoch`` starts at ``start_offset`` (no-op if already known).

        Entries that conflict (epoch >= ``epoch`` or start >= ``start_offset``) are removed,
        as in Kafka: the newest assignment wins.
        """
        assert epoch >= 0 and start_offset >= 0, (epoch, start_offset)
        if self._entries:
            latest = self._entries[-1]
            if latest.epoch == epoch and latest.start_offset <= start_offset:
                return
        kept = [e for e in self._entries if e.epoch < epoch and e.start_offset < start_offset]
        if len(kept) != len(self._entries):
            log.warning("leader epoch %d at %d replaces conflicting entries %s", epoch,
                        start_offset, self._entries[len(kept):])
        self._entries = [*kept, EpochEntry(epoch, start_offset)]
        self._persist()

    def end_offset_for(self, epoch: int, log_end_offset: int) -> tuple[int, int]:
        """Kafka's OffsetForLeaderEpoch: (largest known epoch <= ``epoch``, the start offset
        of the next higher epoch, or the LEO if ``epoch`` is the latest).  (-1, -1) when
        ``epoch`` is undefined or newer than every known epoch; (``epoch``, start of the
        first entry) when it is older than every known epoch."""
        if epoch == UNDEFINED_EPOCH or not self._entries:
            return UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        if self._entries[-1].epoch == epoch:
            return epoch, log_end_offset
        epochs = [e.epoch for e in self._entries]
        higher = bisect.bisect_right(epochs, epoch)
        if higher == len(epochs):
            return UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        if higher == 0:
            return epoch, self._entries[0].start_offset
        return self._entries[higher - 1].epoch, self._entries[higher].start_offset

    def truncate_from_end(self, end_offset: int) -> None:
        """Forget epochs that start at or after ``end_offset`` (the log was truncated)."""
        kept = [e for e in self._entries if e.start_offset < end_offset]
        if len(kept) != len(self._entries):
            self._entries = kept
            self._persist()

    def truncate_from_start(self, start_offset: int) -> None:
        """Drop epochs wholly below ``start_offset``; the one containing it starts there."""
        below = [e for e in self._entries if e.start_offset <= start_offset]
        if len(below) <= 1 and (not below or below[0].start_offset == start_offset):
            return
        rest = self._entries[len(below):]
        self._entries = [EpochEntry(below[-1].epoch, start_offset), *rest]
        self._persist()

    def clear(self) -> None:
        if self._entries:
            self._entries = []
            self._persist()

    def _persist(self) -> None:
        self._directory.write_atomic(LEADER_EPOCH_CHECKPOINT,
                                     _format([tuple(e) for e in self._entries]))


__all__ = [
    "HIGH_WATERMARK_CHECKPOINT", "LEADER_EPOCH_CHECKPOINT", "RECOVERY_POINT_CHECKPOINT",
    "UNDEFINED_EPOCH", "UNDEFINED_EPOCH_OFFSET", "CheckpointCorruption", "EpochEntry",
    "LeaderEpochCache",
    "read_offset_checkpoint", "write_offset_checkpoint",
]
