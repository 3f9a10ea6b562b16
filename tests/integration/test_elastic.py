"""Growing a live cluster: a broker added while producers write, replicas moved onto it,
brokers started on their own with ``cluster.py node``; nothing acknowledged is lost."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

from zafka.client.admin import Admin
from zafka.core.messages import StatusRequest

from tests.integration.wire import RawProducer, read_partition, wait_until

ROOT = Path(__file__).resolve().parents[2]


def test_grow_from_3_to_4_brokers_under_load_and_move_replicas_onto_the_new_one(
        cluster_factory) -> None:  # type: ignore[no-untyped-def]
    cluster = cluster_factory(brokers=3)
    admin = Admin(str(cluster.cluster_file_path))
    admin.create_topic("grow", partitions=2, replication_factor=3,
                       config={"min.insync.replicas": 2})
    producer = RawProducer(cluster, admin, "grow")
    acknowledged: dict[int, list[bytes]] = {0: [], 1: []}
    stop = threading.Event()

    def produce() -> None:
        n = 0
        while not stop.is_set():
            for partition in (0, 1):
                value = f"{partition}:{n}".encode()
                producer.send(partition, [value])
                acknowledged[partition].append(value)
            n += 1

    thread = threading.Thread(target=produce)
    thread.start()
    try:
        wait_until(lambda: len(acknowledged[0]) > 30, what="records before growing")
        added = cluster.add_broker()
        assert added.name == "broker-4"
        assert json.loads(cluster.cluster_file_path.read_text())["nodes"][-1]["node_id"] == 4
        targets = {("grow", 0): [4, 2, 3], ("grow", 1): [2, 4, 3]}
        assert all(e is None for e in admin.alter_partition_reassignments(targets).values())
        wait_until(lambda: not admin.list_partition_reassignments(), timeout=60,
                   what="the reassignment to finish")
        count = len(acknowledged[0])
        wait_until(lambda: len(acknowledged[0]) > count + 20, what="produce after the move")
    finally:
        stop.set()
        thread.join(timeout=60)
    info = admin.describe_topic("grow")
    assert [sorted(p.replicas) for p in info.partitions] == [[2, 3, 4], [2, 3, 4]]
    wait_until(lambda: all(sorted(p.isr) == [2, 3, 4]
                           for p in admin.describe_topic("grow").partitions),
               what="a full ISR on the new replicas")
    for partition in (0, 1):
        assert [v for _, v in read_partition(cluster, admin, "grow", partition)] == \
            acknowledged[partition], "every acknowledged record exactly once, in order"
    admin.close()


def test_add_broker_joins_a_running_all_in_one_cluster(tmp_path) -> None:  # type: ignore[no-untyped-def]
    launcher = subprocess.Popen(
        [sys.executable, "cluster.py", "--brokers", "3", "--data-dir", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert launcher.stdout is not None
        for line in launcher.stdout:
            if "ready in" in line:
                break
        result = subprocess.run([sys.executable, "cluster.py", "add-broker", "--cluster",
                                 str(tmp_path / "cluster.json")], cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "broker-4 is serving" in result.stdout
        with Admin(str(tmp_path / "cluster.json")) as admin:
            brokers = admin.describe_cluster()["brokers"]
            assert sorted(b["id"] for b in brokers if not b["fenced"]) == [1, 2, 3, 4]
    finally:
        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(timeout=30) == 0


def test_a_node_started_alone_joins_with_the_cluster_file(cluster_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cluster = cluster_factory(brokers=3)
    node = subprocess.Popen(
        [sys.executable, "cluster.py", "node", "--role", "broker", "--id", "7", "--join",
         str(cluster.cluster_file_path), "--data-dir", str(tmp_path / "b7")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with Admin(str(cluster.cluster_file_path)) as admin:
            wait_until(lambda: any(b["id"] == 7 and not b["fenced"]
                                   for b in admin.describe_cluster()["brokers"]),
                       what="broker 7 registered and unfenced")
            admin.create_topic("on-seven", partitions=1, replication_factor=4)
            RawProducer(cluster, admin, "on-seven").send(0, [b"hello"])
            wait_until(lambda: sorted(admin.describe_topic("on-seven").partitions[0].isr)
                       == [1, 2, 3, 7], what="broker 7 in the ISR")
    finally:
        node.send_signal(signal.SIGTERM)
        node.wait(timeout=30)
    assert node.returncode == 0
    assert cluster.ref("broker-1").ask(StatusRequest(), 5).result().role == "broker"
