"""DataComp's evaluation tasks, read from the folder its download script writes.

    metrics, rows = score_task(loaded, spec, folder, batch_size, device)

Classification tasks (``wds_<task>_test/``) are read with clip-benchmark's own
``build_dataset("wds/<task>", root=...)`` and scored with its ``zero_shot_classifier``
and ``run_classification``; the WILDS and fairness tasks' metadata (each sample's ``npy``
vector) is read from the same shards in the same order. Retrieval (Flickr, MSCOCO) and
WinoGAViL read the ``nlphuji`` data sets from ``hf_cache/`` through ``datasets``,
offline. Metrics follow DataComp's ``eval_utils``: acc1, acc5, mean_per_class_recall,
F1-macro_all, worst-group accuracies, mean_recall@1 and WinoGAViL's Jaccard scores.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.errors import EvalError
from benchmark.evaluate.data import HF_CACHE, hf_datasets, hf_name, wds_folder
from benchmark.evaluate.suite import TaskSpec

log = logging.getLogger(__name__)


def score_task(loaded, spec: TaskSpec, folder: Path, batch_size: int, device: str):
    """``(metrics, per-item rows)`` of one DataComp task; ``loaded`` is the checkpoint's
    (model, tokenizer, image size, preprocess)."""
    if spec.kind == "retrieval":
        return _retrieval(loaded, spec, folder, batch_size, device)
    if spec.kind == "winogavil":
        return _winogavil(loaded, spec, folder, batch_size, device)
    return _classification(loaded, spec, folder, batch_size, device)


def _classification(loaded, spec: TaskSpec, folder: Path, batch_size: int, device: str):
    from clip_benchmark.datasets.builder import build_dataset
    from clip_benchmark.metrics.zeroshot_classification import (
        run_classification,
        zero_shot_classifier,
    )
    from torch.utils.data import DataLoader

    model, tokenizer, _, preprocess = loaded
    root = folder / wds_folder(spec)
    name = "wds/" + spec.runs.removeprefix("fairness/")
    with warnings.catch_warnings():  # clip-benchmark's builder leaves shardshuffle unset
        warnings.filterwarnings("ignore", message=r"WebDataset\(shardshuffle")
        ds = build_dataset(name, root=str(root), transform=preprocess, split="test", download=False)
    loader = DataLoader(ds.batched(batch_size), batch_size=None, shuffle=False, num_workers=0)
    classifier = zero_shot_classifier(model, tokenizer, ds.classes, ds.templates, device, amp=False)
    logits, target = run_classification(model, classifier, loader, device, amp=False)
    y = target.numpy()
    pred = logits.argmax(1).numpy()
    k5 = min(5, logits.shape[1])
    top5 = (logits.topk(k5, dim=1).indices == target[:, None]).any(1).numpy()
    probs = logits.softmax(1)[torch.arange(len(y)), target].numpy()
    metrics = class_metrics(y, pred, top5, num_classes=len(ds.classes))
    metrics["prob_correct"] = float(probs.mean())
    groups = None
    if spec.group_column is not None:
        groups = _metadata(root, y)[:, spec.group_column]
        metrics.update(group_metrics(y == pred, top5, groups))
    present, counts = np.unique(y, return_counts=True)
    class_weight = 1.0 / counts[np.searchsorted(present, y)]  # mean per-class recall per item
    rows = [
        {
            "doc_id": i,
            "acc1": int(pred[i] == y[i]),
            "acc5": int(top5[i]),
            "prob_correct": round(float(probs[i]), 6),
            "label": int(y[i]),
            "pred": int(pred[i]),
            "class_weight": float(class_weight[i]),
            **({} if groups is None else {"group": int(groups[i])}),
        }
        for i in range(len(y))
    ]
    return metrics, rows


def class_metrics(y: np.ndarray, pred: np.ndarray, top5: np.ndarray, *, num_classes: int):
    """acc1, acc5 (5 or more classes), mean per-class recall and macro F1 over the classes
    present in the labels, as DataComp's ``evaluate_webdataset`` and WILDS compute them."""
    from sklearn.metrics import balanced_accuracy_score

    out = {
        "acc1": float((pred == y).mean()),
        "mean_per_class_recall": float(balanced_accuracy_score(y, pred)),
        "F1-macro_all": macro_f1(y, pred),
    }
    if num_classes >= 5:
        out["acc5"] = float(top5.mean())
    return out


def macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    """F1 averaged over the classes present in the labels (WILDS' F1-macro_all)."""
    from sklearn.metrics import f1_score

    return float(f1_score(y, pred, average="macro", labels=np.unique(y)))


def group_metrics(correct: np.ndarray, top5: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    """Worst-group accuracies over the groups present: DataComp's acc_worst_region (FMoW),
    acc_wg (GeoDE) and acc_top5_wg (Dollar Street)."""
    acc = [correct[groups == g].mean() for g in np.unique(groups)]
    acc5 = [top5[groups == g].mean() for g in np.unique(groups)]
    worst = float(min(acc))
    return {"acc_worst_region": worst, "acc_wg": worst, "acc_top5_wg": float(min(acc5))}


def _metadata(root: Path, labels: np.ndarray) -> np.ndarray:
    """Each sample's metadata vector (``npy``), in shard order, checked against the labels
    the classification read."""
    import webdataset as wds

    shards = int((root / "test" / "nshards.txt").read_text().strip())
    urls = [str(root / "test" / f"{i}.tar") for i in range(shards)]
    pairs = list(
        wds.WebDataset(urls, shardshuffle=False, empty_check=False).decode().to_tuple("cls", "npy")
    )
    if len(pairs) != len(labels) or any(
        int(c) != int(y) for (c, _), y in zip(pairs, labels, strict=True)
    ):
        raise EvalError(f"{root}: the shards' metadata does not line up with their labels")
    return np.stack([np.asarray(m).reshape(-1) for _, m in pairs])


def _hf_test(spec: TaskSpec, folder: Path):
    import datasets

    cache = folder / HF_CACHE
    with hf_datasets(cache, offline=True):
        return datasets.load_dataset(hf_name(spec), split="test", cache_dir=str(cache))


def _encode_images(model, preprocess, images, batch_size: int, device: str) -> torch.Tensor:
    out = []
    with torch.no_grad():
        for i in range(0, len(images), batch_size):
            x = torch.stack([preprocess(im.convert("RGB")) for im in images[i : i + batch_size]])
            out.append(F.normalize(model.encode_image(x.to(device)), dim=-1))
    return torch.cat(out)


def _encode_texts(model, tokenizer, texts: list[str], batch_size: int, device: str):
    with torch.no_grad():
        return torch.cat(
            [
                F.normalize(model.encode_text(tokenizer(texts[i : i + batch_size]).to(device)), -1)
                for i in range(0, len(texts), batch_size)
            ]
        )


def _retrieval(loaded, spec: TaskSpec, folder: Path, batch_size: int, device: str):
    from benchmark.evaluate.retrieval import retrieval_scores

    model, tokenizer, _, preprocess = loaded
    ds = _hf_test(spec, folder)
    img = _encode_images(model, preprocess, ds["image"], batch_size, device)
    captions: list[list[str]] = [list(c) for c in ds["caption"]]
    texts = [c for caps in captions for c in caps]
    txt = _encode_texts(model, tokenizer, texts, batch_size, device)
    return retrieval_scores(img, txt, captions)


def _winogavil(loaded, spec: TaskSpec, folder: Path, batch_size: int, device: str):
    """For each item, the k candidates most similar to "A/An <cue>" (k = the number of
    true associations) against the true set: Jaccard index, averaged over items with 5-6
    and with 10-12 candidates (DataComp reports both; 10-12 is its main metric)."""
    model, tokenizer, _, preprocess = loaded
    ds = _hf_test(spec, folder)
    rows, scores = [], {"5-6": [], "10-12": []}
    for i, item in enumerate(ds):
        cue = item["cue"].strip()
        prompt = f"{'An' if cue[:1].lower() in 'aeiou' else 'A'} {cue}"
        img = _encode_images(model, preprocess, item["candidate_images"], batch_size, device)
        txt = _encode_texts(model, tokenizer, [prompt], batch_size, device)
        k = len(item["associations"])
        top = (img @ txt.T).squeeze(1).topk(k).indices.tolist()
        chosen = {item["candidates"][j] for j in top}
        truth = set(item["associations"])
        jaccard = len(chosen & truth) / len(chosen | truth)
        n = len(item["candidates"])
        row = {"doc_id": i, "num_candidates": n}
        for key, (lo, hi) in {"5-6": (5, 6), "10-12": (10, 12)}.items():
            inside = lo <= n <= hi
            if inside:
                scores[key].append(jaccard)
            row[f"jaccard_score_{key}"] = round(jaccard, 6)
            row[f"jaccard_score_{key}_weight"] = int(inside)  # which items the score averages
        rows.append(row)
    metrics = {f"jaccard_score_{k}": float(np.mean(v)) for k, v in scores.items() if v}
    if not metrics:
        raise EvalError(f"task {spec.name}: no item has 5-6 or 10-12 candidates")
    return metrics, rows
