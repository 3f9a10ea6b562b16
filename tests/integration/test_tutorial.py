"""The README's tutorial, run as written against a fresh cluster, output checked."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

STEPS = [
    ("topics --create --topic quickstart-events --partitions 3 --replication-factor 3",
     r"^Created topic quickstart-events\.$"),
    ("topics --list", r"^quickstart-events$"),
    ("topics --describe --topic quickstart-events",
     r"^Topic: quickstart-events\tTopicId: [0-9a-f-]{36}\tPartitionCount: 3\t"
     r"ReplicationFactor: 3\tConfigs: \n"
     + "".join(rf"\tTopic: quickstart-events\tPartition: {p}\tLeader: [123]\t"
               r"Replicas: \d,\d,\d\tIsr: \d,\d,\d\tLeaderEpoch: 0\tOffsets: 0\.\.0\n"
               for p in range(3)).rstrip("\\n") + "$"),
    ("topics --alter --topic quickstart-events --partitions 6",
     r"^Topic quickstart-events now has 6 partitions\.$"),
    ("topics --describe --topic quickstart-events", r"PartitionCount: 6\t"),
    ("configs --alter --topic quickstart-events --add-config retention.ms=60000",
     r"^Completed updating config for topic quickstart-events\.$"),
    ("configs --describe --topic quickstart-events",
     r"^Dynamic configs for topic quickstart-events are:\n  retention\.ms=60000$"),
    ("consume --topic quickstart-events --from-beginning --print-key --max-messages 2",
     r"^alice\thello\nbob\tworld$"),
]


def test_the_readme_tutorial_runs_as_written(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    assert "$ python cluster.py --brokers 3\n" in readme
    for command, _ in STEPS:
        assert f"$ python cluster.py {command}\n" in readme, f"README lost: {command}"
    produce = "produce --topic quickstart-events --key-separator :"
    assert f"| python cluster.py {produce}\n" in readme
    env = dict(os.environ, ZAFKA_CLUSTER=str(tmp_path / "cluster.json"))
    launcher = subprocess.Popen(
        [sys.executable, "cluster.py", "--brokers", "3", "--data-dir", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert launcher.stdout is not None
        table = []
        for line in launcher.stdout:
            if "ready in" in line:
                break
            table.append(line)
        assert sum("up" in line.split() for line in table) == 6, table
        for command, expected in STEPS[:-1]:
            check(command, expected, env)
        produced = subprocess.run([sys.executable, "cluster.py", *produce.split()],
                                  input="alice:hello\nbob:world\n", cwd=ROOT, env=env,
                                  capture_output=True, text=True, timeout=60)
        assert produced.returncode == 0, produced.stderr
        assert "2 records sent to quickstart-events." in produced.stderr
        check(*STEPS[-1], env, sort=True)
    finally:
        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(timeout=30) == 0


def check(command: str, expected: str, env: dict[str, str], sort: bool = False) -> None:
    result = subprocess.run([sys.executable, "cluster.py", *command.split()], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{command}: {result.stderr}"
    output = result.stdout.rstrip("\n")
    if sort:
        output = "\n".join(sorted(output.splitlines()))
    assert re.search(expected, output, re.MULTILINE), f"{command} printed:\n{output}"
