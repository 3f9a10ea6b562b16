"""Sparse indexes of one segment: offset -> file position and timestamp -> offset.

Owns the ``.index`` (relative offset int32, position int32) and ``.timeindex`` (timestamp
int64, relative offset int32) file layouts, Kafka's.  Entries live in memory (two sorted
lists); new entries are written to the file on ``flush()``, which the segment calls after
syncing its data, so a durable entry never points at data that is not durable.

Must never: read the segment's data (the segment validates entries against it).
"""

from __future__ import annotations

import bisect
import struct

from zafka.storage.files import LogFile

OFFSET_ENTRY = struct.Struct(">ii")
TIME_ENTRY = struct.Struct(">qi")


class SparseIndex:
    """Sorted (key, value) pairs: keys strictly increasing, values non-decreasing."""

    def __init__(self, file: LogFile, entry: struct.Struct) -> None:
        self._file = file
        self._entry = entry
        self.keys: list[int] = []
        self.values: list[int] = []
        self._flushed = 0

    @classmethod
    def offsets(cls, file: LogFile) -> SparseIndex:
        """``.index``: key relative offset, value file position."""
        return cls(file, OFFSET_ENTRY)

    @classmethod
    def timestamps(cls, file: LogFile) -> SparseIndex:
        """``.timeindex``: key timestamp, value relative offset (stored timestamp first)."""
        return cls(file, TIME_ENTRY)

    def load(self) -> bool:
        """Read the file; False (and empty) if its content is not a sane index."""
        data = self._file.pread(0, self._file.size)
        size = self._entry.size
        if len(data) % size:
            return self._discard()
        pairs = list(self._entry.iter_unpack(data))
        keys = [k for k, _ in pairs]
        values = [v for _, v in pairs]
        sorted_keys = all(a < b for a, b in zip(keys, keys[1:], strict=False))
        sorted_values = all(a <= b for a, b in zip(values, values[1:], strict=False))
        if not (sorted_keys and sorted_values) or (values and values[0] < 0):
            return self._discard()
        self.keys, self.values = keys, values
        self._flushed = len(keys)
        return True

    def _discard(self) -> bool:
        self.reset()
        return False

    def __len__(self) -> int:
        return len(self.keys)

    def append(self, key: int, value: int) -> None:
        assert not self.keys or key > self.keys[-1], (key, self.keys[-1:])
        self.keys.append(key)
        self.values.append(value)

    def floor(self, key: int) -> int:
        """Index of the last entry with entry key <= ``key``, or -1."""
        return bisect.bisect_right(self.keys, key) - 1

    def lower(self, key: int) -> int:
        """Index of the last entry with entry key < ``key``, or -1."""
        return bisect.bisect_left(self.keys, key) - 1

    def truncate_entries(self, count: int) -> None:
        """Keep only the first ``count`` entries."""
        if count >= len(self.keys):
            return
        del self.keys[count:]
        del self.values[count:]
        if self._flushed > count:
            self._file.truncate(count * self._entry.size)
            self._flushed = count

    def reset(self) -> None:
        self.keys, self.values = [], []
        self._file.truncate(0)
        self._flushed = 0

    def flush(self, *, sync: bool) -> None:
        """Write entries added since the last flush (and fsync the file if ``sync``)."""
        if self._flushed < len(self.keys):
            pack = self._entry.pack
            self._file.append(b"".join(pack(k, v) for k, v in zip(
                self.keys[self._flushed:], self.values[self._flushed:], strict=True)))
            self._flushed = len(self.keys)
        if sync:
            self._file.sync()

    def close(self) -> None:
        self._file.close()


__all__ = ["OFFSET_ENTRY", "TIME_ENTRY", "SparseIndex"]
