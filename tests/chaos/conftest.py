"""Options of the chaos suite: ``--chaos-minutes`` (length of the soak) and ``--chaos-seed``.

Soak tests (``@pytest.mark.soak``) run only when selected with ``-m soak``; the default run
includes the short chaos run alone.  Name the directory so that the options are known::

    pytest tests/chaos -m soak --chaos-minutes 10 --chaos-seed 7
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--chaos-minutes", type=float, default=10.0,
                     help="how long the chaos soak injects faults (default 10; with -m soak)")
    parser.addoption("--chaos-seed", type=int, default=None,
                     help="seed of the chaos fault schedule (default: the test's own)")


SOAK_SLACK_S = 600  # start, heal, drain and checks after the fault phase


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    soaking = "soak" in (config.getoption("-m") or "")
    minutes = float(config.getoption("--chaos-minutes", 10.0))
    skip = pytest.mark.skip(reason="soak test: run with -m soak")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(pytest.mark.timeout(minutes * 60 + SOAK_SLACK_S) if soaking
                            else skip)


@pytest.fixture
def chaos_minutes(request: pytest.FixtureRequest) -> float:
    return float(request.config.getoption("--chaos-minutes", 10.0))


@pytest.fixture
def chaos_seed(request: pytest.FixtureRequest) -> int | None:
    seed = request.config.getoption("--chaos-seed", None)
    return None if seed is None else int(seed)
