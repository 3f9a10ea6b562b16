"""Every node of a real cluster serves Prometheus metrics that follow what happens.

Scraped over HTTP from each node's ``/metrics`` and parsed with ``prometheus_client``'s own
parser: the families exist on the roles they belong to, the counters move as records are
produced and consumed, and killing a broker raises the under-replicated partitions of the
others until it is back.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families
from zafka.client.admin import Admin
from zafka.client.consumer import Consumer
from zafka.client.producer import Producer

from tests.integration.wire import wait_until
from zafka.launcher import Cluster

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
RECORDS = 50


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    from tests.conftest import FAST_TUNABLES

    with Cluster(brokers=3, coordinators=1, tunables=dict(FAST_TUNABLES),
                 data_dir=tmp_path_factory.mktemp("metrics")) as running:
        with Admin(str(running.cluster_file_path)) as admin:
            admin.create_topic("metered", partitions=3, replication_factor=3)
        wait_until(lambda: count(running, "zafka_log_segments", topic="metered") == 9,
                   what="every replica of the topic started and published")
        yield running


def scrape(url: str) -> Samples:
    """Every sample of ``url``, by (name, sorted labels), through the library's parser."""
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def matching(cluster: Cluster, name: str, role: str, labels: dict[str, str]) -> list[float]:
    """The values of ``name`` on the running nodes of ``role``, samples matching ``labels``."""
    found = []
    for node in cluster.nodes:
        if node.spec.role != role or not node.running():
            continue
        assert node.spec.metrics_url is not None
        for (sample, sample_labels), value in scrape(node.spec.metrics_url).items():
            if sample == name and labels.items() <= dict(sample_labels).items():
                found.append(value)
    return found


def total(cluster: Cluster, name: str, role: str = "broker", **labels: str) -> float:
    return sum(matching(cluster, name, role, labels))


def count(cluster: Cluster, name: str, role: str = "broker", **labels: str) -> int:
    return len(matching(cluster, name, role, labels))


def test_other_paths_and_methods_are_refused(cluster: Cluster) -> None:
    url = cluster.brokers[0].spec.metrics_url
    assert url is not None
    for path, method, status in (("/nowhere", "GET", 404), ("/metrics", "POST", 405)):
        request = urllib.request.Request(url.removesuffix("/metrics") + path, method=method,
                                         data=b"x" if method == "POST" else None)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == status


def test_every_node_serves_its_roles_metrics(cluster: Cluster) -> None:
    for node in cluster.nodes:
        assert node.spec.metrics_url is not None and "127.0.0.1" in node.spec.metrics_url
        samples = scrape(node.spec.metrics_url)
        names = {name for name, _ in samples}
        role = node.spec.role
        assert samples[("zafka_node_info", (("node_id", str(node.spec.node_id)),
                                            ("role", role)))] == 1
        assert {"process_cpu_seconds_total", "process_resident_memory_bytes",
                "zafka_transport_send_queue_depth", "zafka_transport_dropped_total",
                "zafka_auth_failures_total"} <= names
        if role == "coordinator":
            assert {"zafka_raft_current_term", "zafka_raft_commit_index",
                    "zafka_offline_partitions"} <= names
            assert "zafka_under_replicated_partitions" not in names
        else:
            assert {"zafka_under_replicated_partitions", "zafka_isr_shrinks_total",
                    "zafka_request_duration_seconds_bucket", "zafka_log_size_bytes",
                    "zafka_log_segments", "zafka_log_flush_duration_seconds_count",
                    "zafka_produce_replication_wait_seconds_count"} <= names
            assert "zafka_raft_current_term" not in names
    assert total(cluster, "zafka_active_controller", role="coordinator") == 1
    assert total(cluster, "zafka_raft_commit_index", role="coordinator") > 0
    wait_until(lambda: total(cluster, "zafka_leader_count") == 3, what="3 leaders")
    assert total(cluster, "zafka_partition_count", ) >= 9  # 3 x 3 replicas (+ offsets topic)


def test_counters_move_as_records_are_produced_and_consumed(cluster: Cluster) -> None:
    path = str(cluster.cluster_file_path)
    before = {name: total(cluster, name, topic="metered") for name in (
        "zafka_topic_messages_in_total", "zafka_topic_bytes_in_total",
        "zafka_topic_messages_out_total", "zafka_topic_bytes_out_total")}
    produces = total(cluster, "zafka_request_duration_seconds_count", request="produce")
    waits = total(cluster, "zafka_produce_replication_wait_seconds_count")
    with Producer(path) as producer:
        for i in range(RECORDS):
            producer.send("metered", b"v" * 100, key=str(i).encode()).result()
    assert total(cluster, "zafka_topic_messages_in_total", topic="metered") >= \
        before["zafka_topic_messages_in_total"] + RECORDS  # more if a batch was retried
    assert total(cluster, "zafka_topic_bytes_in_total", topic="metered") > \
        before["zafka_topic_bytes_in_total"] + RECORDS * 100
    assert total(cluster, "zafka_request_duration_seconds_count", request="produce") > produces
    assert total(cluster, "zafka_produce_replication_wait_seconds_count") > waits
    assert total(cluster, "zafka_log_size_bytes", topic="metered") > 3 * RECORDS * 100
    seen = 0
    with Consumer("metered", cluster=path, group_id="metered-readers",
                  auto_offset_reset="earliest", enable_auto_commit=False) as consumer:
        while seen < RECORDS:
            seen += len(consumer.poll(timeout_ms=1000))
        consumer.commit()
    assert total(cluster, "zafka_topic_messages_out_total", topic="metered") >= \
        before["zafka_topic_messages_out_total"] + RECORDS
    assert total(cluster, "zafka_topic_bytes_out_total", topic="metered") > \
        before["zafka_topic_bytes_out_total"] + RECORDS * 100
    assert total(cluster, "zafka_request_duration_seconds_count", request="fetch_consumer") > 0
    wait_until(lambda: count(cluster, "zafka_consumer_group_lag", group="metered-readers") == 3,
               what="the group's lag published for its 3 partitions")
    assert total(cluster, "zafka_consumer_group_lag", group="metered-readers") == 0


def test_killing_a_broker_raises_under_replicated_partitions_until_it_returns(
        cluster: Cluster) -> None:
    assert total(cluster, "zafka_under_replicated_partitions") == 0
    shrinks = total(cluster, "zafka_isr_shrinks_total")
    expands = total(cluster, "zafka_isr_expands_total")
    cluster.kill("broker-3")
    try:
        wait_until(lambda: total(cluster, "zafka_under_replicated_partitions") > 0,
                   what="under-replicated partitions on the brokers left")
        assert total(cluster, "zafka_isr_shrinks_total") > shrinks
        wait_until(lambda: total(cluster, "zafka_fenced_broker_count", role="coordinator") == 1,
                   what="the controller counting a fenced broker")
    finally:
        cluster.restart("broker-3")
    wait_until(lambda: total(cluster, "zafka_under_replicated_partitions") == 0,
               timeout=30, what="every ISR whole again")
    assert total(cluster, "zafka_isr_expands_total") > expands
    assert total(cluster, "zafka_offline_partitions", role="coordinator") == 0
