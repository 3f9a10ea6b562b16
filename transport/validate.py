"""Field-type checks for decoded messages: a frame must not only name catalogue classes, its
fields must hold what the catalogue declares.

Owns: one checker per catalogue class, built once from its type hints (``int``, ``str``,
``bool``, ``float``, ``bytes``, ``Blob``, enums, other messages, ``X | None``,
``tuple[X, ...]``, ``tuple[X, Y]``, ``dict[K, V]``, ``Any``).  ``check_message`` raises
``DecodeError`` naming the field that is wrong, so a peer's malformed request is dropped and
counted by the endpoint instead of tripping a handler (which would end the node).

Must never: accept a message with a missing field, or run code from the message.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable
from typing import Any

from zafka.core.messages import catalogue

Checker = Callable[[Any, str], None]
MAX_DEPTH = 32


class FieldTypeError(Exception):
    """A decoded message whose field does not hold the declared type."""


def _fail(path: str, expected: str, value: Any) -> None:
    raise FieldTypeError(f"{path}: expected {expected}, got {type(value).__name__}")


def _scalar(kinds: tuple[type, ...], name: str) -> Checker:
    def check(value: Any, path: str) -> None:
        if not isinstance(value, kinds):
            _fail(path, name, value)
    return check


def _union(options: list[Checker], name: str) -> Checker:
    def check(value: Any, path: str) -> None:
        for option in options:
            try:
                option(value, path)
                return
            except FieldTypeError:
                continue
        _fail(path, name, value)
    return check


def _tuple_of(item: Checker) -> Checker:
    def check(value: Any, path: str) -> None:
        if type(value) is not tuple:
            _fail(path, "tuple", value)
        for index, element in enumerate(value):
            item(element, f"{path}[{index}]")
    return check


def _fixed_tuple(items: list[Checker]) -> Checker:
    def check(value: Any, path: str) -> None:
        if type(value) is not tuple or len(value) != len(items):
            _fail(path, f"tuple of {len(items)}", value)
        for index, (element, item) in enumerate(zip(value, items, strict=True)):
            item(element, f"{path}[{index}]")
    return check


def _dict_of(key: Checker, item: Checker) -> Checker:
    def check(value: Any, path: str) -> None:
        if type(value) is not dict:
            _fail(path, "dict", value)
        for k, v in value.items():
            key(k, f"{path} key")
            item(v, f"{path}[{k!r}]")
    return check


def _anything(value: Any, path: str) -> None:
    return None


_CHECKERS: dict[Any, Checker] = {}


def checker_for(annotation: Any) -> Checker:
    """The checker of one annotation (cached)."""
    found = _CHECKERS.get(annotation)
    if found is None:
        found = _CHECKERS[annotation] = _build(annotation)
    return found


def _build(annotation: Any) -> Checker:
    if annotation is Any:
        return _anything
    if annotation is type(None):
        return _scalar((type(None),), "None")
    if annotation is float:
        return _scalar((int, float), "float")
    if annotation in (int, str, bool, bytes):
        return _scalar((annotation,), annotation.__name__)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union):
        return _union([checker_for(a) for a in args], str(annotation))
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return _tuple_of(checker_for(args[0]))
        return _fixed_tuple([checker_for(a) for a in args])
    if origin is dict:
        return _dict_of(checker_for(args[0]), checker_for(args[1]))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _scalar((annotation,), annotation.__name__)
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return _message_checker(annotation)
    if isinstance(annotation, type):
        return _scalar((annotation,), annotation.__name__)
    return _anything


def _message_checker(cls: type) -> Checker:
    hints: dict[str, Any] = {}

    def check(value: Any, path: str) -> None:
        if type(value) is not cls:
            _fail(path, cls.__name__, value)
        if not hints:
            hints.update({f.name: checker_for(typing.get_type_hints(cls)[f.name])
                          for f in dataclasses.fields(cls)})
        for name, field_check in hints.items():
            try:
                field = getattr(value, name)
            except AttributeError:
                raise FieldTypeError(f"{path}.{name}: missing") from None
            field_check(field, f"{path}.{name}")
    return check


def check_message(message: Any) -> None:
    """Raise ``FieldTypeError`` unless every field of ``message`` holds its declared type."""
    cls = type(message)
    if cls not in _CATALOGUE:
        raise FieldTypeError(f"{cls.__name__} is not in the catalogue")
    if dataclasses.is_dataclass(cls):
        checker_for(cls)(message, cls.__name__)


_CATALOGUE = frozenset(catalogue())

__all__ = ["FieldTypeError", "check_message", "checker_for"]
