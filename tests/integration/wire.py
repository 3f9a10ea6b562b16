"""Test helpers that speak the broker protocol directly (no client library): an idempotent
raw producer that retries a batch until acknowledged, and a reader of whole partitions."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from zafka.chaos.reading import broker_ref, leader_of, read_partition
from zafka.client.admin import Admin
from zafka.core.errors import ZafkaError, error_for
from zafka.core.messages import (
    InitProducerIdRequest,
    ProducePartitionData,
    ProduceRequest,
)
from zafka.storage.records import Record, encode_batch

from zafka.launcher import Cluster


@dataclass
class RawProducer:
    """Produces numbered values; a failed attempt is retried with the same batch."""

    cluster: Cluster
    admin: Admin
    topic: str
    acks: int = -1
    idempotent: bool = True
    producer_id: int = -1
    sequences: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.idempotent:
            alive = next(n for n in self.cluster.brokers if n.running())
            reply = self.cluster.ref(alive.name, "broker").ask(InitProducerIdRequest(),
                                                               10).result()
            self.producer_id = reply.producer_id

    def attempt(self, partition: int, batch: bytes, timeout: float = 5.0) -> int:
        """One try; returns the base offset or raises the Kafka-named error."""
        leader = leader_of(self.admin, self.topic, partition)
        if leader < 0:
            raise error_for(5, "no leader")
        request = ProduceRequest(acks=self.acks, timeout_ms=int(timeout * 1000), partitions=(
            ProducePartitionData(topic=self.topic, partition=partition,
                                 records=memoryview(bytearray(batch))),))
        reply = broker_ref(self.cluster, leader).ask(request, timeout + 1).result()
        part = reply.partitions[0]
        if part.error:
            raise error_for(part.error, part.error_message)
        return int(part.base_offset)

    def send(self, partition: int, values: list[bytes], deadline_s: float = 30.0) -> int:
        """Send ``values`` as one batch until acknowledged; returns its base offset."""
        sequence = self.sequences.get(partition, 0)
        batch = encode_batch([Record(key=None, value=v, timestamp_ms=int(time.time() * 1000))
                              for v in values],
                             producer_id=self.producer_id, producer_epoch=0 if self.idempotent
                             else -1, base_sequence=sequence if self.idempotent else -1)
        deadline = time.monotonic() + deadline_s
        while True:
            try:
                offset = self.attempt(partition, batch)
                self.sequences[partition] = sequence + len(values)
                return offset
            except ZafkaError as error:
                if not error.retriable or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def wait_until(condition, timeout: float = 20.0, interval: float = 0.1, what: str = ""):  # type: ignore[no-untyped-def]
    """Poll ``condition`` until it returns a truthy value; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(interval)


__all__ = ["RawProducer", "broker_ref", "leader_of", "read_partition", "wait_until"]
