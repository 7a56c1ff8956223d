"""``bench report``: a static HTML page over the leaderboard, with matplotlib plots.

One section per comparable set of entries (track, scale, pool, recipe, suite): a
ranking table with intervals, a per-task heatmap of centred scores, the headline
against subset size, and the training curves. Every user-supplied string is escaped.

    write_report(board=Path("leaderboard"), out=Path("report"))
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.io import atomic_path, check_output_dir
from benchmark.leaderboard.board import Group, audit_of, load_details, load_entries, rank

log = logging.getLogger(__name__)

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: right; }
th:nth-child(2), td:nth-child(2) { text-align: left; }
h2 { margin-top: 2em; border-top: 2px solid #444; padding-top: .5em; }
.meta { color: #666; font-size: 90%; }
.flag { color: #b00; font-weight: bold; }
img { max-width: 100%; }
.wide { overflow-x: auto; }
.audit th, .audit td { padding: 3px 6px; font-size: 85%; }
"""


def _plots(section: str, groups: list[Group], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [g.name for g in groups]
    specs = groups[0].entries[0]["metrics"]["tasks"]
    tasks = [t for t, spec in specs.items() if spec["random_baseline"] is not None]
    files = []

    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(tasks), 0.9 + 0.45 * len(groups)))
    grid = np.array([[_mean(g, t, "centered") for t in tasks] for g in groups])
    im = ax.imshow(grid, cmap="viridis", aspect="auto")
    ax.set_xticks(
        range(len(tasks)), [t.removeprefix("databench_") for t in tasks], rotation=30, ha="right"
    )
    ax.set_yticks(range(len(groups)), names)
    middle = (grid.min() + grid.max()) / 2
    for (i, j), v in np.ndenumerate(grid):  # dark text on the light (high) end of viridis
        color = "black" if v > middle else "white"
        ax.text(j, i, f"{v:.3f}", ha="center", va="center", color=color, fontsize=8)
    fig.colorbar(im, ax=ax, label="centred score")
    ax.set_title("per-task centred score (mean over seeds)")
    files.append(_save(fig, out / f"{section}-tasks.png"))

    fig, ax = plt.subplots(figsize=(6, 4))
    track = groups[0].entries[0]["track"]
    unit = "tokens" if track == "lm" else "uids"  # an image-text subset's size is its pairs
    x = [g.entries[0]["subset"]["num_tokens" if track == "lm" else "num_uids"] for g in groups]
    y = [g.mean for g in groups]
    err = np.array(
        [[g.mean - g.interval[0] for g in groups], [g.interval[1] - g.mean for g in groups]]
    )
    ax.errorbar(x, y, yerr=err, fmt="o", capsize=3)
    for xi, yi, n in zip(x, y, names, strict=True):
        ax.annotate(n, (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel(f"subset size ({unit})")
    ax.set_ylabel("headline (95% interval)")
    files.append(_save(fig, out / f"{section}-size.png"))

    fig, ax = plt.subplots(figsize=(6, 4))
    for g in groups:
        curves = [load_details(p)["curve"] for p in g.paths]
        steps = curves[0]["step"]
        if steps:
            loss = np.mean([c["loss"] for c in curves if len(c["loss"]) == len(steps)], axis=0)
            ax.plot(steps, loss, label=g.name)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (mean over seeds)")
    ax.legend(fontsize=8)
    files.append(_save(fig, out / f"{section}-curves.png"))
    return files


def _save(fig: Any, path: Path) -> str:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path.name


def _mean(group: Group, task: str, key: str) -> float:
    """A task's ``key`` (value, centered) averaged over the group's seeds."""
    return float(np.mean([e["metrics"]["tasks"][task][key] for e in group.entries]))


def _table(groups: list[Group]) -> str:
    e = html.escape
    specs = groups[0].entries[0]["metrics"]["tasks"]
    raw = [t for t, spec in specs.items() if spec["random_baseline"] is None]  # bits/byte, ...
    arrows = {t: "↑" if specs[t].get("higher_is_better", True) else "↓" for t in raw}
    extra = "".join(f"<th>{e(t.removeprefix('databench_'))} {arrows[t]}</th>" for t in raw)
    lm = groups[0].entries[0]["track"] == "lm"  # an image-text subset has no token count
    rows = [
        "<tr><th>#</th><th>subset</th><th>headline</th><th>95% interval</th>"
        f"{extra}<th>seeds</th><th>uids</th>{'<th>tokens</th>' if lm else ''}<th>train s</th>"
        "<th>eval items held</th></tr>"
    ]
    threshold = _threshold(groups[0].entries[0])
    for i, g in enumerate(groups, 1):
        first = g.entries[0]
        wall = np.mean([x["compute"]["wall_seconds"] for x in g.entries])
        values = "".join(f"<td>{_mean(g, t, 'value'):.4f}</td>" for t in raw)
        tokens = f"<td>{first['subset'].get('num_tokens')}</td>" if lm else ""
        audit = audit_of(g)
        held = "not audited" if audit is None else f"{audit['max_share']:.1%}"
        flag = audit is not None and audit["max_share"] > threshold
        rows.append(
            f"<tr><td>{i}</td><td>{e(g.name)}</td><td>{g.mean:.4f}</td>"
            f"<td>[{g.interval[0]:.4f}, {g.interval[1]:.4f}]</td>{values}"
            f"<td>{e(','.join(map(str, g.seeds)))}</td><td>{first['subset']['num_uids']}</td>"
            f"{tokens}<td>{wall:.0f}</td>"
            + (
                f"<td class=flag>{held} (over the suite's threshold)</td></tr>"
                if flag
                else f"<td>{held}</td></tr>"
            )
        )
    return "<table>" + "\n".join(rows) + "</table>"


def _audits(groups: list[Group]) -> str:
    """The audits of the section's subsets (any seed's: the subset is the same): passes
    over it under the budget, and each task's eval items held."""
    e = html.escape
    audited = [(g, audit_of(g)) for g in groups if audit_of(g)]
    if not audited:
        return ""
    tasks = sorted({t for _, a in audited for t in a["contamination"]})
    head = "".join(f"<th>{e(t.removeprefix('databench_'))}</th>" for t in tasks)
    rows = [
        "<tr><th>#</th><th>subset</th><th>passes</th><th>views per item</th>"
        f"<th>repeated uids</th>{head}</tr>"
    ]
    for i, (g, a) in enumerate(audited, 1):
        cells = "".join(
            f"<td>{a['contamination'][t]['found']}/{a['contamination'][t]['items']}</td>"
            if t in a["contamination"]
            else "<td>n/a</td>"
            for t in tasks
        )
        rows.append(
            f"<tr><td>{i}</td><td>{e(g.name)}</td><td>{a['epochs']}</td><td>{a['views']:g}</td>"
            f"<td>{a['num_repeated']}</td>{cells}</tr>"
        )
    return (
        "<p class='meta'>Subset audits (<code>bench subset audit</code>, run before training): "
        "passes the scale's budget takes over the subset, and per task the eval items found "
        "in it / the task's items.</p><div class=wide><table class=audit>"
        + "\n".join(rows)
        + "</table></div>"
    )


def _threshold(entry: dict) -> float:
    from benchmark.leaderboard.tables import _threshold as threshold

    return threshold(entry["track"], entry["metrics"]["suite"]["name"])


HEADLINES = {
    "lm": "mean centred accuracy over the suite's headline tasks ((acc - r) / (1 - r), "
    "DCLM's Core aggregate); the size axis counts the subset's tokens",
    "clip": "mean over the suite's headline tasks of each task's metric (accuracy, mean per-class "
    "recall or retrieval recall; DataComp's average); the size axis counts the subset's "
    "uids (image-text pairs)",
}


def write_report(board: Path, out: Path, *, num_bootstrap: int = 1000) -> Path:
    """Write ``out/index.html`` and its plots; return the page's path."""
    check_output_dir(out, "--out")
    sections = rank(load_entries(board), num_bootstrap=num_bootstrap)  # before out/ is made
    out.mkdir(parents=True, exist_ok=True)
    e = html.escape
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>databench leaderboard"
        f"</title><style>{_CSS}</style></head><body><h1>databench leaderboard</h1>"
        f"<p class='meta'>{sum(len(g.entries) for _, gs in sections for g in gs)} entries "
        f"in {len(sections)} section{'' if len(sections) == 1 else 's'}; entries of different "
        "pools, recipes, suites or precisions are never ranked together. Intervals: 95% "
        "bootstrap over eval items and seeds. <i>Eval items held</i>: the largest share of "
        "any task's eval items the subset holds (its audit, recorded since entry schema 2).</p>"
    ]
    if not sections:
        parts.append("<p>No entries yet: <code>bench submit RUN_DIR</code> adds one.</p>")
    for k, (key, groups) in enumerate(sections):
        track, scale, fingerprint, recipe_sha, suite, version, precision = key
        section = f"s{k}-{track}-{scale}"
        parts.append(
            f"<h2>{e(track)} / {e(scale)}</h2><p class='meta'>pool {e(fingerprint[:16])}…"
            f" · recipe {e(recipe_sha[:16])}… · suite {e(suite)} v{e(version)} · {e(precision)}</p>"
            f"<p class='meta'>Headline: {e(HEADLINES.get(track, 'the suite headline'))}.</p>"
        )
        parts.append(_table(groups))
        parts.append(_audits(groups))
        for name in _plots(section, groups, out):
            parts.append(f"<img src='{e(name)}' alt='{e(name)}'>")
    parts.append("</body></html>")
    page = out / "index.html"
    with atomic_path(page) as tmp:
        tmp.write_text("\n".join(parts), encoding="utf-8")
    return page
