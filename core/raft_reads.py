"""Read-index reads (§6.4 of Ongaro's thesis) waiting on a raft leader.

Owns: the reads a leader has accepted, from request to ``ReadState``: waiting for an entry of
the leader's term to commit (which fixes the read index), then for a majority to acknowledge
a heartbeat round sent after the request (``seq``), then for the application to apply up to
the read index.  Reads still unconfirmed when leadership is lost are dropped.
Must never: decide leadership or touch the log.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from typing import Any

from zafka.core.raft_types import ReadState


@dataclasses.dataclass(slots=True)
class _PendingRead:
    ctx: Any
    seq: int
    index: int | None  # None until an entry of the leader's term is committed


class ReadIndexQueue:
    """Reads in request order; ``seq`` numbers the heartbeat rounds that confirm them."""

    def __init__(self) -> None:
        self.seq = 0
        self._pending: deque[_PendingRead] = deque()
        self._confirmed: deque[ReadState] = deque()
        self._dropped: list[Any] = []

    @property
    def has_pending(self) -> bool:
        return bool(self._pending)

    def start(self, ctx: Any, index: int | None) -> None:
        """A new read; the caller sends a heartbeat round carrying the new ``seq``."""
        self.seq += 1
        self._pending.append(_PendingRead(ctx, self.seq, index))

    def on_commit_in_term(self, index: int) -> None:
        """The leader's first commit in its term fixes the index of the reads waiting on it."""
        for read in self._pending:
            if read.index is None:
                read.index = index

    def confirm(self, acknowledged_seq: int) -> None:
        """A majority acknowledged every heartbeat round up to ``acknowledged_seq``."""
        while self._pending:
            read = self._pending[0]
            if read.seq > acknowledged_seq or read.index is None:
                return
            self._pending.popleft()
            self._confirmed.append(ReadState(ctx=read.ctx, index=read.index))

    def drop_pending(self) -> None:
        """Leadership lost: unconfirmed reads fail (confirmed ones stay valid)."""
        self._dropped.extend(read.ctx for read in self._pending)
        self._pending.clear()

    def has_work(self, applied: int) -> bool:
        return bool(self._dropped or (self._confirmed and self._confirmed[0].index <= applied))

    def take_servable(self, applied: int) -> tuple[ReadState, ...]:
        served: list[ReadState] = []
        while self._confirmed and self._confirmed[0].index <= applied:
            served.append(self._confirmed.popleft())
        return tuple(served)

    def take_dropped(self) -> tuple[Any, ...]:
        dropped = tuple(self._dropped)
        self._dropped.clear()
        return dropped
