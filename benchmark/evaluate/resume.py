"""Finished tasks of an evaluation, kept so that a killed evaluation resumes per task.

    done = FinishedTasks(run_dir, suite, checkpoint)
    tasks = done.run(suite.tasks, run_one)    # run_one(spec) -> (task entry, per-item rows)

Each finished task is one JSON file, ``RUN_DIR/eval/done/<task>.json``, written
atomically, holding its entry, its per-item rows and a key: the suite's name and
version, the task's spec and the checkpoint's hash. A file whose key differs (another
checkpoint, a changed task) is ignored and the task runs again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmark.evaluate.suite import Suite, TaskSpec
from benchmark.io import atomic_path, sha256_tree, write_json

log = logging.getLogger(__name__)
Result = tuple[dict[str, Any], list[dict[str, Any]]]  # a task's entry and per-item rows


# Task fields added after runs were first kept, with their defaults: left out of the key at
# their default so that earlier finished tasks still count. ``note`` is prose, never a key.
_LATE = {"task": "", "kind": "", "group_column": None}


def task_key(spec: TaskSpec) -> dict[str, Any]:
    """What a finished task must match: the spec's fields that change what is measured."""
    d = json.loads(json.dumps(dataclasses.asdict(spec)))
    d.pop("note", None)
    return {k: v for k, v in d.items() if not (k in _LATE and v == _LATE[k])}


class FinishedTasks:
    def __init__(self, run_dir: Path, suite: Suite, checkpoint: Path, **options: Any) -> None:
        self.dir = run_dir / "eval" / "done"
        self.items_path = run_dir / "eval" / "items.jsonl"
        self.base = {
            "suite": suite.name,
            "version": suite.version,
            "checkpoint_sha256": sha256_tree(checkpoint),
            **options,
        }

    def _key(self, spec: TaskSpec) -> dict[str, Any]:
        return {**self.base, "task": task_key(spec)}

    def run(
        self, specs: Sequence[TaskSpec], run_one: Callable[[TaskSpec], Result]
    ) -> dict[str, dict[str, Any]]:
        """Each task's entry: kept from an earlier run, else ``run_one(spec)`` (then kept);
        writes every task's per-item rows to ``RUN_DIR/eval/items.jsonl`` in spec order."""
        tasks, items = {}, {}
        for spec in specs:
            hit = self.get(spec)
            if hit is None:
                hit = run_one(spec)
                self.put(spec, *hit)
            else:
                log.info("task %s: finished earlier", spec.name)
            tasks[spec.name], items[spec.name] = hit
        self.write_items(items)
        return tasks

    def get(self, spec: TaskSpec) -> Result | None:
        path = self.dir / f"{spec.name}.json"
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("key") != self._key(spec):
            return None
        return data["entry"], data["items"]

    def put(self, spec: TaskSpec, entry: dict[str, Any], items: list[dict[str, Any]]) -> None:
        write_json(
            self.dir / f"{spec.name}.json", {"key": self._key(spec), "entry": entry, "items": items}
        )

    def write_items(self, items: dict[str, list[dict[str, Any]]]) -> None:
        """Every task's per-item rows, one JSON line each, in the order given."""
        with atomic_path(self.items_path) as tmp, open(tmp, "w", encoding="utf-8") as f:
            for rows in items.values():
                for row in rows:
                    f.write(json.dumps(row) + "\n")
