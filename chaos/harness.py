"""The chaos harness: a workload under a schedule of faults against a real cluster, then a
heal, a drain and every checker.

Owns: the run's phases and its summary.

1. Create the workload topic (RF 3, ``min.insync.replicas`` 2) and wait until it is healthy.
2. Start the producers, the group members and the samplers (``tests.chaos.workload``).
3. Until ``duration_s`` is spent (or ``faults_max`` faults were injected): wait a seeded
   random interval, inject one seeded random nemesis (``tests.chaos.nemesis``), which undoes
   itself, then wait (at most ``heal_bound_s``) for the cluster to be healthy again.
4. Faults stop: resume, un-partition and restart anything still down, and time how long the
   cluster takes to become healthy (every partition led, every ISR full); that must be within
   ``heal_bound_s``.  Producers keep going for ``after_heal_s`` (progress must resume), then
   stop and flush.
5. Read every partition from its leader up to the high watermark; let the group drain; copy
   every replica's partition directories and read them with ``storage.log.PartitionLog``.
6. Run the checkers (``tests.chaos.checker``) and build the summary.

``run_chaos(cluster, config)`` runs on a started ``Cluster`` and returns a ``ChaosResult``;
``format_summary`` prints it.  Same seed, same fault schedule (the cluster's own timing is
not deterministic).

Must never: leave a thread or a fault behind (every worker is stopped in ``finally``), or run
a phase without a deadline.
"""

from __future__ import annotations

import dataclasses
import random
import shutil
import signal
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from zafka.chaos.checker import (
    History,
    check_coordinators,
    check_group,
    check_log,
    check_replicas,
    violations,
)
from zafka.chaos.nemesis import (
    DEFAULT_NEMESES,
    NEMESES,
    NemesisContext,
    partition_dirs,
    run_nemesis,
)
from zafka.chaos.reading import read_partition
from zafka.chaos.workload import CommitSampler, CoordinatorSampler, GroupMember, ProducerWorker
from zafka.client.admin import Admin
from zafka.core.errors import ZafkaError
from zafka.storage.log import LogConfig, PartitionLog
from zafka.storage.records import decode_batches

from zafka.launcher import Cluster, ClusterError

OFFSETS_TOPIC = "__consumer_offsets"
SETTLE_S = 4.0
CHAOS_TUNABLES: dict[str, int] = {
    "group_min_session_timeout_ms": 500,
    "group_initial_rebalance_delay_ms": 0,
}


@dataclasses.dataclass(frozen=True)
class ChaosConfig:
    """One chaos run: workload shape, fault schedule and bounds."""

    duration_s: float = 60.0
    seed: int = 0
    topic: str = "chaos"
    partitions: int = 4
    min_insync_replicas: int = 2
    producers: int = 2
    rate_per_producer: float = 100.0
    in_flight_max: int = 100
    members: int = 2
    group: str = "chaos-group"
    nemeses: tuple[str, ...] = DEFAULT_NEMESES
    interval_s: tuple[float, float] = (1.0, 4.0)
    hold_s: float = 3.0
    faults_max: int = 10_000
    heal_bound_s: float = 30.0
    after_heal_s: float = 3.0
    drain_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        unknown = set(self.nemeses) - set(NEMESES)
        assert not unknown, f"unknown nemeses {sorted(unknown)}; known: {sorted(NEMESES)}"


@dataclasses.dataclass
class ChaosResult:
    """What a run did and found: ``summary`` (JSON-ready), ``violations`` (non-zero counts),
    the full ``history``."""

    summary: dict[str, Any]
    violations: dict[str, int]
    history: History

    @property
    def ok(self) -> bool:
        return not self.violations


# --- cluster health ---------------------------------------------------------------------


def unhealthy_partitions(admin: Admin, topics: Sequence[str]) -> list[str]:
    """Partitions of ``topics`` without a leader or with an ISR smaller than the replica
    set (or the reason the question could not be answered)."""
    out = []
    for topic in topics:
        try:
            info = admin.describe_topic(topic)
        except ZafkaError as error:
            return [f"{topic}: {type(error).__name__}"]
        out += [f"{topic}-{p.partition}" for p in info.partitions
                if p.leader < 0 or sorted(p.isr) != sorted(p.replicas) or p.high_watermark < 0]
    return out


def wait_healthy(cluster: Cluster, admin: Admin, topics: Sequence[str], timeout_s: float,
                 settle_s: float = SETTLE_S) -> float | None:
    """Seconds until every node runs and every partition of ``topics`` has a leader and a
    full ISR, and stays so for ``settle_s`` (longer than ``replica.lag.time.max``, so a
    follower that stopped fetching has been dropped from its ISR by then); None if that did
    not happen within ``timeout_s`` (plus the settling time)."""
    began = time.monotonic()
    healthy_since: float | None = None
    while time.monotonic() - began < timeout_s + settle_s:
        if all(n.running() for n in cluster.nodes) and not unhealthy_partitions(admin, topics):
            healthy_since = healthy_since or time.monotonic()
            if time.monotonic() - healthy_since >= settle_s:
                return healthy_since - began
        else:
            healthy_since = None
            if time.monotonic() - began > timeout_s:
                return None
        time.sleep(0.1)
    return None


def heal_everything(cluster: Cluster, history: History) -> list[str]:
    """Resume paused nodes, remove fault rules, restart nodes that are down; the names of
    nodes that had exited without being killed (crashes)."""
    crashed = []
    for node in cluster.nodes:
        if node.running():
            cluster.kill(node.name, signal.SIGCONT)
    for node in cluster.nodes:
        if not node.running():
            if not node.expected_exit:
                crashed.append(node.name)
                code = node.process.returncode if node.process else None
                history.note(f"{node.name} had crashed (exit status {code})")
            try:
                cluster.restart(node.name)
            except ClusterError as error:
                history.note(f"restart of {node.name} failed: {error}")
    for node in cluster.nodes:
        if node.running():
            try:
                cluster.set_faults(node.name, [])
            except ZafkaError as error:
                history.note(f"could not clear faults on {node.name}: {error}")
    return crashed


# --- reading back -----------------------------------------------------------------------


def settled(admin: Admin, topic: str) -> bool:
    """Every partition led, with its high watermark at its log end (nothing in flight)."""
    try:
        info = admin.describe_topic(topic).partitions
    except ZafkaError:
        return False
    return all(p.leader >= 0 and 0 <= p.high_watermark == p.log_end_offset for p in info)


def read_all(cluster: Cluster, admin: Admin, topic: str, partitions: int,
             timeout_s: float = 60.0, unreadable: list[str] | None = None,
             ) -> dict[int, list[tuple[int, bytes]]]:
    """Every (offset, value) below the high watermark of each partition, from its leader,
    once the producers have stopped and every high watermark has reached its log end (a
    new leader's high watermark may lag the old one's for a moment).  A partition that
    cannot be read by the deadline is named in ``unreadable`` (raised if that is None)."""
    deadline = time.monotonic() + timeout_s
    while not settled(admin, topic) and time.monotonic() < deadline:
        time.sleep(0.2)
    out: dict[int, list[tuple[int, bytes]]] = {}
    for partition in range(partitions):
        while True:
            try:
                out[partition] = [(o, bytes(v or b"")) for o, v in
                                  read_partition(cluster, admin, topic, partition)]
                break
            except ZafkaError as error:
                if time.monotonic() > deadline:
                    if unreadable is None:
                        raise
                    unreadable.append(f"{topic}-{partition}: {type(error).__name__}: {error}")
                    break
                time.sleep(0.2)
    return out


def read_replica_files(cluster: Cluster, topic: str, unreadable: list[str] | None = None,
                       ) -> dict[str, dict[int, list[tuple[int, bytes]]]]:
    """broker -> partition -> (offset, value), read from a copy of each replica's files; a
    replica whose files do not open or read (``LogCorruption``, ``CorruptRecord``) is left
    out and named in ``unreadable``."""
    out: dict[str, dict[int, list[tuple[int, bytes]]]] = {}
    with tempfile.TemporaryDirectory(prefix="zafka-replicas-") as scratch:
        for node in cluster.brokers:
            out[node.name] = {}
            for directory in partition_dirs(cluster, node.name, topic):
                copy = Path(scratch) / node.name / directory.name
                shutil.copytree(directory, copy)
                try:
                    log = PartitionLog.open(copy, LogConfig(), lambda: int(time.time() * 1000))
                    try:
                        out[node.name][int(directory.name.rsplit("-", 1)[1])] = read_log(log)
                    finally:
                        log.close()
                except ZafkaError as error:  # LogCorruption on open, CorruptRecord on read
                    if unreadable is not None:
                        unreadable.append(f"{node.name}/{directory.name}: {error}")
    return out


def read_log(log: PartitionLog) -> list[tuple[int, bytes]]:
    records, offset = [], log.log_start_offset
    while offset < log.log_end_offset:
        batch = [r for r in decode_batches(log.read(offset, 1 << 22)) if r.offset >= offset]
        if not batch:
            break
        records += [(r.offset, bytes(r.value or b"")) for r in batch]
        offset = batch[-1].offset + 1
    return records


# --- the run ----------------------------------------------------------------------------


class ChaosRun:
    """One run of ``config`` against ``cluster`` (use ``run_chaos``)."""

    def __init__(self, cluster: Cluster, config: ChaosConfig, log: Callable[[str], None],
                 stop: threading.Event | None = None) -> None:
        self.cluster = cluster
        self.stop = stop or threading.Event()
        self.config = config
        self.log = log
        self.history = History()
        self.rng = random.Random(config.seed)
        self.path = str(cluster.cluster_file_path)
        self.admin = Admin(self.path, request_timeout_ms=5_000)
        self.fault_recovery_s: list[float] = []
        self.unhealed_faults = 0
        self.unreadable_partitions: list[str] = []

    def topics(self) -> list[str]:
        internal = self.admin.list_topics(include_internal=True)
        return [self.config.topic] + ([OFFSETS_TOPIC] if OFFSETS_TOPIC in internal else [])

    def run(self) -> ChaosResult:
        config = self.config
        self.admin.create_topic(config.topic, partitions=config.partitions, replication_factor=3,
                                config={"min.insync.replicas": config.min_insync_replicas})
        if wait_healthy(self.cluster, self.admin, [config.topic], 30, settle_s=0) is None:
            raise ClusterError(f"topic {config.topic} not healthy after creation")
        producers = [ProducerWorker(i, self.path, config.topic, config.partitions,
                                    self.history, config.rate_per_producer,
                                    config.in_flight_max) for i in range(config.producers)]
        members = [GroupMember(i, self.path, config.topic, config.group, self.history)
                   for i in range(config.members)]
        samplers = [CoordinatorSampler(self.cluster, self.history),
                    CommitSampler(self.path, config.topic, config.partitions, config.group,
                                  self.history)]
        workers = [*producers, *members, *samplers]
        try:
            for worker in workers:
                worker.start()
            self.inject_faults()
            recovery = self.final_heal()
            time.sleep(config.after_heal_s)
            for producer in producers:
                producer.stop(timeout=60)
            reads = read_all(self.cluster, self.admin, config.topic, config.partitions,
                             unreadable=self.unreadable_partitions)
            self.drain_group(members)
            for worker in [*members, *samplers]:
                worker.stop(timeout=30)
            return self.judge(reads, recovery, workers)
        finally:
            for worker in workers:
                worker.stopping.set()
            for worker in workers:
                worker.join(timeout=30)
            self.admin.close()

    def inject_faults(self) -> None:
        config = self.config
        context = NemesisContext(self.cluster, self.admin, config.topic, self.rng,
                                 hold_s=config.hold_s, note=self.history.note)
        deadline = time.monotonic() + config.duration_s
        while time.monotonic() < deadline and len(self.history.faults) < config.faults_max:
            self.stop.wait(min(self.rng.uniform(*config.interval_s),
                               max(0.0, deadline - time.monotonic())))
            if time.monotonic() >= deadline or self.stop.is_set():
                break
            kind = self.rng.choice(config.nemeses)
            details = run_nemesis(kind, context)
            healed = wait_healthy(self.cluster, self.admin, self.topics(), config.heal_bound_s)
            if healed is None:
                self.unhealed_faults += 1
                self.history.note(f"not healthy {config.heal_bound_s} s after {kind}: "
                                  f"{unhealthy_partitions(self.admin, self.topics())}")
            else:
                self.fault_recovery_s.append(healed)
            entry = self.history.fault(kind, **details, recovered_s=None if healed is None
                                       else round(healed, 2))
            self.log(f"[{self.history.now():7.1f}s] {kind}: {entry}")

    def final_heal(self) -> dict[str, Any]:
        stopped_at = round(self.history.now(), 3)
        crashed = heal_everything(self.cluster, self.history)
        healed = wait_healthy(self.cluster, self.admin, self.topics(), self.config.heal_bound_s)
        return {"crashed_nodes": crashed, "faults_stopped_at_s": stopped_at,
                "time_to_recover_s": None if healed is None else round(healed, 2),
                "unhealthy_after_bound": [] if healed is not None else
                unhealthy_partitions(self.admin, self.topics())}

    def drain_group(self, members: Sequence[GroupMember]) -> None:
        """Wait (bounded) until the group has delivered every acknowledged record."""
        deadline = time.monotonic() + self.config.drain_timeout_s
        acked = {s.value for s in self.history.acknowledged()}
        while time.monotonic() < deadline:
            if acked <= self.history.delivered_values():
                return
            time.sleep(0.5)

    def judge(self, reads: dict[int, list[tuple[int, bytes]]], recovery: dict[str, Any],
              workers: Sequence[Any]) -> ChaosResult:
        history, config = self.history, self.config
        info = self.admin.describe_topic(config.topic).partitions
        unreadable: list[str] = []
        replicas = read_replica_files(self.cluster, config.topic, unreadable)
        results: dict[str, Any] = {}
        examples: dict[str, Any] = {}
        for found in (check_log(history.sends, reads),
                      check_replicas(replicas, {p.partition: p.high_watermark for p in info},
                                     {p.partition: p.log_start_offset for p in info}),
                      check_group(history.sends, history.deliveries, history.committed),
                      check_coordinators(history.coordinator_samples)):
            examples.update(found.pop("examples"))
            results.update(found)
        counts = history.counts()
        acked_after_heal = sum(1 for s in history.acknowledged()
                               if s.completed_s >= recovery["faults_stopped_at_s"])
        healed_in_bound = recovery["time_to_recover_s"] is not None
        results.update({
            "not_healed_in_bound": 0 if healed_in_bound else 1,
            "crashed_nodes": len(recovery["crashed_nodes"]),
            "no_progress_after_heal": int(config.producers > 0 and acked_after_heal == 0),
            "unreadable_partitions": len(self.unreadable_partitions),
        })
        found = violations(results)
        found.update({k: results[k] for k in ("not_healed_in_bound", "crashed_nodes",
                                                       "no_progress_after_heal",
                                                       "unreadable_partitions")
                      if results[k]})
        summary = {
            "seed": config.seed, "duration_s": config.duration_s,
            "faults": dict(Counter(f["kind"] for f in history.faults)),
            "fault_errors": [f for f in history.faults if "error" in f],
            "sent": sum(counts.values()), "acknowledged": counts["ok"],
            "failed": counts["fail"], "unknown": counts["pending"],
            **{k: v for k, v in results.items()},
            "acknowledged_after_faults_stopped": acked_after_heal,
            "recovery": {**recovery, "bound_s": config.heal_bound_s,
                         "max_after_fault_s": round(max(self.fault_recovery_s, default=0), 2),
                         "faults_not_healed_in_bound": self.unhealed_faults},
            "unreadable_replicas": unreadable,
            "unreadable_partition_errors": self.unreadable_partitions,
            "partitions": [{"partition": p.partition, "leader": p.leader,
                            "isr": list(p.isr), "high_watermark": p.high_watermark}
                           for p in info],
            "violations": found, "examples": {k: v for k, v in examples.items() if v},
            "worker_errors": {w.name: Counter(e.split(":")[0] for e in w.errors)
                              for w in workers if w.errors},
            "notes": history.notes[-20:],
        }
        return ChaosResult(summary, found, history)


def run_chaos(cluster: Cluster, config: ChaosConfig,
              log: Callable[[str], None] = lambda text: None,
              stop: threading.Event | None = None) -> ChaosResult:
    """Run ``config`` against the started ``cluster``; the result holds the summary, the
    violations found and the history.  ``log`` receives one line per fault; setting ``stop``
    ends the fault phase early (the heal, drain and checks still run)."""
    return ChaosRun(cluster, config, log, stop).run()


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as a short human-readable report."""
    recovery = summary["recovery"]
    faults = ", ".join(f"{k} {v}" for k, v in sorted(summary["faults"].items())) or "none"
    lines = [
        f"faults injected: {sum(summary['faults'].values())} ({faults})",
        f"records: sent {summary['sent']}, acknowledged {summary['acknowledged']}, "
        f"failed {summary['failed']}, unknown {summary['unknown']}",
        f"acknowledged records: lost {summary['lost']}, duplicated {summary['duplicated']}, "
        f"reordered {summary['reordered']}, at a wrong offset {summary['wrong_offset']}, "
        f"offsets acknowledged twice {summary['offset_acknowledged_twice']}",
        f"replicas: inconsistent offsets {summary['inconsistent_offsets']}, gaps below HW "
        f"{summary['replica_gaps']}",
        f"group: undelivered {summary['group_undelivered']}, redelivered "
        f"{summary['group_redelivered']}, commit regressions {summary['commit_regressions']}",
        f"coordinators: terms with two leaders {summary['terms_with_two_leaders']} "
        f"(of {summary['coordinator_terms_led']} terms seen)",
        f"recovery: healthy {recovery['time_to_recover_s']} s after the faults stopped "
        f"(bound {recovery['bound_s']} s); worst after one fault {recovery['max_after_fault_s']}"
        f" s; crashed nodes {recovery['crashed_nodes'] or 'none'}",
        "violations: " + (", ".join(f"{k}={v}" for k, v in summary["violations"].items())
                          or "none"),
    ]
    return "\n".join(lines)


__all__ = ["CHAOS_TUNABLES", "ChaosConfig", "ChaosResult", "ChaosRun", "format_summary",
           "heal_everything", "read_all", "read_replica_files", "run_chaos",
           "unhealthy_partitions", "wait_healthy"]
