"""The consumer's view of the cluster: topics, partition leaders and broker addresses.

Owns: the latest ``DescribeTopicsReply`` a broker gave this consumer, indexed for the hot
path (``leader(tp)``), when it was last refreshed and whether a refresh is wanted (a broker
said NotLeaderOrFollower / UnknownTopicOrPartition / FencedLeaderEpoch, a request timed out,
or ``metadata_max_age_ms`` passed).  Which broker to ask rotates through the known brokers
when one does not answer.

Must never: send anything itself (the consumer actor sends what ``request()`` builds) or
block.
"""

from __future__ import annotations

from zafka.core.errors import ErrorCode
from zafka.core.messages import DescribeTopicsReply, DescribeTopicsRequest, TopicPartition

METADATA_REPLY_MS = 3_000
"""Brokers answer metadata and coordinator look-ups from their image at once: a request
unanswered this long went to a dead broker, and the next one goes to another."""


class ConsumerMetadata:
    """Topic partitions and leaders, refreshed on demand and by age."""

    def __init__(self, bootstrap: list[str], max_age_ticks: int, backoff_ticks: int) -> None:
        assert bootstrap, "the cluster file names no broker"
        self.bootstrap = bootstrap
        self.max_age_ticks = max_age_ticks
        self.backoff_ticks = backoff_ticks
        self.brokers: dict[int, str] = {}
        self.partitions: dict[str, int] = {}  # topic -> partition count
        self.internal: set[str] = set()
        self.unknown: set[str] = set()  # topics the last reply said do not exist
        self.leaders: dict[TopicPartition, tuple[int, str, int]] = {}  # id, address, epoch
        self.refreshed_at: int | None = None
        self.refresh_needed = True
        self.in_flight = False
        self.version = 0
        self._turn = 0

    def any_broker(self) -> str:
        """A broker address to ask (rotates on every call)."""
        addresses = sorted(set(self.brokers.values())) or self.bootstrap
        self._turn += 1
        return addresses[self._turn % len(addresses)]

    def due(self, now: int) -> bool:
        """Whether a refresh should be sent now (wanted ones wait ``backoff_ticks`` after
        the previous answer)."""
        if self.in_flight:
            return False
        if self.refreshed_at is None:
            return True
        elapsed = now - self.refreshed_at
        return (self.refresh_needed and elapsed >= self.backoff_ticks) \
            or elapsed >= self.max_age_ticks

    def request(self, topics: tuple[str, ...] | None) -> DescribeTopicsRequest:
        """The request for ``topics`` (None: every topic)."""
        self.in_flight = True
        return DescribeTopicsRequest(names=topics or ())

    def failed(self, now: int) -> None:
        self.in_flight = False
        self.refresh_needed = True
        self.refreshed_at = now

    def update(self, reply: DescribeTopicsReply, now: int, asked: tuple[str, ...] | None,
               ) -> None:
        """Replace the view of the asked topics with ``reply``."""
        self.in_flight = False
        self.refreshed_at = now
        self.refresh_needed = False
        self.version += 1
        if reply.brokers:
            self.brokers = {b.broker_id: b.address for b in reply.brokers if not b.fenced}
        if asked is None:
            self.partitions.clear()
            self.leaders.clear()
        for topic in reply.topics:
            self.unknown.discard(topic.name)
            for tp in [tp for tp in self.leaders if tp.topic == topic.name]:
                del self.leaders[tp]
            if topic.error == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
                self.partitions.pop(topic.name, None)
                self.unknown.add(topic.name)
                continue
            if topic.error != ErrorCode.NONE:
                self.refresh_needed = True
                continue
            self.partitions[topic.name] = len(topic.partitions)
            if topic.internal:
                self.internal.add(topic.name)
            for p in topic.partitions:
                address = self.brokers.get(p.leader)
                if address is None:  # no leader now (election under way)
                    self.refresh_needed = True
                    continue
                self.leaders[TopicPartition(topic.name, p.partition)] = (
                    p.leader, address, p.leader_epoch)

    def leader(self, tp: TopicPartition) -> tuple[int, str, int] | None:
        """(broker id, address, leader epoch) of ``tp``'s leader, if known."""
        return self.leaders.get(tp)

    def topics(self, include_internal: bool = False) -> list[str]:
        return sorted(t for t in self.partitions if include_internal or t not in self.internal)


__all__ = ["METADATA_REPLY_MS", "ConsumerMetadata"]
