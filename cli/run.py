"""The launcher's commands: ``run`` (the default: a whole cluster in the foreground),
``status``, ``add-broker`` and ``node``.

Owns: turning these commands' arguments into ``Cluster`` calls and node processes, and
their printed output.

Must never: be imported by a layer below ``cli``.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import json
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zafka.cli.common import format_table, print_json
from zafka.cli.web_console import Console
from zafka.core.errors import ZafkaError
from zafka.core.messages import (
    DescribeTopicsRequest,
    NodeRole,
    RaftRole,
    StatusReply,
    StatusRequest,
)
from zafka.transport.cluster_file import (
    ADMIN_PATH,
    NODE_FILE_NAME,
    ClusterFile,
    NodeSpec,
    client_bind_url,
    resolve_path,
)
from zafka.transport.remote import Postbox, RemoteRef

from zafka.launcher import Cluster, ClusterError, add_broker_to_file, free_ports


def plain(value: Any) -> Any:
    """A status record as JSON-ready values (enums by their value)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


@dataclasses.dataclass
class NodeRow:
    """One node of the cluster file as ``status`` reports it."""

    spec: NodeSpec
    reply: StatusReply | None  # None: it did not answer

    @property
    def summary(self) -> str:
        """Its Raft role and term (coordinators), or serving/fenced and epoch (brokers)."""
        if self.reply is None:
            return ""
        if self.reply.coordinator is not None:
            return f"{self.reply.coordinator.raft_role.value} (term {self.reply.coordinator.term})"
        if self.reply.broker is not None:
            return ("serving" if self.reply.serving else "fenced") + \
                f" (epoch {self.reply.broker.broker_epoch})"
        return ""

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {"role": self.spec.role.value, "id": self.spec.node_id,
                               "address": self.spec.address,
                               "state": "down" if self.reply is None else "up",
                               "pid": self.reply.pid if self.reply else None,
                               "raft": self.summary, "metrics": self.spec.metrics_url}
        if self.reply is not None:
            row["details"] = plain(self.reply.coordinator or self.reply.broker)
            row["transport"] = dict(self.reply.transport)
        return row


def status_rows(config: ClusterFile, postbox: Postbox, timeout: float) -> list[NodeRow]:
    """One row per node of the cluster file: its status, or None if it did not answer."""
    futures = [(spec, RemoteRef(postbox, spec.address, "node").ask(StatusRequest(), timeout))
               for spec in config.nodes]
    rows = []
    for spec, future in futures:
        try:
            reply = future.result()
        except ZafkaError:
            reply = None
        rows.append(NodeRow(spec=spec, reply=reply if isinstance(reply, StatusReply) else None))
    return rows


def controller_of(rows: Sequence[NodeRow]) -> dict[str, Any] | None:
    """The coordinator that reports itself Raft leader with the highest term."""
    leaders = [(r, r.reply.coordinator) for r in rows
               if r.reply is not None and r.reply.coordinator is not None
               and r.reply.coordinator.raft_role is RaftRole.LEADER]
    if not leaders:
        return None
    row, best = max(leaders, key=lambda pair: pair[1].term)
    return {"id": row.spec.node_id, "address": row.spec.address, "term": best.term}


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
                      log_level=args.log_level, insecure=args.insecure, child_stderr=sys.stderr,
                      kafka_auth=args.kafka_auth, kafka_tls=args.kafka_tls)
    web: Console | None = None
    try:
        cluster.start()
        rows = status_rows(cluster.config, cluster.postbox, 2.0)
        print(format_table([r.to_json() for r in rows],
                           ["role", "id", "pid", "address", "state", "metrics"]))
        print(f"\nKafka bootstrap servers: {cluster.bootstrap_servers}\n"
              f"Kafka client settings: {json.dumps(cluster.kafka_config())}")
        print(f"\nzafka cluster ready in {time.monotonic() - began:.2f} s; "
              f"node file: {cluster.cluster_file_path}\n"
              f"applications use {cluster.client_file_path}, admin tools "
              f"{cluster.admin_file_path}")
        if getattr(args, "console", False):
            web = Console(str(cluster.cluster_file_path), host=args.host)
            print(f"web console: {web.login_url}")
        else:
            print(f"web console: zafka console --cluster {cluster.cluster_file_path}")
        print("Press Ctrl-C to stop.", flush=True)
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
        if web is not None:
            web.stop()
        cluster.stop()
    print("zafka cluster stopped.")
    return 0


def partition_health(config: ClusterFile, postbox: Postbox, rows: Sequence[NodeRow],
                     timeout: float) -> dict[str, int] | None:
    """Counts of partitions, offline ones (no leader) and under-replicated ones (ISR smaller
    than the replica set), from the metadata of a live broker; None if none answers."""
    for row in rows:
        if row.spec.role is not NodeRole.BROKER or row.reply is None:
            continue
        try:
            reply = RemoteRef(postbox, row.spec.address, "broker").ask(
                DescribeTopicsRequest(names=()), timeout).result()
        except ZafkaError:
            continue
        partitions = [p for t in reply.topics for p in t.partitions]
        return {"partitions": len(partitions),
                "offline": sum(1 for p in partitions if p.leader < 0),
                "under_replicated": sum(1 for p in partitions if len(p.isr) < len(p.replicas))}
    return None


def command_status(args: argparse.Namespace) -> int:
    config = ClusterFile.load(args.cluster, default=ADMIN_PATH)
    postbox = Postbox(client_bind_url(config), credentials=config.credentials).start()
    try:
        rows = status_rows(config, postbox, args.timeout)
        health = partition_health(config, postbox, rows, args.timeout)
    finally:
        postbox.stop()
    controller = controller_of(rows)
    if args.json:
        print_json({"cluster_id": config.cluster_id, "controller": controller,
                    "partitions": health, "nodes": [r.to_json() for r in rows]})
    else:
        print(format_table([r.to_json() for r in rows],
                           ["role", "id", "state", "pid", "address", "raft"]))
        print("\ncoordinator leader: " + (f"coordinator-{controller['id']} "
                                          f"(term {controller['term']})" if controller
                                          else "none (no quorum)"))
        if health is not None:
            print(f"partitions: {health['partitions']}, offline: {health['offline']}, "
                  f"under-replicated: {health['under_replicated']}")
    return 0 if all(r.reply is not None for r in rows) else 3


def command_add_broker(args: argparse.Namespace) -> int:
    """Add a broker to the all-in-one cluster running on this cluster file."""
    path = resolve_path(args.cluster, "data/" + NODE_FILE_NAME)
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
                if reply.serving:
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
    from zafka.actors.node import main as node_main

    if args.role == "coordinator" and args.advertise is None and args.port is None:
        raise ClusterError("a coordinator must be listed in the cluster file (membership is "
                           "fixed); run it with the --id the file gives it")
    join = args.join
    data_dir = Path(args.data_dir)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if Path(join).exists():
        config = ClusterFile.load(join)
    else:
        addresses = [a.strip() for a in join.split(",") if a.strip()]
        if not addresses or not all(a.startswith("tcp://") for a in addresses):
            raise ClusterError(f"--join takes a cluster file or tcp:// addresses, not {join!r}")
        keys = ClusterFile.load(args.credentials) if args.credentials else None
        config = ClusterFile(cluster_id="joined", credentials=keys.credentials if keys else None,
                             identities=keys.identities if keys else (), nodes=tuple(
            NodeSpec(role=NodeRole.COORDINATOR, node_id=i + 1, address=a)
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
    if args.kafka_port is not None:
        argv += ["--kafka-port", str(args.kafka_port)]
    if args.kafka_advertise:
        argv += ["--kafka-advertise", args.kafka_advertise]
    if args.bind_host or (args.advertise and args.host != "127.0.0.1"):
        argv += ["--bind-host", args.bind_host or args.host]
    print(f"zafka: {args.role}-{args.id} joining via {join}"
          + (f", reachable at {advertise}" if advertise else ""), flush=True)
    return node_main(argv)


def register(commands: Any) -> None:
    """Add the ``status``, ``add-broker`` and ``node`` sub-commands."""
    status = commands.add_parser("status", help="report every node of a cluster",
                                 description="Report every node of the cluster file.")
    status.add_argument("--cluster", default=None,
                        help="cluster file (default $ZAFKA_CLUSTER or ./data/admin.json)")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.add_argument("--timeout", type=float, default=2.0, help="seconds to wait per node")
    status.set_defaults(handler=command_status)
    add = commands.add_parser(
        "add-broker", help="add a broker to a running all-in-one cluster",
        description="Append a broker to the cluster file; the running 'python cluster.py' "
                    "launcher starts it. Waits until it serves.",
        epilog="example:\n  python cluster.py add-broker --cluster data/cluster.json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add.add_argument("--cluster", default=None,
                     help="the node file (default $ZAFKA_CLUSTER or ./data/cluster.json)")
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
    node.add_argument("--kafka-port", type=int, default=None,
                      help="brokers: port of the Kafka listener (default: any free port; "
                           "-1 = none)")
    node.add_argument("--kafka-advertise", default=None, metavar="HOST:PORT",
                      help="brokers: address Kafka clients are told to use (default: the "
                           "advertised host and the Kafka port)")
    node.add_argument("--data-dir", default="data-node", help="this node's data directory")
    node.add_argument("--log-level", default="INFO",
                      choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    node.set_defaults(handler=command_node)
