"""Does a recipe change shrink seed noise against the spread between methods?

A scale's recipe is fixed, but choosing it is an experiment: the best recipe for a
benchmark is the one whose seed-to-seed spread of the headline is smallest against the
gap between selection methods (the bar of ``docs/validity.md``: seed std ≤ 1/5 of the
spread). Each *arm* is a set of Hydra overrides of the scale's recipe; for each arm,
method and seed the script trains and evaluates one run under
``runs/recipe-noise/<arm>/`` (a finished run is reused, a killed one resumes), and after
every run rewrites ``docs/recipe_noise.{json,md,png}`` (CLIP: ``recipe_noise_clip``): per
arm, each method's headline and a second, continuous measure (LM: held-out bits per byte;
CLIP: the final training loss) as mean ± seed std, the pooled seed std, the spread of
method means and their ratio. The arm ``board`` is today's recipe as the committed
leaderboard has it (entries ``TRACK-SCALE-METHOD-sSEED`` of today's recipe hash and the
chosen precision), so the control needs no training.

    .venv/bin/python -m benchmark.studies.recipe_noise --scale small --methods all,c4,fasttext \\
        --seeds 0,1,2 --precision fp32 --arm anneal=optim.min_lr_ratio=0.01
    .venv/bin/python -m benchmark.studies.recipe_noise --track clip --scale medium \\
        --methods all,caption-filter --seeds 0,1 --arm lr1e-3=optim.lr=1e-3
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from benchmark.config import load_recipe
from benchmark.io import atomic_path
from benchmark.leaderboard.board import load_entries
from benchmark.leaderboard.entry import leaderboard_dir
from benchmark.pool.build import ensure_pool
from benchmark.run import run_train
from benchmark.studies.analysis import method_name, signal
from benchmark.studies.selection import subset_for  # the study's subsets, made once

BPB = "databench_heldout_bpb"
DOCS = Path("docs")  # the checkout's, from its root
# the second measure per track: (row key, column title)
SECOND = {"lm": ("bpb", "bits per byte"), "clip": ("final_loss", "final loss")}


def _row(arm: str, method: str, entry: dict) -> dict:
    m = entry["metrics"]
    return {
        "arm": arm,
        "method": method,
        "seed": entry["seed"],
        "headline": m["headline"]["value"],
        "bpb": m["tasks"][BPB]["value"] if BPB in m["tasks"] else None,
        "final_loss": entry["train"]["final_loss"],
        "recipe_sha256": entry["recipe"]["sha256"],
        "overrides": entry["recipe"]["overrides"],
        "precision": entry["compute"]["precision"],
        "suite_version": m["suite"]["version"],
    }


def board_rows(track: str, scale: str, methods: list[str], precision: str) -> list[dict]:
    """Today's recipe as the leaderboard has it: the control arm."""
    sha = load_recipe(track, scale).sha256
    rows = []
    for _, e in load_entries(leaderboard_dir(), track, scale):
        same = e["recipe"]["sha256"] == sha and precision in ("auto", e["compute"]["precision"])
        if method_name(e) in methods and same:
            rows.append(_row("board", method_name(e), e))
    return rows


def summarise(rows: list[dict], key: str) -> dict:
    """Per method mean ± seed std of ``key``; pooled seed std, spread and their ratio."""
    by_method: dict[str, list[float]] = {}
    for r in rows:
        by_method.setdefault(r["method"], []).append(r[key])
    sig = signal(list(by_method.values()))
    return {
        "methods": {
            m: {
                "mean": statistics.fmean(v),
                "std": statistics.stdev(v) if len(v) > 1 else None,
                "seeds": len(v),
            }
            for m, v in sorted(by_method.items())
        },
        "pooled_std": sig.seed_std,
        "spread": sig.spread,
        "ratio": sig.ratio,
    }


def _f(x: float | None, spec: str = ".4f") -> str:
    return "n/a" if x is None else format(x, spec)


def finished_rows(runs_dir: Path, scale: str, track: str = "lm") -> list[dict]:
    """Every finished run of every arm under ``runs_dir`` (several processes may share it)."""
    rows = []
    for path in sorted(runs_dir.glob(f"*/{track}-{scale}-*/entry.json")):
        entry = json.loads(path.read_text())
        rows.append(_row(path.parent.parent.name, method_name(entry), entry))
    return rows


def write(rows: list[dict], scale: str, out: Path, track: str = "lm") -> None:
    key, title = SECOND[track]
    arms = {r["arm"]: [o for o in r["overrides"] if "precision" not in o] for r in rows}
    summary = {}
    for arm in sorted({r["arm"] for r in rows}, key=lambda a: (a != "board", a)):
        mine = [r for r in rows if r["arm"] == arm]
        summary[arm] = {k: summarise(mine, k) for k in ("headline", key)}
    with atomic_path(out.with_suffix(".json")) as tmp:
        doc = {"track": track, "scale": scale, "runs": rows, "summary": summary}
        tmp.write_text(json.dumps(doc, indent=1))
    lines = [
        f"# Recipe noise study ({track} / {scale})",
        "",
        f"Generated by `benchmark/studies/recipe_noise.py` ({len(rows)} runs); "
        "do not edit by hand. "
        "Arm `board` is today's recipe as committed on the leaderboard. Pooled seed std: "
        "the root of the mean of per-method variances (methods with ≥ 2 seeds); spread: "
        "best minus worst method mean; the bar is ratio ≥ 5.",
        "",
    ]
    for arm, s in summary.items():
        what = "today's recipe" if arm == "board" else ", ".join(arms[arm]) or "no override"
        lines += [f"## {arm}: {what}", "", f"| method | seeds | headline | {title} |"]
        lines.append("| --- | --- | --- | --- |")
        h, b = s["headline"], s[key]
        for m, hm in h["methods"].items():
            bm = b["methods"][m]
            lines.append(
                f"| {m} | {hm['seeds']} | {_f(hm['mean'])} ± {_f(hm['std'])} | "
                f"{_f(bm['mean'], '.3f')} ± {_f(bm['std'], '.3f')} |"
            )
        lines += [
            "",
            f"- headline: pooled seed std {_f(h['pooled_std'])}, spread {_f(h['spread'])}, "
            f"ratio **{_f(h['ratio'], '.1f')}**",
            f"- {title}: pooled seed std {_f(b['pooled_std'])}, spread "
            f"{_f(b['spread'])}, ratio {_f(b['ratio'], '.1f')}",
            "",
        ]
    lines.append(f"![headline per seed and arm]({out.with_suffix('.png').name})")
    with atomic_path(out.with_suffix(".md")) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    write_plot(rows, out.with_suffix(".png"))


def write_plot(rows: list[dict], path: Path) -> None:
    """Each arm's runs: headline per method, one dot a seed, a bar at the mean."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = sorted({r["arm"] for r in rows}, key=lambda a: (a != "board", a))
    methods = sorted({r["method"] for r in rows})
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(methods) * len(arms) / 2, 4))
    width = 0.8 / max(len(arms), 1)
    for k, arm in enumerate(arms):
        for i, m in enumerate(methods):
            ys = [r["headline"] for r in rows if r["arm"] == arm and r["method"] == m]
            if not ys:
                continue
            x = i + (k - (len(arms) - 1) / 2) * width
            ax.scatter([x] * len(ys), ys, color=f"C{k}", s=18, label=arm if i == 0 else None)
            ax.hlines(statistics.fmean(ys), x - width / 3, x + width / 3, color=f"C{k}")
    ax.set_xticks(range(len(methods)), methods)
    ax.set_ylabel("headline (one dot a seed, bar: mean)")
    ax.set_title("seed noise per recipe arm")
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--track", choices=sorted(SECOND), default="lm")
    p.add_argument("--scale", default="small")
    p.add_argument("--methods", default="all,c4,fasttext")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="fp32")
    p.add_argument(
        "--arm",
        action="append",
        default=[],
        metavar="NAME=OVERRIDE[,OVERRIDE...]",
        help="a candidate recipe: its name and Hydra overrides (repeatable)",
    )
    p.add_argument("--runs-dir", default="runs/recipe-noise")
    p.add_argument("--subsets-dir", default="subsets")
    p.add_argument("--out", type=Path, help="default: docs/recipe_noise (LM), _clip (CLIP)")
    args = p.parse_args()
    track = args.track
    out = args.out or DOCS / ("recipe_noise" if track == "lm" else f"recipe_noise_{track}")
    arms = {}
    for a in args.arm:
        name, _, spec = a.partition("=")
        if not name or not spec:
            p.error(f"--arm {a!r}: expected NAME=OVERRIDE[,OVERRIDE...]")
        arms[name] = spec.split(",")
    methods, seeds = args.methods.split(","), [int(s) for s in args.seeds.split(",")]
    precision = [] if args.precision == "auto" else [f"runtime.precision={args.precision}"]
    pool = ensure_pool(load_recipe(track, args.scale).pool)
    subsets = Path(args.subsets_dir)
    subsets.mkdir(parents=True, exist_ok=True)
    runs_dir = Path(args.runs_dir)

    def rows() -> list[dict]:  # the control covers every method any arm has run
        done = finished_rows(runs_dir, args.scale, track)
        wanted = sorted(set(methods) | {r["method"] for r in done})
        return board_rows(track, args.scale, wanted, args.precision) + done

    write(rows(), args.scale, out, track)
    for arm, overrides in arms.items():
        for seed in seeds:
            for method in methods:
                subset = subset_for(track, method, pool, subsets, Path("runs"))
                name = f"{track}-{args.scale}-{method}-s{seed}"
                run_dir = runs_dir / arm
                if (run_dir / name / "entry.json").is_file():
                    continue
                _, entry = run_train(
                    track=track,
                    scale=args.scale,
                    subset_file=subset,
                    seed=seed,
                    name=name,
                    overrides=overrides + precision,
                    runs_dir=run_dir,
                    wandb_mode="disabled",
                )
                write(rows(), args.scale, out, track)
                value = entry["metrics"]["headline"]["value"]
                print(f"{arm} {name}: headline {value:.4f}", flush=True)


if __name__ == "__main__":
    main()
