"""Cluster credentials and ZeroMQ CURVE authentication.

Owns: key generation for the cluster file, the CURVE options applied to sockets, and the ZAP
handler that admits only peers holding the cluster's client key.  Every process of a cluster
(coordinators, brokers, clients) shares one server key pair and one client key pair; the
secrets live in the cluster file (mode 0600).  A peer without them never completes the
handshake, so none of its bytes reach the codec.

Must never: log a secret key.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Any

import zmq
import zmq.auth.thread

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    """The cluster's CURVE key pairs, Z85-encoded text."""

    server_public: str
    server_secret: str
    client_public: str
    client_secret: str

    @classmethod
    def generate(cls) -> Credentials:
        server_public, server_secret = zmq.curve_keypair()
        client_public, client_secret = zmq.curve_keypair()
        return cls(server_public=server_public.decode(), server_secret=server_secret.decode(),
                   client_public=client_public.decode(), client_secret=client_secret.decode())

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Credentials:
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls)})

    def to_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)

    def apply_server(self, socket: zmq.Socket[Any]) -> None:
        """Make a bound socket a CURVE server (before bind)."""
        socket.curve_server = True
        socket.curve_publickey = self.server_public.encode()
        socket.curve_secretkey = self.server_secret.encode()
        socket.zap_domain = b"zafka"

    def apply_client(self, socket: zmq.Socket[Any]) -> None:
        """Make a connecting socket a CURVE client of the cluster (before connect)."""
        socket.curve_serverkey = self.server_public.encode()
        socket.curve_publickey = self.client_public.encode()
        socket.curve_secretkey = self.client_secret.encode()


class _AllowList:
    """ZAP credentials provider: admits exactly the cluster's client key, counts denials."""

    def __init__(self, allowed_public: str) -> None:
        self.allowed = allowed_public.encode()
        self.denied = 0
        self._lock = threading.Lock()

    def callback(self, domain: str, key: bytes) -> bool:
        if key == self.allowed:
            return True
        with self._lock:
            self.denied += 1
        log.warning("refused a peer with an unknown CURVE key in domain %s", domain)
        return False


class ZapGuard:
    """The process's ZAP handler thread for one ZeroMQ context."""

    def __init__(self, context: zmq.Context[Any], credentials: Credentials) -> None:
        self._authenticator = zmq.auth.thread.ThreadAuthenticator(context, log=log)
        self._allow = _AllowList(credentials.client_public)

    def start(self) -> None:
        self._authenticator.start()
        self._authenticator.configure_curve_callback("zafka", credentials_provider=self._allow)

    def stop(self) -> None:
        self._authenticator.stop()

    @property
    def denied(self) -> int:
        return self._allow.denied


__all__ = ["Credentials", "ZapGuard"]
