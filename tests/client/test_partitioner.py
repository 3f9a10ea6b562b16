"""Keys land where a Kafka client puts them; keyless records stick to a partition per batch."""

from __future__ import annotations

import collections
import random
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zafka.client.partitioner import DefaultPartitioner, murmur2, partition_for_key

with warnings.catch_warnings():  # kafka-python's protocol schemas use deprecated importlib APIs
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.partitioner.default import murmur2 as kafka_python_murmur2


@pytest.mark.parametrize(("key", "expected"), [
    (b"21", -973932308),
    (b"foobar", -790332482),
    (b"a-little-bit-long-string", -985981536),
    (b"a-little-bit-longer-string", -1486304829),
    (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    (b"abc", 479470107),
])
def test_murmur2_matches_kafkas_utils_test_vectors(key, expected):
    assert murmur2(key) == expected


@given(st.binary(max_size=64))
@settings(max_examples=300, deadline=None)
def test_murmur2_agrees_with_kafka_python_and_accepts_any_buffer(data):
    assert murmur2(data) & 0xFFFFFFFF == kafka_python_murmur2(data) & 0xFFFFFFFF
    assert murmur2(bytearray(data)) == murmur2(memoryview(data)) == murmur2(data)


def test_keyed_partition_is_the_positive_hash_modulo_the_partition_count():
    assert partition_for_key(b"foobar", 7) == (-790332482 & 0x7FFFFFFF) % 7
    partitioner = DefaultPartitioner(random.Random(0))
    assert all(partitioner.partition("t", b"foobar", 7, available=[0]) ==
               partition_for_key(b"foobar", 7) for _ in range(3)), "keys ignore availability"
    with pytest.raises(ValueError, match="positive"):
        partition_for_key(b"k", 0)


def test_keys_spread_evenly_over_partitions():
    counts = collections.Counter(partition_for_key(f"user-{i}".encode(), 10)
                                 for i in range(20_000))
    assert set(counts) == set(range(10))
    assert all(1_800 <= c <= 2_200 for c in counts.values()), counts


def test_keyless_records_stick_to_one_partition_until_a_batch_completes():
    partitioner = DefaultPartitioner(random.Random(7))
    first = {partitioner.partition("t", None, 6) for _ in range(100)}
    assert len(first) == 1
    [sticky] = first
    moved = partitioner.on_new_batch("t", 6, sticky)
    assert moved != sticky
    assert {partitioner.partition("t", None, 6) for _ in range(100)} == {moved}


def test_a_stale_batch_completion_does_not_move_the_sticky_partition():
    partitioner = DefaultPartitioner(random.Random(1))
    sticky = partitioner.partition("t", None, 6)
    assert partitioner.on_new_batch("t", 6, (sticky + 1) % 6) == sticky


def test_keyless_records_visit_every_available_partition_and_only_those():
    partitioner = DefaultPartitioner(random.Random(3))
    available = [1, 3, 4]
    seen = collections.Counter()
    current = partitioner.partition("t", None, 6, available)
    for _ in range(3_000):
        seen[current] += 1
        current = partitioner.on_new_batch("t", 6, current, available)
    assert set(seen) == set(available)
    assert all(800 <= c <= 1_200 for c in seen.values()), seen


def test_sticky_partitions_are_per_topic_and_follow_a_shrinking_partition_count():
    partitioner = DefaultPartitioner(random.Random(5))
    one_partition = partitioner.partition("single", None, 1)
    assert one_partition == 0 and partitioner.on_new_batch("single", 1, 0) == 0
    assert partitioner.partition("big", None, 100, available=[50]) == 50
    assert partitioner.partition("single", None, 1) == 0
    assert partitioner.partition("big", None, 3) < 3


def test_the_injected_random_makes_choices_reproducible():
    def walk(seed: int) -> list[int]:
        p = DefaultPartitioner(random.Random(seed))
        out = [p.partition("t", None, 12)]
        for _ in range(20):
            out.append(p.on_new_batch("t", 12, out[-1]))
        return out
    assert walk(11) == walk(11)
    assert walk(11) != walk(12)
