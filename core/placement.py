"""Replica placement: which brokers host each partition, and which of them leads by preference.

Owns: the assignment of replicas to brokers for new topics and added partitions, balanced
reassignment plans (``kafka-reassign-partitions --generate``), decommission plans (every
replica off one broker, moving as little as possible) and the preferred-leader imbalance
measure the controller uses to decide on preferred-leader elections.

Must never: look at liveness, clocks or module-level randomness.  Callers pass the broker ids
to place on (the controller passes the unfenced ones) and a start index or a seeded
``random.Random``.

Algorithm (Kafka's rack-unaware placement, made exactly balanced): brokers are sorted; the
leader (first replica) of partition ``p`` is broker ``(start + p) mod n``, so leaders go
round-robin.  In every full round of ``n`` partitions the followers sit at shifted distances
from the leader, as in Kafka (the shift grows each round so that a broker's followers are
spread over many other brokers); a full round gives every broker exactly ``replication_factor``
replicas.  The last, partial round places followers greedily on the brokers that hold the
fewest replicas of that round, nearest after the leader first.  Result: every broker holds the
same number of replicas and of leaders, give or take one.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence

from zafka.core.errors import InvalidReplicaAssignment, InvalidReplicationFactor

Assignment = tuple[tuple[int, ...], ...]
"""Replica lists by partition index; the first replica of each is its preferred leader."""


def _check_factor(broker_ids: Sequence[int], replication_factor: int) -> None:
    if replication_factor < 1:
        raise InvalidReplicationFactor(
            f"replication factor must be at least 1, got {replication_factor}")
    if replication_factor > len(broker_ids):
        raise InvalidReplicationFactor(
            f"replication factor {replication_factor} is larger than the number of available "
            f"(registered, unfenced) brokers, {len(broker_ids)}: {sorted(broker_ids)}")


def _full_round_replicas(n: int, rf: int, first: int, shift: int) -> list[int]:
    followers = [(first + 1 + (shift + j) % (n - 1)) % n for j in range(rf - 1)]
    return [first, *followers]


def _partial_round(n: int, rf: int, leaders: list[int]) -> list[list[int]]:
    counts = [0] * n
    for leader in leaders:
        counts[leader] += 1
    rounds = []
    for leader in leaders:
        chosen = [leader]
        for _ in range(rf - 1):
            candidates = [b for b in range(n) if b not in chosen]
            follower = min(candidates, key=lambda b: (counts[b], (b - chosen[0]) % n))
            chosen.append(follower)
            counts[follower] += 1
        rounds.append(chosen)
    return rounds


def assign_replicas(
    broker_ids: Iterable[int],
    partitions: int,
    replication_factor: int,
    *,
    start_index: int | None = None,
    rng: random.Random | None = None,
) -> Assignment:
    """Replica lists for ``partitions`` new partitions over ``broker_ids`` (balanced, ±1).

    ``start_index`` picks the leader of the first partition (index into the sorted brokers);
    without it one is drawn from ``rng``.  ``InvalidReplicationFactor`` if the factor exceeds
    the number of brokers.
    """
    brokers = sorted(set(broker_ids))
    _check_factor(brokers, replication_factor)
    if partitions < 0:
        raise ValueError(f"partitions must be >= 0, got {partitions}")
    n, rf = len(brokers), replication_factor
    if start_index is None:
        if rng is None:
            raise ValueError("assign_replicas needs start_index or rng")
        start_index = rng.randrange(n)
    full = partitions - partitions % n
    indexes: list[list[int]] = [
        _full_round_replicas(n, rf, (start_index + p) % n, (start_index + p // n) % max(1, n - 1))
        for p in range(full)
    ]
    indexes += _partial_round(n, rf, [(start_index + p) % n for p in range(full, partitions)])
    result = tuple(tuple(brokers[i] for i in replicas) for replicas in indexes)
    assert all(len(set(r)) == rf for r in result)
    return result


def assign_added_partitions(
    broker_ids: Iterable[int], existing: Assignment, added: int,
    *, rng: random.Random | None = None,
) -> Assignment:
    """Replica lists for ``added`` partitions appended to a topic whose partitions are ``existing``.

    The new partitions keep the topic's replication factor and continue its leader
    round-robin (as Kafka does: the start is partition 0's leader, shifted by the partition
    count); they are balanced among themselves.  Falls back to ``rng`` when partition 0's
    leader is not among ``broker_ids``.
    """
    brokers = sorted(set(broker_ids))
    if not existing:
        raise ValueError("a topic has at least one partition")
    first_leader = existing[0][0]
    if first_leader in brokers:
        start = (brokers.index(first_leader) + len(existing)) % len(brokers)
        return assign_replicas(brokers, added, len(existing[0]), start_index=start)
    return assign_replicas(brokers, added, len(existing[0]), rng=rng)


def check_assignment(assignment: Assignment, broker_ids: Iterable[int]) -> None:
    """``InvalidReplicaAssignment`` unless every partition lists distinct, known brokers and
    all partitions have the same replication factor."""
    known = set(broker_ids)
    if not assignment:
        raise InvalidReplicaAssignment("the assignment lists no partitions")
    factor = len(assignment[0])
    for partition, replicas in enumerate(assignment):
        if not replicas:
            raise InvalidReplicaAssignment(f"partition {partition} has no replicas")
        if len(set(replicas)) != len(replicas):
            raise InvalidReplicaAssignment(
                f"partition {partition} lists a broker twice: {list(replicas)}")
        if len(replicas) != factor:
            raise InvalidReplicaAssignment(
                f"partition {partition} has {len(replicas)} replicas, partition 0 has {factor}")
        unknown = sorted(set(replicas) - known)
        if unknown:
            raise InvalidReplicaAssignment(
                f"partition {partition} names unregistered brokers {unknown}")


def generate_reassignment(
    current: Assignment, broker_ids: Iterable[int], *, start_index: int | None = None,
) -> Assignment:
    """A balanced plan for a topic over ``broker_ids`` (like ``kafka-reassign-partitions
    --generate``), keeping the replication factor.

    Without ``start_index`` every start is tried and the plan that moves the fewest replicas
    wins (ties: the lowest start), so the result is deterministic.
    """
    brokers = sorted(set(broker_ids))
    if not current:
        raise ValueError("a topic has at least one partition")
    factor = len(current[0])
    if start_index is not None:
        return assign_replicas(brokers, len(current), factor, start_index=start_index)
    _check_factor(brokers, factor)
    best: Assignment | None = None
    best_moves = -1
    for start in range(len(brokers)):
        plan = assign_replicas(brokers, len(current), factor, start_index=start)
        moves = sum(len(set(new) - set(old)) for new, old in zip(plan, current, strict=True))
        if best is None or moves < best_moves:
            best, best_moves = plan, moves
    assert best is not None
    return best


def decommission_plan(
    assignment: Mapping[tuple[str, int], Sequence[int]], broker_id: int,
    broker_ids: Iterable[int],
) -> dict[tuple[str, int], tuple[int, ...]]:
    """New replica lists for the partitions of ``assignment`` hosted on ``broker_id``, with it
    replaced (in place, so the replacement inherits its leadership preference) by the broker
    of ``broker_ids`` that hosts the fewest replicas and none of that partition (ties: the
    lowest id).  Partitions not on ``broker_id`` are left out.  ``InvalidReplicationFactor``
    if a partition's replication factor cannot be kept with the brokers that remain.
    """
    remaining = sorted(set(broker_ids) - {broker_id})
    counts = dict.fromkeys(remaining, 0)
    for replicas in assignment.values():
        for broker in replicas:
            if broker in counts:
                counts[broker] += 1
    short = sorted({key[0] for key, replicas in assignment.items()
                    if broker_id in replicas and len(replicas) > len(remaining)})
    if short:
        factor = max(len(r) for k, r in assignment.items() if k[0] == short[0])
        raise InvalidReplicationFactor(
            f"cannot move every replica off broker {broker_id}: topic {short[0]!r} has "
            f"replication factor {factor} but only {len(remaining)} other live brokers remain "
            f"{remaining}" + (f" (also affected: {short[1:]})" if short[1:] else ""))
    plan: dict[tuple[str, int], tuple[int, ...]] = {}
    for key in sorted(assignment):
        replicas = tuple(assignment[key])
        if broker_id not in replicas:
            continue
        chosen = min((b for b in remaining if b not in replicas), key=lambda b: (counts[b], b))
        counts[chosen] += 1
        plan[key] = tuple(chosen if b == broker_id else b for b in replicas)
    return plan


def preferred_leader_imbalance(
    partitions: Iterable[tuple[Sequence[int], int]],
) -> dict[int, float]:
    """For each preferred leader: the fraction of the partitions it prefers that it does not lead.

    ``partitions`` yields (replicas, current leader) pairs.  Kafka triggers a preferred-leader
    election for a broker whose ratio exceeds ``leader.imbalance.per.broker.percentage``.
    """
    preferred: dict[int, int] = {}
    not_leading: dict[int, int] = {}
    for replicas, leader in partitions:
        first = replicas[0]
        preferred[first] = preferred.get(first, 0) + 1
        if leader != first:
            not_leading[first] = not_leading.get(first, 0) + 1
    return {b: not_leading.get(b, 0) / count for b, count in sorted(preferred.items())}


def replica_counts(assignment: Assignment) -> Mapping[int, int]:
    """How many replicas each broker holds in ``assignment``."""
    counts: dict[int, int] = {}
    for replicas in assignment:
        for broker in replicas:
            counts[broker] = counts.get(broker, 0) + 1
    return counts


__all__ = [
    "Assignment", "assign_added_partitions", "assign_replicas", "check_assignment",
    "decommission_plan", "generate_reassignment", "preferred_leader_imbalance", "replica_counts",
]
