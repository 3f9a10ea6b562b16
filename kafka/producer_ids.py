"""InitProducerId (key 22), v0-v4: producer ids for idempotent producers.

The broker hands out ids from blocks the controller allocates; each id starts at epoch 0
and the partition leaders deduplicate by (id, epoch, sequence).  Differs from Kafka:
zafka has no transactions, so a transactional id is refused with
``TRANSACTIONAL_ID_AUTHORIZATION_FAILED`` (a client reports it as fatal at
``init_transactions()``, with the message "zafka has no transactions"); a producer that
asks to bump the epoch of its id (v3+, KIP-360) gets a fresh id instead, which Kafka's
clients accept the same way.
"""

from __future__ import annotations

from typing import Any

from zafka.core.errors import ErrorCode
from zafka.core.messages import ErrorReply, InitProducerIdRequest, InitProducerIdResponse
from zafka.kafka import codec
from zafka.kafka.errors import kafka_error
from zafka.kafka.framing import RequestHeader
from zafka.kafka.handler import NO_THROTTLE, Ask, Context, Outcome, Respond, Target, make

API_KEY = 22
APIS = {API_KEY: (0, 4)}


def handle(request: Any, header: RequestHeader, context: Context) -> Outcome:
    cls = codec.response_class(API_KEY, header.api_version)
    if request.transactional_id is not None:
        return Respond(response(cls, InitProducerIdResponse(
            error=ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            message="zafka has no transactions")))

    def answer(reply: InitProducerIdResponse | ErrorReply) -> Outcome:
        if isinstance(reply, ErrorReply):
            reply = InitProducerIdResponse(error=reply.code, message=reply.message)
        return Respond(response(cls, reply))

    return Ask(Target.BROKER, InitProducerIdRequest(), answer)


def response(cls: Any, reply: InitProducerIdResponse) -> Any:
    return make(cls, throttle_time=NO_THROTTLE, error_code=kafka_error(reply.error),
                producer_id=reply.producer_id, producer_epoch=reply.producer_epoch)


__all__ = ["APIS", "handle"]
