"""Log compaction (``cleanup.policy=compact``): keep the newest record of every key.

Owns the rewrite of closed segments: records superseded by a newer record with the same key
are removed, tombstones (null value) are removed once older than ``delete.retention.ms``
(by record timestamp), surviving records keep their offsets and their batch keeps its offset
range and producer state.  A rewritten segment is written to ``<name>.log.cleaned``, synced,
its indexes deleted, then renamed over ``<name>.log`` (atomic); a crash leaves the old or the
new segment and a stray ``.cleaned`` file is deleted on open.

Must never: touch the active segment; reorder or renumber records.  Records without a key are
kept.  Batches left empty are dropped (their producer state is lost, as in old Kafka).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zafka.storage.files import Directory
from zafka.storage.records import ConsumerRecord, decode_batch, rebuild_batch
from zafka.storage.segment import (
    CLEANED_SUFFIX,
    INDEX_SUFFIX,
    LOG_SUFFIX,
    TIME_INDEX_SUFFIX,
    LogSegment,
)

if TYPE_CHECKING:
    from zafka.storage.log_config import LogConfig


def _latest_offsets(segments: list[LogSegment]) -> dict[bytes, int]:
    latest: dict[bytes, int] = {}
    for segment in segments:
        for position, header in segment.headers_from(0):
            if header.is_control:
                continue
            for record in decode_batch(segment.log.pread(position, header.size)):
                if record.key is not None:
                    latest[record.key] = record.offset
    return latest


def compact_segments(directory: Directory, segments: list[LogSegment], config: LogConfig,
                     now_ms: int) -> tuple[int, list[LogSegment | None]]:
    """Compact ``segments`` (closed, in order); return (records removed, for each segment
    its replacement or None if unchanged)."""
    latest = _latest_offsets(segments)
    horizon = now_ms - config.delete_retention_ms

    def keep(record: ConsumerRecord) -> bool:
        if record.key is None:
            return True
        if latest[record.key] != record.offset:
            return False
        return record.value is not None or record.timestamp_ms >= horizon

    removed = 0
    replaced: list[LogSegment | None] = []
    for segment in segments:
        parts: list[bytes] = []
        segment_removed = 0
        for position, header in segment.headers_from(0):
            raw = segment.log.pread(position, header.size)
            if header.is_control:
                parts.append(raw)
                continue
            records = decode_batch(raw)
            kept = [r for r in records if keep(r)]
            segment_removed += len(records) - len(kept)
            if len(kept) == len(records):
                parts.append(raw)
            elif kept:
                parts.append(rebuild_batch(header, kept))
        removed += segment_removed
        replaced.append(_replace(directory, segment, b"".join(parts), config)
                        if segment_removed else None)
    return removed, replaced


def _replace(directory: Directory, segment: LogSegment, data: bytes, config: LogConfig
             ) -> LogSegment:
    cleaned_name = segment.name + LOG_SUFFIX + CLEANED_SUFFIX
    cleaned = directory.open(cleaned_name)
    cleaned.truncate(0)
    cleaned.append(data)
    cleaned.sync()
    cleaned.close()
    segment.close()
    directory.delete(segment.name + INDEX_SUFFIX)
    directory.delete(segment.name + TIME_INDEX_SUFFIX)
    directory.rename(cleaned_name, segment.name + LOG_SUFFIX)
    fresh = LogSegment(directory, segment.base_offset, config.index_interval_bytes)
    fresh.load(None)
    fresh.flush(sync_indexes=True)
    return fresh


__all__ = ["compact_segments"]
