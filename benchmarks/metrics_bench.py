"""What a Prometheus scrape of a node costs, at 1,000 partitions.

Run: ``python -m benchmarks.metrics_bench [--partitions 1000] [--cluster] [--json FILE]``.

- exposition: a broker's ``render()`` with ``--partitions`` replica snapshots (10 topics), a
  group committing to every partition, per-topic counters and request histograms — median
  milliseconds when every partition changed since the last scrape (``render_changed_ms``)
  and when none did (``render_idle_ms``), and the size of the text;
- HTTP: the same registry behind its ``/metrics`` listener, fetched with urllib;
- publish: what the replica mixin adds to each message a replica handles (the snapshot key
  compared, unchanged; and a new snapshot built), in microseconds;
- ``--cluster``: a real one-broker cluster with ``--partitions`` partitions, its broker's
  ``/metrics`` scraped over HTTP.

Prints a table and writes JSON.  No figure here is asserted by a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import types
import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client import generate_latest
from zafka.actors.metrics import ReplicaMetricsMixin
from zafka.metrics import GroupOffsetsSnapshot, NodeMetrics, ReplicaSnapshot

from zafka.launcher import Cluster

TOPICS = 10
GROUPS = 1


def loaded_metrics(partitions: int) -> NodeMetrics:
    """A broker's metrics as they look with ``partitions`` replicas hosted."""
    metrics = NodeMetrics("broker", 1, lambda: {"frames_sent": 1, "send_queue_depth": 0})
    per_topic = max(1, partitions // TOPICS)
    keys = [(f"topic-{t}", p) for t in range(TOPICS) for p in range(per_topic)][:partitions]
    for topic, partition in keys:
        metrics.replicas[(topic, partition)] = ReplicaSnapshot(
            topic=topic, partition=partition, role="leader" if partition % 3 == 0 else
            "follower", leader_epoch=3, replicas=3, isr=3, log_start_offset=0,
            log_end_offset=123_456, high_watermark=123_400, size_bytes=10_000_000, segments=4)
    metrics.groups = GroupOffsetsSnapshot(
        states=tuple((f"group-{g}", "Stable") for g in range(GROUPS)),
        committed=tuple((f"group-{g}", topic, partition, 123_000)
                        for g in range(GROUPS) for topic, partition in keys))
    for t in range(TOPICS):
        counters = metrics.topic(f"topic-{t}")
        counters.bytes_in.inc(1e6)
        counters.messages_in.inc(1e4)
    for request in ("produce", "fetch_consumer", "fetch_follower"):
        for latency in (0.001, 0.004, 0.02, 0.3):
            metrics.request_seconds.labels(request).observe(latency)
    return metrics


def median_ms(action: Any, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1000)
    return round(statistics.median(times), 3)


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return bytes(response.read())


def publish_cost_us(rounds: int = 20_000) -> dict[str, float]:
    """Microseconds per call of the replica mixin's publish, unchanged and changed."""
    metrics = NodeMetrics("broker", 1)
    log = types.SimpleNamespace(log_start_offset=0, log_end_offset=0, segments=[1, 2],
                                size_bytes=100)
    leader = types.SimpleNamespace(leader_epoch=1, isr=frozenset({1, 2, 3}),
                                   replicas=(1, 2, 3), high_watermark=0)
    replica = types.SimpleNamespace(
        runtime=types.SimpleNamespace(metrics=metrics), removed=False, leader=leader,
        follower=None, log=log, record=types.SimpleNamespace(topic="t", partition=0),
        _metrics_key=())
    publish = ReplicaMetricsMixin.publish_replica_metrics
    began = time.perf_counter()
    for _ in range(rounds):
        publish(replica)  # type: ignore[arg-type]
    unchanged = (time.perf_counter() - began) / rounds * 1e6
    began = time.perf_counter()
    for i in range(rounds):
        log.log_end_offset = i + 1
        publish(replica)  # type: ignore[arg-type]
    changed = (time.perf_counter() - began) / rounds * 1e6
    return {"publish_unchanged_us": round(unchanged, 3), "publish_changed_us": round(changed, 3)}


def in_process(partitions: int) -> dict[str, Any]:
    metrics = loaded_metrics(partitions)
    text = metrics.render()

    def render_changed() -> None:
        metrics.published()
        metrics.render()

    port = metrics.serve("127.0.0.1", 0)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        fetch(url)
        http_ms = median_ms(lambda: fetch(url), 30)
    finally:
        metrics.stop()
    return {"partitions": partitions, "render_changed_ms": median_ms(render_changed, 30),
        "render_idle_ms": median_ms(metrics.render, 30),
        "live_registry_ms": median_ms(lambda: generate_latest(metrics.registry), 30),
        "http_scrape_idle_ms": http_ms,
        "text_bytes": len(text), "samples": sum(1 for line in text.splitlines()
                                               if line and not line.startswith(b"#"))}


def real_cluster(partitions: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="zafka-metrics-bench-") as data, \
            Cluster(brokers=1, coordinators=1, data_dir=data) as cluster:
        from zafka.client import Admin

        with Admin(str(cluster.cluster_file_path)) as admin:
            admin.create_topic("wide", partitions=partitions, replication_factor=1)
        url = cluster.brokers[0].spec.metrics_url
        assert url is not None
        deadline = time.monotonic() + 300
        while fetch(url).count(b'zafka_log_segments{partition=') < partitions:
            if time.monotonic() > deadline:
                raise RuntimeError("the replicas did not all start within 300 s")
            time.sleep(1)
        text = fetch(url)
        return {"cluster_partitions": partitions,
                "cluster_http_scrape_ms": median_ms(lambda: fetch(url), 30),
                "cluster_text_bytes": len(text)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=1_000)
    parser.add_argument("--cluster", action="store_true",
                        help="also scrape a real one-broker cluster with that many partitions")
    parser.add_argument("--json", default="metrics_bench.json", help="where to write results")
    args = parser.parse_args()
    results: dict[str, Any] = {**in_process(args.partitions), **publish_cost_us()}
    if args.cluster:
        results.update(real_cluster(args.partitions))
    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key:<{width}}  {value}")
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
