"""FetcherActor: one per (this broker, leader broker) pair — batched follower fetches.

Owns: nothing but its ``core.fetch_batcher.FetchBatcher`` (which decides when a request
leaves and which answers go to which replica) and the address of its leader.  It carries the
core's effects out: sends the ``FetchRequest``, hands ``FetchedPartition`` answers to the
replica actors, and arms the ticker.

Must never: touch a log, or decide anything about batching or replication (the core and the
replica actors do).
"""

from __future__ import annotations

import secrets
from typing import Any

from zafka.actors.base import BaseActor
from zafka.actors.runtime import NodeRuntime
from zafka.core.fetch_batcher import BatcherEffects, FetchBatcher
from zafka.core.messages import (
    Envelope,
    ErrorReply,
    FetcherForget,
    FetchRequest,
    FetchResponse,
    FetchWant,
    Tick,
)


def fetcher_name(leader_address: str) -> str:
    return f"fetcher:{leader_address}"


class FetcherActor(BaseActor):
    """Carries out one leader broker's ``FetchBatcher`` (see the module docstring)."""

    def __init__(self, runtime: NodeRuntime, name: str, leader_address: str) -> None:
        super().__init__(runtime, name)
        self.leader_address = leader_address
        tunables = runtime.tunables
        self.wait_ms = tunables.replica_fetch_max_wait_ticks * tunables.tick_ms
        self.max_bytes = tunables.replica_fetch_max_bytes
        # a fresh base per process start: the leader may still answer the last process's
        # requests, and their correlation ids must never match one of this process's
        self.batcher = FetchBatcher(timeout_ticks=2 * tunables.replica_fetch_max_wait_ticks + 10,
                                    correlation_base=secrets.randbits(32) << 20)

    def now(self) -> int:
        return self.runtime.ticker.count

    def on_fetch_want(self, want: FetchWant, envelope: Envelope) -> None:
        self.carry_out(self.batcher.want(want, self.now()))

    def on_fetcher_forget(self, message: FetcherForget, envelope: Envelope) -> None:
        self.carry_out(self.batcher.forget(message.topic, message.partition, self.now()))

    def on_fetch_response(self, response: FetchResponse, envelope: Envelope) -> None:
        self.carry_out(self.batcher.on_response(envelope.correlation_id, response, self.now()))

    def on_error_reply(self, message: ErrorReply, envelope: Envelope) -> None:
        self.carry_out(self.batcher.on_error(envelope.correlation_id, self.now()))

    def on_tick(self, tick: Tick) -> Any:
        self.carry_out(self.batcher.on_tick(tick.count))
        return None

    def carry_out(self, effects: BatcherEffects) -> None:
        if effects.send is not None:
            self.logger.debug("fetch #%d of %d partitions", effects.send.correlation_id,
                              len(effects.send.partitions))
            self.send(self.leader_address, "broker", FetchRequest(
                replica_id=self.runtime.node_id, max_wait_ms=self.wait_ms, min_bytes=1,
                max_bytes=self.max_bytes, partitions=effects.send.partitions),
                correlation_id=effects.send.correlation_id, reply_to=self.name)
        for replica, answer in effects.deliver:
            self.send(self.runtime.address, replica, answer)
        if effects.wake_at is not None:
            self.wake_in(effects.wake_at - self.now())


__all__ = ["FetcherActor", "fetcher_name"]
