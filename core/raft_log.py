"""A raft member's in-memory log: a snapshot boundary and the entries after it.

Owns: the entries with index > ``snapshot_index`` and the (index, term) of the last entry the
snapshot covers.  Tracks nothing about durability (``core.raft`` does).
Must never: interpret commands or do I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.messages import RaftEntry


class RaftLog:
    """Entries ``snapshot_index + 1 .. last_index``, contiguous, terms non-decreasing."""

    def __init__(self, snapshot_index: int, snapshot_term: int,
                 entries: Sequence[RaftEntry]) -> None:
        self.snapshot_index = snapshot_index
        self.snapshot_term = snapshot_term
        self._entries: list[RaftEntry] = list(entries)
        self.check()

    @property
    def last_index(self) -> int:
        return self.snapshot_index + len(self._entries)

    @property
    def last_term(self) -> int:
        return self._entries[-1].term if self._entries else self.snapshot_term

    def term_at(self, index: int) -> int | None:
        """The term of the entry at ``index``; None if compacted away or beyond the end."""
        if index == self.snapshot_index:
            return self.snapshot_term
        if self.snapshot_index < index <= self.last_index:
            return self._entries[index - self.snapshot_index - 1].term
        return None

    def entry(self, index: int) -> RaftEntry:
        assert self.snapshot_index < index <= self.last_index, (index, self.snapshot_index)
        return self._entries[index - self.snapshot_index - 1]

    def slice(self, lo: int, hi: int) -> tuple[RaftEntry, ...]:
        """Entries with lo <= index < hi (clipped to the end of the log)."""
        assert lo > self.snapshot_index, (lo, self.snapshot_index)
        start = lo - self.snapshot_index - 1
        return tuple(self._entries[start:max(start, hi - self.snapshot_index - 1)])

    def append(self, entry: RaftEntry) -> None:
        assert entry.index == self.last_index + 1, (entry.index, self.last_index)
        assert entry.term >= self.last_term, (entry.term, self.last_term)
        self._entries.append(entry)

    def truncate_from(self, index: int) -> None:
        """Drop every entry with index >= ``index``."""
        assert index > self.snapshot_index, (index, self.snapshot_index)
        del self._entries[index - self.snapshot_index - 1:]

    def compact(self, index: int) -> None:
        """Drop the prefix up to ``index``, which becomes the snapshot boundary."""
        term = self.term_at(index)
        assert term is not None and index > self.snapshot_index, (index, self.snapshot_index)
        del self._entries[:index - self.snapshot_index]
        self.snapshot_index, self.snapshot_term = index, term

    def reset(self, index: int, term: int) -> None:
        """Discard every entry: the log restarts after a snapshot at (index, term)."""
        self._entries.clear()
        self.snapshot_index, self.snapshot_term = index, term

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """§5.4.1: a log ending at (last_index, last_term) is at least as up-to-date as ours."""
        return (last_term, last_index) >= (self.last_term, self.last_index)

    def first_index_of_term(self, index: int, floor: int) -> int:
        """The first index (not below ``floor``) of the run of entries holding index's term."""
        term = self.term_at(index)
        while index - 1 >= floor and self.term_at(index - 1) == term:
            index -= 1
        return index

    def last_index_of_term(self, term: int) -> int | None:
        """The last index whose entry has ``term``; None if the log has no such entry."""
        for entry in reversed(self._entries):
            if entry.term == term:
                return entry.index
            if entry.term < term:
                return None
        return self.snapshot_index if self.snapshot_term == term else None

    def check(self) -> None:
        """Assert contiguity and non-decreasing terms (cheap only on short logs: tests)."""
        previous = self.snapshot_term
        for offset, entry in enumerate(self._entries):
            assert entry.index == self.snapshot_index + 1 + offset, entry
            assert entry.term >= previous, entry
            previous = entry.term
