"""GroupActor: the consumer-group coordinator of one broker.

Owns: a ``core.group.GroupCoordinator`` for the ``__consumer_offsets`` partitions this broker
leads, the replays in progress of partitions it just took over, and the appends in flight to
those partitions.  Group state is written as records to the replicated, compacted
``__consumer_offsets`` topic through the partition's own replica actor (``acks=all``), and a
new leader rebuilds it by reading that replica's log from its start before it answers for
the partition's groups (until then they get ``NotCoordinator``, which clients retry).

Handlers feed the core and carry out its effects: appends first, then replies.

Must never: answer for a partition whose log it has not replayed, or block.
"""

from __future__ import annotations

import os
import random
import time
from typing import Any, cast

from zafka.actors.base import BaseActor, handler_name
from zafka.actors.metrics import GroupMetricsMixin
from zafka.actors.replica import replica_actor_name
from zafka.actors.runtime import NodeRuntime
from zafka.core.errors import ErrorCode
from zafka.core.group import GroupCoordinator
from zafka.core.group_codec import OFFSETS_TOPIC
from zafka.core.group_model import GroupEffects, GroupLimits
from zafka.core.messages import (
    DeletedGroup,
    DeleteGroupsRequest,
    DeleteGroupsResponse,
    DescribeGroupsRequest,
    DescribeGroupsResponse,
    Envelope,
    GroupPartitions,
    HeartbeatRequest,
    HeartbeatResponse,
    JoinGroupRequest,
    JoinGroupResponse,
    LeaveGroupRequest,
    LeaveGroupResponse,
    ListGroupsRequest,
    ListGroupsResponse,
    OffsetCommitPartitionResponse,
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetFetchRequest,
    OffsetFetchResponse,
    ProducePartitionData,
    ReplicaCallDone,
    ReplicaProduce,
    ReplicaRead,
    ReplicaReadDone,
    SyncGroupRequest,
    SyncGroupResponse,
    Tick,
)
from zafka.storage.records import Record, decode_batches, encode_batch

GROUP_REQUESTS = (JoinGroupRequest, SyncGroupRequest, HeartbeatRequest, LeaveGroupRequest,
                  OffsetCommitRequest, OffsetFetchRequest, ListGroupsRequest,
                  DescribeGroupsRequest, DeleteGroupsRequest)
TICK_EVERY = 5
READ_BYTES = 4 * 1024 * 1024
APPEND_TIMEOUT_MS = 10_000


class GroupActor(GroupMetricsMixin, BaseActor):
    """A broker's group coordinator (see the module docstring)."""

    def __init__(self, runtime: NodeRuntime, name: str) -> None:
        super().__init__(runtime, name)
        tunables = runtime.tunables
        self.limits = GroupLimits(
            tick_ms=tunables.tick_ms,
            group_min_session_timeout_ms=tunables.group_min_session_timeout_ms,
            group_max_session_timeout_ms=tunables.group_max_session_timeout_ms,
            group_initial_rebalance_delay_ms=tunables.group_initial_rebalance_delay_ms,
        ).validate()
        self.rng = random.Random(os.urandom(16))
        self.core: GroupCoordinator | None = None
        self.loading: dict[int, list[tuple[bytes, bytes | None]]] = {}  # partition -> records
        self.appends: dict[int, int] = {}  # call id -> append id
        self.reads: dict[int, int] = {}  # call id -> partition
        self.next_call = 0
        self.last_tick = 0

    # --- ownership ----------------------------------------------------------------------

    def on_group_partitions(self, message: GroupPartitions, envelope: Envelope) -> None:
        if self.core is None or self.core.num_offsets_partitions != message.num_partitions:
            self.core = GroupCoordinator(message.num_partitions, self.rng, self.limits)
            self.loading.clear()
        core = self.core
        led = set(message.led)
        for partition in sorted((core.owned_partitions | set(self.loading)) - led):
            self.loading.pop(partition, None)
            if partition in core.owned_partitions:
                self.carry_out(core.unload(partition))
        for partition in sorted(led - core.owned_partitions - set(self.loading)):
            self.loading[partition] = []
            self.read(partition, -1)
        self.wake_in(TICK_EVERY)

    def read(self, partition: int, offset: int) -> None:
        self.next_call += 1
        self.reads[self.next_call] = partition
        self.send(self.runtime.address, replica_actor_name(OFFSETS_TOPIC, partition),
                  ReplicaRead(call_id=self.next_call, offset=offset, max_bytes=READ_BYTES),
                  reply_to=self.name)

    def on_replica_read_done(self, message: ReplicaReadDone, envelope: Envelope) -> None:
        partition = self.reads.pop(message.call_id, None)
        if partition is None or partition not in self.loading or self.core is None:
            return
        if message.error != ErrorCode.NONE:
            self.logger.warning("replaying %s-%d failed (%s); retrying", OFFSETS_TOPIC,
                                partition, message.error.name)
            self.read(partition, -1)
            self.loading[partition] = []
            return
        records = decode_batches(message.records) if len(message.records) else []
        self.loading[partition].extend((r.key or b"", r.value) for r in records)
        if records and records[-1].offset + 1 < message.log_end_offset:
            self.read(partition, records[-1].offset + 1)
            return
        self.core.load(partition, self.loading.pop(partition))
        self.logger.info("coordinating the groups of %s-%d (%d groups in all)", OFFSETS_TOPIC,
                         partition, len(self.core.groups))

    # --- requests -----------------------------------------------------------------------

    def on_group_request(self, request: Any, envelope: Envelope) -> None:
        if self.core is None:
            self.reply(envelope, _not_coordinator(request))
            return
        handler = getattr(self.core, handler_name(type(request)).removesuffix("_request"))
        self.carry_out(handler(request, envelope))

    def on_tick(self, tick: Tick) -> None:
        if self.core is None:
            return
        elapsed = max(1, tick.count - self.last_tick) if self.last_tick else 1
        self.last_tick = tick.count
        self.carry_out(self.core.tick(elapsed))
        self.wake_in(TICK_EVERY)

    # --- effects ------------------------------------------------------------------------

    def carry_out(self, effects: GroupEffects) -> None:
        for append in effects.appends:
            now = int(time.time() * 1000)
            batch = encode_batch([Record(key=k, value=v, timestamp_ms=now)
                                  for k, v in append.records])
            self.next_call += 1
            self.appends[self.next_call] = append.append_id
            self.send(self.runtime.address, replica_actor_name(OFFSETS_TOPIC, append.partition),
                      ReplicaProduce(call_id=self.next_call, acks=-1,
                                     timeout_ms=APPEND_TIMEOUT_MS,
                                     data=ProducePartitionData(
                                         topic=OFFSETS_TOPIC, partition=append.partition,
                                         records=memoryview(bytearray(batch)))),
                      reply_to=self.name)
        for reply in effects.replies:
            self.reply(cast(Envelope, reply.reply_to), reply.body)

    def on_replica_call_done(self, message: ReplicaCallDone, envelope: Envelope) -> None:
        append_id = self.appends.pop(message.call_id, None)
        if append_id is None or self.core is None:
            return
        self.carry_out(self.core.on_append_done(append_id, message.response.error))


def _not_coordinator(request: Any) -> Any:
    """The reply for a group request when this broker coordinates nothing yet."""
    error = ErrorCode.NOT_COORDINATOR
    if isinstance(request, OffsetCommitRequest):
        return OffsetCommitResponse(partitions=tuple(
            OffsetCommitPartitionResponse(topic=p.topic, partition=p.partition,
                                          error_code=error) for p in request.offsets))
    if isinstance(request, ListGroupsRequest):
        return ListGroupsResponse(error_code=ErrorCode.NONE, groups=())
    if isinstance(request, DescribeGroupsRequest):
        return DescribeGroupsResponse(groups=())
    if isinstance(request, DeleteGroupsRequest):
        return DeleteGroupsResponse(results=tuple(DeletedGroup(group_id=g, error_code=error)
                                                  for g in request.group_ids))
    return {JoinGroupRequest: JoinGroupResponse, SyncGroupRequest: SyncGroupResponse,
            HeartbeatRequest: HeartbeatResponse, LeaveGroupRequest: LeaveGroupResponse,
            OffsetFetchRequest: OffsetFetchResponse}[type(request)](error_code=error)


for _type in GROUP_REQUESTS:
    setattr(GroupActor, handler_name(_type), GroupActor.on_group_request)

__all__ = ["GroupActor"]
