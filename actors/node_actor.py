"""The part every node's main actor shares: status, echo, fault rules.

Owns: nothing of its own; subclasses (coordinator, broker) add their protocols and report
role-specific details through ``status_details()``.
"""

from __future__ import annotations

import os
from typing import Any

from zafka.actors.base import BaseActor
from zafka.core.messages import (
    Ack,
    Echo,
    EchoReply,
    Envelope,
    Relay,
    SetFaults,
    StatusReply,
    StatusRequest,
)


class NodeActor(BaseActor):
    """Base of ``CoordinatorActor`` and ``BrokerActor``."""

    role = "node"
    wants_ticks = False

    def status_details(self) -> dict[str, Any]:
        return {}

    def on_status_request(self, message: StatusRequest, envelope: Envelope) -> None:
        details = self.status_details()
        details["transport"] = self.runtime.postbox.endpoint.stats()
        details["undeliverable"] = self.runtime.undeliverable
        self.reply(envelope, StatusReply(role=self.role, node_id=self.runtime.node_id,
                                         pid=os.getpid(), address=self.runtime.address,
                                         details=details))

    def on_echo(self, message: Echo, envelope: Envelope) -> None:
        self.reply(envelope, EchoReply(payload=message.payload))

    def on_relay(self, message: Relay, envelope: Envelope) -> None:
        self.send(message.address, message.actor, EchoReply(payload=message.payload))

    def on_set_faults(self, message: SetFaults, envelope: Envelope) -> None:
        self.runtime.postbox.endpoint.faults.set_rules(message.rules)
        self.logger.warning("fault rules now %s", message.rules)
        self.reply(envelope, Ack())


__all__ = ["NodeActor"]
