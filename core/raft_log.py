"""A raft member's in-memory log: a snapshot boundary, the entries after it, and how much of
it is durable.

Owns: the entries with index > ``snapshot_index``, the (index, term) of the last entry the
snapshot covers, and the durability bookkeeping: entries from ``unstable_from`` on and a cut
at ``truncated_from`` still have to be persisted; ``stable_last`` is the last index known to
be durable with its current content.
Must never: interpret commands or do I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from zafka.core.messages import RaftEntry


class RaftLog:
    """Entries ``snapshot_index + 1 .. last_index``, contiguous, terms non-decreasing."""

    def __init__(self, snapshot_index: int, snapshot_term: int,
                 entries: Sequence[RaftEntry]) -> None:
        self.snapshot_index = snapshot_index
        self.snapshot_term = snapshot_term
        self._entries: list[RaftEntry] = list(entries)
        self.unstable_from: int | None = None
        self.truncated_from: int | None = None
        self.stable_last = self.last_index  # loaded entries are durable
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
        if self.unstable_from is None:
            self.unstable_from = entry.index

    def truncate_from(self, index: int) -> None:
        """Drop every entry with index >= ``index``."""
        assert index > self.snapshot_index, (index, self.snapshot_index)
        del self._entries[index - self.snapshot_index - 1:]
        self._note_truncation(index)

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
        self.unstable_from = None
        self._note_truncation(index + 1)

    def _note_truncation(self, index: int) -> None:
        if self.truncated_from is None or index < self.truncated_from:
            self.truncated_from = index
        if self.unstable_from is not None and self.unstable_from >= index:
            self.unstable_from = None
        self.stable_last = min(self.stable_last, index - 1)

    def take_unstable(self) -> tuple[int | None, tuple[RaftEntry, ...]]:
        """(truncate_from, entries) to persist; they count as durable after ``mark_stable``."""
        truncated_from, self.truncated_from = self.truncated_from, None
        unstable_from, self.unstable_from = self.unstable_from, None
        entries = (self.slice(unstable_from, self.last_index + 1)
                   if unstable_from is not None else ())
        return truncated_from, entries

    def mark_stable(self, snapshot_index: int | None, truncated_from: int | None,
                    entries: tuple[RaftEntry, ...]) -> None:
        """What ``take_unstable`` handed out is durable, except what changed since."""
        stable = self.stable_last
        if snapshot_index is not None:
            stable = max(stable, snapshot_index)
        if truncated_from is not None:
            stable = min(stable, truncated_from - 1)
        if entries:
            stable = entries[-1].index
        for pending in (self.unstable_from, self.truncated_from):
            if pending is not None:
                stable = min(stable, pending - 1)
        self.stable_last = min(stable, self.last_index)

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """§5.4.1: a log ending at (last_index, last_term) is at least as up-to-date as ours."""
        return (last_term, last_index) >= (self.last_term, self.last_index)

    def conflict_hint(self, index: int, floor: int) -> tuple[int, int]:
        """(conflict_term, conflict_index) for a refused append whose previous entry is at
        ``index``: our term there and the first index (not below ``floor``) holding it, or
        (0, last index + 1) if the log ends before ``index``."""
        term = self.term_at(index)
        if term is None:
            return 0, self.last_index + 1
        while index - 1 >= floor and self.term_at(index - 1) == term:
            index -= 1
        return term, index

    def next_after_conflict(self, conflict_term: int, conflict_index: int) -> int:
        """Where a leader resumes after a refusal: past the end of ``conflict_term`` in its own
        log if it holds that term, else at the follower's ``conflict_index``."""
        if conflict_term > 0:
            last_of_term = self.last_index_of_term(conflict_term)
            if last_of_term is not None:
                return last_of_term + 1
        return conflict_index

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
