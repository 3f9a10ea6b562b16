"""Which module serves which Kafka API: adding an API family is adding its module here.

Each family module declares ``APIS = {api_key: (min_version, max_version)}`` and a
``handle(request, header, context)``; ApiVersions advertises exactly the union of
``APIS`` and the SASL APIs, which each connection's gate answers itself (``kafka.sasl``,
``kafka.connection``).

Must never: serve an API key or version no module declares.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any

from zafka.kafka import (
    api_versions,
    cluster,
    configs,
    fetch,
    group_apis,
    metadata,
    offsets,
    produce,
    producer_ids,
    sasl,
    topics,
)
from zafka.kafka.framing import RequestHeader
from zafka.kafka.handler import Context, Handler, Outcome

FAMILIES: tuple[types.ModuleType, ...] = (
    api_versions,
    metadata,
    produce,
    fetch,
    offsets,
    producer_ids,
    topics,
    configs,
    cluster,
    group_apis,
)


def _table() -> tuple[dict[int, tuple[int, int]], dict[int, Handler]]:
    versions: dict[int, tuple[int, int]] = {}
    handlers: dict[int, Handler] = {}
    for family in FAMILIES:
        for api_key, span in family.APIS.items():
            assert api_key not in versions, f"api key {api_key} served twice"
            versions[api_key] = span
            handlers[api_key] = family.handle
    for api_key, span in sasl.VERSIONS.items():  # answered by the connection, not dispatched
        assert api_key not in versions, f"api key {api_key} served twice"
        versions[api_key] = span
    return versions, handlers


_VERSIONS, _HANDLERS = _table()


def supported_versions() -> Mapping[int, tuple[int, int]]:
    """api key -> (min, max) of every API this broker serves."""
    return _VERSIONS


def serves(api_key: int, version: int) -> bool:
    span = _VERSIONS.get(api_key)
    return span is not None and span[0] <= version <= span[1]


def dispatch(request: Any, header: RequestHeader, context: Context) -> Outcome:
    """Hand a decoded request to its family's handler."""
    return _HANDLERS[header.api_key](request, header, context)


__all__ = ["FAMILIES", "dispatch", "serves", "supported_versions"]
