"""The follower side of ``ReplicaActor``: truncate by leader epoch, then fetch in a loop.

Owns (as a mixin of ``ReplicaActor``, which owns the log): the replica's
``core.replication_follower.FollowerState`` while another broker leads the partition.
Fetches travel batched through this broker's fetcher for the leader (``actors.fetcher``);
``OffsetForLeaderEpoch`` goes straight to the leader broker.  A fetched batch is appended and
fsynced before the next fetch reports the new log end.

Must never: append anything but what the leader sent for the request the core awaits.
"""

from __future__ import annotations

from typing import Any

from zafka.actors.fetcher import fetcher_name
from zafka.actors.replica_io import fetch_request_for
from zafka.core.errors import ErrorCode
from zafka.core.messages import (
    Envelope,
    EpochEndOffset,
    FetchedPartition,
    FetchWant,
    OffsetForLeaderEpochPartition,
    OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse,
    PartitionRecord,
)
from zafka.core.replication_follower import FollowerRequestKind, FollowerState
from zafka.core.replication_types import TruncationDecision

FETCH_WANT_TIMEOUT_TICKS = 300
"""A fetch handed to the fetcher is sent again after this long unanswered (3 s, not one fetch
wait): the fetcher itself retries a request the leader did not answer, so this is a safety
net, and an idle follower is woken for it every 3 s rather than every second.  (At 30 s, one
CI chaos run saw a follower restarted with an empty log stay behind for 30 s: some path
still loses a want, and this bounds what it costs.)"""


class FollowerMixin:
    """Follower behaviour of a replica actor (see the module docstring)."""

    follower: FollowerState | None
    leader_address: str
    log: Any
    logger: Any
    record: PartitionRecord
    broker_id: int
    broker_epoch: int
    runtime: Any
    tunables: Any
    name: str
    send: Any
    wake_in: Any
    resign: Any
    flush_log: Any
    @property
    def now_tick(self) -> int:  # ReplicaActor's
        raise NotImplementedError

    @property
    def tp(self) -> str:  # ReplicaActor's
        raise NotImplementedError

    def follow(self, record: PartitionRecord) -> None:
        self.resign()
        if self.follower is None:
            self.follower = FollowerState(
                topic=record.topic, partition=record.partition, replica_id=self.broker_id,
                leader_id=record.leader, leader_epoch=record.leader_epoch,
                log_end_offset=self.log.log_end_offset, last_epoch=self.log.latest_epoch,
                high_watermark=self.log.high_watermark_checkpoint,
                flushed_offset=self.log.recovery_point,
                fsync_before_ack=self.log.config.fsync_before_ack,
                request_id_base=max(0, self.broker_epoch) << 32,
                fetch_timeout_ticks=FETCH_WANT_TIMEOUT_TICKS, tunables=self.tunables)
            self.logger.info("%s follows broker %d in epoch %d", self.tp, record.leader,
                          record.leader_epoch)
        elif self.follower.become_follower(leader_id=record.leader,
                                           leader_epoch=record.leader_epoch):
            self.logger.info("%s follows broker %d in epoch %d", self.tp, record.leader,
                          record.leader_epoch)
        self.poll_leader()

    def poll_leader(self) -> None:
        follower = self.follower
        if follower is None or not self.leader_address:
            return
        request = follower.poll(self.now_tick)
        if request is None:
            return
        self.logger.debug("%s %s #%d to broker %d epoch %d at %d", self.tp, request.kind.value,
                          request.request_id, request.leader_id,
                          request.current_leader_epoch, request.fetch_offset)
        if request.kind is FollowerRequestKind.FETCH:
            fetch = fetch_request_for(self.broker_id, self.record, self.log, request,
                                      self.tunables)
            self.send(self.runtime.address, fetcher_name(self.leader_address),
                      FetchWant(replica=self.name, request_id=request.request_id,
                                partition=fetch.partitions[0]))
        else:
            self.send(self.leader_address, "broker", OffsetForLeaderEpochRequest(
                replica_id=self.broker_id, partitions=(OffsetForLeaderEpochPartition(
                    topic=self.record.topic, partition=self.record.partition,
                    leader_epoch=request.last_fetched_epoch,
                    current_leader_epoch=request.current_leader_epoch),)),
                correlation_id=request.request_id, reply_to=self.name)
        self.wake_in(follower.timeout_ticks(request.kind) + 1)

    def on_fetched_partition(self, message: FetchedPartition, envelope: Envelope) -> None:
        follower = self.follower
        part = message.response
        self.logger.debug("%s fetched #%d: %s, %d bytes", self.tp, message.request_id,
                          part.error.name, len(part.records))
        if follower is None or not follower.accepts_fetch(message.request_id):
            return
        decision = follower.on_fetch_response(
            request_id=message.request_id, error=part.error,
            high_watermark=part.high_watermark, diverging_epoch=part.diverging_epoch,
            history=self.log, now_tick=self.now_tick)
        if decision is not None:
            self.truncate(decision)
        elif part.error == ErrorCode.NONE and len(part.records):
            self.log.append_as_follower(part.records)
            self.report_log_end(flush=self.log.config.fsync_before_ack)
        elif part.error == ErrorCode.OFFSET_OUT_OF_RANGE \
                and part.log_start_offset > self.log.log_end_offset:
            self.logger.info("%s starts again at the leader's log start %d", self.tp,
                             part.log_start_offset)
            self.log.truncate_fully_and_start_at(part.log_start_offset)
            self.report_log_end(flush=True)
        self.poll_leader()

    def on_offset_for_leader_epoch_response(self, response: OffsetForLeaderEpochResponse,
                                            envelope: Envelope) -> None:
        if self.follower is None:
            return
        part = response.partitions[0]
        decision = self.follower.on_offset_for_leader_epoch_response(
            request_id=envelope.correlation_id, error=part.error,
            epoch_end=EpochEndOffset(leader_epoch=part.leader_epoch, end_offset=part.end_offset),
            history=self.log, now_tick=self.now_tick)
        if decision is not None:
            self.truncate(decision)
        self.poll_leader()

    def truncate(self, decision: TruncationDecision) -> None:
        if decision.truncate_to < self.log.log_end_offset:
            self.logger.info("%s truncating from %d to %d", self.tp, self.log.log_end_offset,
                          decision.truncate_to)
        self.log.truncate_to(decision.truncate_to)
        self.report_log_end(flush=True)

    def report_log_end(self, *, flush: bool) -> None:
        assert self.follower is not None
        flushed = self.flush_log() if flush else self.log.recovery_point
        self.follower.on_log_end(log_end_offset=self.log.log_end_offset,
                                 last_epoch=self.log.latest_epoch, flushed_offset=flushed)
