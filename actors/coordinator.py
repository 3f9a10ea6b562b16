"""CoordinatorActor: one member of the Raft quorum that holds the cluster metadata.

Owns: this coordinator's Raft node and metadata state machine.  The Raft leader is the
controller.
"""

from __future__ import annotations

from typing import Any

from actors.node_actor import NodeActor


class CoordinatorActor(NodeActor):
    """A coordinator process's main actor."""

    role = "coordinator"

    def status_details(self) -> dict[str, Any]:
        return {}


__all__ = ["CoordinatorActor"]
