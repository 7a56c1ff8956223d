"""The eval suite's floor: a scale's model evaluated at initialisation, before any step.

A trained entry's headline should sit above this; the gap is what training bought.

    BENCH_HOME=... python benchmarks/untrained_baseline.py --scale small
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

from benchmark.config import load_recipe
from benchmark.evaluate.lm import evaluate_lm
from benchmark.evaluate.suite import load_suite
from benchmark.pool.build import ensure_pool
from benchmark.train.lm import build_model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", default="small")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    recipe = load_recipe("lm", args.scale, seed=args.seed)
    pool = ensure_pool(recipe.pool)
    tok = pool.load_tokenizer()
    torch.manual_seed(recipe.seed)
    model = build_model(recipe, len(tok), tok.eos_token_id)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "checkpoint"
        model.save_pretrained(str(ckpt))
        tok.save_pretrained(str(ckpt))
        metrics = evaluate_lm(
            ckpt,
            load_suite("lm", recipe.eval.suite),
            pool.evals_dir,
            Path(tmp),
            batch_size=recipe.eval.batch_size,
        )
    print(
        json.dumps(
            {
                "scale": args.scale,
                "headline": metrics["headline"],
                "tasks": {k: v["value"] for k, v in metrics["tasks"].items()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
