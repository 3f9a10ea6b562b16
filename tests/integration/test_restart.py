"""Started again on the same data directory, the whole cluster comes back: node ids,
addresses, credentials, topics, configs, offsets, committed group offsets and records."""

from __future__ import annotations

import json
from pathlib import Path

from zafka.client import Admin, Consumer, Producer, TopicPartition

from tests.integration.wire import wait_until


def test_a_stopped_cluster_comes_back_with_all_its_data(cluster_factory,
                                                        tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = cluster_factory(brokers=3, data_dir=tmp_path)
    path = str(first.cluster_file_path)
    with Admin(path) as admin:
        admin.create_topic("kept", partitions=3, replication_factor=3,
                           config={"retention.ms": 86_400_000})
    with Producer(path) as producer:
        sent = [producer.send("kept", f"v{i}".encode(), partition=i % 3).get(timeout=30)
                for i in range(30)]
    with Consumer(cluster=path, group_id="keepers", enable_auto_commit=False) as consumer:
        consumer.assign([TopicPartition("kept", 0)])
        consumer.commit({TopicPartition("kept", 0): 4})
    before = json.loads((tmp_path / "cluster.json").read_text())
    first.stop()

    second = cluster_factory(brokers=3, data_dir=tmp_path)
    assert json.loads((tmp_path / "cluster.json").read_text()) == before
    with Admin(str(second.cluster_file_path)) as admin:
        assert admin.list_topics() == ["kept"]
        assert admin.describe_configs("kept")["retention.ms"] == "86400000"
        wait_until(lambda: [p.high_watermark for p in admin.describe_topic("kept").partitions]
                   == [10, 10, 10], what="every acknowledged record committed again")
    with Consumer(cluster=path, group_id="keepers", enable_auto_commit=False,
                  auto_offset_reset="earliest", consumer_timeout_ms=3000) as consumer:
        assert consumer.committed(TopicPartition("kept", 0)) == 4
        consumer.assign([TopicPartition("kept", p) for p in range(3)])
        consumer.seek_to_beginning()
        read = sorted((r.partition, r.offset, r.value) for r in consumer)
    assert read == sorted((m.partition, m.offset, f"v{i}".encode())
                          for i, m in enumerate(sent))
