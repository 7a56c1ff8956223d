"""select → train → eval → entry on the reduced real pool, through the library and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.evaluate.suite import load_suite
from tests.conftest import TINY


@pytest.fixture(scope="module")
def two_runs(tiny_run, subset_file):
    return [tiny_run("a", 3, subset_file), tiny_run("b", 3, subset_file)]


@pytest.mark.slow
def test_entry_has_what_is_needed_to_reproduce_and_audit(two_runs, tiny_pool):
    path, entry = two_runs[0]
    assert path.name == "entry.json" and json.loads(path.read_text()) == entry
    assert entry["schema_version"] == 2 and entry["track"] == "lm" and entry["scale"] == "xs"
    assert entry["audit"]["epochs"] == entry["train"]["num_epochs"]
    assert entry["recipe"]["standard"] is False and entry["recipe"]["overrides"] == TINY
    assert entry["pool"]["fingerprint"] == tiny_pool.fingerprint
    assert entry["subset"]["num_uids"] == round(tiny_pool.num_items * 0.5)
    assert entry["compute"]["train_tokens"] == 65536 and entry["compute"]["flops"] > 0
    assert len(entry["checkpoint"]["sha256"]) == 64
    for v in ("torch", "transformers", "lm_eval", "python"):
        assert entry["versions"][v]
    tasks = entry["metrics"]["tasks"]
    assert set(tasks) == {t.name for t in load_suite("lm", "core").tasks}
    for t in tasks.values():
        assert t["n"] > 0
    assert 0 < tasks["databench_cloze"]["prob_correct"] < 1
    assert tasks["databench_heldout_bpb"]["value"] > 0
    items = (path.parent / "eval" / "items.jsonl").read_text().splitlines()
    assert len(items) == sum(t["n"] for t in tasks.values())
    log = (path.parent / "train_log.jsonl").read_text().splitlines()
    assert len(log) == entry["train"]["num_steps"]
    assert json.loads(log[-1])["loss"] < json.loads(log[0])["loss"]


@pytest.mark.slow
def test_same_subset_and_seed_give_identical_metrics(two_runs):
    (_, a), (_, b) = two_runs
    assert a["metrics"]["tasks"] == b["metrics"]["tasks"]
    assert a["metrics"]["headline"] == b["metrics"]["headline"]
    assert a["checkpoint"]["sha256"] == b["checkpoint"]["sha256"]


@pytest.mark.slow
def test_checkpoint_loads_with_transformers_auto_classes(two_runs):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    ckpt = two_runs[0][0].parent / "checkpoint"
    model = AutoModelForCausalLM.from_pretrained(str(ckpt))
    tok = AutoTokenizer.from_pretrained(str(ckpt))
    ids = tok("The word means", return_tensors="pt").input_ids
    with torch.no_grad():
        logits = model(ids).logits  # (1, T, V)
    assert logits.shape[-1] == len(tok)


@pytest.mark.slow
def test_cli_train_refuses_a_bad_subset_before_training(tiny_pool, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("0123\n")
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmark.cli",
            "train",
            "--scale",
            "xs",
            "--subset",
            str(bad),
            "--runs-dir",
            str(tmp_path / "runs"),
            *TINY,
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2 and "line 1: '0123' is not a 32-hex uid" in res.stderr
    assert not (tmp_path / "runs").exists()


def _suite_copy(tmp_path: Path, monkeypatch) -> tuple[Path, dict]:
    """A copy of the repo's evals/ and scales/ that the harness reads (BENCH_REPO); the
    LM core suite file there and its parsed content, for a test to edit."""
    import shutil

    import yaml

    from benchmark import paths

    repo = tmp_path / "repo"
    shutil.copytree(paths.evals_dir(), repo / "evals")
    shutil.copytree(paths.scales_dir(), repo / "scales")
    monkeypatch.setenv("BENCH_REPO", str(repo))
    suite_file = repo / "evals" / "lm" / "core.yaml"
    return suite_file, yaml.safe_load(suite_file.read_text())


@pytest.mark.slow
def test_rescore_follows_the_suite_file_without_the_model(two_runs, tmp_path, monkeypatch):
    import shutil

    import yaml

    from benchmark.errors import EvalError
    from benchmark.run import rescore_run

    path, entry = two_runs[0]
    run_dir = tmp_path / "run"
    shutil.copytree(path.parent, run_dir)
    assert rescore_run(run_dir) == entry["metrics"]  # today's suite: nothing changes

    suite_file, raw = _suite_copy(tmp_path, monkeypatch)
    raw["version"] = "99"
    only = raw["tasks"][0]
    for t in raw["tasks"]:
        t["tags"] = [x for x in t["tags"] if x != "core"]
    only["tags"].append("core")
    suite_file.write_text(yaml.safe_dump(raw))
    metrics = rescore_run(run_dir)
    task = entry["metrics"]["tasks"][only["name"]]
    assert metrics["suite"]["version"] == "99"
    assert metrics["headline"]["value"] == pytest.approx(task["centered"])
    assert json.loads((run_dir / "entry.json").read_text())["metrics"] == metrics

    only["metric"] = "acc_norm" if only["metric"] == "acc" else "acc"
    suite_file.write_text(yaml.safe_dump(raw))
    with pytest.raises(EvalError, match="re-run the evaluation"):
        rescore_run(run_dir)


@pytest.mark.slow
def test_reevaluation_under_a_new_suite_version_updates_the_entry(two_runs, tmp_path, monkeypatch):
    """`bench eval RUN_DIR` after a suite bump: same checkpoint and items, so the same
    per-task numbers, now under the new version, in entry.json for `bench submit`."""
    import shutil

    import yaml

    from benchmark.run import evaluate_run

    path, entry = two_runs[0]
    run_dir = tmp_path / "run"
    shutil.copytree(path.parent, run_dir)
    suite_file, raw = _suite_copy(tmp_path, monkeypatch)
    raw["version"] = "99"
    suite_file.write_text(yaml.safe_dump(raw))

    metrics = evaluate_run(run_dir)
    assert metrics["suite"]["version"] == "99"
    for name, task in entry["metrics"]["tasks"].items():
        assert metrics["tasks"][name]["value"] == pytest.approx(task["value"], abs=1e-9), name
    assert metrics["headline"]["value"] == pytest.approx(entry["metrics"]["headline"]["value"])
    updated = json.loads((run_dir / "entry.json").read_text())
    assert updated["metrics"] == metrics and updated["checkpoint"] == entry["checkpoint"]
    assert updated["compute"]["eval_seconds"] == metrics["eval_seconds"]
