"""Record key/value serializers and deserializers, chosen by name or given as callables.

Owns: the named formats ``"bytes"`` (the default), ``"str"`` (UTF-8), ``"json"`` and
``"pickle"``; ``resolve_serializer(spec)`` / ``resolve_deserializer(spec)`` turn a name, a
callable or ``None`` (= ``"bytes"``) into a function; ``SerializationError``.  ``None`` always
passes through as ``None`` (a null key, or a tombstone value).

``"pickle"`` dumps with cloudpickle, so any Python object travels: dataclasses, functions,
lambdas, closures.  Loading a pickle runs code chosen by whoever produced the record, so the
consumer must trust every producer of the topic; it is never a default and must be asked for
by name (``value_deserializer="pickle"``).

Must never: do I/O, or unpickle anything unless ``"pickle"`` was named explicitly.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from typing import Any

import cloudpickle

Serializer = Callable[[Any], bytes | None]
Deserializer = Callable[[bytes | bytearray | memoryview | None], Any]
SerializerSpec = str | Callable[[Any], Any] | None

PICKLE_PROTOCOL = 5
NAMES = ("bytes", "str", "json", "pickle")


class SerializationError(ValueError):
    """A value could not be turned into bytes, or bytes back into a value."""


class SerializationTypeError(SerializationError, TypeError):
    """A serializer was given a value of a type it does not accept."""


def _type_name(value: object) -> str:
    return type(value).__qualname__


def _serialize_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise SerializationTypeError(
        f"the 'bytes' serializer takes bytes, bytearray or memoryview, not "
        f"{_type_name(value)}; choose 'str', 'json' or 'pickle', or pass a callable")


def _serialize_str(value: Any) -> bytes:
    if not isinstance(value, str):
        raise SerializationTypeError(f"the 'str' serializer takes str, not {_type_name(value)}")
    return value.encode("utf-8")


def _serialize_json(value: Any) -> bytes:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise SerializationError(f"the 'json' serializer cannot encode {_type_name(value)}: "
                                 f"{exc}; use 'pickle' for arbitrary Python objects") from exc


def _serialize_pickle(value: Any) -> bytes:
    try:
        data: bytes = cloudpickle.dumps(value, protocol=PICKLE_PROTOCOL)
    except Exception as exc:  # cloudpickle raises many types for unpicklable objects
        raise SerializationError(f"the 'pickle' serializer cannot pickle "
                                 f"{_type_name(value)}: {exc}") from exc
    return data


def _deserialize_bytes(data: bytes | bytearray | memoryview) -> bytes:
    return data if isinstance(data, bytes) else bytes(data)


def _deserialize_str(data: bytes | bytearray | memoryview) -> str:
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SerializationError(f"the 'str' deserializer got bytes that are not UTF-8: "
                                 f"{exc}") from exc


def _deserialize_json(data: bytes | bytearray | memoryview) -> Any:
    try:
        return json.loads(bytes(data))
    except ValueError as exc:
        raise SerializationError(f"the 'json' deserializer got invalid JSON: {exc}") from exc


def _deserialize_pickle(data: bytes | bytearray | memoryview) -> Any:
    try:
        return pickle.loads(data)
    except Exception as exc:  # a truncated or foreign pickle may raise almost anything
        raise SerializationError(f"the 'pickle' deserializer could not load the value: "
                                 f"{type(exc).__name__}: {exc}") from exc


_SERIALIZERS: dict[str, Callable[[Any], bytes]] = {
    "bytes": _serialize_bytes, "str": _serialize_str, "json": _serialize_json,
    "pickle": _serialize_pickle,
}
_DESERIALIZERS: dict[str, Callable[[bytes | bytearray | memoryview], Any]] = {
    "bytes": _deserialize_bytes, "str": _deserialize_str, "json": _deserialize_json,
    "pickle": _deserialize_pickle,
}


def _unknown(spec: object) -> SerializationError:
    return SerializationError(f"unknown serializer {spec!r}: use one of {', '.join(NAMES)} "
                              f"or a callable")


def resolve_serializer(spec: SerializerSpec = "bytes") -> Serializer:
    """A function value -> bytes (``None`` -> ``None``) for a name, a callable or ``None``.
    A user callable must return bytes-like or ``None``; anything it raises becomes a
    ``SerializationError``."""
    if spec is None:
        spec = "bytes"
    if isinstance(spec, str):
        if spec not in _SERIALIZERS:
            raise _unknown(spec)
        named = _SERIALIZERS[spec]
        return lambda value: None if value is None else named(value)
    if not callable(spec):
        raise _unknown(spec)
    user = spec

    def serialize(value: Any) -> bytes | None:
        if value is None:
            return None
        try:
            data = user(value)
        except Exception as exc:
            raise SerializationError(f"serializer {user!r} failed on {_type_name(value)}: "
                                     f"{exc}") from exc
        if data is None or isinstance(data, bytes):
            return data
        if isinstance(data, bytearray | memoryview):
            return bytes(data)
        raise SerializationTypeError(f"serializer {user!r} returned {_type_name(data)}, "
                                     f"not bytes")
    return serialize


def resolve_deserializer(spec: SerializerSpec = "bytes") -> Deserializer:
    """A function bytes -> value (``None`` -> ``None``) for a name, a callable or ``None``.
    ``"pickle"`` must be named explicitly (it trusts the producer); anything a user callable
    raises becomes a ``SerializationError``."""
    if spec is None:
        spec = "bytes"
    if isinstance(spec, str):
        if spec not in _DESERIALIZERS:
            raise _unknown(spec)
        named = _DESERIALIZERS[spec]
        return lambda data: None if data is None else named(data)
    if not callable(spec):
        raise _unknown(spec)
    user = spec

    def deserialize(data: bytes | bytearray | memoryview | None) -> Any:
        if data is None:
            return None
        try:
            return user(data)
        except Exception as exc:
            raise SerializationError(f"deserializer {user!r} failed: {exc}") from exc
    return deserialize


__all__ = [
    "NAMES", "Deserializer", "SerializationError", "SerializationTypeError", "Serializer",
    "SerializerSpec", "resolve_deserializer", "resolve_serializer",
]
