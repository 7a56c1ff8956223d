"""Read-only views over committed entries: grouping, ranking, comparing.

Entries are grouped by what makes them comparable — track, scale, pool fingerprint,
recipe hash, eval suite version and the precision trained in (an ``auto`` recipe trains
in bf16 on hardware that has it, fp32 elsewhere) — into *sections*; inside a section,
entries of the same subset hash are one *group* (its seeds). Entries of different
sections are never ranked together.

    rank(load_entries(board), track="lm", scale="small")
    compare(entry_a_path, entry_b_path)
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.config import load_recipe
from benchmark.errors import EntryError, RecipeError
from benchmark.leaderboard import stats
from benchmark.leaderboard.entry import read_entry, section_key


@dataclass
class Group:
    """The seeds of one subset under one recipe."""

    entries: list[dict[str, Any]]
    paths: list[Path]
    mean: float = 0.0
    interval: tuple[float, float] = (0.0, 0.0)
    _items: list[stats.TaskItems] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        names = sorted({e["name"] for e in self.entries})
        return names[0] if len(names) == 1 else _common_name(names)

    @property
    def seeds(self) -> list[int]:
        return sorted(e["seed"] for e in self.entries)

    @property
    def tag_tasks(self) -> set[str]:
        head = self.entries[0]["metrics"]["headline"]
        tag = head.get("tag") or head["name"].removesuffix("_centered_mean")
        return {
            n for n, t in self.entries[0]["metrics"]["tasks"].items() if tag in t.get("tags", [])
        }

    def items(self) -> list[stats.TaskItems]:
        if self._items is None:
            self._items = stats.group_items(self.entries, [load_details(p) for p in self.paths])
        return self._items


def _common_name(names: list[str]) -> str:
    """The shared prefix of seed-suffixed names (``x-s0``, ``x-s1`` → ``x``)."""
    prefix = names[0]
    for n in names[1:]:
        while not n.startswith(prefix):
            prefix = prefix[:-1]
    return re.sub(r"[-_.]?s?$", "", prefix) or names[0]


def recipes_current(entries: Iterable[dict[str, Any]]) -> list[bool]:
    """Per entry: whether today's committed ``scales/<track>/<scale>.yaml``, with the
    overrides the entry records, still gives the entry's recipe hash.

    A recipe can be replaced (more tokens, say); its entries stay on the board in their own
    section, comparable among themselves but not with runs of today's recipe."""
    today: dict[tuple, str | None] = {}  # composing a recipe takes a fraction of a second
    out = []
    for e in entries:
        key = (e["track"], e["scale"], tuple(e["recipe"]["overrides"]))
        if key not in today:
            try:
                today[key] = load_recipe(key[0], key[1], list(key[2])).sha256
            except RecipeError:
                today[key] = None
        out.append(today[key] == e["recipe"]["sha256"])
    return out


SECTION_FIELDS = (
    "track",
    "scale",
    "pool fingerprint",
    "recipe hash",
    "suite",
    "suite version",
    "precision",
)


def load_details(entry_path: Path) -> dict[str, Any]:
    entry = read_entry(entry_path)
    side = entry_path.parent / entry.get("details", {}).get("file", "")
    if not side.is_file():
        raise EntryError(f"{entry_path}: per-item results {side.name} are missing")
    return json.loads(gzip.decompress(side.read_bytes()))


def load_entries(
    board: Path, track: str | None = None, scale: str | None = None
) -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for path in sorted(board.glob("*/*/*.json")):
        entry = read_entry(path)
        if (track and entry["track"] != track) or (scale and entry["scale"] != scale):
            continue
        out.append((path, entry))
    return out


def rank(
    entries: list[tuple[Path, dict[str, Any]]], *, num_bootstrap: int = 1000
) -> list[tuple[tuple, list[Group]]]:
    """Sections, each with its groups sorted best first (mean headline over seeds)."""
    sections: dict[tuple, dict[str, Group]] = {}
    for path, e in entries:
        groups = sections.setdefault(section_key(e), {})
        g = groups.setdefault(e["subset"]["sha256"], Group([], []))
        g.entries.append(e)
        g.paths.append(path)
    out = []
    for key, groups in sections.items():
        ranked = []
        for g in groups.values():
            g.mean, lo, hi = stats.group_interval(g.items(), g.tag_tasks, num=num_bootstrap)
            g.interval = (lo, hi)
            ranked.append(g)
        ranked.sort(key=lambda g: -g.mean)
        out.append((key, ranked))
    out.sort(key=lambda kv: kv[0][:2])
    return out


def group_of(path: Path, board: Path | None) -> Group:
    """The entry at ``path`` with every seed of its subset found beside it in ``board``."""
    entry = read_entry(path)
    group = Group([entry], [path])
    if board is not None:
        for p, e in load_entries(board, entry["track"], entry["scale"]):
            same = (
                section_key(e) == section_key(entry)
                and e["subset"]["sha256"] == entry["subset"]["sha256"]
            )
            if same and p.resolve() != path.resolve() and e["seed"] not in group.seeds:
                group.entries.append(e)
                group.paths.append(p)
    return group


def compare(
    path_a: Path, path_b: Path, *, board: Path | None = None, num_bootstrap: int = 2000
) -> dict[str, Any]:
    """A minus B with paired bootstrap intervals and a plain verdict."""
    a, b = group_of(path_a, board), group_of(path_b, board)
    ka, kb = section_key(a.entries[0]), section_key(b.entries[0])
    if ka != kb:
        diff, x, y = next(
            (w, x, y) for w, x, y in zip(SECTION_FIELDS, ka, kb, strict=True) if x != y
        )
        fix = " (train both with the same runtime.precision=...)" if diff == "precision" else ""
        raise EntryError(
            f"{path_a.name} and {path_b.name} differ in {diff} ({x} vs {y}): not comparable{fix}"
        )
    res = stats.paired_difference(a.items(), b.items(), a.tag_tasks, num=num_bootstrap)
    lo, hi = res["headline"]["interval"]
    res["headline"]["verdict"] = stats.verdict(lo, hi)
    for t in res["tasks"].values():
        t["verdict"] = stats.verdict(*t["interval"], t["higher_is_better"])
    res["a"] = {"name": a.name, "seeds": a.seeds, "audit": audit_of(a)}
    res["b"] = {"name": b.name, "seeds": b.seeds, "audit": audit_of(b)}
    res["verdict"] = res["headline"]["verdict"]
    return res


def audit_of(group: Group) -> dict[str, Any] | None:
    """A group's subset audit as its entries record it (the same subset: the first's)."""
    audited = [e["audit"] for e in group.entries if "audit" in e]
    return audited[0] if audited else None
