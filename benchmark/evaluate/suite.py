"""Eval suites: one YAML file per suite under ``evals/<track>/``.

A suite lists its tasks; each task names its lm-eval task (or CLIP task), its main
metric, its random baseline and its tags. Aggregates come from the tags, never from a
list in code: for every tag, either the mean centred score over the tagged tasks that
have a random baseline (``aggregate: centered``, DCLM's centred accuracy,
``(acc - r) / (1 - r)``) or the plain mean of their main metrics (``aggregate: mean``,
DataComp's average). The suite's ``headline`` names the tag whose aggregate leads an
entry.

    suite = load_suite("lm", "core")
    aggregates(suite, {"task_a": 0.4, ...})
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from benchmark.errors import EvalError
from benchmark.paths import evals_dir, is_file_stem


@dataclass(frozen=True, kw_only=True)
class TaskSpec:
    name: str  # the task's key in the suite and in entries
    file: str | None  # task YAML relative to the suite file (None: lm-eval's registry)
    metric: str  # main metric
    random_baseline: float | None  # chance score as a fraction; None for loss-like metrics
    higher_is_better: bool = True
    tags: tuple[str, ...] = ()
    num_fewshot: int = 0
    task: str = ""  # the lm-eval task (or DataComp task) it runs; "" = name
    kind: str = ""  # CLIP: classification | retrieval | winogavil ("" = classification)
    group_column: int | None = None  # CLIP: metadata column of the groups of a worst-group metric
    note: str = ""  # how it differs from the reference implementation (DCLM, DataComp)

    @property
    def runs(self) -> str:
        """The task the harness runs: lm-eval's task name (LM), DataComp's task key (CLIP)."""
        return self.task or self.name

    def centered(self, value: float) -> float | None:
        if self.random_baseline is None:
            return None
        return (value - self.random_baseline) / (1.0 - self.random_baseline)


@dataclass(frozen=True, kw_only=True)
class Suite:
    name: str
    version: str
    track: str
    headline: str  # tag whose aggregate is the headline
    description: str
    aggregate: str = "centered"  # "centered" (DCLM) | "mean" (DataComp)
    eval_data_version: str | None = None  # the pool's eval data the task files need
    data: str = "pool"  # where task data lives: "pool" (built with it) | "folder" (fetched)
    # an entry whose subset holds more than this share of any task's eval items is flagged
    contamination_threshold: float = 0.01
    tasks: tuple[TaskSpec, ...]
    path: Path

    @property
    def task_dir(self) -> Path:
        return self.path.parent


_TASK_KEYS = {
    "name",
    "file",
    "metric",
    "random_baseline",
    "higher_is_better",
    "tags",
    "num_fewshot",
    "task",
    "kind",
    "group_column",
    "note",
}
_SUITE_KEYS = {
    "name",
    "version",
    "track",
    "headline",
    "description",
    "aggregate",
    "eval_data_version",
    "data",
    "tasks",
    "contamination_threshold",
}
AGGREGATES = ("centered", "mean")
DATA = ("pool", "folder")
KINDS = ("", "classification", "retrieval", "winogavil")


def _check_keys(obj: dict, valid: set[str], where: str) -> None:
    unknown = sorted(set(obj) - valid)
    if unknown:
        raise EvalError(
            f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(valid))}"
        )


def parse_suite(path: Path) -> Suite:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise EvalError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise EvalError(f"{path}: a suite file is a mapping")
    _check_keys(raw, _SUITE_KEYS, str(path))
    tasks = []
    for i, t in enumerate(raw.get("tasks") or []):
        where = f"{path}: tasks[{i}]"
        if not isinstance(t, dict) or "name" not in t or "metric" not in t:
            raise EvalError(f"{where}: each task needs at least 'name' and 'metric'")
        _check_keys(t, _TASK_KEYS, where)
        rb = t.get("random_baseline")
        if rb is not None and not 0 <= float(rb) < 1:
            raise EvalError(f"{where}: random_baseline {rb} must be a fraction in [0, 1)")
        tasks.append(
            TaskSpec(
                name=str(t["name"]),
                file=t.get("file"),
                metric=str(t["metric"]),
                random_baseline=None if rb is None else float(rb),
                higher_is_better=bool(t.get("higher_is_better", True)),
                tags=tuple(t.get("tags") or ()),
                num_fewshot=int(t.get("num_fewshot", 0)),
                task=str(t.get("task") or ""),
                kind=str(t.get("kind") or ""),
                group_column=None if t.get("group_column") is None else int(t["group_column"]),
                note=" ".join(str(t.get("note") or "").split()),
            )
        )
        if tasks[-1].kind not in KINDS:
            raise EvalError(
                f"{where}: kind {tasks[-1].kind!r} is not one of {', '.join(KINDS[1:])}"
            )
    if not tasks:
        raise EvalError(f"{path}: the suite lists no tasks")
    suite = Suite(
        name=str(raw.get("name", path.stem)),
        version=str(raw.get("version", "0")),
        track=str(raw.get("track", path.parent.name)),
        headline=str(raw.get("headline", "")),
        description=str(raw.get("description", "")),
        aggregate=str(raw.get("aggregate", "centered")),
        eval_data_version=(
            None if raw.get("eval_data_version") is None else str(raw["eval_data_version"])
        ),
        data=str(raw.get("data", "pool")),
        contamination_threshold=float(raw.get("contamination_threshold", 0.01)),
        tasks=tuple(tasks),
        path=path,
    )
    if suite.data not in DATA:
        raise EvalError(f"{path}: data {suite.data!r} is not one of {', '.join(DATA)}")
    names = [t.name for t in suite.tasks]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise EvalError(f"{path}: task {dup!r} is listed twice; give each entry its own name")
    if suite.aggregate not in AGGREGATES:
        raise EvalError(
            f"{path}: aggregate {suite.aggregate!r} is not one of {', '.join(AGGREGATES)}"
        )
    if not any(suite.headline in t.tags for t in suite.tasks if t.random_baseline is not None):
        raise EvalError(
            f"{path}: headline tag {suite.headline!r} tags no task with a random_baseline"
        )
    for t in suite.tasks:
        if t.file and not (suite.task_dir / t.file).is_file():
            raise EvalError(f"{path}: task {t.name}: file {t.file} does not exist")
    return suite


def load_suite(track: str, name: str) -> Suite:
    path = evals_dir() / track / f"{name}.yaml"
    if not is_file_stem(name) or not path.is_file():
        valid = sorted(p.stem for p in (evals_dir() / track).glob("*.yaml"))
        raise EvalError(f"no eval suite {name!r} for track {track}; valid: {', '.join(valid)}")
    return parse_suite(path)


def find_suite(name: str) -> Suite:
    """The suite called ``name`` in whichever track has it (``bench evals``)."""
    paths = sorted(evals_dir().glob(f"*/{name}.yaml")) if is_file_stem(name) else []
    if not paths:
        valid = sorted(p.stem for p in evals_dir().glob("*/*.yaml"))
        raise EvalError(f"no eval suite {name!r}; valid: {', '.join(valid)}")
    return parse_suite(paths[0])


def version_today(track: str, name: str) -> str | None:
    """The version of ``evals/<track>/<name>.yaml`` as committed; None if it is gone."""
    try:
        return load_suite(track, name).version
    except EvalError:
        return None


def aggregates(suite: Suite, scores: dict[str, float]) -> dict[str, dict[str, Any]]:
    """The suite's aggregate per tag (mean centred score or plain mean), from main metrics."""
    out: dict[str, dict[str, Any]] = {}
    tags = sorted({tag for t in suite.tasks for tag in t.tags})
    centered = suite.aggregate == "centered"
    for tag in tags:
        vals = [
            t.centered(scores[t.name]) if centered else scores[t.name]
            for t in suite.tasks
            if tag in t.tags and t.random_baseline is not None and t.name in scores
        ]
        if vals:
            out[tag] = {
                "value": sum(vals) / len(vals),
                "num_tasks": len(vals),
                "kind": "mean centred score" if centered else "mean of main metrics",
            }
    return out


def metrics_block(suite: Suite, tasks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """An entry's ``metrics``: the suite, its headline and tag aggregates, the tasks."""
    aggs = aggregates(suite, {k: v["value"] for k, v in tasks.items()})
    suffix = "centered_mean" if suite.aggregate == "centered" else "mean"
    return {
        "suite": {"name": suite.name, "version": suite.version},
        "headline": {
            "name": f"{suite.headline}_{suffix}",
            "tag": suite.headline,
            "value": aggs[suite.headline]["value"],
        },
        "aggregates": aggs,
        "tasks": tasks,
    }


def rescore(metrics: dict[str, Any], suite: Suite) -> dict[str, Any]:
    """An entry's ``metrics`` re-aggregated under ``suite`` (a new version that changes
    tags, headline or aggregate, not what is measured): the per-task values are kept,
    tags, aggregates, headline and suite version follow the suite file."""
    tasks = metrics["tasks"]
    have = {name: t["metric"] for name, t in tasks.items()}
    want = {t.name: t.metric for t in suite.tasks}
    if have != want:
        raise EvalError(
            f"suite {suite.name} v{suite.version} measures other tasks or metrics than this "
            "entry; re-run the evaluation (`bench eval RUN_DIR`) instead of rescoring"
        )
    new_tasks = {}
    for spec in suite.tasks:
        t = dict(tasks[spec.name])
        t.update(
            random_baseline=spec.random_baseline,
            centered=spec.centered(t["value"]),
            higher_is_better=spec.higher_is_better,
            tags=list(spec.tags),
        )
        new_tasks[spec.name] = t
    return {**metrics, **metrics_block(suite, new_tasks)}
