"""The broker's request routing: client and follower requests fanned out to replica actors.

Owns (as a mixin of ``BrokerActor``): the table of calls in flight to this broker's replica
actors and the per-request gathers.  A multi-partition request becomes one call per partition
to the replica actor that owns it (a local message, never re-encoded); the broker answers the
request once, when every partition has answered.  Partitions this broker does not host are
answered at once: ``UnknownTopicOrPartition`` if the metadata does not know them,
``NotLeaderOrFollower`` otherwise.

Fetches: a single-partition fetch (a follower's, or a consumer's) long-polls at the replica.
A multi-partition fetch first asks every partition for data at once; if that yields fewer
than ``min_bytes`` and the fetch may wait, the broker holds it (Kafka's delayed fetch): a
replica tells its broker whenever what a fetch can read from it changes
(``ReplicaDataReady``, carrying its log bounds, HW and the batches just appended), the
broker completes the held partition from that announcement — asking the replica again only
when it does not cover the fetch — and answers once the request has ``min_bytes`` (or an
error), or at ``max_wait_ms`` with what it has (a timer, to about a millisecond).  Waiting
costs nothing per partition: no call is parked at a replica, whatever the partition count.
Every decision is ``core.delayed_fetch``'s; this mixin carries its effects out.

Idle partitions (the leader side of Kafka's incremental fetch sessions, KIP-227): every
``ReplicaDataReady`` bumps the partition's version.  A partition of a multi-partition fetch
that came back empty is remembered with the version it was asked at; the same fetch of the
same partition at an unchanged version is answered by the broker itself, without a call to
the replica — nothing it could see or cause has changed.  An idle follower's fetch rounds
then cost the leader one message per round, not one per partition.

Must never: touch a log (the replica actors own them), or block.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from zafka.actors.gather import CallTable, Gather
from zafka.actors.replica import replica_actor_name
from zafka.core.delayed_fetch import DelayedFetches, FetchEffects
from zafka.core.errors import ErrorCode
from zafka.core.messages import (
    Envelope,
    FetchPartitionResponse,
    FetchRequest,
    FetchResponse,
    ListOffsetsPartitionResponse,
    ListOffsetsRequest,
    ListOffsetsResponse,
    MetadataImage,
    OffsetForLeaderEpochPartitionResponse,
    OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse,
    ProducePartitionResponse,
    ProduceRequest,
    ProduceResponse,
    ReplicaCallDone,
    ReplicaDataReady,
    ReplicaEpochEnd,
    ReplicaFetch,
    ReplicaListOffsets,
    ReplicaProduce,
    ReplicaStatusReply,
    ReplicaStatusRequest,
)


class RoutingMixin:
    """Request fan-out for ``BrokerActor`` (which provides send/reply/runtime/image)."""

    calls: CallTable
    now_tick: int
    tunables: Any
    delayed: DelayedFetches
    held_fetches: dict[int, Envelope]  # fetch id (core.delayed_fetch) -> the request's
    wake_after: Callable[[float], None]
    image: MetadataImage | None
    runtime: Any
    send: Callable[..., None]
    reply: Callable[[Envelope, Any], None]
    reply_error: Callable[..., None]
    hosted: dict[tuple[str, int], str]

    # --- helpers ------------------------------------------------------------------------

    def missing_error(self, topic: str, partition: int) -> ErrorCode:
        known = self.image is not None and any(
            p.topic == topic and p.partition == partition for p in self.image.partitions)
        return ErrorCode.NOT_LEADER_OR_FOLLOWER if known else \
            ErrorCode.UNKNOWN_TOPIC_OR_PARTITION

    def fan_out(self, envelope: Envelope, parts: Sequence[Any],
                make_call: Callable[[int, Any], Any],
                missing: Callable[[Any, ErrorCode], Any],
                finish: Callable[[Gather], None],
                answer_here: Callable[[Any], Any] | None = None) -> Gather:
        """One call per part to the replica actor hosting it (unless ``answer_here`` gives
        the part's response); ``finish`` when all answered."""
        gather = Gather(envelope, [None] * len(parts), len(parts), finish)
        if not parts or self.calls.full():
            gather.remaining = 0
            if self.calls.full():
                gather.results = [missing(p, ErrorCode.REQUEST_TIMED_OUT) for p in parts]
            gather.finished = True
            finish(gather)
            return gather
        for slot, part in enumerate(parts):
            name = self.hosted.get((part.topic, part.partition))
            call_id = self.calls.open(gather, slot)
            known = answer_here(part) if answer_here is not None and name is not None \
                else None
            if known is not None:
                self.calls.answer(call_id, known)
            elif name is None:
                error = self.missing_error(part.topic, part.partition)
                self.calls.answer(call_id, missing(part, error))
            else:
                self.send(self.runtime.address, name, make_call(call_id, part),
                          reply_to="broker")
        return gather

    def on_replica_call_done(self, message: ReplicaCallDone, envelope: Envelope) -> None:
        self.calls.answer(message.call_id, message.response)

    # --- produce ------------------------------------------------------------------------

    def on_produce_request(self, request: ProduceRequest, envelope: Envelope) -> None:
        def finish(gather: Gather) -> None:
            if request.acks != 0:
                self.reply(gather.envelope, ProduceResponse(partitions=tuple(gather.results)))

        self.fan_out(
            envelope, request.partitions,
            lambda call_id, part: ReplicaProduce(call_id=call_id, acks=request.acks,
                                                 timeout_ms=request.timeout_ms, data=part),
            lambda part, error: ProducePartitionResponse(topic=part.topic,
                                                         partition=part.partition, error=error),
            finish)

    # --- fetch --------------------------------------------------------------------------

    def on_fetch_request(self, request: FetchRequest, envelope: Envelope) -> None:
        delayed = self.delayed
        versions = [delayed.version((p.topic, p.partition)) for p in request.partitions]

        def first_round(gather: Gather) -> None:
            fetch_id, effects = delayed.first_round(request, versions, gather.results,
                                                    now_ms())
            self.held_fetches[fetch_id] = envelope
            self.carry_out(effects)

        if len(request.partitions) == 1:
            self.fan_out(envelope, request.partitions, _fetch_call(request, request.max_wait_ms),
                         _fetch_missing, lambda g: self.answer_fetch(envelope, g.results))
        else:
            self.fan_out(envelope, request.partitions, _fetch_call(request, 0), _fetch_missing,
                         first_round,
                         answer_here=lambda part: delayed.unchanged(request.replica_id, part))

    def answer_fetch(self, envelope: Envelope, results: Sequence[Any]) -> None:
        self.reply(envelope, FetchResponse(partitions=tuple(results)))

    # --- delayed fetch (decisions in core.delayed_fetch) --------------------------------

    def on_replica_data_ready(self, message: ReplicaDataReady, envelope: Envelope) -> None:
        self.carry_out(self.delayed.on_data_ready(message))

    def carry_out(self, effects: FetchEffects) -> None:
        """Answer the fetches the core completed; ask replicas again where it must."""
        for fetch_id, results in effects.answer:
            self.answer_fetch(self.held_fetches.pop(fetch_id), results)
        for fetch_id, slot in effects.ask_again:
            held = self.delayed.held.get(fetch_id)
            if held is None:
                continue  # answered by an earlier effect
            part = held.request.partitions[slot]

            def done(gather: Gather, fetch_id: int = fetch_id, slot: int = slot) -> None:
                self.carry_out(self.delayed.on_asked_again(fetch_id, slot, gather.results[0]))

            self.fan_out(self.held_fetches[fetch_id], (part,),
                         _fetch_call(held.request, 0, again=True), _fetch_missing, done)
        self.wake_for_held_fetches()

    def wake_for_held_fetches(self) -> None:
        """A timer at the earliest held fetch's ``max_wait_ms`` (to about a millisecond)."""
        deadline = self.delayed.next_deadline_ms()
        if deadline is not None:
            self.wake_after(max(0, deadline - now_ms()) / 1000)

    def expire_delayed_fetches(self) -> None:
        """Answer the held fetches whose ``max_wait_ms`` is up (called on every tick)."""
        self.carry_out(self.delayed.expire(now_ms()))

    # --- offsets and epochs -------------------------------------------------------------

    def on_list_offsets_request(self, request: ListOffsetsRequest, envelope: Envelope) -> None:
        self.fan_out(
            envelope, request.partitions,
            lambda call_id, part: ReplicaListOffsets(call_id=call_id,
                                                     replica_id=request.replica_id, data=part),
            lambda part, error: ListOffsetsPartitionResponse(
                topic=part.topic, partition=part.partition, error=error),
            lambda g: self.reply(g.envelope, ListOffsetsResponse(partitions=tuple(g.results))))

    def on_offset_for_leader_epoch_request(self, request: OffsetForLeaderEpochRequest,
                                           envelope: Envelope) -> None:
        self.fan_out(
            envelope, request.partitions,
            lambda call_id, part: ReplicaEpochEnd(call_id=call_id, data=part),
            lambda part, error: OffsetForLeaderEpochPartitionResponse(
                topic=part.topic, partition=part.partition, error=error),
            lambda g: self.reply(g.envelope,
                                 OffsetForLeaderEpochResponse(partitions=tuple(g.results))))

    def on_replica_status_request(self, request: ReplicaStatusRequest,
                                  envelope: Envelope) -> None:
        """Every hosted replica's state (asked of each replica actor, gathered)."""
        names = sorted(self.hosted.items())
        gather = Gather(envelope, [None] * len(names), len(names),
                        lambda g: self.reply(g.envelope,
                                             ReplicaStatusReply(replicas=tuple(g.results))))
        if not names:
            gather.finish(gather)
            return
        for slot, (_, name) in enumerate(names):
            call_id = self.calls.open(gather, slot)
            self.send(self.runtime.address, name, ReplicaStatusRequest(),
                      correlation_id=call_id, reply_to="broker")


def _fetch_call(request: FetchRequest, wait_ms: int,
                again: bool = False) -> Callable[[int, Any], ReplicaFetch]:
    return lambda call_id, part: ReplicaFetch(call_id=call_id, replica_id=request.replica_id,
                                              max_wait_ms=wait_ms, data=part, again=again)


def _fetch_missing(part: Any, error: ErrorCode) -> FetchPartitionResponse:
    return FetchPartitionResponse(topic=part.topic, partition=part.partition, error=error)


def now_ms() -> int:
    """The monotonic clock in milliseconds (held fetches' deadlines)."""
    return int(time.monotonic() * 1000)


__all__ = ["RoutingMixin", "now_ms", "replica_actor_name"]
