"""Replica placement: balanced spread, balanced leaders, Kafka's errors, reassignment plans."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zafka.core.errors import InvalidReplicaAssignment, InvalidReplicationFactor
from zafka.core.placement import (
    assign_added_partitions,
    assign_replicas,
    check_assignment,
    generate_reassignment,
    preferred_leader_imbalance,
    replica_counts,
)


def spread(counts: dict[int, int], brokers: list[int]) -> int:
    values = [counts.get(b, 0) for b in brokers]
    return max(values) - min(values)


@st.composite
def layouts(draw: st.DrawFn) -> tuple[list[int], int, int, int]:
    brokers = sorted(draw(st.sets(st.integers(0, 50), min_size=1, max_size=12)))
    factor = draw(st.integers(1, len(brokers)))
    partitions = draw(st.integers(1, 60))
    start = draw(st.integers(0, len(brokers) - 1))
    return brokers, partitions, factor, start


@settings(max_examples=300, deadline=None)
@given(layouts())
def test_every_broker_gets_replicas_and_leaders_within_one(
    layout: tuple[list[int], int, int, int],
) -> None:
    brokers, partitions, factor, start = layout
    assignment = assign_replicas(brokers, partitions, factor, start_index=start)
    assert len(assignment) == partitions
    assert all(len(r) == factor and len(set(r)) == factor for r in assignment)
    assert all(set(r) <= set(brokers) for r in assignment)
    assert spread(dict(replica_counts(assignment)), brokers) <= 1
    leaders: dict[int, int] = {}
    for replicas in assignment:
        leaders[replicas[0]] = leaders.get(replicas[0], 0) + 1
    assert spread(leaders, brokers) <= 1


def test_leaders_go_round_robin_from_the_start_index() -> None:
    assignment = assign_replicas([1, 2, 3], 6, 2, start_index=1)
    assert [r[0] for r in assignment] == [2, 3, 1, 2, 3, 1]


def test_followers_are_spread_over_different_brokers_across_rounds() -> None:
    assignment = assign_replicas(range(5), 20, 2, start_index=0)
    followers_of_broker_0 = {r[1] for r in assignment if r[0] == 0}
    assert len(followers_of_broker_0) >= 3


def test_a_seeded_rng_gives_the_same_assignment() -> None:
    first = assign_replicas([1, 2, 3, 4], 8, 3, rng=random.Random(7))
    assert first == assign_replicas([4, 3, 2, 1], 8, 3, rng=random.Random(7))


def test_replication_factor_larger_than_brokers_is_refused_clearly() -> None:
    with pytest.raises(InvalidReplicationFactor) as caught:
        assign_replicas([1, 2], 3, 3, start_index=0)
    assert "replication factor 3" in caught.value.message and "2" in caught.value.message
    with pytest.raises(InvalidReplicationFactor, match="at least 1"):
        assign_replicas([1, 2], 3, 0, start_index=0)


@settings(max_examples=100, deadline=None)
@given(layouts(), st.integers(1, 30))
def test_added_partitions_continue_the_leader_round_robin_and_are_balanced(
    layout: tuple[list[int], int, int, int], added: int,
) -> None:
    brokers, partitions, factor, start = layout
    existing = assign_replicas(brokers, partitions, factor, start_index=start)
    new = assign_added_partitions(brokers, existing, added)
    n = len(brokers)
    assert [r[0] for r in existing + new] == [
        brokers[(start + p) % n] for p in range(partitions + added)]
    assert all(len(set(r)) == factor for r in new)
    assert spread(dict(replica_counts(new)), brokers) <= 1


def test_added_partitions_when_the_first_leader_is_gone_use_the_rng() -> None:
    existing = ((9, 1), (1, 9))
    new = assign_added_partitions([1, 2, 3], existing, 3, rng=random.Random(1))
    assert len(new) == 3 and all(set(r) <= {1, 2, 3} and len(r) == 2 for r in new)


def test_reassignment_plan_is_balanced_over_the_target_brokers() -> None:
    current = assign_replicas([1, 2, 3], 12, 2, start_index=0)
    plan = generate_reassignment(current, [1, 2, 3, 4, 5, 6])
    assert len(plan) == 12 and all(len(set(r)) == 2 for r in plan)
    assert spread(dict(replica_counts(plan)), [1, 2, 3, 4, 5, 6]) <= 1


def test_reassignment_plan_moves_nothing_when_already_balanced_on_those_brokers() -> None:
    current = assign_replicas([1, 2, 3, 4], 9, 3, start_index=2)
    assert generate_reassignment(current, [1, 2, 3, 4]) == current


def test_preferred_leader_imbalance_per_broker() -> None:
    ratios = preferred_leader_imbalance([((1, 2), 1), ((1, 3), 3), ((2, 1), 2), ((3, 1), 3)])
    assert ratios == {1: 0.5, 2: 0.0, 3: 0.0}


@pytest.mark.parametrize("assignment, reason", [
    ((), "no partitions"),
    (((1, 1),), "twice"),
    (((1, 2), (1,)), "has 1 replicas"),
    (((1, 7),), "unregistered brokers [7]"),
])
def test_manual_assignments_are_checked(
    assignment: tuple[tuple[int, ...], ...], reason: str,
) -> None:
    with pytest.raises(InvalidReplicaAssignment, match=reason.replace("[", r"\[")):
        check_assignment(assignment, [1, 2, 3])
