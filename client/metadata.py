"""A client's cached view of the cluster: topics, their partitions' leaders, brokers.

Owns: ``ClusterMetadata``, an immutable snapshot built from brokers' ``DescribeTopicsReply``
(each broker answers from its local metadata image).  A refresh makes a new snapshot and the
owner swaps one reference, so any thread may read the current snapshot without a lock.

The producer refreshes the topics it uses when a partition answers ``NotLeaderOrFollower``,
``UnknownTopicOrPartition``, ``LeaderNotAvailable``, ``FencedLeaderEpoch`` or a request times
out, when a partition has no leader, and every ``metadata_max_age_ms``.

Must never: send or wait; the owner asks brokers and hands the replies here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from zafka.core.errors import ErrorCode
from zafka.core.messages import DescribeTopicsReply, PartitionRecord

NO_LEADER = -1

REFRESH_ERRORS = frozenset({
    ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    ErrorCode.LEADER_NOT_AVAILABLE, ErrorCode.FENCED_LEADER_EPOCH,
    ErrorCode.UNKNOWN_LEADER_EPOCH, ErrorCode.REQUEST_TIMED_OUT,
})
"""Partition errors after which the producer refreshes the topic's metadata."""


@dataclass(frozen=True, slots=True)
class ClusterMetadata:
    """Partitions per topic (indexed by partition number) and broker addresses."""

    topics: Mapping[str, tuple[PartitionRecord, ...]] = field(
        default_factory=lambda: MappingProxyType({}))
    brokers: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))
    available: Mapping[str, tuple[int, ...]] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "available", MappingProxyType({
            name: tuple(p.partition for p in parts if p.leader != NO_LEADER)
            for name, parts in self.topics.items()}))

    def partition_count(self, topic: str) -> int | None:
        partitions = self.topics.get(topic)
        return None if partitions is None else len(partitions)

    def available_partitions(self, topic: str) -> tuple[int, ...]:
        """Partitions of ``topic`` that have a leader now."""
        return self.available.get(topic, ())

    def leader_of(self, topic: str, partition: int) -> int | None:
        """The leader's broker id, if it is known and has an address."""
        partitions = self.topics.get(topic)
        if partitions is None or partition >= len(partitions):
            return None
        leader = partitions[partition].leader
        return leader if leader != NO_LEADER and leader in self.brokers else None

    def updated(self, reply: DescribeTopicsReply) -> tuple[ClusterMetadata, set[str]]:
        """A snapshot with ``reply`` applied, and the topics the reply says do not exist
        (removed from the snapshot)."""
        topics = dict(self.topics)
        missing: set[str] = set()
        for description in reply.topics:
            if description.error == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
                missing.add(description.name)
                topics.pop(description.name, None)
            elif description.error == ErrorCode.NONE and description.partitions:
                ordered = tuple(sorted(description.partitions, key=lambda p: p.partition))
                assert [p.partition for p in ordered] == list(range(len(ordered))), \
                    f"topic {description.name!r}: partitions are not numbered 0..n-1"
                topics[description.name] = ordered
        brokers = dict(self.brokers)
        if reply.brokers:
            brokers = {b.broker_id: b.address for b in reply.brokers}
        return ClusterMetadata(MappingProxyType(topics), MappingProxyType(brokers)), missing


__all__ = ["ClusterMetadata", "NO_LEADER", "REFRESH_ERRORS"]
