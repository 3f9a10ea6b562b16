"""A raft leader's view of one follower: how far it matches, what to send next, flow control.

Owns: ``Progress`` (match/next indexes, probe vs. pipelined replication, in-flight appends,
CheckQuorum activity, the last read-index round it acknowledged, snapshot resend wait) and
``quorum_index`` (majority math).
Must never: build messages or touch the log.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence


def quorum_index(values: Sequence[int], quorum: int) -> int:
    """The largest value that at least ``quorum`` of ``values`` reach."""
    assert 0 < quorum <= len(values), (quorum, values)
    return sorted(values, reverse=True)[quorum - 1]


@dataclasses.dataclass(slots=True)
class Progress:
    """Probing: one AppendEntries at a time until a success; then pipelined up to a limit."""

    next: int
    match: int = 0
    probing: bool = True
    probe_sent: bool = False
    inflight: int = 0
    recent_active: bool = False
    read_seq: int = 0
    snapshot_wait: int = 0  # ticks before an unanswered InstallSnapshot may be resent

    def may_send(self, last_index: int, max_inflight: int) -> bool:
        """Is there something to send now without waiting for an answer or a heartbeat?"""
        if self.next > last_index:
            return False
        return not self.probe_sent if self.probing else self.inflight < max_inflight

    def on_sent(self, last_sent: int | None) -> None:
        if self.probing:
            self.probe_sent = True
        elif last_sent is not None:
            self.next = last_sent + 1
            self.inflight += 1

    def on_snapshot_sent(self, wait_ticks: int) -> None:
        self.probing = self.probe_sent = True
        self.snapshot_wait = wait_ticks

    def on_heartbeat(self) -> None:
        """A heartbeat round re-sends from ``next``: lost appends no longer count in flight."""
        self.probe_sent = False
        self.inflight = 0

    def on_response(self, read_seq: int) -> None:
        self.recent_active = True
        self.read_seq = max(self.read_seq, read_seq)

    def on_match(self, match_index: int) -> bool:
        """The follower matches up to ``match_index``; True if that is news."""
        self.probing = self.probe_sent = False
        self.inflight = max(0, self.inflight - 1)
        self.snapshot_wait = 0
        self.next = max(self.next, match_index + 1)
        if match_index > self.match:
            self.match = match_index
            return True
        return False

    def is_current_refusal(self, refused_prev_index: int) -> bool:
        """False for a refusal overtaken by later knowledge (reordered or duplicated)."""
        if refused_prev_index <= self.match:
            return False
        return refused_prev_index == self.next - 1 if self.probing else True

    def back_off(self, hint: int, refused_prev_index: int, last_index: int) -> None:
        """Move ``next`` back to the follower's hint and probe from there."""
        self.next = max(self.match + 1, min(hint, refused_prev_index, last_index + 1))
        self.probing = True
        self.probe_sent = False
        self.inflight = 0
