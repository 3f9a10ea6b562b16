"""The cluster across hosts: every node in its own network namespace with its own IP address
(iproute2 ``ip netns`` + veth pairs into a bridge), joined with ``cluster.py node``.

Skipped, with the reason, where the machine does not allow network namespaces (not root,
no ``ip``, or a sandbox that refuses them).  Addresses are in 10.231.0.0/24, inside
namespaces this test creates and deletes.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from zafka.kafka.setup import create_kafka_auth
from zafka.transport.auth import Credentials
from zafka.transport.cluster_file import ClusterFile, NodeSpec

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.netns
SUBNET = "10.231.0"
PORT = 9500


def run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=30)


def namespaces_allowed() -> str | None:
    """None if namespaces work here, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 ('ip') is not installed"
    probe = f"zprobe{secrets.token_hex(3)}"
    try:
        run("ip", "netns", "add", probe)
        run("ip", "netns", "del", probe)
    except (subprocess.CalledProcessError, OSError) as error:
        return f"this machine refuses 'ip netns add': {error}"
    return None


class Hosts:
    """A hub namespace with a bridge, and one namespace per host wired to it by veth."""

    def __init__(self) -> None:
        self.tag = secrets.token_hex(2)
        self.hub = f"zhub{self.tag}"
        self.hosts: dict[str, str] = {}  # name -> IP
        run("ip", "netns", "add", self.hub)
        self.exec_hub("ip", "link", "add", "br0", "type", "bridge")
        self.exec_hub("ip", "link", "set", "br0", "up")

    def exec_hub(self, *command: str) -> None:
        run("ip", "netns", "exec", self.hub, *command)

    def add(self, name: str, index: int) -> str:
        namespace, ip = f"z{name}{self.tag}", f"{SUBNET}.{10 + index}"
        outer, inner = f"zv{index}{self.tag}", f"zp{index}{self.tag}"
        run("ip", "netns", "add", namespace)
        run("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
        run("ip", "link", "set", outer, "netns", self.hub)
        run("ip", "link", "set", inner, "netns", namespace)
        self.exec_hub("ip", "link", "set", outer, "master", "br0")
        self.exec_hub("ip", "link", "set", outer, "up")
        for command in (("ip", "addr", "add", f"{ip}/24", "dev", inner),
                        ("ip", "link", "set", inner, "up"), ("ip", "link", "set", "lo", "up")):
            run("ip", "netns", "exec", namespace, *command)
        self.hosts[name] = namespace
        return ip

    def popen(self, name: str, command: list[str], log: Path) -> subprocess.Popen[bytes]:
        handle = open(log, "wb")  # noqa: SIM115 - closed with the process
        return subprocess.Popen(["ip", "netns", "exec", self.hosts[name], *command], cwd=ROOT,
                                stdout=handle, stderr=subprocess.STDOUT)

    def delete(self) -> None:
        for namespace in (*self.hosts.values(), self.hub):
            for pid in subprocess.run(["ip", "netns", "pids", namespace], capture_output=True,
                                      text=True).stdout.split():
                subprocess.run(["kill", "-9", pid], capture_output=True)
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    reason = namespaces_allowed()
    if reason:
        pytest.skip(reason)
    made = Hosts()
    try:
        yield made
    finally:
        made.delete()


CLIENT = textwrap.dedent("""
    import json, sys, time
    from zafka.client import Admin, Consumer, Producer, TopicPartition
    cluster = {cluster!r}
    with Admin(cluster, request_timeout_ms=60000) as admin:
        deadline = time.monotonic() + 60
        while sum(not b["fenced"] for b in admin.describe_cluster()["brokers"]) < 3:
            assert time.monotonic() < deadline, "brokers did not join"
            time.sleep(0.2)
        admin.create_topic("across", partitions=3, replication_factor=3)
        info = admin.describe_topic("across")
    with Producer(cluster, acks="all") as producer:
        sent = [producer.send("across", f"r{{i}}".encode(), partition=i % 3).get(timeout=30)
                for i in range(60)]
    with Consumer(cluster=cluster, auto_offset_reset="earliest",
                  consumer_timeout_ms=5000) as consumer:
        consumer.assign([TopicPartition("across", p) for p in range(3)])
        values = sorted(r.value.decode() for r in consumer)
    print(json.dumps({{"acked": len(sent), "read": values,
                      "leaders": [p.leader for p in info.partitions]}}))
""")


def test_a_cluster_spread_over_network_namespaces_works_end_to_end(hosts: Hosts,
                                                                   tmp_path: Path) -> None:
    roles = [("coordinator", 1), ("coordinator", 2), ("coordinator", 3),
             ("broker", 1), ("broker", 2), ("broker", 3)]
    ips = {f"{r}-{i}": hosts.add(f"{r[0]}{i}", n) for n, (r, i) in enumerate(roles)}
    client_ip = hosts.add("client", len(roles))
    # Brokers listen off loopback, so their Kafka listeners need SASL (and get TLS here).
    kafka_auth = create_kafka_auth(tmp_path, sorted(ips.values()), "scram", use_tls=True)
    config = ClusterFile(cluster_id="netns", credentials=Credentials.generate(), nodes=tuple(
        NodeSpec(role=r, node_id=i, address=f"tcp://{ips[f'{r}-{i}']}:{PORT}")
        for r, i in roles if r == "coordinator"), kafka_auth=kafka_auth)
    cluster_file = tmp_path / "cluster.json"
    config.save(cluster_file)
    for role, node_id in roles:
        name = f"{role}-{node_id}"
        hosts.popen(f"{role[0]}{node_id}", [
            sys.executable, "cluster.py", "node", "--role", role, "--id", str(node_id),
            "--join", str(cluster_file), "--host", ips[name], "--port", str(PORT),
            "--data-dir", str(tmp_path / name)], tmp_path / f"{name}.out")
    with_brokers = ClusterFile(cluster_id="netns", credentials=config.credentials,
                               kafka_auth=kafka_auth, nodes=(
        *config.nodes, *(NodeSpec(role="broker", node_id=i, address=f"tcp://{ips[f'broker-{i}']}"
                                  f":{PORT}") for i in (1, 2, 3))))
    client_file = tmp_path / "client.json"
    with_brokers.save(client_file)
    script = CLIENT.format(cluster=str(client_file))
    result = subprocess.run(["ip", "netns", "exec", hosts.hosts["client"], sys.executable,
                             "-c", script], cwd=ROOT, capture_output=True, text=True,
                            timeout=180)
    logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in tmp_path.glob("*.out"))
    assert result.returncode == 0, result.stderr[-3000:] + logs
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["acked"] == 60
    assert report["read"] == sorted(f"r{i}" for i in range(60))
    assert sorted(report["leaders"]) == [1, 2, 3]
    assert client_ip.startswith(SUBNET)
