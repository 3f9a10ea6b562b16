"""Custom collectors: what a node's actors published, turned into metric families at scrape.

Owns: nothing.  Each collector reads one board of ``NodeMetrics`` — a dict or a single
reference the actors swap immutable snapshots into — on the ``/metrics`` HTTP thread.

Must never: call into an actor, or read a structure an actor mutates in place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from zafka.metrics.snapshots import (
    BrokerSnapshot,
    CoordinatorSnapshot,
    GroupOffsetsSnapshot,
    ReplicaSnapshot,
)


class Boards(Protocol):
    """Where a node's actors publish their snapshots (``NodeMetrics``)."""

    role: str
    replicas: dict[tuple[str, int], ReplicaSnapshot]
    broker: BrokerSnapshot | None
    coordinator: CoordinatorSnapshot | None
    groups: GroupOffsetsSnapshot | None

PARTITION_LABELS = ["topic", "partition"]


class PartitionCollector(Collector):
    """Kafka's ReplicaManager and Log gauges, from the replica snapshots of a broker."""

    def __init__(self, metrics: Boards) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        snapshots = list(self.metrics.replicas.values())
        if self.metrics.role != "broker":
            return
        under = GaugeMetricFamily("zafka_under_replicated_partitions",
                                  "Partitions this broker leads whose ISR is smaller than "
                                  "their replica set (Kafka UnderReplicatedPartitions).")
        under.add_metric([], sum(1 for s in snapshots if s.under_replicated))
        leaders = GaugeMetricFamily("zafka_leader_count",
                                    "Partitions this broker leads (Kafka LeaderCount).")
        leaders.add_metric([], sum(1 for s in snapshots if s.role == "leader"))
        hosted = GaugeMetricFamily("zafka_partition_count",
                                   "Partition replicas this broker hosts (Kafka PartitionCount).")
        hosted.add_metric([], len(snapshots))
        size = GaugeMetricFamily("zafka_log_size_bytes",
                                 "Bytes of a partition replica's log (Kafka Log Size).",
                                 labels=PARTITION_LABELS)
        segments = GaugeMetricFamily("zafka_log_segments",
                                     "Segments of a partition replica's log "
                                     "(Kafka NumLogSegments).", labels=PARTITION_LABELS)
        for s in snapshots:
            labels = [s.topic, str(s.partition)]
            size.add_metric(labels, s.size_bytes)
            segments.add_metric(labels, s.segments)
        yield from (under, leaders, hosted, size, segments)


class BrokerCollector(Collector):
    """A broker's registration: fenced or serving, and its epoch."""

    def __init__(self, metrics: Boards) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        snapshot = self.metrics.broker
        if snapshot is None:
            return
        fenced = GaugeMetricFamily("zafka_broker_fenced",
                                   "1 while the controller has this broker fenced.")
        fenced.add_metric([], int(snapshot.fenced))
        epoch = GaugeMetricFamily("zafka_broker_epoch", "This broker's registration epoch.")
        epoch.add_metric([], snapshot.broker_epoch)
        offset = GaugeMetricFamily("zafka_broker_metadata_offset",
                                   "Offset of the metadata image this broker applied.")
        offset.add_metric([], snapshot.metadata_offset)
        yield from (fenced, epoch, offset)


class CoordinatorCollector(Collector):
    """Raft and controller gauges of a coordinator (Kafka's KafkaController and raft
    metrics)."""

    def __init__(self, metrics: Boards) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        s = self.metrics.coordinator
        if s is None:
            return
        controller = s.active_controller
        gauges: list[tuple[str, str, float]] = [
            ("zafka_active_controller", "1 on the coordinator that is the controller "
             "(Kafka ActiveControllerCount).", int(controller)),
            ("zafka_raft_current_term", "This Raft member's current term.", s.term),
            ("zafka_raft_leader_id", "The Raft leader this member knows of (-1: none).",
             s.leader_id),
            ("zafka_raft_commit_index", "Index of the last committed Raft entry.",
             s.commit_index),
            ("zafka_raft_applied_index", "Index of the last Raft entry applied to the "
             "metadata.", s.applied_index),
            ("zafka_metadata_offset", "Offset of the applied metadata.", s.metadata_offset),
            ("zafka_offline_partitions", "Partitions without a leader, reported by the "
             "active controller (Kafka OfflinePartitionsCount).",
             s.offline_partitions if controller else 0),
            ("zafka_global_topic_count", "Topics in the metadata (Kafka GlobalTopicCount).",
             s.topics),
            ("zafka_global_partition_count", "Partitions in the metadata "
             "(Kafka GlobalPartitionCount).", s.partitions),
            ("zafka_fenced_broker_count", "Fenced brokers (Kafka FencedBrokerCount).",
             s.brokers_fenced),
            ("zafka_active_broker_count", "Unfenced brokers (Kafka ActiveBrokerCount).",
             s.brokers_unfenced),
        ]
        for name, text, value in gauges:
            family = GaugeMetricFamily(name, text)
            family.add_metric([], value)
            yield family
        role = GaugeMetricFamily("zafka_raft_role", "1 for this Raft member's current role.",
                                 labels=["role"])
        for name in ("leader", "follower", "candidate", "pre-candidate"):
            role.add_metric([name], int(s.raft_role == name))
        yield role


class GroupCollector(Collector):
    """Consumer groups this broker coordinates: their states and their lag.

    Lag is the high watermark this broker's replica of the partition knows minus the
    committed offset; a partition with no replica here has no lag sample on this broker
    (see docs/monitoring.md)."""

    def __init__(self, metrics: Boards) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        snapshot = self.metrics.groups
        if snapshot is None:
            return
        replicas = self.metrics.replicas
        states = GaugeMetricFamily("zafka_consumer_group_state",
                                   "1 for each group this broker coordinates, by state.",
                                   labels=["group", "state"])
        for group, state in snapshot.states:
            states.add_metric([group, state], 1)
        labels = ["group", "topic", "partition"]
        lag = GaugeMetricFamily("zafka_consumer_group_lag",
                                "High watermark minus committed offset (Kafka's consumer "
                                "lag).", labels=labels)
        for group, topic, partition, offset in snapshot.committed:
            values = [group, topic, str(partition)]
            replica = replicas.get((topic, partition))
            if replica is not None and replica.high_watermark >= 0:
                lag.add_metric(values, max(0, replica.high_watermark - offset))
        yield from (states, lag)


class TransportCollector(Collector):
    """The node's ZeroMQ transport: send-queue depth, frames, drops, authentication."""

    def __init__(self, stats: Callable[[], Mapping[str, int]]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self.stats()
        depth = GaugeMetricFamily("zafka_transport_send_queue_depth",
                                  "Envelopes waiting in the send queue.")
        depth.add_metric([], stats.get("send_queue_depth", 0))
        sent = CounterMetricFamily("zafka_transport_frames_sent", "Messages sent.")
        sent.add_metric([], stats.get("frames_sent", 0))
        received = CounterMetricFamily("zafka_transport_frames_received", "Messages received.")
        received.add_metric([], stats.get("frames_received", 0))
        dropped = CounterMetricFamily("zafka_transport_dropped",
                                      "Messages dropped, by reason.", labels=["reason"])
        for reason in ("queue_full", "peer_full", "undecodable", "by_faults"):
            dropped.add_metric([reason], stats.get(f"dropped_{reason}", 0))
        lost = CounterMetricFamily("zafka_transport_peers_lost", "Peer connections lost.")
        lost.add_metric([], stats.get("peers_lost", 0))
        auth = CounterMetricFamily("zafka_auth_failures",
                                   "Connections refused by authentication, by kind.",
                                   labels=["kind"])
        auth.add_metric(["unknown_key"], stats.get("auth_denied", 0))
        auth.add_metric(["handshake_failed"], stats.get("handshake_failed", 0))
        undeliverable = CounterMetricFamily("zafka_undeliverable_messages",
                                            "Envelopes for an actor this node does not host.")
        undeliverable.add_metric([], stats.get("undeliverable", 0))
        yield from (depth, sent, received, dropped, lost, auth, undeliverable)


__all__ = ["Boards", "BrokerCollector", "CoordinatorCollector", "GroupCollector",
           "PartitionCollector", "TransportCollector"]
