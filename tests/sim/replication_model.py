"""The plain parts of the replication simulation: the partition log model and the network.

Owns: ``MemoryLog`` (records with their epochs, a flushed mark and Kafka's leader-epoch cache;
a crash loses what was not flushed), the committed ``PartitionState`` the controller hands out,
``Msg`` and the seeded lossy ``Network`` (loss, delay and hence reorder, duplication, cut
links), and the constants of the simulated cluster.

Must never: decide anything about replication; the cores do (see ``replication_broker``).
"""

from __future__ import annotations

import dataclasses
import heapq
import random
from typing import Any

from zafka.core.config import Tunables
from zafka.core.producer_state import BatchHeader
from zafka.core.replication_types import UNDEFINED_EPOCH

TOPIC, PARTITION = "t", 0
BROKERS = (1, 2, 3)
CONTROLLER = 0
MIN_ISR = 2
TUNABLES = Tunables(replica_lag_time_max_ticks=40, replica_fetch_max_wait_ticks=8,
                    pending_acks_per_partition_max=64).validate()
SESSION_TIMEOUT_TICKS = 30
HEARTBEAT_TICKS = 4
PRODUCE_TIMEOUT_TICKS = 30
FETCH_MAX_RECORDS = 4


@dataclasses.dataclass(frozen=True)
class Record:
    """One record; the batch fields are those a RecordBatch v2 header carries."""

    offset: int
    epoch: int
    value: str
    producer_id: int
    producer_epoch: int
    base_sequence: int
    base_offset: int
    record_count: int


class MemoryLog:
    """The partition log model: records, flushed mark, Kafka's leader-epoch cache."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.flushed = 0
        self.epochs: list[tuple[int, int]] = []  # (epoch, start offset), durable
        self.verified = 0  # the world checked acknowledged records below this offset

    @property
    def log_end_offset(self) -> int:
        return len(self.records)

    @property
    def last_epoch(self) -> int:
        return self.epochs[-1][0] if self.epochs else UNDEFINED_EPOCH

    def assign_epoch(self, epoch: int, start_offset: int) -> None:
        if not self.epochs or epoch > self.epochs[-1][0]:
            self.epochs.append((epoch, start_offset))

    def append(self, records: list[Record]) -> None:
        for record in records:
            assert record.offset == len(self.records), "appends are contiguous"
            self.assign_epoch(record.epoch, record.offset)
            self.records.append(record)

    def truncate_to(self, offset: int) -> None:
        del self.records[offset:]
        self.flushed = min(self.flushed, offset)
        self.verified = min(self.verified, offset)
        self.epochs = [(e, s) for e, s in self.epochs if s < offset]

    def crash(self) -> None:
        del self.records[self.flushed:]
        self.verified = min(self.verified, self.flushed)
        self.epochs = [(e, s) for e, s in self.epochs if s <= self.flushed]

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        """Kafka's ``LeaderEpochFileCache.endOffsetFor``."""
        if not self.epochs or epoch == UNDEFINED_EPOCH:
            return UNDEFINED_EPOCH, -1
        if epoch == self.epochs[-1][0]:
            return epoch, self.log_end_offset
        higher = [(e, s) for e, s in self.epochs if e > epoch]
        if not higher:
            return UNDEFINED_EPOCH, -1
        floor = [(e, s) for e, s in self.epochs if e <= epoch]
        return (floor[-1][0] if floor else epoch), higher[0][1]

    def read(self, offset: int, max_records: int, max_offset: int) -> list[Record]:
        """Whole batches from ``offset``, about ``max_records`` (at least one batch)."""
        end = min(offset + max_records, max_offset)
        if end > offset:
            last = self.records[end - 1]
            end = last.base_offset + last.record_count
        return self.records[offset:end]

    def headers(self) -> list[BatchHeader]:
        return [BatchHeader(producer_id=r.producer_id, producer_epoch=r.producer_epoch,
                            base_sequence=r.base_sequence, record_count=r.record_count,
                            base_offset=r.base_offset)
                for r in self.records if r.offset == r.base_offset]


@dataclasses.dataclass(frozen=True)
class PartitionState:
    leader: int
    leader_epoch: int
    partition_epoch: int
    isr: frozenset[int]

    @property
    def version(self) -> tuple[int, int]:
        return self.leader_epoch, self.partition_epoch


@dataclasses.dataclass(frozen=True)
class Msg:
    """A message in flight; ``kind`` names it, ``body`` carries its fields."""

    src: int | str
    dst: int | str
    kind: str
    body: dict[str, Any]


class Network:
    """Seeded delivery with loss, delay (hence reorder), duplication and cut links."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.queue: list[tuple[int, int, Msg]] = []
        self.seq = 0
        self.chaos = False
        self.cut: set[tuple[int | str, int | str]] = set()

    def send(self, now: int, msg: Msg) -> None:
        copies = 1
        if self.chaos:
            if (msg.src, msg.dst) in self.cut or self.rng.random() < 0.08:
                return
            copies = 2 if self.rng.random() < 0.04 else 1
        for _ in range(copies):
            self.deliver_at(now + (self.rng.randint(1, 6) if self.chaos else 1), msg)

    def deliver_at(self, tick: int, msg: Msg) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (tick, self.seq, msg))

    def due(self, now: int) -> list[Msg]:
        ready = []
        while self.queue and self.queue[0][0] <= now:
            ready.append(heapq.heappop(self.queue)[2])
        return ready


