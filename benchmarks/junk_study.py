"""Discriminative power: whole pool vs junk-only vs pool-minus-junk, several seeds.

Trains (a) the whole pool, (b) only the junk sources, (c) the pool minus the junk
sources, at one scale with the same budget, for each seed; submits every entry to
``leaderboard/`` and prints the headline mean ± std per variant and the gaps in units
of seed std. Each run is a separate, finished step: re-running the script skips the
runs that already have an entry, so the study survives interruptions.

    BENCH_HOME=... python benchmarks/junk_study.py --scale xs --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from benchmark.leaderboard.submit import leaderboard_dir, submit
from benchmark.pool.build import ensure_pool
from benchmark.run import run_train
from benchmark.select import select

VARIANTS = {
    "all": {},
    "junk-only": {"qualities": ("junk",)},
    "no-junk": {"qualities": ("junk",), "exclude": True},
}


def subset_for(variant: str, pool, out_dir: Path) -> Path | None:
    if variant == "all":
        return None
    path = out_dir / f"{pool.name}-{variant}.txt"
    if not path.is_file():
        select("sources", pool, path, **VARIANTS[variant])
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", default="xs")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--subsets-dir", default="subsets")
    args = p.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    pool = ensure_pool("text-default")
    subsets = Path(args.subsets_dir)
    subsets.mkdir(parents=True, exist_ok=True)
    scores: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for variant in VARIANTS:
        subset = subset_for(variant, pool, subsets)
        for seed in seeds:
            name = f"lm-{args.scale}-{variant}-s{seed}"
            board_entry = leaderboard_dir() / "lm" / args.scale / f"{name}.json"
            if not board_entry.is_file():
                run_dir = Path(args.runs_dir) / name
                if not (run_dir / "entry.json").is_file():
                    run_train(
                        track="lm",
                        scale=args.scale,
                        subset_file=subset,
                        seed=seed,
                        name=name,
                        runs_dir=Path(args.runs_dir),
                        wandb_mode="disabled",
                    )
                submit(run_dir, replace=True)
            entry = json.loads(board_entry.read_text())
            scores[variant].append(entry["metrics"]["headline"]["value"])
    print(f"scale {args.scale}, seeds {seeds}")
    stats = {
        v: (float(np.mean(s)), float(np.std(s, ddof=1)) if len(s) > 1 else 0.0)
        for v, s in scores.items()
    }
    for v, (m, sd) in stats.items():
        print(f"  {v:<10} {m:.4f} ± {sd:.4f}   ({', '.join(f'{x:.4f}' for x in scores[v])})")
    worst_sd = max(sd for _, sd in stats.values()) or float("nan")
    for hi, lo in (("no-junk", "all"), ("all", "junk-only")):
        gap = stats[hi][0] - stats[lo][0]
        print(f"  {hi} - {lo}: {gap:+.4f} = {gap / worst_sd:+.1f} x the largest seed std")


if __name__ == "__main__":
    main()
