"""Fixtures shared by the storage tests: one suite, two implementations (disk, memory)."""

from __future__ import annotations

from pathlib import Path

import pytest
from zafka.storage.log import LogConfig, PartitionLog
from zafka.storage.memory import MemoryDirectory, MemoryPartitionLog
from zafka.storage.records import ConsumerRecord, Record, decode_batches, encode_batch


class Clock:
    """An injected millisecond clock that moves only when told."""

    def __init__(self, now_ms: int = 1_000_000) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


class LogFactory:
    """Opens and reopens logs of one implementation in one place."""

    def __init__(self, kind: str, tmp_path: Path, clock: Clock) -> None:
        self.kind = kind
        self.path = tmp_path / "topic-0"
        self.clock = clock
        self.memory = MemoryDirectory()

    def open(self, config: LogConfig | None = None) -> PartitionLog:
        config = config or LogConfig()
        if self.kind == "disk":
            return PartitionLog.open(self.path, config, self.clock)
        return MemoryPartitionLog(self.memory, config, self.clock)

    def reopen(self, log: PartitionLog) -> PartitionLog:
        log.close()
        return self.open(log.config)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["disk", "memory"])
def logs(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> LogFactory:
    return LogFactory(request.param, tmp_path, clock)


def batch(values: list[bytes], *, keys: list[bytes | None] | None = None,
          timestamp_ms: int = 1_000_000, **kwargs: int) -> bytes:
    """A producer-side batch of ``values`` (timestamps ``timestamp_ms`` + i)."""
    keys = keys or [None] * len(values)
    records = [Record(k, v, timestamp_ms=timestamp_ms + i)
               for i, (k, v) in enumerate(zip(keys, values, strict=True))]
    return encode_batch(records, **kwargs)


def values_of(n: int, prefix: str = "v", size: int = 0) -> list[bytes]:
    return [f"{prefix}{i}".encode().ljust(size, b".") for i in range(n)]


def read_all(log: PartitionLog) -> list[ConsumerRecord]:
    """Every record from the log start to the LEO, read as a consumer would."""
    records: list[ConsumerRecord] = []
    offset = log.log_start_offset
    while offset < log.log_end_offset:
        found = decode_batches(log.read(offset, 1 << 20))
        assert found, f"no progress at {offset}"
        records += found
        offset = found[-1].offset + 1
    return records
