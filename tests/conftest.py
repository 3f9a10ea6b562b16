"""Suite-wide pytest options and fixtures.

``--sim-seed N`` replays one seed of every deterministic-simulation test (the seed a failing
simulation printed); without it each simulation test runs its own range of seeds.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pytest

_ROOT = Path(__file__).resolve().parent.parent


class _InstalledFirst(importlib.abc.MetaPathFinder):
    """The checkout's layer folders install as ``zafka.*``; pytest puts the checkout root first
    on sys.path (so that ``tests`` imports), where ``kafka/`` would shadow kafka-python.
    Top-level ``kafka`` is therefore looked up everywhere but the checkout root."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "kafka" or path is not None:
            return None
        elsewhere = [e for e in sys.path if Path(e or ".").resolve() != _ROOT]
        return importlib.machinery.PathFinder.find_spec(fullname, elsewhere)


sys.meta_path.insert(0, _InstalledFirst())


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
def sim_seeds(request: pytest.FixtureRequest) -> SeedChooser:
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


# --- real clusters ------------------------------------------------------------------------

FAST_TUNABLES: dict[str, int] = {
    # Test clusters let consumer groups form and fail over quickly.
    "group_min_session_timeout_ms": 500,
    "group_initial_rebalance_delay_ms": 0,
}


@pytest.fixture
def cluster_factory(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Build clusters in temporary directories; every one is stopped at teardown."""
    from zafka.launcher import Cluster

    made: list[Cluster] = []

    def make(brokers: int = 3, coordinators: int = 3, start: bool = True,
             **options: object) -> Cluster:
        data_dir = options.pop("data_dir", None) or tmp_path_factory.mktemp("cluster")
        options.setdefault("tunables", dict(FAST_TUNABLES))
        cluster = Cluster(brokers=brokers, coordinators=coordinators,
                          data_dir=data_dir, **options)  # type: ignore[arg-type]
        made.append(cluster)
        if start:
            cluster.start()
        return cluster

    yield make
    for cluster in made:
        cluster.stop()


@pytest.fixture
def cluster(cluster_factory):  # type: ignore[no-untyped-def]
    """A running cluster of 3 coordinators and 3 brokers in a temporary directory."""
    return cluster_factory()
