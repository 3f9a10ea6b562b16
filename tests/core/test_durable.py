"""The durable value encoding: round trips, schema evolution, and one error type for bad bytes."""

from __future__ import annotations

import dataclasses
import typing

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zafka.core import durable
from zafka.core.durable import (
    DURABLE,
    DURABLE_TYPES,
    DurableFormatError,
    Registry,
    decode_metadata_snapshot,
    decode_raft_entry,
    decode_value,
    encode_metadata_snapshot,
    encode_raft_entry,
    encode_value,
)
from zafka.core.errors import ErrorCode
from zafka.core.messages import (
    BrokerRecord,
    CreateTopic,
    DeleteTopic,
    MetadataImage,
    RaftEntry,
    TopicRecord,
)
from zafka.core.metadata import MetadataCommand, MetadataState

COMMAND_TYPES = typing.get_args(MetadataCommand)


def test_every_command_the_state_machine_applies_has_a_durable_tag() -> None:
    applied = set(MetadataState()._handlers)
    assert applied == set(COMMAND_TYPES)
    assert applied <= set(DURABLE_TYPES.values())
    assert MetadataImage in DURABLE_TYPES.values()


@pytest.mark.parametrize("value", [
    None, True, False, 0, 1, -1, 63, -64, 2**70, -(2**70), "", "zafka ✓", b"", b"\x00\xff",
    (), (1, ("a", (None,))), frozenset(), frozenset({3, -3, "x"}), {}, {"b": 1, "a": (2, 3)},
    {(1, 2): frozenset({b"k"})}, ErrorCode.NOT_CONTROLLER,
    TopicRecord(topic_id="id", name="t", num_partitions=2, configs=(("retention.ms", 5),
                                                                   ("x", True))),
])
def test_values_round_trip(value: object) -> None:
    assert decode_value(encode_value(value)) == value
    assert type(decode_value(encode_value(value))) is type(value)


def test_equal_sets_and_dicts_are_equal_bytes_whatever_their_insertion_order() -> None:
    assert encode_value({"a": 1, "b": 2}) == encode_value({"b": 2, "a": 1})
    assert encode_value(frozenset(range(50))) == encode_value(frozenset(reversed(range(50))))


def test_a_bytearray_or_memoryview_is_written_as_bytes() -> None:
    assert decode_value(encode_value(memoryview(b"abc"))) == b"abc"
    assert encode_value(bytearray(b"abc")) == encode_value(b"abc")


@pytest.mark.parametrize("value", [[1, 2], 1.5, {1, 2}, object(),
                                   RaftEntry(term=1, index=1, command=None)])
def test_a_value_outside_the_durable_types_is_a_bug_not_bytes(value: object) -> None:
    with pytest.raises(TypeError, match="durable"):
        encode_value(value)


def test_the_encoding_names_no_python_module_or_class() -> None:
    data = encode_raft_entry(RaftEntry(term=1, index=1, command=DeleteTopic(name="t",
                                                                            topic_id="i")))
    for name in (b"zafka", b"messages", b"DeleteTopic", b"core"):
        assert name not in data
    assert b"delete_topic" in data


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_every_metadata_command_round_trips_in_a_raft_entry(data: st.DataObject) -> None:
    for cls in COMMAND_TYPES:
        command = data.draw(st.from_type(cls), label=cls.__name__)
        entry = RaftEntry(term=data.draw(st.integers(0, 2**64 - 1)),
                          index=data.draw(st.integers(0, 2**64 - 1)), command=command)
        assert decode_raft_entry(encode_raft_entry(entry)) == entry


@settings(max_examples=25, deadline=None)
@given(st.from_type(MetadataImage))
def test_metadata_snapshots_round_trip(image: MetadataImage) -> None:
    assert decode_metadata_snapshot(encode_metadata_snapshot(image)) == image


# ------------------------------------------------------------------ schema evolution
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DeleteTopicWithReason:
    """A later ``DeleteTopic`` with one more optional field (and its fields reordered)."""

    topic_id: str
    name: str
    reason: str = "unknown"


def later_registry() -> Registry:
    return Registry({**DURABLE_TYPES, "delete_topic": DeleteTopicWithReason}, DURABLE.enums)


def test_a_new_optional_field_decodes_from_old_bytes_with_its_default() -> None:
    old = encode_value(DeleteTopic(name="t", topic_id="i"))
    assert decode_value(old, registry=later_registry()) == DeleteTopicWithReason(
        name="t", topic_id="i", reason="unknown")


def test_a_field_this_version_does_not_know_is_refused() -> None:
    new = encode_value(DeleteTopicWithReason(name="t", topic_id="i", reason="r"),
                       later_registry())
    with pytest.raises(DurableFormatError, match="no field 'reason'"):
        decode_value(new, source="raft-entries.log")


def test_a_missing_field_without_default_is_refused() -> None:
    registry = Registry({"delete_topic": DeleteTopicWithReason}, {})
    data = encode_value(DeleteTopicWithReason(name="t", topic_id="i"), registry)
    shorter = Registry({"delete_topic": CreateTopic}, {})
    with pytest.raises(DurableFormatError, match="no field"):
        decode_value(data, registry=shorter)
    without_name = data.replace(b"\x04name\x04\x01t", b"").replace(b"\x03", b"\x02", 1)
    with pytest.raises(DurableFormatError, match="lacks field.*name"):
        decode_value(without_name, registry=registry)


def test_an_unknown_record_type_enum_or_value_tag_is_refused() -> None:
    record = encode_value(DeleteTopic(name="t", topic_id="i"))
    with pytest.raises(DurableFormatError, match="unknown record type 'delete_topic'"):
        decode_value(record, registry=Registry({}, {}))
    with pytest.raises(DurableFormatError, match="unknown enum type 'error_code'"):
        decode_value(encode_value(ErrorCode.NONE), registry=Registry({}, {}))
    with pytest.raises(DurableFormatError, match="byte 7: unknown value tag 0x7f"):
        decode_value(b"\x7f", source="f", offset=7)


def test_a_record_of_the_wrong_type_where_a_snapshot_belongs_is_refused() -> None:
    data = bytes([durable.FORMAT_VERSION]) + encode_value(DeleteTopic(name="t", topic_id="i"))
    with pytest.raises(DurableFormatError, match="expected a MetadataImage"):
        decode_metadata_snapshot(data)


def test_nesting_beyond_the_limit_is_refused_not_a_recursion_error() -> None:
    value: object = ()
    for _ in range(durable.NESTING_MAX + 2):
        value = (value,)
    with pytest.raises(DurableFormatError, match="nested deeper"):
        decode_value(encode_value(value))


# ---------------------------------------------------------------- damaged bytes
SAMPLE = RaftEntry(term=3, index=17, command=CreateTopic(
    topic_id="abc", name="orders", assignment=((1, 2), (2, 3)),
    configs=(("cleanup.policy", "compact"), ("retention.ms", -1), ("x", True))))
SAMPLE_IMAGE = MetadataImage(offset=9, brokers=(BrokerRecord(
    broker_id=1, address="tcp://127.0.0.1:9", broker_epoch=4, incarnation="i", fenced=True),),
                             next_producer_id=1000)


@pytest.mark.parametrize("data,decode", [
    (encode_raft_entry(SAMPLE), decode_raft_entry),
    (encode_metadata_snapshot(SAMPLE_IMAGE), decode_metadata_snapshot),
])
def test_every_truncation_is_a_durable_format_error_naming_the_offset(data, decode) -> None:  # type: ignore[no-untyped-def]
    for length in range(len(data)):
        with pytest.raises(DurableFormatError) as caught:
            decode(data[:length], source="f", offset=100)
        assert caught.value.source == "f" and 100 <= caught.value.offset <= 100 + length
        assert str(caught.value).startswith(f"f: byte {caught.value.offset}: ")


@pytest.mark.parametrize("data,decode", [
    (encode_raft_entry(SAMPLE), decode_raft_entry),
    (encode_metadata_snapshot(SAMPLE_IMAGE), decode_metadata_snapshot),
])
def test_every_bit_flip_decodes_or_is_a_durable_format_error(data, decode) -> None:  # type: ignore[no-untyped-def]
    """Without a checksum a flip may still decode (the storage layer's CRC catches it); it
    never raises anything but ``DurableFormatError``."""
    refused = 0
    for position in range(len(data)):
        for bit in range(8):
            flipped = bytearray(data)
            flipped[position] ^= 1 << bit
            try:
                decode(bytes(flipped))
            except DurableFormatError:
                refused += 1
    assert refused > len(data)  # most flips are noticed even without the CRC
