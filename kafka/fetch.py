"""Fetch (key 1), v0-v12.

A Kafka fetch becomes one consumer ``FetchRequest`` to the broker, which holds it until
``min_bytes`` or ``max_wait_ms`` (Kafka's delayed fetch) and reads each partition below its
high watermark; the current leader epoch (KIP-320) is checked by the replica, which answers
``FENCED_LEADER_EPOCH`` / ``UNKNOWN_LEADER_EPOCH`` / ``NOT_LEADER_OR_FOLLOWER`` with the
current leader and epoch (v12 ``current_leader``).  Batches are returned as stored.

Fetch sessions (KIP-227, v7+) are refused the way the protocol provides: every response
carries session id 0, so a client keeps sending full fetches; a request naming a session
(id != 0) gets ``FETCH_SESSION_ID_NOT_FOUND``, and one asking an incremental epoch without a
session ``INVALID_FETCH_SESSION_EPOCH``.  Differs from Kafka: ``isolation_level`` is
accepted and both levels read up to the high watermark (zafka has no transactions, so the
last stable offset is the high watermark and there are no aborted transactions); the
``replica_id`` of a Kafka client is always read as a consumer's (followers speak zafka's
protocol); ``rack_id`` is ignored (no follower fetching, KIP-392).
"""

from __future__ import annotations

from typing import Any

from zafka.core.messages import (
    ErrorReply,
    FetchPartition,
    FetchPartitionResponse,
    FetchRequest,
    FetchResponse,
)
from zafka.kafka import codec
from zafka.kafka.errors import kafka_error
from zafka.kafka.framing import RequestHeader
from zafka.kafka.handler import (
    NO_THROTTLE,
    Ask,
    Context,
    Outcome,
    Respond,
    Target,
    error,
    field_class,
    grouped,
    make,
    timeout_ms,
)

API_KEY = 1
APIS = {API_KEY: (0, 12)}
CONSUMER = -1
FETCH_SESSION_ID_NOT_FOUND = 70
INVALID_FETCH_SESSION_EPOCH = 71
NO_SESSION = 0


def session_error(request: Any) -> int:
    """The error for a request that assumes a fetch session this broker never created."""
    session_id = getattr(request, "session_id", NO_SESSION)
    if session_id != NO_SESSION:
        return FETCH_SESSION_ID_NOT_FOUND
    if getattr(request, "session_epoch", -1) not in (-1, 0):
        return INVALID_FETCH_SESSION_EPOCH
    return 0


def catalogue_request(request: Any) -> FetchRequest:
    return FetchRequest(
        replica_id=CONSUMER, max_wait_ms=timeout_ms(request.max_wait),
        min_bytes=int(request.min_bytes),
        max_bytes=int(getattr(request, "max_bytes", 2**31 - 1)),
        partitions=tuple(
            FetchPartition(topic=topic.topic, partition=int(p.partition),
                           fetch_offset=int(p.fetch_offset),
                           partition_max_bytes=int(p.partition_max_bytes),
                           current_leader_epoch=int(getattr(p, "current_leader_epoch", -1)),
                           last_fetched_epoch=int(getattr(p, "last_fetched_epoch", -1)))
            for topic in request.topics for p in topic.partitions))


def handle(request: Any, header: RequestHeader, context: Context) -> Outcome:
    cls = codec.response_class(API_KEY, header.api_version)
    refused = session_error(request)
    if refused:
        return Respond(make(cls, throttle_time=NO_THROTTLE, error_code=error(refused),
                            session_id=NO_SESSION, responses=()))
    fetch = catalogue_request(request)

    def answer(reply: FetchResponse | ErrorReply) -> Outcome:
        if isinstance(reply, ErrorReply):
            reply = FetchResponse(partitions=tuple(FetchPartitionResponse(
                topic=p.topic, partition=p.partition, error=reply.code)
                for p in fetch.partitions))
        return Respond(response(cls, reply))

    return Ask(Target.BROKER, fetch, answer)


def partition(cls: Any, result: FetchPartitionResponse) -> Any:
    stable = result.last_stable_offset if result.last_stable_offset >= 0 \
        else result.high_watermark
    current_leader = field_class(cls, "current_leader")
    return make(cls, partition_index=result.partition, error_code=kafka_error(result.error),
                high_watermark=result.high_watermark, last_stable_offset=stable,
                log_start_offset=result.log_start_offset, aborted_transactions=(),
                preferred_read_replica=-1, records=bytes(result.records),
                current_leader=None if current_leader is None else current_leader(
                    leader_id=result.leader_id, leader_epoch=result.leader_epoch))


def response(cls: Any, reply: FetchResponse) -> Any:
    by_topic = grouped(reply.partitions, lambda p: p.topic)
    return make(
        cls, throttle_time=NO_THROTTLE, error_code=kafka_error(reply.error),
        session_id=NO_SESSION,
        responses=lambda topic_cls: tuple(
            make(topic_cls, topic=name, partitions=lambda part_cls, results=results: tuple(
                partition(part_cls, r) for r in results))
            for name, results in by_topic.items()))


__all__ = ["APIS", "handle"]
