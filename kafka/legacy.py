"""Old API versions kio does not generate (Kafka 4 dropped them), derived from the oldest
version kio has by removing the fields that Kafka's schema marks as added later.

Produce v0-v2 and Fetch v0-v3 are advertised so that clients which test for them
(librdkafka's feature checks ask for Produce v2 and Fetch v2 before it compresses with
message format v1 and up) keep every feature; a client never picks them over the newer
versions both sides know.  The derivation is data: (api key, versions, base version,
fields absent) per entity, applied to kio's dataclasses.

Must never: describe a field layout by hand; only remove fields the schema added later.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from kio.index import load_request_schema, load_response_schema

# (api key, kind) -> {version: {entity class name: fields absent in that version}}
# The base is the oldest version kio generates: Produce v3, Fetch v4.
_BASE = {0: 3, 1: 4}
_ABSENT: dict[tuple[int, str], dict[int, dict[str, frozenset[str]]]] = {
    (0, "request"): {v: {"ProduceRequest": frozenset({"transactional_id"})}
                     for v in (0, 1, 2)},
    (0, "response"): {
        0: {"ProduceResponse": frozenset({"throttle_time"}),
            "PartitionProduceResponse": frozenset({"log_append_time"})},
        1: {"PartitionProduceResponse": frozenset({"log_append_time"})},
        2: {},
    },
    (1, "request"): {
        v: {"FetchRequest": frozenset({"isolation_level"} | ({"max_bytes"} if v < 3
                                                              else set()))}
        for v in (0, 1, 2, 3)},
    (1, "response"): {
        v: {"FetchResponse": frozenset({"throttle_time"} if v == 0 else set()),
            "PartitionData": frozenset({"last_stable_offset", "aborted_transactions"})}
        for v in (0, 1, 2, 3)},
}


def _derive(cls: Any, version: int, absent: dict[str, frozenset[str]],
            made: dict[type, Any]) -> Any:
    """A copy of kio entity class ``cls`` (and its nested entities) at ``version``."""
    if cls in made:
        return made[cls]
    drop = absent.get(cls.__name__, frozenset())
    fields = []
    for field in dataclasses.fields(cls):
        if field.name in drop:
            continue
        annotation = field.type
        nested = _nested_entity(cls, field)
        if nested is not None:
            annotation = tuple[_derive(nested, version, absent, made), ...]  # type: ignore
        spec: Any = dataclasses.field(metadata=field.metadata)
        if field.default is not dataclasses.MISSING:
            spec = dataclasses.field(metadata=field.metadata, default=field.default)
        elif field.default_factory is not dataclasses.MISSING:
            spec = dataclasses.field(metadata=field.metadata,
                                     default_factory=field.default_factory)
        fields.append((field.name, annotation, spec))
    namespace = {name: getattr(cls, name) for name in
                 ("__type__", "__flexible__", "__api_key__", "__header_schema__")
                 if hasattr(cls, name)}
    namespace["__version__"] = version
    derived = dataclasses.make_dataclass(cls.__name__, fields, namespace=namespace,
                                         frozen=True, slots=True, kw_only=True)
    derived.__module__ = f"zafka.kafka.legacy.v{version}"
    made[cls] = derived
    return derived


def _nested_entity(cls: Any, field: dataclasses.Field[Any]) -> Any:
    """The entity class of a ``tuple[Entity, ...]`` field, else None."""
    import typing

    hints = typing.get_type_hints(cls)
    hint = hints[field.name]
    if typing.get_origin(hint) is tuple:
        (item, *_) = typing.get_args(hint)
        if dataclasses.is_dataclass(item):
            return item
    return None


@functools.cache
def request_class(api_key: int, version: int) -> Any:
    absent = _ABSENT.get((api_key, "request"), {}).get(version)
    if absent is None:
        return None
    return _derive(load_request_schema(api_key, _BASE[api_key]), version, absent, {})


@functools.cache
def response_class(api_key: int, version: int) -> Any:
    absent = _ABSENT.get((api_key, "response"), {}).get(version)
    if absent is None:
        return None
    return _derive(load_response_schema(api_key, _BASE[api_key]), version, absent, {})


__all__ = ["request_class", "response_class"]
