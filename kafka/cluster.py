"""DescribeCluster (key 60), v0-v1: the cluster id, the brokers at their Kafka addresses and
a controller id, from the broker's metadata image.

Differs from Kafka: the controller id is the answering broker (zafka's controller is a
coordinator that speaks no Kafka; brokers forward admin requests to it, as KRaft brokers
do); ``endpoint_type`` 2 (controllers, KIP-919) is answered with the brokers too; authorized
operations are not computed.
"""

from __future__ import annotations

from typing import Any

from zafka.core.messages import DescribeTopicsReply, DescribeTopicsRequest, ErrorReply
from zafka.kafka import codec
from zafka.kafka.errors import error_message, kafka_error
from zafka.kafka.framing import RequestHeader
from zafka.kafka.handler import NO_THROTTLE, Ask, Context, Outcome, Respond, Target, make
from zafka.kafka.metadata import NOT_REQUESTED, kafka_host_port

API_KEY = 60
APIS = {API_KEY: (0, 1)}


def handle(request: Any, header: RequestHeader, context: Context) -> Outcome:
    cls = codec.response_class(API_KEY, header.api_version)

    def answer(reply: DescribeTopicsReply | ErrorReply) -> Outcome:
        code, message = (reply.code, reply.message) if isinstance(reply, ErrorReply) \
            else (0, "")
        records = () if isinstance(reply, ErrorReply) else reply.brokers
        live = [(r.broker_id, kafka_host_port(r)) for r in records if not r.fenced]
        return Respond(make(
            cls, throttle_time=NO_THROTTLE, error_code=kafka_error(code),
            error_message=error_message(code, message),
            endpoint_type=getattr(request, "endpoint_type", 1),
            cluster_id=context.cluster_id, controller_id=context.node_id,
            cluster_authorized_operations=NOT_REQUESTED,
            brokers=lambda item: tuple(
                make(item, broker_id=broker_id, host=where[0], port=where[1], rack=None)
                for broker_id, where in live if where is not None)))

    return Ask(Target.BROKER, DescribeTopicsRequest(names=()), answer)


__all__ = ["APIS", "handle"]
