"""The console's view of a cluster, sampled once a second.

Owns: one thread that, every ``interval_s``, asks every node for its status (the same
``StatusRequest`` as ``zafka status``), scrapes every node's ``/metrics``, and reads topics
and groups through the client ``Admin``; it swaps the result in as one immutable JSON-able
snapshot and appends a point of rates and latencies to a bounded history.  The HTTP threads
only read those.  The writes the page may ask for (create a topic, alter its retention, add
partitions) go through the same ``Admin``, under the same lock.

Must never: write anything to the cluster on its own.
"""

from __future__ import annotations

import collections
import concurrent.futures
import threading
import time
from collections.abc import Callable
from typing import Any

from zafka.client.admin import Admin
from zafka.console.metrics_view import Histogram, Samples, histogram, rate, scrape, value
from zafka.core.errors import ZafkaError
from zafka.core.messages import StatusReply, StatusRequest
from zafka.transport.cluster_file import ClusterFile, NodeSpec, client_bind_url
from zafka.transport.remote import Postbox

HISTORY_POINTS = 300
STATUS_TIMEOUT_S = 1.0
ADMIN_TIMEOUT_MS = 3_000


class ClusterSampler:
    """Samples a cluster for the console (see the module docstring)."""

    def __init__(self, cluster: str, interval_s: float = 1.0) -> None:
        self.cluster_path = cluster
        self.config = ClusterFile.load(cluster)
        self.interval_s = interval_s
        self.admin = Admin(cluster, request_timeout_ms=ADMIN_TIMEOUT_MS)
        self.postbox = Postbox(client_bind_url(self.config),
                               credentials=self.config.credentials).start()
        self.lock = threading.Lock()  # one Admin call at a time: sampling or a write
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=8,
                                                          thread_name_prefix="console-scrape")
        self.state: dict[str, Any] = {"cluster_id": self.config.cluster_id, "nodes": [],
                                      "topics": [], "groups": [], "sampled_at": None}
        self.history: collections.deque[dict[str, Any]] = collections.deque(
            maxlen=HISTORY_POINTS)
        self._previous: tuple[float, dict[str, Samples]] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="console-sampler", daemon=True)

    def start(self) -> ClusterSampler:
        self.sample()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.admin.close()
        self.postbox.stop()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    # --- one round ----------------------------------------------------------------------

    def sample(self) -> None:
        now = time.time()
        errors: list[str] = []
        scrapes = self.scrape_all()
        nodes = self.node_rows(scrapes)
        if self._previous is not None:
            add_cpu_percent(nodes, scrapes, *self._previous, now)
        self.state = {**self.state, "nodes": nodes, "controller": controller_of(nodes)}
        with self.lock:
            topics = self.read(errors, "topics", self.topic_rows)
            groups = self.read(errors, "groups", self.group_rows)
        self.history.append(self.point(now, scrapes, nodes))
        self.state = {
            "cluster_id": self.config.cluster_id, "sampled_at": now, "nodes": nodes,
            "controller": controller_of(nodes), "topics": topics or [], "groups": groups or [],
            "health": health_of(nodes, topics or []), "errors": errors,
            "history": list(self.history)}

    def read(self, errors: list[str], what: str, reader: Callable[[], Any]) -> Any:
        try:
            return reader()
        except ZafkaError as error:
            errors.append(f"{what}: {type(error).__name__}: {error.message}")
            return None

    def scrape_all(self) -> dict[str, Samples]:
        futures = {spec.name: self.pool.submit(scrape, spec.metrics_url)
                   for spec in self.config.nodes if spec.metrics_url}
        scrapes = {}
        for name, future in futures.items():
            try:
                scrapes[name] = future.result()
            except (OSError, ValueError):
                continue  # down, or not serving metrics: its row says so
        return scrapes

    def node_rows(self, scrapes: dict[str, Samples]) -> list[dict[str, Any]]:
        asks = [(spec, self.postbox.ask(spec.address, "node", StatusRequest(),
                                        STATUS_TIMEOUT_S)) for spec in self.config.nodes]
        rows = []
        for spec, future in asks:
            try:
                reply: StatusReply | None = future.result()
            except ZafkaError:
                reply = None
            rows.append(node_row(spec, reply, scrapes.get(spec.name)))
        return rows

    def topic_rows(self) -> list[dict[str, Any]]:
        rows = []
        for name in self.admin.list_topics():
            info = self.admin.describe_topic(name)
            rows.append({"name": name, "partitions": [
                {"partition": p.partition, "leader": p.leader, "replicas": list(p.replicas),
                 "isr": sorted(p.isr), "leader_epoch": p.leader_epoch,
                 "log_end_offset": p.log_end_offset, "high_watermark": p.high_watermark,
                 "under_replicated": len(p.isr) < len(p.replicas)}
                for p in info.partitions]})
        return rows

    def group_rows(self) -> list[dict[str, Any]]:
        rows = []
        for listed in self.admin.list_groups():
            group = self.admin.describe_group(listed["group"])
            partitions = [{"topic": p.topic, "partition": p.partition,
                           "committed": p.committed, "end_offset": p.end_offset, "lag": p.lag}
                          for p in group.partitions]
            rows.append({"group": group.group_id, "state": group.state,
                         "members": len(group.members), "coordinator": group.coordinator,
                         "lag": sum(p["lag"] or 0 for p in partitions),
                         "partitions": partitions})
        return rows

    def point(self, now: float, scrapes: dict[str, Samples],
              nodes: list[dict[str, Any]]) -> dict[str, Any]:
        """Rates and latencies since the previous round, summed over the nodes scraped in
        both (a node that restarted counts from zero)."""
        previous, self._previous = self._previous, (now, scrapes)
        point: dict[str, Any] = {"t": now}
        if previous is None:
            return point
        seconds = now - previous[0]
        for key, name in (("produce_rate", "zafka_topic_messages_in_total"),
                          ("consume_rate", "zafka_topic_messages_out_total"),
                          ("bytes_in_rate", "zafka_topic_bytes_in_total"),
                          ("bytes_out_rate", "zafka_topic_bytes_out_total")):
            point[key] = sum(rate(value(previous[1][n], name), value(s, name), seconds)
                             for n, s in scrapes.items() if n in previous[1])
        for key, request in (("produce", "produce"), ("fetch", "fetch_consumer")):
            observed = Histogram()
            for n, s in scrapes.items():
                if n in previous[1]:
                    metric = "zafka_request_duration_seconds"
                    observed = observed + histogram(s, metric, request=request).since(
                        histogram(previous[1][n], metric, request=request))
            point[f"{key}_ms_mean"] = _ms(observed.mean())
            point[f"{key}_ms_p99"] = _ms(observed.quantile(0.99))
        return point

    # --- writes the page asks for -------------------------------------------------------

    def create_topic(self, name: str, partitions: int, replication_factor: int) -> None:
        with self.lock:
            self.admin.create_topic(name, partitions=partitions,
                                    replication_factor=replication_factor)

    def alter_retention(self, name: str, retention_ms: int) -> None:
        with self.lock:
            self.admin.alter_configs(name, {"retention.ms": retention_ms})

    def add_partitions(self, name: str, total: int) -> None:
        with self.lock:
            self.admin.create_partitions(name, total)


def node_row(spec: NodeSpec, reply: StatusReply | None,
             samples: Samples | None) -> dict[str, Any]:
    """One node as the page shows it: up, fenced or down, its Raft role, its resources."""
    row: dict[str, Any] = {"name": spec.name, "role": str(spec.role), "id": spec.node_id,
                           "address": spec.address, "metrics_url": spec.metrics_url,
                           "state": "down", "metrics": samples is not None}
    if reply is not None:
        row.update(state="up", pid=reply.pid)
        if reply.coordinator is not None:
            row.update(raft_role=reply.coordinator.raft_role.value, term=reply.coordinator.term,
                       commit_index=reply.coordinator.commit_index)
        if reply.broker is not None:
            row.update(state="fenced" if reply.broker.fenced else "up",
                       broker_epoch=reply.broker.broker_epoch, replicas=reply.broker.replicas)
    if samples is not None:
        row.update(rss_bytes=value(samples, "process_resident_memory_bytes"),
                   cpu_seconds=value(samples, "process_cpu_seconds_total"),
                   under_replicated=value(samples, "zafka_under_replicated_partitions"),
                   leaders=value(samples, "zafka_leader_count"))
    return row


def add_cpu_percent(nodes: list[dict[str, Any]], scrapes: dict[str, Samples],
                    then: float, before: dict[str, Samples], now: float) -> None:
    """Each node's CPU use since the previous round, in percent of one core."""
    for row in nodes:
        name = row["name"]
        if name in scrapes and name in before:
            used = rate(value(before[name], "process_cpu_seconds_total"),
                        value(scrapes[name], "process_cpu_seconds_total"), now - then)
            row["cpu_percent"] = round(100 * used, 1)


def controller_of(nodes: list[dict[str, Any]]) -> dict[str, Any] | None:
    leaders = [n for n in nodes if n["role"] == "coordinator" and n["state"] == "up"
               and n.get("raft_role") == "leader"]
    if not leaders:
        return None
    best = max(leaders, key=lambda n: n["term"])
    return {"name": best["name"], "id": best["id"], "term": best["term"]}


def health_of(nodes: list[dict[str, Any]], topics: list[dict[str, Any]]) -> dict[str, int]:
    partitions = [p for t in topics for p in t["partitions"]]
    brokers = [n for n in nodes if n["role"] == "broker"]
    return {"partitions": len(partitions),
            "offline": sum(1 for p in partitions if p["leader"] < 0),
            "under_replicated": sum(1 for p in partitions if p["under_replicated"]),
            "brokers_up": sum(1 for n in brokers if n["state"] == "up"),
            "brokers": len(brokers)}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


__all__ = ["ClusterSampler", "controller_of", "health_of", "node_row"]
