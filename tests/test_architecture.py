"""The tree is the architecture (docs/architecture.md): no import circle anywhere in hwsim/ or
export/, module level or inside functions, and no package imports one above it.

The import graph is read with ``ast`` from the source (nothing is imported), so an import inside a
function or under ``if TYPE_CHECKING`` counts as much as one at the top of a module.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: source folder -> the package it installs as (pyproject.toml's package-dir)
SOURCES = {"hwsim": "hwsim", "export": "hwsim.export"}

#: The floors, lowest first. A module may import its own package and any package on a lower floor,
#: never one on its own floor or higher. Modules directly in hwsim/ (errors, validation, file
#: ownership, reprs, progress) are the ground floor that every package stands on.
FLOORS = [
    ["hwsim", "hwsim.rtl_templates"],
    ["hwsim.model", "hwsim.data"],
    ["hwsim.datapath"],
    ["hwsim.sim"],
    ["hwsim.analysis", "hwsim.export"],
    ["hwsim.hdl", "hwsim.board"],
    ["hwsim.training"],
    ["hwsim.flow"],
    ["hwsim.sweep", "hwsim.fit", "hwsim.torch"],
    ["hwsim.cli"],
    ["hwsim.__main__"],
]
RANK = {pkg: i for i, floor in enumerate(FLOORS) for pkg in floor}


@functools.cache
def modules() -> dict[str, tuple[Path, bool]]:
    """Module name -> (file, is a package ``__init__``)."""
    out = {}
    for folder, pkg in SOURCES.items():
        for f in (ROOT / folder).rglob("*.py"):
            if "templates" in f.relative_to(ROOT / folder).parts:
                continue  # files copied into exports (the cocotb testbench), not part of the package
            parts = list(f.relative_to(ROOT / folder).with_suffix("").parts)
            is_init = parts[-1] == "__init__"
            if is_init:
                parts = parts[:-1]
            out[".".join([pkg, *parts])] = (f, is_init)
    return out


@functools.cache
def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (``from pkg import name`` counts as pkg.name when
    that is a module, else as pkg)."""
    mods = modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, (path, is_init) in mods.items():
        here = mod.split(".") if is_init else mod.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = here[: len(here) - (node.level - 1)]
                    base = ".".join(up + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            for t in targets:
                while t and t not in mods:  # import hwsim.export._pack as x -> the deepest module known
                    t = t.rpartition(".")[0]
                if t and t != mod:
                    graph[mod].add(t)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def package_of(mod: str) -> str:
    """The package a module belongs to for the floor rule: the longest prefix named in FLOORS."""
    parts = mod.split(".")
    for k in range(len(parts), 0, -1):
        if ".".join(parts[:k]) in RANK:
            return ".".join(parts[:k])
    raise AssertionError(f"{mod} is in no package of FLOORS: add its package to a floor")


def test_the_graph_is_read():
    g = import_graph()
    assert len(g) > 60
    assert "hwsim.datapath._config" in g["hwsim.sim._sim"]  # a relative import two floors up
    assert "hwsim.export._tb" in g["hwsim.hdl._cosim"]
    assert "hwsim.sim._sim" in g["hwsim.export._tb"]  # an import inside a function


def test_circles_are_found():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle():
    found = circles(import_graph())
    assert not found, "import circles: " + "; ".join(" <-> ".join(c) for c in found)


@pytest.mark.parametrize("mod", sorted(modules()))
def test_no_package_imports_upward(mod):
    mine = package_of(mod)
    for target in sorted(import_graph()[mod]):
        theirs = package_of(target)
        assert theirs == mine or RANK[theirs] < RANK[mine], (
            f"{mod} ({mine}, floor {RANK[mine]}) must import only lower floors, not {target} ({theirs}, floor {RANK[theirs]})"
        )
