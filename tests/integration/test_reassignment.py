"""Reassignment and decommission on real processes, under acks=all load: every acknowledged
record is read back exactly once and in order, and leaving replicas are stopped and deleted."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from zafka.cli.main import main
from zafka.client.admin import Admin
from zafka.core.errors import ErrorCode
from zafka.core.messages import CreateTopicsRequest, NewTopic

from tests.integration.wire import RawProducer, read_partition, wait_until
from zafka.launcher import Cluster

PARTITIONS = 3


@pytest.fixture
def four(cluster_factory) -> Cluster:  # type: ignore[no-untyped-def]
    return cluster_factory(brokers=4, coordinators=3)


@pytest.fixture
def admin(four: Cluster) -> Iterator[Admin]:
    with Admin(str(four.cluster_file_path)) as client:
        yield client


class Load:
    """A RawProducer (acks=all, idempotent) sending numbered batches in a background thread."""

    def __init__(self, cluster: Cluster, admin: Admin, topic: str) -> None:
        self.producer = RawProducer(cluster, admin, topic)
        self.acknowledged: dict[int, list[bytes]] = {p: [] for p in range(PARTITIONS)}
        self.errors: list[BaseException] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def run(self) -> None:
        n = 0
        try:
            while not self.stop.is_set():
                for partition in range(PARTITIONS):
                    values = [f"{partition}:{n}:{i}".encode() for i in range(5)]
                    self.producer.send(partition, values)
                    self.acknowledged[partition].extend(values)
                n += 1
        except BaseException as error:  # reported by finish()
            self.errors.append(error)

    def wait_for_more(self, count: int) -> None:
        target = len(self.acknowledged[0]) + count
        wait_until(lambda: len(self.acknowledged[0]) >= target or self.errors, timeout=30,
                   what=f"{count} more acknowledged records")
        assert not self.errors, self.errors

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive() and not self.errors, self.errors


def check_everything_read_back(cluster: Cluster, admin: Admin, topic: str, load: Load) -> None:
    for partition in range(PARTITIONS):
        read = read_partition(cluster, admin, topic, partition)
        offsets = [o for o, _ in read]
        assert offsets == list(range(len(offsets))), "no gaps"
        assert [v for _, v in read] == load.acknowledged[partition], \
            "every acknowledged record exactly once, in order"


def test_reassigning_every_partition_onto_new_brokers_under_load(
    four: Cluster, admin: Admin, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    created = admin._request(CreateTopicsRequest(topics=(NewTopic(
        name="moving", assignment=((1, 2, 3), (2, 3, 1), (3, 1, 2)),
        configs=(("min.insync.replicas", 2),)),)))
    assert created.results[0].error == ErrorCode.NONE
    load = Load(four, admin, "moving")
    load.wait_for_more(50)
    plan = {("moving", 0): (2, 3, 4), ("moving", 1): (3, 4, 2), ("moving", 2): (4, 2, 3)}
    started = time.monotonic()
    assert admin.alter_partition_reassignments(plan) == dict.fromkeys(plan)
    assert admin.wait_for_reassignments(plan, timeout_s=40) == {}
    moved_s = time.monotonic() - started
    with capsys.disabled():
        print(f"\n3 partitions moved onto new brokers in {moved_s:.2f} s under load")
    info = admin.describe_topic("moving")
    for p in info.partitions:
        assert p.replicas == plan[("moving", p.partition)], "replicas == target, in order"
        assert sorted(p.isr) == sorted(p.replicas) and p.leader in p.replicas
    load.wait_for_more(50)
    load.finish()
    check_everything_read_back(four, admin, "moving", load)
    wait_until(lambda: not any((Path(four.data_dir) / "broker-1" / "logs" / f"moving-{p}")
                               .exists() for p in range(PARTITIONS)),
               what="broker 1 deleting the logs it no longer hosts")
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps({"version": 1, "partitions": [
        {"topic": t, "partition": p, "replicas": list(r)} for (t, p), r in plan.items()]}))
    cluster_file = str(four.cluster_file_path)
    assert main(["reassign", "--verify", "--plan", str(plan_file), "--cluster", cluster_file,
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [row["state"] for row in report] == ["complete"] * PARTITIONS
    assert main(["elect-leaders", "--topic", "moving", "--cluster", cluster_file]) == 0
    wait_until(lambda: all(p.leader == p.replicas[0]
                           for p in admin.describe_topic("moving").partitions),
               what="preferred leaders")


def test_decommission_moves_every_replica_off_a_broker_under_load(
    four: Cluster, admin: Admin, capsys: pytest.CaptureFixture[str],
) -> None:
    admin.create_topic("drain", partitions=PARTITIONS, replication_factor=3,
                       config={"min.insync.replicas": 2})
    assert any(1 in p.replicas for p in admin.describe_topic("drain").partitions)
    load = Load(four, admin, "drain")
    load.wait_for_more(50)
    cluster_file = str(four.cluster_file_path)
    assert main(["decommission", "--broker", "1", "--wait-seconds", "40",
                 "--cluster", cluster_file]) == 0
    assert "Broker 1 holds no replicas and can be stopped." in capsys.readouterr().out
    assert all(1 not in p.replicas and sorted(p.isr) == sorted(p.replicas)
               for p in admin.describe_topic("drain").partitions)
    assert admin.hosted_replicas(1) == []
    four.kill("broker-1")
    wait_until(lambda: any(b["id"] == 1 and b["fenced"]
                           for b in admin.describe_cluster()["brokers"]),
               what="the stopped broker fenced")
    load.wait_for_more(50)
    load.finish()
    check_everything_read_back(four, admin, "drain", load)
    assert main(["decommission", "--broker", "2", "--cluster", cluster_file]) == 1
    assert "replication factor 3" in capsys.readouterr().err, \
        "with broker 1 gone and 2 leaving, RF 3 cannot be kept on the 2 brokers left"


def test_cli_generate_execute_verify_and_cancel_a_move_that_cannot_finish(
    four: Cluster, admin: Admin, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    four.kill("broker-4")  # registered but down: a replica placed there never catches up
    wait_until(lambda: any(b["id"] == 4 and b["fenced"]
                           for b in admin.describe_cluster()["brokers"]),
               what="the stopped broker fenced")
    admin.create_topic("stuck", partitions=2, replication_factor=2)
    before = admin.partition_assignments(["stuck"])
    cluster = ["--cluster", str(four.cluster_file_path)]
    assert main(["reassign", "--generate", "--topics", "stuck", "--brokers", "4", "--json",
                 *cluster]) == 1
    assert "replication factor 2" in capsys.readouterr().err
    assert main(["reassign", "--generate", "--topics", "stuck", "--brokers", "2,4", "--json",
                 *cluster]) == 0
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(capsys.readouterr().out)
    proposed = {(p["topic"], p["partition"]): tuple(p["replicas"])
                for p in json.loads(plan_file.read_text())["proposed"]["partitions"]}
    assert all(set(r) == {2, 4} for r in proposed.values())
    assert main(["reassign", "--execute", "--plan", str(plan_file), *cluster]) == 0
    assert "Successfully started partition reassignments for stuck-0,stuck-1" \
        in capsys.readouterr().out
    assert main(["reassign", "--verify", "--plan", str(plan_file), "--json", *cluster]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [row["state"] for row in report] == ["in progress"] * 2, report
    adding = sorted({2, 4} - set(before[("stuck", 0)]))
    assert f"adding {adding}" in report[0]["detail"], "broker 4 (down) never catches up"
    assert main(["reassign", "--cancel", "--plan", str(plan_file), *cluster]) == 0
    assert "cancelled partition reassignments for: stuck-0,stuck-1" in capsys.readouterr().out
    assert admin.list_partition_reassignments() == {}
    after = admin.partition_assignments(["stuck"])
    assert {k: set(r) for k, r in after.items()} == {k: set(r) for k, r in before.items()}
    assert main(["reassign", "--execute", "--plan", str(tmp_path / "missing.json"),
                 *cluster]) == 1
    assert capsys.readouterr().err.count("\n") == 1, "one line on stderr"
