"""core.fetch_batcher: unit cases, and a deterministic simulation of one follower broker's
fetcher for a leader broker, driven by seeds.

The simulation runs the real core with a shell like ``FetcherActor`` (a ticker that keeps
the earliest of several wake-ups and drops the others), replica models that want again a
few ticks after each answer (or forget the partition now and then), and a leader that holds
a fetch until data arrives or its wait runs out, answers with data, empty partitions or an
error, and (on an unhealthy network) loses, delays and duplicates messages.  After every
step it checks the named invariants:

- ``unscheduled want``: a want that no request in flight carries and no wake-up will send;
- ``lost want``: a want not carried by any request within the bound the core promises
  (timeout + rejoin + back-off, plus a tick);
- ``stalled partition`` (healthy network only): data at the leader not handed to its
  replica within the leader's wait plus the rejoin time.

A failure names the seed; ``run(seed, ...)`` replays it.
"""

from __future__ import annotations

import dataclasses
import random

import pytest
from zafka.core.errors import ErrorCode
from zafka.core.fetch_batcher import BACKOFF_TICKS, REJOIN_TICKS, BatcherEffects, FetchBatcher
from zafka.core.messages import (
    FetchedPartition,
    FetchPartition,
    FetchPartitionResponse,
    FetchResponse,
    FetchWant,
)

TIMEOUT_TICKS = 30
LEADER_WAIT_TICKS = 10
PARTITIONS = [("t", p) for p in range(5)]


def want(partition: int, request_id: int, offset: int = 0) -> FetchWant:
    return FetchWant(replica=f"replica:t:{partition}", request_id=request_id,
                     partition=FetchPartition(topic="t", partition=partition,
                                              fetch_offset=offset, partition_max_bytes=1 << 20))


def answer(partition: int, records: bytes = b"", error: ErrorCode = ErrorCode.NONE,
           high_watermark: int = -1) -> FetchPartitionResponse:
    return FetchPartitionResponse(topic="t", partition=partition, error=error,
                                  records=records, high_watermark=high_watermark)


# --- unit cases ---------------------------------------------------------------------------


def test_the_first_want_sends_and_later_ones_wait_for_the_answer() -> None:
    batcher = FetchBatcher(TIMEOUT_TICKS)
    first = batcher.want(want(0, 1), now=0)
    assert first.send is not None and [p.partition for p in first.send.partitions] == [0]
    assert first.wake_at == TIMEOUT_TICKS
    second = batcher.want(want(1, 1), now=1)
    assert second.send is None  # rides the next request
    batcher.known_hw[("t", 0)] = -1  # the replica already knows this high watermark
    empty = batcher.on_response(first.send.correlation_id,
                                FetchResponse(partitions=(answer(0),)), now=3)
    assert empty.deliver == []
    assert empty.send is not None
    assert sorted(p.partition for p in empty.send.partitions) == [0, 1]


def test_an_answer_with_data_goes_to_its_replica_and_the_next_request_waits_for_it() -> None:
    batcher = FetchBatcher(TIMEOUT_TICKS)
    sent = batcher.want(want(0, 1), 0).send
    batcher.want(want(1, 1), 0)
    assert sent is not None
    got = batcher.on_response(sent.correlation_id,
                              FetchResponse(partitions=(answer(0, b"batch"),)), now=2)
    assert [(r, a.request_id) for r, a in got.deliver] == [("replica:t:0", 1)]
    assert got.send is None and got.wake_at == 2 + REJOIN_TICKS
    again = batcher.want(want(0, 2, offset=5), now=3)
    assert again.send is not None
    assert {p.partition: p.fetch_offset for p in again.send.partitions} == {0: 5, 1: 0}


def test_an_empty_answer_goes_to_the_replica_only_when_the_high_watermark_moved() -> None:
    batcher = FetchBatcher(TIMEOUT_TICKS)
    sent = batcher.want(want(0, 1), 0).send
    assert sent is not None
    first = batcher.on_response(sent.correlation_id, FetchResponse(
        partitions=(answer(0, high_watermark=7),)), now=1)
    assert [a.response.high_watermark for _, a in first.deliver] == [7]  # not known yet
    sent = batcher.want(want(0, 2), 2).send
    assert sent is not None
    same = batcher.on_response(sent.correlation_id, FetchResponse(
        partitions=(answer(0, high_watermark=7),)), now=3)
    assert same.deliver == [] and same.send is not None  # kept for the next round
    moved = batcher.on_response(same.send.correlation_id, FetchResponse(
        partitions=(answer(0, high_watermark=9),)), now=4)
    assert [a.response.high_watermark for _, a in moved.deliver] == [9]


def test_a_replica_that_never_wants_again_holds_nobody_up_past_the_rejoin_time() -> None:
    batcher = FetchBatcher(TIMEOUT_TICKS)
    sent = batcher.want(want(0, 1), 0).send
    batcher.want(want(1, 1), 0)
    assert sent is not None
    batcher.on_response(sent.correlation_id, FetchResponse(partitions=(answer(0, b"x"),)), 1)
    assert batcher.on_tick(1 + REJOIN_TICKS - 1).send is None
    late = batcher.on_tick(1 + REJOIN_TICKS)
    assert late.send is not None and [p.partition for p in late.send.partitions] == [1]


def test_answers_for_replaced_or_forgotten_wants_and_stale_requests_are_dropped() -> None:
    batcher = FetchBatcher(TIMEOUT_TICKS)
    sent = batcher.want(want(0, 1), 0).send
    batcher.want(want(1, 1), 0)
    assert sent is not None
    batcher.want(want(0, 2), 1)  # replaced while the request is out
    batcher.forget("t", 1, 1)
    got = batcher.on_response(sent.correlation_id, FetchResponse(
        partitions=(answer(0, b"x"), answer(1, b"y"))), now=2)
    assert got.deliver == []
    assert got.send is not None and [p.partition for p in got.send.partitions] == [0]
    stale = batcher.on_response(sent.correlation_id,
                                FetchResponse(partitions=(answer(0, b"x"),)), now=3)
    assert stale.deliver == [] and stale.send is None


def test_an_unanswered_request_is_sent_again_after_the_timeout_and_its_late_answer_ignored(
        ) -> None:
    batcher = FetchBatcher(TIMEOUT_TICKS)
    first = batcher.want(want(0, 1), 0).send
    assert first is not None
    assert batcher.on_tick(TIMEOUT_TICKS - 1).send is None
    retry = batcher.on_tick(TIMEOUT_TICKS).send
    assert retry is not None and retry.correlation_id != first.correlation_id
    late = batcher.on_response(first.correlation_id,
                               FetchResponse(partitions=(answer(0, b"x"),)), TIMEOUT_TICKS + 1)
    assert late.deliver == []


def test_an_error_reply_backs_off_before_fetching_again() -> None:
    batcher = FetchBatcher(TIMEOUT_TICKS)
    sent = batcher.want(want(0, 1), 0).send
    assert sent is not None
    refused = batcher.on_error(sent.correlation_id, now=2)
    assert refused.send is None and refused.wake_at == 2 + BACKOFF_TICKS
    assert batcher.want(want(1, 1), now=3).send is None
    again = batcher.on_tick(2 + BACKOFF_TICKS).send
    assert again is not None and len(again.partitions) == 2


def test_a_partition_error_or_divergence_goes_to_the_replica() -> None:
    batcher = FetchBatcher(TIMEOUT_TICKS)
    sent = batcher.want(want(0, 1), 0).send
    assert sent is not None
    got = batcher.on_response(sent.correlation_id, FetchResponse(partitions=(
        answer(0, error=ErrorCode.NOT_LEADER_OR_FOLLOWER),)), now=1)
    assert [a.response.error for _, a in got.deliver] == [ErrorCode.NOT_LEADER_OR_FOLLOWER]


# --- the simulation -----------------------------------------------------------------------


@dataclasses.dataclass
class Replica:
    partition: int
    want_id: int = 0  # the outstanding want (0: none)
    wanted_at: int = 0
    carried: bool = False  # a request carried the outstanding want
    next_want_at: int | None = 0  # when it wants (again)
    offset: int = 0


@dataclasses.dataclass(order=True)
class Delivery:
    at: int
    order: int
    kind: str = dataclasses.field(compare=False)
    payload: object = dataclasses.field(compare=False)


class InvariantViolation(AssertionError):
    pass


class Sim:
    def __init__(self, seed: int, healthy: bool) -> None:
        self.rng = random.Random(seed)
        self.seed, self.healthy = seed, healthy
        self.batcher = FetchBatcher(TIMEOUT_TICKS)
        self.replicas = {p: Replica(p) for _, p in PARTITIONS}
        self.now = 0
        self.due: int | None = None  # the ticker's one pending wake-up (earliest wins)
        self.network: list[Delivery] = []
        self.order = 0
        self.held: list[tuple[int, int, tuple[FetchPartition, ...]]] = []  # (until, id, parts)
        self.data_since: dict[int, int] = {}  # partition -> tick data appeared at the leader
        self.delivered_data = 0

    # the shell, as FetcherActor carries effects out
    def carry_out(self, effects: BatcherEffects) -> None:
        send = effects.send
        if send is not None:
            for part in send.partitions:
                replica = self.replicas[part.partition]
                if replica.want_id:
                    replica.carried = True
            self.post(self.delay(), "fetch", (send.correlation_id, send.partitions))
        for _, fetched in effects.deliver:
            self.post(0, "fetched", fetched)
        wake_at = effects.wake_at
        if wake_at is not None:
            at = max(wake_at, self.now + 1)
            if self.due is None or at < self.due:
                self.due = at

    def delay(self) -> int:
        return self.rng.choice((0, 0, 1, 1, 2)) if self.healthy else self.rng.randint(0, 6)

    def post(self, delay: int, kind: str, payload: object) -> None:
        if not self.healthy and kind in ("fetch", "response", "error") \
                and self.rng.random() < 0.05:
            return  # lost
        self.order += 1
        self.network.append(Delivery(self.now + delay, self.order, kind, payload))
        if not self.healthy and kind == "response" and self.rng.random() < 0.03:
            self.order += 1  # duplicated, late
            self.network.append(Delivery(self.now + delay + self.rng.randint(1, 40),
                                         self.order, kind, payload))

    # the leader: holds a fetch until data arrives or its wait runs out
    def leader_step(self) -> None:
        if self.rng.random() < (0.08 if self.healthy else 0.15):
            partition = self.rng.randrange(len(PARTITIONS))
            self.data_since.setdefault(partition, self.now)
        still = []
        for until, correlation_id, parts in self.held:
            ready = [p for p in parts if p.partition in self.data_since]
            if ready or self.now >= until:
                self.answer(correlation_id, parts)
            else:
                still.append((until, correlation_id, parts))
        self.held = still

    def answer(self, correlation_id: int, parts: tuple[FetchPartition, ...]) -> None:
        if not self.healthy and self.rng.random() < 0.05:
            self.post(self.delay(), "error", correlation_id)
            return
        answers = tuple(answer(p.partition, b"data" if p.partition in self.data_since else b"")
                        for p in parts)
        self.post(self.delay(), "response", (correlation_id, FetchResponse(partitions=answers)))

    def replica_step(self) -> None:
        for replica in self.replicas.values():
            if replica.next_want_at is not None and self.now >= replica.next_want_at:
                replica.next_want_at = None
                replica.want_id += 1
                replica.wanted_at, replica.carried = self.now, False
                self.carry_out(self.batcher.want(
                    want(replica.partition, replica.want_id, replica.offset), self.now))

    def on_fetched(self, fetched: FetchedPartition) -> None:
        request_id, response = fetched.request_id, fetched.response
        replica = self.replicas[response.partition]
        assert request_id == replica.want_id, "an answer reached a replica for an old want"
        replica.want_id = -replica.want_id  # processed; wants again soon
        if response.records:
            replica.offset += 1
            self.data_since.pop(response.partition, None)
            self.delivered_data += 1
        if self.rng.random() < 0.03:  # leaves this leader for a while
            replica.want_id = 0
            self.carry_out(self.batcher.forget("t", replica.partition, self.now))
            replica.next_want_at = self.now + self.rng.randint(5, 30)
        else:
            replica.want_id = abs(replica.want_id)
            replica.next_want_at = self.now + self.rng.randint(0, 3)

    def deliver_due(self) -> None:
        self.network.sort()
        while self.network and self.network[0].at <= self.now:
            item = self.network.pop(0)
            if item.kind == "fetch":
                correlation_id, parts = item.payload  # type: ignore[misc]
                self.held.append((self.now + LEADER_WAIT_TICKS, correlation_id, parts))
            elif item.kind == "response":
                correlation_id, response = item.payload  # type: ignore[misc]
                self.carry_out(self.batcher.on_response(correlation_id, response, self.now))
            elif item.kind == "error":
                self.carry_out(self.batcher.on_error(item.payload, self.now))  # type: ignore[arg-type]
            elif item.kind == "fetched":
                self.on_fetched(item.payload)  # type: ignore[arg-type]

    def check(self) -> None:
        lost = self.batcher.unscheduled(self.now, self.due)
        if lost:
            raise InvariantViolation(f"seed {self.seed}: unscheduled want {lost} at tick "
                                     f"{self.now}")
        bound = TIMEOUT_TICKS + REJOIN_TICKS + BACKOFF_TICKS + 1
        for replica in self.replicas.values():
            if replica.want_id > 0 and not replica.carried \
                    and self.now - replica.wanted_at > bound:
                raise InvariantViolation(
                    f"seed {self.seed}: lost want of partition {replica.partition} "
                    f"(made at tick {replica.wanted_at}, now {self.now})")
        if self.healthy:
            stall = LEADER_WAIT_TICKS + REJOIN_TICKS + 3 * 2 + 3 + 1
            for partition, since in self.data_since.items():
                if self.now - since > stall + 30:  # a forgotten partition waits up to 30
                    raise InvariantViolation(
                        f"seed {self.seed}: stalled partition {partition} (data since "
                        f"tick {since}, now {self.now})")

    def run(self, ticks: int) -> None:
        for self.now in range(ticks):
            if self.due is not None and self.now >= self.due:
                self.due = None
                self.carry_out(self.batcher.on_tick(self.now))
            self.replica_step()
            self.deliver_due()
            self.leader_step()
            self.deliver_due()
            self.check()


def run(seed: int, healthy: bool, ticks: int = 2_000) -> Sim:
    sim = Sim(seed, healthy)
    sim.run(ticks)
    return sim


@pytest.mark.parametrize("healthy", [True, False], ids=["healthy", "lossy"])
def test_no_want_is_lost_and_no_partition_stalls_over_many_seeds(healthy: bool) -> None:
    delivered = 0
    for seed in range(150):
        delivered += run(seed, healthy).delivered_data
    assert delivered > 150 * 50  # the runs did move data


def test_the_invariant_catches_a_batcher_that_forgets_to_wake() -> None:
    """The check is not vacuous: a core whose rejoin never arms a wake-up is caught."""

    class Forgetful(FetchBatcher):
        def _wake_at(self) -> int | None:
            return None if self.rejoining else super()._wake_at()

    sim = Sim(seed=3, healthy=True)
    sim.batcher = Forgetful(TIMEOUT_TICKS)
    with pytest.raises(InvariantViolation, match="unscheduled want|lost want|stalled"):
        sim.run(2_000)
