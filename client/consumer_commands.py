"""The commands a ``ConsumerActor`` serves, told to its ref by the blocking facade or by the
user's own actors.

Owns: one frozen dataclass per command.  Each carries ``reply``, a
``concurrent.futures.Future`` that the actor completes with the result (or fails with the
error) when it is ready — at once for most commands, later for ``Poll`` (held until records
arrive or its timeout) and for calls that need a broker or the group coordinator.  An actor
that holds the consumer's ref never blocks on it: it attaches a done-callback to ``reply``
that tells itself the outcome.

These commands stay inside one process (a future cannot travel), so they are not part of the
wire catalogue in ``core.messages``.

Must never: carry behaviour.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import Future
from typing import Any

from zafka.core.group_codec import OffsetAndMetadata
from zafka.core.messages import TopicPartition


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ConsumerCommand:
    """Base of the commands: ``reply`` is completed by the actor."""

    reply: Future[Any]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Poll(ConsumerCommand):
    """Records available now, else wait up to ``timeout_ms``; completes with a
    ``PollResult``.  A poll after a result that revoked partitions acknowledges that the
    revocation callback has run."""

    timeout_ms: int
    max_records: int


@dataclasses.dataclass(frozen=True, slots=True)
class PollResult:
    """Records for the caller, or a rebalance event to run callbacks for (never both)."""

    records: list[Any]
    revoked: list[TopicPartition] | None = None
    assigned: list[TopicPartition] | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Subscribe(ConsumerCommand):
    """Subscribe to ``topics`` or to every topic matching ``pattern`` (a regex)."""

    topics: tuple[str, ...]
    pattern: str | None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Unsubscribe(ConsumerCommand):
    """Drop the subscription or manual assignment (leaving the group)."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Assign(ConsumerCommand):
    """Manually assign exactly ``partitions`` (no group membership)."""

    partitions: tuple[TopicPartition, ...]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Describe(ConsumerCommand):
    """Completes with ``ConsumerView`` (assignment, subscription, paused partitions)."""


@dataclasses.dataclass(frozen=True, slots=True)
class ConsumerView:
    """A snapshot of what the consumer is assigned, subscribed to and has paused."""

    assignment: frozenset[TopicPartition]
    subscription: frozenset[str] | None
    paused: frozenset[TopicPartition]
    member_id: str
    generation_id: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Seek(ConsumerCommand):
    """Set the position of each partition to an offset, or to ``EARLIEST``/``LATEST``
    (-2 / -1, resolved lazily by the leader); completes with None."""

    positions: tuple[tuple[TopicPartition, int], ...]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Position(ConsumerCommand):
    """Completes with the next offset ``poll()`` returns for ``partition`` (resolving a
    committed offset or a reset first)."""

    partition: TopicPartition


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Pause(ConsumerCommand):
    """Stop (``paused=True``) or restart fetching ``partitions``."""

    partitions: tuple[TopicPartition, ...]
    paused: bool


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Commit(ConsumerCommand):
    """Commit ``offsets`` (None: every assigned partition's position); completes with the
    committed ``{TopicPartition: OffsetAndMetadata}``."""

    offsets: dict[TopicPartition, OffsetAndMetadata] | None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Committed(ConsumerCommand):
    """Completes with ``{TopicPartition: OffsetAndMetadata | None}`` from the coordinator."""

    partitions: tuple[TopicPartition, ...]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ListOffsets(ConsumerCommand):
    """Completes with ``{TopicPartition: offset}`` for a ListOffsets timestamp
    (-2 beginning, -1 end = high watermark)."""

    partitions: tuple[TopicPartition, ...]
    timestamp: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PartitionsFor(ConsumerCommand):
    """Completes with the partition ids of ``topic`` (None when it does not exist), or every
    topic name when ``topic`` is None."""

    topic: str | None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Close(ConsumerCommand):
    """Commit (if ``autocommit``), leave the group, fail held calls; completes with None."""

    autocommit: bool


__all__ = [
    "Assign", "Close", "Commit", "Committed", "ConsumerCommand", "ConsumerView", "Describe",
    "ListOffsets", "PartitionsFor", "Pause", "Poll", "PollResult", "Position", "Seek",
    "Subscribe", "Unsubscribe",
]
