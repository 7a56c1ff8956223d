"""Is every number of a leaderboard entry what its files say? ``bench verify`` and submit.

An entry's metrics are recomputed from the per-item results (its ``details`` sidecar)
with the suite file of the entry's version: each task's value, item count, random
baseline, centred score and tags, every tag aggregate and the headline. The other
checks: the schema, the recipe hash against the recorded overrides (today's recipe file
or a committed version of it), the seed, the sidecar's sha256, the subset's source on the
board (``provenance``) and, where the pool is built, its fingerprint and the subset
remade from it. ``--checkpoint`` re-evaluates the model and compares.

    problems = recompute(entry, details)      # submit refuses the first one
    report = verify_entry(path, pools=False)  # bench verify
"""

from __future__ import annotations

import gzip
import json
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.errors import BenchError, EntryError
from benchmark.io import sha256_file, sha256_tree

# The stored value is computed from the same items: only rounding differs, in float32 for
# some metrics (DataComp's retrieval recall is a float32 mean: 0.2750000059604645 vs 0.275).
REL_TOL = 1e-6
PROB_TOL = 1e-6  # per-item prob_correct is stored rounded to 6 decimals


@dataclass
class Report:
    """What ``bench verify`` found for one entry: problems fail it, notes do not."""

    path: Path
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _same(a: Any, b: Any, tol: float = 0.0) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=tol)
    return a == b


def recompute(entry: dict[str, Any], details: dict[str, Any]) -> list[str]:
    """Each stored metric that differs from its value recomputed from ``details`` with the
    suite at the entry's version: ``"FIELD: stored X, recomputed Y"``."""
    from benchmark.evaluate.suite import metrics_block
    from benchmark.leaderboard import stats
    from benchmark.leaderboard.history import suite_at

    m = entry["metrics"]
    suite = suite_at(entry["track"], m["suite"]["name"], str(m["suite"]["version"]))
    tasks, specs = m["tasks"], {t.name: t for t in suite.tasks}
    if sorted(tasks) != sorted(specs):
        return [
            f"metrics.tasks: stored {sorted(tasks)}, suite v{suite.version} has {sorted(specs)}"
        ]
    missing = sorted(set(specs) - set(details.get("items", {})))
    if missing:
        return [f"details: no per-item results for task {missing[0]}"]
    # read the items by the suite's metric, not the (possibly edited) stored one
    shadow = {
        "metrics": {
            "headline": m["headline"],
            "tasks": {
                s.name: {"metric": s.metric, "random_baseline": s.random_baseline}
                for s in suite.tasks
            },
        }
    }
    try:
        items = {t.name: t for t in stats.group_items([shadow], [details])}
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        return [f"details: per-item results do not read ({exc!r})"]
    problems: list[str] = []
    fresh: dict[str, dict[str, Any]] = {}
    for spec in suite.tasks:
        t, ti = tasks[spec.name], items[spec.name]
        n = ti.values.shape[1]
        value = ti.score(np.array([0]), np.arange(n))
        want = {
            "metric": spec.metric,
            "value": value,
            "n": n,
            "random_baseline": spec.random_baseline,
            "centered": spec.centered(value),
            "higher_is_better": spec.higher_is_better,
            "tags": list(spec.tags),
        }
        column = details["items"][spec.name].get("prob_correct")
        if "prob_correct" in t and column is not None:
            known = [p for p in column if p is not None]
            want["prob_correct"] = float(np.mean(known)) if known else None
        for key, v in want.items():
            tol = PROB_TOL if key == "prob_correct" else 0.0
            if not _same(t.get(key), v, tol):
                problems.append(
                    f"metrics.tasks.{spec.name}.{key}: stored {t.get(key)}, recomputed {v}"
                )
        fresh[spec.name] = {**t, **want}
    block = metrics_block(suite, fresh)
    for key in ("name", "tag", "value"):
        if not _same(m["headline"].get(key), block["headline"][key]):
            problems.append(
                f"metrics.headline.{key}: stored {m['headline'].get(key)}, "
                f"recomputed {block['headline'][key]}"
            )
    stored = m.get("aggregates", {})
    for tag in sorted(set(stored) | set(block["aggregates"])):
        a, b = stored.get(tag, {}), block["aggregates"].get(tag, {})
        for key in ("value", "num_tasks", "kind"):
            if not _same(a.get(key), b.get(key)):
                problems.append(
                    f"metrics.aggregates.{tag}.{key}: stored {a.get(key)}, recomputed {b.get(key)}"
                )
    return problems


def load_sidecar(entry_path: Path, entry: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The entry's per-item results, or None and the reason they cannot be trusted."""
    info = entry.get("details") or {}
    side = entry_path.parent / str(info.get("file", ""))
    if not info.get("file") or not side.is_file():
        return None, f"details: the per-item results {side.name or '(none named)'} are missing"
    if sha256_file(side) != info.get("sha256"):
        return None, f"details: {side.name} does not match the sha256 the entry records (edited?)"
    try:
        return json.loads(gzip.decompress(side.read_bytes())), ""
    except (OSError, EOFError, json.JSONDecodeError) as exc:
        return None, f"details: {side.name} does not read ({exc})"


def verify_entry(
    path: Path, *, board: Path, pools: bool = False, checkpoint: Path | None = None
) -> Report:
    """Every check of one committed entry (see the module docstring)."""
    from benchmark.leaderboard.entry import check_schema, read_entry
    from benchmark.leaderboard.history import recipe_commit
    from benchmark.leaderboard.provenance import check as check_source

    start = time.perf_counter()
    report = Report(path)
    try:
        entry = read_entry(path)
        check_schema(entry, str(path))
    except EntryError as exc:
        report.problems.append(str(exc))
        return report
    r = entry["recipe"]
    commit = recipe_commit(entry["track"], entry["scale"], tuple(r["overrides"]), r["sha256"])
    if commit is None:
        report.problems.append(
            f"recipe: hash {r['sha256'][:12]}… is neither today's scales/{entry['track']}/"
            f"{entry['scale']}.yaml with overrides {r['overrides']} nor any committed version"
        )
    elif commit != "today":
        report.notes.append(f"recipe of commit {commit[:10]} (since replaced)")
    if r["resolved"].get("seed") != entry["seed"]:
        report.problems.append(
            f"seed: {entry['seed']}, but the recipe ran seed {r['resolved'].get('seed')}"
        )
    details, why = load_sidecar(path, entry)
    if details is None:
        report.problems.append(why)
    else:
        try:
            report.problems += recompute(entry, details)
        except BenchError as exc:
            report.problems.append(str(exc))
    pool = _pool(entry, pools, report)
    if pool is not None and pool.fingerprint != entry["pool"]["fingerprint"]:
        report.problems.append(
            f"pool: fingerprint {entry['pool']['fingerprint'][:12]}… is not the built pool "
            f"{pool.name}'s ({pool.fingerprint[:12]}…)"
        )
        pool = None
    report.problems += check_source(entry, board, pool if pools else None)
    if checkpoint is not None:
        report.problems += reevaluate(entry, checkpoint, pool)
    report.seconds = time.perf_counter() - start
    return report


_POOLS: dict[str, Any] = {}


def _pool(entry: dict[str, Any], build: bool, report: Report):
    """The entry's pool if built here (built first when ``build`` and embedded)."""
    from benchmark.errors import PoolError
    from benchmark.pool.build import ensure_pool
    from benchmark.pool.store import open_pool

    name = entry["pool"]["name"]
    if name not in _POOLS:
        try:
            _POOLS[name] = ensure_pool(name) if build else open_pool(name)
        except PoolError:
            _POOLS[name] = None
    if _POOLS[name] is None:
        report.notes.append(
            f"pool {name} is not built here: its fingerprint and the subset are not remade"
            + ("" if build else " (--pools builds the embedded pools)")
        )
    return _POOLS[name]


def reevaluate(entry: dict[str, Any], checkpoint: Path, pool) -> list[str]:
    """Evaluate the checkpoint at ``checkpoint`` (a run directory or its ``checkpoint/``)
    again and compare each task's value with the entry's."""
    from benchmark.evaluate.data import require
    from benchmark.evaluate.suite import load_suite
    from benchmark.run import eval_data_dir, stages

    ckpt = checkpoint / "checkpoint" if (checkpoint / "checkpoint").is_dir() else checkpoint
    if not ckpt.is_dir():
        raise EntryError(
            f"--checkpoint {checkpoint}: no such directory (a run dir or its checkpoint/)"
        )
    if sha256_tree(ckpt) != entry["checkpoint"]["sha256"]:
        return [f"checkpoint: {ckpt} is not the entry's checkpoint (sha256 differs)"]
    if pool is None:
        return [f"checkpoint: re-evaluating needs the pool {entry['pool']['name']} built here"]
    m = entry["metrics"]
    suite = load_suite(entry["track"], m["suite"]["name"])
    if suite.version != str(m["suite"]["version"]):
        return [
            f"checkpoint: today's suite {suite.name} is v{suite.version}, the entry's "
            f"v{m['suite']['version']}: re-evaluate with `bench eval RUN_DIR` instead"
        ]
    recipe = entry["recipe"]["resolved"]
    folder = eval_data_dir(recipe["eval"].get("data_dir"), suite, pool)
    require(suite, folder)
    _, evaluate = stages(entry["track"])
    with tempfile.TemporaryDirectory(prefix="bench-verify-eval-") as tmp:
        again = evaluate(ckpt, suite, folder, Path(tmp), batch_size=recipe["eval"]["batch_size"])
    problems = []
    for name, t in m["tasks"].items():
        new = again["tasks"][name]["value"]
        if not math.isclose(new, t["value"], rel_tol=1e-6, abs_tol=1e-6):
            problems.append(
                f"checkpoint: task {name} re-evaluates to {new}, the entry says {t['value']}"
            )
    return problems


def verify(
    entries: list[Path],
    *,
    board: Path | None = None,
    pools: bool = False,
    checkpoint: Path | None = None,
    progress: bool = True,
) -> list[Report]:
    """Verify ``entries`` (default: every entry on ``board``). An entry's board is the
    folder three levels up (``BOARD/<track>/<scale>/<name>.json``) unless ``board``."""
    from tqdm import tqdm

    from benchmark.leaderboard.entry import experiment_key, leaderboard_dir, read_entry

    if checkpoint is not None and len(entries) != 1:
        raise EntryError("--checkpoint re-evaluates one entry: name exactly one ENTRY with it")
    if not entries:
        root = board or leaderboard_dir()
        entries = sorted(root.glob("*/*/*.json"))
        if not entries:
            raise EntryError(f"no entries under {root}; pass --board BOARD or ENTRY files")
    for path in entries:
        if path.suffix != ".json" or not path.is_file():
            raise EntryError(f"{path} is not an entry file (leaderboard/<track>/<scale>/NAME.json)")
    reports = []
    seen: dict[tuple, Path] = {}  # experiment -> the first entry of it
    for path in tqdm(entries, desc="verify", unit="entry", disable=not progress, leave=False):
        home = board or path.resolve().parents[2]
        report = verify_entry(path, board=home, pools=pools, checkpoint=checkpoint)
        reports.append(report)
        if not report.problems:
            key = experiment_key(read_entry(path))
            if key in seen:
                report.problems.append(
                    f"the same experiment (section, subset and seed) as {seen[key]}: a repeated "
                    "run is not another seed; keep one of them"
                )
            seen.setdefault(key, path)
    return reports
