"""Training throughput: the harness's LM loop against Hugging Face ``Trainer``.

Same model (built from the recipe's config, same seed), same packed data, same global
batch, micro batch and optimizer settings, in one process, one after the other. Prints
steady-state tokens/s of each (steps after the first ``SKIP``, so torch.compile's
warm-up is not counted), their ratio, and the harness's model FLOP/s against this machine's
measured matmul ceiling at the precision the run used.

    BENCH_HOME=... python benchmarks/train_throughput.py --scale small --steps 30

Needs a built pool (``bench pool build text-default``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from benchmark.config import load_recipe
from benchmark.pool.build import ensure_pool
from benchmark.subset import whole_pool
from benchmark.train.common import setup_runtime
from benchmark.train.lm import build_model, model_flops_per_token, train_lm
from benchmark.train.packing import PackedSequences


def matmul_ceiling(dtype: torch.dtype, n: int = 2048, seconds: float = 3.0) -> float:
    """Best FLOP/s of an n×n×n matmul at ``dtype`` on this machine."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best, t_end = 0.0, time.time() + seconds
    while time.time() < t_end:
        t = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t))
    return best


SKIP = 3  # warm-up steps left out of the steady-state rate


def steady_rate(times: list[float], tokens_per_step: int) -> float:
    """tokens/s between the end of step SKIP and the end of the last step."""
    return (len(times) - SKIP) * tokens_per_step / (times[-1] - times[SKIP - 1])


def run_trainer(recipe, pool, steps: int, precision: str) -> float:
    """Steady-state tokens/s of transformers' Trainer on the recipe's model, data, batch."""
    from transformers import Trainer, TrainerCallback, TrainingArguments

    times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, *args, **kwargs):
            times.append(time.perf_counter())

    d, o = recipe.data, recipe.optim
    tok = pool.load_tokenizer()
    seqs = PackedSequences(
        pool.tokens,
        pool.offsets,
        whole_pool(pool).rows,
        seq_len=d.seq_len,
        num_sequences=steps * d.global_batch_size,
        eos_id=tok.eos_token_id,
        seed=recipe.seed,
    )
    data = [{"input_ids": torch.from_numpy(s), "labels": torch.from_numpy(s)} for s in seqs[:]]
    torch.manual_seed(recipe.seed)
    model = build_model(recipe, len(tok), tok.eos_token_id)
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            max_steps=steps,
            per_device_train_batch_size=d.micro_batch_size,
            gradient_accumulation_steps=d.global_batch_size // d.micro_batch_size,
            learning_rate=o.lr,
            weight_decay=o.weight_decay,
            adam_beta1=o.beta1,
            adam_beta2=o.beta2,
            adam_epsilon=o.eps,
            max_grad_norm=o.grad_clip,
            warmup_steps=o.warmup_steps,
            lr_scheduler_type="cosine_with_min_lr",
            lr_scheduler_kwargs={"min_lr_rate": o.min_lr_ratio},
            bf16=precision == "bf16",
            use_cpu=not torch.cuda.is_available(),
            report_to=[],
            save_strategy="no",
            logging_steps=10,
            dataloader_num_workers=0,
            seed=recipe.seed,
            disable_tqdm=True,
        )
        trainer = Trainer(model=model, args=args, train_dataset=data, callbacks=[Clock()])
        trainer.train()
    return steady_rate(times, d.global_batch_size * d.seq_len)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", default="small")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument(
        "--compile",
        choices=["recipe", "true", "false"],
        default="recipe",
        help="torch.compile the harness's model (default: as the recipe says)",
    )
    args = p.parse_args()
    base = load_recipe("lm", args.scale)
    tokens = args.steps * base.data.global_batch_size * base.data.seq_len
    overrides = [f"data.train_tokens={tokens}", f"optim.warmup_steps={min(5, args.steps - 1)}"]
    if args.compile != "recipe":
        overrides.append(f"runtime.compile={args.compile}")
    recipe = load_recipe("lm", args.scale, overrides)
    pool = ensure_pool(recipe.pool)
    precision = setup_runtime(recipe.runtime).precision
    with tempfile.TemporaryDirectory() as run_dir:
        res = train_lm(
            recipe, pool, whole_pool(pool), Path(run_dir), wandb_mode="disabled", progress=False
        )
        log = [json.loads(x) for x in (Path(run_dir) / "train_log.jsonl").read_text().splitlines()]
    ours = steady_rate(
        [row["elapsed_s"] for row in log], recipe.data.global_batch_size * recipe.data.seq_len
    )
    theirs = run_trainer(recipe, pool, args.steps, precision)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    ceiling = matmul_ceiling(dtype)
    achieved = model_flops_per_token(res.num_params, recipe) * ours
    report = {
        "scale": args.scale,
        "steps": args.steps,
        "precision": precision,
        "compile": recipe.runtime.compile,
        "device": res.device,
        "num_params": res.num_params,
        "harness_tokens_per_s": round(ours),
        "trainer_tokens_per_s": round(theirs),
        "ratio_harness_over_trainer": round(ours / theirs, 2),
        "harness_model_gflops": round(achieved / 1e9, 1),
        "matmul_ceiling_gflops": round(ceiling / 1e9, 1),
        "fraction_of_ceiling": round(achieved / ceiling, 3),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
