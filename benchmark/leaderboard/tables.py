"""What ``bench leaderboard`` and ``bench compare`` print: rankings as rows, rows as text.

``board_rows`` is the machine-readable view (``--json``); the ``format_*`` functions
turn it, or a :func:`benchmark.leaderboard.board.compare` result, into the plain-text
tables the CLI prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmark.evaluate.suite import version_today
from benchmark.leaderboard.board import load_entries, rank, recipes_current


def board_rows(board: Path, track: str | None, scale: str | None) -> list[dict[str, Any]]:
    """One dict per comparable section, its groups ranked best first."""
    sections = rank(load_entries(board, track, scale))
    shown = [e for _, gs in sections for g in gs for e in g.entries]
    ok = dict(zip(map(id, shown), recipes_current(shown), strict=True))
    return [
        {
            "track": key[0],
            "scale": key[1],
            "pool_fingerprint": key[2],
            "recipe_sha256": key[3],
            "recipe_current": all(ok[id(e)] for g in groups for e in g.entries),
            "suite": key[4],
            "suite_version": key[5],
            "suite_current": version_today(key[0], key[4]) == key[5],
            "precision": key[6],
            "ranking": [
                {
                    "rank": i,
                    "name": g.name,
                    "headline": g.mean,
                    "interval": g.interval,
                    "seeds": g.seeds,
                    "subset_sha256": g.entries[0]["subset"]["sha256"],
                    "num_uids": g.entries[0]["subset"]["num_uids"],
                    "train_tokens": g.entries[0]["compute"].get("train_tokens"),
                    "train_seconds": sum(e["compute"]["wall_seconds"] for e in g.entries)
                    / len(g.entries),
                    "contamination": _contamination(g.entries),
                    "flagged": (_contamination(g.entries) or 0.0) > _threshold(key[0], key[4]),
                }
                for i, g in enumerate(groups, 1)
            ],
        }
        for key, groups in sections
    ]


def _contamination(entries: list[dict[str, Any]]) -> float | None:
    """The largest share of any task's eval items the group's subset holds (its audit,
    recorded since entry schema 2); None where no entry of the group has one."""
    shares = [e["audit"]["max_share"] for e in entries if "audit" in e]
    return max(shares) if shares else None


def _threshold(track: str, suite: str) -> float:
    """The suite file's ``contamination_threshold`` (today's file; 1% where it is gone)."""
    from benchmark.errors import EvalError
    from benchmark.evaluate.suite import load_suite

    try:
        return load_suite(track, suite).contamination_threshold
    except EvalError:
        return 0.01


def format_board(rows: list[dict[str, Any]]) -> str:
    """The ranked tables, one per section, with a note on sections of a replaced recipe."""
    if not rows:
        return "no entries"
    out = []
    for s in rows:
        old = ""
        if not s["recipe_current"]:
            old += f"  [recipe since replaced in scales/{s['track']}/{s['scale']}.yaml]"
        if not s["suite_current"]:
            old += f"  [suite since changed in evals/{s['track']}/{s['suite']}.yaml]"
        out.append(
            f"\n{s['track']} / {s['scale']}  (pool {s['pool_fingerprint'][:12]}…, "
            f"recipe {s['recipe_sha256'][:12]}…, suite {s['suite']} v{s['suite_version']}, "
            f"{s['precision']}){old}"
        )
        out.append(
            f"{'#':>3}  {'subset':<28}{'headline':>9}  {'95% interval':<18}{'seeds':<8}"
            f"{'uids':>8}{'train s':>9}  contaminated"
        )
        for g in s["ranking"]:
            lo, hi = g["interval"]
            out.append(
                f"{g['rank']:>3}  {g['name'][:27]:<28}{g['headline']:>9.4f}  "
                f"[{lo:.4f}, {hi:.4f}]  {','.join(map(str, g['seeds'])):<8}"
                f"{g['num_uids']:>8}{g['train_seconds']:>9.0f}  {_flag(g)}"
            )
    if any(g["flagged"] for s in rows for g in s["ranking"]):
        out.append(
            "\n! the subset holds more of a task's eval items than its suite allows "
            "(contamination_threshold): see the run's audit.json or `bench subset audit`"
        )
    return "\n".join(out)


def _flag(g: dict[str, Any]) -> str:
    c = g["contamination"]
    return "not audited" if c is None else f"{c:.1%}{' !' if g['flagged'] else ''}"


def format_compare(res: dict[str, Any]) -> str:
    """A vs B: the headline and per-task differences with intervals and verdicts."""
    a, b, h = res["a"], res["b"], res["headline"]
    out = [
        f"A = {a['name']} (seeds {a['seeds']}), B = {b['name']} (seeds {b['seeds']})",
        f"{'headline':<28}{h['difference']:>+9.4f}  [{h['interval'][0]:+.4f}, "
        f"{h['interval'][1]:+.4f}]  {h['verdict']}",
    ]
    for name, t in res["tasks"].items():
        out.append(
            f"{name[:27]:<28}{t['difference']:>+9.4f}  [{t['interval'][0]:+.4f}, "
            f"{t['interval'][1]:+.4f}]  {t['verdict']} ({t['metric']})"
        )
    out.append(f"verdict: {res['verdict']}")
    for side in ("a", "b"):
        audit = res[side].get("audit")
        if audit is None:
            out.append(f"audit {side.upper()}: not recorded (an entry before schema 2)")
            continue
        worst = max(audit["contamination"].items(), default=None,
                    key=lambda kv: kv[1]["found"] / max(kv[1]["items"], 1))  # fmt: skip
        where = f" (most: {worst[0]}, {worst[1]['found']}/{worst[1]['items']})" if worst else ""
        out.append(
            f"audit {side.upper()}: eval items held up to {audit['max_share']:.1%}{where}; "
            f"{audit['epochs']} pass(es) over the subset, each item seen about "
            f"{audit['views']:g} times; {audit['num_repeated']} repeated uids"
        )
    if min(len(a["seeds"]), len(b["seeds"])) < 2:
        out.append(
            "note: a side has one seed, so intervals cover eval-item noise only; "
            "train more seeds (bench train --seeds 0,1,2) to include seed noise"
        )
    return "\n".join(out)
