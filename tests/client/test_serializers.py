"""Serializers turn keys and values into bytes and back; failures say what went wrong."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zafka.client.serializers import (
    SerializationError,
    resolve_deserializer,
    resolve_serializer,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() |
    st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


@dataclasses.dataclass(frozen=True)
class Order:
    id: int
    items: tuple[str, ...]


def shout(text: str) -> str:
    return text.upper()


def round_trip(name: str, value: object) -> object:
    return resolve_deserializer(name)(resolve_serializer(name)(value))


@given(st.binary())
@settings(max_examples=100)
def test_bytes_round_trip_from_any_buffer(data):
    assert round_trip("bytes", data) == data
    assert resolve_serializer()(bytearray(data)) == data
    assert resolve_serializer(None)(memoryview(data)) == data
    assert resolve_deserializer()(memoryview(data)) == data


@given(st.text())
@settings(max_examples=100)
def test_str_round_trip_is_utf8(text):
    assert resolve_serializer("str")(text) == text.encode("utf-8")
    assert round_trip("str", text) == text


@given(json_values)
@settings(max_examples=100)
def test_json_round_trip(value):
    assert round_trip("json", value) == value


def test_pickle_round_trips_dataclasses_functions_and_lambdas():
    order = Order(7, ("apple", "pear"))
    assert round_trip("pickle", order) == order
    offset = 10
    add = round_trip("pickle", lambda x: x + offset)
    assert add(5) == 15  # type: ignore[operator]
    assert round_trip("pickle", shout) is shout

    @dataclasses.dataclass
    class Local:  # defined in a function: cloudpickle carries the class by value
        x: int

    back = round_trip("pickle", Local(3))
    assert dataclasses.asdict(back) == {"x": 3}  # type: ignore[call-overload]


def test_pickle_loads_are_plain_pickle_and_opted_into_by_name_only():
    data = resolve_serializer("pickle")({"a": 1})
    assert pickle.loads(data) == {"a": 1}
    assert resolve_deserializer()(data) == data, "the default deserializer never unpickles"
    assert resolve_deserializer(None)(data) == data


@pytest.mark.parametrize("name", ["bytes", "str", "json", "pickle"])
def test_none_passes_through_as_a_tombstone(name):
    assert resolve_serializer(name)(None) is None
    assert resolve_deserializer(name)(None) is None


def test_bytes_serializer_refuses_other_types_with_a_clear_type_error():
    with pytest.raises(TypeError, match="'bytes' serializer takes bytes.*not dict.*'json'"):
        resolve_serializer("bytes")({"a": 1})
    with pytest.raises(SerializationError, match="not str"):
        resolve_serializer()("text")


@pytest.mark.parametrize(("name", "value", "message"), [
    ("str", b"raw", "'str' serializer takes str, not bytes"),
    ("json", {1, 2}, "'json' serializer cannot encode set.*use 'pickle'"),
    ("pickle", (i for i in range(3)), "'pickle' serializer cannot pickle generator"),
])
def test_serialization_failures_name_the_format_and_the_value(name, value, message):
    with pytest.raises(SerializationError, match=message):
        resolve_serializer(name)(value)


@pytest.mark.parametrize(("name", "data", "message"), [
    ("str", b"\xff\xfe", "not UTF-8"),
    ("json", b"{nope", "invalid JSON"),
    ("pickle", b"\x80\x05garbage", "could not load"),
])
def test_deserialization_failures_raise_serialization_error(name, data, message):
    with pytest.raises(SerializationError, match=message):
        resolve_deserializer(name)(data)


def test_callables_are_used_as_given_and_their_failures_wrapped():
    upper = resolve_serializer(lambda s: s.upper().encode())
    assert upper("abc") == b"ABC" and upper(None) is None
    assert resolve_serializer(lambda s: bytearray(b"x"))(1) == b"x"
    with pytest.raises(SerializationError, match="returned int, not bytes"):
        resolve_serializer(lambda s: 42)("abc")
    with pytest.raises(SerializationError, match="failed on int"):
        resolve_serializer(lambda s: s.encode())(3)
    decode = resolve_deserializer(lambda b: bytes(b).decode()[::-1])
    assert decode(b"abc") == "cba" and decode(None) is None
    with pytest.raises(SerializationError, match="deserializer .* failed"):
        resolve_deserializer(lambda b: 1 / 0)(b"x")


@pytest.mark.parametrize("spec", ["yaml", 42])
def test_unknown_specs_list_the_known_names(spec):
    for resolve in (resolve_serializer, resolve_deserializer):
        with pytest.raises(SerializationError, match="bytes, str, json, pickle"):
            resolve(spec)  # type: ignore[arg-type]
