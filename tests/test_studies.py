"""The studies' own steps (benchmark.studies): subsets made once, finished entries skipped."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from benchmark.errors import BenchError, SubsetError
from benchmark.studies import junk, selection
from benchmark.studies.composition import load_trained_subset
from benchmark.subset import load_subset

REPO = Path(__file__).resolve().parent.parent


def test_a_study_subset_is_made_once_with_the_studys_options(tiny_pool, tmp_path, monkeypatch):
    assert selection.subset_for("lm", "all", tiny_pool, tmp_path, tmp_path) is None
    path = selection.subset_for("lm", "random", tiny_pool, tmp_path, tmp_path)
    meta = json.loads(Path(f"{path}.meta.json").read_text())
    assert meta["method"] == "random" and meta["options"]["fraction"] == 0.5
    rows = load_subset(path, tiny_pool).rows
    assert abs(len(rows) - tiny_pool.num_items / 2) <= 1

    def no_reselect(*args, **kwargs):
        raise AssertionError("a made subset is selected again")

    monkeypatch.setattr(selection, "select", no_reselect)
    assert selection.subset_for("lm", "random", tiny_pool, tmp_path, tmp_path) == path


def test_a_study_subset_without_its_provenance_is_refused(tiny_pool, tmp_path):
    path = selection.subset_for("lm", "random", tiny_pool, tmp_path, tmp_path)
    Path(f"{path}.meta.json").unlink()  # a copied uid file: its entries would name no method
    with pytest.raises(BenchError, match=re.escape(f"has no {path.name}.meta.json")):
        selection.subset_for("lm", "random", tiny_pool, tmp_path, tmp_path)


def test_junk_variants_split_the_pool_by_its_quality_labels(tiny_pool, tmp_path):
    no_junk = load_subset(junk.subset_for("no-junk", tiny_pool, tmp_path), tiny_pool).rows
    only = load_subset(junk.subset_for("junk-only", tiny_pool, tmp_path), tiny_pool).rows
    assert len(no_junk) and len(only)
    assert not set(no_junk) & set(only)
    assert len(no_junk) + len(only) == tiny_pool.num_items


@pytest.mark.parametrize("module", [junk, selection])
def test_a_studys_precision_reaches_every_run_it_trains(module, tiny_pool, tmp_path, monkeypatch):
    seen = []

    def record(track, scale, name, subset, seed, runs_dir, overrides=()):
        seen.append(overrides)
        return {"metrics": {"headline": {"value": 0.5 + 0.1 * len(seen)}}}

    monkeypatch.setattr(module, "ensure_pool", lambda spec: tiny_pool)
    monkeypatch.setattr(module, "ensure_entry", record)
    args = ["--track", "lm", "--seeds", "0,1", "--subsets-dir", str(tmp_path)]
    if module is selection:
        args += ["--methods", "all,random"]
    for flag, want in ((["--precision", "fp32"], ("runtime.precision=fp32",)), ([], ())):
        seen.clear()
        monkeypatch.setattr("sys.argv", ["study", *args, *flag])
        module.main()
        assert len(seen) >= 4 and all(o == want for o in seen)


@pytest.mark.parametrize("where", ["board", "run"])
def test_a_finished_entry_is_never_trained_again(where, tmp_path, monkeypatch):
    committed = REPO / "leaderboard/lm/xs/lm-xs-all-s0.json"
    board, runs = tmp_path / "board", tmp_path / "runs"
    monkeypatch.setattr(selection, "leaderboard_dir", lambda: board)

    def no_training(**kwargs):
        raise AssertionError("a finished run is trained again")

    submitted = []
    monkeypatch.setattr(selection, "run_train", no_training)
    monkeypatch.setattr(selection, "submit", lambda run_dir, replace: submitted.append(run_dir))
    dest = (
        board / "lm/xs/lm-xs-all-s0.json" if where == "board" else runs / "lm-xs-all-s0/entry.json"
    )
    dest.parent.mkdir(parents=True)
    dest.write_text(committed.read_text())
    if where == "run":  # a finished run not yet submitted: submit it, as the fake does
        monkeypatch.setattr(
            selection,
            "submit",
            lambda run_dir, replace: (
                submitted.append(run_dir)
                or (board / "lm/xs").mkdir(parents=True)
                or (board / "lm/xs/lm-xs-all-s0.json").write_text(committed.read_text())
            ),
        )
    entry = selection.ensure_entry("lm", "xs", "lm-xs-all-s0", None, 0, runs)
    assert entry["metrics"]["headline"] == json.loads(committed.read_text())["metrics"]["headline"]
    assert submitted == ([] if where == "board" else [runs / "lm-xs-all-s0"])


def test_subset_composition_refuses_a_file_the_board_did_not_train_on(tiny_pool, tmp_path):
    path = selection.subset_for("lm", "random", tiny_pool, tmp_path, tmp_path)
    subset = load_subset(path, tiny_pool)
    kept = load_trained_subset(path, tiny_pool, "random", {subset.sha256})
    assert len(kept.rows) == len(subset.rows)
    unchecked = load_trained_subset(path, tiny_pool, "random", set())  # not on the board
    assert len(unchecked.rows) > 0
    with pytest.raises(SubsetError, match="not the subset the board's `random` entries trained on"):
        load_trained_subset(path, tiny_pool, "random", {"0" * 64})


def test_a_fresh_clone_trains_the_scorer_the_board_already_has(tmp_path, monkeypatch, caplog):
    committed = REPO / "leaderboard/clip/xs/clip-xs-all-s0.json"
    board, runs = tmp_path / "board", tmp_path / "runs"
    (board / "clip/xs").mkdir(parents=True)
    (board / "clip/xs/clip-xs-all-s0.json").write_text(committed.read_text())
    monkeypatch.setattr(selection, "leaderboard_dir", lambda: board)
    monkeypatch.setattr(selection, "submit", lambda run_dir, replace: None)
    trained = []

    def train(name, runs_dir, **kwargs):  # a retrained scorer that scores a little lower
        trained.append(name)
        entry = json.loads(committed.read_text())
        entry["metrics"]["headline"]["value"] -= 0.01
        (runs_dir / name).mkdir(parents=True)
        (runs_dir / name / "entry.json").write_text(json.dumps(entry))

    monkeypatch.setattr(selection, "run_train", train)
    assert selection.ensure_scorer("clip", runs) == runs / "clip-xs-all-s0"
    assert trained == ["clip-xs-all-s0"]
    assert "its clip-score subset will not be the board's" in caplog.text
    selection.ensure_scorer("clip", runs)  # the run is there now: not trained again
    assert trained == ["clip-xs-all-s0"]
