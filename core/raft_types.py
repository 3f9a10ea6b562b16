"""The values a ``RaftNode`` exchanges with the code that drives it (not wire messages).

Owns: ``Role``, ``HardState``, ``Snapshot``, ``PersistentState`` (what the raft store loads),
``ReadState`` (a linearizable read that may be served), ``Ready`` (the effects of one step,
to be carried out in order), and ``NotLeader`` (the error ``propose``/``read_index`` raise).
Must never: do I/O or interpret commands.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from zafka.core.errors import NotController
from zafka.core.messages import (
    AppendEntries,
    AppendEntriesResponse,
    InstallSnapshot,
    InstallSnapshotResponse,
    RaftEntry,
    RaftRole,
    RequestVote,
    RequestVoteResponse,
    SnapshotMeta,
)

RaftMessage = (
    RequestVote | RequestVoteResponse | AppendEntries | AppendEntriesResponse
    | InstallSnapshot | InstallSnapshotResponse
)


Role = RaftRole
"""A raft member's role (declared in the catalogue, where status replies carry it)."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class HardState:
    """What must be durable before any message that depends on it is sent.

    ``commit`` rides along (a restarted node re-applies up to it at once); a Ready carries a
    hard state only when the term or the vote changed, so commits cost no extra fsync.
    """

    term: int = 0
    voted_for: int | None = None
    commit: int = 0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """The application's state as of ``meta.index``, as opaque bytes."""

    meta: SnapshotMeta
    data: bytes


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PersistentState:
    """Everything a raft store holds: hard state, snapshot, and the entries after it."""

    hard_state: HardState = HardState()
    snapshot: Snapshot | None = None
    entries: tuple[RaftEntry, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ReadState:
    """A read-index read: serve ``ctx`` from the state machine once applied >= ``index``."""

    ctx: Any
    index: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Ready:
    """The effects of one or more steps; carry them out in field order, then ``advance``.

    1. persist and fsync: ``snapshot`` (then drop stored entries <= its index), drop stored
       entries >= ``truncate_from``, append ``entries``, write ``hard_state`` (set when the
       term or vote changed);
    2. send ``messages`` (each addressed by ``to_id``);
    3. load ``apply_snapshot`` into the state machine, then apply ``committed_entries``
       in order (command ``None`` is the leader's no-op: skip it);
    4. serve ``reads`` (every one has index <= the last applied entry by now) and fail
       ``dropped_reads`` (contexts whose leader lost leadership) with ``NotLeader``;
    5. call ``RaftNode.advance(ready)``.
    """

    hard_state: HardState | None = None
    snapshot: Snapshot | None = None
    truncate_from: int | None = None
    entries: tuple[RaftEntry, ...] = ()
    messages: tuple[RaftMessage, ...] = ()
    apply_snapshot: Snapshot | None = None
    committed_entries: tuple[RaftEntry, ...] = ()
    reads: tuple[ReadState, ...] = ()
    dropped_reads: tuple[Any, ...] = ()


class NotLeader(NotController):
    """This coordinator is not the raft leader; ``leader_id`` is the one it knows, if any."""

    def __init__(self, leader_id: int | None) -> None:
        super().__init__(f"not the controller; leader is {leader_id}")
        self.leader_id = leader_id


__all__ = [
    "HardState", "NotLeader", "PersistentState", "RaftMessage", "ReadState", "Ready", "Role",
    "Snapshot",
]
