"""Which partition a record goes to: Kafka's murmur2 for keys, sticky for keyless records.

Owns: ``murmur2`` (Kafka's ``Utils.murmur2``, seed 0x9747b28c, as a signed int32),
``partition_for_key`` (``toPositive(murmur2(key)) % partitions``, so keys land where a Kafka
client would put them) and ``DefaultPartitioner``: keyed records by hash; keyless records
stick to one partition per topic until the producer completes a batch for it
(``on_new_batch``), then move to another available partition, chosen with the injected
``random.Random`` (Kafka's ``StickyPartitionCache``).

Must never: do I/O; the producer asks, the partitioner answers.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Sequence

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes | bytearray | memoryview) -> int:
    """Kafka's ``Utils.murmur2`` of ``data``, as a signed 32-bit int."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    words = length >> 2
    for k in struct.unpack_from(f"<{words}I", data):
        k = (k * _M) & _MASK
        k ^= k >> 24
        h = ((h * _M) & _MASK) ^ ((k * _M) & _MASK)
    tail = length & 3
    if tail:
        base = words << 2
        if tail == 3:
            h ^= data[base + 2] << 16
        if tail >= 2:
            h ^= data[base + 1] << 8
        h = ((h ^ data[base]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - 0x100000000 if h & 0x80000000 else h


def partition_for_key(key: bytes | bytearray | memoryview, num_partitions: int) -> int:
    """Kafka's keyed choice: ``(murmur2(key) & 0x7fffffff) % num_partitions``."""
    if num_partitions <= 0:
        raise ValueError(f"num_partitions must be positive, got {num_partitions}")
    return (murmur2(key) & 0x7FFFFFFF) % num_partitions


class DefaultPartitioner:
    """Keyed records by murmur2 over all partitions; keyless ones sticky per topic."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng if rng is not None else random.Random()
        self._sticky: dict[str, int] = {}

    def partition(self, topic: str, key: bytes | bytearray | memoryview | None,
                  num_partitions: int, available: Sequence[int] | None = None) -> int:
        """The partition of one record.  ``available``: partitions with a leader now
        (default: all); only keyless records avoid unavailable ones, as in Kafka."""
        if key is not None:
            return partition_for_key(key, num_partitions)
        current = self._sticky.get(topic)
        if current is None or current >= num_partitions:
            return self._choose(topic, num_partitions, available, None)
        return current

    def on_new_batch(self, topic: str, num_partitions: int, prev_partition: int,
                     available: Sequence[int] | None = None) -> int:
        """The producer completed a batch for ``prev_partition``: keyless records of
        ``topic`` move to another partition (unless they already did).  Returns it."""
        current = self._sticky.get(topic)
        if current is None or current == prev_partition or current >= num_partitions:
            return self._choose(topic, num_partitions, available, current)
        return current

    def _choose(self, topic: str, num_partitions: int, available: Sequence[int] | None,
                previous: int | None) -> int:
        if num_partitions <= 0:
            raise ValueError(f"num_partitions must be positive, got {num_partitions}")
        candidates = [p for p in (range(num_partitions) if available is None else available)
                      if 0 <= p < num_partitions]
        if not candidates:
            chosen = self.rng.randrange(num_partitions)
        elif len(candidates) == 1:
            chosen = candidates[0]
        else:
            others = [p for p in candidates if p != previous]
            chosen = others[self.rng.randrange(len(others))]
        self._sticky[topic] = chosen
        return chosen


__all__ = ["DefaultPartitioner", "murmur2", "partition_for_key"]
