"""zafka's Prometheus metrics: one registry per node runtime, its collectors and its
``/metrics`` HTTP listener (``prometheus-client``).  See ``docs/monitoring.md``."""

from zafka.metrics.node import LATENCY_BUCKETS_S, NodeMetrics, count_messages
from zafka.metrics.snapshots import (
    BrokerSnapshot,
    CoordinatorSnapshot,
    GroupOffsetsSnapshot,
    ReplicaSnapshot,
)

__all__ = ["BrokerSnapshot", "CoordinatorSnapshot", "GroupOffsetsSnapshot",
           "LATENCY_BUCKETS_S", "NodeMetrics", "ReplicaSnapshot", "count_messages"]
