"""The packages of `lambench/core` import each other in one direction only: no cycles between them.

Every module under `lambench/core` is parsed (not imported) and each import, at module level, inside
a function or under `TYPE_CHECKING`, becomes an arrow from the module's package to the imported
one's. A package is a directory under `lambench/core` (`lambench.core.runtime`,
`lambench.core.backends`, ...); a module directly under it (`config.py`, `deploy.py`) is a node of
its own. Imports inside one package are not arrows. A cycle fails the test with every import that
makes it, as `file:line`.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

from tests.helpers import REPO

CORE = REPO / "lambench" / "core"
ROOT = "lambench.core"

#: For each arrow (importer's package, imported package), where it is made: `path:line`.
Graph = dict[tuple[str, str], list[str]]


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _node(module: str) -> str:
    """The package `module` belongs to: `lambench.core.runtime.service` -> `lambench.core.runtime`."""
    return ".".join(module.split(".")[:3])


def _imported(tree: ast.Module, module: str, is_package: bool, known: set[str]) -> Iterator[tuple[str, int]]:
    """Every module name `tree` imports, with the line of the import."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # `from ..logs import model`: relative to the module's package
                parent = package.rsplit(".", node.level - 1)[0]
                base = f"{parent}.{base}" if base else parent
            for alias in node.names:
                # `from lambench.core import cloud_resources` imports the submodule.
                submodule = f"{base}.{alias.name}"
                yield (submodule if submodule in known else base), node.lineno


def import_graph() -> Graph:
    """The package-level import graph of `lambench/core`."""
    paths = sorted(p for p in CORE.rglob("*.py") if "__pycache__" not in p.parts)
    known = {_module_name(p) for p in paths}
    graph: Graph = defaultdict(list)
    for path in paths:
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for target, line in _imported(tree, module, path.name == "__init__.py", known):
            if target != ROOT and not target.startswith(ROOT + "."):
                continue
            arrow = (_node(module), _node(target))
            if arrow[0] == arrow[1] or ROOT in arrow:
                continue
            site = f"{path.relative_to(REPO)}:{line}"
            if site not in graph[arrow]:
                graph[arrow].append(site)

    def by_line(site: str) -> tuple[str, int]:
        file, _, line = site.rpartition(":")
        return file, int(line)

    return {arrow: sorted(sites, key=by_line) for arrow, sites in graph.items()}


def find_cycle(graph: Graph) -> list[str] | None:
    """One cycle of packages (`[a, b, ..., a]`), or None when the graph has none."""
    successors: dict[str, list[str]] = defaultdict(list)
    for source, destination in sorted(graph):
        successors[source].append(destination)
    state: dict[str, str] = {}  # "open" while on the current path, "done" once fully explored
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for successor in successors[node]:
            if state.get(successor) == "open":
                return [*path[path.index(successor) :], successor]
            if successor not in state:
                found = visit(successor)
                if found:
                    return found
        path.pop()
        state[node] = "done"
        return None

    for start in sorted(successors):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def describe_cycle(cycle: list[str], graph: Graph) -> str:
    """The cycle, one arrow a line, each with the imports that make it."""
    lines = [" -> ".join(cycle)]
    for source, destination in pairwise(cycle):
        lines.append(f"  {source} -> {destination}: {', '.join(graph[(source, destination)])}")
    return "\n".join(lines)


def test_the_graph_sees_the_core_packages_and_their_imports() -> None:
    graph = import_graph()
    nodes = {node for arrow in graph for node in arrow}
    expected = {"runtime", "backends", "logs", "embedded", "reload", "timeline", "config", "deploy"}
    assert {f"{ROOT}.{name}" for name in expected} <= nodes
    # Imports inside functions count: LocalBackend imports the engine feed only when it needs it.
    assert "lambench/core/backends/local.py:" in " ".join(graph[(f"{ROOT}.backends", f"{ROOT}.logs")])
    assert (f"{ROOT}.reload", f"{ROOT}.deploy") in graph


def test_no_cycle_between_core_packages() -> None:
    graph = import_graph()
    cycle = find_cycle(graph)
    described = "" if cycle is None else describe_cycle(cycle, graph)
    print(described)
    assert cycle is None, f"an import cycle between lambench/core packages:\n{described}"


def test_a_cycle_is_found_and_described() -> None:
    graph = {("a", "b"): ["a.py:1"], ("b", "c"): ["b.py:2"], ("c", "a"): ["c.py:3", "c.py:9"], ("c", "d"): []}
    cycle = find_cycle(graph)
    assert cycle == ["a", "b", "c", "a"]
    assert describe_cycle(cycle, graph).splitlines() == [
        "a -> b -> c -> a",
        "  a -> b: a.py:1",
        "  b -> c: b.py:2",
        "  c -> a: c.py:3, c.py:9",
    ]
    assert find_cycle({("a", "b"): [], ("b", "c"): [], ("a", "c"): []}) is None
