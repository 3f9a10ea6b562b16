"""Partition assignors give every subscribed partition to exactly one subscriber, like Kafka's.

Properties are checked with hypothesis on random groups; range and round robin are also
compared with naive re-statements of Kafka's definitions, and with the examples of Kafka's
documentation.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from zafka.client.assignors import (
    Assignment,
    CooperativeStickyAssignor,
    RangeAssignor,
    RoundRobinAssignor,
    StickyAssignor,
    assignor_for,
)
from zafka.core.messages import TopicPartition

TOPICS = ["a", "b", "c", "d"]
ALL_ASSIGNORS = [RangeAssignor(), RoundRobinAssignor(), StickyAssignor()]

partitions_per_topic = st.dictionaries(st.sampled_from(TOPICS), st.integers(0, 12), min_size=1)
member_ids = st.text("mnopq", min_size=1, max_size=3)
groups = st.dictionaries(member_ids, st.frozensets(st.sampled_from(TOPICS), min_size=1),
                         min_size=1, max_size=7)


@st.composite
def same_subscriptions(draw: st.DrawFn) -> dict[str, frozenset[str]]:
    topics = draw(st.frozensets(st.sampled_from(TOPICS), min_size=1))
    return {m: topics for m in draw(st.sets(member_ids, min_size=1, max_size=7))}


def expected_partitions(members: Mapping[str, frozenset[str]],
                        counts: Mapping[str, int]) -> list[TopicPartition]:
    topics = set().union(*members.values()) & set(counts)
    return sorted(TopicPartition(t, p) for t in topics for p in range(counts[t]))


def assert_complete_and_disjoint(result: Assignment, members: Mapping[str, frozenset[str]],
                                 counts: Mapping[str, int]) -> None:
    assert set(result) == set(members)
    given_out = [tp for parts in result.values() for tp in parts]
    assert sorted(given_out) == expected_partitions(members, counts), "complete, no overlap"
    for member, parts in result.items():
        assert all(tp.topic in members[member] for tp in parts), "only subscribed topics"


def spread(result: Assignment) -> int:
    sizes = [len(parts) for parts in result.values()]
    return max(sizes) - min(sizes)


def naive_range(members: Mapping[str, frozenset[str]], counts: Mapping[str, int]) -> Assignment:
    """Kafka's javadoc: per topic, divide partitions by consumers in lexicographic order; the
    first few consumers get one extra."""
    out: Assignment = {m: [] for m in members}
    for topic, n in counts.items():
        consumers = sorted(m for m in members if topic in members[m])
        if not consumers:
            continue
        quota = [n // len(consumers) + (i < n % len(consumers)) for i in range(len(consumers))]
        partition = 0
        for consumer, q in zip(consumers, quota, strict=True):
            for _ in range(q):
                out[consumer].append(TopicPartition(topic, partition))
                partition += 1
    return {m: sorted(p) for m, p in out.items()}


def naive_round_robin(members: Mapping[str, frozenset[str]],
                      counts: Mapping[str, int]) -> Assignment:
    """Kafka's javadoc: lay out all partitions, deal them over a circular list of consumers,
    skipping a consumer not subscribed to the partition's topic."""
    out: Assignment = {m: [] for m in members}
    ring = collections.deque(sorted(members))
    for tp in expected_partitions(members, counts):
        while tp.topic not in members[ring[0]]:
            ring.rotate(-1)
        out[ring[0]].append(tp)
        ring.rotate(-1)
    return out


@pytest.mark.parametrize("assignor", ALL_ASSIGNORS, ids=lambda a: a.name)
@given(members=groups, counts=partitions_per_topic)
@settings(max_examples=150, deadline=None)
def test_every_subscribed_partition_goes_to_exactly_one_subscriber(assignor, members, counts):
    assert_complete_and_disjoint(assignor.assign(members, counts), members, counts)


@pytest.mark.parametrize("assignor", ALL_ASSIGNORS, ids=lambda a: a.name)
@given(members=groups, counts=partitions_per_topic)
@settings(max_examples=100, deadline=None)
def test_assignment_is_deterministic_whatever_the_member_order(assignor, members, counts):
    reordered = dict(reversed(list(members.items())))
    assert assignor.assign(members, counts) == assignor.assign(reordered, counts)


@given(members=groups, counts=partitions_per_topic)
@settings(max_examples=150, deadline=None)
def test_range_matches_kafkas_definition(members, counts):
    assert RangeAssignor().assign(members, counts) == naive_range(members, counts)


@given(members=groups, counts=partitions_per_topic)
@settings(max_examples=150, deadline=None)
def test_round_robin_matches_kafkas_definition(members, counts):
    assert RoundRobinAssignor().assign(members, counts) == naive_round_robin(members, counts)


@pytest.mark.parametrize("assignor", [RoundRobinAssignor(), StickyAssignor()],
                         ids=lambda a: a.name)
@given(members=same_subscriptions(), counts=partitions_per_topic)
@settings(max_examples=150, deadline=None)
def test_equal_subscriptions_are_balanced_within_one(assignor, members, counts):
    assert spread(assignor.assign(members, counts)) <= 1


def test_kafka_documentation_examples():
    members = {"C0": frozenset({"t0", "t1"}), "C1": frozenset({"t0", "t1"})}
    counts = {"t0": 3, "t1": 3}
    tp = TopicPartition
    assert RangeAssignor().assign(members, counts) == {
        "C0": [tp("t0", 0), tp("t0", 1), tp("t1", 0), tp("t1", 1)],
        "C1": [tp("t0", 2), tp("t1", 2)]}
    assert RoundRobinAssignor().assign(members, counts) == {
        "C0": [tp("t0", 0), tp("t0", 2), tp("t1", 1)],
        "C1": [tp("t0", 1), tp("t1", 0), tp("t1", 2)]}


@given(members=same_subscriptions(), counts=partitions_per_topic,
       newcomer=st.text("xyz", min_size=1))
@settings(max_examples=150, deadline=None)
def test_sticky_members_only_give_up_partitions_when_someone_joins(members, counts, newcomer):
    before = StickyAssignor().assign(members, counts)
    grown = {**members, newcomer: next(iter(members.values()))}
    after = StickyAssignor().assign(grown, counts, owned=before)
    assert_complete_and_disjoint(after, grown, counts)
    assert spread(after) <= 1
    assert all(set(after[m]) <= set(before[m]) for m in members)


@given(members=same_subscriptions(), counts=partitions_per_topic, data=st.data())
@settings(max_examples=150, deadline=None)
def test_sticky_survivors_keep_everything_when_someone_leaves(members, counts, data):
    before = StickyAssignor().assign(members, counts)
    gone = data.draw(st.sampled_from(sorted(members)))
    rest = {m: t for m, t in members.items() if m != gone}
    after = StickyAssignor().assign(rest, counts, owned=before)
    assert_complete_and_disjoint(after, rest, counts)
    assert all(set(before[m]) <= set(after[m]) for m in rest)


@given(members=groups, counts=partitions_per_topic, newcomer=st.text("xyz", min_size=1))
@example(  # members that can take nothing must not shrink the others' share of what they own
    members={"n": frozenset("d"), "o": frozenset("a"), "p": frozenset("abc"),
             "mmm": frozenset("d"), "mm": frozenset("bc"), "m": frozenset("abc")},
    counts={"a": 10, "b": 3, "c": 12}, newcomer="x")
@settings(max_examples=150, deadline=None)
def test_cooperative_sticky_never_hands_over_a_partition_its_owner_still_holds(
        members, counts, newcomer):
    cooperative = CooperativeStickyAssignor()
    before = cooperative.assign(members, counts)
    grown = {**members, newcomer: frozenset(TOPICS)}
    first = cooperative.assign(grown, counts, owned=before)
    for member, parts in first.items():
        for tp in parts:
            assert all(tp not in before[o] for o in members if o != member), "still owned"
    second = cooperative.assign(grown, counts, owned=first)
    assert_complete_and_disjoint(second, grown, counts)
    assert second == StickyAssignor().assign(grown, counts, owned=first)


def test_topics_without_a_partition_count_and_members_without_topics_get_nothing():
    result = RangeAssignor().assign({"m": ["unknown"], "n": ["a"]}, {"a": 2})
    assert result == {"m": [], "n": [TopicPartition("a", 0), TopicPartition("a", 1)]}


def test_assignors_are_found_by_their_protocol_name():
    assert isinstance(assignor_for("cooperative-sticky"), CooperativeStickyAssignor)
    with pytest.raises(ValueError, match="known: cooperative-sticky, range, roundrobin"):
        assignor_for("nope")
