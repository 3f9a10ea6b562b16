"""Request and response bodies, (de)serialised by kio from Kafka's own message schemas.

Owns: the lookup (api key, version) -> entity class, and the cached kio readers and writers.
kio's classes are generated from ``clients/src/main/resources/common/message/*.json`` of
Apache Kafka; ``legacy`` adds the few old versions kio leaves out, derived from kio's oldest
one by the schema's own version rules.  Whether a version is flexible comes from the class.

Must never: hand-write a struct per version.
"""

from __future__ import annotations

import functools
import io
from typing import Any

from kio.index import load_request_schema, load_response_schema
from kio.serial import entity_reader, entity_writer
from kio.serial.errors import SerialError
from zafka.kafka import legacy


class DecodeError(Exception):
    """A request body does not decode as its API version says it should."""


class UnknownApi(Exception):
    """No schema is known for this API key and version."""


@functools.cache
def request_class(api_key: int, version: int) -> Any:
    derived = legacy.request_class(api_key, version)
    if derived is not None:
        return derived
    try:
        return load_request_schema(api_key, version)
    except Exception as error:  # kio raises its own index errors, or an import error
        raise UnknownApi(f"api key {api_key} version {version}: {error}") from None


@functools.cache
def response_class(api_key: int, version: int) -> Any:
    derived = legacy.response_class(api_key, version)
    if derived is not None:
        return derived
    return load_response_schema(api_key, version)


def is_flexible(api_key: int, version: int) -> bool:
    return bool(request_class(api_key, version).__flexible__)


@functools.cache
def _reader(cls: type) -> Any:
    return entity_reader(cls)


@functools.cache
def _writer(cls: type) -> Any:
    return entity_writer(cls)


DECODE_ERRORS = (SerialError, ValueError, TypeError, IndexError, KeyError, OverflowError, EOFError,
                 UnicodeDecodeError, BufferError, AssertionError)


def decode_request(api_key: int, version: int, frame: bytes, offset: int) -> Any:
    """The request entity in ``frame[offset:]``; ``DecodeError`` if it is not one."""
    cls = request_class(api_key, version)
    try:
        entity, _ = _reader(cls)(frame, offset)
    except DECODE_ERRORS as error:
        raise DecodeError(f"{cls.__name__} v{version}: {type(error).__name__}: {error}") \
            from None
    return entity


def encode(entity: Any) -> bytes:
    """Serialise a kio entity (a response, or a request in tests and benchmarks)."""
    buffer = io.BytesIO()
    _writer(type(entity))(buffer, entity)
    return buffer.getvalue()


def encode_request(entity: Any, version: int) -> bytes:
    """Serialise a request body of the given version (``version`` checks the class)."""
    assert entity.__version__ == version
    return encode(entity)


__all__ = ["DecodeError", "UnknownApi", "decode_request", "encode", "encode_request",
           "is_flexible", "request_class", "response_class"]
