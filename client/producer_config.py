"""The producer's options, named and defaulted like kafka-python's ``KafkaProducer``.

Owns: ``ProducerConfig`` (one frozen value checked once by ``from_options``), including
Kafka's rule that idempotence needs ``acks="all"``: left at its default, idempotence is
switched off by ``acks`` 0 or 1 or ``retries=0``; asked for explicitly, such a conflict is an
error.

Must never: do I/O.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from zafka.client.serializers import SerializerSpec
from zafka.storage.records import (
    COMPRESSION_GZIP,
    COMPRESSION_LZ4,
    COMPRESSION_NONE,
    COMPRESSION_SNAPPY,
    COMPRESSION_ZSTD,
)

ACKS_ALL = -1
COMPRESSION_CODES = {None: COMPRESSION_NONE, "none": COMPRESSION_NONE, "gzip": COMPRESSION_GZIP,
                     "snappy": COMPRESSION_SNAPPY, "lz4": COMPRESSION_LZ4,
                     "zstd": COMPRESSION_ZSTD}
IDEMPOTENT_IN_FLIGHT_MAX = 5


class ProducerConfigError(ValueError):
    """An unknown option, a bad value, or options that contradict each other."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ProducerConfig:
    """Every producer option; see ``Producer`` for what each one does."""

    client_id: str | None = None
    acks: int | str = ACKS_ALL
    enable_idempotence: bool = True
    retries: float = math.inf
    retry_backoff_ms: int = 100
    request_timeout_ms: int = 30_000
    delivery_timeout_ms: int = 120_000
    linger_ms: int = 0
    batch_size: int = 16_384
    buffer_memory: int = 33_554_432
    max_block_ms: int = 60_000
    max_request_size: int = 1_048_576
    max_in_flight_requests_per_connection: int = 5
    metadata_max_age_ms: int = 300_000
    compression_type: str | None = None
    key_serializer: SerializerSpec = None
    value_serializer: SerializerSpec = None

    @property
    def acks_code(self) -> int:
        """acks on the wire: 0, 1 or -1 (all)."""
        return ACKS_ALL if self.acks in ("all", -1) else int(self.acks)

    @property
    def compression_code(self) -> int:
        return COMPRESSION_CODES[self.compression_type]

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> ProducerConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise ProducerConfigError(f"unknown producer option(s) {', '.join(unknown)}; "
                                      f"known: {', '.join(sorted(names))}")
        config = cls(**options)
        if "enable_idempotence" not in options and (
                config.acks_code != ACKS_ALL or config.retries == 0
                or config.max_in_flight_requests_per_connection > IDEMPOTENT_IN_FLIGHT_MAX):
            config = dataclasses.replace(config, enable_idempotence=False)
        config.validate()
        return config

    def validate(self) -> None:
        if self.acks not in (0, 1, -1, "all", "0", "1", "-1"):
            raise ProducerConfigError(f"acks must be 0, 1 or 'all', not {self.acks!r}")
        if self.compression_type not in COMPRESSION_CODES:
            raise ProducerConfigError(
                f"compression_type {self.compression_type!r} is not supported: use None, "
                f"'gzip', 'snappy', 'lz4' or 'zstd'")
        positive = ("batch_size", "buffer_memory", "max_request_size", "request_timeout_ms",
                    "delivery_timeout_ms", "max_in_flight_requests_per_connection",
                    "metadata_max_age_ms")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ProducerConfigError(f"{name} must be positive, not {getattr(self, name)}")
        for name in ("linger_ms", "retry_backoff_ms", "max_block_ms", "retries"):
            if getattr(self, name) < 0:
                raise ProducerConfigError(f"{name} must not be negative")
        if self.delivery_timeout_ms < self.linger_ms + self.request_timeout_ms:
            raise ProducerConfigError(
                f"delivery_timeout_ms ({self.delivery_timeout_ms}) must be at least linger_ms "
                f"+ request_timeout_ms ({self.linger_ms + self.request_timeout_ms})")
        if self.enable_idempotence:
            conflicts = []
            if self.acks_code != ACKS_ALL:
                conflicts.append(f"acks={self.acks!r}")
            if self.retries == 0:
                conflicts.append("retries=0")
            if self.max_in_flight_requests_per_connection > IDEMPOTENT_IN_FLIGHT_MAX:
                conflicts.append("max_in_flight_requests_per_connection="
                                 f"{self.max_in_flight_requests_per_connection}")
            if conflicts:
                raise ProducerConfigError(
                    f"enable_idempotence=True is incompatible with {', '.join(conflicts)} "
                    "(idempotence needs acks='all', retries > 0 and at most 5 requests in "
                    "flight per broker)")


__all__ = ["ACKS_ALL", "ProducerConfig", "ProducerConfigError"]
