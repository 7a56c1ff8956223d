"""A suite's lm-eval task files: copied into a run with their data path filled in, and the
task manager that indexes them.

The task YAMLs name their local data as ``__EVAL_DATA__/<file>.jsonl``; the copy in
``RUN_DIR/eval/tasks/`` has the placeholder replaced by the data folder's absolute path
(lm-eval resolves relative ``data_files`` against the working directory). The LM runner,
the eval-data checks and the stand-in data all index tasks through :func:`task_manager`.
"""

from __future__ import annotations

from pathlib import Path

from benchmark.errors import EvalError
from benchmark.evaluate.suite import Suite

PLACEHOLDER = "__EVAL_DATA__"


def materialize_tasks(suite: Suite, data_dir: Path, out_dir: Path) -> Path:
    """Copy the suite's task YAMLs to ``out_dir`` with the data path filled in."""
    check_data_version(suite, data_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for task in suite.tasks:
        if not task.file:
            continue
        text = (suite.task_dir / task.file).read_text(encoding="utf-8")
        # a fetched folder's files are checked with the rest of its data (evaluate.data)
        for rel in placeholder_paths(text) if suite.data == "pool" else []:
            if not (data_dir / rel).is_file():
                raise EvalError(
                    f"task {task.name}: data file {data_dir / rel} is missing; "
                    "rebuild the pool with `bench pool build --force`"
                )
        (out_dir / Path(task.file).name).write_text(
            text.replace(PLACEHOLDER, str(data_dir.resolve())), encoding="utf-8"
        )
    return out_dir


def placeholder_paths(text: str) -> list[str]:
    """The data files a task YAML names under ``__EVAL_DATA__``, relative to the data."""
    return [
        line.split(PLACEHOLDER, 1)[1].strip().strip("\"'").lstrip("/")
        for line in text.splitlines()
        if PLACEHOLDER in line
    ]


def task_manager(suite: Suite, data_dir: Path, task_dir: Path):
    """lm-eval's task manager for ``suite``: its own task files (materialised into
    ``task_dir``), plus lm-eval's registry when some task comes from it (indexing the
    registry takes a few seconds, so a suite of local task files skips it)."""
    from lm_eval.tasks import TaskManager

    materialize_tasks(suite, data_dir, task_dir)
    registry = any(not t.file for t in suite.tasks)
    return TaskManager(include_path=str(task_dir), include_defaults=registry)


def check_data_version(suite: Suite, data_dir: Path) -> None:
    """Fail when the pool's eval data is not the version the suite's task files need
    (:func:`benchmark.pool.format.eval_data_version`)."""
    if suite.eval_data_version is None:
        return
    from benchmark.pool.format import eval_data_version

    found = eval_data_version(data_dir)
    if found != suite.eval_data_version:
        raise EvalError(
            f"suite {suite.name} v{suite.version} needs eval data version "
            f"{suite.eval_data_version}, but {data_dir} holds version {found}: rebuild the pool "
            f"with `bench pool build {data_dir.parent.name} --force` (its documents and "
            "fingerprint do not change; an imported pool: import it again with --evals-from)"
        )
