"""Is the benchmark valid? Seed noise against method spread, and scale-to-scale agreement.

Study entries are named ``<track>-<scale>-<method>-s<seed>``; the seeds of one method
at one scale form a :class:`Method`. Only entries of one eval suite (name and version)
and one pool per track, and one recipe per scale (today's committed one where it has
entries), are compared; the rest are skipped with a reason. From the methods:

- :func:`signal`: the seed std pooled over methods against the spread of method means
  (the bar: seed std ≤ 1/5 of the spread);
- :func:`decision_accuracy`: DataDecide's pairwise decision accuracy, the fraction of
  method pairs whose order at a smaller scale is their order at a larger one;
- :func:`task_noise`: the same signal per eval task, with the item-bootstrap std (the
  sampling noise of a finite item set).

    methods, skipped = collect_methods(load_entries(Path("leaderboard")))
"""

from __future__ import annotations

import itertools
import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.evaluate.suite import version_today
from benchmark.leaderboard import stats
from benchmark.leaderboard.board import load_details, recipes_current

log = logging.getLogger(__name__)

SCALE_ORDER = {"lm": ("xs", "small", "medium"), "clip": ("xs", "small", "medium")}
ORACLE_METHODS = frozenset({"junk-only", "no-junk"})  # selected with the pool's quality labels
BAR_RATIO = 5.0  # the bar: seed std ≤ 1/5 of the spread of method means
NOISE_RATIO = 2.0  # a task whose spread / seed std is below this mostly measures noise

Entry = dict[str, Any]


@dataclass(frozen=True)
class Method:
    """The seeds (entries) of one selection method at one track and scale."""

    track: str
    scale: str
    name: str
    entries: tuple[Entry, ...]
    paths: tuple[Path, ...]

    @property
    def oracle(self) -> bool:
        return self.name in ORACLE_METHODS

    @property
    def seeds(self) -> list[int]:
        return [e["seed"] for e in self.entries]

    @property
    def headlines(self) -> list[float]:
        return [e["metrics"]["headline"]["value"] for e in self.entries]

    def task_values(self, task: str) -> list[float]:
        return [e["metrics"]["tasks"][task]["value"] for e in self.entries]

    @property
    def mean(self) -> float:
        return float(np.mean(self.headlines))

    @property
    def std(self) -> float | None:
        """Seed std of the headline (ddof=1); None with one seed."""
        return float(np.std(self.headlines, ddof=1)) if len(self.entries) > 1 else None

    @cached_property
    def items(self) -> list[stats.TaskItems]:
        return stats.group_items(list(self.entries), [load_details(p) for p in self.paths])


@dataclass(frozen=True)
class Signal:
    """Seed noise against the spread of method means, for one score."""

    seed_std: float | None  # pooled over methods with ≥ 2 seeds
    spread: float | None  # best minus worst method mean; None with fewer than 2 methods

    @property
    def ratio(self) -> float | None:
        if self.seed_std is None or self.spread is None:
            return None
        return self.spread / self.seed_std if self.seed_std > 0 else math.inf

    @property
    def meets_bar(self) -> bool | None:
        return None if self.ratio is None else self.ratio >= BAR_RATIO


@dataclass(frozen=True)
class Decision:
    """One method pair: mean(a) - mean(b) at the smaller and at the larger scale."""

    a: str
    b: str
    gap_small: float
    gap_large: float
    noise_small: float | None = None  # seed std of gap_small; None where unknown
    noise_large: float | None = None  # seed std of gap_large; None where unknown

    @property
    def agrees(self) -> bool:
        return bool(np.sign(self.gap_small) == np.sign(self.gap_large))

    @property
    def resolved(self) -> bool:
        """The smaller scale tells the pair apart: its gap exceeds twice its seed noise."""
        return self.noise_small is not None and abs(self.gap_small) > 2 * self.noise_small

    @property
    def resolved_large(self) -> bool:
        """The larger scale tells the pair apart: a flip there is not its own seed noise."""
        return self.noise_large is not None and abs(self.gap_large) > 2 * self.noise_large


@dataclass(frozen=True)
class DecisionAccuracy:
    pairs: tuple[Decision, ...]

    @property
    def num_pairs(self) -> int:
        return len(self.pairs)

    @property
    def num_agree(self) -> int:
        return sum(d.agrees for d in self.pairs)

    @property
    def accuracy(self) -> float | None:
        return self.num_agree / self.num_pairs if self.pairs else None

    @property
    def disagreements(self) -> list[Decision]:
        return [d for d in self.pairs if not d.agrees]

    @property
    def resolved(self) -> DecisionAccuracy:
        """The pairs whose gap at the smaller scale is above its seed noise."""
        return DecisionAccuracy(tuple(d for d in self.pairs if d.resolved))

    @property
    def resolved_both(self) -> DecisionAccuracy:
        """The pairs both scales tell apart: the accuracy the noise of neither bounds."""
        return DecisionAccuracy(tuple(d for d in self.pairs if d.resolved and d.resolved_large))

    def flip_causes(self) -> dict[str, int]:
        """The flipped pairs by what accounts for each: ``small``, a gap within the smaller
        scale's seed noise; ``large``, resolved there but within the larger scale's (or its
        noise unknown); ``wrong``, resolved at both, so the smaller scale mispredicts."""
        out = {"small": 0, "large": 0, "wrong": 0}
        for d in self.disagreements:
            out[
                "wrong" if d.resolved and d.resolved_large else "large" if d.resolved else "small"
            ] += 1
        return out


@dataclass(frozen=True)
class TaskNoise:
    task: str
    metric: str
    in_headline: bool
    signal: Signal
    item_std: float | None  # item-bootstrap std of one run's score, pooled over runs

    @property
    def label(self) -> str:
        r = self.signal.ratio
        if r is None:
            return ""
        return "noise" if r < NOISE_RATIO else "high signal" if r >= BAR_RATIO else ""


def method_name(entry: Entry) -> str | None:
    """The selection method the entry records (``subset.method.label``: ``minhash-dedup``,
    ``junk-only``, ``all``); None if it records none."""
    method = entry["subset"].get("method")
    return method["label"] if method else None


def _keep_majority(
    entries: list[tuple[Path, Entry]], key: Callable[[Entry], tuple], what: str
) -> tuple[list[tuple[Path, Entry]], list[str]]:
    """Keep the entries of the most common ``key`` (ties: the newest entry's); skip the rest."""
    if not entries:
        return [], []
    counts = Counter(key(e) for _, e in entries)
    newest = max(entries, key=lambda pe: pe[1]["created"])[1]
    best = max(counts, key=lambda k: (counts[k], k == key(newest)))
    kept = [(p, e) for p, e in entries if key(e) == best]
    skipped = [
        f"{p.name}: {what} {key(e)} differs from {best}" for p, e in entries if key(e) != best
    ]
    return kept, skipped


def _suite_pool(e: Entry) -> tuple[str, str, str, str]:
    return (
        e["metrics"]["suite"]["name"],
        e["metrics"]["suite"]["version"],
        e["pool"]["fingerprint"][:12],
        e["compute"]["precision"],
    )


def _recipe(e: Entry) -> tuple[str]:
    return (e["recipe"]["sha256"][:12],)


def _keep_recipe(
    entries: list[tuple[Path, Entry]], track: str, scale: str
) -> tuple[list[tuple[Path, Entry]], list[str]]:
    """The entries of today's committed ``scales/<track>/<scale>.yaml`` where any has it:
    entries of a recipe since replaced stay on the board, in their own section, but the
    study is the current recipe's. Then (or where none has it) the most common recipe."""
    flags = recipes_current(e for _, e in entries)
    current = [pe for pe, ok in zip(entries, flags, strict=True) if ok]
    if not current:
        return _keep_majority(entries, _recipe, "recipe")
    skipped = [
        f"{p.name}: recipe {_recipe(e)} is not today's scales/{track}/{scale}.yaml"
        for (p, e), ok in zip(entries, flags, strict=True)
        if not ok
    ]
    kept, why = _keep_majority(current, _recipe, "recipe")
    return kept, skipped + why


def _keep_suite(
    entries: list[tuple[Path, Entry]], track: str
) -> tuple[list[tuple[Path, Entry]], list[str]]:
    """The entries scored with today's version of their suite (``evals/<track>/<name>.yaml``)
    where any is; entries of an older version stay on the board in their own section."""
    names = {e["metrics"]["suite"]["name"] for _, e in entries}
    today = {name: version_today(track, name) for name in names}
    ok = [
        today[e["metrics"]["suite"]["name"]] == e["metrics"]["suite"]["version"] for _, e in entries
    ]
    if not any(ok):
        return entries, []
    kept = [pe for pe, good in zip(entries, ok, strict=True) if good]
    skipped = [
        f"{p.name}: suite/pool/precision {_suite_pool(e)}: not today's "
        f"evals/{track}/{e['metrics']['suite']['name']}.yaml version"
        for (p, e), good in zip(entries, ok, strict=True)
        if not good
    ]
    return kept, skipped


def comparable(entries: list[tuple[Path, Entry]]) -> tuple[list[tuple[Path, Entry]], list[str]]:
    """Per track and scale one recipe hash (today's where it has entries), then today's
    suite version where it has entries, then one suite, pool fingerprint and precision.

    Scales are compared only by the order of their methods, so each scale may sit at its
    own suite version while a board moves to a new one (the page names each scale's)."""
    kept, skipped = [], []
    for track, scale in sorted({(e["track"], e["scale"]) for _, e in entries}):
        in_scale = [(p, e) for p, e in entries if (e["track"], e["scale"]) == (track, scale)]
        in_scale, why = _keep_recipe(in_scale, track, scale)
        skipped += why
        in_scale, why = _keep_suite(in_scale, track)
        skipped += why
        in_scale, why = _keep_majority(in_scale, _suite_pool, "suite/pool/precision")
        kept += in_scale
        skipped += why
    for reason in skipped:
        log.warning("skipped %s", reason)
    return kept, skipped


def collect_methods(entries: list[tuple[Path, Entry]]) -> tuple[list[Method], list[str]]:
    """Comparable entries grouped by (track, scale, method); and why any entry was skipped."""
    kept, skipped = comparable(entries)
    groups: dict[tuple[str, str, str], list[tuple[Path, Entry]]] = {}
    for path, e in kept:
        name = method_name(e)
        if name is None:
            reason = f"{path.name}: records no selection method (subset.method)"
            log.warning("skipped %s", reason)
            skipped.append(reason)
            continue
        groups.setdefault((e["track"], e["scale"], name), []).append((path, e))
    methods = []
    for (track, scale, name), members in sorted(groups.items(), key=lambda kv: _order(*kv[0])):
        members.sort(key=lambda pe: pe[1]["seed"])
        entries_, paths = tuple(e for _, e in members), tuple(p for p, _ in members)
        methods.append(Method(track, scale, name, entries_, paths))
    return methods, skipped


def _order(track: str, scale: str, name: str) -> tuple:
    """Tracks by name, scales smallest first (unknown scales last), methods by name."""
    order = SCALE_ORDER.get(track, ())
    return (track, order.index(scale) if scale in order else len(order), scale, name)


def pooled_std(samples: Iterable[Sequence[float]]) -> float | None:
    """Root of the mean of the per-method variances (ddof=1), over methods with ≥ 2 seeds."""
    variances = [np.var(s, ddof=1) for s in samples if len(s) >= 2]
    return float(np.sqrt(np.mean(variances))) if variances else None


def signal(samples: Sequence[Sequence[float]]) -> Signal:
    """Pooled seed std and spread of means, from one list of per-seed scores per method."""
    means = [float(np.mean(s)) for s in samples if len(s)]
    spread = max(means) - min(means) if len(means) >= 2 else None
    return Signal(pooled_std(samples), spread)


def decision_accuracy(
    small: Mapping[str, float],
    large: Mapping[str, float],
    noise: Mapping[str, float] | None = None,
    noise_large: Mapping[str, float] | None = None,
) -> DecisionAccuracy:
    """Over every pair of methods in both, does the order of means at ``small`` hold at ``large``?

    A tie at one scale and not the other counts as a disagreement. ``noise``: each method's
    seed std of its mean at ``small`` (seed std / √seeds); a pair's gap then has the noise
    √(σa² + σb²), which decides whether the smaller scale resolves it; ``noise_large`` the
    same at ``large``.
    """
    names = sorted(set(small) & set(large))
    return DecisionAccuracy(
        tuple(
            Decision(
                a,
                b,
                small[a] - small[b],
                large[a] - large[b],
                math.hypot(noise[a], noise[b]) if noise else None,
                math.hypot(noise_large[a], noise_large[b]) if noise_large else None,
            )
            for a, b in itertools.combinations(names, 2)
        )
    )


def scale_pairs(track: str, scales: Iterable[str]) -> list[tuple[str, str]]:
    """Consecutive (smaller, larger) scales of ``track`` among ``scales``, in SCALE_ORDER."""
    order = SCALE_ORDER.get(track, ())
    present = set(scales)
    for s in sorted(present - set(order)):
        log.warning(
            "scale %s/%s has no known order (SCALE_ORDER); left out of scale pairs", track, s
        )
    known = [s for s in order if s in present]
    return list(itertools.pairwise(known))


def task_noise(methods: Sequence[Method], *, num_bootstrap: int = 200) -> list[TaskNoise]:
    """Per eval task of one track and scale: seed std vs spread of means, and item noise.

    ``num_bootstrap`` = 0 skips the item bootstrap (it reads every entry's details).
    """
    head = methods[0].entries[0]["metrics"]["headline"]
    tag = head.get("tag") or head["name"].removesuffix("_centered_mean")
    item_var: dict[str, list[float]] = {}
    if num_bootstrap:
        for m in methods:
            for t in m.items:
                std = stats.item_bootstrap_std(t, num=num_bootstrap)
                item_var.setdefault(t.name, []).append(std**2)
    out = []
    for task, spec in methods[0].entries[0]["metrics"]["tasks"].items():
        var = item_var.get(task)
        out.append(
            TaskNoise(
                task,
                spec["metric"],
                tag in spec.get("tags", []),
                signal([m.task_values(task) for m in methods]),
                float(np.sqrt(np.mean(var))) if var else None,
            )
        )
    return out
