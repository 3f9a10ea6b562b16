"""Produce (key 0), v0-v9.

Each partition's batches go to the broker as one ``ProduceRequest`` (the broker fans it out
to the partition leaders' replica actors); the bytes are stored as the client sent them,
compressed or not.  acks 0 / 1 / -1 are the broker's; ``acks=0`` gets no response, as in
Kafka.  Errors are the replicas' (``NOT_LEADER_OR_FOLLOWER``, ``NOT_ENOUGH_REPLICAS``,
``RECORD_TOO_LARGE`` (Kafka's MESSAGE_TOO_LARGE), ``CORRUPT_MESSAGE``,
``UNKNOWN_TOPIC_OR_PARTITION``, ``OUT_OF_ORDER_SEQUENCE_NUMBER``, ...), with their messages.
Differs from Kafka: v0-v2 are accepted so that clients which test for them keep their
features, but zafka stores only RecordBatch v2 (magic 2): an older message set is refused
as ``CORRUPT_MESSAGE``.  A transactional produce is refused with
``TRANSACTIONAL_ID_AUTHORIZATION_FAILED`` (zafka has no transactions; see InitProducerId).
"""

from __future__ import annotations

import datetime
from typing import Any

from zafka.core.errors import ErrorCode
from zafka.core.messages import (
    ErrorReply,
    ProducePartitionData,
    ProducePartitionResponse,
    ProduceRequest,
    ProduceResponse,
)
from zafka.kafka import codec
from zafka.kafka.errors import error_message, kafka_error
from zafka.kafka.framing import RequestHeader
from zafka.kafka.handler import (
    NO_THROTTLE,
    Ask,
    Context,
    Outcome,
    Respond,
    Target,
    Tell,
    grouped,
    make,
    timeout_ms,
)

API_KEY = 0
APIS = {API_KEY: (0, 9)}
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def handle(request: Any, header: RequestHeader, context: Context) -> Outcome:
    cls = codec.response_class(API_KEY, header.api_version)
    parts = tuple(ProducePartitionData(topic=topic.name, partition=int(p.index),
                                       records=p.records or b"")
                  for topic in request.topic_data for p in topic.partition_data)
    if getattr(request, "transactional_id", None) is not None:
        refused = tuple(ProducePartitionResponse(
            topic=p.topic, partition=p.partition,
            error=ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            error_message="zafka has no transactions") for p in parts)
        return Respond(response(cls, ProduceResponse(partitions=refused)))
    produce = ProduceRequest(acks=int(request.acks), timeout_ms=timeout_ms(request.timeout),
                             partitions=parts)
    if produce.acks == 0:
        return Tell(Target.BROKER, produce)

    def answer(reply: ProduceResponse | ErrorReply) -> Outcome:
        if isinstance(reply, ErrorReply):
            reply = ProduceResponse(partitions=tuple(ProducePartitionResponse(
                topic=p.topic, partition=p.partition, error=reply.code,
                error_message=reply.message) for p in parts))
        return Respond(response(cls, reply))

    return Ask(Target.BROKER, produce, answer)


def append_time(ms: int) -> datetime.datetime | None:
    return None if ms < 0 else EPOCH + datetime.timedelta(milliseconds=ms)


def partition(cls: Any, result: ProducePartitionResponse) -> Any:
    return make(cls, index=result.partition, error_code=kafka_error(result.error),
                base_offset=result.base_offset,
                log_append_time=append_time(result.log_append_time_ms),
                log_start_offset=result.log_start_offset, record_errors=(),
                error_message=error_message(result.error, result.error_message))


def response(cls: Any, reply: ProduceResponse) -> Any:
    by_topic = grouped(reply.partitions, lambda p: p.topic)
    return make(cls, throttle_time=NO_THROTTLE, responses=lambda topic_cls: tuple(
        make(topic_cls, name=name, partition_responses=lambda part_cls, results=results: tuple(
            partition(part_cls, r) for r in results))
        for name, results in by_topic.items()))


__all__ = ["APIS", "handle"]
