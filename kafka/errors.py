"""zafka error codes as Kafka error codes.

zafka's ``ErrorCode`` numbers are Kafka's wherever Kafka has the error; the few of zafka's
own (no quorum, cluster unreachable, internal) become the Kafka error a client retries or
reports the same way.

Must never: change a code's meaning, only its number.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode as KafkaErrorCode
from zafka.core.errors import ErrorCode

_OWN = {
    ErrorCode.NO_QUORUM: KafkaErrorCode.request_timed_out,
    ErrorCode.CLUSTER_UNREACHABLE: KafkaErrorCode.request_timed_out,
    ErrorCode.INTERNAL: KafkaErrorCode.unknown_server_error,
}


def kafka_error(code: ErrorCode | int) -> KafkaErrorCode:
    """The Kafka error code for a zafka one."""
    own = _OWN.get(ErrorCode(code)) if code in ErrorCode._value2member_map_ else None
    if own is not None:
        return own
    try:
        return KafkaErrorCode(int(code))
    except ValueError:
        return KafkaErrorCode.unknown_server_error


def error_message(code: ErrorCode | int, message: str) -> str | None:
    """Kafka's nullable error message: None when there is no error."""
    return message or None if int(code) else None


__all__ = ["kafka_error", "error_message"]
