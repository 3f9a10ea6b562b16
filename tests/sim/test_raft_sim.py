"""Deterministic simulation of the coordinators' raft: seeded chaos, then heal and converge.

A failure names its seed; ``pytest tests/sim/test_raft_sim.py --sim-seed N`` replays it.
"""

from __future__ import annotations

import pytest
from zafka.core.raft_types import NotLeader, Role

from tests.conftest import SeedChooser
from tests.sim.raft_world import SIM_TUNABLES, RaftWorld

CHAOS_TICKS = 300
HEAL_TICKS_MAX = 30 * SIM_TUNABLES.election_ticks


def run_seed(seed: int, nodes: int) -> RaftWorld:
    world = RaftWorld(seed, nodes)
    try:
        world.run_chaos(CHAOS_TICKS)
        world.heal()
        world.run_healed(HEAL_TICKS_MAX)
        world.check_logs_match()
    except Exception as error:  # any failure, invariant or crash, must name its seed
        raise AssertionError(
            f"raft simulation failed with seed {seed} ({nodes} nodes) at tick {world.now}: "
            f"{error!r}; replay with: pytest tests/sim/test_raft_sim.py --sim-seed {seed}"
        ) from error
    return world


@pytest.mark.parametrize(("nodes", "seeds"), [(3, 200), (5, 100)])
def test_raft_safety_under_chaos_and_liveness_after_healing(
        sim_seeds: SeedChooser, nodes: int, seeds: int) -> None:
    """Election Safety, Log Matching, Leader Completeness and State Machine Safety hold after
    every step under loss, duplication, reordering, partitions, pauses and crashes that lose
    unflushed writes; once healed, a leader is elected and a new command commits everywhere."""
    committed = reads = snapshots_loaded = 0
    for seed in sim_seeds(seeds):
        world = run_seed(seed, nodes)
        committed += world.checker.max_committed
        reads += world.reads_served
        snapshots_loaded += sum(n.raft is not None and n.raft.log.snapshot_index > 0
                                for n in world.nodes.values())
    # the chaos must actually exercise commits, reads and snapshots
    assert committed > 0 and reads > 0 and snapshots_loaded > 0


@pytest.mark.soak
@pytest.mark.parametrize(("nodes", "seeds"), [(3, 5000), (5, 3000)])
def test_raft_soak(request: pytest.FixtureRequest, sim_seeds: SeedChooser, nodes: int,
                   seeds: int) -> None:
    """The chaos simulation over many more seeds (opt-in: ``pytest -m soak``)."""
    if "soak" not in str(request.config.getoption("-m")):
        pytest.skip("opt-in: pytest -m soak")
    for seed in sim_seeds(seeds):
        run_seed(seed, nodes)


def elect(world: RaftWorld, ticks: int = 200) -> int:
    for _ in range(ticks):
        world.step()
        leaders = world.leaders()
        if leaders:
            return leaders[0].node_id
    raise AssertionError("no leader elected")


def settle(world: RaftWorld, ticks: int) -> None:
    for _ in range(ticks):
        world.step()


@pytest.mark.parametrize("nodes", [3, 5])
def test_partitioned_follower_returning_does_not_disrupt_leader(nodes: int) -> None:
    """§9.6 PreVote + CheckQuorum: a follower cut off for many election timeouts never raises
    its term (its pre-votes fail), so when it returns the leader keeps its term and role."""
    world = RaftWorld(seed=7, nodes=nodes)
    leader = elect(world)
    settle(world, 20)
    term = world.nodes[leader].raft.term  # type: ignore[union-attr]
    follower = next(i for i in world.voters if i != leader)
    for other in world.voters:
        if other != follower:
            world.faults.blocked |= {(follower, other), (other, follower)}
    settle(world, 20 * SIM_TUNABLES.election_ticks)
    isolated = world.nodes[follower].raft
    assert isolated is not None and isolated.term == term
    world.faults.heal()
    settle(world, 10 * SIM_TUNABLES.election_ticks)
    assert [r.node_id for r in world.leaders()] == [leader]
    assert all(n.raft is not None and n.raft.term == term for n in world.nodes.values())
    assert world.propose() is not None


def test_paused_follower_resuming_with_stale_messages_does_not_disrupt_leader() -> None:
    """A paused process (no ticks, inbound queued) resumes into a pre-vote, which the others
    refuse because they heard from the leader within an election timeout (CheckQuorum)."""
    world = RaftWorld(seed=11, nodes=3)
    leader = elect(world)
    settle(world, 20)
    term = world.nodes[leader].raft.term  # type: ignore[union-attr]
    follower = next(i for i in world.voters if i != leader)
    world.nodes[follower].paused_until = world.now + 15 * SIM_TUNABLES.election_ticks
    settle(world, 25 * SIM_TUNABLES.election_ticks)
    assert [r.node_id for r in world.leaders()] == [leader]
    assert all(n.raft is not None and n.raft.term == term for n in world.nodes.values())


@pytest.mark.parametrize("nodes", [3, 5])
def test_leader_cut_off_from_majority_steps_down(nodes: int) -> None:
    """CheckQuorum: a leader that hears from no majority during a whole election timeout
    becomes a follower (and refuses proposals) within two timeouts of the cut; the majority
    elects a new leader in a higher term, which the old leader follows once reconnected."""
    world = RaftWorld(seed=5, nodes=nodes)
    leader = elect(world)
    settle(world, 20)
    old = world.nodes[leader].raft
    assert old is not None
    old_term = old.term
    for other in world.voters:
        if other != leader:
            world.faults.blocked |= {(leader, other), (other, leader)}
    settle(world, 2 * SIM_TUNABLES.election_ticks)  # the partition may start mid-window
    assert old.role is Role.FOLLOWER and old.term == old_term
    with pytest.raises(NotLeader):
        old.propose("lost")
    new_leader = elect(world)
    assert new_leader != leader
    assert world.nodes[new_leader].raft.term > old_term  # type: ignore[union-attr]
    world.faults.heal()
    settle(world, 5 * SIM_TUNABLES.election_ticks)
    assert old.leader_id == new_leader and old.term > old_term
