"""The allowed imports between layers (DESIGN.md §2), checked on the source."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = {"core", "storage", "transport", "actors", "client", "cluster", "benchmarks"}
STDLIB = set(sys.stdlib_module_names)
ALLOWED: dict[str, set[str]] = {
    "core": {"core"},
    "storage": {"core", "storage", "crc32c"},
    "transport": {"core", "transport", "zmq", "cloudpickle"},
    "actors": {"core", "storage", "transport", "actors", "pykka"},
    # The client's long-lived parts are actors on the same runtime as a node's (say it once).
    "client": {"core", "storage.records", "transport", "client", "pykka", "cloudpickle",
               "actors.base", "actors.runtime"},
}
OPTIONAL_COMPRESSION = {"lz4", "zstandard", "zstd"}


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def allowed(module: str, rules: set[str]) -> bool:
    top = module.split(".")[0]
    if top in STDLIB and top not in PROJECT:
        return True
    return any(module == rule or module.startswith(rule + ".") for rule in rules)


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    rules = ALLOWED[layer] | (OPTIONAL_COMPRESSION if layer in ("storage", "client") else set())
    wrong = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        for module in imports_of(path):
            if not allowed(module, rules):
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert wrong == [], f"{layer} may import only {sorted(rules)} and the standard library"


def test_nothing_imports_the_launcher() -> None:
    offenders = [str(p.relative_to(ROOT)) for layer in ALLOWED
                 for p in (ROOT / layer).rglob("*.py") if "cluster" in imports_of(p)]
    assert offenders == []


def test_core_never_reaches_for_clocks_sockets_threads_or_global_random() -> None:
    banned = {"time", "socket", "threading", "asyncio", "subprocess", "os", "selectors"}
    offenders = []
    for path in (ROOT / "core").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for module in imports_of(path):
            if module.split(".")[0] in banned:
                offenders.append(f"{path.name} imports {module}")
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id == "random" and node.attr != "Random"):
                offenders.append(f"{path.name} uses random.{node.attr}")
    assert offenders == []
