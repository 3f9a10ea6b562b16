"""Kafka's ConsumerProtocol bytes: what zafka writes, Kafka clients read, and the reverse.

The other side of each check is a real Kafka client's own encoder/decoder: kafka-python's
schema-generated ``ConsumerProtocolSubscription`` / ``ConsumerProtocolAssignment`` (v0..v3)
and aiokafka's hand-written v0 structs.
"""

from __future__ import annotations

import pytest
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.protocol.consumer.metadata import (
    ConsumerProtocolAssignment,
    ConsumerProtocolSubscription,
)
from zafka.core.consumer_protocol import (
    Subscription,
    decode_assignment,
    decode_subscription,
    encode_assignment,
    encode_subscription,
)
from zafka.core.messages import TopicPartition

topics = st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=5, unique=True)
partitions = st.lists(st.builds(TopicPartition, st.sampled_from(["a", "b", "ü"]),
                                st.integers(0, 2**31 - 1)), max_size=12, unique=True)


def kp_partitions(cls: type, tps: list[TopicPartition]) -> list:
    by_topic: dict[str, list[int]] = {}
    for tp in sorted(tps):
        by_topic.setdefault(tp.topic, []).append(tp.partition)
    return [cls.TopicPartition(topic=t, partitions=p) for t, p in by_topic.items()]


@settings(max_examples=80, deadline=None)
@given(topics, partitions, st.integers(0, 3), st.binary(max_size=20))
def test_kafka_python_subscriptions_of_every_version_decode(names: list[str],
                                                            owned: list[TopicPartition],
                                                            version: int,
                                                            user_data: bytes) -> None:
    theirs = ConsumerProtocolSubscription(
        version=version, topics=names, user_data=user_data,
        owned_partitions=kp_partitions(ConsumerProtocolSubscription, owned),
        generation_id=9, rack_id="rack-1").encode(version=version)
    ours = decode_subscription(theirs)
    assert ours.topics == tuple(names) and ours.user_data == user_data
    assert sorted(ours.owned_partitions) == (sorted(owned) if version >= 1 else [])
    assert ours.generation_id == (9 if version >= 2 else -1)
    assert ours.rack_id == ("rack-1" if version >= 3 else None)


@settings(max_examples=80, deadline=None)
@given(topics, partitions, st.integers(0, 3))
def test_our_subscriptions_decode_in_kafka_python_and_aiokafka(names: list[str],
                                                               owned: list[TopicPartition],
                                                               version: int) -> None:
    data = encode_subscription(Subscription(tuple(names), tuple(owned), generation_id=4,
                                            rack_id="r"), version=version)
    theirs = ConsumerProtocolSubscription.decode(data, version=version)
    assert theirs.topics == sorted(names)
    if version >= 1:
        assert sorted(TopicPartition(tp.topic, p) for tp in theirs.owned_partitions
                      for p in tp.partitions) == sorted(owned)
    assert ConsumerProtocolMemberMetadata.decode(data).subscription == sorted(names)
    assert decode_subscription(data).topics == tuple(sorted(names))


@settings(max_examples=80, deadline=None)
@given(partitions, st.integers(0, 3))
def test_assignments_round_trip_with_kafka_python_and_aiokafka(tps: list[TopicPartition],
                                                               version: int) -> None:
    ours = encode_assignment(tps)
    want = sorted(tuple(tp) for tp in tps)
    assert sorted(map(tuple, ConsumerProtocolAssignment.decode(ours, version=0).partitions())) \
        == want
    assert sorted(map(tuple, ConsumerProtocolMemberAssignment.decode(ours).partitions())) == want
    theirs = ConsumerProtocolAssignment(
        version=version, assigned_partitions=kp_partitions(ConsumerProtocolAssignment, tps),
        user_data=b"sticky").encode(version=version)
    assert sorted(decode_assignment(theirs)) == sorted(tps)


def test_a_newer_version_with_unknown_trailing_fields_still_decodes() -> None:
    data = encode_subscription(Subscription(("t",)), version=3)
    newer = b"\x00\x07" + data[2:] + b"future field"
    assert decode_subscription(newer).topics == ("t",)


@pytest.mark.parametrize("data", [b"\x00", b"\x00\x00\x00\x00\x00\x05\x00\x01t",
                                  b"\xff\xff", b"\x00\x00\x7f\xff\xff\xff"])
def test_malformed_bytes_are_a_clear_value_error(data: bytes) -> None:
    with pytest.raises(ValueError, match="consumer (subscription|assignment)"):
        decode_subscription(data)
    with pytest.raises(ValueError, match="consumer (subscription|assignment)"):
        decode_assignment(data)
