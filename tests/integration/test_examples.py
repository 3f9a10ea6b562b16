"""Every program in examples/ runs against a real cluster and says what it should."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FAST_TUNABLES
from zafka.launcher import Cluster

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    data = tmp_path_factory.mktemp("examples")
    with Cluster(brokers=3, data_dir=data, tunables=dict(FAST_TUNABLES)) as cluster:
        yield dict(os.environ, ZAFKA_CLUSTER=str(cluster.cluster_file_path))


def run_example(name: str, env: dict[str, str]) -> str:
    result = subprocess.run([sys.executable, str(Path("examples") / name)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_quickstart(cluster_env: dict[str, str]) -> None:
    out = run_example("quickstart.py", cluster_env)
    assert out.count("sent order") == 4
    for user in ("alice", "bob", "carol", "dave"):
        assert f"read {user}: {{'order'" in out


def test_consumer_group(cluster_env: dict[str, str]) -> None:
    out = run_example("consumer_group.py", cluster_env)
    first = next(line for line in out.splitlines() if line.startswith("first round:"))
    second = next(line for line in out.splitlines() if line.startswith("second round:"))
    assert sum(int(n) for n in first.split("{")[1].rstrip("}").split(",")
               for n in [n.split(":")[1]]) == 600
    assert sum(int(n.split(":")[1]) for n in second.split("{")[1].rstrip("}").split(",")) \
        == 300, "after the leave, the others read exactly the new records"
    assert "consumer-2 left" in out


def test_python_objects(cluster_env: dict[str, str]) -> None:
    out = run_example("python_objects.py", cluster_env)
    assert "received Order(id=1, items=['book', 'pen'], total=12.5)" in out
    assert "prices it at 11.25" in out


def test_failover() -> None:
    out = run_example("failover.py", dict(os.environ))
    assert "writes resumed" in out
    assert "read back exactly once, in order" in out


def test_actors(cluster_env: dict[str, str]) -> None:
    out = run_example("actors.py", cluster_env)
    assert out.count("acknowledged at partition") == 3
    assert "replicas" in out
