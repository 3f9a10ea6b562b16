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

import uuid
from pathlib import Path
from typing import Any

from actors.base import handler_name
from actors.channel import ControllerChannel
from actors.node_actor import NodeActor
from actors.runtime import NodeRuntime
from core.errors import ErrorCode
from core.messages import (
    BrokerHeartbeatReply,
    BrokerHeartbeatRequest,
    BrokerRegistrationReply,
    BrokerRegistrationRequest,
    Envelope,
    ErrorReply,
    MetadataFetchReply,
    MetadataFetchRequest,
    MetadataImage,
    NotControllerReply,
    Tick,
)
from transport.cluster_file import ClusterFile


class BrokerActor(NodeActor):
    """A broker process's main actor."""

    role = "broker"
    wants_ticks = True

    def __init__(self, runtime: NodeRuntime, name: str, data_dir: Path,
                 cluster: ClusterFile) -> None:
        super().__init__(runtime, name)
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

    def on_start(self) -> None:
        self.register()

    # --- registration and heartbeats ----------------------------------------------------

    def register(self) -> None:
        self.broker_epoch = -1
        self.channel.request(
            BrokerRegistrationRequest(broker_id=self.runtime.node_id,
                                      address=self.runtime.address,
                                      incarnation=self.incarnation),
            self.on_registered, attempts=1_000_000)

    def on_registered(self, reply: BrokerRegistrationReply | ErrorReply) -> None:
        if isinstance(reply, ErrorReply) or reply.error != ErrorCode.NONE:
            self.log.warning("registration failed (%s); retrying", reply)
            self.register()
            return
        self.broker_epoch = reply.broker_epoch
        self.log.info("registered with broker epoch %d", self.broker_epoch)
        self.fetch_metadata()

    def on_tick(self, tick: Tick) -> None:
        self.now_tick = tick.count
        self.channel.tick(self.now_tick)
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
            self.log.warning("broker epoch %d is stale; registering again", self.broker_epoch)
            self.incarnation = uuid.uuid4().hex
            self.register()
            return
        if reply.is_fenced != self.fenced:
            self.log.info("now %s", "fenced" if reply.is_fenced else "unfenced")
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
        self.image = image

    # --- replies from the controller ----------------------------------------------------

    def on_controller_reply(self, message: Any, envelope: Envelope) -> None:
        self.channel.on_reply(envelope)

    def status_details(self) -> dict[str, Any]:
        return {"broker_epoch": self.broker_epoch, "fenced": self.fenced,
                "metadata_offset": self.image.offset if self.image else 0}


for _type in (BrokerRegistrationReply, BrokerHeartbeatReply, MetadataFetchReply,
              NotControllerReply, ErrorReply):
    setattr(BrokerActor, handler_name(_type), BrokerActor.on_controller_reply)

__all__ = ["BrokerActor"]
