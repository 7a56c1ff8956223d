"""Evaluate a CLIP checkpoint on a suite: zero-shot classification and retrieval.

    metrics = evaluate_clip(checkpoint, suite, pool.evals_dir, run_dir)

The checkpoint is loaded the way users load it, with
``open_clip.create_model_and_transforms("local-dir:PATH")`` and its tokenizer with
``open_clip.get_tokenizer("local-dir:PATH")``. The scoring is clip-benchmark's:
``zero_shot_classifier`` + ``run_classification`` for classification (templates and
class names from the task's classes file) and ``recall_at_k`` for retrieval.
Per-item results (correct or not, the probability of the true class, per-item
recall) go to ``RUN_DIR/eval/items.jsonl`` so two entries can be compared item by
item. Each finished task is kept in the run directory (``resume``), so a killed
evaluation re-run starts at the first unfinished task.

Task data lives in the pool's eval folder, a folder a task (built with the pool, never
part of it; the files are named in :mod:`benchmark.pool.format`): images (uint8,
``(N, H, W, 3)``), and labels + classes (classification) or captions (retrieval).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.errors import EvalError
from benchmark.evaluate.data import task_kind
from benchmark.evaluate.resume import FinishedTasks
from benchmark.evaluate.retrieval import retrieval_scores
from benchmark.evaluate.suite import Suite, TaskSpec, metrics_block
from benchmark.evaluate.tasks import check_data_version
from benchmark.pool.format import EVAL_CAPTIONS, EVAL_CLASSES, EVAL_IMAGES, EVAL_LABELS

log = logging.getLogger(__name__)


def load_checkpoint(checkpoint: Path, device: str):
    """(model, tokenizer, image size, eval transform) from an open_clip local-dir checkpoint."""
    import open_clip

    model, _, preprocess = open_clip.create_model_and_transforms(
        f"local-dir:{checkpoint}", device=device
    )
    tokenizer = open_clip.get_tokenizer(f"local-dir:{checkpoint}")
    size = model.visual.image_size
    size = size[0] if isinstance(size, tuple | list) else size
    return model.eval(), tokenizer, int(size), preprocess


def to_model_input(images: np.ndarray, size: int) -> torch.Tensor:
    """uint8 ``(N, H, W, 3)`` → normalised float ``(N, 3, size, size)`` (bicubic resize)."""
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

    x = torch.from_numpy(np.array(images)).permute(0, 3, 1, 2).float() / 255
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False, antialias=True)
        x = x.clamp(0, 1)
    mean = torch.tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def _loader(images: torch.Tensor, second: Any, batch_size: int):
    from torch.utils.data import DataLoader, TensorDataset

    return DataLoader(TensorDataset(images, second), batch_size=batch_size, shuffle=False)


def classify(model, tokenizer, task_dir: Path, size: int, batch_size: int, device: str):
    """Per-item (correct, prob of the true class, label) and the task's aggregate metrics."""
    from clip_benchmark.metrics.zeroshot_classification import (
        accuracy,
        run_classification,
        zero_shot_classifier,
    )

    classes = json.loads((task_dir / EVAL_CLASSES).read_text())
    labels = torch.from_numpy(np.load(task_dir / EVAL_LABELS).astype(np.int64))
    images = to_model_input(np.load(task_dir / EVAL_IMAGES, mmap_mode="r"), size)
    classifier = zero_shot_classifier(
        model, tokenizer, classes["classnames"], classes["templates"], device, amp=False
    )
    logits, true = run_classification(
        model, classifier, _loader(images, labels, batch_size), device, amp=False
    )
    correct = (logits.argmax(1) == true).numpy()
    probs = logits.softmax(1)[torch.arange(len(true)), true].numpy()
    num_classes = len(classes["classnames"])
    k5 = min(5, num_classes)
    acc1, acc5 = accuracy(logits, true, topk=(1, k5))
    y = true.numpy()
    present, counts = np.unique(y, return_counts=True)
    recall = [correct[y == c].mean() for c in present]
    class_weight = 1.0 / counts[np.searchsorted(present, y)]  # mean per-class recall, per item
    metrics = {
        "acc1": acc1,
        "acc5": acc5,
        "mean_per_class_recall": float(np.mean(recall)),
        "prob_correct": float(probs.mean()),
    }
    items = [
        {
            "doc_id": i,
            "acc1": int(c),
            "prob_correct": round(float(p), 6),
            "label": int(label),
            "class_weight": float(w),
        }
        for i, (c, p, label, w) in enumerate(zip(correct, probs, y, class_weight, strict=True))
    ]
    return metrics, items


def retrieve(model, tokenizer, task_dir: Path, size: int, batch_size: int, device: str):
    """Image→text and text→image recall@k of a task of the pool's eval sets."""
    captions: list[list[str]] = json.loads((task_dir / EVAL_CAPTIONS).read_text())
    images = to_model_input(np.load(task_dir / EVAL_IMAGES, mmap_mode="r"), size)
    texts = [c for caps in captions for c in caps]
    with torch.no_grad():
        img_emb = torch.cat(
            [F.normalize(model.encode_image(b), dim=-1) for b in images.split(batch_size)]
        )
        txt_emb = torch.cat(
            [
                F.normalize(model.encode_text(tokenizer(texts[i : i + batch_size]).to(device)), -1)
                for i in range(0, len(texts), batch_size)
            ]
        )
    return retrieval_scores(img_emb, txt_emb, captions)


def evaluate_clip(
    checkpoint: Path,
    suite: Suite,
    data_dir: Path,
    run_dir: Path,
    *,
    batch_size: int = 256,
) -> dict[str, Any]:
    """Evaluate ``checkpoint`` on ``suite``; return the entry's ``metrics`` block."""
    t0 = time.time()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    pool_data = suite.data == "pool"
    if pool_data:
        check_data_version(suite, data_dir)
    kinds = {spec.name: task_kind(data_dir, spec.name) for spec in suite.tasks if pool_data}
    loaded = None
    seconds: dict[str, float] = {}  # tasks run by this call (not those finished earlier)

    def run_one(spec: TaskSpec):
        nonlocal loaded
        if loaded is None:  # only when some task has not finished earlier
            loaded = load_checkpoint(checkpoint, device)
        start = time.time()
        if pool_data:
            model, tokenizer, size, _ = loaded
            fn = classify if kinds[spec.name] == "classification" else retrieve
            metrics, rows = fn(model, tokenizer, data_dir / spec.name, size, batch_size, device)
        else:  # DataComp's folder
            from benchmark.evaluate.datacomp import score_task

            metrics, rows = score_task(loaded, spec, data_dir, batch_size, device)
        seconds[spec.name] = round(time.time() - start, 2)
        return _task_entry(spec, metrics, len(rows)), [{"task": spec.name, **r} for r in rows]

    tasks = FinishedTasks(run_dir, suite, checkpoint).run(suite.tasks, run_one)
    total = round(time.time() - t0, 1)
    return {**metrics_block(suite, tasks), "eval_seconds": total, "task_seconds": seconds}


def _task_entry(spec: TaskSpec, metrics: dict[str, float], n: int) -> dict[str, Any]:
    if spec.metric not in metrics:
        raise EvalError(
            f"task {spec.name} has no metric {spec.metric!r}; it reports {', '.join(metrics)}"
        )
    value = metrics[spec.metric]
    entry = {
        "metric": spec.metric,
        "value": value,
        "random_baseline": spec.random_baseline,
        "centered": spec.centered(value),
        "higher_is_better": spec.higher_is_better,
        "stderr": None,
        "n": n,
        "tags": list(spec.tags),
        "all": {k: round(v, 6) for k, v in metrics.items()},
    }
    if "prob_correct" in metrics:
        entry["prob_correct"] = metrics["prob_correct"]
    return entry
