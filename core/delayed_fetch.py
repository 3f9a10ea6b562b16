"""The broker's delayed fetch and unchanged-partition answers, as a sans-IO state machine.

Owns, for one broker: the multi-partition fetches it holds (Kafka's delayed fetch), the
version of every partition (one per ``ReplicaDataReady``), the last snapshot each leader
replica announced (log bounds, HW, leader epoch and the whole batches its last append added),
and the empty answers remembered per (fetcher, partition) — the leader side of KIP-227's
incremental fetch sessions: a partition asked again at an unchanged version, with the same
request, is answered from memory.

Protocol (what the broker shell feeds in, what it carries out):

- ``unchanged(replica_id, part)``: the remembered empty answer, if nothing changed since.
- ``first_round(request, versions, results, now_ms)`` after every partition answered once:
  answer now (``min_bytes`` reached, an error, or no wait allowed), or hold until
  ``now_ms + max_wait_ms``.  A partition whose version moved while the first round was out
  is asked again at once: its ``ReplicaDataReady`` came before the fetch was held, and
  waiting for the next one would lose that wake-up.
- ``on_data_ready(snapshot)``: every held fetch on the partition is completed from the
  snapshot when it can be (the appended batches start at its fetch offset, lie below what
  it may read — the log end for a follower, the HW for a consumer — and fit its partition
  bytes; the leader epoch is the one it was held under), its HW refreshed when there is
  nothing new; only otherwise is the replica asked again (``ask_again``).
- ``on_asked_again(fetch_id, slot, response)``, ``expire(now_ms)``, ``next_deadline_ms()``.

Every entry point returns ``FetchEffects``: fetches to answer (with their results) and
partitions to ask the replica again for.  Times are milliseconds the shell reads from its
clock; nothing here reads one.

Must never: read a log, or decide a follower's progress (the replica's leader core does
that when a fetch first comes; a held fetch only reads).
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Sequence

from zafka.core.errors import ErrorCode
from zafka.core.messages import (
    FetchPartition,
    FetchPartitionResponse,
    FetchRequest,
    ReplicaDataReady,
)

PartitionKey = tuple[str, int]


@dataclasses.dataclass(slots=True)
class FetchEffects:
    """What the broker does next: answer these fetches, ask these (fetch, slot) again."""

    answer: list[tuple[int, list[FetchPartitionResponse]]] = dataclasses.field(
        default_factory=list)
    ask_again: list[tuple[int, int]] = dataclasses.field(default_factory=list)

    def merge(self, other: FetchEffects) -> FetchEffects:
        self.answer.extend(other.answer)
        self.ask_again.extend(other.ask_again)
        return self


@dataclasses.dataclass(eq=False, slots=True)
class HeldFetch:
    """A multi-partition fetch held until it has ``min_bytes`` or its deadline."""

    fetch_id: int
    request: FetchRequest
    results: list[FetchPartitionResponse]
    slots: dict[PartitionKey, int]
    epochs: dict[PartitionKey, int]  # the leader epoch announced when it was held
    deadline_ms: int
    size: int = 0
    done: bool = False


def enough(request: FetchRequest, size: int, errors: bool) -> bool:
    """A fetch is answered once it has ``min_bytes`` (at least one byte) or an error."""
    return size >= max(1, request.min_bytes) or errors


def _is_empty(result: FetchPartitionResponse) -> bool:
    return result.error == ErrorCode.NONE and not len(result.records) \
        and result.diverging_epoch is None


class DelayedFetches:
    """The held fetches and partition versions of one broker (see the module docstring)."""

    def __init__(self) -> None:
        self.held: dict[int, HeldFetch] = {}
        self.watching: dict[PartitionKey, dict[int, HeldFetch]] = {}
        self.deadlines: list[tuple[int, int]] = []  # (deadline_ms, fetch_id)
        self.versions: dict[PartitionKey, int] = {}
        self.snapshots: dict[PartitionKey, ReplicaDataReady] = {}
        self.empty: dict[tuple[int, str, int],
                         tuple[FetchPartition, int, FetchPartitionResponse]] = {}
        self.next_id = 0
        self.answered_unchanged = 0  # partitions answered from memory (KIP-227)
        self.answered_from_snapshot = 0  # held partitions completed without asking again
        self.asked_again = 0

    # --- the first round ----------------------------------------------------------------

    def version(self, key: PartitionKey) -> int:
        return self.versions.get(key, 0)

    def unchanged(self, replica_id: int, part: FetchPartition) -> FetchPartitionResponse | None:
        seen = self.empty.get((replica_id, part.topic, part.partition))
        if seen is None or seen[0] != part or seen[1] != self.version(
                (part.topic, part.partition)):
            return None
        self.answered_unchanged += 1
        return seen[2]

    def first_round(self, request: FetchRequest, versions: Sequence[int],
                    results: Sequence[FetchPartitionResponse], now_ms: int,
                    ) -> tuple[int, FetchEffects]:
        """Every partition answered once: (fetch id, effects) — answer or hold."""
        self.next_id += 1
        fetch_id = self.next_id
        for part, version, result in zip(request.partitions, versions, results, strict=True):
            if _is_empty(result):
                self.empty[(request.replica_id, part.topic, part.partition)] = (
                    part, version, result)
        size = sum(len(r.records) for r in results)
        errors = any(r.error != ErrorCode.NONE for r in results)
        effects = FetchEffects()
        if enough(request, size, errors) or request.max_wait_ms <= 0:
            effects.answer.append((fetch_id, list(results)))
            return fetch_id, effects
        slots = {(p.topic, p.partition): slot for slot, p in enumerate(request.partitions)}
        held = HeldFetch(fetch_id, request, list(results), slots,
                         {key: self._epoch(key) for key in slots},
                         now_ms + request.max_wait_ms, size)
        self.held[fetch_id] = held
        for key in slots:
            self.watching.setdefault(key, {})[fetch_id] = held
        heapq.heappush(self.deadlines, (held.deadline_ms, fetch_id))
        for (key, slot), version in zip(slots.items(), versions, strict=True):
            if self.version(key) != version:  # changed while the first round was out
                effects.ask_again.append((fetch_id, slot))
                self.asked_again += 1
        return fetch_id, effects

    def _epoch(self, key: PartitionKey) -> int:
        snapshot = self.snapshots.get(key)
        return snapshot.leader_epoch if snapshot is not None else -1

    # --- data ready ---------------------------------------------------------------------

    def on_data_ready(self, snapshot: ReplicaDataReady) -> FetchEffects:
        key = (snapshot.topic, snapshot.partition)
        self.versions[key] = self.version(key) + 1
        previous = self.snapshots.get(key)
        if previous is not None and not len(snapshot.appended) and \
                previous.leader_epoch == snapshot.leader_epoch and len(previous.appended):
            # keep the last appended batches: the HW passing them makes them a consumer's
            snapshot = dataclasses.replace(snapshot, appended=previous.appended,
                                           appended_from=previous.appended_from,
                                           appended_to=previous.appended_to)
        self.snapshots[key] = snapshot
        effects = FetchEffects()
        for held in list(self.watching.get(key, {}).values()):
            slot = held.slots[key]
            response = self._from_snapshot(held, key, slot, snapshot)
            if response is None:
                effects.ask_again.append((held.fetch_id, slot))
                self.asked_again += 1
            else:
                effects.merge(self.on_asked_again(held.fetch_id, slot, response))
        return effects

    def _from_snapshot(self, held: HeldFetch, key: PartitionKey, slot: int,
                       snapshot: ReplicaDataReady) -> FetchPartitionResponse | None:
        """The answer ``snapshot`` gives the held partition, or None (ask the replica)."""
        part = held.request.partitions[slot]
        epoch = snapshot.leader_epoch
        if epoch < 0 or held.epochs.get(key) != epoch or \
                part.current_leader_epoch not in (-1, epoch) or \
                part.fetch_offset < snapshot.log_start_offset:
            return None
        follower = held.request.replica_id >= 0
        readable = snapshot.log_end_offset if follower else snapshot.high_watermark
        base = held.results[slot]
        if part.fetch_offset >= readable:  # nothing new for it: only the HW moved
            self.answered_from_snapshot += 1
            return dataclasses.replace(base, high_watermark=snapshot.high_watermark,
                                       log_start_offset=snapshot.log_start_offset)
        if snapshot.appended_from != part.fetch_offset or snapshot.appended_to > readable \
                or len(snapshot.appended) > part.partition_max_bytes:
            return None
        self.answered_from_snapshot += 1
        return dataclasses.replace(base, high_watermark=snapshot.high_watermark,
                                   log_start_offset=snapshot.log_start_offset,
                                   records=snapshot.appended)

    def on_asked_again(self, fetch_id: int, slot: int,
                       response: FetchPartitionResponse) -> FetchEffects:
        effects = FetchEffects()
        held = self.held.get(fetch_id)
        if held is None or held.done:
            return effects
        held.size += len(response.records) - len(held.results[slot].records)
        held.results[slot] = response
        if enough(held.request, held.size, response.error != ErrorCode.NONE):
            effects.answer.append((fetch_id, self._complete(held)))
        return effects

    # --- deadlines ----------------------------------------------------------------------

    def expire(self, now_ms: int) -> FetchEffects:
        """Answer the held fetches whose ``max_wait_ms`` is up, with what they have."""
        effects = FetchEffects()
        while self.deadlines and self.deadlines[0][0] <= now_ms:
            _, fetch_id = heapq.heappop(self.deadlines)
            held = self.held.get(fetch_id)
            if held is not None and not held.done:
                effects.answer.append((fetch_id, self._complete(held)))
        return effects

    def next_deadline_ms(self) -> int | None:
        while self.deadlines and self.deadlines[0][1] not in self.held:
            heapq.heappop(self.deadlines)
        return self.deadlines[0][0] if self.deadlines else None

    def _complete(self, held: HeldFetch) -> list[FetchPartitionResponse]:
        held.done = True
        del self.held[held.fetch_id]
        for key in held.slots:
            watching = self.watching.get(key)
            if watching is not None:
                watching.pop(held.fetch_id, None)
                if not watching:
                    del self.watching[key]
        return held.results

    def forget(self, key: PartitionKey) -> None:
        """The partition left this broker: drop its snapshot (held fetches stay)."""
        self.snapshots.pop(key, None)

    def invariants(self) -> None:
        for key, watching in self.watching.items():
            assert watching, f"{key}: an empty watch list is kept"
            for fetch_id, held in watching.items():
                assert self.held.get(fetch_id) is held and not held.done
                assert key in held.slots
        assert all(not held.done for held in self.held.values())


__all__ = ["DelayedFetches", "FetchEffects", "HeldFetch", "enough"]
