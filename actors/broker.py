"""BrokerActor: registration, heartbeats, the local metadata image, request routing.

Owns: this broker's registration (incarnation and broker epoch), its copy of the committed
metadata image (followed by long-poll from the controller, like a KRaft observer), and the
set of replica / partition actors it runs for the replicas the image places here.

Life: register -> (epoch) -> fetch metadata until caught up -> heartbeat (the controller
unfences a broker whose metadata reached its registration offset) -> serve.  A heartbeat
answered with ``StaleBrokerEpoch`` (the controller fenced and forgot this incarnation) makes
the broker register again.

Must never: act on metadata older than what it already applied, or block.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

from zafka.actors.base import handler_name
from zafka.actors.broker_routing import RoutingMixin
from zafka.actors.broker_services import ServicesMixin
from zafka.actors.channel import ControllerChannel
from zafka.actors.fetcher import FetcherActor, fetcher_name
from zafka.actors.gather import CallTable
from zafka.actors.group import GroupActor
from zafka.actors.kafka_listener import KafkaListener, KafkaSettings, start_listener
from zafka.actors.metrics import BrokerMetricsMixin
from zafka.actors.node_actor import NodeActor
from zafka.actors.replica import ReplicaActor, replica_actor_name
from zafka.actors.runtime import NodeRuntime
from zafka.core.delayed_fetch import DelayedFetches
from zafka.core.errors import ErrorCode
from zafka.core.group_codec import OFFSETS_TOPIC
from zafka.core.messages import (
    AllocateProducerIdsReply,
    AlterPartitionReply,
    AlterPartitionRequest,
    BrokerHeartbeatReply,
    BrokerHeartbeatRequest,
    BrokerRegistrationReply,
    BrokerRegistrationRequest,
    BrokerStatus,
    CreateTopicsReply,
    Envelope,
    ErrorReply,
    FetcherForget,
    GroupPartitions,
    MetadataFetchReply,
    MetadataFetchRequest,
    MetadataImage,
    NotControllerReply,
    PartitionRecord,
    ReplicaAlterIsr,
    ReplicaRemove,
    ReplicaStatus,
    ReplicaUpdate,
    Tick,
)
from zafka.core.metadata import replica_changes
from zafka.core.topic_config import effective_config
from zafka.transport.cluster_file import ClusterFile

REGISTER_RETRY_TICKS = 20
REPLICA_STARTS_PER_TICK = 5
"""New replica actors started per tick: a topic of thousands of partitions comes up over a
few seconds instead of starving every process of CPU at once."""


class BrokerActor(BrokerMetricsMixin, RoutingMixin, ServicesMixin, NodeActor):
    """A broker process's main actor."""

    role = "broker"
    wants_ticks = True

    def __init__(self, runtime: NodeRuntime, name: str, data_dir: Path,
                 cluster: ClusterFile, kafka: KafkaSettings | None = None) -> None:
        super().__init__(runtime, name)
        self.kafka_settings = kafka
        self.kafka_listener: KafkaListener | None = None
        self.kafka_address = ""
        self.data_dir = data_dir
        self.cluster = cluster
        self.tunables = runtime.tunables
        self.channel = ControllerChannel(runtime.postbox,
                                         [c.address for c in cluster.coordinators], name)
        self.incarnation = uuid.uuid4().hex
        self.broker_epoch = -1
        self.fenced = True
        self.image: MetadataImage | None = None
        self.now_tick = 0
        self.next_heartbeat_tick = 0
        self.fetching = False
        self.register_at_tick: int | None = None
        self.fetchers: set[str] = set()
        self.pending_starts: dict[tuple[str, int], PartitionRecord] = {}
        self.started_this_tick = 0
        self.start_budget = REPLICA_STARTS_PER_TICK
        self.calls = CallTable()
        self.hosted: dict[tuple[str, int], str] = {}  # (topic, partition) -> actor name
        self.hosted_ids: dict[tuple[str, int], str] = {}  # (topic, partition) -> topic id
        self.delayed = DelayedFetches()
        self.held_fetches: dict[int, Envelope] = {}
        self.logs_dir = data_dir / "logs"
        self.producer_ids = (0, 0)
        self.producer_id_waiters: list[Envelope] = []
        self.creating_offsets_topic = False

    def on_start(self) -> None:
        group = GroupActor.start(self.runtime, "group")
        self.runtime.register("group", group)
        if self.kafka_settings is not None:
            self.kafka_listener, self.kafka_address = start_listener(
                self.runtime, self.kafka_settings, self.cluster.cluster_id,
                [c.address for c in self.cluster.coordinators])
            self.logger.info("Kafka listener on %s", self.kafka_address)
        self.register()

    # --- registration and heartbeats ----------------------------------------------------

    def register(self) -> None:
        self.broker_epoch = -1
        self.channel.request(
            BrokerRegistrationRequest(broker_id=self.runtime.node_id,
                                      address=self.runtime.address,
                                      incarnation=self.incarnation,
                                      kafka_address=self.kafka_address),
            self.on_registered, attempts=1_000_000)

    def on_registered(self, reply: BrokerRegistrationReply | ErrorReply) -> None:
        if isinstance(reply, ErrorReply) or reply.error != ErrorCode.NONE:
            self.logger.warning("registration failed (%s); retrying", reply)
            self.register_at_tick = self.now_tick + REGISTER_RETRY_TICKS
            return
        self.broker_epoch = reply.broker_epoch
        self.logger.info("registered with broker epoch %d", self.broker_epoch)
        self.fetch_metadata()

    def on_tick(self, tick: Tick) -> None:
        elapsed = max(1, min(tick.count - self.now_tick, 10))  # ticks skipped while busy
        self.now_tick = tick.count
        self.channel.tick(self.now_tick)
        self.expire_delayed_fetches()
        self.started_this_tick = 0
        self.start_budget = REPLICA_STARTS_PER_TICK * elapsed
        while self.pending_starts and self.started_this_tick < self.start_budget:
            key = next(iter(self.pending_starts))
            self.start_replica(self.pending_starts.pop(key))
        if self.register_at_tick is not None and self.now_tick >= self.register_at_tick:
            self.register_at_tick = None
            self.register()
        if self.broker_epoch >= 0 and self.now_tick >= self.next_heartbeat_tick:
            self.next_heartbeat_tick = self.now_tick + self.tunables.broker_heartbeat_ticks
            self.channel.request(
                BrokerHeartbeatRequest(broker_id=self.runtime.node_id,
                                       broker_epoch=self.broker_epoch,
                                       metadata_offset=self.image.offset if self.image else 0),
                self.on_heartbeat_reply, timeout_ticks=self.tunables.broker_heartbeat_ticks * 3,
                attempts=1)

    def on_heartbeat_reply(self, reply: BrokerHeartbeatReply | ErrorReply) -> None:
        if isinstance(reply, ErrorReply):
            return  # no controller right now; the next heartbeat tries again
        if reply.error == ErrorCode.STALE_BROKER_EPOCH:
            self.logger.warning("broker epoch %d is stale; registering again", self.broker_epoch)
            self.incarnation = uuid.uuid4().hex
            self.register()
            return
        if reply.is_fenced != self.fenced:
            self.logger.info("now %s", "fenced" if reply.is_fenced else "unfenced")
        self.fenced = reply.is_fenced

    # --- metadata -----------------------------------------------------------------------

    def fetch_metadata(self) -> None:
        if self.fetching:
            return
        self.fetching = True
        wait = self.tunables.metadata_fetch_max_wait_ticks
        self.channel.request(
            MetadataFetchRequest(broker_id=self.runtime.node_id,
                                 known_offset=self.image.offset if self.image else 0,
                                 max_wait_ticks=wait),
            self.on_metadata, timeout_ticks=wait + 100, attempts=1)

    def on_metadata(self, reply: MetadataFetchReply | ErrorReply) -> None:
        self.fetching = False
        if isinstance(reply, MetadataFetchReply) and reply.image is not None:
            if self.image is None or reply.image.offset > self.image.offset:
                self.apply_image(reply.image)
        self.fetch_metadata()

    def apply_image(self, image: MetadataImage) -> None:
        """Start, update and stop replica actors to match the new committed image."""
        old, self.image = self.image, image
        self.runtime.security.update(image.identities, image.revoked_keys, image.acls)
        changes = replica_changes(old, image, self.runtime.node_id)
        for record in (*changes.leading, *changes.following):
            self.update_replica(record)
        for record in changes.removed:
            self.remove_replica(record)
        self.update_group_coordinator(image)
        if old is not None:
            for topic in image.topics:
                before = next((t for t in old.topics if t.topic_id == topic.topic_id), None)
                if before is not None and before.configs != topic.configs:
                    for p in image.partitions:
                        if p.topic_id == topic.topic_id and (p.topic, p.partition) in self.hosted:
                            self.update_replica(p)
        else:
            self.remove_orphan_logs()

    def update_group_coordinator(self, image: MetadataImage) -> None:
        """Tell the group actor which ``__consumer_offsets`` partitions are led here."""
        topic = next((t for t in image.topics if t.name == OFFSETS_TOPIC), None)
        if topic is None:
            return
        led = tuple(sorted(p.partition for p in image.partitions
                           if p.topic_id == topic.topic_id
                           and p.leader == self.runtime.node_id))
        self.send(self.runtime.address, "group",
                  GroupPartitions(led=led, num_partitions=topic.num_partitions))

    def replica_update(self, record: PartitionRecord) -> ReplicaUpdate:
        assert self.image is not None
        topic = next(t for t in self.image.topics if t.topic_id == record.topic_id)
        leader = next((b for b in self.image.brokers if b.broker_id == record.leader), None)
        return ReplicaUpdate(record=record, configs=tuple(effective_config(topic.configs)
                                                          .items()),
                             leader_address=leader.address if leader else "",
                             broker_epoch=self.broker_epoch)

    def ensure_fetcher(self, update: ReplicaUpdate) -> None:
        """Make sure a fetcher runs for the partition's leader; others forget the partition."""
        record = update.record
        wanted = fetcher_name(update.leader_address) if update.leader_address \
            and record.leader != self.runtime.node_id else None
        if wanted is not None and wanted not in self.fetchers:
            ref = FetcherActor.start(self.runtime, wanted, update.leader_address)
            self.runtime.register(wanted, ref)
            self.fetchers.add(wanted)
        for name in self.fetchers - {wanted}:
            self.send(self.runtime.address, name,
                      FetcherForget(topic=record.topic, partition=record.partition))

    def update_replica(self, record: PartitionRecord) -> None:
        key = (record.topic, record.partition)
        if key in self.hosted and self.hosted_ids[key] != record.topic_id:
            self.send(self.runtime.address, self.hosted.pop(key),
                      ReplicaRemove(topic_id=self.hosted_ids.pop(key)))
        name = self.hosted.get(key)
        if name is not None:
            update = self.replica_update(record)
            self.ensure_fetcher(update)
            self.send(self.runtime.address, name, update)
            return
        if record.topic != OFFSETS_TOPIC and (
                self.pending_starts or self.started_this_tick >= self.start_budget):
            self.pending_starts[key] = record  # started a few per tick (see on_tick)
            return
        self.start_replica(record)

    def start_replica(self, record: PartitionRecord) -> None:
        """Start the replica actor of a partition newly placed on this broker."""
        key = (record.topic, record.partition)
        update = self.replica_update(record)
        self.ensure_fetcher(update)
        self.started_this_tick += 1
        name = replica_actor_name(record.topic, record.partition)
        directory = self.logs_dir / f"{record.topic}-{record.partition}"
        ref = ReplicaActor.start(self.runtime, name, directory, update)
        self.runtime.register(name, ref)
        self.hosted[key] = name
        self.hosted_ids[key] = record.topic_id

    def remove_replica(self, record: PartitionRecord) -> None:
        key = (record.topic, record.partition)
        self.pending_starts.pop(key, None)
        name = self.hosted.pop(key, None)
        self.hosted_ids.pop(key, None)
        if name is not None:
            self.send(self.runtime.address, name, ReplicaRemove(topic_id=record.topic_id))

    def remove_orphan_logs(self) -> None:
        """Delete logs of replicas the first image does not place here (deleted topics)."""
        if not self.logs_dir.exists():
            return
        wanted = {f"{t}-{p}" for t, p in (*self.hosted, *self.pending_starts)}
        for directory in self.logs_dir.iterdir():
            if directory.is_dir() and directory.name not in wanted:
                self.logger.info("deleting %s: no longer hosted here", directory.name)
                shutil.rmtree(directory)

    # --- ISR changes proposed by the leaders hosted here ---------------------------------

    def on_replica_alter_isr(self, message: ReplicaAlterIsr, envelope: Envelope) -> None:
        request = AlterPartitionRequest(
            broker_id=self.runtime.node_id, broker_epoch=self.broker_epoch,
            topic=message.topic, partition=message.partition,
            leader_epoch=message.leader_epoch, partition_epoch=message.partition_epoch,
            new_isr=message.new_isr)

        def forward(reply: Any) -> None:
            if isinstance(reply, ErrorReply):
                reply = AlterPartitionReply(error=reply.code, message=reply.message)
            self.send(self.runtime.address, envelope.reply_to, reply)

        self.channel.request(request, forward, attempts=3)

    def on_replica_status(self, message: ReplicaStatus, envelope: Envelope) -> None:
        self.calls.answer(envelope.correlation_id, message)

    # --- replies from the controller ----------------------------------------------------

    def on_controller_reply(self, message: Any, envelope: Envelope) -> None:
        self.channel.on_reply(envelope)

    def broker_status(self) -> BrokerStatus:
        return BrokerStatus(
            broker_epoch=self.broker_epoch, fenced=self.fenced,
            metadata_offset=self.image.offset if self.image else 0,
            replicas=len(self.hosted), replicas_starting=len(self.pending_starts),
            calls_in_flight=len(self.calls),
            fetches_held=len(self.delayed.held),
            fetch_partitions_answered_unchanged=self.delayed.answered_unchanged,
            kafka_address=self.kafka_address,
            kafka_counters=tuple(sorted(self.kafka_listener.stats.items()))
            if self.kafka_listener else ())


for _type in (BrokerRegistrationReply, BrokerHeartbeatReply, MetadataFetchReply,
              NotControllerReply, ErrorReply, AlterPartitionReply, AllocateProducerIdsReply,
              CreateTopicsReply):
    setattr(BrokerActor, handler_name(_type), BrokerActor.on_controller_reply)

__all__ = ["BrokerActor"]
