"""The package's layout rules (issue 20): the module graph has no cycle; nothing downstream
of the pool imports a builder or importer; only ``benchmark.pool.format`` spells a pool
file name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from benchmark.pool import format as pool_format

PACKAGE = Path(__file__).resolve().parent.parent / "benchmark"
MAKERS = ("benchmark.pool.text", "benchmark.pool.image", "benchmark.pool.importers")
READERS = ("benchmark.train", "benchmark.evaluate", "benchmark.select", "benchmark.subset")
FORMAT_CORE = (
    "benchmark.pool.format",
    "benchmark.pool.store",
    "benchmark.pool.writer",
    "benchmark.pool.uidindex",
    "benchmark.pool.tokenizer",
    "benchmark.pool.textmeta",
)


def _modules() -> dict[str, Path]:
    out = {}
    for f in PACKAGE.rglob("*.py"):
        parts = f.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


MODULES = _modules()


def _imports(name: str) -> set[str]:
    """Every benchmark module ``name`` imports, at module level or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name) for name in MODULES}


def _cycle() -> list[str] | None:
    """One import cycle, as a path of module names, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for dep in sorted(GRAPH[m]):
            if state.get(dep) == 1:
                return path[path.index(dep) :] + [dep]
            if dep not in state and (found := visit(dep)):
                return found
        state[m] = 2
        path.pop()
        return None

    for m in sorted(GRAPH):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_the_graph_walk_finds_a_cycle_when_there_is_one(monkeypatch):
    monkeypatch.setitem(GRAPH, "benchmark.pool.format", {"benchmark.pool.store"})
    assert _cycle() is not None


def test_no_module_imports_itself_back():
    assert _cycle() is None


@pytest.mark.parametrize("downstream", READERS + FORMAT_CORE + ("benchmark.fetch",))
def test_nothing_downstream_imports_a_pool_builder_or_importer(downstream):
    bad = sorted(
        (m, dep)
        for m, deps in GRAPH.items()
        if m == downstream or m.startswith(downstream + ".")
        for dep in deps
        if dep.startswith(MAKERS)
    )
    assert not bad


def test_the_fetchers_stand_outside_the_pool():
    assert not [
        (m, d)
        for m, ds in GRAPH.items()
        if m.startswith("benchmark.fetch")
        for d in ds
        if d.startswith("benchmark.pool")
    ]


def _file_names() -> set[str]:
    names = {v for k, v in vars(pool_format).items() if k.isupper() and isinstance(v, str)}
    names = {n for n in names if "." in n}  # the file names (not dtypes or folder names)
    return names | {n.split("*")[0] for n in names if "*" in n}  # and the shard prefixes


def test_only_the_format_module_spells_a_pool_file_name():
    names = _file_names()
    assert {"manifest.json", "docs-", "images-", "uids.npy"} <= names
    spelled = []
    for name, path in MODULES.items():
        if name == "benchmark.pool.format":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                hits = [n for n in names if text == n or (n.endswith("-") and text.startswith(n))]
                spelled += [(name, node.lineno, text) for _ in hits[:1]]
    assert not spelled
