"""zafka: a Kafka-style replicated commit log in Python.

The public API::

    from zafka import Admin, Cluster, Consumer, Producer, TopicPartition

``Producer``, ``Consumer``, ``Admin`` and ``TopicPartition`` are the client library
(``zafka.client``); ``Cluster`` starts and controls a cluster of node processes on this
machine (``zafka.launcher``).  The names are imported on first use, so a node process that
imports ``zafka.actors`` does not load the client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

if TYPE_CHECKING:
    from zafka.client import Admin, Consumer, Producer, TopicPartition
    from zafka.launcher import Cluster

_EXPORTS = {
    "Admin": "zafka.client",
    "Consumer": "zafka.client",
    "Producer": "zafka.client",
    "TopicPartition": "zafka.client",
    "Cluster": "zafka.launcher",
}

__all__ = ["Admin", "Cluster", "Consumer", "Producer", "TopicPartition", "__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'zafka' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
