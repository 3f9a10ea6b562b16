"""Chaos checkers: what a run's history must satisfy, as plain functions over plain data.

Owns: the ``History`` a chaos run records (every send and its outcome, every record a group
member delivered, every committed offset observed, every coordinator status sampled) and the
checks that turn it into violations, modelled on Jepsen's Kafka checkers:

- ``check_log``: every acknowledged record is read back exactly once, at the offset its
  acknowledgement named, in acknowledgement order per partition (``lost``, ``duplicated``,
  ``reordered``, ``wrong_offset``); a read value never sent is ``unexpected``; one offset
  acknowledged for two different values is ``offset_acknowledged_twice``.
- ``check_replicas``: below the high watermark every replica holds every offset (no gaps) and
  no offset holds different values on two replicas (``inconsistent_offsets``).
- ``check_group``: the consumer group delivered every acknowledged record at least once and
  its committed offsets never moved backwards.
- ``check_coordinators``: at most one coordinator reported itself leader in any term.

Must never: talk to a cluster (the harness gathers; these functions only judge).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

SAMPLE_MAX = 5  # example values kept per kind of violation


@dataclasses.dataclass(slots=True)
class Send:
    """One record a producer sent: invoked, then ``ok`` (with its offset) or ``fail``."""

    value: bytes
    producer: int
    sequence: int
    partition: int
    invoked_s: float
    status: str = "pending"  # "pending" | "ok" | "fail"
    offset: int = -1
    completed_s: float = 0.0
    error: str = ""


class History:
    """Everything a chaos run observed, recorded from many threads (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.began = time.monotonic()
        self.sends: dict[bytes, Send] = {}
        self.deliveries: list[tuple[int, int, bytes]] = []  # (partition, offset, value)
        self.committed: list[tuple[float, int, int]] = []  # (time, partition, offset) observed
        self.coordinator_samples: list[tuple[float, str, int, str]] = []  # (t, name, term, role)
        self.faults: list[dict[str, Any]] = []
        self.notes: list[str] = []

    def now(self) -> float:
        return time.monotonic() - self.began

    def invoke(self, value: bytes, producer: int, sequence: int, partition: int) -> Send:
        send = Send(value, producer, sequence, partition, self.now())
        with self._lock:
            assert value not in self.sends, f"values must be unique: {value!r}"
            self.sends[value] = send
        return send

    def complete(self, send: Send, offset: int | None, error: BaseException | None) -> None:
        with self._lock:
            send.completed_s = self.now()
            if error is None and offset is not None and offset >= 0:
                send.status, send.offset = "ok", offset
            else:
                send.status, send.error = "fail", type(error).__name__ if error else "no offset"

    def delivered(self, records: Iterable[tuple[int, int, bytes]]) -> None:
        with self._lock:
            self.deliveries.extend(records)

    def delivered_values(self) -> set[bytes]:
        with self._lock:
            return {value for _, _, value in self.deliveries}

    def observed_commit(self, partition: int, offset: int) -> None:
        with self._lock:
            self.committed.append((self.now(), partition, offset))

    def sampled_coordinator(self, name: str, term: int, role: str) -> None:
        with self._lock:
            self.coordinator_samples.append((self.now(), name, term, role))

    def fault(self, kind: str, **details: Any) -> dict[str, Any]:
        entry = {"kind": kind, "at_s": round(self.now(), 3), **details}
        with self._lock:
            self.faults.append(entry)
        return entry

    def note(self, text: str) -> None:
        with self._lock:
            self.notes.append(f"{self.now():8.2f}s {text}")

    def dump(self, path: str) -> None:
        """Write the history as JSON lines: faults, notes, then one line per send."""
        with self._lock, open(path, "w") as out:
            for fault in self.faults:
                out.write(json.dumps({"type": "fault", **fault}, default=str) + "\n")
            for note in self.notes:
                out.write(json.dumps({"type": "note", "text": note}) + "\n")
            for send in self.sends.values():
                row = dataclasses.asdict(send)
                row["value"] = send.value.decode()
                out.write(json.dumps({"type": "send", **row}) + "\n")

    def acknowledged(self) -> list[Send]:
        with self._lock:
            return [s for s in self.sends.values() if s.status == "ok"]

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(s.status for s in self.sends.values())


def _sample(values: Iterable[Any]) -> list[Any]:
    out = []
    for value in values:
        out.append(value.decode() if isinstance(value, bytes) else value)
        if len(out) >= SAMPLE_MAX:
            break
    return out


def check_log(sends: Mapping[bytes, Send],
              reads: Mapping[int, Sequence[tuple[int, bytes]]]) -> dict[str, Any]:
    """Judge the final read of every partition ((offset, value) in log order) against the
    sends: acknowledged records exactly once, at their offset, in acknowledgement order."""
    where: dict[bytes, list[tuple[int, int]]] = defaultdict(list)
    for partition, records in reads.items():
        for offset, value in records:
            where[value].append((partition, offset))
    acked = [s for s in sends.values() if s.status == "ok"]
    lost = [s.value for s in acked if s.value not in where]
    duplicated = [v for v, places in where.items() if len(places) > 1]
    unexpected = [v for v in where if v not in sends]
    wrong_offset = [s.value for s in acked if s.value in where
                    and where[s.value][0] != (s.partition, s.offset)]
    aborted_read = [v for v in where if v in sends and sends[v].status == "fail"]
    reordered = _reordered(sends, reads)
    acked_at: dict[tuple[int, int], list[bytes]] = defaultdict(list)
    for s in acked:
        acked_at[(s.partition, s.offset)].append(s.value)
    reacknowledged = [f"p{p}@{o}: {sorted(v.decode() for v in vs)}"
                      for (p, o), vs in sorted(acked_at.items()) if len(vs) > 1]
    return {
        "acknowledged": len(acked), "read": sum(len(r) for r in reads.values()),
        "lost": len(lost), "duplicated": len(duplicated), "reordered": len(reordered),
        "wrong_offset": len(wrong_offset), "unexpected": len(unexpected),
        "offset_acknowledged_twice": len(reacknowledged),
        "failed_but_present": len(aborted_read),
        "examples": {"lost": _sample(lost), "duplicated": _sample(duplicated),
                     "reordered": _sample(reordered), "wrong_offset": _sample(wrong_offset),
                     "unexpected": _sample(unexpected),
                     "offset_acknowledged_twice": reacknowledged[:SAMPLE_MAX]},
    }


def _reordered(sends: Mapping[bytes, Send],
               reads: Mapping[int, Sequence[tuple[int, bytes]]]) -> list[bytes]:
    """Acknowledged values read after one acknowledged at a higher offset, and values of one
    producer read before an earlier sequence of the same producer (per partition)."""
    out = []
    for records in reads.values():
        highest_ack = -1
        last_sequence: dict[int, int] = {}
        for _, value in records:
            send = sends.get(value)
            if send is None:
                continue
            if send.status == "ok":
                if send.offset < highest_ack:
                    out.append(value)
                highest_ack = max(highest_ack, send.offset)
            if send.sequence < last_sequence.get(send.producer, -1):
                out.append(value)
            last_sequence[send.producer] = max(send.sequence,
                                               last_sequence.get(send.producer, -1))
    return out


def check_replicas(replicas: Mapping[str, Mapping[int, Sequence[tuple[int, bytes]]]],
                   high_watermarks: Mapping[int, int],
                   log_starts: Mapping[int, int]) -> dict[str, Any]:
    """``replicas[broker][partition]`` = (offset, value) read from that replica's files.
    Below each partition's high watermark every replica must hold every offset from the log
    start, and all replicas must agree on each offset's value."""
    gaps: list[str] = []
    inconsistent: list[str] = []
    for partition, hw in high_watermarks.items():
        values_at: dict[int, set[bytes]] = defaultdict(set)
        for broker, partitions in replicas.items():
            if partition not in partitions:
                continue
            held = {o: v for o, v in partitions[partition] if o < hw}
            start = log_starts.get(partition, 0)
            missing = [o for o in range(start, hw) if o not in held]
            if missing:
                gaps.append(f"{broker} p{partition}: {len(missing)} offsets missing below "
                            f"hw {hw}, first {missing[0]}")
            for offset, value in held.items():
                values_at[offset].add(value)
        inconsistent += [f"p{partition}@{o}: {sorted(v.decode() for v in vs)}"
                         for o, vs in sorted(values_at.items()) if len(vs) > 1]
    return {"replica_gaps": len(gaps), "inconsistent_offsets": len(inconsistent),
            "examples": {"replica_gaps": gaps[:SAMPLE_MAX],
                         "inconsistent_offsets": inconsistent[:SAMPLE_MAX]}}


def check_group(sends: Mapping[bytes, Send], deliveries: Sequence[tuple[int, int, bytes]],
                committed: Sequence[tuple[float, int, int]]) -> dict[str, Any]:
    """Every acknowledged record delivered at least once; committed offsets (as observed
    over time, per partition) never move backwards."""
    delivered = Counter(value for _, _, value in deliveries)
    undelivered = [s.value for s in sends.values() if s.status == "ok" and s.value not in delivered]
    regressions = []
    highest: dict[int, int] = {}
    for at, partition, offset in sorted(committed):
        if offset < highest.get(partition, -1):
            regressions.append(f"p{partition} {highest[partition]} -> {offset} at {at:.2f}s")
        highest[partition] = max(offset, highest.get(partition, -1))
    return {"group_delivered": len(delivered),
            "group_redelivered": sum(c - 1 for c in delivered.values()),
            "group_undelivered": len(undelivered), "commit_regressions": len(regressions),
            "examples": {"group_undelivered": _sample(undelivered),
                         "commit_regressions": regressions[:SAMPLE_MAX]}}


def check_coordinators(samples: Sequence[tuple[float, str, int, str]]) -> dict[str, Any]:
    """At most one coordinator reports itself Raft leader in each term."""
    leaders: dict[int, set[str]] = defaultdict(set)
    for _, name, term, role in samples:
        if role == "leader":
            leaders[term].add(name)
    split = {term: sorted(names) for term, names in leaders.items() if len(names) > 1}
    return {"coordinator_terms_led": len(leaders), "terms_with_two_leaders": len(split),
            "examples": {"terms_with_two_leaders": [f"term {t}: {n}" for t, n in
                                                    sorted(split.items())][:SAMPLE_MAX]}}


VIOLATIONS = ("lost", "duplicated", "reordered", "wrong_offset", "unexpected",
              "offset_acknowledged_twice", "replica_gaps",
              "inconsistent_offsets", "group_undelivered", "commit_regressions",
              "terms_with_two_leaders")


def violations(results: Mapping[str, Any]) -> dict[str, int]:
    """The non-zero violation counts among merged checker results."""
    return {k: int(results[k]) for k in VIOLATIONS if results.get(k)}


__all__ = ["History", "Send", "VIOLATIONS", "check_coordinators", "check_group", "check_log",
           "check_replicas", "violations"]
