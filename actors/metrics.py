"""The actors' side of the node metrics: mixins that count, time and publish snapshots.

Owns: nothing an actor decides with.  Each mixin sits first in its actor's bases, runs the
actor's own handling unchanged, then publishes a new immutable snapshot to the runtime's
``NodeMetrics`` board when what it shows has changed (a tuple compared per message), and
updates counters and histograms as requests are answered.

Must never: change what an actor does, send a message, or block.
"""

from __future__ import annotations

import time
from typing import Any

from zafka.actors.base import BaseActor
from zafka.core.errors import ErrorCode
from zafka.core.messages import (
    Envelope,
    FetchRequest,
    FetchResponse,
    ProduceRequest,
    ProduceResponse,
)
from zafka.metrics import (
    BrokerSnapshot,
    CoordinatorSnapshot,
    GroupOffsetsSnapshot,
    NodeMetrics,
    ReplicaSnapshot,
    count_messages,
)

TIMED_MAX = 100_000
"""Requests timed at once by one actor; beyond it the table is cleared (bounded memory)."""
COORDINATOR_PUBLISH_S = 0.2
GROUP_PUBLISH_S = 1.0


def _metrics(actor: BaseActor) -> NodeMetrics:
    return actor.runtime.metrics


class ReplicaMetricsMixin(BaseActor):
    """For ``ReplicaActor``: the replica snapshot, ISR changes, elections, fsync and
    replication-wait times."""

    leader: Any
    follower: Any
    record: Any
    log: Any
    removed: bool
    _metrics_key: tuple[Any, ...] = ()
    _produce_since: dict[tuple[str, int], float] | None = None

    def on_receive(self, message: Any) -> Any:
        result = super().on_receive(message)
        self.publish_replica_metrics()
        return result

    def publish_replica_metrics(self) -> None:
        metrics, record = _metrics(self), self.record
        key_tp = (record.topic, record.partition)
        if self.removed:
            metrics.replicas.pop(key_tp, None)
            metrics.published()
            return
        leader, log = self.leader, self.log
        if leader is not None:
            role, epoch, isr, replicas, hw = ("leader", leader.leader_epoch, leader.isr,
                                              leader.replicas, leader.high_watermark)
        else:
            follower = self.follower
            role = "follower" if follower is not None else "offline"
            epoch, isr, replicas = record.leader_epoch, record.isr, record.replicas
            hw = follower.high_watermark if follower is not None else -1
        key = (role, epoch, isr, len(replicas), log.log_start_offset, log.log_end_offset, hw,
               len(log.segments))
        previous = self._metrics_key
        if key == previous:
            return
        self._metrics_key = key
        if role == "leader":
            if not previous or previous[0] != "leader" or previous[1] != epoch:
                metrics.leader_elections.inc()
            elif len(isr) < len(previous[2]):
                metrics.isr_shrinks.inc()
            elif len(isr) > len(previous[2]):
                metrics.isr_expands.inc()
        metrics.replicas[key_tp] = ReplicaSnapshot(
            topic=record.topic, partition=record.partition, role=role, leader_epoch=epoch,
            replicas=len(replicas), isr=len(isr), log_start_offset=log.log_start_offset,
            log_end_offset=log.log_end_offset, high_watermark=hw, size_bytes=log.size_bytes,
            segments=len(log.segments))
        metrics.published()

    def flush_log(self) -> int:
        """``self.log.flush()``, timed."""
        began = time.perf_counter()
        flushed: int = self.log.flush()
        _metrics(self).log_flush_seconds.observe(time.perf_counter() - began)
        return flushed

    def time_held(self, envelope: Envelope, what: Any) -> None:
        """A call is held: a produce (``(call_id, response)``) waits for its acks."""
        if type(what) is tuple:
            since = self._produce_since
            if since is None or len(since) >= TIMED_MAX:
                since = self._produce_since = {}
            since[(envelope.reply_to, what[0])] = time.perf_counter()

    def time_done(self, envelope: Envelope, call_id: int) -> None:
        """A call is answered: if it was a held produce, observe how long it waited."""
        since = self._produce_since
        if since:
            began = since.pop((envelope.reply_to, call_id), None)
            if began is not None:
                _metrics(self).replication_wait_seconds.observe(time.perf_counter() - began)


class BrokerMetricsMixin(BaseActor):
    """For ``BrokerActor``: request times, bytes and records in and out per topic, and the
    broker snapshot."""

    fenced: bool
    broker_epoch: int
    image: Any
    hosted: dict[tuple[str, int], str]
    _timed: dict[int, tuple[str, float, Any]] | None = None
    _broker_key: tuple[Any, ...] = ()

    def on_receive(self, message: Any) -> Any:
        if type(message) is Envelope:
            body = message.body
            kind = type(body)
            if kind is ProduceRequest or kind is FetchRequest:
                self.start_timing(message, body)
        result = super().on_receive(message)
        self.publish_broker_metrics()
        return result

    def start_timing(self, envelope: Envelope, body: Any) -> None:
        if type(body) is ProduceRequest:
            if body.acks == 0:  # never answered: count what came in now
                self.count_produced(body, None)
                return
            request = "produce"
        else:
            request = "fetch_consumer" if body.replica_id < 0 else "fetch_follower"
        timed = self._timed
        if timed is None or len(timed) >= TIMED_MAX:
            timed = self._timed = {}
        timed[id(envelope)] = (request, time.perf_counter(), body)

    def reply(self, envelope: Envelope, body: Any) -> None:
        timed = self._timed
        entry = timed.pop(id(envelope), None) if timed else None
        if entry is not None:  # counted before the answer leaves: its reader sees them
            request, began, asked = entry
            _metrics(self).request_seconds.labels(request).observe(time.perf_counter() - began)
            if type(body) is ProduceResponse:
                self.count_produced(asked, body)
            elif type(body) is FetchResponse and request == "fetch_consumer":
                self.count_fetched(body)
        super().reply(envelope, body)

    def count_produced(self, request: ProduceRequest, response: ProduceResponse | None) -> None:
        metrics = _metrics(self)
        answers = response.partitions if response is not None else ()
        for slot, part in enumerate(request.partitions):
            if answers and (slot >= len(answers) or answers[slot].error != ErrorCode.NONE):
                continue
            counters = metrics.topic(part.topic)
            counters.bytes_in.inc(len(part.records))
            counters.messages_in.inc(count_messages(part.records))

    def count_fetched(self, response: FetchResponse) -> None:
        metrics = _metrics(self)
        for part in response.partitions:
            size = len(part.records)
            if size:
                counters = metrics.topic(part.topic)
                counters.bytes_out.inc(size)
                counters.messages_out.inc(count_messages(part.records))

    def publish_broker_metrics(self) -> None:
        offset = self.image.offset if self.image is not None else 0
        key = (self.broker_epoch, self.fenced, offset, len(self.hosted))
        if key != self._broker_key:
            self._broker_key = key
            _metrics(self).broker = BrokerSnapshot(
                broker_epoch=self.broker_epoch, fenced=self.fenced, metadata_offset=offset,
                replicas_hosted=len(self.hosted))


class CoordinatorMetricsMixin(BaseActor):
    """For ``CoordinatorActor``: the Raft member and the metadata's partition health."""

    raft: Any
    metadata: Any
    controller: Any
    _coordinator_key: tuple[Any, ...] = ()
    _coordinator_published = 0.0

    def on_receive(self, message: Any) -> Any:
        result = super().on_receive(message)
        self.publish_coordinator_metrics()
        return result

    def publish_coordinator_metrics(self) -> None:
        raft, metadata = self.raft, self.metadata
        key = (raft.role.value, raft.term, raft.leader_id, raft.commit_index,
               raft.applied_index, self.controller is not None, metadata.offset)
        now = time.monotonic()
        if key == self._coordinator_key or (
                key[:6] == self._coordinator_key[:6]
                and now - self._coordinator_published < COORDINATOR_PUBLISH_S):
            return  # only the metadata moved, and it was counted a moment ago
        self._coordinator_key, self._coordinator_published = key, now
        partitions = list(metadata.partitions.values())
        brokers = list(metadata.brokers.values())
        fenced = sum(1 for b in brokers if b.fenced)
        _metrics(self).coordinator = CoordinatorSnapshot(
            raft_role=key[0], term=raft.term, leader_id=-1 if raft.leader_id is None
            else raft.leader_id, commit_index=raft.commit_index,
            applied_index=raft.applied_index, active_controller=self.controller is not None,
            metadata_offset=metadata.offset, topics=len(metadata.topics),
            partitions=len(partitions),
            offline_partitions=sum(1 for p in partitions if p.leader < 0),
            brokers_fenced=fenced, brokers_unfenced=len(brokers) - fenced)


class GroupMetricsMixin(BaseActor):
    """For ``GroupActor``: the groups it coordinates and their committed offsets (at most
    once a second; the group actor ticks while it coordinates anything)."""

    core: Any
    _group_published = 0.0

    def on_receive(self, message: Any) -> Any:
        result = super().on_receive(message)
        now = time.monotonic()
        if now - self._group_published >= GROUP_PUBLISH_S:
            self._group_published = now
            self.publish_group_metrics()
        return result

    def publish_group_metrics(self) -> None:
        groups = list(self.core.groups.values()) if self.core is not None else []
        snapshot = GroupOffsetsSnapshot(
            states=tuple((g.group_id, g.state.value) for g in groups),
            committed=tuple((g.group_id, tp.topic, tp.partition, value.offset)
                            for g in groups for tp, value in list(g.offsets.items())))
        metrics = _metrics(self)
        if snapshot != metrics.groups:
            metrics.groups = snapshot
            metrics.published()


__all__ = ["BrokerMetricsMixin", "CoordinatorMetricsMixin", "GroupMetricsMixin",
           "ReplicaMetricsMixin"]
