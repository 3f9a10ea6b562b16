"""How Kafka clients authenticate to a cluster: the ``kafka_auth`` section of the cluster file.

Owns: ``KafkaAuth`` — whether the Kafka listeners require SASL (on by default) and TLS, the
generated client user and its password (what a client is given), and the brokers' stored
SCRAM credentials of every user (salted; what a broker checks against) — plus the client
settings a Kafka client needs, named the way confluent-kafka (librdkafka) and kafka-python /
aiokafka spell them.  A SASL user ``alice`` is the principal ``User:alice``.

Users with admin rights (``admins``: the generated user, and any added with ``admin=True``)
are super users on the Kafka listener, as a Kafka ``super.users`` entry is; every other
user's requests are checked against the cluster's ACLs (``docs/security.md``), the same
rules zafka's own client identities meet.  ``with_user`` adds a user and ``without_user``
removes one (the brokers read the users when they start).

``--kafka-auth none`` (``mode="none"``) is an explicit opt-in: the listener then accepts any
connection, and a node refuses to start such a listener on a non-loopback address.

Must never: do I/O (salts and passwords are drawn by the caller).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from zafka.kafka.sasl import DEFAULT_MECHANISM, DEFAULT_USER, KafkaUsers

MODES = ("scram", "none")


@dataclasses.dataclass(frozen=True, slots=True)
class KafkaAuth:
    """The Kafka listeners' authentication settings (see the module docstring)."""

    mode: str = "scram"
    tls: bool = False
    username: str = ""
    password: str = ""
    users: KafkaUsers = dataclasses.field(default_factory=lambda: KafkaUsers({}))
    ca_file: str = ""  # the cluster CA a TLS client must trust ("" without TLS)
    admins: tuple[str, ...] = ()  # users whose requests bypass ACLs (super users)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"--kafka-auth must be one of {', '.join(MODES)}, not "
                             f"{self.mode!r}")

    @classmethod
    def generate(cls, password: str, salt_bytes: Callable[[], bytes], *, tls: bool = False,
                 ca_file: str = "", user: str = DEFAULT_USER) -> KafkaAuth:
        """SCRAM on, one client user with ``password`` (stored salted for the brokers)."""
        return cls("scram", tls, user, password,
                   KafkaUsers.with_password(user, password, salt_bytes), ca_file, (user,))

    def with_user(self, user: str, password: str, salt_bytes: Callable[[], bytes], *,
                  admin: bool = False) -> KafkaAuth:
        """These settings with one more SASL user (or a new password for ``user``)."""
        if not self.enabled:
            raise ValueError("the cluster's Kafka listeners take no users (--kafka-auth none)")
        if not user or ":" in user or "," in user or "=" in user:
            raise ValueError(f"a Kafka user name may not be empty or hold ':', ',' or '=': "
                             f"{user!r}")
        added = KafkaUsers.with_password(user, password, salt_bytes)
        users = KafkaUsers({**self.users.credentials, **added.credentials})
        admins = tuple(a for a in self.admins if a != user) + ((user,) if admin else ())
        return dataclasses.replace(self, users=users, admins=admins)

    def without_user(self, user: str) -> KafkaAuth:
        """These settings without SASL user ``user``; ``ValueError`` for an unknown user or
        the generated one (what the launcher and the admin file hand out)."""
        if user == self.username:
            raise ValueError(f"{user!r} is the cluster's generated Kafka user; it stays")
        if user not in self.users.credentials:
            raise ValueError(f"no Kafka user {user!r}")
        users = KafkaUsers({name: creds for name, creds in self.users.credentials.items()
                            if name != user})
        return dataclasses.replace(self, users=users,
                                   admins=tuple(a for a in self.admins if a != user))

    def super_users(self) -> frozenset[str] | None:
        """The principals the Kafka listener lets past the ACLs; None: everyone (no
        authentication, so nobody is told apart)."""
        if not self.enabled:
            return None
        return frozenset(f"User:{name}" for name in self.admins)

    @property
    def enabled(self) -> bool:
        return self.mode == "scram"

    @property
    def security_protocol(self) -> str:
        if self.enabled:
            return "SASL_SSL" if self.tls else "SASL_PLAINTEXT"
        return "SSL" if self.tls else "PLAINTEXT"

    def confluent_settings(self) -> dict[str, str]:
        """librdkafka / confluent-kafka client settings (beside ``bootstrap.servers``)."""
        out = {"security.protocol": self.security_protocol}
        if self.enabled:
            out.update({"sasl.mechanism": DEFAULT_MECHANISM, "sasl.username": self.username,
                        "sasl.password": self.password})
        if self.tls:
            out["ssl.ca.location"] = self.ca_file
        return out

    def kafka_python_settings(self) -> dict[str, str]:
        """kafka-python / aiokafka keyword arguments (beside ``bootstrap_servers``)."""
        out = {"security_protocol": self.security_protocol}
        if self.enabled:
            out.update({"sasl_mechanism": DEFAULT_MECHANISM,
                        "sasl_plain_username": self.username,
                        "sasl_plain_password": self.password})
        if self.tls:
            out["ssl_cafile"] = self.ca_file
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "tls": self.tls, "username": self.username,
                "password": self.password, "ca_file": self.ca_file,
                "users": self.users.to_dict(), "admins": list(self.admins)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KafkaAuth:
        username = str(data.get("username", ""))
        # made before users had roles: the generated user was the only one, with every right
        admins = data.get("admins", [username] if username else [])
        return cls(str(data.get("mode", "scram")), bool(data.get("tls", False)),
                   username, str(data.get("password", "")),
                   KafkaUsers.from_dict(data.get("users") or {}), str(data.get("ca_file", "")),
                   tuple(str(a) for a in admins))


__all__ = ["MODES", "KafkaAuth"]
