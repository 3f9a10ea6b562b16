"""The node entry point: ``python -m actors.node --role broker --id 1 --cluster-file F``.

Owns: one OS process's start-up and shutdown: the checks that its node file and data
directory are private (it creates everything 0700/0600 and refuses files others can write),
logging to ``<data-dir>/logs/<role>-<id>.log`` (rotated) and to stderr, the runtime, the
role's main actor, signal handling (SIGTERM/SIGINT stop cleanly), and a watchdog that ends
the node when the process that launched it is gone (so children never outlive a killed
launcher).

A node whose durable data cannot be read (``core.durable.DurableFormatError``: damage before
the tail of its Raft log, an unknown format version) logs one line naming the file and the
byte offset and exits with ``EXIT_DAMAGED_DATA``.

Must never: keep running after an actor failed (``actors.base`` exits the process).
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from zafka.core.config import Tunables
from zafka.core.durable import DurableFormatError
from zafka.transport.auth import Principals
from zafka.transport.cluster_file import ClusterFile, UnsafeFileError, check_private

log = logging.getLogger("zafka.node")

LOG_FORMAT = "%(asctime)s %(levelname)-7s [{node}] %(name)s: %(message)s"
LOG_FILE_BYTES_MAX = 10 * 1024 * 1024
LOG_FILES_KEPT = 5
EXIT_DAMAGED_DATA = 65
"""Exit status of a node whose durable data cannot be read (``EX_DATAERR``)."""


def setup_logging(data_dir: Path, node: str, level: str) -> None:
    """Log to a rotated file in ``<data_dir>/logs`` (everything) and stderr (``level``)."""
    log_dir = data_dir / "logs"
    log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    formatter = logging.Formatter(LOG_FORMAT.format(node=node))
    to_file = logging.handlers.RotatingFileHandler(
        log_dir / f"{node}.log", maxBytes=LOG_FILE_BYTES_MAX, backupCount=LOG_FILES_KEPT)
    to_file.setFormatter(formatter)
    to_file.setLevel(logging.DEBUG if level.upper() == "DEBUG" else logging.INFO)
    to_terminal = logging.StreamHandler(sys.stderr)
    to_terminal.setFormatter(formatter)
    to_terminal.setLevel(level.upper())
    root = logging.getLogger()
    root.handlers[:] = [to_file, to_terminal]
    root.setLevel(logging.DEBUG if level.upper() == "DEBUG" else logging.INFO)
    logging.getLogger("pykka").setLevel(logging.CRITICAL)  # actors.base logs failures

    def log_uncaught(*exc_info: Any) -> None:
        log.critical("uncaught exception; the node stops", exc_info=exc_info)

    sys.excepthook = log_uncaught
    threading.excepthook = lambda a: log_uncaught(a.exc_type, a.exc_value, a.exc_traceback)


def watch_parent(parent_pid: int, stop: threading.Event) -> None:
    """Set ``stop`` once the launcher is gone (we were re-parented)."""
    while not stop.wait(0.5):
        if os.getppid() != parent_pid:
            log.warning("launcher %d is gone; stopping", parent_pid)
            stop.set()


def start_main_actor(role: str, runtime: Any, data_dir: Path, cluster: ClusterFile,
                     kafka: Any = None) -> None:
    """Start the role's main actor and register it as ``node`` and as ``<role>``."""
    ref: Any
    if role == "broker":  # imported per role: a coordinator needs no Kafka codec
        from zafka.actors.broker import BrokerActor

        ref = BrokerActor.start(runtime, role, data_dir, cluster, kafka)
        wants_ticks = BrokerActor.wants_ticks
    else:
        from zafka.actors.coordinator import CoordinatorActor

        ref = CoordinatorActor.start(runtime, role, data_dir, cluster)
        wants_ticks = CoordinatorActor.wants_ticks
    runtime.register(role, ref, ticks=wants_ticks)
    runtime.register("node", ref)


def _metrics_port_in(cluster: ClusterFile, role: str, node_id: int) -> int | None:
    try:
        return cluster.node(role, node_id).metrics_port
    except KeyError:  # a node joining a cluster whose file does not list it
        return None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m actors.node",
                                     description="Run one zafka node (coordinator or broker).")
    parser.add_argument("--role", choices=["coordinator", "broker"], required=True)
    parser.add_argument("--id", type=int, required=True, dest="node_id")
    parser.add_argument("--cluster-file", required=True)
    parser.add_argument("--data-dir", required=True,
                        help="the cluster's data directory; this node uses <role>-<id>/ in it")
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--parent-pid", type=int, default=None,
                        help="stop when this process is no longer our parent")
    parser.add_argument("--bind-host", default=None,
                        help="interface to bind (default: the host of the advertised address)")
    parser.add_argument("--metrics-port", type=int, default=None,
                        help="port of the Prometheus /metrics listener (default: the cluster "
                             "file's; 0: any free port; -1: none)")
    parser.add_argument("--advertise", default=None, metavar="tcp://HOST:PORT",
                        help="the address peers reach this node at (a broker joining a "
                             "cluster whose file does not list it)")
    parser.add_argument("--kafka-port", type=int, default=None,
                        help="brokers: the Kafka listener's port (default: the cluster file's, "
                             "else any free port; -1 = no Kafka listener)")
    parser.add_argument("--kafka-advertise", default=None, metavar="HOST:PORT",
                        help="brokers: the address Kafka clients are told to reach this "
                             "broker at (default: the bind host and port)")
    parser.add_argument("--testing", action="store_true",
                        help="obey fault injection (SetFaults, Relay) from other nodes: test "
                             "clusters only, never in production")
    return parser.parse_args(argv)


def kafka_settings(args: argparse.Namespace, cluster: ClusterFile, bind_host: str,
                   host: str) -> Any:
    """The broker's Kafka listener settings from the flags and the cluster file."""
    from zafka.actors.kafka_listener import KafkaSettings
    from zafka.kafka.auth_config import KafkaAuth
    from zafka.kafka.tls import TlsFiles, is_loopback, server_context

    if args.role != "broker":
        return None
    try:
        recorded = cluster.node("broker", args.node_id).kafka_address
    except KeyError:
        recorded = ""
    port = args.kafka_port
    if port is None:
        port = int(recorded.rsplit(":", 1)[1]) if recorded else 0
    if port < 0:
        return None
    advertise = args.kafka_advertise or ""
    if not advertise and recorded and int(recorded.rsplit(":", 1)[1]) == port:
        advertise = recorded
    auth = KafkaAuth.from_dict(cluster.kafka_auth or {"mode": "none"})
    local = is_loopback(bind_host)
    if not auth.enabled and not local:
        why = ("the cluster was made with --kafka-auth none" if cluster.kafka_auth
               else "the cluster file has no kafka_auth section")
        raise SystemExit(f"zafka node: the Kafka listener would accept anyone on {bind_host} "
                         f"({why}); bind it to loopback, make the cluster with SASL, "
                         "or start the broker with --kafka-port -1")
    context = None
    if auth.tls:
        files = TlsFiles.under(Path(auth.ca_file).parent)
        if not files.exist():
            raise SystemExit(f"zafka node: TLS is on but {files.cert} or {files.key} is missing")
        context = server_context(files)
    elif not local:
        log.warning("the Kafka listener on %s is not encrypted: SASL passwords and records "
                    "cross the network in the clear (make the cluster with --kafka-tls)",
                    bind_host)
    return KafkaSettings(bind_host=bind_host, port=port, advertise=advertise,
                         advertise_host=host, users=auth.users if auth.enabled else None,
                         tls=context, super_users=auth.super_users())


def load_node_file(path: str, data_dir: Path) -> ClusterFile:
    """The node file, after checking that nobody else can write it or the data directory;
    ``SystemExit`` with one line naming the problem otherwise."""
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        check_private(data_dir)
        check_private(path)
        cluster = ClusterFile.load(path)
    except (UnsafeFileError, OSError, ValueError) as error:
        raise SystemExit(f"zafka node: {error}") from None
    if cluster.credentials is not None and not cluster.is_node_file:
        raise SystemExit(f"zafka node: {path} is a client file; a node needs the node file "
                         "(cluster.json, with the node credentials)")
    return cluster


def main(argv: list[str] | None = None) -> int:
    # kio (the Kafka codec) imports hypothesis for its test hooks when it is installed, and
    # with it pytest: seconds of CPU per node start on a busy machine.  A node never uses it.
    sys.modules.setdefault("hypothesis", None)  # type: ignore[arg-type]
    from zafka.actors.runtime import NodeRuntime

    args = parse_args(argv)
    os.umask(0o077)  # everything this node creates (logs, segments, checkpoints) is private
    node = f"{args.role}-{args.node_id}"
    data_dir = Path(args.data_dir)
    cluster = load_node_file(args.cluster_file, data_dir)
    setup_logging(data_dir, node, args.log_level)
    address = args.advertise or cluster.node(args.role, args.node_id).address
    host, port = address.removeprefix("tcp://").rsplit(":", 1)
    bind_host = args.bind_host or host
    tunables = Tunables(**cluster.tunables).validate()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    runtime = NodeRuntime(role=args.role, node_id=args.node_id,
                          bind_url=f"tcp://{bind_host}:{port}",
                          credentials=cluster.credentials, tunables=tunables,
                          advertise_host=host if bind_host != host else None,
                          principals=Principals(cluster.bootstrap_identities()),
                          testing=args.testing)
    runtime.start(accepting=False)
    try:
        start_main_actor(args.role, runtime, data_dir / node, cluster,
                         kafka_settings(args, cluster, bind_host, host))
    except DurableFormatError as error:  # damaged or unknown durable data: refuse to start
        log.critical("%s refuses to start: its durable data cannot be read: %s", node, error)
        runtime.stop()
        logging.shutdown()
        return EXIT_DAMAGED_DATA
    runtime.open()
    log.info("%s listening on %s (pid %d)", node, runtime.address, os.getpid())
    metrics_port = args.metrics_port if args.metrics_port is not None else \
        _metrics_port_in(cluster, args.role, args.node_id)
    if metrics_port is not None and metrics_port >= 0:
        bound = runtime.metrics.serve(bind_host, metrics_port)
        log.info("%s serves metrics on http://%s:%d/metrics", node, bind_host, bound)
    if args.parent_pid is not None:
        threading.Thread(target=watch_parent, args=(args.parent_pid, stop), daemon=True,
                         name="zafka-watchdog").start()
    while not stop.wait(1.0):
        pass
    log.info("%s stopping", node)
    runtime.metrics.stop()
    runtime.stop()
    logging.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
