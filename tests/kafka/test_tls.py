"""The generated cluster CA: a TLS client that trusts ca.pem connects to the listener's
context over loopback; the key file is private; a client trusting nothing is refused."""

from __future__ import annotations

import socket
import ssl
import stat
import threading
from pathlib import Path

import pytest
from zafka.kafka.tls import generate, is_loopback, server_context


def handshake(server: ssl.SSLContext, client: ssl.SSLContext, host: str) -> str:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    done: list[object] = []

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            with server.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(tls.recv(5))
        except (ssl.SSLError, OSError) as exc:
            done.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", port)) as raw, \
                client.wrap_socket(raw, server_hostname=host) as tls:
            tls.sendall(b"hello")
            return tls.recv(5).decode()
    finally:
        thread.join(5)
        listener.close()


def test_a_client_trusting_the_generated_ca_connects(tmp_path: Path) -> None:
    files = generate(tmp_path / "tls", ["127.0.0.1", "localhost"])
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    client = ssl.create_default_context(cafile=str(files.ca_cert))
    assert handshake(server_context(files), client, "127.0.0.1") == "hello"
    assert handshake(server_context(files), client, "localhost") == "hello"


def test_a_client_that_does_not_trust_the_ca_is_refused(tmp_path: Path) -> None:
    files = generate(tmp_path / "tls", ["127.0.0.1"])
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(server_context(files), ssl.create_default_context(), "127.0.0.1")


def test_loopback_hosts() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.1")
