"""BrokerActor: registration, heartbeats, the local metadata image, request routing.

Owns: this broker's view of the cluster and the replica / partition actors it hosts.
"""

from __future__ import annotations

from typing import Any

from actors.node_actor import NodeActor


class BrokerActor(NodeActor):
    """A broker process's main actor."""

    role = "broker"

    def status_details(self) -> dict[str, Any]:
        return {}


__all__ = ["BrokerActor"]
