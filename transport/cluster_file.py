"""The cluster file: where every node listens and the credentials to talk to them.

Owns: the JSON format of ``<data-dir>/cluster.json`` (the *node file*) and of the *client
files* (``client.json``, ``admin.json``, and one per identity ``zafka credentials --add``
issues), writing them safely (mode 0600, temp file + fsync + rename) and refusing to use a
file or data directory that other users can write.  Both kinds share one format: a node file
holds the node credentials (server and node key pairs) and ``identities``, the public keys of
the client identities the launcher issued; a client file holds only the cluster's public keys,
the client's own key pair, its identity and the addresses.  Clients find theirs from their
argument, else ``$ZAFKA_CLUSTER``, else ``./data/client.json``.

Must never: be written world-readable (it holds secret keys).
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

from zafka.core.messages import IdentityRecord, NodeRole
from zafka.transport.auth import Credentials, node_identity

FORMAT_VERSION = 1
ENV_VAR = "ZAFKA_CLUSTER"
NODE_FILE_NAME = "cluster.json"
CLIENT_FILE_NAME = "client.json"
ADMIN_FILE_NAME = "admin.json"
DEFAULT_PATH = "data/" + CLIENT_FILE_NAME  # what applications use
ADMIN_PATH = "data/" + ADMIN_FILE_NAME  # what the admin tools use


KAFKA_NODE_SECRETS = frozenset({"users"})  # kafka_auth keys only nodes hold (zafka.kafka)
KAFKA_ADMIN_SECRETS = frozenset({"username", "password", "admins"})  # ... and admins


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NodeSpec:
    """One node of the cluster: its role, id and the address it listens on."""

    role: NodeRole
    node_id: int
    address: str  # "tcp://127.0.0.1:9301"
    metrics_port: int | None = None  # its Prometheus /metrics port, on the address's host
    kafka_address: str = ""  # brokers: "127.0.0.1:9092", where Kafka clients connect

    def __post_init__(self) -> None:
        if self.role not in (NodeRole.COORDINATOR, NodeRole.BROKER):
            raise ValueError(f"a node is a coordinator or a broker, not {self.role!r}")
        object.__setattr__(self, "role", NodeRole(self.role))

    @property
    def name(self) -> str:
        return f"{self.role}-{self.node_id}"

    @property
    def host(self) -> str:
        return self.address.removeprefix("tcp://").rsplit(":", 1)[0]

    @property
    def metrics_url(self) -> str | None:
        """``http://HOST:PORT/metrics``, or None if the node serves no metrics."""
        if self.metrics_port is None:
            return None
        return f"http://{self.host}:{self.metrics_port}/metrics"


class ClusterFileError(ValueError):
    """A cluster file that cannot be read or is not what zafka wrote."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ClusterFile:
    """The parsed cluster file."""

    cluster_id: str
    credentials: Credentials | None  # None: authentication explicitly turned off
    nodes: tuple[NodeSpec, ...]
    tunables: dict[str, Any] = dataclasses.field(default_factory=dict)
    console_token: str | None = None  # what ``zafka console``'s web page asks for
    kafka_auth: dict[str, Any] | None = None  # the Kafka listeners' SASL/TLS (zafka.kafka)
    # Node file: the client identities issued at launch; client file: its own identity.
    identities: tuple[IdentityRecord, ...] = ()

    @property
    def coordinators(self) -> tuple[NodeSpec, ...]:
        return tuple(n for n in self.nodes if n.role is NodeRole.COORDINATOR)

    @property
    def brokers(self) -> tuple[NodeSpec, ...]:
        return tuple(n for n in self.nodes if n.role is NodeRole.BROKER)

    @property
    def bootstrap_servers(self) -> str:
        """The brokers' Kafka addresses, as Kafka clients' ``bootstrap.servers`` take them."""
        return ",".join(n.kafka_address for n in self.brokers if n.kafka_address)

    def kafka_config(self) -> dict[str, str]:
        """Settings for a Kafka client (confluent-kafka's dotted names) to reach this
        cluster's Kafka listeners."""
        return {"bootstrap.servers": self.bootstrap_servers}

    def node(self, role: NodeRole | str, node_id: int) -> NodeSpec:
        for spec in self.nodes:
            if spec.role == role and spec.node_id == node_id:
                return spec
        raise KeyError(f"no {role} {node_id} in the cluster file")

    def with_nodes(self, nodes: tuple[NodeSpec, ...]) -> ClusterFile:
        return dataclasses.replace(self, nodes=nodes)

    @property
    def is_node_file(self) -> bool:
        return self.credentials is not None and self.credentials.is_node

    def bootstrap_identities(self) -> tuple[IdentityRecord, ...]:
        """Whom a node admits before reading the metadata: the nodes and the file's
        identities (a client file: the nodes only)."""
        if self.credentials is None:
            return ()
        if not self.is_node_file:
            return (node_identity(self.credentials),)
        return (node_identity(self.credentials), *self.identities)

    def client_file(self, identity: IdentityRecord, credentials: Credentials) -> ClusterFile:
        """The client file of ``identity`` (holding ``credentials``, issued from this node
        file's): addresses, tunables and public keys only.  Of the Kafka settings it keeps
        how to connect (mode, TLS, CA); only an admin's file keeps the generated Kafka user's
        password, and no file keeps the brokers' stored SASL credentials."""
        kafka_auth = None if self.kafka_auth is None else {
            key: value for key, value in self.kafka_auth.items()
            if key not in KAFKA_NODE_SECRETS
            and (identity.role == "admin" or key not in KAFKA_ADMIN_SECRETS)}
        return dataclasses.replace(
            self, credentials=credentials, identities=(identity,), kafka_auth=kafka_auth,
            console_token=self.console_token if identity.role == "admin" else None)

    # --- files --------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "cluster_id": self.cluster_id,
            "credentials": self.credentials.to_dict() if self.credentials else None,
            "nodes": [dataclasses.asdict(n) for n in self.nodes],
            "tunables": self.tunables,
            "console_token": self.console_token,
            "kafka_auth": self.kafka_auth,
            **({"identities": [dataclasses.asdict(i) for i in self.identities]}
               if self.identities else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClusterFile:
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"unsupported cluster file version {data.get('version')!r}")
        creds = data.get("credentials")
        return cls(
            cluster_id=data["cluster_id"],
            credentials=Credentials.from_dict(creds) if creds else None,
            nodes=tuple(NodeSpec(**n) for n in data["nodes"]),
            tunables=dict(data.get("tunables") or {}),
            console_token=data.get("console_token"),
            kafka_auth=data.get("kafka_auth"),
            identities=tuple(IdentityRecord(**i) for i in data.get("identities") or ()),
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, *,
             default: str = DEFAULT_PATH) -> ClusterFile:
        """Read the cluster file at ``path``, else $ZAFKA_CLUSTER, else ``default``
        (./data/client.json)."""
        resolved = resolve_path(path, default)
        try:
            text = resolved.read_text()
        except FileNotFoundError:
            raise FileNotFoundError(
                f"no cluster file at {resolved} (start a cluster with "
                f"'python cluster.py --brokers 3', or pass the path / set ${ENV_VAR})"
            ) from None
        except (IsADirectoryError, PermissionError, UnicodeDecodeError) as error:
            raise ClusterFileError(f"cannot read the cluster file {resolved}: {error}") from None
        try:
            return cls.from_json(json.loads(text))
        except json.JSONDecodeError as error:
            raise ClusterFileError(
                f"the cluster file {resolved} is damaged: not JSON ({error.msg} at line "
                f"{error.lineno} column {error.colno})") from None
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            what = f"missing {error}" if isinstance(error, KeyError) else str(error)
            raise ClusterFileError(
                f"the cluster file {resolved} is damaged: {what} (it is written by "
                f"'python cluster.py'; restore it or start a new cluster)") from None

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically with mode 0600."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".cluster.", suffix=".tmp")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(self.to_json(), handle, indent=2)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def local_address_toward(host: str) -> str:
    """The IP of this machine's interface that routes to ``host`` (no packet is sent)."""
    if host in ("127.0.0.1", "localhost", "0.0.0.0"):
        return "127.0.0.1"
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect((host, 9))
        return str(probe.getsockname()[0])
    except OSError:
        return "127.0.0.1"
    finally:
        probe.close()


def client_bind_url(config: ClusterFile) -> str:
    """Where a client process should listen so the cluster's nodes can answer it: an
    ephemeral port on the interface that routes to the first coordinator."""
    host = config.nodes[0].address.removeprefix("tcp://").rsplit(":", 1)[0]
    return f"tcp://{local_address_toward(host)}:0"


def resolve_path(path: str | os.PathLike[str] | None, default: str = DEFAULT_PATH) -> Path:
    if path is not None:
        return Path(path)
    return Path(os.environ.get(ENV_VAR) or default)


class UnsafeFileError(Exception):
    """A credentials file or data directory that other users could write."""


def check_private(path: str | os.PathLike[str]) -> None:
    """Raise ``UnsafeFileError`` if ``path`` belongs to another user or its group or others
    may write it (a node must not trust keys or data someone else could replace)."""
    info = os.stat(path)
    if info.st_uid != os.getuid():
        raise UnsafeFileError(f"{path} belongs to uid {info.st_uid}, not to this user "
                              f"(uid {os.getuid()}); refusing to use it")
    if info.st_mode & 0o022:
        raise UnsafeFileError(f"{path} is writable by other users (mode "
                              f"{info.st_mode & 0o777:o}); run 'chmod go-w {path}'")


__all__ = ["ADMIN_FILE_NAME", "ADMIN_PATH", "CLIENT_FILE_NAME", "ClusterFile", "ClusterFileError",
           "DEFAULT_PATH", "ENV_VAR", "NODE_FILE_NAME", "NodeSpec", "UnsafeFileError",
           "check_private", "client_bind_url", "local_address_toward", "resolve_path"]
