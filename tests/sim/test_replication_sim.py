"""Deterministic simulation of one partition with three replicas (see replication_world).

Each seed runs a chaos phase (loss, delay, reorder, duplication, cut links, crashes that lose
unflushed writes, pauses) then a healed phase, checking after every tick that no acknowledged
record is lost, that replicas agree below their high watermarks, and that a leader's HW never
goes back and never passes an ISR member's log end; at the end every replica must converge.
A failure names its seed: ``pytest tests/sim/test_replication_sim.py --sim-seed N``.
"""

from __future__ import annotations

from tests.conftest import SeedChooser
from tests.sim.replication_world import run


def test_replication_survives_chaos_and_converges(sim_seeds: SeedChooser) -> None:
    for seed in sim_seeds(200):
        try:
            world = run(seed)
        except AssertionError as failure:
            raise AssertionError(f"replication sim failed with --sim-seed {seed}: {failure}") \
                from failure
        assert world.acked, f"seed {seed}: nothing was ever acknowledged"
