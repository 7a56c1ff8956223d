"""Loss curves of one process against two (DDP and FSDP, gloo on CPU), same recipe.

Trains a short run of the recipe three times per track: one process, two processes
with DDP, two with FSDP (``fully_shard``). The global batch is the recipe's in all
three; the micro batch is a quarter of it, so one process accumulates four micro
batches a step and each of two processes two, on its own half of every global batch.
Plots the curves and their differences from the one-process curve on one figure and
prints the largest difference.

    BENCH_HOME=... python benchmarks/ddp_curves.py --scale xs --steps 32

Extra Hydra overrides follow ``--`` (e.g. ``-- pool=text-default-reduced``; the CLIP
track's pool is set with ``--clip-pool``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from benchmark.config import load_recipe
from benchmark.run import train_only

RUNS = (("1 process", 1, "ddp"), ("2 processes, DDP", 2, "ddp"), ("2 processes, FSDP", 2, "fsdp"))


def overrides_for(track: str, scale: str, steps: int, extra: list[str]) -> list[str]:
    recipe = load_recipe(track, scale, extra)
    budget = "data.train_samples" if track == "clip" else "data.train_tokens"
    return [
        *extra,
        f"{budget}={steps * recipe.examples_per_step}",
        f"optim.warmup_steps={min(recipe.optim.warmup_steps, steps // 4)}",
        f"data.micro_batch_size={recipe.data.global_batch_size // 4}",
    ]


def curves(track: str, scale: str, overrides: list[str], workdir: Path) -> dict[str, dict]:
    out = {}
    for label, num_processes, parallel in RUNS:
        run_dir = workdir / f"{track}-{num_processes}-{parallel}"
        t = time.time()
        train_only(
            track=track,
            scale=scale,
            run_dir=run_dir,
            overrides=[*overrides, f"runtime.parallel={parallel}"],
            num_processes=num_processes,
        )
        rows = [json.loads(x) for x in (run_dir / "train_log.jsonl").read_text().splitlines()]
        out[label] = {"loss": [r["loss"] for r in rows], "seconds": round(time.time() - t, 1)}
        print(f"{track}: {label}: {len(rows)} steps in {out[label]['seconds']:.0f} s", flush=True)
    return out


def plot(results: dict[str, dict[str, dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(results), figsize=(5.5 * len(results), 6.5), squeeze=False)
    for col, (track, runs) in enumerate(results.items()):
        ref = runs[RUNS[0][0]]["loss"]
        top, bottom = axes[0][col], axes[1][col]
        for (label, _, _), style in zip(RUNS, ("-", "--", ":"), strict=True):
            loss = runs[label]["loss"]
            steps = range(1, len(loss) + 1)
            top.plot(steps, loss, style, label=label, linewidth=2 if style == "-" else 1.5)
            if label != RUNS[0][0]:
                diff = [max(abs(a - b), 1e-9) for a, b in zip(loss, ref, strict=True)]
                bottom.semilogy(steps, diff, style, label=f"{label} (max {max(diff):.1e})")
        top.set_title(f"{track}: training loss, global batch fixed")
        top.set_ylabel("loss")
        top.legend()
        bottom.set_title("|loss - 1-process loss| (floor 1e-9)")
        bottom.set_xlabel("step")
        bottom.set_ylabel("absolute difference")
        bottom.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", default="xs")
    p.add_argument("--steps", type=int, default=32)
    p.add_argument("--tracks", default="lm,clip")
    p.add_argument("--clip-pool", default=None, help="pool= override for the CLIP track")
    p.add_argument("--out", type=Path, default=Path("docs/ddp_curves.png"))
    p.add_argument("overrides", nargs="*", help="Hydra overrides for the LM track (after --)")
    args = p.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for track in args.tracks.split(","):
            extra = args.overrides if track == "lm" else []
            if track == "clip" and args.clip_pool:
                extra = [f"pool={args.clip_pool}"]
            overrides = overrides_for(track, args.scale, args.steps, extra)
            results[track] = curves(track, args.scale, overrides, Path(tmp))
    plot(results, args.out)
    for track, runs in results.items():
        ref = runs[RUNS[0][0]]["loss"]
        for label, _, _ in RUNS[1:]:
            diff = max(abs(a - b) for a, b in zip(runs[label]["loss"], ref, strict=True))
            print(f"{track}: {label} vs 1 process: max |loss difference| {diff:.2e}")
    print(f"figure: {args.out}")
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
