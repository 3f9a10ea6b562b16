"""Plain data shared by the leader and follower replication cores: effects and epoch lookups.

Owns: the effect records the cores hand to their actors (acks completed, fetches woken,
AlterPartition proposals, truncation decisions) and the ``EpochHistory`` protocol through which
a core asks "where does epoch N end in my log?" without depending on storage.

Must never: hold state, perform I/O, or import anything outside the standard library.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable
from typing import Protocol

from zafka.core.errors import ErrorCode
from zafka.core.messages import EpochEndOffset

UNDEFINED_EPOCH = -1
UNDEFINED_OFFSET = -1
CONSUMER_REPLICA_ID = -1
ACKS_NONE = 0
ACKS_LEADER = 1
ACKS_ALL = -1


class EpochHistory(Protocol):
    """A replica's leader-epoch history (``PartitionLog`` satisfies it).

    ``end_offset_for_epoch(epoch)`` follows Kafka's ``LeaderEpochFileCache.endOffsetFor``:
    for the latest epoch -> (epoch, log end offset); otherwise (largest epoch <= ``epoch``,
    start offset of the first epoch above ``epoch``); (-1, -1) when ``epoch`` is above every
    epoch of the log or the history is empty.  A leader's history must contain its own epoch
    from the moment it becomes leader (Kafka's ``assign(epoch, logEndOffset)``).
    """

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]: ...


UNDEFINED_EPOCH_END = EpochEndOffset(leader_epoch=UNDEFINED_EPOCH, end_offset=UNDEFINED_OFFSET)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AckCompleted:
    """A pending produce ack is done: reply to ``key`` with ``error`` (NONE = success)."""

    key: Hashable
    last_offset: int
    error: ErrorCode


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FetchCompleted:
    """A held long-poll fetch is ready (data arrived, it expired, or the leader resigned)."""

    key: Hashable
    error: ErrorCode
    expired: bool


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AlterPartitionProposal:
    """Ask the controller to set the ISR; valid only at these leader and partition epochs."""

    topic: str
    partition: int
    leader_id: int
    leader_epoch: int
    partition_epoch: int
    new_isr: tuple[int, ...]


@dataclasses.dataclass(slots=True)
class LeaderEffects:
    """What a leader-core call asks its actor to do, in this order: send, then reply."""

    high_watermark: int | None = None
    """The new HW if it moved (checkpoint it, and tell the log)."""
    alter_partition: AlterPartitionProposal | None = None
    completed_acks: list[AckCompleted] = dataclasses.field(default_factory=list)
    completed_fetches: list[FetchCompleted] = dataclasses.field(default_factory=list)
    resigned: bool = False
    """This replica no longer leads this epoch: drop the ``LeaderState``."""

    def merge(self, other: LeaderEffects) -> LeaderEffects:
        """Fold ``other`` (a later effect) into this one; return self."""
        if other.high_watermark is not None:
            self.high_watermark = other.high_watermark
        if other.alter_partition is not None:
            self.alter_partition = other.alter_partition
        self.completed_acks.extend(other.completed_acks)
        self.completed_fetches.extend(other.completed_fetches)
        self.resigned = self.resigned or other.resigned
        return self

    @property
    def empty(self) -> bool:
        return (self.high_watermark is None and self.alter_partition is None
                and not self.completed_acks and not self.completed_fetches
                and not self.resigned)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FetchDecision:
    """How to answer one fetch: read [fetch_offset, max_offset) unless ``error`` is set."""

    error: ErrorCode
    fetch_offset: int
    max_offset: int
    """Exclusive bound: the HW for consumers, the leader's log end offset for followers."""
    high_watermark: int
    diverging_epoch: EpochEndOffset | None = None
    """Set for a follower whose log diverges: truncate to this and fetch again."""
    effects: LeaderEffects = dataclasses.field(default_factory=LeaderEffects)

    @property
    def has_data(self) -> bool:
        """True if there is something to read now (else a long-poll may wait)."""
        return (self.error == ErrorCode.NONE and self.diverging_epoch is None
                and self.fetch_offset < self.max_offset)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TruncationDecision:
    """A follower's next step after learning where the leader's epoch ends."""

    truncate_to: int
    """Truncate the log to this offset (exclusive end), then report with ``on_log_end``.
    Truncate even when it equals the log end: that drops leader-epoch entries starting at
    the end (an epoch this replica led without appending), as Kafka's ``truncateTo`` does."""
    ask_epoch: int | None = None
    """Not done yet: ask the leader again about this (older) epoch."""


__all__ = [
    "ACKS_ALL", "ACKS_LEADER", "ACKS_NONE", "CONSUMER_REPLICA_ID", "UNDEFINED_EPOCH",
    "UNDEFINED_EPOCH_END", "UNDEFINED_OFFSET", "AckCompleted", "AlterPartitionProposal",
    "EpochEndOffset", "EpochHistory", "FetchCompleted", "FetchDecision", "LeaderEffects",
    "TruncationDecision",
]
