"""bench verify on copies of committed entries: a clean copy passes, each edit is caught."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.leaderboard.verify import verify

REPO = Path(__file__).resolve().parent.parent
BOARD = REPO / "leaderboard"
ENTRY = "lm/xs/lm-xs-c4-s0"  # a baseline subset: its source is a bench select record
CLIP = "clip/small/clip-small-all-s0"  # the whole pool, a mean-aggregated suite
OLD = "lm/xs-suite-v3/lm-xs-c4-s0"  # a replaced suite version: read from git history


def _copy(board: Path, name: str) -> Path:
    src = BOARD / f"{name}.json"
    entry = json.loads(src.read_text())
    dest = board / f"{name}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dest)
    shutil.copy(src.parent / entry["details"]["file"], dest.parent / entry["details"]["file"])
    source = entry["subset"].get("source", "pool")
    if source != "pool":
        (board / source).parent.mkdir(exist_ok=True)
        shutil.copy(BOARD / source, board / source)
    return dest


def _edit(path: Path, change) -> None:
    entry = json.loads(path.read_text())
    change(entry)
    path.write_text(json.dumps(entry, indent=2))


def _edit_items(path: Path) -> None:
    entry = json.loads(path.read_text())
    side = path.parent / entry["details"]["file"]
    details = json.loads(gzip.decompress(side.read_bytes()))
    name, task = next(iter(entry["metrics"]["tasks"].items()))
    column = details["items"][name][task["metric"]]
    column[:] = [1.0] * len(column)
    side.write_bytes(gzip.compress(json.dumps(details).encode()))


def _set(keys: str, value):
    def change(entry):
        *head, last = keys.split(".")
        d = entry
        for k in head:
            d = d[k]
        d[last] = value

    return change


def _first_task(field: str, value):
    def change(entry):
        name = next(iter(entry["metrics"]["tasks"]))
        entry["metrics"]["tasks"][name][field] = value

    return change


CASES = [  # (id, entry, how the copy is edited, what verify says)
    (
        "headline",
        ENTRY,
        _set("metrics.headline.value", 0.99),
        "metrics.headline.value: stored 0.99",
    ),
    ("task-value", ENTRY, _first_task("value", 0.99), "value: stored 0.99, recomputed"),
    ("task-baseline", ENTRY, _first_task("random_baseline", 0.5), "random_baseline: stored 0.5"),
    ("task-tags", CLIP, _first_task("tags", []), "tags: stored []"),
    ("aggregate", CLIP, _set("metrics.aggregates.emoji.value", 0.5), "aggregates.emoji.value"),
    ("old-suite", OLD, _set("metrics.headline.value", 0.99), "headline.value: stored 0.99"),
    ("suite-version", ENTRY, _set("metrics.suite.version", "99"), "v99 is neither today's"),
    ("recipe-hash", ENTRY, _set("recipe.sha256", "0" * 64), "recipe: hash 000000000000"),
    ("seed", ENTRY, _set("seed", 7), "seed: 7, but the recipe ran seed 0"),
    (
        "subset-hash",
        ENTRY,
        _set("subset.sha256", "1" * 64),
        "is for subset de39965b055b…, not the entry",
    ),
    ("no-source", ENTRY, _set("subset.source", None), "schema violation at subset/source"),
    ("schema", ENTRY, _set("track", "audio"), "schema violation at track"),
    ("sidecar-hash", ENTRY, _set("details.sha256", "2" * 64), "does not match the sha256"),
]


@pytest.mark.parametrize("name", [ENTRY, CLIP, OLD])
def test_a_clean_copy_verifies(tmp_path, name):
    [report] = verify([_copy(tmp_path, name)], progress=False)
    assert report.problems == []


@pytest.mark.parametrize(("case", "name", "change", "said"), CASES, ids=[c[0] for c in CASES])
def test_each_edit_of_an_entry_is_caught(tmp_path, case, name, change, said):
    path = _copy(tmp_path, name)
    _edit(path, change)
    [report] = verify([path], progress=False)
    assert any(said in p for p in report.problems), report.problems


def test_an_edited_sidecar_and_a_lost_subset_record_are_caught(tmp_path, capsys):
    path = _copy(tmp_path, ENTRY)
    _edit_items(path)
    [report] = verify([path], progress=False)
    assert any("does not match the sha256 the entry records" in p for p in report.problems)
    # re-recording the sidecar's hash does not help: the numbers no longer match the items
    side = path.parent / json.loads(path.read_text())["details"]["file"]
    from benchmark.io import sha256_file

    _edit(path, _set("details.sha256", sha256_file(side)))
    [report] = verify([path], progress=False)
    assert any("recomputed" in p for p in report.problems), report.problems
    for record in (tmp_path / "subsets").iterdir():
        record.unlink()
    assert main(["verify", str(path)]) == 2
    out, err = capsys.readouterr()
    assert "is missing from the board" in out
    assert err.strip().splitlines()[-1].startswith("bench: error: 1 of 1 entries failed")


def test_cli_verifies_a_board_and_names_what_it_skipped(tmp_path, capsys):
    for name in (ENTRY, CLIP):
        _copy(tmp_path, name)
    assert main(["verify", "--board", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "verified 2 entries" in out


def test_a_board_with_one_experiment_twice_fails(tmp_path):
    first = _copy(tmp_path, ENTRY)
    second = first.with_name("lm-xs-c4-again-s0.json")
    shutil.copy(first, second)
    _edit(second, _set("name", "lm-xs-c4-again-s0"))
    reports = verify([], board=tmp_path, progress=False)
    assert [r.problems for r in reports][0] == []
    assert "the same experiment (section, subset and seed) as" in reports[1].problems[0]
