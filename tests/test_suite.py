from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from benchmark.errors import EvalError
from benchmark.evaluate.suite import Suite, aggregates, load_suite, parse_suite, rescore
from benchmark.evaluate.tasks import PLACEHOLDER, materialize_tasks
from benchmark.leaderboard.board import load_entries
from benchmark.leaderboard.entry import leaderboard_dir
from benchmark.paths import evals_dir

SUITES = sorted(evals_dir().glob("*/*.yaml"))


@pytest.mark.parametrize("path", SUITES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_suite_parses(path):
    suite = parse_suite(path)
    assert suite.tasks and suite.version
    names = [t.name for t in suite.tasks]
    assert len(names) == len(set(names))


def test_aggregates_are_centred_means_by_tag():
    suite = parse_suite(evals_dir() / "lm" / "core.yaml")
    scores = {t.name: t.random_baseline or 0.0 for t in suite.tasks}
    first = next(t for t in suite.tasks if "core" in t.tags)
    scores[first.name] = 1.0
    core = aggregates(suite, scores)["core"]
    n = core["num_tasks"]
    assert core["value"] == pytest.approx(1.0 / n)
    assert "loss" not in aggregates(suite, scores)  # no random baseline: not centred


def test_suite_rejects_unknown_keys_and_missing_headline(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            {
                "name": "x",
                "headline": "core",
                "tasks": [
                    {
                        "name": "t",
                        "metric": "acc",
                        "random_baseline": 0.5,
                        "tags": ["core"],
                        "weight": 2,
                    }
                ],
            }
        )
    )
    with pytest.raises(EvalError, match="unknown key 'weight'"):
        parse_suite(bad)
    bad.write_text(
        yaml.safe_dump(
            {
                "name": "x",
                "headline": "nope",
                "tasks": [{"name": "t", "metric": "acc", "random_baseline": 0.5, "tags": ["core"]}],
            }
        )
    )
    with pytest.raises(EvalError, match="headline tag 'nope'"):
        parse_suite(bad)


def test_materialized_tasks_point_at_absolute_data(tmp_path):
    suite = parse_suite(evals_dir() / "lm" / "core.yaml")
    data = tmp_path / "data"
    data.mkdir()
    for t in suite.tasks:
        text = (suite.task_dir / t.file).read_text()
        rel = text.split(PLACEHOLDER, 1)[1].split()[0].lstrip("/")
        (data / rel).write_text("{}\n")
    # A pool built before eval data version 2 (no record, so version 1) is refused.
    with pytest.raises(EvalError, match="needs eval data version 2, but .* holds version 1"):
        materialize_tasks(suite, data, tmp_path / "tasks0")
    (data / "eval_data.json").write_text(json.dumps({"version": suite.eval_data_version}))
    out = materialize_tasks(suite, data, tmp_path / "tasks")
    for t in suite.tasks:
        cfg = yaml.safe_load((out / Path(t.file).name).read_text())
        path = Path(cfg["dataset_kwargs"]["data_files"]["test"])
        assert path.is_absolute() and path.is_file()
        assert cfg["task"] == t.name
    (data / "cloze.jsonl").unlink()
    with pytest.raises(EvalError, match="cloze.jsonl is missing"):
        materialize_tasks(suite, data, tmp_path / "tasks2")


def test_committed_entries_at_todays_suite_version_score_as_the_suite_file_says():
    """A suite edit that changes tags or the headline without a version bump would leave
    committed entries whose numbers the suite no longer produces: silently changed eval
    numbers, the complaint DataComp and DCLM users raise most. Re-aggregating each
    committed entry under today's suite file must change nothing when the versions match."""
    suites: dict[tuple[str, str], Suite] = {}
    checked = 0
    for path, entry in load_entries(leaderboard_dir()):
        key = (entry["track"], entry["metrics"]["suite"]["name"])
        if key not in suites:
            suites[key] = load_suite(*key)
        suite = suites[key]
        if entry["metrics"]["suite"]["version"] != suite.version:
            continue  # an older version's section of the board
        again = rescore(entry["metrics"], suite)
        assert again["headline"] == entry["metrics"]["headline"], path.name
        assert again["aggregates"] == entry["metrics"]["aggregates"], path.name
        checked += 1
    assert checked, "no committed entry is at today's suite version"
