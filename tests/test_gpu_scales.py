"""The published scales' path, on the CPU: DCLM Core and DataComp's suite on stand-in data
in exactly the layout their fetch writes, read by lm-eval's and clip-benchmark's
unmodified loaders; the checks made before the first step; the rehearsals end to end."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.config import load_recipe
from benchmark.errors import EvalError
from benchmark.evaluate.data import HF_DATASETS, check, missing, require, wds_folder
from benchmark.evaluate.datacomp import class_metrics, group_metrics
from benchmark.evaluate.standin import write_standin
from benchmark.evaluate.suite import find_suite
from benchmark.preflight import PreflightError, check_devices, memory_per_device

GiB = 1024**3
NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal without a GPU")


@pytest.fixture(scope="module")
def lm_data(tmp_path_factory, bench_home) -> Path:
    return write_standin(find_suite("dclm-core"), tmp_path_factory.mktemp("dclm"))


@pytest.fixture(scope="module")
def clip_data(tmp_path_factory, bench_home) -> Path:
    return write_standin(find_suite("datacomp"), tmp_path_factory.mktemp("datacomp"))


def test_every_dclm_core_task_reads_the_fetched_layout_through_lm_eval(lm_data):
    report = check(find_suite("dclm-core"), lm_data)
    assert len(report) == 22 and not missing(report)
    assert {t.items for t in report} <= {12, 5, 4}  # shots + 2, at least 4
    arc = next(t for t in report if t.task == "arc_easy")
    assert "allenai/ai2_arc/ARC-Easy" in arc.where and arc.version == "1.0"


def test_a_task_whose_data_is_missing_is_named(lm_data, tmp_path):
    folder = shutil.copytree(lm_data, tmp_path / "copy")
    shutil.rmtree(folder / HF_DATASETS / "allenai___ai2_arc")
    bad = missing(check(find_suite("dclm-core"), folder))
    assert [t.task for t in bad] == ["arc_easy", "arc_challenge"]
    assert not bad[0].found and "allenai/ai2_arc/ARC-Easy is not in" in bad[0].error
    with pytest.raises(EvalError, match=r"eval data missing for 2 of 22 tasks .*arc_easy"):
        require(find_suite("dclm-core"), folder)


def test_every_datacomp_task_reads_datacomps_layout(clip_data):
    suite = find_suite("datacomp")
    report = check(suite, clip_data)
    assert len(report) == 38 and not missing(report)
    assert all(t.items == 4 for t in report)
    assert (clip_data / "wds_vtab-cifar100_test" / "test" / "nshards.txt").is_file()
    assert (clip_data / "wds_dollar_street_test" / "classnames.txt").is_file()  # no fairness/
    (clip_data / wds_folder(suite.tasks[0]) / "test" / "0.tar").rename(clip_data / "moved.tar")
    try:
        bad = missing(check(suite, clip_data, count=False))
        assert [t.task for t in bad] == ["vtab/caltech101"] and "no shard 0.tar" in bad[0].error
    finally:
        (clip_data / "moved.tar").rename(clip_data / wds_folder(suite.tasks[0]) / "test" / "0.tar")


def test_datacomp_suite_is_its_38_scored_tasks():
    suite = find_suite("datacomp")
    assert suite.version == "2" and len(suite.tasks) == 38
    assert all("average" in t.tags for t in suite.tasks)
    per_class = {t.name for t in suite.tasks if t.metric == "mean_per_class_recall"}
    assert per_class == {"vtab/caltech101", "fgvc_aircraft", "vtab/flowers", "vtab/pets"}
    assert sum("vtab" in t.tags for t in suite.tasks) == 13  # DataComp's VTAB group
    assert sum("imagenet_shifts" in t.tags for t in suite.tasks) == 6
    assert {t.name: t.metric for t in suite.tasks if t.group_column is not None} == {
        "wilds/fmow": "acc_worst_region",
        "fairness/dollar_street": "acc_top5_wg",
        "fairness/geode": "acc_wg",
    }


def test_datacomp_metrics_by_hand():
    y = np.array([0, 0, 0, 1, 1, 2])
    pred = np.array([0, 0, 1, 1, 0, 2])
    top5 = np.array([1, 1, 1, 1, 0, 1], dtype=bool)
    m = class_metrics(y, pred, top5, num_classes=3)
    assert m["acc1"] == pytest.approx(4 / 6)
    assert m["mean_per_class_recall"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    f1 = [2 * 2 / (2 * 2 + 1 + 1), 2 * 1 / (2 * 1 + 1 + 1), 1.0]  # per class 2PR/(P+R)
    assert m["F1-macro_all"] == pytest.approx(np.mean(f1))
    assert "acc5" not in m  # fewer than 5 classes: acc1 only, as DataComp
    groups = np.array([7, 7, 9, 9, 9, 9])
    g = group_metrics(pred == y, top5, groups)
    assert g["acc_worst_region"] == g["acc_wg"] == pytest.approx(2 / 4)
    assert g["acc_top5_wg"] == pytest.approx(3 / 4)


@pytest.mark.parametrize(
    "scale,params",
    [("400m-1x", 411_616_256), ("1b-1x", 1_439_795_200), ("7b-1x", 6_889_410_560)],
)
def test_the_memory_estimate_counts_dclms_parameters(scale, params):
    assert load_recipe("lm", scale).estimated_params() == params


def test_memory_estimate_against_the_measured_peak_and_the_devices_it_needs():
    r400 = load_recipe("lm", "400m-1x")  # measured: 37 GiB peak per H100, 8 processes
    assert 25 * GiB < memory_per_device(r400, 8, r400.estimated_params()) < 50 * GiB
    r7 = load_recipe("lm", "7b-1x")
    assert memory_per_device(r7, 1, r7.estimated_params()) > 80 * GiB  # one GPU cannot hold it
    assert memory_per_device(r7, 64, r7.estimated_params()) < 80 * GiB  # 64 with FSDP can


@NO_GPU
@pytest.mark.parametrize("track,scale", [("lm", "400m-1x"), ("clip", "datacomp-small")])
def test_a_gpu_recipe_without_a_gpu_is_refused(track, scale):
    with pytest.raises(PreflightError, match="needs CUDA GPUs"):
        check_devices(load_recipe(track, scale), 1)
    check_devices(load_recipe(track, scale, ["runtime.device=cpu"]), 1)  # a rehearsal


def _bench(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "benchmark.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=300)


@NO_GPU
def test_bench_train_refuses_before_writing_anything(bench_home, tmp_path):
    res = _bench("train", "--scale", "400m-1x", cwd=tmp_path)
    assert res.returncode == 2 and res.stderr.count("bench: error:") == 1
    assert "needs CUDA GPUs" in res.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    res = _bench("train", "--scale", "400m-1x", "runtime.device=cpu", f"eval.data_dir={empty}",
                 cwd=tmp_path)  # fmt: skip
    assert res.returncode == 2
    line = [x for x in res.stderr.splitlines() if x.startswith("bench: error:")]
    assert len(line) == 1 and "eval data missing for 22 of 22 tasks of suite dclm-core" in line[0]
    assert "bench evals fetch dclm-core --dir" in line[0]
    assert not (tmp_path / "runs").exists() and not any(empty.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("track", ["lm", "clip"])
def test_rehearsal_end_to_end(track, bench_home, tmp_path):
    """Import an external pool in its own format, train the GPU recipe shrunk on the CPU,
    evaluate every task of the published suite on stand-in data, submit (non-standard)."""
    from benchmark.leaderboard.board import load_entries
    from benchmark.rehearsal import SCALES, rehearse

    path, entry = rehearse(track, tmp_path, board=tmp_path / "board")
    assert path == tmp_path / "board" / track / SCALES[track] / f"{entry['name']}.json"
    stored = json.loads(path.read_text())
    assert (
        stored["recipe"]["standard"] is False
        and "runtime.device=cpu" in stored["recipe"]["overrides"]
    )
    suite = find_suite("dclm-core" if track == "lm" else "datacomp")
    assert stored["metrics"]["suite"] == {"name": suite.name, "version": suite.version}
    assert set(stored["metrics"]["tasks"]) == {t.name for t in suite.tasks}
    values = [t["value"] for t in stored["metrics"]["tasks"].values()]
    assert stored["metrics"]["headline"]["value"] == pytest.approx(
        np.mean([(v - t.random_baseline) / (1 - t.random_baseline) for v, t in
                 zip(values, suite.tasks, strict=True)]) if track == "lm" else np.mean(values)
    )  # fmt: skip
    on_board = load_entries(tmp_path / "board", track, SCALES[track])
    assert [e["name"] for _, e in on_board] == [entry["name"]]
