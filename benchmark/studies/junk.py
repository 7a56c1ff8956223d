"""Discriminative power: whole pool vs junk-only vs pool-minus-junk, several seeds.

Trains (a) the whole pool, (b) only the junk (LM: the junk sources; CLIP: the pairs
whose caption kind is junk: mismatched, empty, filename, non-English, duplicate), (c) the
pool minus the junk, at one scale with the same budget, for each seed; submits every entry to
``leaderboard/`` and prints the headline mean ± std per variant and the gaps in units
of seed std. Each run is a separate, finished step: re-running the script skips the
runs that already have an entry, so the study survives interruptions.

    BENCH_HOME=... python -m benchmark.studies.junk --track lm --scale xs --seeds 0,1,2
    BENCH_HOME=... python -m benchmark.studies.junk --track clip --scale small --seeds 0
    python -m benchmark.studies.junk --track clip --scale medium --seeds 0 --precision fp32
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmark.config import load_recipe
from benchmark.pool.build import ensure_pool
from benchmark.select import select
from benchmark.studies.selection import add_precision, ensure_entry, precision_overrides

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
    p.add_argument("--track", default="lm", choices=["lm", "clip"])
    p.add_argument("--scale", default="xs")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--subsets-dir", default="subsets")
    add_precision(p)
    args = p.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    overrides = precision_overrides(args)
    pool = ensure_pool(load_recipe(args.track, args.scale).pool)
    subsets = Path(args.subsets_dir)
    subsets.mkdir(parents=True, exist_ok=True)
    scores: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for variant in VARIANTS:
        subset = subset_for(variant, pool, subsets)
        for seed in seeds:
            name = f"{args.track}-{args.scale}-{variant}-s{seed}"
            entry = ensure_entry(
                args.track, args.scale, name, subset, seed, Path(args.runs_dir), overrides
            )
            scores[variant].append(entry["metrics"]["headline"]["value"])
    print(f"{args.track} scale {args.scale}, seeds {seeds}")
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
