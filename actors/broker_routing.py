"""The broker's request routing: client and follower requests fanned out to replica actors.

Owns (as a mixin of ``BrokerActor``): the table of calls in flight to this broker's replica
actors and the per-request gathers.  A multi-partition request becomes one call per partition
to the replica actor that owns it (a local message, never re-encoded); the broker answers the
request once, when every partition has answered.  Partitions this broker does not host are
answered at once: ``UnknownTopicOrPartition`` if the metadata does not know them,
``NotLeaderOrFollower`` otherwise.

Fetches: a single-partition fetch (a follower's, or a consumer's) long-polls at the replica.
A multi-partition fetch first asks every partition for data at once; if that yields fewer
than ``min_bytes`` it asks again with the long-poll wait and answers as soon as any
partition has data (the others keep their first, empty answer).

Must never: touch a log (the replica actors own them), or block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from actors.gather import CallTable, Gather
from actors.replica import replica_actor_name
from core.errors import ErrorCode
from core.messages import (
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
                done_early: Callable[[Any], bool] | None = None,
                results: list[Any] | None = None) -> Gather:
        """One call per part to the replica actor hosting it; ``finish`` when all answered."""
        gather = Gather(envelope, results if results is not None else [None] * len(parts),
                        len(parts), finish, done_early)
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
            if name is None:
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
        def missing(part: Any, error: ErrorCode) -> FetchPartitionResponse:
            return FetchPartitionResponse(topic=part.topic, partition=part.partition,
                                          error=error)

        def call(wait_ms: int) -> Callable[[int, Any], ReplicaFetch]:
            return lambda call_id, part: ReplicaFetch(
                call_id=call_id, replica_id=request.replica_id, max_wait_ms=wait_ms, data=part)

        def answer(gather: Gather) -> None:
            self.reply(gather.envelope, FetchResponse(partitions=tuple(gather.results)))

        def first_round(gather: Gather) -> None:
            size = sum(len(r.records) for r in gather.results)
            errors = any(r.error != ErrorCode.NONE for r in gather.results)
            if size >= max(1, request.min_bytes) or errors or request.max_wait_ms <= 0:
                answer(gather)
                return
            self.fan_out(envelope, request.partitions, call(request.max_wait_ms), missing,
                         answer, done_early=_has_data, results=list(gather.results))

        if len(request.partitions) == 1:
            self.fan_out(envelope, request.partitions, call(request.max_wait_ms), missing,
                         answer)
        else:
            self.fan_out(envelope, request.partitions, call(0), missing, first_round)

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


def _has_data(response: Any) -> bool:
    return bool(len(response.records)) or response.error != ErrorCode.NONE


__all__ = ["RoutingMixin", "replica_actor_name"]
