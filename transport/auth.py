"""Cluster credentials and ZeroMQ CURVE authentication, per principal.

Owns: key generation, the CURVE options applied to sockets, the table of principals a process
admits (``Principals``: CURVE public key -> identity with its role) and the ZAP handler that
admits exactly the keys in that table.  A peer whose key is not in it never completes the
handshake, so none of its bytes reach the codec; the endpoint looks every received frame's
ZAP user id (the peer's key) up again, so a key revoked after its handshake is cut off at once.

Keys per role: the cluster's *server* key pair and the *node* key pair are held by nodes only
(the node file).  A client file holds the server's public key, the node public key (to admit
nodes answering it) and the client's own key pair; a process without the server secret binds
its socket with a key pair of its own, made at start, whose public half travels in its
address (``tcp://host:port|<key>``) so that nodes can reach it.

Must never: log a secret key.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterable
from typing import Any

import zmq
import zmq.auth.thread
from zafka.core.messages import IdentityRecord

log = logging.getLogger(__name__)

ADDRESS_KEY_SEPARATOR = "|"  # not in Z85's alphabet


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    """A process's CURVE keys, Z85-encoded text.  ``client_*`` is the process's own key pair
    (a node's: the node key); ``server_secret`` is "" outside nodes; ``node_public`` is the
    key nodes authenticate with ("" = ``client_public``, as in a node file)."""

    server_public: str
    server_secret: str
    client_public: str
    client_secret: str
    node_public: str = ""

    @classmethod
    def generate(cls) -> Credentials:
        """A new cluster's node credentials (server and node key pairs)."""
        server_public, server_secret = zmq.curve_keypair()
        client_public, client_secret = zmq.curve_keypair()
        return cls(server_public=server_public.decode(), server_secret=server_secret.decode(),
                   client_public=client_public.decode(), client_secret=client_secret.decode())

    def issue(self) -> Credentials:
        """Credentials for a new client identity of this cluster: its own key pair and only
        the public keys of the cluster."""
        public, secret = zmq.curve_keypair()
        return Credentials(server_public=self.server_public, server_secret="",
                           client_public=public.decode(), client_secret=secret.decode(),
                           node_public=self.node_key)

    @property
    def is_node(self) -> bool:
        return bool(self.server_secret)

    @property
    def node_key(self) -> str:
        return self.node_public or self.client_public

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Credentials:
        return cls(**{f.name: data.get(f.name, "") for f in dataclasses.fields(cls)})

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v}

    def apply_server(self, socket: zmq.Socket[Any], own_pair: tuple[str, str] | None = None,
                     ) -> None:
        """Make a bound socket a CURVE server (before bind): with the cluster's server keys,
        or with ``own_pair`` (public, secret) in a process that does not hold them."""
        public, secret = own_pair or (self.server_public, self.server_secret)
        socket.curve_server = True
        socket.curve_publickey = public.encode()
        socket.curve_secretkey = secret.encode()
        socket.zap_domain = b"zafka"

    def apply_client(self, socket: zmq.Socket[Any], server_key: str = "") -> None:
        """Make a connecting socket a CURVE client (before connect) of the cluster's nodes,
        or of the process whose server key is ``server_key``."""
        socket.curve_serverkey = (server_key or self.server_public).encode()
        socket.curve_publickey = self.client_public.encode()
        socket.curve_secretkey = self.client_secret.encode()


def split_address(address: str) -> tuple[str, str]:
    """``tcp://h:p|key`` -> (``tcp://h:p``, key); a node's plain address -> (address, "")."""
    url, _, key = address.partition(ADDRESS_KEY_SEPARATOR)
    return url, key


class Principals:
    """The identities a process admits, by CURVE public key (thread-safe).  ``bootstrap``
    ones come from the process's file; ``update`` adds those of the metadata log and drops
    revoked keys."""

    def __init__(self, bootstrap: Iterable[IdentityRecord]) -> None:
        self.bootstrap = tuple(bootstrap)
        self._by_key = {i.public_key: i for i in self.bootstrap}
        self._lock = threading.Lock()
        self.denied = 0

    def replace(self, identities: Iterable[IdentityRecord]) -> None:
        by_key = {i.public_key: i for i in identities}
        with self._lock:
            self._by_key = by_key

    def resolve(self, public_key: str) -> IdentityRecord | None:
        return self._by_key.get(public_key)

    def identities(self) -> tuple[IdentityRecord, ...]:
        return tuple(self._by_key.values())

    def callback(self, domain: str, key: bytes) -> bool:
        """ZAP: admit a key in the table, count and log the others."""
        if key.decode() in self._by_key:
            return True
        with self._lock:
            self.denied += 1
        log.warning("refused a peer with an unknown CURVE key in domain %s", domain)
        return False


class ZapGuard:
    """The process's ZAP handler thread for one ZeroMQ context."""

    def __init__(self, context: zmq.Context[Any], principals: Principals) -> None:
        self._authenticator = zmq.auth.thread.ThreadAuthenticator(context, log=log)
        self._allow = principals

    def start(self) -> None:
        self._authenticator.start()
        self._authenticator.configure_curve_callback("zafka", credentials_provider=self._allow)

    def stop(self) -> None:
        self._authenticator.stop()

    @property
    def denied(self) -> int:
        return self._allow.denied


def node_identity(credentials: Credentials) -> IdentityRecord:
    """The identity every node authenticates as."""
    return IdentityRecord(name="node", role="node", public_key=credentials.node_key)


__all__ = ["ADDRESS_KEY_SEPARATOR", "Credentials", "Principals", "ZapGuard", "node_identity",
           "split_address"]
