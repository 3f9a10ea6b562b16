"""The allowed imports between the parts of zafka, read from ``docs/layers.toml``.

Every Python file of the repository belongs to one part (the tests and the examples may
import anything shipped); a part imports only the parts its entry lists, and no part and no
module imports back something that imports it.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = tomllib.loads((ROOT / "docs" / "layers.toml").read_text())["parts"]
STDLIB = set(sys.stdlib_module_names)
PACKAGE = "zafka"


@dataclass(frozen=True)
class Part:
    name: str
    paths: tuple[str, ...]
    imports: tuple[str, ...]
    libraries: tuple[str, ...]


PARTS = {name: Part(name, tuple(spec["paths"]), tuple(spec["imports"]),
                    tuple(spec["libraries"])) for name, spec in LAYERS.items()}


def files_of(part: Part) -> list[Path]:
    found: list[Path] = []
    for entry in part.paths:
        path = ROOT / entry
        found.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return found


def module_name(path: Path) -> str:
    """The import name of a repository file (``core/raft.py`` -> ``zafka.core.raft``)."""
    relative = path.relative_to(ROOT).with_suffix("")
    parts = [p for p in relative.parts if p != "__init__"]
    if parts and parts[0] in (PACKAGE, "benchmarks", "tests"):
        return ".".join(parts)
    return ".".join([PACKAGE, *parts])


def part_module_prefixes(part: Part) -> list[str]:
    return [module_name(ROOT / p) for p in part.paths]


def imports_of(path: Path) -> Iterator[str]:
    """Absolute module names ``path`` imports, wherever it imports them (in a function, or
    under ``if TYPE_CHECKING:``: a circle through type hints is still a circle)."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
            for alias in node.names:  # ``from zafka.core import messages``
                yield f"{node.module}.{alias.name}"


def part_of_module(module: str) -> str | None:
    best, length = None, -1
    for part in PARTS.values():
        for prefix in part_module_prefixes(part):
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > length:
                best, length = part.name, len(prefix)
    return best


def is_project(module: str) -> bool:
    return module.split(".")[0] in (PACKAGE, "tests", "benchmarks")


def module_exists(module: str) -> bool:
    return part_of_module(module) is not None or module == PACKAGE


def allowed(part: Part, module: str) -> bool:
    top = module.split(".")[0]
    if not is_project(module):
        return top in STDLIB or top in part.libraries
    if module == PACKAGE:
        return part.name == "root"
    target = part_of_module(module)
    if target is None:  # ``from zafka.core import messages`` also yields ``...core.messages``
        return False
    if target == part.name:
        return True
    for rule in part.imports:
        prefix = f"{PACKAGE}.{rule}" if rule not in PARTS else None
        if prefix and (module == prefix or module.startswith(prefix + ".")):
            return True
        if rule == target:
            return True
    return False


def test_every_shipped_file_belongs_to_a_part() -> None:
    shipped = {p for folder in ("core", "storage", "transport", "actors", "client", "cli",
                                "chaos", "zafka") for p in (ROOT / folder).rglob("*.py")}
    assigned = {p for part in PARTS.values() for p in files_of(part)}
    assert sorted(map(str, shipped - assigned)) == []


@pytest.mark.parametrize("name", sorted(PARTS))
def test_part_imports_only_what_it_may(name: str) -> None:
    part = PARTS[name]
    wrong = []
    for path in files_of(part):
        for module in imports_of(path):
            if is_project(module) and not module_exists(module) and module.count(".") > 1:
                continue  # ``from zafka.core.x import Name``: the name, not a module
            if not allowed(part, module):
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    rules = sorted(part.imports) + sorted(part.libraries)
    assert wrong == [], f"{name} may import only {rules} and the standard library"


def test_no_bare_layer_imports_anywhere() -> None:
    """Every project import goes through ``zafka.``; a bare ``core`` would be a user's own."""
    bare = {"core", "storage", "transport", "actors", "client", "cli", "chaos", "cluster",
            "launcher"}
    offenders = [f"{path.relative_to(ROOT)} imports {module}"
                 for path in ROOT.rglob("*.py")
                 if ".venv" not in path.parts and "build" not in path.parts
                 for module in imports_of(path) if module.split(".")[0] in bare]
    assert offenders == []


def test_shipped_code_never_imports_tests_or_benchmarks() -> None:
    offenders = [f"{path.relative_to(ROOT)} imports {module}"
                 for part in PARTS.values() if part.name != "benchmarks"
                 for path in files_of(part) for module in imports_of(path)
                 if module.split(".")[0] in ("tests", "benchmarks")]
    assert offenders == []


def test_the_parts_form_no_circle() -> None:
    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, f"circle: {' -> '.join((*trail, name))}"
        for rule in PARTS[name].imports:
            target = rule if rule in PARTS else part_of_module(f"{PACKAGE}.{rule}")
            assert target is not None, f"{name} lists unknown {rule}"
            visit(target, (*trail, name))

    for name in PARTS:
        visit(name, ())


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph: dict[str, set[str]] = {}
    for part in PARTS.values():
        for path in files_of(part):
            graph[module_name(path)] = {m for m in imports_of(path) if is_project(m)}
    known = set(graph)
    for module in graph:
        # A module's own parent packages are imported with it: not an arrow back.
        graph[module] = {m for m in graph[module] if m in known
                         and not (module == m or module.startswith(m + "."))}
    circles = []
    state: dict[str, int] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for nxt in sorted(graph[module]):
            if state.get(nxt) == 1:
                circles.append(" -> ".join([*trail[trail.index(nxt):], nxt]))
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert circles == []


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
