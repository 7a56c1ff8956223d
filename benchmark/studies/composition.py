"""Write docs/subsets.md: what each of the study's subsets keeps, beside how it scored.

The embedded pools label their items (text: each source's quality; image-text: each
caption kind's), so a selection method's effect can be read off directly: its share of
junk, and what it keeps of each source or caption kind. Next to that, the method's mean
headline per scale from ``leaderboard/``. This explains the study's rankings: a method
that keeps the junk that hurts cannot beat ``all`` by much, however much else it drops.

Reads the subset files the selection study (:mod:`benchmark.studies.selection`) wrote
(``SUBSETS/<pool>-<method>.txt``); the pools must be built (``bench pool build``).

    .venv/bin/python -m benchmark.studies.composition --subsets-dir subsets
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import numpy as np

from benchmark.errors import BenchError, SubsetError
from benchmark.io import atomic_path
from benchmark.leaderboard.board import load_entries
from benchmark.pool.build import ensure_pool
from benchmark.pool.store import Pool
from benchmark.select.basic import select_sources
from benchmark.select.composition import composition
from benchmark.studies.analysis import SCALE_ORDER, Method, collect_methods
from benchmark.subset import Subset, load_subset

log = logging.getLogger(__name__)
POOLS = {"lm": "text-default", "clip": "image-default"}
LABELS = ("good", "reference", "junk")


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def trained_on(methods: list[Method]) -> dict[tuple[str, str], set[str]]:
    """(track, method) -> the sha256 of every subset the board's entries of it trained on."""
    out: dict[tuple[str, str], set[str]] = {}
    for m in methods:
        out.setdefault((m.track, m.name), set()).update(e["subset"]["sha256"] for e in m.entries)
    return out


def load_trained_subset(path: Path, pool: Pool, method: str, trained: set[str]) -> Subset:
    """The subset in ``path``, refused when the board's entries of ``method`` trained on another."""
    subset = load_subset(path, pool)
    if trained and subset.sha256 not in trained:
        raise SubsetError(
            f"{path}: not the subset the board's `{method}` entries trained on (sha256 "
            f"{subset.sha256[:12]}, board {', '.join(sorted(h[:12] for h in trained))}); "
            "point --subsets-dir at the selection study's subsets, or rerun its selection"
        )
    return subset


def track_section(track: str, subsets: Path, headlines: dict, trained: dict) -> list[str]:
    pool = ensure_pool(POOLS[track])
    comps = {"all": composition(pool, np.arange(pool.num_items))}
    for oracle, exclude in (("no-junk", True), ("junk-only", False)):  # the oracle subsets
        rows = select_sources(pool, qualities=("junk",), exclude=exclude)
        comps[oracle] = composition(pool, rows)
    for path in sorted(subsets.glob(f"{pool.name}-*.txt")):
        method = path.stem[len(pool.name) + 1 :]
        subset = load_trained_subset(path, pool, method, trained.get((track, method), set()))
        comps[method] = composition(pool, subset.rows)
    missing = sorted({name for (t, name) in trained if t == track} - set(comps))
    if missing:
        log.warning("%s: no subset file in %s for %s; their rows are left out",
                    track, subsets, ", ".join(missing))  # fmt: skip
    order = SCALE_ORDER[track]
    scales = sorted({s for (t, s, _) in headlines if t == track}, key=order.index)
    by = comps["all"]["group_by"].replace("_", " ")
    out = [f"## {track}: pool `{pool.name}` ({pool.num_items:,} items, labelled by {by})", ""]
    out.append(
        _row(
            "method",
            "kept",
            *(f"{q} share" for q in LABELS),
            "junk kept",
            "good kept",
            *(f"headline {s}" for s in scales),
        )  # fmt: skip
    )
    out.append(_row(*["---"] * (7 + len(scales))))
    for method, c in comps.items():
        lab = c["labels"]
        heads = []
        for s in scales:
            vals = headlines.get((track, s, method))
            heads.append(f"{np.mean(vals):.4f} ({len(vals)})" if vals else "")
        out.append(
            _row(
                method,
                _pct(c["kept"]),
                *(_pct(lab[q]["share"]) for q in LABELS),
                _pct(lab["junk"]["kept"]),
                _pct(lab["good"]["kept"]),
                *heads,
            )  # fmt: skip
        )
    out += ["", f"What each method keeps of each {by} (its label in brackets):", ""]
    groups = comps["all"]["groups"]
    methods = [m for m in comps if m != "all"]
    out.append(_row(by, "items", *methods))
    out.append(_row(*["---"] * (2 + len(methods))))
    for name in sorted(groups, key=lambda g: (LABELS.index(groups[g]["label"]), g)):
        cells = [_pct(comps[m]["groups"][name]["kept"]) for m in methods]
        out.append(_row(f"{name} ({groups[name]['label']})", f"{groups[name]['pool']:,}", *cells))
    return out + [""]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subsets-dir", default="subsets", type=Path)
    p.add_argument("--leaderboard", default="leaderboard", type=Path)
    p.add_argument("--out", default="docs/subsets.md", type=Path)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if not args.subsets_dir.is_dir():
        raise SystemExit(f"no subsets in {args.subsets_dir}: run benchmark/studies/selection.py")
    methods, _ = collect_methods(load_entries(args.leaderboard))
    headlines = {(m.track, m.scale, m.name): m.headlines for m in methods}
    lines = [
        "# What the study's subsets keep",
        "",
        "Generated by `benchmark/studies/composition.py` from the study's subset files and "
        "`leaderboard/`; do not edit by hand. *share*: a label's share of the subset; "
        "*kept*: the share of the pool's items (or of a label's, or a group's) the subset "
        "keeps. Headline: the mean over seeds at each scale (number of seeds in brackets).",
        "",
    ]
    trained = trained_on(methods)
    try:
        for track in POOLS:
            lines += track_section(track, args.subsets_dir, headlines, trained)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    with atomic_path(args.out) as tmp:
        tmp.write_text("\n".join(lines))
    print(f"wrote {os.path.relpath(args.out)}")


if __name__ == "__main__":
    main()
