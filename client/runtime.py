"""The runtime a client object (producer, consumer, admin) runs its actors on.

Owns: one ``actors.runtime.NodeRuntime`` per client object — its own bound ZeroMQ socket (on
the interface of the cluster's first node, so brokers can answer it), the cluster's
credentials from the cluster file, a ticker, and the registry of the client's actors.

Client actors subclass ``ClientActor``: unlike a node's actors, a failing client actor does
not end the user's process; it records the failure, which the blocking facade raises on the
next call.
"""

from __future__ import annotations

import logging
from typing import Any

import pykka
from zafka.actors.base import BaseActor
from zafka.actors.runtime import NodeRuntime
from zafka.core.config import Tunables
from zafka.transport.cluster_file import ClusterFile, client_bind_url

log = logging.getLogger(__name__)


class ClientActor(BaseActor):
    """A client-side actor; what stopped it is kept in its runtime's ``failures`` under its
    name (each client object has its own runtime, so one consumer never reports another's
    crash)."""

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        log.error("client actor %s failed", self.name,
                  exc_info=(exception_type, exception_value, traceback))
        self.runtime.failures[self.name] = exception_value


def start_runtime(config: ClusterFile, role: str = "client") -> NodeRuntime:
    """A started runtime bound to an ephemeral port on the cluster's interface."""
    tunables = Tunables(**config.tunables).validate()
    return NodeRuntime(role=role, node_id=0, bind_url=client_bind_url(config),
                       credentials=config.credentials, tunables=tunables).start()


def start_actor(runtime: NodeRuntime, actor_class: type[ClientActor], name: str,
                *args: Any, ticks: bool = False) -> pykka.ActorRef[Any]:
    """Start ``actor_class(runtime, name, *args)`` and register it under ``name``."""
    ref = actor_class.start(runtime, name, *args)
    runtime.register(name, ref, ticks=ticks)
    return ref


__all__ = ["ClientActor", "start_actor", "start_runtime"]
