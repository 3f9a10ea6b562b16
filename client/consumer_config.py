"""The consumer's options (kafka-python ``KafkaConsumer`` names), records and errors.

Owns: ``ConsumerConfig`` — every option a ``Consumer`` accepts, its default and the rules
between options (``validate``); ``ConsumerRecord``, what ``poll()`` returns; the consumer's
own errors (``CommitFailed``, ``NoOffsetForPartition``, ``IllegalStateError``).

Must never: do I/O or hold state beyond the option values.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from zafka.core.errors import OffsetOutOfRange, ZafkaError
from zafka.core.messages import TopicPartition

OFFSET_RESET = {"earliest": -2, "smallest": -2, "latest": -1, "largest": -1, "none": None}
DEFAULT_ASSIGNORS = ("range", "roundrobin")
COOPERATIVE = "cooperative-sticky"

PartitionsCallback = Callable[[list[TopicPartition]], Any]


class ConsumerRecord(NamedTuple):
    """One consumed record: where it sits in the log and its deserialized key and value."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: Any
    value: Any
    headers: tuple[tuple[str, bytes | None], ...]


class IllegalStateError(ZafkaError):
    """A call that the consumer's state does not allow (e.g. seek on an unassigned
    partition, assign() while subscribed)."""


class CommitFailed(ZafkaError):
    """The group refused a commit: this consumer's generation is stale (the group rebalanced
    without it, or it left); poll() again to rejoin, then commit what it consumes anew."""


class NoOffsetForPartition(OffsetOutOfRange):
    """No committed offset and ``auto_offset_reset="none"``: seek before polling."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ConsumerConfig:
    """Every option of ``Consumer``, named and defaulted like kafka-python's."""

    client_id: str = "zafka-consumer"
    group_id: str | None = None
    key_deserializer: Any = "bytes"
    value_deserializer: Any = "bytes"
    fetch_min_bytes: int = 1
    fetch_max_wait_ms: int = 500
    fetch_max_bytes: int = 52_428_800
    max_partition_fetch_bytes: int = 1_048_576
    request_timeout_ms: int = 30_000
    retry_backoff_ms: int = 100
    auto_offset_reset: str = "latest"
    enable_auto_commit: bool | None = None  # None: True when group_id is set
    auto_commit_interval_ms: int = 5_000
    check_crcs: bool = True
    metadata_max_age_ms: int = 300_000
    partition_assignment_strategy: Sequence[Any] = DEFAULT_ASSIGNORS
    max_poll_records: int = 500
    max_poll_interval_ms: int = 300_000
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    consumer_timeout_ms: float = math.inf
    exclude_internal_topics: bool = True
    on_assign: PartitionsCallback | None = None
    on_revoke: PartitionsCallback | None = None

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> ConsumerConfig:
        """Build from keyword options; an unknown name is a ``TypeError`` listing the known."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(f"unknown Consumer option(s) {', '.join(unknown)}; known: "
                            f"{', '.join(sorted(known))}")
        config = cls(**options)
        if config.enable_auto_commit is None:
            config = dataclasses.replace(config, enable_auto_commit=config.group_id is not None)
        return config.validate()

    @property
    def assignors(self) -> tuple[str, ...]:
        """Protocol names of ``partition_assignment_strategy`` (names or assignor classes)."""
        return tuple(s if isinstance(s, str) else str(s.name)
                     for s in self.partition_assignment_strategy)

    @property
    def cooperative(self) -> bool:
        """Incremental rebalancing: only when every strategy is cooperative."""
        return all(name == COOPERATIVE for name in self.assignors)

    @property
    def reset_timestamp(self) -> int | None:
        """ListOffsets timestamp of ``auto_offset_reset`` (None for "none")."""
        return OFFSET_RESET[self.auto_offset_reset]

    def validate(self) -> ConsumerConfig:
        """Raise ``ValueError`` naming the first broken rule; return self."""
        rules = [
            (self.auto_offset_reset in OFFSET_RESET,
             f"auto_offset_reset must be one of earliest, latest, none, not "
             f"{self.auto_offset_reset!r}"),
            (self.max_poll_records >= 1, "max_poll_records >= 1"),
            (self.fetch_max_wait_ms >= 0, "fetch_max_wait_ms >= 0"),
            (self.fetch_min_bytes >= 0, "fetch_min_bytes >= 0"),
            (self.max_partition_fetch_bytes > 0 and self.fetch_max_bytes > 0,
             "fetch sizes > 0"),
            (self.request_timeout_ms > self.fetch_max_wait_ms,
             "request_timeout_ms > fetch_max_wait_ms"),
            (0 < self.heartbeat_interval_ms < self.session_timeout_ms,
             "0 < heartbeat_interval_ms < session_timeout_ms"),
            (self.max_poll_interval_ms > 0, "max_poll_interval_ms > 0"),
            (self.auto_commit_interval_ms > 0, "auto_commit_interval_ms > 0"),
            (bool(self.assignors), "partition_assignment_strategy names at least one"),
            (not self.enable_auto_commit or self.group_id is not None,
             "enable_auto_commit needs a group_id"),
        ]
        for ok, rule in rules:
            if not ok:
                raise ValueError(f"invalid consumer options: {rule}")
        return self


__all__ = [
    "COOPERATIVE", "CommitFailed", "ConsumerConfig", "ConsumerRecord", "IllegalStateError",
    "NoOffsetForPartition", "OFFSET_RESET", "PartitionsCallback",
]
