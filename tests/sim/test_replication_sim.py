"""Deterministic simulation of one partition with three replicas (see replication_world).

Each seed runs a chaos phase (loss, delay, reorder, duplication, cut links, crashes that lose
unflushed writes, pauses) then a healed phase, checking after every tick that no acknowledged
record is lost, that replicas agree below their high watermarks, and that a leader's HW never
goes back and never passes an ISR member's log end; at the end every replica must converge
and hold each producer's records exactly once, in order.
A failure names its seed: ``pytest tests/sim/test_replication_sim.py --sim-seed N``.
"""

from __future__ import annotations

import pytest

from tests.conftest import SeedChooser
from tests.sim.replication_world import PipelinedProducer, World, run


def run_seeds(seeds: list[int]) -> None:
    for seed in seeds:
        try:
            world = run(seed)
        except AssertionError as failure:
            raise AssertionError(f"replication sim failed with --sim-seed {seed}: {failure}") \
                from failure
        assert world.acked, f"seed {seed}: nothing was ever acknowledged"


def test_replication_survives_chaos_and_converges(sim_seeds: SeedChooser) -> None:
    run_seeds(sim_seeds(200))


@pytest.mark.soak
def test_replication_survives_chaos_and_converges_soak(request: pytest.FixtureRequest,
                                                       sim_seeds: SeedChooser) -> None:
    """The same over many more seeds (opt-in: ``pytest -m soak``)."""
    if "soak" not in str(request.config.getoption("-m")):
        pytest.skip("opt-in: pytest -m soak")
    run_seeds(sim_seeds(3_000) if request.config.getoption("--sim-seed") is not None
              else [seed + 10_000 for seed in sim_seeds(3_000)])


def test_a_leader_crash_with_five_batches_in_flight_loses_and_reorders_nothing(
        sim_seeds: SeedChooser) -> None:
    """The pipelined producer fills its window of five, the leader crashes (losing what it
    had not flushed) at that moment, and after healing every acknowledged record is kept,
    each record is in the log once and in send order."""
    for seed in sim_seeds(30):
        world = World(seed)
        pipelined = world.producers["p3"]
        assert isinstance(pipelined, PipelinedProducer)
        for _ in range(2_000):
            world.step()
            if sum(b.in_flight for b in pipelined.queue) == PipelinedProducer.IN_FLIGHT_MAX:
                break
        else:
            raise AssertionError(f"seed {seed}: the pipeline never filled")
        world.brokers[world.controller.state.leader].crash()
        try:
            settle(world)
        except AssertionError as failure:
            raise AssertionError(f"--sim-seed {seed}: {failure}") from failure
        assert pipelined.most_in_flight == PipelinedProducer.IN_FLIGHT_MAX


def settle(world: World) -> None:
    for _ in range(300):
        world.step()
    world.heal()
    for producer in world.producers.values():
        producer.enabled = False
    for _ in range(600):
        world.step()
        if world.converged() and all(p.idle for p in world.producers.values()):
            world.check_exactly_once()
            return
    raise AssertionError("replicas did not converge after the crash")


def test_the_lost_want_invariant_catches_a_fetcher_that_drops_answers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Not vacuous: a fetcher core that now and then forgets to hand an answer on (so the
    follower's want is gone from it) fails the run with a named lost want."""
    from zafka.core import fetch_batcher

    original = fetch_batcher.FetchBatcher.on_response

    def dropping(self: fetch_batcher.FetchBatcher, correlation_id: int, response: object,
                 now: int) -> fetch_batcher.BatcherEffects:
        effects = original(self, correlation_id, response, now)  # type: ignore[arg-type]
        if effects.deliver and now % 7 == 0:
            effects.deliver = []
        return effects

    monkeypatch.setattr(fetch_batcher.FetchBatcher, "on_response", dropping)
    with pytest.raises(AssertionError, match="lost want"):
        for seed in range(10):
            run(seed)
