"""The wheel, installed beside a user's own ``core``, ``client``, ``storage`` and ``tests``
packages, runs a whole cluster, the tools, the client library and the chaos command.

Builds the wheel from a copy of the checkout, installs it into a fresh virtual environment
(its dependencies come from the package index) and works from a directory that holds the
user's own packages, so any import that escaped the ``zafka`` root would find theirs.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
USER_PACKAGES = ("core", "client", "tests", "storage")

PROGRAM = textwrap.dedent("""
    import core, client, storage, tests
    assert core.OWNER == client.OWNER == storage.OWNER == tests.OWNER == "the user"
    import zafka
    from zafka import Consumer, Producer, TopicPartition
    assert zafka.__file__.startswith({venv!r}), zafka.__file__
    cluster = {cluster!r}
    with Producer(cluster, acks="all") as producer:
        for i in range(20):
            producer.send("beside", b"v%d" % i, key=b"k").get(timeout=30)
    with Consumer(cluster=cluster, auto_offset_reset="earliest",
                  consumer_timeout_ms=5000) as consumer:
        consumer.assign([TopicPartition("beside", p) for p in range(2)])
        values = sorted(r.value for r in consumer)
    assert values == sorted(b"v%d" % i for i in range(20)), values
    print("produced and consumed", len(values))
""")


def copy_checkout(target: Path) -> Path:
    ignore = shutil.ignore_patterns(".git", ".venv*", "__pycache__", "*.egg-info", "build",
                                    "data", ".pytest_cache", ".mypy_cache", ".ruff_cache",
                                    ".hypothesis")
    return Path(shutil.copytree(ROOT, target, ignore=ignore))


def run(command: list[str], cwd: Path, timeout: float, **options: object) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True,
                            timeout=timeout, **options)  # type: ignore[call-overload]
    assert result.returncode == 0, f"{command}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return str(result.stdout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the fresh venv, the wheel) — built once for the module."""
    scratch = tmp_path_factory.mktemp("wheel")
    source = copy_checkout(scratch / "source")
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w",
         str(scratch / "dist"), str(source)], cwd=scratch, timeout=600)
    wheel = next((scratch / "dist").glob("zafka-*.whl"))
    venv = scratch / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=scratch, timeout=120)
    run([str(venv / "bin" / "pip"), "install", "--quiet", str(wheel)], cwd=scratch,
        timeout=900)
    return venv, wheel


def test_the_wheel_holds_only_the_zafka_package(installed: tuple[Path, Path]) -> None:
    _, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"zafka"}, sorted(tops)
    for layer in ("core", "storage", "transport", "actors", "client", "cli", "chaos"):
        assert f"zafka/{layer}/__init__.py" in names
    assert not any(n.startswith(("zafka/benchmarks", "zafka/tests", "benchmarks/", "tests/"))
                   for n in names)
    assert "zafka/launcher.py" in names


def test_an_install_runs_beside_the_users_own_packages(
        installed: tuple[Path, Path], tmp_path: Path) -> None:
    venv, _ = installed
    work = tmp_path / "project"
    for name in USER_PACKAGES:
        (work / name).mkdir(parents=True)
        (work / name / "__init__.py").write_text('OWNER = "the user"\n')
    bin_dir = venv / "bin"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ZAFKA_CLUSTER")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(work)  # the user's packages are importable everywhere
    data = work / "data"
    launcher = subprocess.Popen([str(bin_dir / "zafka"), "--brokers", "3", "--data-dir",
                                 str(data)], cwd=work, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert launcher.stdout is not None
        deadline = time.monotonic() + 60
        for line in launcher.stdout:
            if "cluster ready" in line:
                break
            assert time.monotonic() < deadline, "the cluster did not start"
        else:
            pytest.fail(f"the launcher ended: {launcher.stderr.read() if launcher.stderr else ''}")
        cluster = str(data / "cluster.json")
        run([str(bin_dir / "zafka"), "topics", "--create", "--topic", "beside", "--partitions",
             "2", "--replication-factor", "3", "--cluster", cluster], cwd=work, env=env,
            timeout=60)
        out = run([str(bin_dir / "python"), "-c",
                   PROGRAM.format(venv=str(venv), cluster=cluster)], cwd=work, env=env,
                  timeout=120)
        assert "produced and consumed 20" in out
    finally:
        os.killpg(launcher.pid, signal.SIGTERM)
        try:
            launcher.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
    chaos = run([str(bin_dir / "zafka"), "chaos", "--minutes", "0.5"], cwd=work, env=env,
                timeout=600)
    assert "acknowledged records: lost 0," in chaos and "violations: none" in chaos, chaos[-2000:]
