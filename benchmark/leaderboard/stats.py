"""Uncertainty for leaderboard numbers: bootstrap over eval items and over seeds.

An entry's per-item results (the ``details`` sidecar) let every aggregate be
recomputed on resampled items. A *group* is the entries of one subset under one recipe
(its seeds). Each bootstrap replicate resamples the seeds of each group and, shared
across groups, the items of each task (the same items are scored in every entry), so a
comparison between two groups is *paired* over items. Intervals are percentile
intervals: no normal approximation, which small tasks do not support.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

LN2 = math.log(2)
# Metrics over a task's items that are not a mean of per-item values: recomputed on each
# resample from the per-item label, prediction and group.
NOT_A_MEAN = ("F1-macro_all", "acc_worst_region", "acc_wg", "acc_top5_wg")


@dataclass(frozen=True)
class TaskItems:
    """One task's per-item results for every seed of a group, aligned by doc id."""

    name: str
    metric: str
    random_baseline: float | None
    higher_is_better: bool
    values: np.ndarray  # (S, N) main metric per item; for bits_per_byte: log-likelihoods
    weights: np.ndarray | None  # (S, N) bytes (bits_per_byte) or 1/class size (mean
    # per-class recall) per item, else None
    center: bool = True  # the suite's headline is a mean centred score (DCLM), else a mean
    # (S, N) per item: the label, the prediction and the group, for metrics that are not
    # a mean over items (DataComp's macro F1 and worst-group accuracies); else None
    labels: np.ndarray | None = None
    preds: np.ndarray | None = None
    groups: np.ndarray | None = None

    def score(self, seed_idx: np.ndarray, item_idx: np.ndarray) -> float:
        v = self.values[np.ix_(seed_idx, item_idx)]
        if self.metric in NOT_A_MEAN:  # the metric of each seed's resample, then their mean
            return float(np.mean([self._seed_score(s, item_idx) for s in seed_idx]))
        if self.weights is None:
            return float(v.mean())
        w = self.weights[np.ix_(seed_idx, item_idx)]
        if self.metric == "bits_per_byte":
            return float(-v.sum() / w.sum() / LN2)
        return float((v * w).sum() / w.sum())

    def _seed_score(self, s: int, item_idx: np.ndarray) -> float:
        from benchmark.evaluate.datacomp import group_metrics, macro_f1

        if self.metric == "F1-macro_all":
            return macro_f1(self.labels[s, item_idx], self.preds[s, item_idx])
        correct = self.values[s, item_idx].astype(bool)  # acc1, or acc5 for a top-5 metric
        return group_metrics(correct, correct, self.groups[s, item_idx])[self.metric]

    def centered(self, value: float) -> float | None:
        if self.random_baseline is None:
            return None
        if not self.center:
            return value
        return (value - self.random_baseline) / (1 - self.random_baseline)


def group_items(entries: list[dict[str, Any]], details: list[dict[str, Any]]) -> list[TaskItems]:
    """Stack the seeds of one group into per-task arrays."""
    tasks = []
    head = entries[0]["metrics"]["headline"]["name"]
    center = head.endswith("_centered_mean") or not head.endswith("_mean")
    for name, spec in entries[0]["metrics"]["tasks"].items():
        rows = []
        for d in details:
            t = d["items"][name]
            order = np.argsort(t["doc_id"])
            rows.append((np.asarray(t["doc_id"])[order], t, order))
        ids = rows[0][0]
        if any(not np.array_equal(r[0], ids) for r in rows):
            raise ValueError(f"task {name}: entries scored different items")
        metric = spec["metric"]
        if metric == "bits_per_byte":
            pairs = [np.asarray(t[metric], dtype=float)[order] for _, t, order in rows]
            values = np.stack([p[:, 0] for p in pairs])
            weights = np.stack([p[:, 1] for p in pairs])
        elif metric == "mean_per_class_recall":  # per item: correct, weighted by 1/class size
            values = np.stack([np.asarray(t["acc1"], dtype=float)[o] for _, t, o in rows])
            weights = np.stack([np.asarray(t["class_weight"], dtype=float)[o] for _, t, o in rows])
        elif metric in NOT_A_MEAN:
            key = "acc5" if metric == "acc_top5_wg" else "acc1"
            values = np.stack([np.asarray(t[key], dtype=float)[o] for _, t, o in rows])
            weights = None
            extra = {
                f: np.stack([np.asarray(t[k])[o] for _, t, o in rows])
                for f, k in (("labels", "label"), ("preds", "pred"), ("groups", "group"))
                if k in rows[0][1]
            }
        else:  # a mean over items; `<metric>_weight` per item selects or weighs them
            values = np.stack([np.asarray(t[metric], dtype=float)[o] for _, t, o in rows])
            wkey = f"{metric}_weight"
            weights = None
            if wkey in rows[0][1]:
                weights = np.stack([np.asarray(t[wkey], dtype=float)[o] for _, t, o in rows])
        tasks.append(
            TaskItems(
                name,
                metric,
                spec["random_baseline"],
                spec.get("higher_is_better", True),
                values,
                weights,
                center=center,
                **(extra if metric in NOT_A_MEAN else {}),
            )
        )
    return tasks


def headline(tasks: list[TaskItems], tag_tasks: set[str], seed_idx, item_idx: dict) -> float:
    vals = [t.centered(t.score(seed_idx, item_idx[t.name])) for t in tasks if t.name in tag_tasks]
    return float(np.mean([v for v in vals if v is not None]))


def _replicates(groups: list[list[TaskItems]], tag_tasks: set[str], num: int, seed: int):
    """Bootstrap replicates: per group, the headline and per-task scores."""
    rng = np.random.default_rng(seed)
    sizes = {t.name: t.values.shape[1] for t in groups[0]}
    out_head = np.zeros((num, len(groups)))
    out_task = {name: np.zeros((num, len(groups))) for name in sizes}
    for b in range(num):
        item_idx = {name: rng.integers(0, n, n) for name, n in sizes.items()}
        for g, tasks in enumerate(groups):
            s = tasks[0].values.shape[0]
            seed_idx = rng.integers(0, s, s)
            out_head[b, g] = headline(tasks, tag_tasks, seed_idx, item_idx)
            for t in tasks:
                out_task[t.name][b, g] = t.score(seed_idx, item_idx[t.name])
    return out_head, out_task


def interval(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    lo, hi = np.quantile(samples, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def group_interval(
    tasks: list[TaskItems], tag_tasks: set[str], num: int = 1000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean headline over the group's seeds and its 95% bootstrap interval."""
    full = {t.name: np.arange(t.values.shape[1]) for t in tasks}
    mean = headline(tasks, tag_tasks, np.arange(tasks[0].values.shape[0]), full)
    heads, _ = _replicates([tasks], tag_tasks, num, seed)
    lo, hi = interval(heads[:, 0])
    return mean, lo, hi


def paired_difference(
    a: list[TaskItems], b: list[TaskItems], tag_tasks: set[str], num: int = 2000, seed: int = 0
) -> dict[str, Any]:
    """A minus B: headline and per-task differences with paired bootstrap intervals."""
    heads, per_task = _replicates([a, b], tag_tasks, num, seed)
    out: dict[str, Any] = {}
    full_a = {t.name: np.arange(t.values.shape[1]) for t in a}
    sa, sb = np.arange(a[0].values.shape[0]), np.arange(b[0].values.shape[0])
    diff = heads[:, 0] - heads[:, 1]
    out["headline"] = {
        "difference": headline(a, tag_tasks, sa, full_a) - headline(b, tag_tasks, sb, full_a),
        "interval": interval(diff),
    }
    out["tasks"] = {}
    for ta, tb in zip(a, b, strict=True):
        d = per_task[ta.name][:, 0] - per_task[ta.name][:, 1]
        point = ta.score(sa, full_a[ta.name]) - tb.score(sb, full_a[ta.name])
        out["tasks"][ta.name] = {
            "metric": ta.metric,
            "difference": point,
            "interval": interval(d),
            "higher_is_better": ta.higher_is_better,
        }
    return out


def item_bootstrap_std(task: TaskItems, num: int = 200, seed: int = 0) -> float:
    """Sampling noise of one run's score from the task's finite item set.

    The std of the score over ``num`` bootstrap resamples of the items, seed by seed,
    then root-mean-square over the task's seeds.
    """
    rng = np.random.default_rng(seed)
    num_seeds, num_items = task.values.shape
    variances = []
    for s in range(num_seeds):
        reps = [
            task.score(np.array([s]), rng.integers(0, num_items, num_items)) for _ in range(num)
        ]
        variances.append(np.var(reps, ddof=1))
    return float(np.sqrt(np.mean(variances)))


def verdict(lo: float, hi: float, higher_is_better: bool = True) -> str:
    """'A better', 'B better' or 'no detectable difference' from a 95% interval of A - B."""
    if lo > 0 or hi < 0:
        a_higher = lo > 0
        return "A better" if a_higher == higher_is_better else "B better"
    return "no detectable difference"
