"""Immutable snapshots an actor publishes for its node's metrics collectors.

Owns: the shapes only.  An actor builds a new snapshot when what it shows has changed and
swaps it into its ``NodeMetrics`` (one reference assignment); the HTTP thread of
``/metrics`` reads whatever snapshot is there at scrape time.  The collectors never call into
an actor and never touch what an actor owns.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ReplicaSnapshot:
    """One partition replica hosted by a broker, as its replica actor last saw it."""

    topic: str
    partition: int
    role: str  # "leader" | "follower" | "offline"
    leader_epoch: int
    replicas: int  # size of the replica set
    isr: int  # size of the ISR
    log_start_offset: int
    log_end_offset: int
    high_watermark: int  # -1: not known to this replica
    size_bytes: int
    segments: int

    @property
    def under_replicated(self) -> bool:
        """Kafka's rule: a partition this broker leads whose ISR is smaller than its
        replica set."""
        return self.role == "leader" and self.isr < self.replicas


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BrokerSnapshot:
    """A broker's registration state, as its broker actor last saw it."""

    broker_epoch: int
    fenced: bool
    metadata_offset: int
    replicas_hosted: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CoordinatorSnapshot:
    """A coordinator's Raft member and, from its applied metadata, the partitions' health."""

    raft_role: str  # "leader" | "follower" | "candidate" | "pre-candidate"
    term: int
    leader_id: int  # -1 / 0: no known leader
    commit_index: int
    applied_index: int
    active_controller: bool
    metadata_offset: int
    topics: int
    partitions: int
    offline_partitions: int  # no leader
    brokers_fenced: int
    brokers_unfenced: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class GroupOffsetsSnapshot:
    """The groups a broker coordinates: their states and committed offsets."""

    states: tuple[tuple[str, str], ...] = ()  # (group, state)
    committed: tuple[tuple[str, str, int, int], ...] = ()  # (group, topic, partition, offset)


__all__ = ["BrokerSnapshot", "CoordinatorSnapshot", "GroupOffsetsSnapshot", "ReplicaSnapshot"]
