"""FindCoordinator (api key 10), versions 0-4: which broker coordinates a group.

The broker actor answers zafka's own ``FindCoordinatorRequest`` (the leader of the group's
``__consumer_offsets`` partition); this module turns a Kafka request into one such request
per key (v4 asks for several keys at once) and the answers into Kafka's fields, with the
coordinator's advertised Kafka address instead of its internal one.

How this differs from Kafka: transaction coordinators (key type 1) do not exist — zafka has
no transactions — and are answered TRANSACTIONAL_ID_AUTHORIZATION_FAILED, the refusal
clients report as "transactions are not permitted"; share-group keys (v6) are not served.

Must never: decide who coordinates (the broker actor does), do I/O, or block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from zafka.core.errors import ErrorCode
from zafka.core.messages import FindCoordinatorRequest, FindCoordinatorResponse
from zafka.kafka.groups import kafka_error

FIND_COORDINATOR = 10
VERSIONS = {FIND_COORDINATOR: (0, 4)}
GROUP_KEY, TRANSACTION_KEY = 0, 1
TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53

Address = Callable[[int], "tuple[str, int] | None"]
"""broker id -> its advertised Kafka (host, port), or None if it has none yet."""


def find_coordinator(req: Any, version: int) -> tuple[int, list[str]]:
    """(key type, keys) of a request."""
    key_type = int(getattr(req, "key_type", 0) or 0) if version >= 1 else GROUP_KEY
    keys = list(req.coordinator_keys) if version >= 4 else [req.key]
    return key_type, keys


def catalogue_requests(key_type: int, keys: Sequence[str]) -> list[FindCoordinatorRequest]:
    """What to ask the broker actor (nothing for transaction keys)."""
    if key_type != GROUP_KEY:
        return []
    return [FindCoordinatorRequest(group_id=k) for k in keys]


def _one(key: str, key_type: int, reply: FindCoordinatorResponse | None,
         address: Address) -> dict[str, Any]:
    if key_type != GROUP_KEY:
        return {"key": key, "node_id": -1, "host": "", "port": -1,
                "error_code": TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                "error_message": "zafka has no transactions"}
    assert reply is not None
    where = address(reply.node_id) if reply.error_code is ErrorCode.NONE else None
    if where is None:
        error = (ErrorCode.COORDINATOR_NOT_AVAILABLE if reply.error_code is ErrorCode.NONE
                 else reply.error_code)
        return {"key": key, "node_id": -1, "host": "", "port": -1,
                "error_code": kafka_error(error), "error_message": error.name}
    return {"key": key, "node_id": reply.node_id, "host": where[0], "port": where[1],
            "error_code": 0, "error_message": None}


def find_coordinator_response(key_type: int, keys: Sequence[str],
                              replies: Sequence[FindCoordinatorResponse], version: int,
                              address: Address) -> dict[str, Any]:
    """Kafka's response fields; ``replies`` answer ``catalogue_requests`` in order."""
    answers = list(replies) if key_type == GROUP_KEY else [None] * len(keys)
    coordinators = [_one(k, key_type, r, address) for k, r in zip(keys, answers, strict=True)]
    if version >= 4:
        return {"throttle_time_ms": 0, "coordinators": coordinators}
    first = coordinators[0]
    return {"throttle_time_ms": 0, "error_code": first["error_code"],
            "error_message": first["error_message"], "node_id": first["node_id"],
            "host": first["host"], "port": first["port"]}


__all__ = ["VERSIONS", "catalogue_requests", "find_coordinator", "find_coordinator_response"]
