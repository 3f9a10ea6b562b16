"""The replication decisions of a partition leader (Kafka's ``Partition`` leader side).

Owns, for one partition in one leader epoch: each follower's log end offset (LEO) and last
caught-up tick, the committed ISR and at most one AlterPartition proposal in flight, the high
watermark (HW = min LEO over the maximal ISR, the leader's own LEO counting only once flushed
when fsync-before-ack is on), the bounded table of produce requests waiting for their ack and
the bounded table of long-poll fetches waiting for data.  Every call returns plain effects
(``LeaderEffects``) that the leading replica's ``ReplicaActor`` carries out.

Must never: touch the log or any storage, send messages, read a clock or import anything outside
the standard library.  It works with offsets, epochs and ticks only.  A new leader epoch means a
new ``LeaderState``; this one then only answers ``resigned``.

Follower side: ``core.replication_follower``.  Idempotent producers: ``core.producer_state``.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

from zafka.core.config import DEFAULT, Tunables
from zafka.core.errors import (
    ErrorCode,
    FencedLeaderEpoch,
    NotEnoughReplicas,
    RequestTimedOut,
    ZafkaError,
)
from zafka.core.replication_types import (
    ACKS_ALL,
    ACKS_LEADER,
    CONSUMER_REPLICA_ID,
    UNDEFINED_EPOCH,
    UNDEFINED_EPOCH_END,
    AckCompleted,
    AlterPartitionProposal,
    EpochEndOffset,
    EpochHistory,
    FetchCompleted,
    FetchDecision,
    LeaderEffects,
)

UNKNOWN_OFFSET = -1
NEVER = -(2**62)


def check_leader_epoch(request_epoch: int, leader_epoch: int) -> ErrorCode:
    """Kafka's fencing rule: -1 skips the check, older is fenced, newer is unknown here."""
    if request_epoch == UNDEFINED_EPOCH or request_epoch == leader_epoch:
        return ErrorCode.NONE
    if request_epoch < leader_epoch:
        return ErrorCode.FENCED_LEADER_EPOCH
    return ErrorCode.UNKNOWN_LEADER_EPOCH


@dataclasses.dataclass(slots=True)
class FollowerProgress:
    """What the leader knows of one follower in this epoch."""

    log_end_offset: int = UNKNOWN_OFFSET
    last_caught_up_tick: int = NEVER
    last_fetch_tick: int = NEVER
    last_fetch_leader_end_offset: int = UNKNOWN_OFFSET


@dataclasses.dataclass(slots=True)
class _PendingAck:
    last_offset: int
    acks: int
    deadline_tick: int
    seq: int


@dataclasses.dataclass(slots=True)
class _PendingFetch:
    replica_id: int
    fetch_offset: int
    deadline_tick: int
    seq: int


class LeaderState:
    """Leader-side replication state of one partition in one leader epoch."""

    def __init__(self, *, topic: str, partition: int, leader_id: int, leader_epoch: int,
                 partition_epoch: int, replicas: Iterable[int], isr: Iterable[int],
                 min_insync_replicas: int, log_end_offset: int, high_watermark: int,
                 now_tick: int, flushed_offset: int | None = None,
                 fsync_before_ack: bool = True, tunables: Tunables = DEFAULT) -> None:
        self.topic, self.partition, self.leader_id = topic, partition, leader_id
        self.leader_epoch, self.partition_epoch = leader_epoch, partition_epoch
        self.replicas = tuple(replicas)
        self.isr = frozenset(isr)
        self.min_insync_replicas = min_insync_replicas
        self.fsync_before_ack = fsync_before_ack
        self.log_end_offset = log_end_offset
        self.flushed_offset = log_end_offset if flushed_offset is None else flushed_offset
        self.epoch_start_offset = log_end_offset
        self.high_watermark = min(high_watermark, self.counted_leader_offset)
        self.resigned = False
        self.pending_isr: frozenset[int] | None = None
        self._pending_isr_sent_tick = NEVER
        # Every replica proposed for addition at the current partition epoch.  A duplicated
        # or retried proposal may still be committed after a rejection reached us, so they
        # count for the HW until a newer partition epoch is committed.
        self._proposed_additions: frozenset[int] = frozenset()
        self._lag_max_ticks = tunables.replica_lag_time_max_ticks
        self._alter_retry_ticks = tunables.replica_fetch_max_wait_ticks
        self._pending_max = tunables.pending_acks_per_partition_max
        self.followers = {r: FollowerProgress() for r in self.replicas if r != leader_id}
        for replica_id in self.isr - {leader_id}:
            self.followers[replica_id].last_caught_up_tick = now_tick
        self._acks: dict[Hashable, _PendingAck] = {}
        # Heaps with lazy deletion; an entry is live while its seq matches the table's.
        self._acks_by_offset: dict[int, list[tuple[int, int, Hashable]]] = {
            ACKS_LEADER: [], ACKS_ALL: []}
        self._acks_by_deadline: list[tuple[int, int, Hashable]] = []
        self._fetches: dict[Hashable, _PendingFetch] = {}
        self._fetches_by_deadline: list[tuple[int, int, Hashable]] = []
        self._seq = 0
        self.invariants()

    # --- views --------------------------------------------------------------------------

    @property
    def counted_leader_offset(self) -> int:
        """The leader's own LEO as it counts toward the HW (flushed offset under fsync)."""
        return self.flushed_offset if self.fsync_before_ack else self.log_end_offset

    @property
    def maximal_isr(self) -> frozenset[int]:
        """Committed ISR plus proposed additions not yet resolved (KIP-497): what the HW
        must wait for."""
        return self.isr | self._proposed_additions

    @property
    def pending_ack_count(self) -> int:
        return len(self._acks)

    @property
    def pending_fetch_count(self) -> int:
        return len(self._fetches)

    # --- produce ------------------------------------------------------------------------

    def check_append(self, acks: int) -> ZafkaError | None:
        """Whether a produce may be appended now (call before appending; None = go ahead)."""
        if self.resigned:
            return FencedLeaderEpoch(f"{self._name} leader epoch {self.leader_epoch} is over")
        if acks == ACKS_ALL and len(self.isr) < self.min_insync_replicas:
            return NotEnoughReplicas(
                f"{self._name}: ISR {sorted(self.isr)} is smaller than "
                f"min.insync.replicas={self.min_insync_replicas}")
        if acks != 0 and len(self._acks) >= self._pending_max:
            return RequestTimedOut(
                f"{self._name}: {len(self._acks)} produce requests already wait for their "
                f"ack (limit pending_acks_per_partition_max={self._pending_max}); refused "
                "before append")
        return None

    def on_append(self, last_offset: int, now_tick: int | None = None) -> LeaderEffects:
        """The log appended up to ``last_offset`` (inclusive) in this leader epoch.  With
        ``now_tick``, a follower that had the whole log until now was caught up until now
        (its broker may skip idle fetches that would only have said so)."""
        assert not self.resigned, "a resigned leader must not append"
        assert last_offset >= self.log_end_offset, "appends move the log end forward"
        if now_tick is not None:
            for progress in self.followers.values():
                if progress.log_end_offset >= self.log_end_offset:
                    progress.last_caught_up_tick = max(progress.last_caught_up_tick, now_tick)
        self.log_end_offset = last_offset + 1
        effects = self._wake_fetches()
        if not self.fsync_before_ack:
            effects.merge(self._advance()).merge(self._complete_acks())
        return effects

    def on_leader_flushed(self, offset: int) -> LeaderEffects:
        """The leader's log is durable up to ``offset`` (exclusive end)."""
        assert offset <= self.log_end_offset, "cannot flush beyond the log end"
        if offset <= self.flushed_offset:
            return LeaderEffects()
        self.flushed_offset = offset
        return self._advance().merge(self._complete_acks())

    def add_pending_ack(self, key: Hashable, last_offset: int, acks: int,
                        deadline_tick: int) -> LeaderEffects:
        """Hold a produce reply until its ack condition holds (may complete at once).

        acks=1: the leader has the batch (flushed when fsync-before-ack); acks=-1 (all): the
        HW has passed ``last_offset``.  ``check_append`` must have been called first.
        """
        assert acks in (ACKS_LEADER, ACKS_ALL), "acks=0 requests get no reply"
        assert key not in self._acks, f"duplicate pending ack key {key!r}"
        assert len(self._acks) < self._pending_max, "check_append refuses beyond the limit"
        assert last_offset < self.log_end_offset, "ack for an offset the log does not hold"
        self._compact_heaps()
        self._seq += 1
        self._acks[key] = _PendingAck(last_offset, acks, deadline_tick, self._seq)
        heapq.heappush(self._acks_by_offset[acks], (last_offset, self._seq, key))
        heapq.heappush(self._acks_by_deadline, (deadline_tick, self._seq, key))
        return self._complete_acks()

    # --- fetch --------------------------------------------------------------------------

    def on_follower_fetch(self, *, replica_id: int, fetch_offset: int, last_fetched_epoch: int,
                          current_leader_epoch: int, now_tick: int,
                          history: EpochHistory, record_progress: bool = True) -> FetchDecision:
        """A follower fetch: record its LEO, maybe expand the ISR / advance the HW, and say
        what to read or where its log diverges (KIP-320).  ``record_progress=False`` only
        says what to read: a fetch held by the broker and asked again once data came must
        not count as the follower being there now — it may have died since (and would be
        proposed back into the ISR)."""
        error = self._fence(current_leader_epoch)
        if error == ErrorCode.NONE and replica_id not in self.followers:
            error = ErrorCode.NOT_LEADER_OR_FOLLOWER
        if error != ErrorCode.NONE:
            return self._refused(error, fetch_offset)
        diverging = self._diverging_epoch(fetch_offset, last_fetched_epoch, history)
        if diverging is None and fetch_offset > self.log_end_offset:
            return self._refused(ErrorCode.OFFSET_OUT_OF_RANGE, fetch_offset)
        effects = LeaderEffects()
        if diverging is None and record_progress:
            effects = self._update_follower(replica_id, fetch_offset, now_tick)
        return FetchDecision(
            error=ErrorCode.NONE, fetch_offset=fetch_offset, max_offset=self.log_end_offset,
            high_watermark=self.high_watermark, diverging_epoch=diverging, effects=effects)

    def on_consumer_fetch(self, *, fetch_offset: int,
                          current_leader_epoch: int) -> FetchDecision:
        """A consumer fetch: readable only below the HW."""
        error = self._fence(current_leader_epoch)
        if error == ErrorCode.NONE and fetch_offset > self.log_end_offset:
            error = ErrorCode.OFFSET_OUT_OF_RANGE
        if error != ErrorCode.NONE:
            return self._refused(error, fetch_offset)
        return FetchDecision(error=ErrorCode.NONE, fetch_offset=fetch_offset,
                             max_offset=self.high_watermark, high_watermark=self.high_watermark)

    def add_pending_fetch(self, key: Hashable, *, replica_id: int, fetch_offset: int,
                          deadline_tick: int) -> LeaderEffects:
        """Hold a long-poll fetch until data is readable (HW for consumers, LEO for
        followers) or ``deadline_tick``.  Over the limit it completes at once, empty."""
        assert key not in self._fetches, f"duplicate pending fetch key {key!r}"
        if self.resigned or len(self._fetches) >= self._pending_max:
            return LeaderEffects(completed_fetches=[
                FetchCompleted(key=key, error=ErrorCode.NONE, expired=True)])
        self._seq += 1
        self._fetches[key] = _PendingFetch(replica_id, fetch_offset, deadline_tick, self._seq)
        heapq.heappush(self._fetches_by_deadline, (deadline_tick, self._seq, key))
        return self._wake_fetches()

    def on_offset_for_leader_epoch(self, *, current_leader_epoch: int, leader_epoch: int,
                                   history: EpochHistory) -> tuple[ErrorCode, EpochEndOffset]:
        """Answer a follower's OffsetForLeaderEpoch (KIP-101/279): where ``leader_epoch``
        ends in this leader's log."""
        error = self._fence(current_leader_epoch)
        if error != ErrorCode.NONE:
            return error, UNDEFINED_EPOCH_END
        return ErrorCode.NONE, self.end_offset_for_epoch(leader_epoch, history)

    def end_offset_for_epoch(self, epoch: int, history: EpochHistory) -> EpochEndOffset:
        """Where ``epoch`` ends here; the current epoch ends at the log end offset."""
        if epoch == self.leader_epoch:
            return EpochEndOffset(leader_epoch=epoch, end_offset=self.log_end_offset)
        if epoch > self.leader_epoch or epoch == UNDEFINED_EPOCH:
            return UNDEFINED_EPOCH_END
        found_epoch, end_offset = history.end_offset_for_epoch(epoch)
        return EpochEndOffset(leader_epoch=found_epoch, end_offset=end_offset)

    # --- metadata and time --------------------------------------------------------------

    def on_metadata(self, *, leader_id: int, leader_epoch: int, partition_epoch: int,
                    isr: Iterable[int]) -> LeaderEffects:
        """Committed partition state from the controller (metadata log or AlterPartition
        reply).  Stale states are ignored; a new leader epoch ends this ``LeaderState``."""
        if self.resigned or leader_epoch < self.leader_epoch:
            return LeaderEffects()
        if leader_epoch > self.leader_epoch or leader_id != self.leader_id:
            return self.resign()
        if partition_epoch <= self.partition_epoch:
            return LeaderEffects()
        self.partition_epoch = partition_epoch
        self.isr = frozenset(isr)
        assert self.leader_id in self.isr, "the controller keeps the leader in its ISR"
        self.pending_isr = None
        self._proposed_additions = frozenset()
        effects = self._advance()
        effects.merge(self._complete_acks())
        return effects

    def on_alter_partition_rejected(self) -> None:
        """The controller refused the proposal: ``tick`` may propose again.  Replicas it
        added keep counting for the HW until a newer partition epoch is committed."""
        self.pending_isr = None

    def tick(self, now_tick: int) -> LeaderEffects:
        """Expire acks and long polls, propose an ISR shrink for lagging followers, and
        resend an unanswered AlterPartition."""
        effects = self._expire(now_tick)
        if self.resigned:
            return effects
        if self.pending_isr is not None:
            if now_tick - self._pending_isr_sent_tick >= self._alter_retry_ticks:
                effects.alter_partition = self._propose(self.pending_isr, now_tick)
            return effects
        lagging = {r for r in self._behind() if now_tick - self.followers[r].last_caught_up_tick
                   > self._lag_max_ticks}
        if lagging:
            effects.alter_partition = self._propose(self.isr - lagging, now_tick)
        return effects

    def _behind(self) -> list[int]:
        """ISR followers short of the leader's log end.  As in Kafka, a follower that has
        everything is in sync however long ago it fetched: an idle partition never shrinks
        its ISR (a dead broker leaves it when the controller fences it)."""
        return [r for r in self.maximal_isr - {self.leader_id}
                if self.followers[r].log_end_offset < self.log_end_offset]

    def next_tick_due(self) -> int | None:
        """The earliest tick at which ``tick`` may have work (a deadline, an ISR check or an
        AlterPartition retry); None while nothing is due until a request comes."""
        for heap, table in ((self._acks_by_deadline, self._acks),
                            (self._fetches_by_deadline, self._fetches)):
            while heap and _stale(heap[0], table):
                heapq.heappop(heap)  # answered before its deadline
        due = [heap[0][0] for heap in (self._acks_by_deadline, self._fetches_by_deadline)
               if heap]
        if not self.resigned:
            if self.pending_isr is not None:
                due.append(self._pending_isr_sent_tick + self._alter_retry_ticks)
            else:
                due += [self.followers[r].last_caught_up_tick + self._lag_max_ticks + 1
                        for r in self._behind()]
        return min(due, default=None)

    def resign(self) -> LeaderEffects:
        """Leave leadership: every held request fails with NotLeaderOrFollower."""
        self.resigned = True
        self.pending_isr = None
        error = ErrorCode.NOT_LEADER_OR_FOLLOWER
        effects = LeaderEffects(resigned=True)
        effects.completed_acks = [AckCompleted(key=k, last_offset=a.last_offset, error=error)
                                  for k, a in self._acks.items()]
        effects.completed_fetches = [FetchCompleted(key=k, error=error, expired=False)
                                     for k in self._fetches]
        self._acks.clear()
        self._fetches.clear()
        self._acks_by_offset = {ACKS_LEADER: [], ACKS_ALL: []}
        self._acks_by_deadline.clear()
        self._fetches_by_deadline.clear()
        return effects

    def invariants(self) -> None:
        """Fail fast if the leader state contradicts itself."""
        assert self.leader_id in self.replicas, "the leader is a replica"
        assert self.isr <= set(self.replicas), "ISR within the replicas"
        assert self.resigned or self.leader_id in self.isr, "the leader is in its ISR"
        assert self.pending_isr is None or self.pending_isr <= set(self.replicas)
        assert self.flushed_offset <= self.log_end_offset, "flushed beyond the log end"
        assert self.high_watermark <= self.counted_leader_offset, "HW beyond leader LEO"
        for replica_id in self.maximal_isr - {self.leader_id}:
            leo = self.followers[replica_id].log_end_offset
            assert leo == UNKNOWN_OFFSET or self.high_watermark <= leo, (
                f"HW {self.high_watermark} beyond ISR member {replica_id} LEO {leo}")
        assert len(self._acks) <= self._pending_max and len(self._fetches) <= self._pending_max
        assert all(a.last_offset >= self.high_watermark or a.acks == ACKS_LEADER
                   for a in self._acks.values()), "an acks=all request past the HW is pending"

    # --- internals ----------------------------------------------------------------------

    @property
    def _name(self) -> str:
        return f"{self.topic}-{self.partition}"

    def _fence(self, current_leader_epoch: int) -> ErrorCode:
        if self.resigned:
            return ErrorCode.NOT_LEADER_OR_FOLLOWER
        return check_leader_epoch(current_leader_epoch, self.leader_epoch)

    def _refused(self, error: ErrorCode, fetch_offset: int) -> FetchDecision:
        return FetchDecision(error=error, fetch_offset=fetch_offset, max_offset=fetch_offset,
                             high_watermark=self.high_watermark)

    def _diverging_epoch(self, fetch_offset: int, last_fetched_epoch: int,
                         history: EpochHistory) -> EpochEndOffset | None:
        if last_fetched_epoch == UNDEFINED_EPOCH or last_fetched_epoch == self.leader_epoch:
            return None
        end = self.end_offset_for_epoch(last_fetched_epoch, history)
        if end.leader_epoch < last_fetched_epoch or end.end_offset < fetch_offset:
            return end
        return None

    def _update_follower(self, replica_id: int, fetch_offset: int,
                         now_tick: int) -> LeaderEffects:
        progress = self.followers[replica_id]
        if fetch_offset >= self.log_end_offset:
            progress.last_caught_up_tick = now_tick
        elif fetch_offset >= progress.last_fetch_leader_end_offset:
            progress.last_caught_up_tick = max(progress.last_caught_up_tick,
                                               progress.last_fetch_tick)
        progress.last_fetch_leader_end_offset = self.log_end_offset
        progress.last_fetch_tick = now_tick
        # A reordered or duplicated older fetch must not move the known LEO back.
        progress.log_end_offset = max(progress.log_end_offset, fetch_offset)
        effects = self._advance()
        if (replica_id not in self.isr and self.pending_isr is None
                and progress.log_end_offset >= max(self.high_watermark,
                                                   self.epoch_start_offset)):
            effects.alter_partition = self._propose(self.isr | {replica_id}, now_tick)
        return effects

    def _propose(self, new_isr: frozenset[int], now_tick: int) -> AlterPartitionProposal:
        self.pending_isr = new_isr
        self._pending_isr_sent_tick = now_tick
        self._proposed_additions |= new_isr - self.isr
        return AlterPartitionProposal(
            topic=self.topic, partition=self.partition, leader_id=self.leader_id,
            leader_epoch=self.leader_epoch, partition_epoch=self.partition_epoch,
            new_isr=tuple(sorted(new_isr)))

    def _advance(self) -> LeaderEffects:
        """Move the HW to min LEO over the maximal ISR if that is higher."""
        candidate = self.counted_leader_offset
        for replica_id in self.maximal_isr - {self.leader_id}:
            candidate = min(candidate, self.followers[replica_id].log_end_offset)
        if candidate <= self.high_watermark:
            return LeaderEffects()
        self.high_watermark = candidate
        effects = self._complete_acks()
        effects.high_watermark = candidate
        return effects.merge(self._wake_fetches())

    def _complete_acks(self) -> LeaderEffects:
        effects = LeaderEffects()
        enough = len(self.isr) >= self.min_insync_replicas
        for acks, bound in ((ACKS_LEADER, self.counted_leader_offset),
                            (ACKS_ALL, self.high_watermark)):
            heap = self._acks_by_offset[acks]
            while heap and heap[0][0] < bound:
                _, seq, key = heapq.heappop(heap)
                pending = self._acks.get(key)
                if pending is None or pending.seq != seq:
                    continue
                del self._acks[key]
                error = ErrorCode.NONE
                if acks == ACKS_ALL and not enough:
                    error = ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND
                effects.completed_acks.append(
                    AckCompleted(key=key, last_offset=pending.last_offset, error=error))
        return effects

    def _compact_heaps(self) -> None:
        """Drop dead heap entries once they outnumber live ones (an ack that timed out stays
        in its offset heap until the HW passes it), so the heaps stay bounded too."""
        heaps = [*self._acks_by_offset.values(), self._acks_by_deadline]
        if sum(map(len, heaps)) <= 4 * len(self._acks) + 64:
            return
        for heap in heaps:
            heap[:] = [e for e in heap if (a := self._acks.get(e[2])) is not None
                       and a.seq == e[1]]
            heapq.heapify(heap)

    def _wake_fetches(self) -> LeaderEffects:
        ready = [k for k, f in self._fetches.items()
                 if f.fetch_offset < (self.high_watermark if f.replica_id == CONSUMER_REPLICA_ID
                                      else self.log_end_offset)]
        for key in ready:
            del self._fetches[key]
        return LeaderEffects(completed_fetches=[
            FetchCompleted(key=k, error=ErrorCode.NONE, expired=False) for k in ready])

    def _expire(self, now_tick: int) -> LeaderEffects:
        effects = LeaderEffects()
        while self._acks_by_deadline and self._acks_by_deadline[0][0] <= now_tick:
            _, seq, key = heapq.heappop(self._acks_by_deadline)
            pending = self._acks.get(key)
            if pending is not None and pending.seq == seq:
                del self._acks[key]
                effects.completed_acks.append(AckCompleted(
                    key=key, last_offset=pending.last_offset,
                    error=ErrorCode.REQUEST_TIMED_OUT))
        while self._fetches_by_deadline and self._fetches_by_deadline[0][0] <= now_tick:
            _, seq, key = heapq.heappop(self._fetches_by_deadline)
            pending_fetch = self._fetches.get(key)
            if pending_fetch is not None and pending_fetch.seq == seq:
                del self._fetches[key]
                effects.completed_fetches.append(
                    FetchCompleted(key=key, error=ErrorCode.NONE, expired=True))
        return effects


def _stale(entry: tuple[int, int, Hashable], table: Mapping[Hashable, Any]) -> bool:
    pending = table.get(entry[2])
    return pending is None or pending.seq != entry[1]


__all__ = ["FollowerProgress", "LeaderState", "check_leader_epoch"]
