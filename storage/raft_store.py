"""Durable raft state of one coordinator: hard state, snapshot and log entries.

Owns: the files of a raft data directory (``RaftStore``) and its in-memory twin
(``MemoryRaftStore``).  Both implement ``persist(ready)`` (the persist step of a
``core.raft_types.Ready``; durable when it returns) and ``load() -> PersistentState``.

On disk (formats: ``core.durable``; every payload starts with a format version byte):
- ``raft-entries.log``: append-only records ``[u32 length][u32 crc32c(payload)][payload]``,
  the payload a ``core.durable`` Raft entry.  A suffix is cut with ``ftruncate`` (fsynced
  before anything is appended after it); compaction rewrites the file with the retained
  suffix (temp -> fsync -> rename -> fsync dir).
- ``raft-hardstate`` and ``raft-snapshot``: small files replaced atomically
  (``storage.atomic``): a ``core.durable`` payload, then ``u32 crc32c`` of it.

On load, a torn or damaged *tail* of the log — a record that is cut short or fails its CRC
with no intact record anywhere after it — is cut: it was never acknowledged, because
``persist`` fsyncs before any message that depends on it is sent.  Damage with an intact
record after it, a record whose CRC holds but whose payload does not decode (an unknown
format version), a gap in the indexes, or a damaged hard state or snapshot file is
``DurableFormatError`` naming the file and the byte offset: the coordinator refuses to start
rather than silently drop entries that may be committed.

Must never: interpret commands, or return from ``persist`` before the data is durable.
"""

from __future__ import annotations

import os
import random
import struct
from collections.abc import Sequence
from pathlib import Path

import crc32c
from zafka.core.durable import (
    DurableFormatError,
    decode_hard_state,
    decode_raft_entry,
    decode_raft_snapshot,
    encode_hard_state,
    encode_raft_entry,
    encode_raft_snapshot,
)
from zafka.core.errors import CorruptRecord
from zafka.core.messages import RaftEntry
from zafka.core.raft_types import HardState, PersistentState, Ready, Snapshot
from zafka.storage.atomic import read_file, write_atomic

_RECORD_HEADER = struct.Struct(">II")  # payload length, crc32c(payload)
_ENTRY_PAYLOAD_MIN = 1 + 16 + 1  # version, index and term, a one-byte command (None)
_CRC = struct.Struct(">I")

ENTRIES_FILE = "raft-entries.log"
HARD_STATE_FILE = "raft-hardstate"
SNAPSHOT_FILE = "raft-snapshot"


def reconcile(snapshot: Snapshot | None, entries: Sequence[RaftEntry]) -> list[RaftEntry]:
    """The entries that follow ``snapshot`` (§7: keep them only if the log holds its last entry).

    A crash between writing a received snapshot and cutting the log it replaced can leave
    entries after the snapshot that came from a diverged leader; their terms are lower than
    the snapshot's (its last entry is committed), which is how they are recognised.

    ``entries`` must be contiguous.  Raises ``CorruptRecord`` on a gap after the snapshot.
    """
    if snapshot is None or not entries:
        kept = list(entries)
    else:
        meta = snapshot.meta
        first = entries[0].index
        if first > meta.index + 1:
            raise CorruptRecord(f"raft log starts at {first}, after snapshot {meta.index}")
        at_snapshot = meta.index - first
        if at_snapshot < 0:  # entries older than the snapshot's term cannot follow it
            kept = list(entries) if entries[0].term >= meta.term else []
        elif at_snapshot < len(entries) and entries[at_snapshot].term == meta.term:
            kept = list(entries[at_snapshot + 1:])
        else:
            kept = []
    return kept


def _checked_state(hard: HardState, snapshot: Snapshot | None,
                   entries: list[RaftEntry]) -> PersistentState:
    last = entries[-1].index if entries else (snapshot.meta.index if snapshot else 0)
    if hard.commit > last:
        raise CorruptRecord(f"raft commit index {hard.commit} beyond the durable log ({last})")
    return PersistentState(hard_state=hard, snapshot=snapshot, entries=tuple(entries))


# ------------------------------------------------------------------------- file helpers
def _with_crc(payload: bytes) -> bytes:
    return payload + _CRC.pack(crc32c.crc32c(payload))


def _read_crc_file(path: Path) -> bytes | None:
    """The payload of a small file written by ``_with_crc``; ``DurableFormatError`` if bad."""
    blob = read_file(path)
    if blob is None:
        return None
    end = len(blob) - _CRC.size
    if end < 1:
        raise DurableFormatError(str(path), 0, f"truncated: {len(blob)} bytes")
    if _CRC.unpack_from(blob, end)[0] != crc32c.crc32c(blob[:end]):
        raise DurableFormatError(str(path), 0, f"checksum mismatch over bytes 0-{end}")
    return blob[:end]


def _encode_entry(entry: RaftEntry) -> bytes:
    payload = encode_raft_entry(entry)
    return _RECORD_HEADER.pack(len(payload), crc32c.crc32c(payload)) + payload


def _intact_record_at(blob: bytes, position: int) -> bool:
    """Whether a whole record with a matching CRC starts at ``position``."""
    if position + _RECORD_HEADER.size > len(blob):
        return False
    length, crc = _RECORD_HEADER.unpack_from(blob, position)
    start = position + _RECORD_HEADER.size
    return bool(_ENTRY_PAYLOAD_MIN <= length <= len(blob) - start
                and crc32c.crc32c(blob[start:start + length]) == crc)


def _intact_record_after(blob: bytes, position: int) -> int | None:
    """The offset of the first intact record after a damaged one at ``position``, if any.

    First where the damaged record's length says the next one starts, then at every byte
    (the length itself may be the damage).  Runs only when a record is damaged."""
    if position + _RECORD_HEADER.size <= len(blob):
        length: int = _RECORD_HEADER.unpack_from(blob, position)[0]
        chained = position + _RECORD_HEADER.size + length
        if _intact_record_at(blob, chained):
            return chained
    last = len(blob) - _RECORD_HEADER.size - _ENTRY_PAYLOAD_MIN
    return next((q for q in range(position + 1, last + 1) if _intact_record_at(blob, q)), None)


def _scan_entries(blob: bytes, source: str) -> tuple[list[RaftEntry], list[int], int]:
    """Decode every record: (entries, offsets, length of the intact prefix).

    Stops at a damaged tail; raises ``DurableFormatError`` on damage before the tail."""
    entries: list[RaftEntry] = []
    offsets: list[int] = []
    position = 0
    while position < len(blob):
        if not _intact_record_at(blob, position):
            after = _intact_record_after(blob, position)
            if after is not None:
                raise DurableFormatError(source, position, "damaged record (torn or failing "
                                         f"its CRC) before an intact one at byte {after}")
            break  # the torn tail of the last write
        length = _RECORD_HEADER.unpack_from(blob, position)[0]
        start = position + _RECORD_HEADER.size
        entry = decode_raft_entry(blob[start:start + length], source=source, offset=start)
        if entries and entry.index != entries[-1].index + 1:
            raise DurableFormatError(source, position, f"entry {entry.index} follows entry "
                                     f"{entries[-1].index}")
        entries.append(entry)
        offsets.append(position)
        position = start + length
    return entries, offsets, position


class RaftStore:
    """Raft state in a directory; ``persist`` fsyncs before it returns."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._entries_path = self.directory / ENTRIES_FILE
        self._entries_path.touch(exist_ok=True)
        self.snapshot_path = self.directory / SNAPSHOT_FILE
        self._offsets: list[int] = []  # file offset of each stored entry, by position
        self._first_index = 1  # index of the entry at self._offsets[0]
        self._state = self._recover()

    def load(self) -> PersistentState:
        """What is durable (read again from the files)."""
        self._state = self._recover()
        return self._state

    def close(self) -> None:
        """Nothing stays open between calls; present for symmetry with other stores."""

    def _recover(self) -> PersistentState:
        hard_path = self.directory / HARD_STATE_FILE
        hard_blob = _read_crc_file(hard_path)
        hard = (HardState() if hard_blob is None
                else decode_hard_state(hard_blob, source=str(hard_path)))
        snap_blob = _read_crc_file(self.snapshot_path)
        snapshot = (None if snap_blob is None
                    else decode_raft_snapshot(snap_blob, source=str(self.snapshot_path)))
        source = str(self._entries_path)
        entries, offsets, valid = _scan_entries(self._entries_path.read_bytes(), source)
        try:
            kept = reconcile(snapshot, entries)
            state = _checked_state(hard, snapshot, kept)
        except CorruptRecord as error:
            raise DurableFormatError(source, valid, str(error)) from None
        if len(kept) != len(entries):
            self._rewrite(kept)
        else:
            if valid != self._entries_path.stat().st_size:
                os.truncate(self._entries_path, valid)  # cut the torn tail
            self._offsets = offsets
            self._first_index = kept[0].index if kept else 1
        self._next_index = (kept[-1].index + 1 if kept
                            else (snapshot.meta.index + 1 if snapshot else 1))
        return state

    def persist(self, ready: Ready) -> None:
        """The persist step of ``ready``: snapshot, truncation, entries, hard state; fsync."""
        if ready.snapshot is not None:
            write_atomic(self.snapshot_path,
                         _with_crc(encode_raft_snapshot(ready.snapshot)))
            self._drop_prefix(ready.snapshot.meta.index)
        if ready.truncate_from is not None or ready.entries:
            self._write_entries(ready)
        if ready.hard_state is not None:
            write_atomic(self.directory / HARD_STATE_FILE,
                         _with_crc(encode_hard_state(ready.hard_state)))

    def _write_entries(self, ready: Ready) -> None:
        with open(self._entries_path, "r+b") as f:
            if ready.truncate_from is not None:
                keep = max(0, ready.truncate_from - self._first_index)
                if keep < len(self._offsets):
                    f.truncate(self._offsets[keep])
                    if ready.entries:  # the cut is durable before anything follows it
                        os.fsync(f.fileno())
                    del self._offsets[keep:]
                    self._next_index = self._first_index + keep
            if ready.entries:
                assert ready.entries[0].index == self._next_index, (
                    ready.entries[0].index, self._next_index)
                if not self._offsets:
                    self._first_index = ready.entries[0].index
                position = f.seek(0, os.SEEK_END)
                records = []
                for entry in ready.entries:
                    record = _encode_entry(entry)
                    self._offsets.append(position)
                    position += len(record)
                    records.append(record)
                f.write(b"".join(records))
                self._next_index = ready.entries[-1].index + 1
            f.flush()
            os.fsync(f.fileno())

    def _drop_prefix(self, snapshot_index: int) -> None:
        """Compaction: keep only the entries after ``snapshot_index`` (rewrite atomically)."""
        drop = snapshot_index - self._first_index + 1
        if drop <= 0 or not self._offsets:
            self._next_index = max(self._next_index, snapshot_index + 1)
            return
        if drop >= len(self._offsets):
            self._rewrite([])
            self._next_index = snapshot_index + 1
            return
        blob = self._entries_path.read_bytes()
        start = self._offsets[drop]
        write_atomic(self._entries_path, blob[start:])
        self._offsets = [offset - start for offset in self._offsets[drop:]]
        self._first_index += drop

    def _rewrite(self, entries: list[RaftEntry]) -> None:
        records = [_encode_entry(entry) for entry in entries]
        write_atomic(self._entries_path, b"".join(records))
        self._offsets = []
        position = 0
        for record in records:
            self._offsets.append(position)
            position += len(record)
        self._first_index = entries[0].index if entries else 1


class MemoryRaftStore:
    """The in-memory twin: ``persist`` is durable at once; ``stage`` + ``crash`` lose writes.

    ``stage(ready)`` queues the writes of a persist step without making them durable (a
    process in the middle of ``persist``); ``flush()`` makes them durable; ``crash(rng)``
    keeps a random prefix of the staged writes (none without ``rng``) and drops the rest.
    """

    def __init__(self) -> None:
        self._hard = HardState()
        self._snapshot: Snapshot | None = None
        self._entries: list[RaftEntry] = []
        self._staged: list[tuple[str, object]] = []

    def load(self) -> PersistentState:
        assert not self._staged, "load() after crash() or flush()"
        self._entries = reconcile(self._snapshot, self._entries)
        return _checked_state(self._hard, self._snapshot, self._entries)

    def close(self) -> None:
        """Nothing to release."""

    def persist(self, ready: Ready) -> None:
        self.stage(ready)
        self.flush()

    def stage(self, ready: Ready) -> None:
        if ready.snapshot is not None:
            self._staged.append(("snapshot", ready.snapshot))
        if ready.truncate_from is not None:
            self._staged.append(("truncate", ready.truncate_from))
        self._staged.extend(("append", entry) for entry in ready.entries)
        if ready.hard_state is not None:
            self._staged.append(("hard_state", ready.hard_state))

    def flush(self) -> None:
        for kind, value in self._staged:
            self._write(kind, value)
        self._staged.clear()

    def crash(self, rng: random.Random | None = None) -> None:
        """Lose what was staged but not flushed (all of it, or a random suffix with ``rng``)."""
        survivors = rng.randrange(len(self._staged) + 1) if rng and self._staged else 0
        for kind, value in self._staged[:survivors]:
            self._write(kind, value)
        self._staged.clear()

    def _write(self, kind: str, value: object) -> None:
        if kind == "snapshot":
            assert isinstance(value, Snapshot)
            self._snapshot = value
            self._entries = [e for e in self._entries if e.index > value.meta.index]
        elif kind == "truncate":
            assert isinstance(value, int)
            self._entries = [e for e in self._entries if e.index < value]
        elif kind == "append":
            assert isinstance(value, RaftEntry)
            expected = (self._entries[-1].index + 1 if self._entries
                        else (self._snapshot.meta.index + 1 if self._snapshot else 1))
            assert value.index == expected, (value.index, expected)
            self._entries.append(value)
        else:
            assert isinstance(value, HardState)
            self._hard = value


__all__ = ["MemoryRaftStore", "RaftStore", "reconcile"]
