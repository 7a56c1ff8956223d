"""One benchmark run, end to end: recipe → pool → subset → train → evaluate → entry.

    path, entry = run_train(track="lm", scale="small", subset_file=None, seed=None)

With no subset file the whole pool is used (the "no filtering" baseline). The embedded
pool is built first when missing. A run directory (``runs/<name>/``) holds the resolved
recipe, the training log, the checkpoint, the eval outputs and ``entry.json``.

A run killed before its entry is written is resumed by the same call (same arguments,
so the same run directory): training from its last resume checkpoint, evaluation from
its last finished task. ``num_processes`` > 1 trains with that many processes (DDP or
FSDP, ``runtime.parallel``), launched here as torchrun would; under ``torchrun`` itself
every process calls :func:`run_train` and rank 0 alone evaluates and writes the entry.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from benchmark.config import Recipe, check_seed, load_recipe, read_recipe
from benchmark.errors import BenchError
from benchmark.evaluate.data import ENV, require, require_pool_evals, resolve
from benchmark.evaluate.suite import Suite, load_suite
from benchmark.io import atomic_path, check_output_dir
from benchmark.leaderboard.entry import build_entry, write_entry
from benchmark.pool.build import ensure_pool
from benchmark.pool.store import Pool
from benchmark.preflight import check_devices
from benchmark.subset import Subset, check_subset_file, load_subset, num_tokens, whole_pool
from benchmark.train import distributed
from benchmark.train.common import TrainResult
from benchmark.train.resume import load_result, run_key, save_result

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def default_name(recipe: Recipe, subset_file: Path | None) -> str:
    stem = subset_file.stem if subset_file else "all"
    return f"{recipe.track}-{recipe.scale}-{stem}-s{recipe.seed}"


def stages(track: str) -> tuple[Callable[..., Any], Callable[..., dict[str, Any]]]:
    """The track's training loop and evaluator (imported lazily: each pulls in heavy libs)."""
    if track == "clip":
        from benchmark.evaluate.clip import evaluate_clip
        from benchmark.train.clip import train_clip

        return train_clip, evaluate_clip
    from benchmark.evaluate.lm import evaluate_lm
    from benchmark.train.lm import train_lm

    return train_lm, evaluate_lm


def prepare(
    track: str,
    scale: str,
    subset_file: Path | None,
    seed: int | None,
    overrides: list[str],
    num_processes: int | None = None,
) -> tuple[Recipe, Suite, Pool, Subset]:
    """Everything checked before any training starts: the recipe, the devices it needs,
    the eval suite and its data, the pool and the subset."""
    if subset_file:  # the file's name and format before the pool, which may be built
        check_subset_file(subset_file)
    recipe = load_recipe(track, scale, overrides, seed=seed)
    check_devices(recipe, num_processes or distributed.world_size())
    suite = load_suite(track, recipe.eval.suite)
    if suite.data == "folder" and distributed.is_main():  # rank 0 evaluates; before the pool
        how = "" if recipe.eval.data_dir else f" (eval.data_dir=, else ${ENV})"
        require(suite, resolve(suite, Path(), recipe.eval.data_dir), how)
    with distributed.main_first():  # under torchrun, rank 0 builds a missing pool
        pool = ensure_pool(recipe.pool)
    if pool.track != recipe.track:
        raise BenchError(
            f"recipe {recipe.name} is for the {recipe.track} track but pool {pool.name} is a "
            f"{pool.track} pool; override pool= with a {recipe.track} pool"
        )
    if suite.data == "pool" and distributed.is_main():
        require_pool_evals(suite, eval_data_dir(recipe.eval.data_dir, suite, pool))
    subset = load_subset(subset_file, pool) if subset_file else whole_pool(pool)
    return recipe, suite, pool, subset


def eval_data_dir(configured: str | None, suite: Suite, pool: Pool) -> Path:
    """Where ``suite`` reads its data: the pool's eval sets or the fetched folder."""
    return resolve(suite, pool.evals_dir, configured)


def run_train(
    *,
    track: str,
    scale: str,
    subset_file: Path | None = None,
    seed: int | None = None,
    name: str | None = None,
    overrides: list[str] | None = None,
    runs_dir: Path = Path("runs"),
    wandb_mode: str = "offline",
    progress: bool = True,
) -> tuple[Path, dict[str, Any]] | None:
    """Train, evaluate, write the entry; its path and content (None on ranks other than 0)."""
    distributed.init()
    recipe, suite, pool, subset = prepare(track, scale, subset_file, seed, overrides or [])
    train, evaluate = stages(track)
    if name is None:  # a repeated default run gets the next free suffix: -r2, -r3, ...
        base = name = default_name(recipe, subset_file)
        k = 1
        while (runs_dir / name / "entry.json").exists():
            k += 1
            name = f"{base}-r{k}"
    if not _NAME.match(name):
        raise BenchError(f"run name {name!r} must be letters, digits, '.', '_' or '-'")
    run_dir = runs_dir / name
    if (run_dir / "entry.json").exists():
        raise BenchError(f"run {run_dir} already has an entry; pass another --name or remove it")
    run_dir.mkdir(parents=True, exist_ok=True)
    key = run_key(recipe, pool, subset)
    result = distributed.broadcast(_finished(run_dir, key) if distributed.is_main() else None)
    if isinstance(result, str):
        raise BenchError(result)
    if distributed.is_main():
        with atomic_path(run_dir / "recipe.yaml") as tmp:
            tmp.write_text(yaml.safe_dump(recipe.to_dict(), sort_keys=False))
        log.info(
            "run %s: recipe %s (%s), pool %s, %d uids%s",
            name,
            recipe.name,
            "standard" if recipe.standard else "NON-STANDARD",
            pool.name,
            subset.num_uids,
            ", trained earlier: evaluating" if result else "",
        )
    audited = _audit(run_dir, key, recipe, suite, pool, subset) if distributed.is_main() else None
    t0 = time.time()
    if result is None:
        result = train(recipe, pool, subset, run_dir, wandb_mode=wandb_mode, progress=progress)
        if distributed.is_main():
            save_result(run_dir, key, result)
    if not distributed.is_main():
        return None  # rank 0 evaluates and writes the entry
    metrics = evaluate(
        result.checkpoint,
        suite,
        eval_data_dir(recipe.eval.data_dir, suite, pool),
        run_dir,
        batch_size=recipe.eval.batch_size,
    )
    entry = build_entry(
        name=name,
        recipe=recipe,
        pool=pool,
        subset=subset,
        num_tokens=num_tokens(subset, pool) if track == "lm" else None,
        metrics=metrics,
        train=result,
        checkpoint=result.checkpoint,
        audit=audited,
    )
    entry["compute"]["total_seconds"] = round(time.time() - t0, 1)
    return write_entry(run_dir, entry), entry


def _audit(
    run_dir: Path, key: dict, recipe: Recipe, suite: Suite, pool: Pool, subset: Subset
) -> dict:
    """The subset's audit (``bench subset audit``) before the first step, kept as
    ``RUN_DIR/audit.json`` with the run's key; its summary for the entry. A resumed run
    reads it back, if it was made for the same recipe, pool and subset (the key)."""
    from benchmark.audit import audit, summary
    from benchmark.io import write_json

    path = run_dir / "audit.json"
    if path.is_file():
        report = json.loads(path.read_text())
        if report.get("run_key") == key and report["suite"]["version"] == suite.version:
            return summary(report)
    report = audit(pool, subset, recipe, suite, eval_data_dir(recipe.eval.data_dir, suite, pool))
    write_json(path, {**report, "run_key": key})
    worst = max(report["contamination"].items(), key=lambda kv: kv[1].get("share", 0.0))
    if worst[1].get("share", 0.0) > suite.contamination_threshold:
        log.warning(
            "the subset holds %.1f%% of task %s's eval items (over the suite's %.1f%%): "
            "see %s", 100 * worst[1]["share"], worst[0], 100 * suite.contamination_threshold, path,
        )  # fmt: skip
    return summary(report)


def train_only(
    *,
    track: str,
    scale: str,
    run_dir: Path,
    subset_file: Path | None = None,
    seed: int | None = None,
    overrides: list[str] | None = None,
    num_processes: int = 1,
    wandb_mode: str = "disabled",
    progress: bool = False,
) -> TrainResult:
    """Train into ``run_dir`` without evaluating (loss curves, checks, benchmarks); resumes
    like :func:`run_train`. With ``num_processes`` > 1, rank 0's result."""
    kwargs = dict(locals())
    if num_processes > 1 and distributed.world_size() == 1:
        kwargs["num_processes"] = 1
        return distributed.launch(num_processes, _train_worker, kwargs)
    distributed.init()
    recipe, _, pool, subset = prepare(track, scale, subset_file, seed, overrides or [])
    run_dir.mkdir(parents=True, exist_ok=True)
    train, _ = stages(track)
    return train(recipe, pool, subset, run_dir, wandb_mode=wandb_mode, progress=progress)


def _train_worker(kwargs: dict[str, Any]) -> TrainResult:
    try:
        return train_only(**kwargs)
    finally:
        distributed.shutdown()


def _finished(run_dir: Path, key: dict[str, Any]) -> TrainResult | str | None:
    """The result of a training that finished earlier in ``run_dir``, or why it does not
    fit this run (a message every rank raises)."""
    try:
        return load_result(run_dir, key)
    except BenchError as exc:
        return str(exc)


def evaluate_run(run_dir: Path, *, fresh: bool = False) -> dict[str, Any]:
    """Re-evaluate a run's checkpoint with today's version of the suite its recipe names.
    Tasks already finished for this checkpoint and task definition are reused (a killed
    evaluation resumes) unless ``fresh``. A finished run's ``entry.json`` takes the new
    metrics, so ``bench submit RUN_DIR --replace`` carries them to the leaderboard."""
    import json
    import shutil

    from benchmark.pool.store import open_pool

    recipe_path = run_dir / "recipe.yaml"
    if not recipe_path.is_file() or not (run_dir / "checkpoint").is_dir():
        raise BenchError(f"{run_dir} is not a run directory (needs recipe.yaml and checkpoint/)")
    recipe = read_recipe(recipe_path)
    pool = open_pool(recipe.pool)
    suite = load_suite(recipe.track, recipe.eval.suite)
    _, evaluate = stages(recipe.track)
    folder = eval_data_dir(recipe.eval.data_dir, suite, pool)
    require(suite, folder)
    if fresh:
        shutil.rmtree(run_dir / "eval" / "done", ignore_errors=True)
    metrics = evaluate(
        run_dir / "checkpoint",
        suite,
        folder,
        run_dir,
        batch_size=recipe.eval.batch_size,
    )
    _store_metrics(run_dir, metrics)
    log.debug("%s", json.dumps(metrics["headline"]))
    return metrics


def _store_metrics(run_dir: Path, metrics: dict[str, Any]) -> None:
    """Write a run's new metrics to ``eval/metrics.json`` and, once the run has an entry,
    into ``entry.json`` (ready for ``bench submit --replace``)."""
    from benchmark.io import write_json
    from benchmark.leaderboard.entry import read_entry

    write_json(run_dir / "eval" / "metrics.json", metrics)
    if (run_dir / "entry.json").is_file():
        entry = read_entry(run_dir / "entry.json")
        entry["metrics"] = metrics
        entry["compute"]["eval_seconds"] = metrics.get("eval_seconds")
        write_json(run_dir / "entry.json", entry)


def rescore_run(run_dir: Path) -> dict[str, Any]:
    """Re-aggregate a finished run's entry under today's suite file (same tasks and
    metrics, new tags or headline) without re-running the model; rewrites entry.json."""
    from benchmark.evaluate.suite import rescore
    from benchmark.leaderboard.entry import read_entry

    entry = read_entry(run_dir / "entry.json")
    suite = load_suite(entry["track"], entry["metrics"]["suite"]["name"])
    metrics = rescore(entry["metrics"], suite)
    _store_metrics(run_dir, metrics)
    return metrics


def run_seeds(
    seeds: list[int | None],
    *,
    name: str | None = None,
    num_processes: int = 1,
    **kwargs: Any,
) -> list[tuple[Path, dict[str, Any]]]:
    """One run per seed (``--seeds 0,1,2``); an explicit name gains ``-s<seed>``.

    ``num_processes`` > 1 launches that many processes (torchrun's agent) after checking
    the recipe, the pool and the subset here; the entries come back from rank 0."""
    if num_processes < 1:
        raise BenchError(f"--nproc must be at least 1, got {num_processes}")
    # what fails in one line without the recipe, before anything is built or trained
    for k, seed in enumerate(seeds):
        if seed is not None:
            check_seed(seed)
        if seed in seeds[:k]:
            raise BenchError(
                f"--seeds repeats seed {seed}: a repeat is not another seed; give distinct "
                "seeds, e.g. --seeds 0,1,2"
            )
    if name is not None and not _NAME.match(name):
        raise BenchError(f"run name {name!r} must be letters, digits, '.', '_' or '-'")
    check_output_dir(Path(kwargs.get("runs_dir", "runs")), "--runs-dir")
    if num_processes > 1 and distributed.world_size() > 1:
        raise BenchError("--nproc is for a plain `bench train`; under torchrun leave it out")
    if num_processes > 1:
        for seed in seeds:  # fail here, in one line, on what the workers would fail on
            prepare(
                kwargs["track"],
                kwargs["scale"],
                kwargs.get("subset_file"),
                seed,
                kwargs.get("overrides") or [],
                num_processes,
            )
        levels = {  # the workers log as this process does (the CLI quiets some libraries)
            n: lg.level
            for n, lg in logging.root.manager.loggerDict.items()
            if isinstance(lg, logging.Logger) and lg.level
        }
        levels[""] = logging.getLogger().getEffectiveLevel()
        return distributed.launch(num_processes, _worker, seeds, name, kwargs, levels)
    out = []
    try:
        for seed in seeds:
            run_name = f"{name}-s{seed}" if name and len(seeds) > 1 else name
            done = run_train(seed=seed, name=run_name, **kwargs)
            if done is not None:
                out.append(done)
    finally:
        distributed.shutdown()
    return out


def _worker(
    seeds: list[int | None], name: str | None, kwargs: dict[str, Any], levels: dict[str, int]
) -> list[tuple[Path, dict[str, Any]]]:
    """One process of ``run_seeds(num_processes=N)`` (started by torch's elastic agent)."""
    logging.basicConfig(level=levels.pop(""), format="%(levelname)s %(name)s: %(message)s")
    for logger, level in levels.items():
        logging.getLogger(logger).setLevel(level)
    return run_seeds(seeds, name=name, **kwargs)
