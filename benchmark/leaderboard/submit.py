"""``bench submit``: validate a run's entry and copy it into ``leaderboard/``.

Checks, each with a one-line error naming the fix:

- the entry matches ``leaderboard/schema.json``;
- its recipe hash is what the committed recipe (with the recorded overrides) gives
  today, and the recipe is standard (unless ``allow_nonstandard``);
- its pool fingerprint is the locally built pool's;
- its subset hash is what the subset file (or the whole pool) gives;
- its checkpoint hash is the checkpoint directory's;
- every task value, aggregate and the headline are what the per-item results it is
  about to store give under the suite file of its version (``verify.recompute``).

The entry lands in ``leaderboard/<track>/<scale>/<name>.json`` with a compact sidecar
``<name>.details.json.gz`` (per-item eval results and the training curve) so entries can
be compared item by item; the entry records the sidecar's sha256, so a later edit of
either file is caught (``bench verify``). What regenerates the subset is kept once per
subset hash under ``leaderboard/subsets/`` (``provenance``). Submits serialise on a lock
file and write atomically, so concurrent submits never leave a partial file; an existing
name is refused unless ``replace``, and so is a second entry of the same experiment
(section, subset and seed) under another name, which would count one run twice as seeds.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmark.errors import EntryError
from benchmark.io import atomic_path, sha256_file, sha256_tree
from benchmark.leaderboard import provenance
from benchmark.leaderboard.entry import experiment_key, leaderboard_dir, read_entry

log = logging.getLogger(__name__)


def _check_recipe(entry: dict[str, Any], allow_nonstandard: bool) -> None:
    from benchmark.config import load_recipe

    r = entry["recipe"]
    recipe = load_recipe(entry["track"], entry["scale"], r["overrides"])
    if recipe.sha256 != r["sha256"]:
        raise EntryError(
            f"recipe hash {r['sha256'][:12]}… differs from scales/{entry['track']}/"
            f"{entry['scale']}.yaml today ({recipe.sha256[:12]}…): the recipe changed since "
            "the run; re-run it"
        )
    if not r["standard"] and not allow_nonstandard:
        raise EntryError(
            f"entry {entry['name']} used non-standard overrides {r['overrides']}; only standard "
            "runs are submitted (pass --allow-nonstandard to keep it apart)"
        )


def _check_pool_and_subset(entry: dict[str, Any]) -> None:
    import numpy as np

    from benchmark.pool.store import open_pool
    from benchmark.subset import read_uids, subset_sha256

    pool = open_pool(entry["pool"]["name"])
    if pool.fingerprint != entry["pool"]["fingerprint"]:
        raise EntryError(
            f"pool fingerprint {entry['pool']['fingerprint'][:12]}… is not the built pool "
            f"{pool.name}'s ({pool.fingerprint[:12]}…); rebuild the pool or re-run"
        )
    file = entry["subset"].get("file")
    if file:
        if not Path(file).is_file():
            raise EntryError(f"subset file {file} is gone; run submit where the run was made")
        sha = subset_sha256(read_uids(Path(file)))
    else:
        sha = subset_sha256(np.asarray(pool.uids))
    if sha != entry["subset"]["sha256"]:
        raise EntryError(f"subset hash of {file or 'the whole pool'} does not match the entry")


def _details(run_dir: Path) -> bytes:
    """Per-item results (main metrics per task) and the loss curve, gzipped JSON."""
    items: dict[str, dict[str, list]] = {}
    for line in (run_dir / "eval" / "items.jsonl").read_text().splitlines():
        row = json.loads(line)
        task = items.setdefault(row.pop("task"), {})
        for key, value in row.items():
            task.setdefault(key, []).append(value)
    curve: dict[str, list] = {"step": [], "loss": []}
    log_path = run_dir / "train_log.jsonl"
    if log_path.is_file():
        for line in log_path.read_text().splitlines():
            row = json.loads(line)
            curve["step"].append(row["step"])
            curve["loss"].append(round(row["loss"], 4))
    payload = json.dumps({"items": items, "curve": curve}, separators=(",", ":"))
    return gzip.compress(payload.encode(), mtime=0)


def validate_run(run_dir: Path, *, allow_nonstandard: bool = False) -> dict[str, Any]:
    """The run's entry after every check passes."""
    entry = read_entry(run_dir / "entry.json")
    _check_recipe(entry, allow_nonstandard)
    _check_pool_and_subset(entry)
    ckpt = run_dir / "checkpoint"
    if not ckpt.is_dir() or sha256_tree(ckpt) != entry["checkpoint"]["sha256"]:
        raise EntryError(f"checkpoint {ckpt} is missing or does not match the entry's sha256")
    if not (run_dir / "eval" / "items.jsonl").is_file():
        raise EntryError(f"{run_dir}/eval/items.jsonl is missing; run `bench eval {run_dir}`")
    return entry


def check_numbers(entry: dict[str, Any], details: bytes, where: Path) -> None:
    """Refuse an entry whose numbers are not what its per-item results give."""
    from benchmark.leaderboard.verify import recompute

    problems = recompute(entry, json.loads(gzip.decompress(details)))
    if problems:
        raise EntryError(
            f"{where}: {problems[0]} from the per-item results; the entry was edited or "
            f"its evaluation is incomplete: re-run `bench eval {where.parent}`"
        )


@contextmanager
def _locked(directory: Path):
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".submit.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def same_experiment(entry: dict[str, Any], folder: Path) -> Path | None:
    """Another entry in ``folder`` of the same experiment: same section (track, scale,
    pool, recipe, suite, precision), subset and seed, under another name."""

    want = experiment_key(entry)
    for path in sorted(folder.glob("*.json")):
        if path.stem != entry["name"] and experiment_key(read_entry(path)) == want:
            return path
    return None


def submit(
    run_dir: Path,
    *,
    replace: bool = False,
    allow_nonstandard: bool = False,
    board: Path | None = None,
) -> Path:
    """Validate ``run_dir`` and copy its entry into the leaderboard; return the new path."""
    entry = validate_run(run_dir, allow_nonstandard=allow_nonstandard)
    board = board or leaderboard_dir()
    dest_dir = board / entry["track"] / entry["scale"]
    dest = dest_dir / f"{entry['name']}.json"
    details = _details(run_dir)
    check_numbers(entry, details, run_dir / "entry.json")
    with _locked(board):
        if dest.exists() and not replace:
            raise EntryError(f"{dest} exists; pick another --name at train time or pass --replace")
        same = same_experiment(entry, dest_dir)
        if same is not None and not replace:
            sha = entry["subset"]["sha256"][:12]
            raise EntryError(
                f"{same.stem} already holds this experiment (subset {sha}"
                f"…, seed {entry['seed']}, same recipe, pool, suite and precision): a repeat is "
                f"not another seed; train with another --seed, or pass --replace to supersede "
                f"{same.stem}"
            )
        if same is not None:  # --replace: the new entry supersedes the old one
            same.unlink()
            (same.parent / f"{same.stem}.details.json.gz").unlink(missing_ok=True)
        entry["subset"] = {**entry["subset"], "source": provenance.keep(entry, board)}
        side = dest_dir / f"{entry['name']}.details.json.gz"
        with atomic_path(side) as tmp:
            tmp.write_bytes(details)
        entry = {**entry, "details": {"file": side.name, "sha256": sha256_file(side)}}
        entry["checkpoint"] = {**entry["checkpoint"], "path": str(run_dir / "checkpoint")}
        with atomic_path(dest) as tmp:
            tmp.write_text(json.dumps(entry, indent=2) + "\n", encoding="utf-8")
    log.info("submitted %s -> %s", run_dir, dest)
    return dest
