"""Run an LM eval suite on a checkpoint with lm-eval's ``simple_evaluate``.

The suite's task files are lm-eval task YAMLs whose local data lives with the pool;
they name it as ``__EVAL_DATA__/<file>.jsonl``. Before a run the YAMLs are copied into
``RUN_DIR/eval/tasks/`` with that placeholder replaced by the pool's absolute eval
directory (:mod:`benchmark.evaluate.tasks`), so the same folder works with lm-eval's own
CLI:

    lm_eval --model hf --model_args pretrained=RUN_DIR/checkpoint \\
        --include_path RUN_DIR/eval/tasks --tasks databench_wordnet_define

Besides each task's main metric, the probability the model gives the correct choice
(softmax over the choices' log-likelihoods) is recorded as ``prob_correct``: a
continuous metric that ranks data better at small scale (DataDecide). Per-item results
go to ``RUN_DIR/eval/items.jsonl`` so entries can be compared item by item. Tasks run one
at a time and each finished one is kept (``resume``): a killed evaluation resumes per task.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

from benchmark.errors import EvalError
from benchmark.evaluate.resume import FinishedTasks
from benchmark.evaluate.suite import Suite, TaskSpec, metrics_block
from benchmark.evaluate.tasks import task_manager

log = logging.getLogger(__name__)


def _prob_correct(sample: dict[str, Any]) -> float | None:
    """Softmax probability of the gold choice from a multiple-choice sample."""
    resps = sample.get("filtered_resps") or sample.get("resps")
    target = sample.get("target")
    if not isinstance(target, int) or not resps or not isinstance(resps[0], list | tuple):
        return None
    lls = [float(r[0]) if isinstance(r, list | tuple) else float(r) for r in resps]
    if not 0 <= target < len(lls):
        return None
    top = max(lls)
    z = sum(math.exp(v - top) for v in lls)
    return math.exp(lls[target] - top) / z


def evaluate_lm(
    checkpoint: Path,
    suite: Suite,
    data_dir: Path,
    run_dir: Path,
    *,
    batch_size: int = 32,
    limit: int | None = None,
) -> dict[str, Any]:
    """Evaluate ``checkpoint`` on ``suite``; return the entry's ``metrics`` block.

    One ``simple_evaluate`` call per task; each finished task is kept in the run
    directory, so a killed evaluation re-run starts at the first unfinished task."""
    t0 = time.time()
    task_dir = run_dir / "eval" / "tasks"
    loaded = None
    seconds: dict[str, float] = {}  # tasks run by this call (not those finished earlier)

    def run_one(spec):
        nonlocal loaded
        if loaded is None:  # only when some task has not finished earlier
            loaded = _load(checkpoint, batch_size), task_manager(suite, data_dir, task_dir)
        start = time.time()
        out = _run_task(*loaded, spec, limit)
        seconds[spec.name] = round(time.time() - start, 2)
        return out

    done = FinishedTasks(run_dir, suite, checkpoint, limit=limit)
    with _data_source(suite, data_dir):
        tasks = done.run(suite.tasks, run_one)
    total = round(time.time() - t0, 1)
    return {**metrics_block(suite, tasks), "eval_seconds": total, "task_seconds": seconds}


def _data_source(suite: Suite, data_dir: Path):
    """Offline reads from a fetched folder's ``datasets`` cache; nothing for pool data."""
    import contextlib

    if suite.data == "pool":
        return contextlib.nullcontext()
    from benchmark.evaluate.data import HF_DATASETS, hf_datasets

    return hf_datasets(data_dir / HF_DATASETS, offline=True)


def _load(checkpoint: Path, batch_size: int):
    """lm-eval's wrapper around the checkpoint."""
    import torch
    from lm_eval.models.huggingface import HFLM
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(checkpoint), dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(checkpoint))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    lm = HFLM(
        pretrained=model.to(device).eval(),
        tokenizer=tokenizer,
        batch_size=batch_size,
        max_length=model.config.max_position_embeddings,
        # lm-eval's default, 256, within a quarter of the context (generation tasks)
        max_gen_toks=min(256, model.config.max_position_embeddings // 4),
        device=device,
    )
    return lm


def _run_task(
    lm, manager, spec: TaskSpec, limit: int | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One task through ``simple_evaluate``: its entry and its per-item rows."""
    import lm_eval

    out = lm_eval.simple_evaluate(
        model=lm,
        tasks=[spec.runs],
        num_fewshot=spec.num_fewshot,
        task_manager=manager,
        log_samples=True,
        limit=limit,
        bootstrap_iters=0,
        random_seed=0,
        numpy_random_seed=0,
        torch_random_seed=0,
        fewshot_random_seed=0,
    )
    res = out["results"].get(spec.runs)
    samples = out.get("samples", {}).get(spec.runs, [])
    if res is None:
        raise EvalError(f"lm-eval returned no result for task {spec.runs}")
    key = f"{spec.metric},none"
    if key not in res:
        raise EvalError(
            f"task {spec.name} has no metric {spec.metric!r}; it reports "
            f"{', '.join(k.split(',')[0] for k in res if ',' in k)}"
        )
    value = float(res[key])
    stderr = res.get(f"{spec.metric}_stderr,none")
    probs = []
    rows = []
    for s in samples:
        row = {"task": spec.name, "doc_id": s["doc_id"]}
        for m in ("acc", "acc_norm", "bits_per_byte", "exact_match"):
            if m in s:
                v = s[m]
                row[m] = list(v) if isinstance(v, tuple) else v
        p = _prob_correct(s)
        if p is not None:
            row["prob_correct"] = round(p, 6)
            probs.append(p)
        rows.append(row)
    entry = {
        "metric": spec.metric,
        "value": value,
        "random_baseline": spec.random_baseline,
        "centered": spec.centered(value),
        "higher_is_better": spec.higher_is_better,
        "stderr": float(stderr) if isinstance(stderr, int | float) else None,
        "n": len(samples),
        "tags": list(spec.tags),
    }
    if probs:
        entry["prob_correct"] = sum(probs) / len(probs)
    return entry, rows
