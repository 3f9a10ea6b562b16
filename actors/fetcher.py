"""FetcherActor: one per (this broker, leader broker) pair — batched follower fetches.

Owns: the latest fetch each follower replica on this broker wants from one leader broker,
and the single ``FetchRequest`` in flight to that leader (Kafka's replica fetcher thread).
All partitions followed from a leader travel in one long-poll request, so an idle follower
costs nothing per partition on the network.  A partition whose answer carries data, an
error or a divergence is handed to its replica actor (which processes it and wants again);
a partition that came back empty keeps its want for the next round.  The next request
leaves once every replica handed an answer has wanted again (or ``REJOIN_TICKS`` passed), so
a busy partition is never held back behind the long-poll of idle ones.

Must never: touch a log, or decide anything about replication (the replica actors and
``core.replication_follower`` do).
"""

from __future__ import annotations

from typing import Any

from zafka.actors.base import BaseActor
from zafka.actors.runtime import NodeRuntime
from zafka.core.errors import ErrorCode
from zafka.core.messages import (
    Envelope,
    ErrorReply,
    FetchedPartition,
    FetcherForget,
    FetchRequest,
    FetchResponse,
    FetchWant,
    Tick,
)

REJOIN_TICKS = 5


def fetcher_name(leader_address: str) -> str:
    return f"fetcher:{leader_address}"


class FetcherActor(BaseActor):
    """Batches follower fetches to one leader broker (see the module docstring)."""

    def __init__(self, runtime: NodeRuntime, name: str, leader_address: str) -> None:
        super().__init__(runtime, name)
        self.leader_address = leader_address
        tunables = runtime.tunables
        self.wait_ms = tunables.replica_fetch_max_wait_ticks * tunables.tick_ms
        self.timeout_ticks = 2 * tunables.replica_fetch_max_wait_ticks + 10
        self.max_bytes = tunables.replica_fetch_max_bytes
        self.wants: dict[tuple[str, int], FetchWant] = {}
        self.in_flight: dict[tuple[str, int], int] = {}  # what the request in flight carries
        self.correlation_id = 0
        self.waiting_for: int | None = None
        self.sent_tick = 0
        self.rejoining: set[tuple[str, int]] = set()  # handed an answer, not wanted again yet
        self.rejoin_deadline = 0

    def on_fetch_want(self, want: FetchWant, envelope: Envelope) -> None:
        key = (want.partition.topic, want.partition.partition)
        self.wants[key] = want
        self.rejoining.discard(key)
        if self.waiting_for is None and not self.rejoining:
            self.send_fetch()

    def on_fetcher_forget(self, message: FetcherForget, envelope: Envelope) -> None:
        key = (message.topic, message.partition)
        self.wants.pop(key, None)
        self.rejoining.discard(key)
        if self.waiting_for is None and not self.rejoining:
            self.send_fetch()

    def send_fetch(self) -> None:
        self.rejoining.clear()
        if not self.wants:
            return
        self.correlation_id += 1
        self.waiting_for = self.correlation_id
        self.sent_tick = self.runtime.ticker.count
        self.in_flight = {key: want.request_id for key, want in self.wants.items()}
        self.logger.debug("fetch #%d of %d partitions", self.correlation_id, len(self.wants))
        self.send(self.leader_address, "broker", FetchRequest(
            replica_id=self.runtime.node_id, max_wait_ms=self.wait_ms, min_bytes=1,
            max_bytes=self.max_bytes,
            partitions=tuple(w.partition for w in self.wants.values())),
            correlation_id=self.correlation_id, reply_to=self.name)
        self.wake_in(self.timeout_ticks)

    def on_fetch_response(self, response: FetchResponse, envelope: Envelope) -> None:
        if envelope.correlation_id != self.waiting_for:
            return  # a late answer to a request given up on
        self.waiting_for = None
        for part in response.partitions:
            key = (part.topic, part.partition)
            want = self.wants.get(key)
            if want is None or want.request_id != self.in_flight.get(key):
                self.logger.debug("dropped an answer for %s-%d: its want changed", *key)
                continue  # replaced or forgotten since the request left
            if len(part.records) or part.error != ErrorCode.NONE \
                    or part.diverging_epoch is not None:
                del self.wants[key]
                self.rejoining.add(key)
                self.send(self.runtime.address, want.replica,
                          FetchedPartition(request_id=want.request_id, response=part))
        if self.rejoining:
            self.rejoin_deadline = self.runtime.ticker.count + REJOIN_TICKS
            self.wake_in(REJOIN_TICKS)
        else:
            self.send_fetch()

    def on_error_reply(self, message: ErrorReply, envelope: Envelope) -> None:
        if envelope.correlation_id == self.waiting_for:
            self.waiting_for = None
            self.wake_in(10)  # back off, then fetch again

    def on_tick(self, tick: Tick) -> Any:
        now = tick.count
        if self.waiting_for is not None:
            if now - self.sent_tick < self.timeout_ticks:
                self.wake_in(self.timeout_ticks - (now - self.sent_tick))
                return None
            self.waiting_for = None  # no answer: send again
        elif self.rejoining and now < self.rejoin_deadline:
            self.wake_in(self.rejoin_deadline - now)
            return None
        self.send_fetch()
        return None


__all__ = ["FetcherActor", "fetcher_name"]
