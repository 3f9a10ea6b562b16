"""One node runtime's metrics: its registry, its instruments, its boards, its listener.

Owns: a ``CollectorRegistry`` of its own (never the library's global one, so two runtimes
in one process — tests, benchmarks — keep separate figures), the counters and histograms the
actors update as things happen (requests, bytes, fsyncs, ISR changes), the boards the actors
publish immutable snapshots to (read by ``zafka.metrics.collectors`` at scrape time), and the
``/metrics`` HTTP listener (``prometheus_client``'s threaded WSGI server).

Names: ``zafka_`` + Kafka's concept in Prometheus style (``UnderReplicatedPartitions`` ->
``zafka_under_replicated_partitions``; ``BytesInPerSec`` -> ``zafka_topic_bytes_in_total``,
a counter to take ``rate()`` of); durations in seconds, sizes in bytes.

Must never: call into an actor, or block one (updating a counter takes a short lock).
"""

from __future__ import annotations

import itertools
import struct
import threading
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from zafka.metrics.collectors import (
    BrokerCollector,
    CoordinatorCollector,
    GroupCollector,
    PartitionCollector,
    TransportCollector,
)
from zafka.metrics.http import MetricsListener
from zafka.metrics.snapshots import (
    BrokerSnapshot,
    CoordinatorSnapshot,
    GroupOffsetsSnapshot,
    ReplicaSnapshot,
)

LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                     2.5, 5.0, 10.0, 30.0)
FSYNC_BUCKETS_S = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                   0.25, 0.5, 1.0)
_BATCH_LENGTH = struct.Struct(">i")
_RECORD_COUNT_AT = 57  # RecordBatch v2: the records count, after the 57 bytes before it
_LOG_OVERHEAD = 12  # baseOffset + batchLength


def count_messages(records: Any) -> int:
    """Records in a buffer of whole RecordBatch v2 batches, read from the batch headers
    (no record is decoded); a torn tail is not counted."""
    total, position, size = 0, 0, len(records)
    while position + 61 <= size:
        (length,) = _BATCH_LENGTH.unpack_from(records, position + 8)
        (count,) = _BATCH_LENGTH.unpack_from(records, position + _RECORD_COUNT_AT)
        total += max(0, count)
        position += _LOG_OVERHEAD + max(length, 49)
    return total


class TopicCounters:
    """The per-topic counters of one topic (children looked up once, then reused)."""

    __slots__ = ("bytes_in", "messages_in", "bytes_out", "messages_out")

    def __init__(self, metrics: NodeMetrics, topic: str) -> None:
        self.bytes_in = metrics.bytes_in.labels(topic)
        self.messages_in = metrics.messages_in.labels(topic)
        self.bytes_out = metrics.bytes_out.labels(topic)
        self.messages_out = metrics.messages_out.labels(topic)


class NodeMetrics:
    """What a node's ``/metrics`` shows (see the module docstring)."""

    def __init__(self, role: str, node_id: int,
                 transport_stats: Callable[[], Mapping[str, int]] | None = None) -> None:
        self.role = role
        self.node_id = node_id
        disable_created_metrics()  # no *_created series: Kafka has none, dashboards need none
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        info = Gauge("zafka_node_info", "1, labelled with this node's role and id.",
                     ["role", "node_id"], registry=r)
        info.labels(role, str(node_id)).set(1)
        b = r if role == "broker" else None  # a broker's instruments
        self.request_seconds = Histogram(
            "zafka_request_duration_seconds", "Time from a request's arrival at the broker "
            "to its answer, by request (Kafka RequestMetrics TotalTimeMs; its _count is "
            "RequestsPerSec).", ["request"], buckets=LATENCY_BUCKETS_S, registry=b)
        for request in ("produce", "fetch_consumer", "fetch_follower"):
            self.request_seconds.labels(request)
        self.replication_wait_seconds = Histogram(
            "zafka_produce_replication_wait_seconds", "Time a produce waited at its partition "
            "leader for the high watermark to pass it (Kafka Produce RemoteTimeMs).",
            buckets=LATENCY_BUCKETS_S, registry=b)
        self.log_flush_seconds = Histogram(
            "zafka_log_flush_duration_seconds", "Time of one log fsync (Kafka "
            "LogFlushRateAndTimeMs).", buckets=FSYNC_BUCKETS_S, registry=b)
        topic = ["topic"]
        self.bytes_in = Counter("zafka_topic_bytes_in", "Bytes appended by producers "
                                "(Kafka BytesInPerSec).", topic, registry=b)
        self.messages_in = Counter("zafka_topic_messages_in", "Records appended by producers "
                                   "(Kafka MessagesInPerSec).", topic, registry=b)
        self.bytes_out = Counter("zafka_topic_bytes_out", "Bytes sent to consumers "
                                 "(Kafka BytesOutPerSec).", topic, registry=b)
        self.messages_out = Counter("zafka_topic_messages_out", "Records sent to consumers.",
                                    topic, registry=b)
        self.isr_shrinks = Counter("zafka_isr_shrinks", "ISR shrinks of partitions this "
                                   "broker leads (Kafka IsrShrinksPerSec).", registry=b)
        self.isr_expands = Counter("zafka_isr_expands", "ISR expansions of partitions this "
                                   "broker leads (Kafka IsrExpandsPerSec).", registry=b)
        self.leader_elections = Counter("zafka_leader_elections", "Times this broker became "
                                        "a partition's leader (a new leader epoch).",
                                        registry=b)
        self._topics: dict[str, TopicCounters] = {}
        self._topics_lock = threading.Lock()
        self.replicas: dict[tuple[str, int], ReplicaSnapshot] = {}
        self.broker: BrokerSnapshot | None = None
        self.coordinator: CoordinatorSnapshot | None = None
        self.groups: GroupOffsetsSnapshot | None = None
        for collector in (BrokerCollector(self), CoordinatorCollector(self)):
            r.register(collector)
        if transport_stats is not None:
            r.register(TransportCollector(transport_stats))
        # What grows with the partitions is rendered again only once a snapshot changed.
        self.partition_registry = CollectorRegistry()
        self.partition_registry.register(PartitionCollector(self))
        self.partition_registry.register(GroupCollector(self))
        self._versions = itertools.count(1)
        self.board_version = 0
        self._rendered: tuple[int, bytes] = (-1, b"")
        self._listener: MetricsListener | None = None

    def published(self) -> None:
        """Called after a snapshot of ``replicas`` or ``groups`` changed (a fresh version
        for the cache of their rendering; ``next`` on a counter is atomic)."""
        self.board_version = next(self._versions)

    def render(self) -> bytes:
        """The whole exposition: the live registry, then the partitions' families (rendered
        again only if a snapshot changed since the last scrape)."""
        version = self.board_version  # read before collecting: a change meanwhile re-renders
        cached_version, cached = self._rendered
        if version != cached_version:
            cached = generate_latest(self.partition_registry)
            self._rendered = (version, cached)
        return generate_latest(self.registry) + cached

    def topic(self, name: str) -> TopicCounters:
        counters = self._topics.get(name)
        if counters is None:
            with self._topics_lock:
                counters = self._topics.get(name) or TopicCounters(self, name)
                self._topics[name] = counters
        return counters

    # --- the listener -------------------------------------------------------------------

    def serve(self, host: str, port: int) -> int:
        """Serve ``/metrics`` on ``host:port`` (0: any free port) in daemon threads;
        the bound port."""
        self._listener = MetricsListener(self.render, host, port)
        return self._listener.port

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None


__all__ = ["FSYNC_BUCKETS_S", "LATENCY_BUCKETS_S", "NodeMetrics", "TopicCounters",
           "count_messages"]
