"""A follower broker's batched fetches from one leader broker, as a sans-IO state machine.

Owns, for one (this broker, leader broker) pair — Kafka's replica fetcher thread: the latest
fetch each follower replica here wants from that leader (``FetchWant``), and the one
``FetchRequest`` in flight to it.  Every partition followed from the leader travels in one
long-poll request, so an idle follower costs nothing per partition on the network.

Protocol (what the fetcher shell feeds in, what it carries out):

- ``want(want, now)``: a replica's next fetch; it replaces the replica's earlier want.
- ``forget(topic, partition, now)``: the partition is no longer fetched from this leader.
- ``on_response(correlation_id, response, now)``: a partition whose answer carries data, an
  error or a divergence is handed to its replica (``deliver``), which processes it and wants
  again; a partition that came back empty keeps its want for the next round — unless the
  leader's high watermark moved since the last answer handed on, which the replica must learn
  (as Kafka's fetcher hands every partition of a response to its replica); an answer for a
  want replaced or forgotten since the request left is dropped.  The next request leaves once
  every replica handed an answer has wanted again, or ``rejoin_ticks`` passed, so a busy
  partition is never held back behind the long-poll of idle ones, and a replica that never
  wants again holds nobody up for longer than that.
- ``on_error(correlation_id, now)``: the leader refused the request: fetch again after
  ``backoff_ticks``.
- ``on_tick(now)``: a request unanswered for ``timeout_ticks`` is given up and sent again
  (its answer, if it ever comes, is ignored); a rejoin or back-off that ran out sends.

Every entry point returns ``BatcherEffects``: a request to send (with a new correlation id),
answers to hand to replicas, and the tick to be woken at (the shell's ticker keeps the
earliest of several wake-ups and drops the others, so the core asks again for every one it
still needs).  ``unscheduled(now)`` names wants that nothing will send — the invariant the
simulator checks after every step (``tests/core/test_fetch_batcher.py``).

Must never: touch a log, read a clock, or decide anything about replication (the replica
and ``core.replication_follower`` do).
"""

from __future__ import annotations

import dataclasses

from zafka.core.errors import ErrorCode
from zafka.core.messages import FetchedPartition, FetchPartition, FetchResponse, FetchWant

REJOIN_TICKS = 5
BACKOFF_TICKS = 10

PartitionKey = tuple[str, int]


@dataclasses.dataclass(frozen=True, slots=True)
class SendFetch:
    """Send one follower ``FetchRequest`` for ``partitions`` with ``correlation_id``."""

    correlation_id: int
    partitions: tuple[FetchPartition, ...]


@dataclasses.dataclass(slots=True)
class BatcherEffects:
    """What the shell carries out, in this order: send, deliver, arm the wake-up."""

    send: SendFetch | None = None
    deliver: list[tuple[str, FetchedPartition]] = dataclasses.field(default_factory=list)
    wake_at: int | None = None  # the tick to be woken at (None: no wake-up needed)


class FetchBatcher:
    """One leader broker's batched follower fetches (see the module docstring)."""

    def __init__(self, timeout_ticks: int, rejoin_ticks: int = REJOIN_TICKS,
                 backoff_ticks: int = BACKOFF_TICKS, correlation_base: int = 0) -> None:
        """``correlation_base`` must differ between incarnations of the fetcher (its
        process's start): the leader may still answer a request of the previous one, and
        that answer must never be taken for the answer to a request of this one."""
        self.timeout_ticks = timeout_ticks
        self.rejoin_ticks = rejoin_ticks
        self.backoff_ticks = backoff_ticks
        self.wants: dict[PartitionKey, FetchWant] = {}
        self.in_flight: dict[PartitionKey, int] = {}  # the request in flight: key -> want id
        self.correlation_id = correlation_base
        self.waiting_for: int | None = None
        self.sent_tick = 0
        self.rejoining: set[PartitionKey] = set()  # handed an answer, not wanted again yet
        self.rejoin_deadline = 0
        self.backoff_until = 0
        self.known_hw: dict[PartitionKey, int] = {}  # the HW last handed to each replica

    # --- inputs ---------------------------------------------------------------------------

    def want(self, want: FetchWant, now: int) -> BatcherEffects:
        key = (want.partition.topic, want.partition.partition)
        self.wants[key] = want
        self.rejoining.discard(key)
        return self._next(now)

    def forget(self, topic: str, partition: int, now: int) -> BatcherEffects:
        key = (topic, partition)
        self.wants.pop(key, None)
        self.rejoining.discard(key)
        self.known_hw.pop(key, None)
        return self._next(now)

    def on_response(self, correlation_id: int, response: FetchResponse,
                    now: int) -> BatcherEffects:
        if correlation_id != self.waiting_for:
            return BatcherEffects(wake_at=self._wake_at())  # a request given up on
        self.waiting_for = None
        effects = BatcherEffects()
        for part in response.partitions:
            key = (part.topic, part.partition)
            want = self.wants.get(key)
            if want is None or want.request_id != self.in_flight.get(key):
                continue  # replaced or forgotten since the request left
            if len(part.records) or part.error != ErrorCode.NONE \
                    or part.diverging_epoch is not None \
                    or part.high_watermark != self.known_hw.get(key):
                self.known_hw[key] = part.high_watermark
                del self.wants[key]
                self.rejoining.add(key)
                effects.deliver.append(
                    (want.replica, FetchedPartition(request_id=want.request_id, response=part)))
        self.in_flight = {}
        if self.rejoining:
            self.rejoin_deadline = now + self.rejoin_ticks
        following = self._next(now)
        effects.send, effects.wake_at = following.send, following.wake_at
        return effects

    def on_error(self, correlation_id: int, now: int) -> BatcherEffects:
        if correlation_id == self.waiting_for:
            self.waiting_for = None
            self.in_flight = {}
            self.backoff_until = now + self.backoff_ticks
        return BatcherEffects(wake_at=self._wake_at())

    def on_tick(self, now: int) -> BatcherEffects:
        if self.waiting_for is not None and now - self.sent_tick >= self.timeout_ticks:
            self.waiting_for = None  # no answer: send again
            self.in_flight = {}
        if self.rejoining and now >= self.rejoin_deadline:
            self.rejoining.clear()  # who has not wanted again holds nobody up any longer
        return self._next(now)

    # --- decisions ------------------------------------------------------------------------

    def _next(self, now: int) -> BatcherEffects:
        """Send the next request if nothing holds it back; else say when to look again."""
        if self.waiting_for is None and not self.rejoining and self.wants \
                and now >= self.backoff_until:
            self.correlation_id += 1
            self.waiting_for = self.correlation_id
            self.sent_tick = now
            self.in_flight = {key: want.request_id for key, want in self.wants.items()}
            send = SendFetch(self.correlation_id,
                             tuple(w.partition for w in self.wants.values()))
            return BatcherEffects(send=send, wake_at=self._wake_at())
        return BatcherEffects(wake_at=self._wake_at())

    def _wake_at(self) -> int | None:
        """The tick at which something this batcher waits for runs out."""
        if self.waiting_for is not None:
            return self.sent_tick + self.timeout_ticks
        if self.rejoining:
            return self.rejoin_deadline
        if self.wants:
            return self.backoff_until
        return None

    def unscheduled(self, now: int, woken_at: int | None) -> list[PartitionKey]:
        """Wants that nothing will send: not in the request in flight, and no wake-up
        (``woken_at``, the shell's pending one) due by the time what holds them back ends."""
        if not self.wants:
            return []
        # Worked out again rather than from ``_wake_at``: this is the check on it, and a
        # wake-up rule that forgot a case must not hide from its own check.
        if self.waiting_for is not None:
            due = self.sent_tick + self.timeout_ticks
        elif self.rejoining:
            due = self.rejoin_deadline
        else:
            due = self.backoff_until
        if woken_at is not None and woken_at <= max(due, now + 1):
            return []
        return sorted(self.wants)


__all__ = ["BACKOFF_TICKS", "REJOIN_TICKS", "BatcherEffects", "FetchBatcher", "SendFetch"]
