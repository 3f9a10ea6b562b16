"""The topic configs a partition log obeys, as one frozen record.

Owns: ``LogConfig`` and its defaults (Kafka's).  Shared by the log and its cleaner.
"""

from __future__ import annotations

import dataclasses

DAY_MS = 24 * 60 * 60 * 1000


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LogConfig:
    """The topic configs a partition log obeys (Kafka's names, dots become underscores)."""

    segment_bytes: int = 1024 * 1024 * 1024
    segment_ms: int = 7 * DAY_MS
    index_interval_bytes: int = 4096
    max_message_bytes: int = 1024 * 1024 + 12 * 1024
    retention_ms: int = 7 * DAY_MS
    """-1: keep forever."""
    retention_bytes: int = -1
    """-1: no size limit."""
    cleanup_policy: str = "delete"
    """"delete", "compact" or "compact,delete"."""
    delete_retention_ms: int = DAY_MS
    flush_messages: int | None = None
    """Lazy flush after this many unflushed records (None with flush_ms None: fsync before
    every acknowledgement, the safe default)."""
    flush_ms: int | None = None
    recovery_checkpoint_interval_ms: int = 60_000
    log_append_time: bool = False
    """``message.timestamp.type=LogAppendTime``: the leader stamps each batch with its clock."""

    def __post_init__(self) -> None:
        assert self.segment_bytes >= 14 + 61, self.segment_bytes
        assert self.index_interval_bytes >= 0 and self.max_message_bytes > 0
        assert set(self.cleanup_policy.split(",")) <= {"delete", "compact"}, self.cleanup_policy

    @property
    def fsync_before_ack(self) -> bool:
        return self.flush_messages is None and self.flush_ms is None


__all__ = ["DAY_MS", "LogConfig"]
