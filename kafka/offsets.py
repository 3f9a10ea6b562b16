"""ListOffsets (key 2), v1-v7, and OffsetForLeaderEpoch (key 23), v2-v4.

ListOffsets: the timestamps -1 (latest: the high watermark, which is also the last stable
offset since zafka has no transactions), -2 (earliest: the log start) and real timestamps
are answered by each partition's leader replica, which also checks the current leader epoch.
OffsetForLeaderEpoch: where an epoch ends in the leader's log (a consumer's truncation
check after a leader change, KIP-320), answered by the leader replica.
Differs from Kafka: ``isolation_level`` is accepted and both levels read the high
watermark; ListOffsets v0 (the pre-0.10.1 offsets list) is not served.
"""

from __future__ import annotations

from typing import Any

from zafka.core.messages import (
    ErrorReply,
    ListOffsetsPartition,
    ListOffsetsPartitionResponse,
    ListOffsetsRequest,
    ListOffsetsResponse,
    OffsetForLeaderEpochPartition,
    OffsetForLeaderEpochPartitionResponse,
    OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse,
)
from zafka.kafka import codec
from zafka.kafka.errors import kafka_error
from zafka.kafka.framing import RequestHeader
from zafka.kafka.handler import NO_THROTTLE, Ask, Context, Outcome, Respond, Target, grouped, make

LIST_OFFSETS = 2
OFFSET_FOR_LEADER_EPOCH = 23
APIS = {LIST_OFFSETS: (1, 7), OFFSET_FOR_LEADER_EPOCH: (2, 4)}
CONSUMER = -1


def handle(request: Any, header: RequestHeader, context: Context) -> Outcome:
    cls = codec.response_class(header.api_key, header.api_version)
    if header.api_key == LIST_OFFSETS:
        return list_offsets(request, cls)
    return offset_for_leader_epoch(request, cls)


def list_offsets(request: Any, cls: Any) -> Outcome:
    asked = ListOffsetsRequest(replica_id=CONSUMER, partitions=tuple(
        ListOffsetsPartition(topic=topic.name, partition=int(p.partition_index),
                             timestamp=int(p.timestamp),
                             current_leader_epoch=int(getattr(p, "current_leader_epoch", -1)))
        for topic in request.topics for p in topic.partitions))

    def answer(reply: ListOffsetsResponse | ErrorReply) -> Outcome:
        if isinstance(reply, ErrorReply):
            reply = ListOffsetsResponse(partitions=tuple(ListOffsetsPartitionResponse(
                topic=p.topic, partition=p.partition, error=reply.code)
                for p in asked.partitions))
        by_topic = grouped(reply.partitions, lambda p: p.topic)
        return Respond(make(cls, throttle_time=NO_THROTTLE, topics=lambda topic_cls: tuple(
            make(topic_cls, name=name, partitions=lambda part_cls, found=found: tuple(
                make(part_cls, partition_index=r.partition, error_code=kafka_error(r.error),
                     timestamp=r.timestamp, offset=r.offset, leader_epoch=r.leader_epoch)
                for r in found))
            for name, found in by_topic.items())))

    return Ask(Target.BROKER, asked, answer)


def offset_for_leader_epoch(request: Any, cls: Any) -> Outcome:
    asked = OffsetForLeaderEpochRequest(replica_id=CONSUMER, partitions=tuple(
        OffsetForLeaderEpochPartition(topic=topic.topic, partition=int(p.partition),
                                      leader_epoch=int(p.leader_epoch),
                                      current_leader_epoch=int(p.current_leader_epoch))
        for topic in request.topics for p in topic.partitions))

    def answer(reply: OffsetForLeaderEpochResponse | ErrorReply) -> Outcome:
        if isinstance(reply, ErrorReply):
            reply = OffsetForLeaderEpochResponse(partitions=tuple(
                OffsetForLeaderEpochPartitionResponse(topic=p.topic, partition=p.partition,
                                                      error=reply.code)
                for p in asked.partitions))
        by_topic = grouped(reply.partitions, lambda p: p.topic)
        return Respond(make(cls, throttle_time=NO_THROTTLE, topics=lambda topic_cls: tuple(
            make(topic_cls, topic=name, partitions=lambda part_cls, found=found: tuple(
                make(part_cls, error_code=kafka_error(r.error), partition=r.partition,
                     leader_epoch=r.leader_epoch, end_offset=r.end_offset)
                for r in found))
            for name, found in by_topic.items())))

    return Ask(Target.BROKER, asked, answer)


__all__ = ["APIS", "handle"]
