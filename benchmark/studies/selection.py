"""The baseline-methods study: every selection method, trained and scored per scale and seed.

For each method (``bench select --list``) the script writes the subset once (per track:
the subset does not depend on the scale or the training seed), trains it with each
scale's recipe and seed, and submits the entry to ``leaderboard/`` as
``TRACK-SCALE-METHOD-sSEED``. Every run is a separate, finished step: a re-run skips the
entries already on the board and resumes a killed run, so the study survives
interruptions and can be spread over sessions. ``benchmark/studies/validity.py`` turns the
board into ``docs/validity.md``.

    BENCH_HOME=... python -m benchmark.studies.selection --track lm --scales xs,small
    BENCH_HOME=... python -m benchmark.studies.selection --track clip --scales small \\
        --methods all,caption-filter,clip-score --seeds 0,1,2

``clip-score`` scores pairs with the harness's own CLIP trained on the whole pool at
``xs`` (seed 0): the script trains that run first if it is missing (the bootstrap
``docs/validity.md`` describes).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from benchmark.config import load_recipe
from benchmark.errors import BenchError
from benchmark.leaderboard.entry import leaderboard_dir
from benchmark.leaderboard.submit import submit
from benchmark.pool.build import ensure_pool
from benchmark.run import run_train
from benchmark.select import METHODS, select
from benchmark.select.registry import meta_path, read_meta

log = logging.getLogger(__name__)

# The study's methods per track, with options where the method's defaults are not the
# study's choice. "all" needs no subset file.
STUDY = {
    "lm": {
        "all": {},
        "random": {"fraction": 0.5},
        "exact-dedup": {},
        "minhash-dedup": {},
        "gopher": {},
        "c4": {},
        "langid": {},
        "fasttext": {"fraction": 0.1},
    },
    "clip": {
        "all": {},
        "random": {"fraction": 0.5},
        "caption-filter": {},
        "image-dedup": {},
        "text-filter": {},
        "clip-score": {"fraction": 0.3},
    },
}
SCORER_RUN = "clip-xs-all-s0"  # the CLIP that scores pairs for clip-score


def entry_path(track: str, scale: str, name: str) -> Path:
    return leaderboard_dir() / track / scale / f"{name}.json"


def ensure_run(
    track: str,
    scale: str,
    name: str,
    subset,
    seed: int,
    runs_dir: Path,
    overrides: tuple[str, ...] = (),
) -> Path:
    """The finished run ``runs_dir/name``: trained (or resumed) if it has no entry yet."""
    run_dir = runs_dir / name
    if not (run_dir / "entry.json").is_file():
        run_train(
            track=track,
            scale=scale,
            subset_file=subset,
            seed=seed,
            name=name,
            runs_dir=runs_dir,
            overrides=list(overrides),
            wandb_mode="disabled",
        )
    return run_dir


def ensure_entry(
    track: str,
    scale: str,
    name: str,
    subset,
    seed: int,
    runs_dir: Path,
    overrides: tuple[str, ...] = (),
) -> dict:
    """The board's entry ``name``: trained (or resumed) and submitted if it is missing."""
    board_entry = entry_path(track, scale, name)
    if not board_entry.is_file():
        submit(ensure_run(track, scale, name, subset, seed, runs_dir, overrides), replace=True)
    return json.loads(board_entry.read_text())


def ensure_scorer(track: str, runs_dir: Path) -> Path:
    """The run whose CLIP scores pairs for clip-score, with its checkpoint on this machine.

    The board's entry alone is not enough: a fresh clone has the entry but not the weights,
    so the run is trained again here, and a retrained scorer whose metrics differ from the
    board's is reported, since the clip-score subset it writes would differ too.
    """
    run_dir = ensure_run(track, "xs", SCORER_RUN, None, 0, runs_dir)
    board = ensure_entry(track, "xs", SCORER_RUN, None, 0, runs_dir)
    here = json.loads((run_dir / "entry.json").read_text())
    if here["metrics"]["headline"] != board["metrics"]["headline"]:
        log.warning(
            "the scorer %s scores %s on %s where the board's %s scored %s on %s: its "
            "clip-score subset will not be the board's (train and score with the board's "
            "thread count)",
            run_dir, here["metrics"]["headline"]["value"], here["compute"]["device"],
            SCORER_RUN, board["metrics"]["headline"]["value"], board["compute"]["device"],
        )  # fmt: skip
    return run_dir


def subset_for(track: str, method: str, pool, subsets: Path, runs_dir: Path) -> Path | None:
    if method == "all":
        return None
    path = subsets / f"{pool.name}-{method}.txt"
    if path.is_file() and read_meta(path) is None:  # its entries would record no method
        raise BenchError(
            f"{path} has no {meta_path(path).name} (what bench select writes beside it); "
            "remove the file so that the study selects it again, or restore its provenance"
        )
    if not path.is_file():
        options = dict(STUDY[track].get(method, {}))
        if method == "clip-score":
            options["checkpoint"] = str(ensure_scorer(track, runs_dir))
        select(method, pool, path, **options)
    return path


def add_precision(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--precision",
        choices=["auto", "bf16", "fp32"],
        default="auto",
        help="runtime.precision of the runs (the committed CPU board is fp32; an auto "
        "recipe trains bf16 on hardware that has it, and those entries rank apart)",
    )


def precision_overrides(args: argparse.Namespace) -> tuple[str, ...]:
    return () if args.precision == "auto" else (f"runtime.precision={args.precision}",)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--track", default="lm", choices=sorted(STUDY))
    p.add_argument("--scales", default="xs")
    p.add_argument("--methods", help="comma-separated (default: the track's study methods)")
    p.add_argument("--seeds", default="0")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--subsets-dir", default="subsets")
    add_precision(p)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    methods = args.methods.split(",") if args.methods else list(STUDY[args.track])
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        p.error(f"unknown method {unknown[0]!r}; valid: {', '.join(METHODS)}")
    scales = args.scales.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    runs_dir = Path(args.runs_dir)
    subsets = Path(args.subsets_dir)
    subsets.mkdir(parents=True, exist_ok=True)
    overrides = precision_overrides(args)
    pool = ensure_pool(load_recipe(args.track, scales[0]).pool)
    for scale in scales:  # smaller scales first: their results arrive sooner
        for seed in seeds:
            for method in methods:
                subset = subset_for(args.track, method, pool, subsets, runs_dir)
                name = f"{args.track}-{scale}-{method}-s{seed}"
                entry = ensure_entry(args.track, scale, name, subset, seed, runs_dir, overrides)
                value = entry["metrics"]["headline"]["value"]
                print(f"{name}: headline {value:.4f}", flush=True)


if __name__ == "__main__":
    main()
