"""The part every node's main actor shares: status, echo, fault rules.

Owns: nothing of its own; subclasses (coordinator, broker) add their protocols and report
their role's status record (``coordinator_status()`` / ``broker_status()``).
"""

from __future__ import annotations

import os

from zafka.actors.base import BaseActor
from zafka.core.messages import (
    Ack,
    BrokerStatus,
    CoordinatorStatus,
    Echo,
    EchoReply,
    Envelope,
    NodeRole,
    Relay,
    SetFaults,
    StatusReply,
    StatusRequest,
)


class NodeActor(BaseActor):
    """Base of ``CoordinatorActor`` and ``BrokerActor``."""

    role = "node"
    wants_ticks = False

    def coordinator_status(self) -> CoordinatorStatus | None:
        """A coordinator's status record (None on other nodes)."""
        return None

    def broker_status(self) -> BrokerStatus | None:
        """A broker's status record (None on other nodes)."""
        return None

    def on_status_request(self, message: StatusRequest, envelope: Envelope) -> None:
        transport = self.runtime.postbox.endpoint.stats()
        transport.update(self.runtime.security.stats())  # "refused.<Message>" counters
        self.reply(envelope, StatusReply(
            role=NodeRole(self.role), node_id=self.runtime.node_id, pid=os.getpid(),
            address=self.runtime.address, transport=transport,
            undeliverable=self.runtime.undeliverable, delivered=self.runtime.delivered,
            coordinator=self.coordinator_status(),
            broker=self.broker_status()))

    def on_echo(self, message: Echo, envelope: Envelope) -> None:
        self.reply(envelope, EchoReply(payload=message.payload))

    def on_relay(self, message: Relay, envelope: Envelope) -> None:
        self.send(message.address, message.actor, EchoReply(payload=message.payload))

    def on_set_faults(self, message: SetFaults, envelope: Envelope) -> None:
        self.runtime.postbox.endpoint.faults.set_rules(message.rules)
        self.logger.warning("fault rules now %s", message.rules)
        self.reply(envelope, Ack())


__all__ = ["NodeActor"]
