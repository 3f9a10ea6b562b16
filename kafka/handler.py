"""What a Kafka API handler returns, what it is told, and how it fills any version's entity.

A handler is a pure function ``handle(request, header, context) -> Outcome``:
``Respond(body)`` answers at once (``body`` None: no response, as for ``acks=0``);
``Ask(target, request, answer)`` hands a catalogue request to the broker actor or the
controller, and ``answer(reply)`` turns the catalogue reply into the next outcome.

``make(cls, **values)`` builds a kio entity of whatever version ``cls`` is, taking from
``values`` only the fields that version has (the others get the schema's default), so one
handler serves every version of its API without a struct per version.

Must never: do I/O, read a clock, or decide anything (limits, offsets, epochs, rights).
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import functools
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from kio.schema.errors import ErrorCode as KafkaErrorCode
from zafka.kafka.framing import RequestHeader


class Target(enum.Enum):
    """Who serves a catalogue request: this broker's actor, its group coordinator actor,
    or the controller."""

    BROKER = "broker"
    GROUP = "group"
    CONTROLLER = "controller"


@dataclasses.dataclass(frozen=True, slots=True)
class Respond:
    """Answer with this kio response entity (None: send nothing); ``close``: close the
    connection once this response is written (a failed SASL exchange)."""

    body: Any
    close: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Ask:
    """Send ``request`` to ``target``; ``answer`` maps its reply to the next outcome."""

    target: Target
    request: Any
    answer: Callable[[Any], Respond | Ask | Tell]


@dataclasses.dataclass(frozen=True, slots=True)
class Tell:
    """Send ``request`` to ``target`` and answer the client nothing (``acks=0``)."""

    target: Target
    request: Any


Outcome = Respond | Ask | Tell


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """What the handlers of one listener know about the broker they speak for."""

    node_id: int
    cluster_id: str
    host: str  # the advertised Kafka host and port of this broker
    port: int
    supported: Mapping[int, tuple[int, int]] = dataclasses.field(default_factory=dict)
    auto_create_topics: bool = False
    peer_host: str = ""  # the client's address, for one connection's requests (JoinGroup)


Handler = Callable[[Any, RequestHeader, Context], Outcome]

NO_THROTTLE = datetime.timedelta(0)


@functools.cache
def _fields(cls: type) -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]


def has_field(cls: type, name: str) -> bool:
    return name in _fields(cls)


@functools.cache
def item_class(cls: type, name: str) -> Any:
    """The entity class of the ``tuple[Entity, ...]`` field ``name`` of ``cls``."""
    hint = typing.get_type_hints(cls)[name]
    for arg in (hint, *typing.get_args(hint)):
        if typing.get_origin(arg) is tuple:
            return typing.get_args(arg)[0]
    raise TypeError(f"{cls.__name__}.{name} is not a tuple of entities")


@functools.cache
def field_class(cls: type, name: str) -> Any:
    """The entity class of the single nested field ``name``, None if this version lacks it."""
    if name not in _fields(cls):
        return None
    return typing.get_type_hints(cls)[name]


def make(cls: type, **values: Any) -> Any:
    """An entity of ``cls`` from the ``values`` its version has; callables in ``values``
    are called with the class of a nested field (to build that version's items)."""
    fields = _fields(cls)
    chosen = {}
    for name, value in values.items():
        if name in fields:
            chosen[name] = value(item_class(cls, name)) if callable(value) else value
    return cls(**chosen)


def build(cls: type, values: Mapping[str, Any]) -> Any:
    """An entity of ``cls`` from response fields named like Kafka's JSON schema, in
    snake_case (``throttle_time_ms``, ``error_code``, lists of dicts for arrays): the fields
    this version lacks are dropped, ``*_ms`` fill kio's duration fields, ints fill error
    codes, and nested dicts become this version's items."""
    hints = _hints(cls)
    chosen = {}
    for name in _fields(cls):
        if name in values:
            if values[name] is None and type(None) not in typing.get_args(hints[name]):
                chosen[name] = _empty(hints[name])  # not nullable in this version
            else:
                chosen[name] = _convert(hints[name], values[name])
        elif f"{name}_ms" in values:
            chosen[name] = datetime.timedelta(milliseconds=values[f"{name}_ms"])
    return cls(**chosen)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _empty(hint: Any) -> Any:
    """The empty value a non-nullable field of type ``hint`` gets for None."""
    if typing.get_origin(hint) is tuple:
        return ()
    for base in (str, bytes):
        if isinstance(hint, type) and issubclass(hint, base):
            return base()
    raise TypeError(f"None for a non-nullable field of type {hint!r}")


def _convert(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    if hint is KafkaErrorCode:
        return error(value)
    origin = typing.get_origin(hint)
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return tuple(_convert(item, v) for v in value)
    if origin in (typing.Union, types.UnionType):
        present = [a for a in typing.get_args(hint) if a is not type(None)]
        return _convert(present[0], value) if len(present) == 1 else value
    if dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
        return build(typing.cast(type, hint), value)
    return value


def error(code: int) -> KafkaErrorCode:
    return KafkaErrorCode(int(code))


def timeout_ms(value: datetime.timedelta) -> int:
    """A kio duration field as the milliseconds the catalogue carries."""
    return int(value.total_seconds() * 1000)


def grouped(items: Any, key: Callable[[Any], str]) -> dict[str, list[Any]]:
    """Items by ``key``, keys in first-seen order (Kafka responses group by topic)."""
    out: dict[str, list[Any]] = {}
    for item in items:
        out.setdefault(key(item), []).append(item)
    return out


__all__ = ["Ask", "Context", "Handler", "NO_THROTTLE", "Outcome", "Respond", "Target", "Tell",
           "build", "grouped", "timeout_ms",
           "error", "field_class", "has_field", "item_class", "make"]
