"""Metadata (key 3), v0-v12.

Served from the broker's committed metadata image (a ``DescribeTopicsRequest`` to the
broker actor): the real partition leaders with their leader epochs, replicas and ISR, the
unfenced brokers at their advertised Kafka addresses, the cluster id and topic ids.
Differs from Kafka: the controller id is the answering broker (zafka's controller is a
coordinator, which speaks no Kafka; a broker forwards admin requests to it, as KRaft
brokers do); topics are created automatically only when the listener was configured to
and the request allows it (off by default, unlike Kafka's ``auto.create.topics.enable``);
authorized operations are not computed (-2147483648, "not requested", is returned).
"""

from __future__ import annotations

import uuid
from typing import Any

from zafka.core.errors import ErrorCode
from zafka.core.messages import (
    BrokerRecord,
    CreateTopicsRequest,
    DescribeTopicsReply,
    DescribeTopicsRequest,
    ErrorReply,
    NewTopic,
    TopicDescription,
)
from zafka.kafka import codec
from zafka.kafka.errors import kafka_error
from zafka.kafka.framing import RequestHeader
from zafka.kafka.handler import NO_THROTTLE, Ask, Context, Outcome, Respond, Target, make

API_KEY = 3
APIS = {API_KEY: (0, 12)}
NOT_REQUESTED = -2147483648
ZERO_UUID = uuid.UUID(int=0)


def requested_names(request: Any, version: int) -> tuple[str, ...] | None:
    """The topic names asked for; None = every topic (v0: an empty list meant all)."""
    topics = request.topics
    if topics is None or (version == 0 and not topics):
        return None
    return tuple(t.name for t in topics if t.name is not None)


def handle(request: Any, header: RequestHeader, context: Context) -> Outcome:
    names = requested_names(request, header.api_version)
    cls = codec.response_class(API_KEY, header.api_version)
    auto_create = context.auto_create_topics and getattr(
        request, "allow_auto_topic_creation", True)

    def answer(reply: DescribeTopicsReply | ErrorReply) -> Outcome:
        if isinstance(reply, ErrorReply):
            reply = DescribeTopicsReply(topics=tuple(
                TopicDescription(name=n, error=reply.code) for n in names or ()), brokers=())
        missing = tuple(t.name for t in reply.topics
                        if t.error == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
        if auto_create and missing:
            return Ask(Target.CONTROLLER,
                       CreateTopicsRequest(topics=tuple(NewTopic(name=n) for n in missing)),
                       lambda _: Respond(response(cls, context, reply, created=missing)))
        return Respond(response(cls, context, reply))

    return Ask(Target.BROKER, DescribeTopicsRequest(names=names or ()), answer)


def kafka_host_port(record: BrokerRecord) -> tuple[str, int] | None:
    address = record.kafka_address
    if not address:
        return None
    host, port = address.rsplit(":", 1)
    return host, int(port)


def brokers(cls: Any, reply: DescribeTopicsReply) -> tuple[Any, ...]:
    item = cls
    found = []
    for record in reply.brokers:
        where = kafka_host_port(record)
        if where is not None and not record.fenced:
            found.append(make(item, node_id=record.broker_id, host=where[0], port=where[1],
                              rack=None))
    return tuple(found)


def topic(cls: Any, description: TopicDescription, created: tuple[str, ...]) -> Any:
    code = kafka_error(ErrorCode.LEADER_NOT_AVAILABLE if description.name in created
                       else description.error)
    return make(
        cls, error_code=code, name=description.name, is_internal=description.internal,
        topic_id=uuid.UUID(description.topic_id) if description.topic_id else ZERO_UUID,
        topic_authorized_operations=NOT_REQUESTED,
        partitions=lambda item: tuple(
            make(item, error_code=kafka_error(ErrorCode.NONE if p.leader >= 0
                                              else ErrorCode.LEADER_NOT_AVAILABLE),
                 partition_index=p.partition, leader_id=p.leader,
                 leader_epoch=p.leader_epoch, replica_nodes=p.replicas, isr_nodes=p.isr,
                 offline_replicas=())
            for p in sorted(description.partitions, key=lambda p: p.partition)))


def response(cls: Any, context: Context, reply: DescribeTopicsReply,
             created: tuple[str, ...] = ()) -> Any:
    return make(
        cls, throttle_time=NO_THROTTLE, cluster_id=context.cluster_id,
        controller_id=context.node_id, cluster_authorized_operations=NOT_REQUESTED,
        brokers=lambda item: brokers(item, reply),
        topics=lambda item: tuple(topic(item, d, created) for d in reply.topics))


__all__ = ["APIS", "handle"]
