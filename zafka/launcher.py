"""zafka's launcher: the ``Cluster`` API.

Owns: process orchestration — ``Cluster`` starts every node as its own OS process
(``python -m zafka.actors.node``), waits until each answers, writes the node file and the
default client files (``client.json`` for applications, ``admin.json`` for the admin tools),
kills, pauses, restarts and partitions nodes, and stops them all.  The command line that drives it
(``zafka --brokers 3``, ``python cluster.py``) lives in ``zafka.cli``.

Must never: import the command line, or be imported by the node processes' layers.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from zafka.core.errors import ZafkaError
from zafka.core.messages import (
    FaultRule,
    IdentityRecord,
    NodeRole,
    RaftRole,
    SetFaults,
    StatusReply,
    StatusRequest,
)
from zafka.kafka.auth_config import KafkaAuth
from zafka.kafka.setup import add_kafka_user, create_kafka_auth, remove_kafka_user
from zafka.transport.auth import Credentials, Principals
from zafka.transport.cluster_file import (
    ADMIN_FILE_NAME,
    CLIENT_FILE_NAME,
    NODE_FILE_NAME,
    ClusterFile,
    NodeSpec,
    client_bind_url,
)
from zafka.transport.remote import Postbox, RemoteRef

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


def free_ports(host: str, count: int, avoid: Iterable[int] = ()) -> list[int]:
    """``count`` distinct ports the OS reports free on ``host`` right now (none of
    ``avoid``: ports already given to nodes that are not listening yet)."""
    sockets: list[socket.socket] = []
    ports: list[int] = []
    taken = set(avoid)
    try:
        while len(ports) < count:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
            port = sock.getsockname()[1]
            if port not in taken:
                ports.append(port)
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
                 kafka_auth: str = "scram", kafka_tls: bool = False,
                 testing: bool = False) -> None:
        check_coordinator_count(coordinators)
        if brokers < 1:
            raise ClusterError(f"--brokers must be at least 1, not {brokers}")
        self.data_dir = Path(data_dir).resolve()
        self.cluster_file_path = self.data_dir / NODE_FILE_NAME
        self.client_file_path = self.data_dir / CLIENT_FILE_NAME
        self.admin_file_path = self.data_dir / ADMIN_FILE_NAME
        self.testing = testing  # nodes obey fault injection (SetFaults, Relay): tests only
        self.log_level = log_level
        self.child_stderr = child_stderr
        self.config = self._load_or_create(brokers, coordinators, host, port, insecure,
                                           tunables or {})
        if self.config.kafka_auth is None:  # new, or made before Kafka authentication
            self.config = dataclasses.replace(self.config, kafka_auth=create_kafka_auth(
                self.data_dir, [host], kafka_auth, kafka_tls))
        self.nodes = [NodeProcess(spec) for spec in self.config.nodes]
        self._postbox: Postbox | None = None

    # --- configuration ------------------------------------------------------------------

    def _load_or_create(self, brokers: int, coordinators: int, host: str, port: int | None,
                        insecure: bool, tunables: dict[str, Any]) -> ClusterFile:
        if self.cluster_file_path.exists():
            existing = ClusterFile.load(self.cluster_file_path)
            if tunables and tunables != existing.tunables:
                existing = dataclasses.replace(existing, tunables=tunables)
            return with_observability(existing)
        count = brokers + coordinators
        ports = list(range(port, port + count)) if port else free_ports(host, count)
        nodes = [NodeSpec(role=NodeRole.COORDINATOR, node_id=i + 1,
                          address=f"tcp://{host}:{ports[i]}")
                 for i in range(coordinators)]
        nodes += [NodeSpec(role=NodeRole.BROKER, node_id=i + 1,
                           address=f"tcp://{host}:{ports[coordinators + i]}")
                  for i in range(brokers)]
        return with_observability(ClusterFile(
            cluster_id=secrets.token_hex(8),
            credentials=None if insecure else Credentials.generate(),
            nodes=tuple(nodes), tunables=tunables))

    @property
    def kafka_auth(self) -> KafkaAuth:
        """How Kafka clients authenticate to this cluster."""
        return KafkaAuth.from_dict(self.config.kafka_auth or {"mode": "none"})

    def kafka_config(self) -> dict[str, str]:
        """Everything a confluent-kafka client needs to reach this cluster: the bootstrap
        servers and the security settings (SASL user and password; the CA with TLS)."""
        return {**self.config.kafka_config(), **self.kafka_auth.confluent_settings()}

    def add_kafka_user(self, user: str, admin: bool = False) -> dict[str, str]:
        """Add a SASL user for Kafka clients (``User:<user>``; an admin bypasses ACLs, any
        other user meets them) with a new random password; returns its confluent-kafka
        settings.  Brokers read their users when they start: add users before ``start()``
        or restart the brokers."""
        self.config, settings = _with_kafka_user(self.config, user, admin)
        if self.cluster_file_path.exists():
            self.config.save(self.cluster_file_path)
        return settings

    def _issue_client_files(self, config: ClusterFile) -> ClusterFile:
        """Make sure the default admin and application identities have their client files
        (``admin.json``, ``client.json``) matching the node file: a missing or foreign one
        is issued again with a new key (so deleting it and restarting rotates that key)."""
        if config.credentials is None:  # authentication off: every file is the same
            for path in (self.admin_file_path, self.client_file_path):
                config.save(path)
            return config
        if not config.is_node_file:
            return config
        identities = {i.name: i for i in config.identities}
        for name, role, path in (("admin", "admin", self.admin_file_path),
                                 ("client", "client", self.client_file_path)):
            current = _read_client_file(path)
            known = identities.get(name)
            if (current is not None and known is not None and current.credentials is not None
                    and current.credentials.client_public == known.public_key
                    and current.cluster_id == config.cluster_id):
                credentials = current.credentials
            else:
                credentials = config.credentials.issue()
            identity = IdentityRecord(name=name, role=role, public_key=credentials.client_public)
            identities[name] = identity
            config = dataclasses.replace(config, identities=tuple(identities.values()))
            config.client_file(identity, credentials).save(path)
        return config

    def node(self, name: str) -> NodeProcess:
        """The node called ``name`` ("broker-1", "coordinator-2")."""
        for node in self.nodes:
            if node.name == name:
                return node
        raise ClusterError(f"no node {name!r}; nodes are {[n.name for n in self.nodes]}")

    @property
    def bootstrap_servers(self) -> str:
        """Where Kafka clients connect: every broker's Kafka listener, comma-separated."""
        return self.config.bootstrap_servers

    @property
    def brokers(self) -> list[NodeProcess]:
        return [n for n in self.nodes if n.spec.role is NodeRole.BROKER]

    @property
    def coordinators(self) -> list[NodeProcess]:
        return [n for n in self.nodes if n.spec.role is NodeRole.COORDINATOR]

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
            self._postbox = Postbox(
                client_bind_url(self.config), credentials=self.config.credentials,
                principals=Principals(self.config.bootstrap_identities())).start()
        return self._postbox

    def start(self, timeout: float = READY_TIMEOUT_S) -> Cluster:
        """Write the node file and the client files, start every node, and wait until
        each answers."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        self.config = self._issue_client_files(self.config)
        self.config.save(self.cluster_file_path)
        for node in self.nodes:
            if not node.running():
                self._spawn(node)
        self.wait_ready([n.name for n in self.nodes], timeout)
        self.wait_serving(timeout)
        return self

    def wait_serving(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Wait until every running broker is registered and unfenced by the controller.

        Then wait until every broker has applied the metadata the last of them needed, so
        each one's picture (what a Kafka client's Metadata request gets from any of them)
        already shows all the others unfenced.
        """
        deadline = time.monotonic() + timeout
        offsets: dict[str, int] = {}
        for node in self.brokers:
            offsets[node.name] = self._wait_broker(
                node, deadline, lambda status: status.serving, "serving", timeout)
        needed = max(offsets.values(), default=0)
        for node in self.brokers:
            if offsets.get(node.name, needed) < needed:
                self._wait_broker(
                    node, deadline,
                    lambda status: status.broker is not None
                    and status.broker.metadata_offset >= needed,
                    f"at metadata offset {needed}", timeout)

    def _wait_broker(self, node: NodeProcess, deadline: float,
                     done: Callable[[StatusReply], bool], what: str,
                     timeout: float) -> int:
        """Poll ``node``'s status until ``done``; its metadata offset then (-1 if it stopped)."""
        while node.running():
            try:
                status = self.status_of(node, timeout=1.0)
                if done(status) and status.broker is not None:
                    return status.broker.metadata_offset
            except ZafkaError:
                pass
            if time.monotonic() > deadline:
                raise ClusterError(f"{node.name} was not {what} within {timeout} s")
            time.sleep(0.02)
        return -1

    def _spawn(self, node: NodeProcess) -> None:
        command = [sys.executable, "-m", "zafka.actors.node", "--role", node.spec.role,
                   "--id", str(node.spec.node_id), "--cluster-file",
                   str(self.cluster_file_path), "--data-dir", str(self.data_dir),
                   "--log-level", self.log_level, "--parent-pid", str(os.getpid())]
        if self.testing:
            command.append("--testing")
        stderr: Any = self.child_stderr
        if stderr is None:
            (self.data_dir / "logs").mkdir(mode=0o700, parents=True, exist_ok=True)
            stderr = os.fdopen(os.open(self.data_dir / "logs" / f"{node.name}.stderr",
                                       os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        node.process = subprocess.Popen(command, cwd=self.data_dir, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=stderr,
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
        if node.spec.role is NodeRole.BROKER:
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
                raft = self.status_of(node, timeout).coordinator
            except ZafkaError:
                continue
            if raft is not None and raft.raft_role is RaftRole.LEADER and (
                    best is None or raft.term > best[1]):
                best = (node.name, raft.term)
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


def with_observability(config: ClusterFile) -> ClusterFile:
    """``config`` with a metrics port for every node that has none, a Kafka listener address
    for every broker that has none (free ports on the node's host) and a console token if it
    has none: a cluster file written before any of them existed gains them the next time the
    launcher starts it."""
    nodes = list(config.nodes)
    wanted = [(i, "metrics") for i, n in enumerate(nodes) if n.metrics_port is None]
    wanted += [(i, "kafka") for i, n in enumerate(nodes)
               if n.role is NodeRole.BROKER and not n.kafka_address]
    by_host: dict[str, list[tuple[int, str]]] = {}
    for i, kind in wanted:
        by_host.setdefault(nodes[i].host, []).append((i, kind))
    for host, slots in by_host.items():
        for (i, kind), port in zip(slots, free_ports(host, len(slots), taken_ports(nodes)),
                                   strict=True):
            nodes[i] = dataclasses.replace(nodes[i], metrics_port=port) if kind == "metrics" \
                else dataclasses.replace(nodes[i], kafka_address=f"{host}:{port}")
    token = config.console_token or secrets.token_urlsafe(24)
    return dataclasses.replace(config, nodes=tuple(nodes), console_token=token)


def taken_ports(nodes: Iterable[NodeSpec]) -> set[int]:
    """Every port the cluster file gives its nodes (listening or not yet)."""
    taken = set()
    for node in nodes:
        taken.add(int(node.address.rsplit(":", 1)[1]))
        if node.metrics_port is not None:
            taken.add(node.metrics_port)
        if node.kafka_address:
            taken.add(int(node.kafka_address.rsplit(":", 1)[1]))
    return taken


def add_broker_to_file(path: Path) -> ClusterFile:
    """Append a broker (next id, a free port on the cluster's host) to the cluster file."""
    config = ClusterFile.load(path)
    host = config.nodes[0].address.removeprefix("tcp://").rsplit(":", 1)[0]
    broker_id = max((b.node_id for b in config.brokers), default=0) + 1
    port, metrics_port, kafka_port = free_ports(host, 3, taken_ports(config.nodes))
    spec = NodeSpec(role=NodeRole.BROKER, node_id=broker_id, address=f"tcp://{host}:{port}",
                    metrics_port=metrics_port, kafka_address=f"{host}:{kafka_port}")
    config = config.with_nodes((*config.nodes, spec))
    config.save(path)
    for other in path.parent.glob("*.json"):  # the client files of this cluster learn it too
        client = _read_client_file(other)
        if client is not None and client.cluster_id == config.cluster_id:
            client.with_nodes(config.nodes).save(other)
    return config


def _node_file_kafka_auth(path: Path) -> tuple[ClusterFile, dict[str, Any]]:
    config = ClusterFile.load(path)
    if config.credentials is not None and not config.is_node_file:
        raise ClusterError(f"{path} is a client file; Kafka users live in the node file "
                           "(cluster.json)")
    if config.kafka_auth is None:
        raise ClusterError(f"{path} has no Kafka authentication section")
    return config, config.kafka_auth


def remove_kafka_user_from_file(path: Path, user: str) -> None:
    """Remove SASL user ``user`` from the node file at ``path`` (brokers stop admitting it
    when they restart); ``ClusterError`` if it cannot be removed."""
    config, kafka_auth = _node_file_kafka_auth(path)
    try:
        kafka_auth = remove_kafka_user(kafka_auth, user)
    except ValueError as error:
        raise ClusterError(str(error)) from None
    dataclasses.replace(config, kafka_auth=kafka_auth).save(path)


def add_kafka_user_to_file(path: Path, user: str, admin: bool = False) -> dict[str, str]:
    """Add SASL user ``user`` (a new random password) to the node file at ``path``; returns
    the user's confluent-kafka settings.  ``ClusterError`` for a client file or a cluster
    whose Kafka listeners take no users.  Brokers read their users when they start."""
    config, settings = _with_kafka_user(_node_file_kafka_auth(path)[0], user, admin)
    config.save(path)
    return settings


def _with_kafka_user(config: ClusterFile, user: str, admin: bool,
                     ) -> tuple[ClusterFile, dict[str, str]]:
    """``config`` with SASL user ``user`` added (a new random password), and the user's
    confluent-kafka settings."""
    try:
        kafka_auth, password = add_kafka_user(config.kafka_auth or {"mode": "none"}, user,
                                              admin)
    except ValueError as error:
        raise ClusterError(str(error)) from None
    config = dataclasses.replace(config, kafka_auth=kafka_auth)
    settings = KafkaAuth.from_dict(kafka_auth).confluent_settings()
    return config, {**config.kafka_config(), **settings, "sasl.username": user,
                    "sasl.password": password}


def _read_client_file(path: Path) -> ClusterFile | None:
    """The client file at ``path``, or None if there is none (or it is a node file)."""
    try:
        found = ClusterFile.load(path)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return None if found.is_node_file else found
