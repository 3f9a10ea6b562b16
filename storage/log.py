"""The partition log: an ordered list of segments, appends, reads, durability, retention.

Owns one partition directory: its segments, the leader-epoch cache and the recovery-point and
high-watermark checkpoints.  Appends take whole v2 batches; the log validates their CRCs and
sizes, assigns offsets (leader) or checks them (follower) by patching headers, and never
decodes records (except ``offset_for_timestamp`` and compaction, off the hot path).

Durability: appends reach the OS at once and are durable after ``flush()`` (one fsync covers
every append since the last: group commit).  The recovery point (the flushed offset) is
checkpointed on close, on roll, on truncation and at most every
``recovery_checkpoint_interval_ms``; recovery on open scans only what follows it.

Must never: know about replication, leaders, ISR or high-watermark rules (the caller passes
the HW to checkpoint and ``max_offset`` to read); block on anything but its own files.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from zafka.core.errors import CorruptRecord, InvalidRequest, OffsetOutOfRange
from zafka.storage.checkpoints import (
    HIGH_WATERMARK_CHECKPOINT,
    RECOVERY_POINT_CHECKPOINT,
    LeaderEpochCache,
    read_offset_checkpoint,
    write_offset_checkpoint,
)
from zafka.storage.cleaner import compact_segments
from zafka.storage.files import Buffer, Directory, DiskDirectory, LogCorruption
from zafka.storage.log_config import LogConfig
from zafka.storage.records import (
    BatchHeader,
    check_crc,
    read_header,
    set_base_offset,
    set_log_append_time,
    set_partition_leader_epoch,
    validate_batches,
)
from zafka.storage.segment import CLEANED_SUFFIX, LOG_SUFFIX, LogSegment

log = logging.getLogger(__name__)

_MAX_RELATIVE_OFFSET = 2**31 - 1


@dataclasses.dataclass(frozen=True, slots=True)
class AppendInfo:
    """What one append wrote: offsets, timestamps and the headers as stored."""

    first_offset: int
    last_offset: int
    max_timestamp_ms: int
    record_count: int
    size_bytes: int
    batches: tuple[BatchHeader, ...]


class PartitionLog:
    """One partition replica's log in one directory (see the module docstring)."""

    def __init__(self, directory: Directory, config: LogConfig, clock_ms: Callable[[], int]
                 ) -> None:
        self.directory = directory
        self.config = config
        self.clock_ms = clock_ms
        self._load()

    @classmethod
    def open(cls, directory: str | Path, config: LogConfig, clock_ms: Callable[[], int]
             ) -> PartitionLog:
        """Open (creating if needed) and recover the log stored in ``directory``."""
        return cls(DiskDirectory(directory), config, clock_ms)

    # --- opening ---------------------------------------------------------------------------

    def _load(self) -> None:
        for name in self.directory.names():
            if name.endswith((CLEANED_SUFFIX, ".tmp")):
                self.directory.delete(name)
        bases = sorted(int(n[:-len(LOG_SUFFIX)]) for n in self.directory.names()
                       if n.endswith(LOG_SUFFIX))
        checkpoint = read_offset_checkpoint(self.directory, RECOVERY_POINT_CHECKPOINT)
        recovery_point = checkpoint if checkpoint is not None else (bases[0] if bases else 0)
        self.segments: list[LogSegment] = []
        for i, base in enumerate(bases):
            segment = self._new_segment(base)
            clean = i + 1 < len(bases) and bases[i + 1] <= recovery_point
            if segment.load(None if clean else recovery_point):
                for later in bases[i + 1:]:
                    log.warning("deleting segment %d after a cut tail", later)
                    self._new_segment(later).delete(self.directory)
                self.segments.append(segment)
                break
            self.segments.append(segment)
        if not self.segments:
            self.segments.append(self._new_segment(recovery_point))
        if self.log_end_offset < recovery_point:
            raise LogCorruption(f"log ends at {self.log_end_offset} but offsets up to "
                                f"{recovery_point} were flushed: flushed data is missing")
        self.epoch_cache = LeaderEpochCache(self.directory)
        self.epoch_cache.truncate_from_end(self.log_end_offset)
        self.epoch_cache.truncate_from_start(self.log_start_offset)
        self._unflushed_records = 0
        self._last_flush_ms = self.clock_ms()
        self._checkpointed_recovery_point = -1
        self._checkpoint_ms = self.clock_ms()
        self.recovery_point = recovery_point
        for segment in self.segments:
            segment.flush(sync_indexes=True)
        self.flush()
        self._checkpoint_recovery_point()

    def _new_segment(self, base_offset: int) -> LogSegment:
        return LogSegment(self.directory, base_offset, self.config.index_interval_bytes)

    # --- offsets -----------------------------------------------------------------------------

    @property
    def log_start_offset(self) -> int:
        return self.segments[0].base_offset

    @property
    def log_end_offset(self) -> int:
        return self.segments[-1].next_offset

    @property
    def active_segment(self) -> LogSegment:
        return self.segments[-1]

    @property
    def size_bytes(self) -> int:
        return sum(s.size for s in self.segments)

    @property
    def latest_epoch(self) -> int:
        return self.epoch_cache.latest_epoch

    def assign_epoch(self, epoch: int, start_offset: int) -> None:
        """Record that leader ``epoch`` starts writing at ``start_offset``."""
        self.epoch_cache.assign(epoch, start_offset)

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        """Kafka's OffsetForLeaderEpoch answer: (epoch, end offset), see LeaderEpochCache."""
        return self.epoch_cache.end_offset_for(epoch, self.log_end_offset)

    # --- appending -----------------------------------------------------------------------

    def append_as_leader(self, batches: Buffer, leader_epoch: int,
                         now_ms: int | None = None) -> AppendInfo:
        """Validate, assign offsets from the LEO, stamp ``leader_epoch`` (and, for a
        LogAppendTime log, ``now_ms`` as every batch's timestamp), append."""
        headers = validate_batches(batches, self.config.max_message_bytes)
        if not headers:
            raise InvalidRequest("an append needs at least one batch")
        data = bytearray(batches)
        self.epoch_cache.assign(leader_epoch, self.log_end_offset)
        position = 0
        next_offset = self.log_end_offset
        stored = []
        stamp = now_ms if self.config.log_append_time else None
        for header in headers:
            set_base_offset(data, position, next_offset)
            set_partition_leader_epoch(data, position, leader_epoch)
            if stamp is not None:
                set_log_append_time(data, position, stamp)
                header = read_header(data, position)
            stored.append(header._replace(base_offset=next_offset,
                                          partition_leader_epoch=leader_epoch))
            next_offset += header.last_offset_delta + 1
            position += header.size
        return self._append(data, stored)

    def append_as_follower(self, batches: Buffer) -> AppendInfo:
        """Append batches whose offsets the leader assigned; they must start at the LEO."""
        headers = validate_batches(batches, None)
        if not headers:
            raise InvalidRequest("an append needs at least one batch")
        expected = self.log_end_offset
        for header in headers:
            if header.base_offset != expected:
                raise InvalidRequest(f"follower append: batch at offset {header.base_offset}, "
                                     f"expected {expected} (log end offset chain)")
            if header.partition_leader_epoch > self.epoch_cache.latest_epoch:
                self.epoch_cache.assign(header.partition_leader_epoch, header.base_offset)
            expected = header.next_offset
        return self._append(batches, headers)

    def _append(self, data: Buffer, headers: list[BatchHeader]) -> AppendInfo:
        max_timestamp = max(h.max_timestamp for h in headers)
        if self._should_roll(len(data), max_timestamp, headers[-1].last_offset):
            self.roll()
        self.active_segment.append(data, headers)
        records = sum(h.record_count for h in headers)
        self._unflushed_records += records
        return AppendInfo(headers[0].base_offset, headers[-1].last_offset, max_timestamp,
                          records, len(data), tuple(headers))

    def _should_roll(self, size: int, max_timestamp: int, last_offset: int) -> bool:
        segment = self.active_segment
        if not segment.size:
            return False
        rolling = segment.first_batch_timestamp
        return (segment.size + size > self.config.segment_bytes
                or (rolling is not None and max_timestamp - rolling > self.config.segment_ms)
                or last_offset - segment.base_offset > _MAX_RELATIVE_OFFSET)

    def roll(self) -> LogSegment:
        """Close the active segment (flushing it) and start a new one at the LEO."""
        if self.active_segment.size:
            self.flush()
            self.active_segment.flush(sync_indexes=True)
            self.segments.append(self._new_segment(self.log_end_offset))
            self._checkpoint_recovery_point()
        return self.active_segment

    # --- durability ------------------------------------------------------------------------

    @property
    def has_closed_segments(self) -> bool:
        """Whether retention or compaction could touch anything (they never touch the
        active segment)."""
        return len(self.segments) > 1

    @property
    def needs_flush(self) -> bool:
        return self.recovery_point < self.log_end_offset

    def flush(self) -> int:
        """fsync everything appended since the last flush; return the flushed offset.

        Only the active segment can hold unflushed data: ``roll()`` flushes the one it
        closes."""
        self.active_segment.flush()
        self.recovery_point = self.log_end_offset
        self._unflushed_records = 0
        now = self.clock_ms()
        self._last_flush_ms = now
        if now - self._checkpoint_ms >= self.config.recovery_checkpoint_interval_ms:
            self._checkpoint_recovery_point()
        return self.recovery_point

    def maybe_flush(self, now_ms: int) -> int:
        """Lazy policy: flush when ``flush_messages`` or ``flush_ms`` say so."""
        config = self.config
        due = (config.fsync_before_ack
               or (config.flush_messages is not None
                   and self._unflushed_records >= config.flush_messages)
               or (config.flush_ms is not None
                   and now_ms - self._last_flush_ms >= config.flush_ms))
        if due and self.needs_flush:
            return self.flush()
        return self.recovery_point

    def _checkpoint_recovery_point(self) -> None:
        self._checkpoint_ms = self.clock_ms()
        if self.recovery_point != self._checkpointed_recovery_point:
            write_offset_checkpoint(self.directory, RECOVERY_POINT_CHECKPOINT,
                                    self.recovery_point)
            self._checkpointed_recovery_point = self.recovery_point

    def checkpoint_high_watermark(self, high_watermark: int) -> None:
        """Store the HW atomically (read back by ``high_watermark_checkpoint`` on open)."""
        write_offset_checkpoint(self.directory, HIGH_WATERMARK_CHECKPOINT, high_watermark)

    @property
    def high_watermark_checkpoint(self) -> int:
        """The last checkpointed HW, clamped to [log start, LEO]; log start if none."""
        stored = read_offset_checkpoint(self.directory, HIGH_WATERMARK_CHECKPOINT)
        stored = self.log_start_offset if stored is None else stored
        return min(max(stored, self.log_start_offset), self.log_end_offset)

    # --- reading ---------------------------------------------------------------------------

    def _segment_index(self, offset: int) -> int:
        if offset < self.log_start_offset or offset > self.log_end_offset:
            raise OffsetOutOfRange(f"offset {offset} outside [{self.log_start_offset}, "
                                   f"{self.log_end_offset}]")
        low, high = 0, len(self.segments) - 1
        while low < high:
            middle = (low + high + 1) // 2
            if self.segments[middle].base_offset <= offset:
                low = middle
            else:
                high = middle - 1
        return low

    def read(self, offset: int, max_bytes: int, max_offset: int | None = None) -> memoryview:
        """Whole batches from the one containing ``offset``: at least one batch (even over
        ``max_bytes``), none reaching ``max_offset``; empty at the LEO or ``max_offset``."""
        first = self._segment_index(offset)
        if max_offset is not None and offset >= max_offset:
            return memoryview(b"")
        for segment in self.segments[first:]:
            located = segment.find(offset)
            if located is not None:
                return segment.read(located.position, max_bytes, max_offset)
        return memoryview(b"")

    def verify_tail(self, max_bytes: int) -> int | None:
        """CRC-check every batch in (about) the last ``max_bytes`` of the log, flushed or not;
        the base offset of the first damaged batch, or None.  Bounded work, so a replica can
        afford it at every open to catch a damaged tail (bit rot, a bad disk) before serving."""
        checked = 0
        found: int | None = None
        for segment in reversed(self.segments):
            start = max(0, segment.size - (max_bytes - checked))
            entry = bisect.bisect_right(segment.offset_index.values, start) - 1
            position = segment.offset_index.values[entry] if entry >= 0 else 0
            next_offset = segment.base_offset
            try:
                for located in segment.headers_from(position):
                    next_offset = located.header.base_offset
                    data = segment.log.pread(located.position, located.header.size)
                    check_crc(data, 0, located.header)
                    next_offset = located.header.next_offset
            except CorruptRecord:
                found = next_offset
            checked += segment.size - position
            if checked >= max_bytes:
                break
        return found

    def iter_batch_headers(self, from_offset: int) -> Iterator[BatchHeader]:
        """Headers of every batch ending at or after ``from_offset`` (no record decoding)."""
        first = self._segment_index(from_offset)
        for segment in self.segments[first:]:
            located = segment.find(from_offset)
            if located is not None:
                for _, header in segment.headers_from(located.position):
                    yield header

    def offset_for_timestamp(self, timestamp_ms: int) -> int | None:
        """The earliest offset whose record timestamp is >= ``timestamp_ms``, or None."""
        for segment in self.segments:
            if segment.max_timestamp >= timestamp_ms:
                found = segment.offset_for_timestamp(timestamp_ms)
                if found is not None:
                    return found
        return None

    # --- truncation --------------------------------------------------------------------------

    def truncate_to(self, offset: int) -> None:
        """Drop every batch at or after ``offset`` (the batch containing it, too).

        At or past the log end nothing is cut, but leader-epoch entries starting at the log
        end (an epoch this replica led without appending) are dropped, as Kafka does."""
        if offset >= self.log_end_offset:
            self.epoch_cache.truncate_from_end(self.log_end_offset)
            return
        if offset <= self.log_start_offset:
            self.truncate_fully_and_start_at(self.log_start_offset)
            return
        while len(self.segments) > 1 and self.active_segment.base_offset >= offset:
            self.segments.pop().delete(self.directory)
        self.active_segment.truncate_to(offset)
        self._after_truncation()

    def truncate_fully_and_start_at(self, offset: int) -> None:
        """Delete every segment and restart the log, empty, at ``offset``."""
        for segment in self.segments:
            segment.delete(self.directory)
        self.segments = [self._new_segment(offset)]
        self.epoch_cache.clear()
        self._after_truncation()

    def _after_truncation(self) -> None:
        self.epoch_cache.truncate_from_end(self.log_end_offset)
        self.active_segment.flush()
        self.recovery_point = min(self.recovery_point, self.log_end_offset)
        if self.log_start_offset > self.recovery_point:
            self.recovery_point = self.log_start_offset
        self._checkpoint_recovery_point()

    # --- retention and compaction ------------------------------------------------------------

    def apply_retention(self, now_ms: int) -> int:
        """Delete closed segments past ``retention_ms`` / ``retention_bytes``; return how
        many.  Never the active segment; the log start offset moves to the first kept."""
        if "delete" not in self.config.cleanup_policy.split(","):
            return 0
        deleted = 0
        excess = self.size_bytes - self.config.retention_bytes
        while len(self.segments) > 1:
            segment = self.segments[0]
            expired = (self.config.retention_ms >= 0
                       and now_ms - segment.max_timestamp > self.config.retention_ms)
            too_big = self.config.retention_bytes >= 0 and excess - segment.size >= 0
            if not (expired or too_big):
                break
            excess -= segment.size
            self.segments.pop(0).delete(self.directory)
            deleted += 1
        if deleted:
            self.epoch_cache.truncate_from_start(self.log_start_offset)
            self.recovery_point = max(self.recovery_point, self.log_start_offset)
        return deleted

    def compact(self, now_ms: int) -> int:
        """For ``cleanup.policy=compact``: keep the newest record per key in closed segments;
        return how many records were removed (see ``storage.cleaner``)."""

        if "compact" not in self.config.cleanup_policy.split(","):
            return 0
        removed, replaced = compact_segments(self.directory, self.segments[:-1],
                                             self.config, now_ms)
        for i, segment in enumerate(replaced):
            if segment is not None:
                self.segments[i] = segment
        return removed

    # --- lifecycle -------------------------------------------------------------------------

    def update_config(self, config: LogConfig) -> None:
        self.config = config
        for segment in self.segments:
            segment.index_interval_bytes = config.index_interval_bytes

    def close(self) -> None:
        """Flush, checkpoint the recovery point and close every file."""
        self.flush()
        self._checkpoint_recovery_point()
        for segment in self.segments:
            segment.close()

    def delete(self) -> None:
        """Close and remove the whole partition directory."""
        for segment in self.segments:
            segment.close()
        self.directory.delete_all()


__all__ = ["AppendInfo", "LogConfig", "PartitionLog"]
