"""Partition assignors: how a group's leader splits partitions among members.

Owns: ``RangeAssignor`` ("range"), ``RoundRobinAssignor`` ("roundrobin"), ``StickyAssignor``
("sticky") and ``CooperativeStickyAssignor`` ("cooperative-sticky"), with Kafka's names and
semantics, and ``assignor_for(name)``.  Every ``assign`` takes the members' subscribed topics
and the partition count of each topic and returns, for every member, its sorted partitions;
the sticky ones also take the partitions each member owns now.  Topics nobody subscribes to,
or that have no known partition count, are not assigned.

The group coordinator carries subscriptions and assignments as opaque bytes; their encoding
(``Subscription``, ``encode_assignment`` ...) is ``core.group_codec``'s.

Must never: do I/O or use randomness — the same input always gives the same assignment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import ClassVar

from zafka.core.messages import TopicPartition

Subscriptions = Mapping[str, Iterable[str]]
Assignment = dict[str, list[TopicPartition]]


class Assignor:
    """Base of the assignors: ``name`` is the protocol name sent in JoinGroup."""

    name: ClassVar[str] = ""

    def assign(self, members: Subscriptions, partitions_per_topic: Mapping[str, int],
               owned: Mapping[str, Iterable[TopicPartition]] | None = None) -> Assignment:
        raise NotImplementedError


def _subscribed(members: Subscriptions) -> dict[str, frozenset[str]]:
    return {m: frozenset(topics) for m, topics in members.items()}


def _all_partitions(subs: dict[str, frozenset[str]],
                    partitions_per_topic: Mapping[str, int]) -> list[TopicPartition]:
    topics = sorted(set().union(*subs.values()) & set(partitions_per_topic)) if subs else []
    return [TopicPartition(t, p) for t in topics for p in range(partitions_per_topic[t])]


class RangeAssignor(Assignor):
    """Kafka's range: per topic, consecutive ranges over the sorted subscribed members;
    the first ``partitions % members`` members get one partition more."""

    name = "range"

    def assign(self, members: Subscriptions, partitions_per_topic: Mapping[str, int],
               owned: Mapping[str, Iterable[TopicPartition]] | None = None) -> Assignment:
        subs = _subscribed(members)
        result: Assignment = {m: [] for m in subs}
        for topic in sorted(set().union(*subs.values()) & set(partitions_per_topic)
                            if subs else []):
            consumers = sorted(m for m, topics in subs.items() if topic in topics)
            per, extra = divmod(partitions_per_topic[topic], len(consumers))
            for i, member in enumerate(consumers):
                start = per * i + min(i, extra)
                length = per + (1 if i < extra else 0)
                result[member].extend(TopicPartition(topic, p)
                                      for p in range(start, start + length))
        return {m: sorted(parts) for m, parts in result.items()}


class RoundRobinAssignor(Assignor):
    """Kafka's round robin: all partitions sorted by (topic, partition) are dealt in turn to
    the sorted members, skipping members not subscribed to the partition's topic."""

    name = "roundrobin"

    def assign(self, members: Subscriptions, partitions_per_topic: Mapping[str, int],
               owned: Mapping[str, Iterable[TopicPartition]] | None = None) -> Assignment:
        subs = _subscribed(members)
        result: Assignment = {m: [] for m in subs}
        order = sorted(subs)
        turn = 0
        for tp in _all_partitions(subs, partitions_per_topic):
            while tp.topic not in subs[order[turn % len(order)]]:
                turn += 1
            result[order[turn % len(order)]].append(tp)
            turn += 1
        return result


class StickyAssignor(Assignor):
    """Balanced like round robin, but members keep the partitions they own where balance
    allows: keep valid owned partitions, deal the rest to the least loaded eligible member,
    then move partitions from the most to the least loaded until no eligible pair differs by
    two or more (within one for members with equal subscriptions)."""

    name = "sticky"

    def assign(self, members: Subscriptions, partitions_per_topic: Mapping[str, int],
               owned: Mapping[str, Iterable[TopicPartition]] | None = None) -> Assignment:
        subs = _subscribed(members)
        everything = _all_partitions(subs, partitions_per_topic)
        valid = set(everything)
        result: dict[str, set[TopicPartition]] = {m: set() for m in subs}
        claimed: set[TopicPartition] = set()
        for member in sorted(subs):
            for tp in sorted((owned or {}).get(member, ())):
                if tp in valid and tp not in claimed and tp.topic in subs[member]:
                    result[member].add(tp)
                    claimed.add(tp)
        kept = {m: frozenset(parts) for m, parts in result.items()}
        eligible = {tp: sorted(m for m in subs if tp.topic in subs[m]) for tp in everything}
        for tp in sorted(valid - claimed, key=lambda tp: (len(eligible[tp]), tp)):
            target = min(eligible[tp], key=lambda m: (len(result[m]), m))
            result[target].add(tp)
        self._balance(subs, result, kept)
        return {m: sorted(parts) for m, parts in result.items()}

    @staticmethod
    def _balance(subs: dict[str, frozenset[str]], result: dict[str, set[TopicPartition]],
                 kept: Mapping[str, frozenset[TopicPartition]]) -> None:
        """Move one partition at a time from the most to the least loaded eligible member
        while they differ by two or more; a partition the giver owned before this round
        moves only when it has nothing newer to give."""
        moved = True
        while moved:
            moved = False
            by_load = sorted(subs, key=lambda m: (len(result[m]), m))
            for giver in reversed(by_load):
                for taker in by_load:
                    if len(result[giver]) - len(result[taker]) < 2:
                        break
                    movable = [tp for tp in result[giver] if tp.topic in subs[taker]]
                    if movable:
                        tp = max(movable, key=lambda tp: (tp not in kept[giver], tp))
                        result[giver].discard(tp)
                        result[taker].add(tp)
                        moved = True
                        break
                if moved:
                    break


class CooperativeStickyAssignor(StickyAssignor):
    """Sticky, in Kafka's incremental cooperative style: a partition that changes owner is
    left out of this round (its old owner sees it revoked); once the old owner rejoins
    without it, the next round hands it to the new owner.  A member whose assignment lost
    partitions it owned must rejoin."""

    name = "cooperative-sticky"

    def assign(self, members: Subscriptions, partitions_per_topic: Mapping[str, int],
               owned: Mapping[str, Iterable[TopicPartition]] | None = None) -> Assignment:
        target = super().assign(members, partitions_per_topic, owned)
        owner = {tp: m for m, parts in (owned or {}).items() if m in target for tp in parts}
        return {m: [tp for tp in parts if owner.get(tp, m) == m]
                for m, parts in target.items()}


ASSIGNORS: dict[str, type[Assignor]] = {
    cls.name: cls for cls in (RangeAssignor, RoundRobinAssignor, StickyAssignor,
                              CooperativeStickyAssignor)
}


def assignor_for(name: str) -> Assignor:
    """The assignor registered under a protocol name; ``ValueError`` lists the known ones."""
    try:
        return ASSIGNORS[name]()
    except KeyError:
        raise ValueError(f"unknown partition assignor {name!r}; known: "
                         f"{', '.join(sorted(ASSIGNORS))}") from None


__all__ = [
    "ASSIGNORS", "Assignment", "Assignor", "CooperativeStickyAssignor", "RangeAssignor",
    "RoundRobinAssignor", "StickyAssignor", "assignor_for",
]
