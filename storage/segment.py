"""One log segment: ``<20-digit base offset>.log`` plus its ``.index`` and ``.timeindex``.

Owns the segment's files, its in-memory summary (next offset, max timestamp) and recovery:
walking batch headers from the last trusted index entry, checking CRCs past the recovery
point, cutting a torn or corrupt unflushed tail, and failing loudly (``LogCorruption``) when
data before the recovery point is damaged.

Must never: assign offsets, decide when to roll, or know about other segments.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import NamedTuple

from zafka.core.errors import CorruptRecord
from zafka.storage.files import Buffer, Directory, LogCorruption
from zafka.storage.index import SparseIndex
from zafka.storage.records import (
    HEADER_SIZE,
    BatchHeader,
    check_crc,
    decode_batch,
    read_header,
)

log = logging.getLogger(__name__)

LOG_SUFFIX = ".log"
INDEX_SUFFIX = ".index"
TIME_INDEX_SUFFIX = ".timeindex"
CLEANED_SUFFIX = ".cleaned"


def segment_name(base_offset: int) -> str:
    return f"{base_offset:020d}"


class Located(NamedTuple):
    """A batch found in a segment: its file position and header."""

    position: int
    header: BatchHeader


class LogSegment:
    """A segment's files and summary; every method works on whole batches."""

    def __init__(self, directory: Directory, base_offset: int, index_interval_bytes: int
                 ) -> None:
        self.base_offset = base_offset
        self.name = segment_name(base_offset)
        self.index_interval_bytes = index_interval_bytes
        self.log = directory.open(self.name + LOG_SUFFIX)
        self.offset_index = SparseIndex.offsets(directory.open(self.name + INDEX_SUFFIX))
        self.time_index = SparseIndex.timestamps(directory.open(self.name + TIME_INDEX_SUFFIX))
        self.next_offset = base_offset
        self.max_timestamp = -1
        self.first_batch_timestamp: int | None = None
        self._bytes_since_index_entry = 0
        self._dirty = False

    @property
    def size(self) -> int:
        return self.log.size

    # --- loading and recovery ------------------------------------------------------------

    def load(self, recovery_point: int | None) -> int:
        """Rebuild the summary from the files; return the bytes of unflushed tail cut.

        ``recovery_point`` None: the whole segment was flushed (headers are checked, any
        damage is ``LogCorruption``).  Otherwise batches ending after it are CRC-checked and
        the first bad one and everything after it are cut.
        """
        sane = self.offset_index.load() & self.time_index.load()
        count = len(self.offset_index) if recovery_point is None else \
            self.offset_index.lower(recovery_point - self.base_offset) + 1
        if not sane or (count and not self._entry_is_valid(count - 1)):
            log.warning("segment %s: index files are not valid, rebuilding", self.name)
            count = 0
        cut = self._walk(self._restart_from_entry(count), recovery_point)
        if self.size:
            self.first_batch_timestamp = read_header(
                self.log.pread(0, HEADER_SIZE), whole=False).max_timestamp
        return cut

    def _entry_is_valid(self, entry: int) -> bool:
        position = self.offset_index.values[entry]
        if position >= self.size:
            return False
        try:
            header = read_header(self.log.pread(position, HEADER_SIZE), whole=False)
        except CorruptRecord:
            return False
        return header.base_offset == self.base_offset + self.offset_index.keys[entry]

    def _restart_from_entry(self, count: int) -> int:
        """Trust the first ``count`` offset-index entries (and the time entries up to them);
        return the position to walk from: the last trusted entry's batch, which the walk
        indexes again."""
        if count == 0:
            self.offset_index.reset()
            self.time_index.reset()
            self.next_offset = self.base_offset
            self.max_timestamp = -1
            self._bytes_since_index_entry = 0
            return 0
        relative = self.offset_index.keys[count - 1]
        position = self.offset_index.values[count - 1]
        self.offset_index.truncate_entries(count - 1)
        self.time_index.truncate_entries(sum(1 for v in self.time_index.values if v <= relative))
        self.max_timestamp = self.time_index.keys[-1] if len(self.time_index) else -1
        self.next_offset = self.base_offset + relative
        self._bytes_since_index_entry = self.index_interval_bytes
        return position

    def _walk(self, position: int, recovery_point: int | None) -> int:
        size = self.size
        while position < size:
            try:
                header = read_header(self.log.pread(position, HEADER_SIZE), whole=False)
                if position + header.size > size:
                    raise CorruptRecord(f"batch of {header.size} bytes cut at {size - position}")
                if header.base_offset < self.next_offset:
                    raise CorruptRecord(f"base offset {header.base_offset} is below the "
                                        f"segment's next offset {self.next_offset}")
                if recovery_point is None or header.next_offset > recovery_point:
                    check_crc(self.log.pread(position, header.size), 0, header)
            except CorruptRecord as exc:
                if recovery_point is None or self.next_offset < recovery_point:
                    raise LogCorruption(
                        f"segment {self.name} byte {position}: {exc.message}; this data was "
                        f"flushed (recovery point {recovery_point}), refusing to drop it"
                    ) from exc
                log.warning("segment %s: cutting %d bytes of unflushed tail at byte %d: %s",
                            self.name, size - position, position, exc.message)
                self.log.truncate(position)
                self._dirty = True
                return size - position
            self._index_batch(header, position)
            position += header.size
        return 0

    # --- appending -------------------------------------------------------------------------

    def _index_batch(self, header: BatchHeader, position: int) -> None:
        if self._bytes_since_index_entry >= self.index_interval_bytes:
            relative = header.base_offset - self.base_offset
            self.offset_index.append(relative, position)
            max_timestamp = max(self.max_timestamp, header.max_timestamp)
            if not len(self.time_index) or max_timestamp > self.time_index.keys[-1]:
                self.time_index.append(max_timestamp, relative)
            self._bytes_since_index_entry = 0
        self._bytes_since_index_entry += header.size
        self.max_timestamp = max(self.max_timestamp, header.max_timestamp)
        self.next_offset = header.next_offset
        self._dirty = True

    def append(self, data: Buffer, headers: list[BatchHeader]) -> None:
        """Append whole batches whose offsets are already assigned and ascending."""
        assert headers and headers[0].base_offset >= self.next_offset, (headers[:1], self.name)
        position = self.size
        self.log.append(data)
        if self.first_batch_timestamp is None:
            self.first_batch_timestamp = headers[0].max_timestamp
        for header in headers:
            self._index_batch(header, position)
            position += header.size

    def flush(self, *, sync_indexes: bool = False) -> None:
        """Make every append durable, then write the index entries that point at it.

        Index files are synced only when asked (roll, close): recovery validates them and
        rebuilds whatever a crash lost, so one fsync per flush is enough."""
        if self._dirty:
            self.log.sync()
            self._dirty = False
        self.offset_index.flush(sync=sync_indexes)
        self.time_index.flush(sync=sync_indexes)

    # --- reading ---------------------------------------------------------------------------

    def headers_from(self, position: int) -> Iterator[Located]:
        """Headers of the batches from ``position`` to the end (one small read each)."""
        size = self.size
        while position < size:
            header = read_header(self.log.pread(position, HEADER_SIZE), whole=False)
            yield Located(position, header)
            position += header.size

    def find(self, offset: int) -> Located | None:
        """The first batch whose last offset is >= ``offset``, or None."""
        entry = self.offset_index.floor(offset - self.base_offset)
        position = self.offset_index.values[entry] if entry >= 0 else 0
        for located in self.headers_from(position):
            if located.header.last_offset >= offset:
                return located
        return None

    def read(self, position: int, max_bytes: int, max_offset: int | None) -> memoryview:
        """Whole batches from ``position``: at least one (even if over ``max_bytes``) unless
        it reaches ``max_offset``; CRCs checked, a bad one is ``LogCorruption``."""
        data = self.log.pread(position, max(max_bytes, HEADER_SIZE))
        first = read_header(data, whole=False)
        if first.size > len(data):
            data = self.log.pread(position, first.size)
        end = 0
        while len(data) - end >= HEADER_SIZE:
            header = read_header(data, end, whole=False)
            if end + header.size > len(data) or (end and end + header.size > max_bytes):
                break
            if max_offset is not None and header.last_offset >= max_offset:
                break
            try:
                check_crc(data, end, header)
            except CorruptRecord as exc:
                raise LogCorruption(f"segment {self.name} byte {position + end}: "
                                    f"{exc.message}") from exc
            end += header.size
        return memoryview(data)[:end]

    def offset_for_timestamp(self, timestamp_ms: int) -> int | None:
        """The first offset in this segment whose record timestamp is >= ``timestamp_ms``."""
        entry = self.time_index.lower(timestamp_ms)
        start = self.base_offset + (self.time_index.values[entry] if entry >= 0 else 0)
        located = self.find(start)
        if located is None:
            return None
        for position, header in self.headers_from(located.position):
            if header.max_timestamp >= timestamp_ms:
                records = decode_batch(self.log.pread(position, header.size))
                return next(r.offset for r in records if r.timestamp_ms >= timestamp_ms)
        return None

    # --- truncation and lifecycle --------------------------------------------------------

    def truncate_to(self, offset: int) -> int:
        """Drop the batch containing ``offset`` and everything after; return bytes dropped."""
        located = self.find(offset)
        if located is None:
            return 0
        dropped = self.size - located.position
        self.log.truncate(located.position)
        kept = sum(1 for p in self.offset_index.values if p < located.position)
        self._walk(self._restart_from_entry(kept), None)
        if not self.size:
            self.first_batch_timestamp = None
        self._dirty = True
        return dropped

    def close(self) -> None:
        self.flush(sync_indexes=True)
        self.log.close()
        self.offset_index.close()
        self.time_index.close()

    def delete(self, directory: Directory) -> None:
        """Close and remove the segment's files."""
        self.log.close()
        self.offset_index.close()
        self.time_index.close()
        for suffix in (INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX):
            directory.delete(self.name + suffix)


__all__ = [
    "CLEANED_SUFFIX", "INDEX_SUFFIX", "LOG_SUFFIX", "TIME_INDEX_SUFFIX", "Located", "LogSegment",
    "segment_name",
]
