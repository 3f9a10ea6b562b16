"""Chaos workloads: producers, consumer-group members and samplers, each a bounded thread.

Owns: the client side of a chaos run.  Producers are idempotent ``acks="all"`` producers
sending unique, self-describing values (``b"p{producer}-{sequence}"``) round-robin over the
workload topic's partitions, at a paced rate with a bounded number in flight; every send, its
acknowledgement (with offset) or its error goes into the ``History``.  Group members poll the
topic in one consumer group and commit what they processed; every delivered record goes into
the history.  Samplers record each coordinator's Raft role and term, and the group's
committed offsets, over time.

Must never: retry a record above the client (a failed send stays failed: it may or may not
be in the log, but it must never appear twice), or run without a deadline.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from zafka.chaos.checker import History, Send
from zafka.client import Consumer, Producer, TopicPartition
from zafka.client.admin import ClientClosed
from zafka.core.errors import ZafkaError
from zafka.core.messages import StatusRequest

from zafka.launcher import Cluster

PRODUCER_OPTIONS: dict[str, Any] = dict(
    acks="all", enable_idempotence=True, linger_ms=5, request_timeout_ms=5_000,
    delivery_timeout_ms=30_000, max_block_ms=10_000, retry_backoff_ms=100)
MEMBER_OPTIONS: dict[str, Any] = dict(
    auto_offset_reset="earliest", enable_auto_commit=False, session_timeout_ms=3_000,
    heartbeat_interval_ms=300, request_timeout_ms=10_000, max_poll_records=500)
COMMIT_INTERVAL_S = 1.0
ERROR_PAUSE_S = 0.2


class Worker(threading.Thread):
    """A daemon thread that runs ``step()`` until stopped; errors are kept, not raised."""

    def __init__(self, name: str, history: History) -> None:
        super().__init__(name=name, daemon=True)
        self.history = history
        self.stopping = threading.Event()
        self.errors: list[str] = []

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        self.join(timeout)

    def failed(self, error: BaseException) -> None:
        if len(self.errors) < 100:
            self.errors.append(f"{type(error).__name__}: {error}")
        self.stopping.wait(ERROR_PAUSE_S)


class ProducerWorker(Worker):
    """Sends ``b"p{index}-{sequence}"`` to partition ``sequence % partitions``."""

    def __init__(self, index: int, cluster_file: str, topic: str, partitions: int,
                 history: History, rate_per_s: float, in_flight_max: int) -> None:
        super().__init__(f"chaos-producer-{index}", history)
        self.index = index
        self.cluster_file = cluster_file
        self.topic = topic
        self.partitions = partitions
        self.period_s = 1.0 / rate_per_s
        self.slots = threading.BoundedSemaphore(in_flight_max)
        self.sequence = 0
        self.producers_made = 0

    def make(self) -> Producer:
        self.producers_made += 1
        return Producer(self.cluster_file, client_id=f"chaos-{self.index}-{self.producers_made}",
                        **PRODUCER_OPTIONS)

    def run(self) -> None:
        producer = self.make()
        next_at = time.monotonic()
        try:
            while not self.stopping.is_set():
                next_at = max(next_at + self.period_s, time.monotonic() - 1.0)
                self.stopping.wait(max(0.0, next_at - time.monotonic()))
                if not self.slots.acquire(timeout=1.0):
                    continue
                if not self.send_one(producer):
                    producer.close(timeout=1)
                    producer = self.make()
        finally:
            try:
                producer.flush(timeout=45)
            except ZafkaError as error:
                self.errors.append(f"final flush: {type(error).__name__}: {error}")
            producer.close(timeout=5)

    def send_one(self, producer: Producer) -> bool:
        """Send the next value; False when this producer must be replaced."""
        partition = self.sequence % self.partitions
        value = f"p{self.index}-{self.sequence}".encode()
        send = self.history.invoke(value, self.index, self.sequence, partition)
        self.sequence += 1
        try:
            future = producer.send(self.topic, value, partition=partition)
        except ZafkaError as error:
            self.history.complete(send, None, error)
            self.slots.release()
            self.failed(error)
            return not isinstance(error, ClientClosed)
        future.add_both(self.on_outcome, send)
        return True

    def on_outcome(self, send: Send, outcome: Any) -> None:
        if isinstance(outcome, BaseException):
            self.history.complete(send, None, outcome)
        else:
            self.history.complete(send, outcome.offset, None)
        self.slots.release()


class GroupMember(Worker):
    """A member of the workload's consumer group: polls, records, commits positions."""

    def __init__(self, index: int, cluster_file: str, topic: str, group: str,
                 history: History) -> None:
        super().__init__(f"chaos-member-{index}", history)
        self.cluster_file = cluster_file
        self.topic = topic
        self.group = group
        self.delivered = 0

    def make(self) -> Consumer:
        return Consumer(self.topic, cluster=self.cluster_file, group_id=self.group,
                        **MEMBER_OPTIONS)

    def run(self) -> None:
        consumer = self.make()
        committed_at = time.monotonic()
        try:
            while not self.stopping.is_set():
                try:
                    records = consumer.poll(timeout_ms=200)
                    self.history.delivered((r.partition, r.offset, r.value) for r in records)
                    self.delivered += len(records)
                    if time.monotonic() - committed_at >= COMMIT_INTERVAL_S:
                        committed_at = time.monotonic()
                        consumer.commit()
                except ClientClosed as error:
                    self.failed(error)
                    consumer = self.make()
                except ZafkaError as error:  # CommitFailed, timeouts while faults last
                    self.failed(error)
        finally:
            try:
                consumer.commit()
            except ZafkaError as error:
                self.errors.append(f"final commit: {type(error).__name__}: {error}")
            consumer.close(autocommit=False, timeout_ms=5_000)


class CommitSampler(Worker):
    """Reads the group's committed offset of every partition about once a second."""

    def __init__(self, cluster_file: str, topic: str, partitions: int, group: str,
                 history: History) -> None:
        super().__init__("chaos-commit-sampler", history)
        self.consumer = Consumer(cluster=cluster_file, group_id=group,
                                 enable_auto_commit=False, request_timeout_ms=5_000)
        self.partitions = [TopicPartition(topic, p) for p in range(partitions)]

    def sample(self) -> None:
        for tp in self.partitions:
            offset = self.consumer.committed(tp)
            if isinstance(offset, int):
                self.history.observed_commit(tp.partition, offset)

    def run(self) -> None:
        try:
            while not self.stopping.wait(1.0):
                try:
                    self.sample()
                except ZafkaError as error:
                    self.failed(error)
        finally:
            self.consumer.close(autocommit=False, timeout_ms=2_000)


class CoordinatorSampler(Worker):
    """Asks every running coordinator for its Raft role and term every 200 ms."""

    def __init__(self, cluster: Cluster, history: History) -> None:
        super().__init__("chaos-coordinator-sampler", history)
        self.cluster = cluster

    def run(self) -> None:
        while not self.stopping.wait(0.2):
            asks = [(n.name, self.cluster.ref(n.name).ask(StatusRequest(), 0.5))
                    for n in self.cluster.coordinators if n.running()]
            for name, ask in asks:
                try:
                    raft = ask.result().coordinator
                except ZafkaError:
                    continue
                if raft is not None:
                    self.history.sampled_coordinator(name, raft.term, raft.raft_role.value)


__all__ = ["CommitSampler", "CoordinatorSampler", "GroupMember", "MEMBER_OPTIONS",
           "PRODUCER_OPTIONS", "ProducerWorker", "Worker"]
