"""zafka's launcher and command line: ``python cluster.py --brokers 3`` and its sub-commands.

Owns: process orchestration — the ``Cluster`` API used by tests and users starts every node
as its own OS process, waits until each answers, writes the cluster file, kills, pauses,
restarts and partitions nodes, and stops them all — and the command line built on it.

Run ``python cluster.py --help`` for the commands.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

import cli.chaos
import cli.console
import cli.perf
import cli.reassign
import cli.topics
from cli.common import format_table, print_json
from core.errors import ZafkaError
from core.messages import (
    DescribeTopicsRequest,
    FaultRule,
    SetFaults,
    StatusReply,
    StatusRequest,
)
from transport.auth import Credentials
from transport.cluster_file import ClusterFile, NodeSpec, client_bind_url, resolve_path
from transport.remote import Postbox, RemoteRef

ROOT = Path(__file__).resolve().parent
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class ClusterError(Exception):
    """A cluster could not be started, reached or controlled."""


def check_coordinator_count(count: int) -> None:
    """Refuse a coordinator count that cannot form a proper majority quorum."""
    if count < 1 or count % 2 == 0:
        raise ClusterError(
            f"--coordinators must be an odd number (1, 3, 5, ...), not {count}: the "
            "coordinators decide by majority, and a quorum of 2f+1 members survives f failures. "
            f"{count} members would tolerate no more failures than {max(count - 1, 1)} "
            "while making a majority harder to reach, and an even split could leave no majority."
        )


def free_ports(host: str, count: int) -> list[int]:
    """``count`` distinct ports the OS reports free on ``host`` right now."""
    sockets, ports = [], []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
            ports.append(sock.getsockname()[1])
    finally:
        for sock in sockets:
            sock.close()
    return ports


class NodeProcess:
    """A node of the cluster as this launcher sees it: its spec and its OS process."""

    def __init__(self, spec: NodeSpec) -> None:
        self.spec = spec
        self.process: subprocess.Popen[bytes] | None = None
        self.expected_exit = False

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __repr__(self) -> str:
        return f"<{self.name} pid={self.pid} {self.spec.address}>"


class Cluster:
    """A zafka cluster of coordinator and broker processes on this machine.

    ``with Cluster(brokers=3, data_dir=tmp) as cluster: ...`` starts it and stops every
    process on exit, even when the body fails.  Started again on the same ``data_dir`` it
    brings back the same cluster (node ids, addresses, credentials and data).
    """

    def __init__(self, brokers: int = 3, coordinators: int = 3, data_dir: str | Path = "data",
                 *, host: str = "127.0.0.1", port: int | None = None,
                 log_level: str = "WARNING", insecure: bool = False,
                 tunables: dict[str, Any] | None = None, child_stderr: TextIO | None = None,
                 ) -> None:
        check_coordinator_count(coordinators)
        if brokers < 1:
            raise ClusterError(f"--brokers must be at least 1, not {brokers}")
        self.data_dir = Path(data_dir).resolve()
        self.cluster_file_path = self.data_dir / "cluster.json"
        self.log_level = log_level
        self.child_stderr = child_stderr
        self.config = self._load_or_create(brokers, coordinators, host, port, insecure,
                                           tunables or {})
        self.nodes = [NodeProcess(spec) for spec in self.config.nodes]
        self._postbox: Postbox | None = None

    # --- configuration ------------------------------------------------------------------

    def _load_or_create(self, brokers: int, coordinators: int, host: str, port: int | None,
                        insecure: bool, tunables: dict[str, Any]) -> ClusterFile:
        if self.cluster_file_path.exists():
            existing = ClusterFile.load(self.cluster_file_path)
            if tunables and tunables != existing.tunables:
                existing = ClusterFile(cluster_id=existing.cluster_id,
                                       credentials=existing.credentials,
                                       nodes=existing.nodes, tunables=tunables)
            return existing
        count = brokers + coordinators
        ports = list(range(port, port + count)) if port else free_ports(host, count)
        nodes = [NodeSpec(role="coordinator", node_id=i + 1, address=f"tcp://{host}:{ports[i]}")
                 for i in range(coordinators)]
        nodes += [NodeSpec(role="broker", node_id=i + 1,
                           address=f"tcp://{host}:{ports[coordinators + i]}")
                  for i in range(brokers)]
        return ClusterFile(cluster_id=secrets.token_hex(8),
                           credentials=None if insecure else Credentials.generate(),
                           nodes=tuple(nodes), tunables=tunables)

    def node(self, name: str) -> NodeProcess:
        """The node called ``name`` ("broker-1", "coordinator-2")."""
        for node in self.nodes:
            if node.name == name:
                return node
        raise ClusterError(f"no node {name!r}; nodes are {[n.name for n in self.nodes]}")

    @property
    def brokers(self) -> list[NodeProcess]:
        return [n for n in self.nodes if n.spec.role == "broker"]

    @property
    def coordinators(self) -> list[NodeProcess]:
        return [n for n in self.nodes if n.spec.role == "coordinator"]

    # --- life cycle ---------------------------------------------------------------------

    def __enter__(self) -> Cluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def postbox(self) -> Postbox:
        if self._postbox is None:
            self._postbox = Postbox(client_bind_url(self.config),
                                    credentials=self.config.credentials).start()
        return self._postbox

    def start(self, timeout: float = READY_TIMEOUT_S) -> Cluster:
        """Write the cluster file, start every node, and wait until each answers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config.save(self.cluster_file_path)
        for node in self.nodes:
            if not node.running():
                self._spawn(node)
        self.wait_ready([n.name for n in self.nodes], timeout)
        self.wait_serving(timeout)
        return self

    def wait_serving(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Wait until every running broker is registered and unfenced by the controller."""
        deadline = time.monotonic() + timeout
        for node in self.brokers:
            while node.running():
                try:
                    if not self.status_of(node, timeout=1.0).details.get("fenced", True):
                        break
                except ZafkaError:
                    pass
                if time.monotonic() > deadline:
                    raise ClusterError(f"{node.name} was not serving within {timeout} s")
                time.sleep(0.02)

    def _spawn(self, node: NodeProcess) -> None:
        command = [sys.executable, "-m", "actors.node", "--role", node.spec.role,
                   "--id", str(node.spec.node_id), "--cluster-file",
                   str(self.cluster_file_path), "--data-dir", str(self.data_dir),
                   "--log-level", self.log_level, "--parent-pid", str(os.getpid())]
        stderr: Any = self.child_stderr
        if stderr is None:
            (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
            stderr = open(self.data_dir / "logs" / f"{node.name}.stderr", "ab")  # noqa: SIM115
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
        node.process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=stderr, env=env,
                                        start_new_session=True)
        node.expected_exit = False
        if stderr is not self.child_stderr:
            stderr.close()

    def wait_ready(self, names: Iterable[str], timeout: float = READY_TIMEOUT_S) -> None:
        """Wait until each named node answers a status request."""
        deadline = time.monotonic() + timeout
        for name in names:
            node = self.node(name)
            while True:
                if node.process is not None and node.process.poll() is not None:
                    raise ClusterError(f"{name} exited with status {node.process.returncode} "
                                       f"during start-up; see {self.data_dir}/logs/{name}.log")
                try:
                    self.status_of(node, timeout=0.5)
                    break
                except ZafkaError:  # not listening yet, or its main actor not yet registered
                    time.sleep(0.05)
                    if time.monotonic() > deadline:
                        raise ClusterError(f"{name} did not answer within {timeout} s") from None

    def stop(self) -> None:
        """Stop every node (SIGTERM, then SIGKILL after a grace period)."""
        for node in self.nodes:
            if node.running():
                node.expected_exit = True
                assert node.process is not None
                os.kill(node.process.pid, signal.SIGCONT)
                node.process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for node in self.nodes:
            if node.process is None:
                continue
            try:
                node.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait()
        if self._postbox is not None:
            self._postbox.stop()
            self._postbox = None

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to a node (SIGKILL by default) and, for fatal signals, reap it."""
        node = self.node(name)
        if not node.running():
            raise ClusterError(f"{name} is not running")
        assert node.process is not None
        node.expected_exit = sig not in (signal.SIGSTOP, signal.SIGCONT)
        os.kill(node.process.pid, sig)
        if sig == signal.SIGKILL:
            node.process.wait()

    def pause(self, name: str) -> None:
        self.kill(name, signal.SIGSTOP)

    def resume(self, name: str) -> None:
        self.kill(name, signal.SIGCONT)

    def restart(self, name: str, timeout: float = READY_TIMEOUT_S) -> None:
        """Start a stopped or killed node again (killing it first if it still runs)."""
        node = self.node(name)
        if node.running():
            self.kill(name)
        self._spawn(node)
        self.wait_ready([name], timeout)
        if node.spec.role == "broker":
            self.wait_serving(timeout)

    def add_broker(self, timeout: float = READY_TIMEOUT_S) -> NodeProcess:
        """Add one more broker to the cluster file, start it and wait until it serves."""
        self.config = add_broker_to_file(self.cluster_file_path)
        node = self.adopt_new_nodes()[0]
        self.wait_ready([node.name], timeout)
        self.wait_serving(timeout)
        return node

    def adopt_new_nodes(self) -> list[NodeProcess]:
        """Start the nodes that the cluster file lists and this launcher does not run yet
        (``add-broker`` from another shell appends them)."""
        try:
            config = ClusterFile.load(self.cluster_file_path)
        except (OSError, ValueError):
            return []
        known = {n.name for n in self.nodes}
        added = [NodeProcess(spec) for spec in config.nodes if spec.name not in known]
        self.config = config
        for node in added:
            self.nodes.append(node)
            self._spawn(node)
        return added

    # --- talking to nodes ---------------------------------------------------------------

    def ref(self, name: str, actor: str = "node") -> RemoteRef:
        """A reference to ``actor`` on the node called ``name``."""
        return RemoteRef(self.postbox, self.node(name).spec.address, actor)

    def status_of(self, node: NodeProcess, timeout: float = 2.0) -> StatusReply:
        reply = self.ref(node.name).ask(StatusRequest(), timeout).result()
        assert isinstance(reply, StatusReply)
        return reply

    def coordinator_leader(self, timeout: float = 1.0) -> tuple[str, int] | None:
        """(name, term) of the coordinator that is Raft leader now, if one answers as such."""
        best: tuple[str, int] | None = None
        for node in self.coordinators:
            if not node.running():
                continue
            try:
                details = self.status_of(node, timeout).details
            except ZafkaError:
                continue
            if details["raft_role"] == "leader" and (best is None or details["term"] > best[1]):
                best = (node.name, details["term"])
        return best

    def wait_for_coordinator_leader(self, timeout: float = 10.0,
                                    exclude: str | None = None) -> tuple[str, int]:
        """Wait until a coordinator (not ``exclude``) is leader; (name, term)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            leader = self.coordinator_leader()
            if leader is not None and leader[0] != exclude:
                return leader
            time.sleep(0.05)
        raise ClusterError(f"no coordinator leader within {timeout} s")

    def set_faults(self, name: str, rules: Sequence[FaultRule]) -> None:
        self.ref(name).ask(SetFaults(rules=tuple(rules)), 5).result()

    def partition(self, side_a: Sequence[str], side_b: Sequence[str]) -> None:
        """Cut all traffic between the nodes of ``side_a`` and those of ``side_b``."""
        addresses = {n: self.node(n).spec.address for n in (*side_a, *side_b)}
        for mine, theirs in ((side_a, side_b), (side_b, side_a)):
            rule = FaultRule(kind="drop", dest_addresses=tuple(addresses[n] for n in theirs))
            for name in mine:
                self.set_faults(name, [rule])

    def heal(self) -> None:
        """Remove every fault rule from every running node."""
        for node in self.nodes:
            if node.running():
                self.set_faults(node.name, [])


def add_broker_to_file(path: Path) -> ClusterFile:
    """Append a broker (next id, a free port on the cluster's host) to the cluster file."""
    config = ClusterFile.load(path)
    host = config.nodes[0].address.removeprefix("tcp://").rsplit(":", 1)[0]
    broker_id = max((b.node_id for b in config.brokers), default=0) + 1
    spec = NodeSpec(role="broker", node_id=broker_id,
                    address=f"tcp://{host}:{free_ports(host, 1)[0]}")
    config = config.with_nodes((*config.nodes, spec))
    config.save(path)
    return config


# =====================================================================================
# Command line
# =====================================================================================


def status_rows(config: ClusterFile, postbox: Postbox, timeout: float) -> list[dict[str, Any]]:
    """One row per node of the cluster file: up or down, pid, details."""
    futures = [(spec, RemoteRef(postbox, spec.address, "node").ask(StatusRequest(), timeout))
               for spec in config.nodes]
    rows = []
    for spec, future in futures:
        row: dict[str, Any] = {"role": spec.role, "id": spec.node_id, "address": spec.address,
                               "state": "down", "pid": None}
        try:
            reply = future.result()
            row.update(state="up", pid=reply.pid, details=reply.details)
        except ZafkaError:
            pass
        details = row.get("details", {})
        if spec.role == "coordinator" and details:
            row["raft"] = f"{details['raft_role']} (term {details['term']})"
        elif spec.role == "broker" and details:
            row["raft"] = ("fenced" if details.get("fenced") else "serving") + \
                f" (epoch {details.get('broker_epoch')})"
        rows.append(row)
    return rows


def controller_of(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The coordinator that reports itself Raft leader with the highest term."""
    leaders = [r for r in rows if r["role"] == "coordinator" and r.get("details", {})
               .get("raft_role") == "leader"]
    if not leaders:
        return None
    best = max(leaders, key=lambda r: r["details"]["term"])
    return {"id": best["id"], "address": best["address"], "term": best["details"]["term"]}


def command_run(args: argparse.Namespace) -> int:
    """Start the cluster in the foreground until Ctrl-C / SIGTERM."""
    stopping = False

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    began = time.monotonic()
    cluster = Cluster(brokers=args.brokers, coordinators=args.coordinators,
                      data_dir=args.data_dir, host=args.host, port=args.port,
                      log_level=args.log_level, insecure=args.insecure, child_stderr=sys.stderr)
    try:
        cluster.start()
        rows = status_rows(cluster.config, cluster.postbox, 2.0)
        print(format_table(rows, ["role", "id", "pid", "address", "state"]))
        print(f"\nzafka cluster ready in {time.monotonic() - began:.2f} s; "
              f"cluster file: {cluster.cluster_file_path}\nPress Ctrl-C to stop.", flush=True)
        while not stopping:
            time.sleep(0.2)
            for added in cluster.adopt_new_nodes():
                print(f"zafka: started {added.name} at {added.spec.address} "
                      f"(pid {added.pid})", flush=True)
            for node in cluster.nodes:
                if not stopping and node.process is not None and not node.expected_exit \
                        and node.process.poll() is not None:
                    node.expected_exit = True
                    print(f"zafka: {node.name} (pid {node.pid}) exited unexpectedly with "
                          f"status {node.process.returncode}; see "
                          f"{cluster.data_dir}/logs/{node.name}.log", file=sys.stderr)
    except ClusterError as exc:
        print(f"zafka: {exc}", file=sys.stderr)
        return 1
    finally:
        cluster.stop()
    print("zafka cluster stopped.")
    return 0


def partition_health(config: ClusterFile, postbox: Postbox, rows: Sequence[dict[str, Any]],
                     timeout: float) -> dict[str, int] | None:
    """Counts of partitions, offline ones (no leader) and under-replicated ones (ISR smaller
    than the replica set), from the metadata of a live broker; None if none answers."""
    for row in rows:
        if row["role"] != "broker" or row["state"] != "up":
            continue
        try:
            reply = RemoteRef(postbox, row["address"], "broker").ask(
                DescribeTopicsRequest(names=()), timeout).result()
        except ZafkaError:
            continue
        partitions = [p for t in reply.topics for p in t.partitions]
        return {"partitions": len(partitions),
                "offline": sum(1 for p in partitions if p.leader < 0),
                "under_replicated": sum(1 for p in partitions if len(p.isr) < len(p.replicas))}
    return None


def command_status(args: argparse.Namespace) -> int:
    config = ClusterFile.load(args.cluster)
    postbox = Postbox(client_bind_url(config), credentials=config.credentials).start()
    try:
        rows = status_rows(config, postbox, args.timeout)
        health = partition_health(config, postbox, rows, args.timeout)
    finally:
        postbox.stop()
    controller = controller_of(rows)
    if args.json:
        print_json({"cluster_id": config.cluster_id, "controller": controller,
                    "partitions": health, "nodes": rows})
    else:
        print(format_table(rows, ["role", "id", "state", "pid", "address", "raft"]))
        print("\ncoordinator leader: " + (f"coordinator-{controller['id']} "
                                          f"(term {controller['term']})" if controller
                                          else "none (no quorum)"))
        if health is not None:
            print(f"partitions: {health['partitions']}, offline: {health['offline']}, "
                  f"under-replicated: {health['under_replicated']}")
    return 0 if all(r["state"] == "up" for r in rows) else 3


def command_add_broker(args: argparse.Namespace) -> int:
    """Add a broker to the all-in-one cluster running on this cluster file."""
    path = resolve_path(args.cluster)
    config = add_broker_to_file(path)
    spec = config.brokers[-1]
    print(f"Added {spec.name} at {spec.address} to {path}; waiting for the launcher to "
          "start it ...", flush=True)
    postbox = Postbox(client_bind_url(config), credentials=config.credentials).start()
    try:
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            try:
                reply = RemoteRef(postbox, spec.address, "node").ask(StatusRequest(), 1).result()
                if not reply.details.get("fenced", True):
                    print(f"{spec.name} is serving (pid {reply.pid}).")
                    return 0
            except ZafkaError:
                pass
            time.sleep(0.2)
    finally:
        postbox.stop()
    print(f"zafka: {spec.name} did not start within {args.timeout:.0f} s; is "
          f"'python cluster.py --data-dir {path.parent}' running?", file=sys.stderr)
    return 1


def command_node(args: argparse.Namespace) -> int:
    """Run one node in this process, joining an existing cluster."""
    from actors.node import main as node_main

    if args.role == "coordinator" and args.advertise is None and args.port is None:
        raise ClusterError("a coordinator must be listed in the cluster file (membership is "
                           "fixed); run it with the --id the file gives it")
    join = args.join
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    if Path(join).exists():
        config = ClusterFile.load(join)
    else:
        addresses = [a.strip() for a in join.split(",") if a.strip()]
        if not addresses or not all(a.startswith("tcp://") for a in addresses):
            raise ClusterError(f"--join takes a cluster file or tcp:// addresses, not {join!r}")
        creds = ClusterFile.load(args.credentials).credentials if args.credentials else None
        config = ClusterFile(cluster_id="joined", credentials=creds, nodes=tuple(
            NodeSpec(role="coordinator", node_id=i + 1, address=a)
            for i, a in enumerate(addresses)))
    local_file = data_dir / "cluster.json"
    if Path(join).resolve() != local_file.resolve():
        config.save(local_file)
    advertise = args.advertise or None
    if advertise is None and args.port is not None:
        advertise = f"tcp://{args.host}:{args.port}"
    if advertise is None and args.role == "broker":
        advertise = f"tcp://{args.host}:{free_ports(args.host, 1)[0]}"
    argv = ["--role", args.role, "--id", str(args.id), "--cluster-file", str(local_file),
            "--data-dir", str(data_dir), "--log-level", args.log_level]
    if advertise:
        argv += ["--advertise", advertise if advertise.startswith("tcp://")
                 else f"tcp://{advertise}"]
    if args.bind_host or (args.advertise and args.host != "127.0.0.1"):
        argv += ["--bind-host", args.bind_host or args.host]
    print(f"zafka: {args.role}-{args.id} joining via {join}"
          + (f", reachable at {advertise}" if advertise else ""), flush=True)
    return node_main(argv)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cluster.py",
        description="Run a zafka cluster, or drive one with a sub-command.",
        epilog="examples:\n  python cluster.py --brokers 3\n  python cluster.py status --json\n"
               "  python cluster.py topics --create --topic orders --partitions 3 "
               "--replication-factor 3\n  python cluster.py COMMAND --help",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--brokers", type=int, default=3, help="broker processes (default 3)")
    parser.add_argument("--coordinators", type=int, default=3,
                        help="coordinator processes, an odd number (default 3)")
    parser.add_argument("--data-dir", default="data", help="data directory (default ./data)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=None,
                        help="first port; nodes take consecutive ports (default: free ports)")
    parser.add_argument("--log-level", default="WARNING",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--insecure", action="store_true",
                        help="turn authentication off (benchmarks only; never in production)")
    parser.set_defaults(handler=command_run)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    status = commands.add_parser("status", help="report every node of a cluster",
                                 description="Report every node of the cluster file.")
    status.add_argument("--cluster", default=None,
                        help="cluster file (default $ZAFKA_CLUSTER or ./data/cluster.json)")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.add_argument("--timeout", type=float, default=2.0, help="seconds to wait per node")
    status.set_defaults(handler=command_status)
    cli.chaos.register(commands)
    cli.topics.register(commands)
    cli.console.register(commands)
    cli.perf.register(commands)
    add = commands.add_parser(
        "add-broker", help="add a broker to a running all-in-one cluster",
        description="Append a broker to the cluster file; the running 'python cluster.py' "
                    "launcher starts it. Waits until it serves.",
        epilog="example:\n  python cluster.py add-broker --cluster data/cluster.json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add.add_argument("--cluster", default=None, help="cluster file (default ./data/...)")
    add.add_argument("--timeout", type=float, default=30.0, help="seconds to wait")
    add.set_defaults(handler=command_add_broker)
    node = commands.add_parser(
        "node", help="run a single node that joins an existing cluster",
        description="Run one broker (or a coordinator listed in the cluster file) in the "
                    "foreground, on this machine or another, joining an existing cluster "
                    "with the credentials of its cluster file.",
        epilog="examples:\n  python cluster.py node --role broker --id 4 --join data/cluster.json"
               "\n  python cluster.py node --role broker --id 5 --join /etc/zafka/cluster.json"
               " --host 0.0.0.0 --port 9400 --advertise 10.0.0.5:9400",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    node.add_argument("--role", choices=["broker", "coordinator"], required=True)
    node.add_argument("--id", type=int, required=True, help="the node id (unique per role)")
    node.add_argument("--join", required=True, metavar="FILE-or-ADDRESSES",
                      help="a cluster file, or the coordinators' tcp:// addresses, comma "
                           "separated (then --credentials gives the keys)")
    node.add_argument("--credentials", default=None, metavar="FILE",
                      help="cluster file to take the credentials from (with addresses)")
    node.add_argument("--host", default="127.0.0.1", help="host to listen on")
    node.add_argument("--port", type=int, default=None, help="port to listen on")
    node.add_argument("--advertise", default=None, metavar="HOST:PORT",
                      help="address peers use to reach this node (default: --host:--port)")
    node.add_argument("--bind-host", default=None, help="interface to bind if not --host")
    node.add_argument("--data-dir", default="data-node", help="this node's data directory")
    node.add_argument("--log-level", default="INFO",
                      choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    node.set_defaults(handler=command_node)
    cli.reassign.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (ClusterError, FileNotFoundError) as exc:
        print(f"zafka: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
