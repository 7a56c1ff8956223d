"""Resume check: runs killed with SIGKILL at random points, re-run, against an uninterrupted one.

Trains the reference run once with ``bench train``; then, for each of ``--kills`` runs,
starts the same command, kills its whole process group with SIGKILL at a random
(seeded) point, and re-runs the command, which resumes. The kill points alternate
between training (even runs: once a random number of steps is logged, plus a random
part of a step) and evaluation (odd runs: a random part of the reference's evaluation
time after training ends), so that a loaded machine does not move them. Each resumed
entry is compared with the reference: every task's metrics, the headline, the final
training loss, the loss curve and the checkpoint's hash. Prints the largest difference
and whether all are identical.

    BENCH_HOME=... python benchmarks/resume_check.py --track lm --scale xs --steps 16

``--steps`` overrides the budget (a non-standard recipe, minutes instead of the recipe's
length); extra Hydra overrides follow ``--``, e.g. ``-- pool=text-default-reduced``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmark.config import load_recipe


def bench_train(runs: Path, name: str, args: argparse.Namespace, overrides: list[str]):
    """The ``bench train`` command line of one run (same for the killed and re-run ones)."""
    return [
        sys.executable,
        "-m",
        "benchmark.cli",
        "train",
        "--track",
        args.track,
        "--scale",
        args.scale,
        "--name",
        name,
        "--runs-dir",
        str(runs),
        "--wandb",
        "disabled",
        "--no-progress",
        *overrides,
    ]


def run_to_end(cmd: list[str], trained: Path | None = None) -> tuple[float, float]:
    """Run ``cmd`` to its end: its wall time, and when ``trained`` (a file) appeared."""
    t = time.time()
    t_trained = float("nan")
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        while proc.poll() is None:
            if trained is not None and math.isnan(t_trained) and trained.is_file():
                t_trained = time.time() - t
            time.sleep(0.1)
        if proc.returncode:
            err.seek(0)
            sys.exit(f"{' '.join(cmd)} failed:\n{err.read()[-3000:]}")
    return time.time() - t, t_trained


def kill_at(cmd: list[str], ready, delay: float) -> str:
    """Start ``cmd``; SIGKILL its process group ``delay`` seconds after ``ready()`` holds."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    while not ready():
        if proc.poll() is not None:
            return "finished before the kill"
        time.sleep(0.05)
    try:
        proc.wait(timeout=delay)
        return "finished before the kill"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return "killed"


def logged(run_dir: Path) -> int:
    """Training steps a run has logged."""
    log = run_dir / "train_log.jsonl"
    return len(log.read_text().splitlines()) if log.is_file() else 0


def stage(run_dir: Path) -> str:
    """How far a killed run got, from what it left."""
    steps = logged(run_dir)
    done = len(list((run_dir / "eval" / "done").glob("*.json")))
    if (run_dir / "train_result.json").is_file():
        return f"in evaluation ({done} tasks done)"
    return f"in training (step {steps} logged)"


def numbers(entry: dict) -> dict[str, float]:
    """Every number a comparison looks at, by a flat name."""
    out = {"train.final_loss": entry["train"]["final_loss"]}
    out["headline"] = entry["metrics"]["headline"]["value"]
    for task, t in entry["metrics"]["tasks"].items():
        for k, v in t.items():
            if isinstance(v, int | float) and not isinstance(v, bool):
                out[f"{task}.{k}"] = v
    return out


def losses(run_dir: Path) -> list[float]:
    return [json.loads(x)["loss"] for x in (run_dir / "train_log.jsonl").read_text().splitlines()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--track", default="lm", choices=["lm", "clip"])
    p.add_argument("--scale", default="xs")
    p.add_argument("--steps", type=int, default=16, help="override the budget: this many steps")
    p.add_argument("--checkpoint-every", type=int, default=2, help="steps between checkpoints")
    p.add_argument("--kills", type=int, default=3)
    p.add_argument("--seed", type=int, default=0, help="seeds the kill points")
    p.add_argument("--out", type=Path, default=Path("runs/bench/resume_check.json"))
    p.add_argument("overrides", nargs="*", help="more Hydra overrides (after --)")
    args = p.parse_args()
    recipe = load_recipe(args.track, args.scale, args.overrides)
    budget = args.steps * recipe.examples_per_step
    key = "data.train_samples" if args.track == "clip" else "data.train_tokens"
    overrides = [
        *args.overrides,
        f"{key}={budget}",
        f"optim.warmup_steps={min(recipe.optim.warmup_steps, args.steps // 4)}",
        f"runtime.checkpoint_every={args.checkpoint_every}",
    ]
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        ref_seconds, trained_at = run_to_end(
            bench_train(runs, "reference", args, overrides),
            trained=runs / "reference" / "train_result.json",
        )
        ref = json.loads((runs / "reference" / "entry.json").read_text())
        print(
            f"reference: {ref_seconds:.0f} s (trained at {trained_at:.0f} s), "
            f"final loss {ref['train']['final_loss']:.6f}"
        )
        ref_log = [json.loads(x) for x in (runs / "reference" / "train_log.jsonl").open()]
        step_seconds = ref_log[-1]["elapsed_s"] / len(ref_log)
        report = []
        for i in range(args.kills):
            name = f"killed-{i}"
            cmd = bench_train(runs, name, args, overrides)
            run_dir = runs / name
            if i % 2 == 0:  # in training: after `steps` logged steps and part of the next
                steps = rng.randrange(0, args.steps)
                delay = rng.uniform(0, 1) * step_seconds
                point = f"after step {steps} + {delay:.1f} s"
                what = kill_at(cmd, lambda d=run_dir, k=steps: logged(d) >= k, delay)
            else:  # in evaluation
                delay = rng.uniform(0, 0.95) * (ref_seconds - trained_at)
                point = f"{delay:.0f} s into evaluation"
                what = kill_at(cmd, (run_dir / "train_result.json").is_file, delay)
            where = stage(runs / name)
            rerun, _ = run_to_end(cmd)
            entry = json.loads((runs / name / "entry.json").read_text())
            a, b = numbers(ref), numbers(entry)
            diff = max(abs(a[k] - b[k]) for k in a) if a.keys() == b.keys() else float("inf")
            same = (
                a == b
                and losses(runs / "reference") == losses(runs / name)
                and ref["checkpoint"]["sha256"] == entry["checkpoint"]["sha256"]
            )
            print(
                f"run {i}: {what} {point}, {where}; re-run {rerun:.0f} s; "
                f"identical: {'yes' if same else 'NO'} (max difference {diff:.3g})"
            )
            report.append(
                {"kill": point, "where": where, "identical": same, "max_difference": diff}
            )
    print(f"all identical: {'yes' if all(r['identical'] for r in report) else 'NO'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"track": args.track, "scale": args.scale, "steps": args.steps, "runs": report})
    )


if __name__ == "__main__":
    main()
