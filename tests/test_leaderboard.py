"""submit → leaderboard → compare → report on tiny real runs."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from benchmark.errors import EntryError
from benchmark.leaderboard import stats
from benchmark.leaderboard.board import compare, load_entries, rank
from benchmark.leaderboard.entry import load_schema
from benchmark.leaderboard.report import write_report
from benchmark.leaderboard.submit import submit

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs(tiny_run, subset_file, junk_file):
    return {
        "s3": tiny_run("a", 3, subset_file)[0].parent,
        "s4": tiny_run("c", 4, subset_file)[0].parent,
        "junk": tiny_run("junk", 3, junk_file)[0].parent,
    }


@pytest.fixture(scope="module")
def board(runs, tmp_path_factory):
    board = tmp_path_factory.mktemp("board")
    shutil.copy(REPO / "leaderboard" / "schema.json", board / "schema.json")
    for run in runs.values():
        submit(run, allow_nonstandard=True, board=board)
    return board


def test_schema_is_valid_and_committed_entries_follow_it():
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    for path in sorted((REPO / "leaderboard").glob("*/*/*.json")):
        jsonschema.validate(json.loads(path.read_text()), schema)


def test_submit_copies_entry_and_details_and_refuses_duplicates(runs, board):
    entries = load_entries(board)
    assert len(entries) == 3
    path, entry = entries[0]
    jsonschema.validate(entry, load_schema())
    assert (path.parent / entry["details"]["file"]).is_file()
    with pytest.raises(EntryError, match="exists; .*--replace"):
        submit(runs["s3"], allow_nonstandard=True, board=board)
    assert submit(runs["s3"], allow_nonstandard=True, board=board, replace=True).is_file()


def test_a_repeated_experiment_under_another_name_is_refused(runs, tmp_path):
    board = tmp_path / "board"
    first = submit(runs["s4"], allow_nonstandard=True, board=board)
    again = tmp_path / "again"
    shutil.copytree(runs["s4"], again)
    entry = json.loads((again / "entry.json").read_text())
    entry["name"] = "same-subset-same-seed"
    (again / "entry.json").write_text(json.dumps(entry))
    with pytest.raises(EntryError, match=rf"{first.stem} already holds this experiment .*seed 4"):
        submit(again, allow_nonstandard=True, board=board)
    new = submit(again, allow_nonstandard=True, board=board, replace=True)  # supersedes
    assert [p.name for p in sorted(new.parent.glob("*.json"))] == [new.name]
    assert not list(new.parent.glob(f"{first.stem}.*"))


def test_submit_refuses_nonstandard_and_tampered_runs(runs, tmp_path):
    with pytest.raises(EntryError, match="non-standard"):
        submit(runs["s3"], board=tmp_path)
    bad = tmp_path / "run"
    shutil.copytree(runs["s4"], bad)
    (bad / "checkpoint" / "config.json").write_text("{}")
    with pytest.raises(EntryError, match="checkpoint"):
        submit(bad, allow_nonstandard=True, board=tmp_path)
    entry = json.loads((bad / "entry.json").read_text())
    entry["subset"]["sha256"] = "0" * 64
    (bad / "entry.json").write_text(json.dumps(entry))
    with pytest.raises(EntryError, match="subset hash"):
        submit(bad, allow_nonstandard=True, board=tmp_path)
    (bad / "entry.json").write_text('{"schema_version": 1}')
    with pytest.raises(EntryError, match="schema violation"):
        submit(bad, allow_nonstandard=True, board=tmp_path)


def _submit_one(args: tuple[str, str]) -> str:
    run, board = args
    return str(submit(Path(run), allow_nonstandard=True, board=Path(board)))


def test_eight_concurrent_submits_leave_eight_valid_files(runs, tmp_path):
    board = tmp_path / "board"
    dirs = []
    for i in range(8):
        d = tmp_path / f"r{i}"
        shutil.copytree(runs["s4"], d)
        entry = json.loads((d / "entry.json").read_text())
        entry["name"] = f"concurrent-{i}"
        entry["seed"] = 100 + i  # eight experiments, not one repeated (which is refused)
        (d / "entry.json").write_text(json.dumps(entry))
        dirs.append((str(d), str(board)))
    with multiprocessing.get_context("spawn").Pool(8) as workers:
        paths = workers.map(_submit_one, dirs)
    assert len(set(paths)) == 8
    files = sorted((board / "lm" / "xs").iterdir())
    assert len([f for f in files if f.suffix == ".json"]) == 8
    assert not [f for f in files if f.name.endswith(".tmp")]
    for f in files:
        if f.suffix == ".json":
            jsonschema.validate(json.loads(f.read_text()), load_schema())


def test_seeds_group_and_rank_with_intervals(board):
    ((key, groups),) = rank(load_entries(board))
    assert key[0:2] == ("lm", "xs")
    assert len(groups) == 2  # the random subset (two seeds) and the junk subset
    random = next(g for g in groups if len(g.entries) == 2)
    assert random.seeds == [3, 4]
    for g in groups:
        assert g.interval[0] <= g.mean <= g.interval[1]


def test_compare_same_entry_is_no_difference_and_cli_prints_a_verdict(board):
    path = next(p for p, e in load_entries(board) if e["name"] == "a")
    res = compare(path, path)
    assert res["headline"]["difference"] == 0
    assert res["verdict"] == "no detectable difference"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmark.cli",
            "compare",
            str(path),
            str(path),
            "--board",
            str(board),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "verdict: no detectable difference" in out.stdout


def test_paired_bootstrap_detects_a_real_gap_and_not_noise():
    rng = np.random.default_rng(0)

    def items(p: float, seeds: int = 2) -> list[stats.TaskItems]:
        vals = (rng.random((seeds, 400)) < p).astype(float)
        return [stats.TaskItems("t", "acc", 0.25, True, vals, None)]

    good, bad, same = items(0.6), items(0.4), items(0.6)
    diff = stats.paired_difference(good, bad, {"t"}, num=500)
    assert stats.verdict(*diff["headline"]["interval"]) == "A better"
    diff = stats.paired_difference(bad, good, {"t"}, num=500)
    assert stats.verdict(*diff["headline"]["interval"]) == "B better"
    diff = stats.paired_difference(good, same, {"t"}, num=500)
    assert stats.verdict(*diff["headline"]["interval"]) == "no detectable difference"


def test_report_page_escapes_and_renders_in_chromium(board, tmp_path):
    entry_path = next(p for p, e in load_entries(board) if e["name"] == "junk")
    entry = json.loads(entry_path.read_text())
    entry["compute"]["device"] = "<script>alert(1)</script>"
    entry_path.write_text(json.dumps(entry))
    page = write_report(board, tmp_path / "report", num_bootstrap=200)
    text = page.read_text()
    assert "<script>" not in text
    assert "lm / xs" in text and "junk" in text
    pngs = sorted(p.name for p in page.parent.glob("*.png"))
    assert len(pngs) == 3
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    dom = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "databench leaderboard" in dom.stdout and "<table>" in dom.stdout
    assert all(f'src="{p}"' in dom.stdout for p in pngs)


def test_submit_refuses_edited_numbers_and_its_board_verifies(runs, board, tmp_path):
    from benchmark.leaderboard.verify import verify

    bad = tmp_path / "run"
    shutil.copytree(runs["s4"], bad)
    entry = json.loads((bad / "entry.json").read_text())
    entry["metrics"]["headline"]["value"] = 0.99
    for task in entry["metrics"]["tasks"].values():
        task["value"] = 0.99
    (bad / "entry.json").write_text(json.dumps(entry))
    with pytest.raises(EntryError, match=r"metrics\.tasks\.\S+\.value: stored 0.99, recomputed"):
        submit(bad, allow_nonstandard=True, board=tmp_path / "other")
    assert not list((tmp_path / "other").glob("*/*/*.json"))
    # what submit stored regenerates every subset: `bench select` remakes it on the pool
    labels = sorted(e["subset"]["method"]["label"] for _, e in load_entries(board))
    assert labels == ["junk-only", "random", "random"]  # from each subset's .meta.json
    sources = {e["subset"]["source"] for _, e in load_entries(board)}
    assert len(sources) == 2 and all(s.endswith(".json") for s in sources)
    reports = verify([], board=board, pools=True, progress=False)
    assert len(reports) == 3 and [r.problems for r in reports] == [[], [], []]


def test_verify_checkpoint_re_evaluates_the_model(runs, board):
    from benchmark.leaderboard.verify import verify

    [entry] = [p for p, e in load_entries(board) if e["name"] == "c"]
    [report] = verify([entry], checkpoint=runs["s4"], progress=False)
    assert report.problems == []
    [report] = verify([entry], checkpoint=runs["s3"], progress=False)
    assert report.problems == [
        f"checkpoint: {runs['s3'] / 'checkpoint'} is not the entry's checkpoint (sha256 differs)"
    ]
