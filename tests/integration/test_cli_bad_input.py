"""Bad input at the command line gets one clear line on stderr and changes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from zafka.cli.main import main
from zafka.client.admin import Admin

from zafka.launcher import Cluster

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with Cluster(brokers=3, data_dir=tmp_path_factory.mktemp("cli")) as cluster:
        yield cluster


def test_a_topic_of_zero_or_negative_partitions_is_refused(
        running: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    cluster = ["--cluster", str(running.cluster_file_path)]
    for count in ("0", "-3"):
        status = main(["topics", "--create", "--topic", "none", "--partitions", count,
                       "--replication-factor", "3", *cluster])
        err = capsys.readouterr().err
        assert status != 0
        assert err.startswith("zafka: InvalidPartitions: ") and err.count("\n") == 1, err
    with Admin(str(running.cluster_file_path)) as admin:
        assert "none" not in admin.list_topics()
    assert main(["topics", "--create", "--topic", "one", *cluster]) == 0
    with Admin(str(running.cluster_file_path)) as admin:
        assert len(admin.describe_topic("one").partitions) == 1  # Kafka's default of 1


@pytest.mark.parametrize(("content", "what"), [
    ('{"version": 1, "cluster_id": "x", "nod', "not JSON (Unterminated string"),
    ("[1, 2]", "is damaged"),
    ('{"version": 1, "nodes": []}', "missing 'cluster_id'"),
    ('{"version": 99, "cluster_id": "x", "nodes": []}', "unsupported cluster file version"),
    ('{"version": 1, "cluster_id": "x", "nodes": [{"colour": "red"}]}', "is damaged"),
])
def test_a_damaged_cluster_file_is_one_line_naming_the_file(
        tmp_path: Path, content: str, what: str) -> None:
    damaged = tmp_path / "cluster.json"
    damaged.write_text(content)
    for command in (["topics", "--list"], ["status"], ["produce", "--topic", "t"]):
        result = subprocess.run([sys.executable, "cluster.py", *command, "--cluster",
                                 str(damaged)], cwd=ROOT, capture_output=True, text=True,
                                input="", timeout=60)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
        assert str(damaged) in result.stderr and what in result.stderr, result.stderr
    assert damaged.read_text() == content
