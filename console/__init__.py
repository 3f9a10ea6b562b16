"""``zafka console``: a small live web page of a cluster, from its metrics and status."""

from zafka.console.sampler import ClusterSampler
from zafka.console.server import ConsoleServer

__all__ = ["ClusterSampler", "ConsoleServer"]
