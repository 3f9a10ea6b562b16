"""The pure parts behind /metrics and the console: record counts from batch headers, the
cached rendering, histogram differences, and a cluster file gaining ports and a token."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from zafka.console.metrics_view import Histogram, histogram, rate
from zafka.metrics import GroupOffsetsSnapshot, NodeMetrics, ReplicaSnapshot, count_messages
from zafka.storage.records import COMPRESSION_GZIP, Record, encode_batch
from zafka.transport.cluster_file import ClusterFile

from zafka.launcher import Cluster, with_observability


def records(count: int, **options: int) -> bytes:
    return encode_batch([Record(key=b"k", value=b"v" * i, timestamp_ms=1) for i in range(count)],
                        **options)


def snapshot(topic: str, partition: int, **changes: object) -> ReplicaSnapshot:
    base = ReplicaSnapshot(topic=topic, partition=partition, role="leader", leader_epoch=1,
                           replicas=3, isr=3, log_start_offset=0, log_end_offset=10,
                           high_watermark=10, size_bytes=1000, segments=1)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def families(metrics: NodeMetrics) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def test_messages_are_counted_from_the_batch_headers_of_every_codec() -> None:
    data = records(3) + records(5, compression=COMPRESSION_GZIP) + records(1)
    assert count_messages(data) == 9
    assert count_messages(memoryview(data)) == 9
    assert count_messages(b"") == 0
    assert count_messages(data[:-10]) == 8  # a torn last batch is not counted whole


def test_a_leader_with_a_short_isr_counts_as_under_replicated() -> None:
    assert snapshot("t", 0, isr=2).under_replicated
    assert not snapshot("t", 0, isr=2, role="follower").under_replicated
    assert not snapshot("t", 0).under_replicated


def test_the_partitions_rendering_follows_every_published_change() -> None:
    metrics = NodeMetrics("broker", 1)
    assert families(metrics)["zafka_under_replicated_partitions"] == [({}, 0.0)]
    metrics.replicas[("t", 0)] = snapshot("t", 0)
    metrics.published()
    assert families(metrics)["zafka_log_size_bytes"] == [({"topic": "t", "partition": "0"},
                                                          1000.0)]
    metrics.replicas[("t", 0)] = snapshot("t", 0, isr=1, size_bytes=2000, high_watermark=7)
    metrics.groups = GroupOffsetsSnapshot(states=(("g", "Stable"),),
                                          committed=(("g", "t", 0, 4), ("g", "t", 9, 1)))
    metrics.published()
    shown = families(metrics)
    assert shown["zafka_under_replicated_partitions"] == [({}, 1.0)]
    assert shown["zafka_log_size_bytes"][0][1] == 2000
    # lag where this broker knows the partition's high watermark, nothing where it does not
    assert shown["zafka_consumer_group_lag"] == [
        ({"group": "g", "topic": "t", "partition": "0"}, 3.0)]


def test_a_coordinator_shows_no_broker_families() -> None:
    names = set(families(NodeMetrics("coordinator", 1)))
    assert "zafka_under_replicated_partitions" not in names
    assert "zafka_topic_bytes_in_total" not in names
    assert "process_cpu_seconds_total" in names


def test_histogram_differences_give_a_window_mean_and_quantile() -> None:
    metrics = NodeMetrics("broker", 1)
    observe = metrics.request_seconds.labels("produce").observe
    for _ in range(10):
        observe(0.002)
    before = histogram(families(metrics), "zafka_request_duration_seconds", request="produce")
    for latency in [0.004] * 98 + [0.7, 0.7]:
        observe(latency)
    after = histogram(families(metrics), "zafka_request_duration_seconds", request="produce")
    window = after.since(before)
    assert window.count == 100
    assert window.mean() is not None and abs(window.mean() - 0.01792) < 1e-6  # type: ignore
    assert window.quantile(0.5) == 0.005 and window.quantile(0.99) == 1.0
    assert Histogram().quantile(0.99) is None and Histogram().mean() is None
    assert before.since(after) == before  # a restarted node: everything counts
    assert rate(10, 20, 2) == 5 and rate(20, 4, 2) == 2  # a counter reset counts from 0


def test_an_old_cluster_file_gains_metrics_ports_and_a_token(tmp_path: Path) -> None:
    cluster = Cluster(brokers=2, coordinators=1, data_dir=tmp_path)
    data = cluster.config.to_json()
    for node in data["nodes"]:
        node.pop("metrics_port")
    data.pop("console_token")
    (tmp_path / "cluster.json").write_text(json.dumps(data))
    old = ClusterFile.load(tmp_path / "cluster.json")
    assert all(n.metrics_port is None for n in old.nodes) and old.console_token is None
    upgraded = with_observability(old)
    ports = [n.metrics_port for n in upgraded.nodes]
    addresses = {int(n.address.rsplit(":", 1)[1]) for n in upgraded.nodes}
    assert None not in ports and len(set(ports)) == 3 and not addresses & set(ports)
    assert upgraded.console_token and len(upgraded.console_token) >= 24
    assert with_observability(upgraded) == upgraded  # nothing changes twice
    assert ClusterFile.from_json(upgraded.to_json()) == upgraded


def test_every_series_the_grafana_dashboard_uses_is_served() -> None:
    import re

    from zafka.metrics import CoordinatorSnapshot

    broker = NodeMetrics("broker", 1, lambda: {"frames_sent": 1})
    broker.replicas[("t", 0)] = snapshot("t", 0)
    broker.groups = GroupOffsetsSnapshot(committed=(("g", "t", 0, 1),))
    broker.topic("t")
    broker.published()
    coordinator = NodeMetrics("coordinator", 1, lambda: {})
    coordinator.coordinator = CoordinatorSnapshot(
        raft_role="leader", term=2, leader_id=1, commit_index=5, applied_index=5,
        active_controller=True, metadata_offset=5, topics=1, partitions=1,
        offline_partitions=0, brokers_fenced=0, brokers_unfenced=1)
    served = set(families(broker)) | set(families(coordinator))
    dashboard = json.loads((Path(__file__).parents[2] / "docs" / "grafana-dashboard.json")
                           .read_text())
    used = {name for panel in dashboard["panels"] for target in panel["targets"]
            for name in re.findall(r"\b(?:zafka|process)_[a-z_]+", target["expr"])}
    assert len(used) > 20
    assert used - served == set()
