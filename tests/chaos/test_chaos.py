"""Chaos runs against real processes: producers and a consumer group under kills, pauses,
partitions and damaged files, then every checker (``tests.chaos.checker``).

The default run is short (about a minute: a few seeded random faults); the soak (``-m soak``,
``--chaos-minutes N``, ``--chaos-seed S``) injects mixed faults for longer.
"""

from __future__ import annotations

import pytest
from zafka.chaos.harness import CHAOS_TUNABLES, ChaosConfig, format_summary, run_chaos
from zafka.chaos.nemesis import NEMESES


def run_and_check(cluster_factory, config: ChaosConfig) -> None:  # type: ignore[no-untyped-def]
    cluster = cluster_factory(brokers=3, coordinators=3, tunables=dict(CHAOS_TUNABLES),
                              testing=True)
    result = run_chaos(cluster, config, log=print)
    print(format_summary(result.summary))
    summary = result.summary
    assert summary["acknowledged"] > 0 and summary["acknowledged_after_faults_stopped"] > 0
    assert summary["recovery"]["time_to_recover_s"] is not None, \
        f"not healthy within {config.heal_bound_s} s: {summary['recovery']}"
    assert result.ok, f"violations {result.violations}; examples {summary['examples']}; " \
                      f"notes {summary['notes']}"


def test_a_short_chaos_run_loses_duplicates_and_reorders_nothing(
        cluster_factory) -> None:  # type: ignore[no-untyped-def]
    config = ChaosConfig(duration_s=30, seed=3, interval_s=(0.5, 1.5), hold_s=2.0,
                         rate_per_producer=60, heal_bound_s=30)
    run_and_check(cluster_factory, config)


@pytest.mark.soak
def test_a_chaos_soak_of_mixed_faults(cluster_factory, chaos_minutes: float,
                                      chaos_seed: int | None) -> None:  # type: ignore[no-untyped-def]
    config = ChaosConfig(duration_s=chaos_minutes * 60, seed=chaos_seed or 11,
                         nemeses=tuple(NEMESES))
    run_and_check(cluster_factory, config)
