"""Broker services that need only the metadata image: topic metadata for clients, producer
ids for idempotent producers, and finding a group's coordinator.

Owns (as a mixin of ``BrokerActor``): this broker's block of producer ids and the queue of
``InitProducerId`` requests waiting for a block; nothing else.  ``__consumer_offsets`` is
created through the controller the first time a group coordinator is looked up, as Kafka
does; until it has a leader the answer is ``CoordinatorNotAvailable`` (retriable).

Must never: block; requests that need the controller are answered from its reply.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zafka.actors.channel import ControllerChannel
from zafka.core.errors import ErrorCode
from zafka.core.group_codec import OFFSETS_TOPIC, offsets_partition_for
from zafka.core.messages import (
    AllocateProducerIdsReply,
    AllocateProducerIdsRequest,
    CreateTopicsRequest,
    DescribeTopicsReply,
    DescribeTopicsRequest,
    Envelope,
    ErrorReply,
    FindCoordinatorRequest,
    FindCoordinatorResponse,
    InitProducerIdRequest,
    InitProducerIdResponse,
    MetadataImage,
    NewTopic,
    TopicDescription,
)

PRODUCER_ID_WAITERS_MAX = 10_000


def describe_image(image: MetadataImage | None, names: tuple[str, ...],
                   include_internal: bool = True) -> DescribeTopicsReply:
    """Topic descriptions from a broker's image (``names`` () = every topic)."""
    if image is None:
        return DescribeTopicsReply(topics=tuple(
            TopicDescription(name=n, error=ErrorCode.LEADER_NOT_AVAILABLE,
                             message="this broker has no metadata yet") for n in names),
            brokers=())
    by_name = {t.name: t for t in image.topics}
    chosen = names or tuple(sorted(n for n, t in by_name.items()
                                   if include_internal or not t.internal))
    topics = []
    for name in chosen:
        topic = by_name.get(name)
        if topic is None:
            topics.append(TopicDescription(name=name,
                                           error=ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                                           message=f"topic {name!r} does not exist"))
            continue
        partitions = tuple(p for p in image.partitions if p.topic_id == topic.topic_id)
        topics.append(TopicDescription(name=name, topic_id=topic.topic_id,
                                       internal=topic.internal, partitions=partitions))
    return DescribeTopicsReply(topics=tuple(topics), brokers=image.brokers)


class ServicesMixin:
    """Client-facing services of ``BrokerActor``."""

    image: MetadataImage | None
    channel: ControllerChannel
    runtime: Any
    tunables: Any
    broker_epoch: int
    reply: Callable[[Envelope, Any], None]
    producer_ids: tuple[int, int]  # [next, end)
    producer_id_waiters: list[Envelope]
    creating_offsets_topic: bool

    def on_describe_topics_request(self, request: DescribeTopicsRequest,
                                   envelope: Envelope) -> None:
        self.reply(envelope, describe_image(self.image, request.names))

    # --- producer ids -------------------------------------------------------------------

    def on_init_producer_id_request(self, request: InitProducerIdRequest,
                                    envelope: Envelope) -> None:
        if request.transactional_id is not None:
            self.reply(envelope, InitProducerIdResponse(
                error=ErrorCode.INVALID_REQUEST, message="transactions are not supported"))
            return
        if len(self.producer_id_waiters) >= PRODUCER_ID_WAITERS_MAX:
            self.reply(envelope, InitProducerIdResponse(error=ErrorCode.REQUEST_TIMED_OUT,
                                                        message="too many waiting producers"))
            return
        self.producer_id_waiters.append(envelope)
        self.hand_out_producer_ids()

    def hand_out_producer_ids(self) -> None:
        while self.producer_id_waiters:
            next_id, end = self.producer_ids
            if next_id >= end:
                self.request_producer_id_block()
                return
            self.producer_ids = (next_id + 1, end)
            self.reply(self.producer_id_waiters.pop(0),
                       InitProducerIdResponse(producer_id=next_id, producer_epoch=0))

    def request_producer_id_block(self) -> None:
        if self.producer_ids == (-1, -1) or self.broker_epoch < 0:
            return  # a block is on its way, or we are not registered yet
        self.producer_ids = (-1, -1)

        def on_block(reply: AllocateProducerIdsReply | ErrorReply) -> None:
            if isinstance(reply, ErrorReply) or reply.error != ErrorCode.NONE:
                self.producer_ids = (0, 0)
                for waiter in self.producer_id_waiters:
                    self.reply(waiter, InitProducerIdResponse(
                        error=ErrorCode.COORDINATOR_NOT_AVAILABLE,
                        message=f"no producer id block: {reply.message}"))
                self.producer_id_waiters.clear()
                return
            first = reply.first_producer_id
            self.producer_ids = (first, first + reply.count)
            self.hand_out_producer_ids()

        self.channel.request(AllocateProducerIdsRequest(
            broker_id=self.runtime.node_id, broker_epoch=self.broker_epoch,
            count=self.tunables.producer_id_block_size), on_block)

    # --- group coordinators -------------------------------------------------------------

    def on_find_coordinator_request(self, request: FindCoordinatorRequest,
                                    envelope: Envelope) -> None:
        image = self.image
        topic = next((t for t in image.topics if t.name == OFFSETS_TOPIC), None) \
            if image else None
        if image is None or topic is None:
            self.create_offsets_topic()
            self.reply(envelope, FindCoordinatorResponse(
                error_code=ErrorCode.COORDINATOR_NOT_AVAILABLE))
            return
        partition = offsets_partition_for(request.group_id, topic.num_partitions)
        record = next(p for p in image.partitions
                      if p.topic_id == topic.topic_id and p.partition == partition)
        leader = next((b for b in image.brokers if b.broker_id == record.leader), None)
        if leader is None:
            self.reply(envelope, FindCoordinatorResponse(
                error_code=ErrorCode.COORDINATOR_NOT_AVAILABLE, partition=partition))
            return
        self.reply(envelope, FindCoordinatorResponse(
            error_code=ErrorCode.NONE, node_id=leader.broker_id, address=leader.address,
            partition=partition))

    def create_offsets_topic(self) -> None:
        if self.creating_offsets_topic or self.image is None:
            return
        self.creating_offsets_topic = True
        live = sum(1 for b in self.image.brokers if not b.fenced)
        replication = max(1, min(self.tunables.offsets_topic_replication_factor, live))

        def done(reply: Any) -> None:
            self.creating_offsets_topic = False

        self.channel.request(CreateTopicsRequest(topics=(NewTopic(
            name=OFFSETS_TOPIC, num_partitions=self.tunables.offsets_topic_partitions,
            replication_factor=replication,
            configs=(("cleanup.policy", "compact"),
                     ("min.insync.replicas", min(2, replication))),
            internal=True),)), done)


__all__ = ["ServicesMixin", "describe_image"]
