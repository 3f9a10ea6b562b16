"""The replication decisions of a partition follower (Kafka's fetcher thread, per partition).

Owns, for one replica following one leader epoch: the phase (truncating by leader epoch, then
fetching), the one request in flight (OffsetForLeaderEpoch or Fetch) with its retry timer, the
log end offset / last epoch / flushed offset the log reported, and the high watermark learned
from the leader.  It decides what to send next (``poll``) and where to truncate a divergent tail
(KIP-101/KIP-279 replies and KIP-320 diverging epochs).

Must never: touch the log, send messages, read a clock, or import anything outside the standard
library.  The ``ReplicaActor`` truncates/appends/flushes and reports back with ``on_log_end``.
"""

from __future__ import annotations

import dataclasses
import enum

from zafka.core.config import DEFAULT, Tunables
from zafka.core.errors import ErrorCode
from zafka.core.replication_types import (
    UNDEFINED_EPOCH,
    UNDEFINED_OFFSET,
    EpochEndOffset,
    EpochHistory,
    TruncationDecision,
)

NO_REQUEST = -1


class FollowerPhase(enum.Enum):
    """Where a follower is in its epoch: first cut a divergent tail, then fetch."""

    TRUNCATING = "truncating"
    FETCHING = "fetching"


class FollowerRequestKind(enum.Enum):
    OFFSET_FOR_LEADER_EPOCH = "offset_for_leader_epoch"
    FETCH = "fetch"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FollowerRequest:
    """The request the follower's actor must send to the leader now."""

    kind: FollowerRequestKind
    request_id: int
    leader_id: int
    current_leader_epoch: int
    fetch_offset: int
    """Fetch: the log end offset (flushed under fsync-before-ack)."""
    last_fetched_epoch: int
    """Fetch: epoch of the last record held; OffsetForLeaderEpoch: the epoch asked about."""


class FollowerState:
    """Follower-side replication state of one partition replica."""

    def __init__(self, *, topic: str, partition: int, replica_id: int, leader_id: int,
                 leader_epoch: int, log_end_offset: int, last_epoch: int, high_watermark: int,
                 flushed_offset: int | None = None, fsync_before_ack: bool = True,
                 retry_backoff_ticks: int = 10, request_id_base: int = 0,
                 truncate_on_fetch: bool = False, fetch_timeout_ticks: int | None = None,
                 tunables: Tunables = DEFAULT) -> None:
        """``request_id_base`` must differ between incarnations of the replica (e.g. the
        broker epoch shifted left) so that a reply sent to a previous incarnation can never
        be taken for the answer to a new request.  ``truncate_on_fetch`` skips the
        OffsetForLeaderEpoch round trip on a new epoch and relies on the diverging epoch of
        the first fetch reply instead (Kafka >= 2.7, KIP-320).  ``fetch_timeout_ticks`` is how
        long a fetch may stay unanswered before it is sent again (by default as long as an
        OffsetForLeaderEpoch request: two fetch waits); a broker whose fetcher retries lost
        requests itself sets it long, so that an idle follower is not woken to ask again."""
        assert replica_id != leader_id, "a leader does not follow itself"
        self.topic, self.partition, self.replica_id = topic, partition, replica_id
        self.fsync_before_ack = fsync_before_ack
        self.log_end_offset = log_end_offset
        self.last_epoch = last_epoch
        self.flushed_offset = log_end_offset if flushed_offset is None else flushed_offset
        self.leader_high_watermark = high_watermark
        self._request_timeout_ticks = 2 * tunables.replica_fetch_max_wait_ticks + 1
        self._fetch_timeout_ticks = fetch_timeout_ticks or self._request_timeout_ticks
        self._retry_backoff_ticks = retry_backoff_ticks
        self._next_request_id = request_id_base
        self._in_flight: FollowerRequest | None = None
        self._in_flight_since = 0
        self._not_before_tick = -(2**62)
        self._awaiting_log = False
        self._truncate_on_fetch = truncate_on_fetch
        self.leader_id, self.leader_epoch = leader_id, UNDEFINED_EPOCH
        self.phase = FollowerPhase.TRUNCATING
        self._ask_epoch = last_epoch
        self.become_follower(leader_id=leader_id, leader_epoch=leader_epoch)

    def next_tick_due(self) -> int | None:
        """The tick at which ``poll`` may have a request to send: when the one in flight
        times out, or when a back-off ends; None while it waits for its log (an append or a
        flush, which come with a message of their own)."""
        if self._awaiting_log or (self.fsync_before_ack
                                  and self.flushed_offset < self.log_end_offset):
            return None
        if self._in_flight is not None:
            return self._in_flight_since + self.timeout_ticks(self._in_flight.kind)
        return self._not_before_tick

    def timeout_ticks(self, kind: FollowerRequestKind) -> int:
        """How long a request of ``kind`` may stay unanswered before it is sent again."""
        return self._fetch_timeout_ticks if kind is FollowerRequestKind.FETCH \
            else self._request_timeout_ticks

    @property
    def high_watermark(self) -> int:
        """What this replica may expose as committed: min(leader's HW, own LEO)."""
        return min(self.leader_high_watermark, self.log_end_offset)

    def become_follower(self, *, leader_id: int, leader_epoch: int) -> bool:
        """Follow ``leader_id`` in ``leader_epoch`` (stale epochs ignored); returns True if
        the follower restarted its epoch (it truncates by epoch before fetching again)."""
        if leader_epoch <= self.leader_epoch:
            return False
        self.leader_id, self.leader_epoch = leader_id, leader_epoch
        self._in_flight = None
        self._not_before_tick = -(2**62)
        self._ask_epoch = self.last_epoch
        no_history = self.last_epoch == UNDEFINED_EPOCH or self.log_end_offset == 0
        fetch_first = no_history or self._truncate_on_fetch
        self.phase = FollowerPhase.FETCHING if fetch_first else FollowerPhase.TRUNCATING
        return True

    def poll(self, now_tick: int) -> FollowerRequest | None:
        """The request to send now, if any (none in flight, or the one in flight timed out)."""
        if self._awaiting_log or now_tick < self._not_before_tick:
            return None
        if self._in_flight is not None:
            if now_tick - self._in_flight_since < self.timeout_ticks(self._in_flight.kind):
                return None
        if self.fsync_before_ack and self.flushed_offset < self.log_end_offset:
            return None
        self._next_request_id += 1
        truncating = self.phase is FollowerPhase.TRUNCATING
        self._in_flight = FollowerRequest(
            kind=(FollowerRequestKind.OFFSET_FOR_LEADER_EPOCH if truncating
                  else FollowerRequestKind.FETCH),
            request_id=self._next_request_id, leader_id=self.leader_id,
            current_leader_epoch=self.leader_epoch, fetch_offset=self.log_end_offset,
            last_fetched_epoch=self._ask_epoch if truncating else self.last_epoch)
        self._in_flight_since = now_tick
        return self._in_flight

    def on_offset_for_leader_epoch_response(
            self, *, request_id: int, error: ErrorCode, epoch_end: EpochEndOffset,
            history: EpochHistory, now_tick: int) -> TruncationDecision | None:
        """The leader said where our epoch ends in its log: decide the truncation.
        Returns None for a stale/unexpected reply or an error (retried after a backoff)."""
        if not self._accepts(request_id, FollowerRequestKind.OFFSET_FOR_LEADER_EPOCH):
            return None
        self._in_flight = None
        if error != ErrorCode.NONE:
            self._not_before_tick = now_tick + self._retry_backoff_ticks
            return None
        return self._truncate_for(epoch_end, history)

    def on_fetch_response(self, *, request_id: int, error: ErrorCode, high_watermark: int,
                          diverging_epoch: EpochEndOffset | None, history: EpochHistory,
                          now_tick: int) -> TruncationDecision | None:
        """A fetch reply.  Returns a truncation for a diverging epoch (the HW is not taken
        from such a reply); otherwise None, and the actor appends the records (if any) at the
        log end and calls ``on_log_end``.  Call ``accepts_fetch`` first: a stale or duplicated
        reply is ignored here and its records must not be appended."""
        if not self._accepts(request_id, FollowerRequestKind.FETCH):
            return None
        self._in_flight = None
        if error == ErrorCode.OFFSET_OUT_OF_RANGE:
            self.phase, self._ask_epoch = FollowerPhase.TRUNCATING, self.last_epoch
            return None
        if error != ErrorCode.NONE:
            self._not_before_tick = now_tick + self._retry_backoff_ticks
            return None
        if diverging_epoch is not None:
            return self._truncate_for(diverging_epoch, history)
        self.leader_high_watermark = high_watermark
        return None

    def accepts_fetch(self, request_id: int) -> bool:
        """True if a fetch reply with this id is the one awaited (its records may be
        appended at the current log end)."""
        return self._accepts(request_id, FollowerRequestKind.FETCH)

    def on_log_end(self, *, log_end_offset: int, last_epoch: int,
                   flushed_offset: int) -> None:
        """The log changed (append, truncation or flush): its end, last epoch, durable end."""
        assert flushed_offset <= log_end_offset, "flushed beyond the log end"
        self.log_end_offset = log_end_offset
        self.last_epoch = last_epoch
        self.flushed_offset = flushed_offset
        self._awaiting_log = False

    def invariants(self) -> None:
        """Fail fast if the follower state contradicts itself."""
        assert self.flushed_offset <= self.log_end_offset
        assert self.high_watermark <= self.log_end_offset
        assert self._in_flight is None or self._in_flight.current_leader_epoch == \
            self.leader_epoch, "a request in flight belongs to the current epoch"

    # --- internals ----------------------------------------------------------------------

    def _accepts(self, request_id: int, kind: FollowerRequestKind) -> bool:
        sent = self._in_flight
        return sent is not None and sent.request_id == request_id and sent.kind is kind

    def _truncate_for(self, leader_end: EpochEndOffset,
                      history: EpochHistory) -> TruncationDecision:
        """Kafka's ``getOffsetTruncationState``: cut to where our log stops agreeing."""
        ask_again: int | None = None
        if leader_end.undefined:
            target = self.high_watermark
        elif leader_end.leader_epoch == UNDEFINED_EPOCH:
            target = leader_end.end_offset
        else:
            own_epoch, own_end = history.end_offset_for_epoch(leader_end.leader_epoch)
            if own_end == UNDEFINED_OFFSET:
                target = leader_end.end_offset
            elif own_epoch != leader_end.leader_epoch:
                target, ask_again = own_end, own_epoch
            else:
                target = min(own_end, leader_end.end_offset)
        truncate_to = min(target, self.log_end_offset)
        if ask_again is None or ask_again == UNDEFINED_EPOCH:
            self.phase = FollowerPhase.FETCHING
        else:
            self.phase, self._ask_epoch = FollowerPhase.TRUNCATING, ask_again
        self._awaiting_log = True
        return TruncationDecision(truncate_to=truncate_to, ask_epoch=ask_again)


__all__ = ["FollowerPhase", "FollowerRequest", "FollowerRequestKind", "FollowerState"]
