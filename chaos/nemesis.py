"""Nemeses: faults a chaos run injects into a real cluster, each bounded in time.

Owns: the fault kinds and how each is injected and undone through the ``Cluster`` API (and,
for disk faults, the files of a stopped broker).  Every nemesis runs to completion — inject,
hold for ``hold_s``, undo — and returns what it did; nothing stays broken once ``run``
returns (a broken restart raises instead).

Kinds (``NEMESES``):

- ``kill-broker``: SIGKILL a random broker, then restart it.
- ``kill-leader``: SIGKILL the leader of the busiest workload partition, then restart it.
- ``kill-coordinator-leader``: SIGKILL the Raft leader of the coordinators, then restart it.
- ``pause-leader``: SIGSTOP a partition leader past the broker session timeout, then SIGCONT
  (a zombie leader: it must be fenced by its epoch and acknowledge nothing on waking).
- ``partition-leader``: cut a partition leader off, with one coordinator, from the other
  brokers and coordinators (the leader on the minority side), then heal.
- ``partition-coordinator-leader``: cut the coordinator leader off from every other node.
- ``corrupt-tail``: SIGKILL a broker, truncate or bit-flip the tail of the newest ``.log``
  segment of one workload partition it hosts, restart it.
- ``corrupt-flushed-tail``: stop a broker cleanly (SIGTERM), damage the tail of the newest
  segment of one workload partition — bytes below its recovery point, i.e. bit rot in flushed
  data — and restart it.  The broker must set that replica aside and re-fetch it.
- ``lose-unflushed``: SIGKILL a broker, cut every workload partition's newest segment back to
  the offset of its recovery-point checkpoint (a replica that lost what it had not
  checkpointed as flushed), restart it.

Must never: leave a fault in place after ``run`` returns, or touch more than one node's
files per fault.
"""

from __future__ import annotations

import dataclasses
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zafka.client.admin import Admin
from zafka.core.errors import ZafkaError
from zafka.storage.checkpoints import RECOVERY_POINT_CHECKPOINT
from zafka.storage.records import read_header

from zafka.launcher import Cluster, ClusterError

PAUSE_PAST_SESSION_S = 2.5  # broker session timeout is 100 ticks of 10 ms in test clusters


@dataclasses.dataclass
class NemesisContext:
    """What a nemesis may use: the cluster, an admin client, the workload topic, a seeded
    random source, how long to hold a fault, and where to write notes."""

    cluster: Cluster
    admin: Admin
    topic: str
    rng: random.Random
    hold_s: float = 3.0
    note: Callable[[str], None] = lambda text: None


def partition_leaders(ctx: NemesisContext) -> dict[int, int]:
    """partition -> leader broker id (partitions without a leader left out)."""
    return {p.partition: p.leader for p in ctx.admin.describe_topic(ctx.topic).partitions
            if p.leader >= 0}


def busiest_leader(ctx: NemesisContext) -> str:
    """The broker leading the workload partition with the highest log end offset."""
    info = ctx.admin.describe_topic(ctx.topic).partitions
    led = [p for p in info if p.leader >= 0]
    if not led:
        raise ClusterError(f"no partition of {ctx.topic} has a leader")
    return f"broker-{max(led, key=lambda p: (p.log_end_offset, -p.partition)).leader}"


def kill_and_restart(ctx: NemesisContext, name: str,
                     while_down: Callable[[], dict[str, Any]] | None = None) -> dict[str, Any]:
    ctx.cluster.kill(name, signal.SIGKILL)
    details: dict[str, Any] = {"node": name}
    if while_down is not None:
        details.update(while_down())
    time.sleep(ctx.hold_s)
    ctx.cluster.restart(name)
    return details


def kill_broker(ctx: NemesisContext) -> dict[str, Any]:
    victim = ctx.rng.choice([n.name for n in ctx.cluster.brokers if n.running()])
    return kill_and_restart(ctx, victim)


def kill_leader(ctx: NemesisContext) -> dict[str, Any]:
    return kill_and_restart(ctx, busiest_leader(ctx))


def kill_coordinator_leader(ctx: NemesisContext) -> dict[str, Any]:
    leader, term = ctx.cluster.wait_for_coordinator_leader(timeout=10)
    return {**kill_and_restart(ctx, leader), "term": term}


def pause_leader(ctx: NemesisContext) -> dict[str, Any]:
    victim = busiest_leader(ctx)
    ctx.cluster.pause(victim)
    try:
        time.sleep(max(ctx.hold_s, PAUSE_PAST_SESSION_S))
    finally:
        ctx.cluster.resume(victim)
    return {"node": victim}


def hold_partition(ctx: NemesisContext, side_a: list[str], side_b: list[str]) -> dict[str, Any]:
    ctx.cluster.partition(side_a, side_b)
    try:
        time.sleep(ctx.hold_s)
    finally:
        ctx.cluster.heal()
    return {"minority": side_a, "majority": side_b}


def partition_leader(ctx: NemesisContext) -> dict[str, Any]:
    leader = busiest_leader(ctx)
    controller = ctx.cluster.coordinator_leader()
    followers = [c.name for c in ctx.cluster.coordinators if controller is None
                 or c.name != controller[0]]
    companions = followers[:1] if len(ctx.cluster.coordinators) > 1 else []
    side_a = [leader, *companions]
    side_b = [n.name for n in ctx.cluster.nodes if n.name not in side_a]
    return hold_partition(ctx, side_a, side_b)


def partition_coordinator_leader(ctx: NemesisContext) -> dict[str, Any]:
    leader, term = ctx.cluster.wait_for_coordinator_leader(timeout=10)
    others = [n.name for n in ctx.cluster.nodes if n.name != leader]
    return {**hold_partition(ctx, [leader], others), "term": term}


# --- disk faults on a stopped broker ------------------------------------------------------


def partition_dirs(cluster: Cluster, broker: str, topic: str) -> list[Path]:
    root = Path(cluster.data_dir) / broker / "logs"
    return sorted(d for d in root.glob(f"{topic}-*") if d.is_dir()
                  and d.name.rsplit("-", 1)[1].isdigit())


def newest_segment(directory: Path) -> Path | None:
    segments = sorted(p for p in directory.glob("*.log") if p.stat().st_size > 0)
    return segments[-1] if segments else None


def damage_tail(path: Path, rng: random.Random) -> dict[str, Any]:
    """Truncate the last bytes of ``path``, or flip a few bits among them."""
    data = bytearray(path.read_bytes())
    span = min(len(data), rng.randint(1, 4096))
    if rng.random() < 0.5:
        path.write_bytes(bytes(data[:len(data) - span]))
        return {"segment": path.name, "damage": "truncate", "bytes": span}
    flips = rng.randint(1, 3)
    for _ in range(flips):
        position = len(data) - 1 - rng.randrange(span)
        data[position] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))
    return {"segment": path.name, "damage": "bitflip", "bits": flips, "within_last": span}


def corrupt_tail(ctx: NemesisContext) -> dict[str, Any]:
    victim = ctx.rng.choice([n.name for n in ctx.cluster.brokers if n.running()])

    def damage() -> dict[str, Any]:
        dirs = [d for d in partition_dirs(ctx.cluster, victim, ctx.topic) if newest_segment(d)]
        if not dirs:
            return {"damage": "none (no segment yet)"}
        directory = ctx.rng.choice(dirs)
        segment = newest_segment(directory)
        assert segment is not None
        return {"partition_dir": directory.name, **damage_tail(segment, ctx.rng)}

    return kill_and_restart(ctx, victim, damage)


def corrupt_flushed_tail(ctx: NemesisContext) -> dict[str, Any]:
    """Stop a broker cleanly (its recovery points now cover every byte), damage the tail of
    one workload partition's newest segment, restart it: bit rot in flushed data."""
    victim = ctx.rng.choice([n.name for n in ctx.cluster.brokers if n.running()])
    ctx.cluster.kill(victim, signal.SIGTERM)
    process = ctx.cluster.node(victim).process
    assert process is not None
    process.wait(timeout=20)
    dirs = [d for d in partition_dirs(ctx.cluster, victim, ctx.topic) if newest_segment(d)]
    details: dict[str, Any] = {"node": victim}
    if dirs:
        directory = ctx.rng.choice(dirs)
        segment = newest_segment(directory)
        assert segment is not None
        details.update(partition_dir=directory.name, **damage_tail(segment, ctx.rng))
    ctx.cluster.restart(victim)
    return details


def position_of_offset(segment: Path, offset: int) -> int:
    """The byte position of the first batch holding ``offset`` or later (the file size if
    none): walks the batch headers of a segment file."""
    data = segment.read_bytes()
    position = 0
    while position + 61 <= len(data):
        header = read_header(data, position, whole=False)
        if header.last_offset >= offset:
            return position
        position += header.size
    return min(position, len(data))


def cut_to_recovery_point(directory: Path) -> dict[str, Any] | None:
    checkpoint = directory / RECOVERY_POINT_CHECKPOINT
    segment = newest_segment(directory)
    if segment is None or not checkpoint.exists():
        return None
    lines = checkpoint.read_text().split("\n")
    if len(lines) < 3 or not lines[2].strip():
        return None
    recovery_point = int(lines[2].split()[0])
    base = int(segment.name[:-len(".log")])
    if recovery_point < base:
        return None  # the checkpoint is older than this segment: only cut within it
    size = segment.stat().st_size
    position = position_of_offset(segment, recovery_point)
    with open(segment, "r+b") as file:
        file.truncate(position)
    return {"partition_dir": directory.name, "recovery_point": recovery_point,
            "bytes_lost": size - position}


def lose_unflushed(ctx: NemesisContext) -> dict[str, Any]:
    victim = ctx.rng.choice([n.name for n in ctx.cluster.brokers if n.running()])

    def cut() -> dict[str, Any]:
        cuts = [c for d in partition_dirs(ctx.cluster, victim, ctx.topic)
                if (c := cut_to_recovery_point(d)) is not None]
        return {"cuts": cuts, "bytes_lost": sum(c["bytes_lost"] for c in cuts)}

    return kill_and_restart(ctx, victim, cut)


NEMESES: dict[str, Callable[[NemesisContext], dict[str, Any]]] = {
    "kill-broker": kill_broker,
    "kill-leader": kill_leader,
    "kill-coordinator-leader": kill_coordinator_leader,
    "pause-leader": pause_leader,
    "partition-leader": partition_leader,
    "partition-coordinator-leader": partition_coordinator_leader,
    "corrupt-tail": corrupt_tail,
    "lose-unflushed": lose_unflushed,
    "corrupt-flushed-tail": corrupt_flushed_tail,
}

DEFAULT_NEMESES = tuple(NEMESES)  # a mixed run draws from all of them


def run_nemesis(kind: str, ctx: NemesisContext) -> dict[str, Any]:
    """Inject one fault of ``kind`` and undo it; returns what was done (or why not)."""
    began = time.monotonic()
    try:
        details = NEMESES[kind](ctx)
    except (ZafkaError, ClusterError) as error:  # the run's final heal restarts what is down
        details = {"error": f"{type(error).__name__}: {error}"}
    details["duration_s"] = round(time.monotonic() - began, 2)
    return details


__all__ = ["DEFAULT_NEMESES", "NEMESES", "NemesisContext", "busiest_leader",
           "corrupt_flushed_tail", "cut_to_recovery_point", "damage_tail", "partition_dirs",
           "position_of_offset", "run_nemesis"]
