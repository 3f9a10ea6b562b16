"""TLS for the Kafka listener (SASL_SSL): a generated cluster CA and per-cluster server key.

Owns: the PEM files under ``<data-dir>/tls/`` — ``ca.pem`` (the cluster's own CA, the file a
client passes as ``ssl.cafile`` / ``ssl.ca.location``), ``server.pem`` and ``server.key``
(signed by that CA for the listener's host names and addresses, key mode 0600) — and the
server ``ssl.SSLContext`` built from them.  The CA's private key is not kept: a new broker
address needs a new certificate, made by generating the directory again.

Certificates are made with the ``cryptography`` package (the standard library cannot sign);
the TLS connection itself is Python's ``ssl``.  Minimum protocol TLS 1.2.

Must never: write a private key readable by others.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import os
import ssl
from pathlib import Path

VALID_DAYS = 825


@dataclasses.dataclass(frozen=True, slots=True)
class TlsFiles:
    """Where a cluster's TLS material lives."""

    ca_cert: Path
    cert: Path
    key: Path

    @classmethod
    def under(cls, directory: Path) -> TlsFiles:
        return cls(directory / "ca.pem", directory / "server.pem", directory / "server.key")

    def exist(self) -> bool:
        return self.ca_cert.exists() and self.cert.exists() and self.key.exists()


def _san(hosts: list[str]) -> list[object]:
    from cryptography import x509
    names: list[object] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def generate(directory: Path, hosts: list[str], now: datetime.datetime | None = None) -> TlsFiles:
    """A fresh CA and a server certificate for ``hosts`` (names or IP addresses)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = now or datetime.datetime.now(datetime.UTC)
    files = TlsFiles.under(directory)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "zafka cluster CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                       crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False,
                                       decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName(_san(hosts)),  # type: ignore[arg-type]
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    files.ca_cert.write_bytes(ca.public_bytes(pem))
    files.cert.write_bytes(cert.public_bytes(pem))
    fd = os.open(files.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return files


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """The listener's TLS context (TLS 1.2 or newer, the cluster's certificate)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.cert, files.key)
    return context


def is_loopback(host: str) -> bool:
    """Does a listener bound to ``host`` stay on this machine?"""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


__all__ = ["TlsFiles", "generate", "is_loopback", "server_context"]
