"""A killed run re-run with the same arguments resumes and ends as an uninterrupted one.

The slow tests kill ``bench train`` with SIGKILL (its whole process group) once during
training and once during evaluation, re-run it, and compare the entry with that of an
uninterrupted run: every metric, the final loss, the loss curve and the checkpoint hash
must be identical. The LM track evaluates a two-task suite here (a copy of the repo's
``evals/`` with one more suite file) to keep the test short.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import TINY
from tests.test_clip import TINY_CLIP

QUICK_SUITE = {
    "name": "quick",
    "version": "1",
    "track": "lm",
    "headline": "core",
    "description": "two core tasks, for the resume tests",
    "tasks": [
        {
            "name": "databench_cloze",
            "file": "tasks/cloze.yaml",
            "metric": "acc",
            "random_baseline": 0.25,
            "tags": ["core"],
        },
        {
            "name": "databench_word_order",
            "file": "tasks/word_order.yaml",
            "metric": "acc",
            "random_baseline": 0.5,
            "tags": ["core"],
        },
    ],
}
RECIPE = {  # 8 and 12 steps, a resume checkpoint every 2
    "lm": [*TINY, "data.train_tokens=32768", "eval.suite=quick", "runtime.checkpoint_every=2"],
    "clip": [*TINY_CLIP, "runtime.checkpoint_every=2"],  # 12 steps
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """The repo's scales/ and evals/ plus the two-task LM suite, for ``$BENCH_REPO``."""
    from benchmark import paths

    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(paths.scales_dir(), root / "scales")
    shutil.copytree(paths.evals_dir(), root / "evals")
    (root / "evals" / "lm" / "quick.yaml").write_text(yaml.safe_dump(QUICK_SUITE))
    return root


def bench_train(track: str, runs: Path, name: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "benchmark.cli",
        "train",
        "--track",
        track,
        "--scale",
        "xs",
        "--name",
        name,
        "--runs-dir",
        str(runs),
        "--wandb",
        "disabled",
        "--no-progress",
        *RECIPE[track],
    ]


def kill_when(cmd: list[str], env: dict, ready, timeout: float = 600) -> None:
    """Run ``cmd`` and SIGKILL its process group as soon as ``ready()`` holds."""
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    t_end = time.time() + timeout
    while not ready():
        assert proc.poll() is None, "the run ended before the kill"
        assert time.time() < t_end, "the run never got to the kill point"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def losses(run_dir: Path) -> list[float]:
    return [json.loads(x)["loss"] for x in (run_dir / "train_log.jsonl").read_text().splitlines()]


def num_rows(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.is_file() else 0


@pytest.mark.slow
@pytest.mark.parametrize("track", ["lm", "clip"])
def test_a_run_killed_in_training_and_in_evaluation_ends_as_an_uninterrupted_one(
    track, tiny_pool, tiny_image_pool, repo, tmp_path
):
    env = {**os.environ, "BENCH_REPO": str(repo), "WANDB_SILENT": "true"}
    ref = subprocess.run(bench_train(track, tmp_path, "ref"), env=env, capture_output=True)
    assert ref.returncode == 0, ref.stderr.decode()[-3000:]

    run_dir = tmp_path / "killed"
    cmd = bench_train(track, tmp_path, "killed")
    # killed in training, past the step-4 checkpoint: rows 5+ are logged again on resume
    kill_when(cmd, env, lambda: num_rows(run_dir / "train_log.jsonl") >= 5)
    assert (run_dir / "resume.pt").is_file() and not (run_dir / "entry.json").exists()
    # re-run: resumes training; killed again once the first eval task is done
    done = run_dir / "eval" / "done"
    kill_when(cmd, env, lambda: done.is_dir() and any(done.glob("*.json")))
    assert (run_dir / "train_result.json").is_file() and not (run_dir / "resume.pt").exists()
    finished_first = {p.stem for p in done.glob("*.json")}
    # re-run: skips training and the finished tasks
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "trained earlier: evaluating" in res.stderr
    for task in finished_first:
        assert f"task {task}: finished earlier" in res.stderr

    a = json.loads((tmp_path / "ref" / "entry.json").read_text())
    b = json.loads((run_dir / "entry.json").read_text())
    assert b["metrics"]["tasks"] == a["metrics"]["tasks"]
    assert b["metrics"]["headline"] == a["metrics"]["headline"]
    assert b["train"]["final_loss"] == a["train"]["final_loss"]
    assert b["checkpoint"]["sha256"] == a["checkpoint"]["sha256"]
    assert losses(run_dir) == losses(tmp_path / "ref")  # no row lost or repeated
    steps = [json.loads(x)["step"] for x in (run_dir / "train_log.jsonl").read_text().splitlines()]
    assert steps == list(range(1, len(steps) + 1))
    items = (run_dir / "eval" / "items.jsonl").read_text()
    assert items == (tmp_path / "ref" / "eval" / "items.jsonl").read_text()


def test_cadence_checkpoints_every_n_steps_never_after_the_last():
    from benchmark.train.resume import AUTO_MIN_SECONDS, Cadence

    every = Cadence(3, 10)
    assert [s for s in range(1, 11) if every.due(s)] == [3, 6, 9]
    auto = Cadence(0, 100)
    assert not any(auto.due(s) for s in range(1, 101))  # a short run: none
    auto.last -= AUTO_MIN_SECONDS
    assert [s for s in range(1, 101) if auto.due(s)] == [5]  # then at most once per interval


def test_the_log_keeps_its_rows_up_to_the_resumed_step(tmp_path):
    from benchmark.train.common import MetricsSink

    def sink(start_step: int) -> MetricsSink:
        return MetricsSink(
            tmp_path, mode="disabled", project="p", name="n", config={}, start_step=start_step
        )

    first = sink(0)
    for step in range(1, 6):
        first.log({"step": step, "loss": float(step)})
    first.close()
    with open(tmp_path / "train_log.jsonl", "a") as f:
        f.write('{"step": 6, "lo')  # cut short by the kill
    again = sink(3)
    for step in range(4, 8):
        again.log({"step": step, "loss": 10.0 + step})
    again.close()
    rows = [json.loads(x) for x in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 8))
    assert [r["loss"] for r in rows] == [1.0, 2.0, 3.0, 14.0, 15.0, 16.0, 17.0]


def test_wandb_resumes_the_same_run(tmp_path, monkeypatch):
    from benchmark.train.common import MetricsSink

    monkeypatch.setenv("WANDB_SILENT", "true")
    ids = []
    for start in (0, 2):
        sink = MetricsSink(
            tmp_path, mode="offline", project="p", name="n", config={}, start_step=start
        )
        sink.log({"step": start + 1, "loss": 1.0})
        ids.append(sink._wandb.id)
        sink.close()
    assert ids[0] == ids[1] == (tmp_path / "wandb_id.txt").read_text().strip()


def test_a_resume_state_of_another_run_is_refused(tmp_path):
    import torch

    from benchmark.errors import BenchError
    from benchmark.train.resume import TrainState, load_state, save_state

    def parts(seed: int = 0):
        torch.manual_seed(seed)
        model = torch.nn.Linear(3, 2)
        opt = torch.optim.AdamW(model.parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
        return model, opt, sched

    key = {"recipe_sha256": "a", "seed": 0}
    model, opt, sched = parts()
    model(torch.ones(4, 3)).sum().backward()
    opt.step()
    sched.step()
    save_state(tmp_path, key, model, opt, sched, TrainState(1, [2.5], 3.0))
    fresh, fresh_opt, fresh_sched = parts(seed=1)
    state = load_state(tmp_path, key, fresh, fresh_opt, fresh_sched)
    assert (state.step, state.losses, state.elapsed_s) == (1, [2.5], 3.0)
    torch.testing.assert_close(fresh.weight, model.weight, rtol=0, atol=0)
    assert fresh_opt.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]
    assert fresh_sched.last_epoch == sched.last_epoch
    with pytest.raises(BenchError, match="another recipe, seed, pool or subset"):
        load_state(tmp_path, {**key, "seed": 1}, *parts())
    assert load_state(tmp_path / "empty", key, *parts()).step == 0


def test_a_finished_task_is_reused_only_for_the_same_checkpoint_and_task(tmp_path):
    import dataclasses

    from benchmark.evaluate.resume import FinishedTasks
    from benchmark.evaluate.suite import load_suite

    suite = load_suite("lm", "core")
    spec = suite.tasks[0]
    ckpt = tmp_path / "checkpoint"
    ckpt.mkdir()
    (ckpt / "w").write_text("1")
    FinishedTasks(tmp_path, suite, ckpt).put(spec, {"value": 0.5}, [{"doc_id": 0}])
    assert FinishedTasks(tmp_path, suite, ckpt).get(spec) == ({"value": 0.5}, [{"doc_id": 0}])
    assert FinishedTasks(tmp_path, suite, ckpt).get(suite.tasks[1]) is None
    changed = dataclasses.replace(spec, metric="acc_norm" if spec.metric == "acc" else "acc")
    assert FinishedTasks(tmp_path, suite, ckpt).get(changed) is None
    assert FinishedTasks(tmp_path, suite, ckpt, limit=5).get(spec) is None
    (ckpt / "w").write_text("2")
    assert FinishedTasks(tmp_path, suite, ckpt).get(spec) is None


def test_runtime_fields_are_free_and_need_no_plus():
    from benchmark.config import load_recipe
    from benchmark.errors import RecipeError

    base = load_recipe("lm", "xs")
    r = load_recipe("lm", "xs", ["runtime.parallel=fsdp", "runtime.checkpoint_every=5"])
    assert (r.runtime.parallel, r.runtime.checkpoint_every) == ("fsdp", 5)
    assert r.standard and r.sha256 == base.sha256
    with pytest.raises(RecipeError, match="runtime.parallel 'tp' is not one of ddp, fsdp"):
        load_recipe("lm", "xs", ["runtime.parallel=tp"])


def test_the_micro_batch_shrinks_to_a_process_share():
    from benchmark.errors import RecipeError
    from benchmark.train.common import accumulation

    assert accumulation(32, 32, 1) == (32, 1)
    assert accumulation(32, 8, 1) == (8, 4)
    assert accumulation(32, 8, 2) == (8, 2)
    assert accumulation(32, 32, 2) == (16, 1)
    with pytest.raises(RecipeError, match="not divisible"):
        accumulation(32, 12, 2)
