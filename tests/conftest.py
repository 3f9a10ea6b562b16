"""Suite-wide pytest options and fixtures.

``--sim-seed N`` replays one seed of every deterministic-simulation test (the seed a failing
simulation printed); without it each simulation test runs its own range of seeds.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--sim-seed", type=int, default=None,
        help="replay a single seed of the deterministic simulation tests",
    )
    parser.addoption(
        "--sim-seeds", type=int, default=None,
        help="how many seeds each simulation test runs (default: the test's own)",
    )


@pytest.fixture
def sim_seeds(request: pytest.FixtureRequest) -> "SeedChooser":
    """Seeds for a simulation test: ``sim_seeds(default_count)`` -> list of seeds."""
    return SeedChooser(request.config.getoption("--sim-seed"),
                       request.config.getoption("--sim-seeds"))


class SeedChooser:
    """Picks the seeds a simulation test runs, honouring --sim-seed / --sim-seeds."""

    def __init__(self, only: int | None, count: int | None) -> None:
        self.only = only
        self.count = count

    def __call__(self, default_count: int) -> list[int]:
        if self.only is not None:
            return [self.only]
        return list(range(self.count if self.count is not None else default_count))
