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
(``ReplicaDataReady``), the broker asks that one partition again, and answers once the
request has ``min_bytes`` (or an error) — or at ``max_wait_ms`` with what it has.  Waiting
costs nothing per partition: no call is parked at a replica, whatever the partition count.

Idle partitions (the leader side of Kafka's incremental fetch sessions, KIP-227): every
``ReplicaDataReady`` bumps the partition's version.  A partition of a multi-partition fetch
that came back empty is remembered with the version it was asked at; the same fetch of the
same partition at an unchanged version is answered by the broker itself, without a call to
the replica — nothing it could see or cause has changed.  An idle follower's fetch rounds
then cost the leader one message per round, not one per partition.

Must never: touch a log (the replica actors own them), or block.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from collections.abc import Callable, Sequence
from typing import Any

from zafka.actors.gather import CallTable, Gather
from zafka.actors.replica import replica_actor_name
from zafka.core.errors import ErrorCode
from zafka.core.messages import (
    Envelope,
    FetchPartition,
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


@dataclasses.dataclass(eq=False, slots=True)
class DelayedFetch:
    """A multi-partition fetch held at the broker until it has data or its deadline."""

    envelope: Envelope
    request: FetchRequest
    results: list[FetchPartitionResponse]
    slots: dict[tuple[str, int], int]  # (topic, partition) -> index in the request
    deadline_tick: int
    size: int = 0
    done: bool = False


class RoutingMixin:
    """Request fan-out for ``BrokerActor`` (which provides send/reply/runtime/image)."""

    calls: CallTable
    now_tick: int
    tunables: Any
    watching: dict[tuple[str, int], dict[int, DelayedFetch]]  # partition -> fetches held
    delayed_deadlines: list[tuple[int, int, DelayedFetch]]
    versions: dict[tuple[str, int], int]  # partition -> ReplicaDataReady count
    fetches_answered_here: int  # partitions of fetches answered without asking the replica
    empty_fetches: dict[tuple[int, str, int], tuple[FetchPartition, int, FetchPartitionResponse]]
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
        versions = [self.versions.get((p.topic, p.partition), 0) for p in request.partitions]

        def unchanged(part: FetchPartition) -> FetchPartitionResponse | None:
            seen = self.empty_fetches.get((request.replica_id, part.topic, part.partition))
            if seen is None or seen[0] != part or \
                    seen[1] != self.versions.get((part.topic, part.partition), 0):
                return None
            self.fetches_answered_here += 1
            return seen[2]

        def first_round(gather: Gather) -> None:
            for part, version, result in zip(request.partitions, versions, gather.results,
                                             strict=True):
                if result.error == ErrorCode.NONE and not len(result.records) and \
                        result.diverging_epoch is None:
                    self.empty_fetches[(request.replica_id, part.topic, part.partition)] = (
                        part, version, result)
            size = sum(len(r.records) for r in gather.results)
            errors = any(r.error != ErrorCode.NONE for r in gather.results)
            if _enough(request, size, errors) or request.max_wait_ms <= 0:
                self.answer_fetch(envelope, gather.results)
                return
            self.delay_fetch(envelope, request, gather.results)

        if len(request.partitions) == 1:
            self.fan_out(envelope, request.partitions, _fetch_call(request, request.max_wait_ms),
                         _fetch_missing, lambda g: self.answer_fetch(envelope, g.results))
        else:
            self.fan_out(envelope, request.partitions, _fetch_call(request, 0), _fetch_missing,
                         first_round, answer_here=unchanged)

    def answer_fetch(self, envelope: Envelope, results: Sequence[Any]) -> None:
        self.reply(envelope, FetchResponse(partitions=tuple(results)))

    # --- delayed fetch ------------------------------------------------------------------

    def delay_fetch(self, envelope: Envelope, request: FetchRequest,
                    results: list[FetchPartitionResponse]) -> None:
        """Hold a fetch that found too little until a watched partition has data."""
        wait_ticks = max(1, request.max_wait_ms // self.tunables.tick_ms)
        delayed = DelayedFetch(
            envelope, request, list(results),
            {(p.topic, p.partition): slot for slot, p in enumerate(request.partitions)},
            self.now_tick + wait_ticks)
        for key in delayed.slots:
            self.watching.setdefault(key, {})[id(delayed)] = delayed
        heapq.heappush(self.delayed_deadlines,
                       (delayed.deadline_tick, next(_delayed_ids), delayed))

    def on_replica_data_ready(self, message: ReplicaDataReady, envelope: Envelope) -> None:
        """Ask the partition again for every fetch held on it."""
        key = (message.topic, message.partition)
        self.versions[key] = self.versions.get(key, 0) + 1
        for delayed in list(self.watching.get(key, {}).values()):
            slot = delayed.slots[key]
            part = delayed.request.partitions[slot]
            def done(gather: Gather, d: DelayedFetch = delayed, s: int = slot) -> None:
                self.fetch_again_done(d, s, gather.results[0])

            self.fan_out(delayed.envelope, (part,), _fetch_call(delayed.request, 0, again=True),
                         _fetch_missing, done)

    def fetch_again_done(self, delayed: DelayedFetch, slot: int,
                         response: FetchPartitionResponse) -> None:
        if delayed.done:
            return
        delayed.size += len(response.records) - len(delayed.results[slot].records)
        delayed.results[slot] = response
        if _enough(delayed.request, delayed.size, response.error != ErrorCode.NONE):
            self.complete_delayed(delayed)

    def complete_delayed(self, delayed: DelayedFetch) -> None:
        delayed.done = True
        for key in delayed.slots:
            held = self.watching.get(key)
            if held is not None:
                held.pop(id(delayed), None)
                if not held:
                    del self.watching[key]
        self.answer_fetch(delayed.envelope, delayed.results)

    def expire_delayed_fetches(self) -> None:
        """Answer the held fetches whose ``max_wait_ms`` is up (called every tick)."""
        while self.delayed_deadlines and self.delayed_deadlines[0][0] <= self.now_tick:
            _, _, delayed = heapq.heappop(self.delayed_deadlines)
            if not delayed.done:
                self.complete_delayed(delayed)

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


_delayed_ids = itertools.count()


def _fetch_call(request: FetchRequest, wait_ms: int,
                again: bool = False) -> Callable[[int, Any], ReplicaFetch]:
    return lambda call_id, part: ReplicaFetch(call_id=call_id, replica_id=request.replica_id,
                                              max_wait_ms=wait_ms, data=part, again=again)


def _enough(request: FetchRequest, size: int, errors: bool) -> bool:
    """A fetch is answered once it has ``min_bytes`` (at least one byte) or an error."""
    return size >= max(1, request.min_bytes) or errors


def _fetch_missing(part: Any, error: ErrorCode) -> FetchPartitionResponse:
    return FetchPartitionResponse(topic=part.topic, partition=part.partition, error=error)


__all__ = ["DelayedFetch", "RoutingMixin", "replica_actor_name"]
