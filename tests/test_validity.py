"""The studies (benchmark.studies: validity, analysis, recipe noise) on a tiny fake board."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from benchmark.errors import EntryError
from benchmark.leaderboard.board import compare, load_entries, rank
from benchmark.leaderboard.entry import load_schema
from benchmark.studies.analysis import (
    collect_methods,
    comparable,
    decision_accuracy,
    method_name,
    pooled_std,
    scale_pairs,
    signal,
)

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "leaderboard" / "lm" / "xs-suite-v3" / "lm-xs-all-s0"  # archived: fixed
TASK = "databench_cloze"

# method -> scale -> headline per seed. xs orders a > b > c, small a > c > b: 2 of 3 pairs
# agree. With the oracle no-junk (below a and b at xs, above all at small): 3 of 6.
HEADLINES = {
    "a": {"xs": [0.5, 0.7], "small": [0.8]},
    "b": {"xs": [0.4, 0.4], "small": [0.5]},
    "c": {"xs": [0.3], "small": [0.6]},
    "no-junk": {"xs": [0.35], "small": [0.9]},
}


def _write(board: Path, name: str, scale: str, seed: int, value: float, minute: int) -> dict:
    entry = json.loads(TEMPLATE.with_suffix(".json").read_text())
    entry = copy.deepcopy(entry)
    entry.update(name=name, scale=scale, seed=seed, created=f"2030-01-01T00:{minute:02d}:00Z")
    entry["recipe"]["sha256"] = hashlib.sha256(scale.encode()).hexdigest()  # one per scale
    entry["metrics"]["headline"]["value"] = value
    entry["metrics"]["tasks"][TASK]["value"] = value / 2
    entry["details"]["file"] = f"{name}.details.json.gz"
    method = name.split("-", 2)[2].rsplit("-s", 1)[0]  # lm-xs-no-junk-s0 -> no-junk
    entry["subset"]["method"] = {"name": method, "options": {}, "label": method}
    out = board / "lm" / scale
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(TEMPLATE.with_suffix(".details.json.gz"), out / entry["details"]["file"])
    (out / f"{name}.json").write_text(json.dumps(entry, indent=2))
    return entry


@pytest.fixture
def board(tmp_path: Path) -> Path:
    board = tmp_path / "leaderboard"
    minute = 0
    for method, scales in HEADLINES.items():
        for scale, values in scales.items():
            for seed, value in enumerate(values):
                minute += 1
                _write(board, f"lm-{scale}-{method}-s{seed}", scale, seed, value, minute)
    other = _write(board, "lm-xs-d-s0", "xs", 0, 0.99, 59)  # another suite version: skipped
    other["metrics"]["suite"]["version"] = "99"
    (board / "lm" / "xs" / "lm-xs-d-s0.json").write_text(json.dumps(other))
    return board


def test_fake_entries_follow_the_schema(board):
    schema = load_schema()
    for _, entry in load_entries(board):
        jsonschema.validate(entry, schema)


def test_pooled_std_signal_and_decision_accuracy():
    assert pooled_std([[0.5, 0.7], [0.4, 0.4], [0.3]]) == pytest.approx(0.1)
    assert pooled_std([[0.3], [0.4]]) is None
    s = signal([[0.5, 0.7], [0.4, 0.4], [0.3]])
    assert (s.spread, s.ratio, s.meets_bar) == (pytest.approx(0.3), pytest.approx(3.0), False)
    acc = decision_accuracy({"a": 0.6, "b": 0.4, "c": 0.3}, {"a": 0.8, "b": 0.5, "c": 0.6, "d": 1})
    assert (acc.num_pairs, acc.num_agree) == (3, 2)
    assert acc.accuracy == pytest.approx(2 / 3)
    [d] = acc.disagreements
    assert (d.a, d.b, d.gap_small, d.gap_large) == (
        "b",
        "c",
        pytest.approx(0.1),
        pytest.approx(-0.1),
    )
    assert decision_accuracy({"a": 1.0}, {"a": 2.0}).accuracy is None
    assert acc.resolved.num_pairs == 0  # no noise given: no pair counts as resolved
    # b - c's gap (0.1) is within twice its noise (√(0.01² + 0.1²)); the others are not
    small, large = {"a": 0.6, "b": 0.4, "c": 0.3}, {"a": 0.8, "b": 0.5, "c": 0.6}
    acc = decision_accuracy(small, large, {"a": 0.01, "b": 0.01, "c": 0.1})
    assert [(d.a, d.b) for d in acc.resolved.pairs] == [("a", "b"), ("a", "c")]
    assert (acc.accuracy, acc.resolved.accuracy) == (pytest.approx(2 / 3), 1.0)
    assert acc.resolved_both.num_pairs == 0  # no noise at the larger scale given
    assert acc.flip_causes() == {"small": 1, "large": 0, "wrong": 0}  # b - c: within noise
    # at the larger scale a - c's gap (0.2) is within twice √(0.01² + 0.2²): unresolved there
    acc = decision_accuracy(
        small, large, {"a": 0.01, "b": 0.01, "c": 0.1}, {"a": 0.01, "b": 0.01, "c": 0.2}
    )
    assert [(d.a, d.b) for d in acc.resolved_both.pairs] == [("a", "b")]
    # c above a and b at the larger scale: both its pairs flip, resolved at both (wrong calls)
    tight = {"a": 0.01, "b": 0.01, "c": 0.01}
    acc = decision_accuracy(small, {**large, "c": 0.9}, tight, tight)
    assert acc.flip_causes() == {"small": 0, "large": 0, "wrong": 2}
    # ... unless c's noise at the larger scale covers both gaps (0.1 and 0.4 < 2 x 0.2)
    acc = decision_accuracy(small, {**large, "c": 0.9}, tight, {**tight, "c": 0.2})
    assert acc.flip_causes() == {"small": 0, "large": 2, "wrong": 0}
    assert scale_pairs("lm", ["medium", "xs", "small"]) == [("xs", "small"), ("small", "medium")]
    assert scale_pairs("clip", ["xs", "medium", "huge"]) == [("xs", "medium")]


def test_methods_are_grouped_and_incomparable_entries_skipped(board):
    methods, skipped = collect_methods(load_entries(board))
    assert [(m.scale, m.name, m.seeds) for m in methods if m.scale == "xs"] == [
        ("xs", "a", [0, 1]),
        ("xs", "b", [0, 1]),
        ("xs", "c", [0]),
        ("xs", "no-junk", [0]),
    ]
    assert [m.name for m in methods if m.oracle] == ["no-junk", "no-junk"]
    assert len(skipped) == 1 and skipped[0].startswith("lm-xs-d-s0.json: suite/pool")
    assert method_name({"subset": {"method": None}}) is None


def test_an_entry_records_the_method_that_made_its_subset(tmp_path):
    from benchmark.io import write_json
    from benchmark.select.registry import meta_path, subset_method

    file = tmp_path / "oracle.txt"
    meta = {"method": "sources", "options": {"qualities": ["junk"], "exclude": True}}
    write_json(meta_path(file), {**meta, "pool": {"fingerprint": "f"}, "num_selected": 7})
    method = subset_method(str(file), 7)
    assert method == {"name": "sources", "options": meta["options"], "label": "no-junk"}
    assert method_name({"subset": {"method": method}}) == "no-junk"
    assert subset_method(str(file), 8) is None  # the file changed since bench select wrote it
    assert subset_method(str(tmp_path / "other.txt"), 7) is None  # another tool wrote it
    assert subset_method(None, 100)["label"] == "all"


def test_each_scale_keeps_its_own_suite_version(board):
    """A board moving to a new suite version: every small entry re-evaluated at v99 while
    xs stays at today's; both scales are kept, and xs still skips its lone v99 entry."""
    for path in (board / "lm" / "small").glob("*-s?.json"):
        entry = json.loads(path.read_text())
        entry["metrics"]["suite"]["version"] = "99"
        path.write_text(json.dumps(entry))
    methods, skipped = collect_methods(load_entries(board))
    versions = {(m.scale, e["metrics"]["suite"]["version"]) for m in methods for e in m.entries}
    today = json.loads(TEMPLATE.with_suffix(".json").read_text())["metrics"]["suite"]["version"]
    assert versions == {("xs", today), ("small", "99")}
    assert len([m for m in methods if m.scale == "small"]) == 4
    assert len(skipped) == 1 and skipped[0].startswith("lm-xs-d-s0.json: suite/pool")


def test_a_scale_is_studied_under_todays_suite_version_once_that_has_entries(board):
    """Two xs entries re-run under today's evals/lm/core.yaml, four still at an old
    version: the two are studied even though the old version has more entries."""
    from benchmark.evaluate.suite import load_suite

    today = load_suite("lm", "core").version
    for path in (board / "lm" / "xs").glob("*.json"):
        entry = json.loads(path.read_text())
        if entry["name"] != "lm-xs-d-s0":
            new = entry["name"] in ("lm-xs-a-s0", "lm-xs-b-s0")
            entry["metrics"]["suite"]["version"] = today if new else "old"
            path.write_text(json.dumps(entry))
    methods, skipped = collect_methods(load_entries(board))
    assert [(m.name, m.seeds) for m in methods if m.scale == "xs"] == [("a", [0]), ("b", [0])]
    assert sum("not today's evals/lm/core.yaml" in s for s in skipped) == 5


def test_script_writes_the_page_and_plot(board, tmp_path):
    from benchmark.studies import validity as script

    out, plot = tmp_path / "docs" / "validity.md", tmp_path / "docs" / "validity.png"
    argv = ["--leaderboard", str(board), "--out", str(out), "--plot", str(plot)]
    script.main([*argv, "--num-bootstrap", "5"])
    md = out.read_text()
    assert "newest created 2030-01-01T00:59:00Z" in md
    assert "| a | 2 (0, 1) | 0.6000 ± 0.1414 |" in md
    assert "| no-junk (oracle) | 1 (0) | 0.3500 ± n/a |" in md
    assert "all methods (4): pooled seed std 0.1000, spread 0.3000, spread / seed std 3.0" in md
    assert "| lm | xs → small | 6 | 3 | 0.50 | 3 | 0.67 |" in md
    # without oracles, pooled xs std 0.1: a - c (0.3 > 2 √(0.1²/2 + 0.1²)) is resolved; a - b
    # (0.2, noise √(0.1²/2 + 0.1²/2) = 0.1) sits on the bar and b - c (0.1) is below it
    assert "| lm | xs → small | 6 | 3 | 0.50 | 3 | 0.67 | 1 | 1.00 |" in md
    assert "`b` − `c` is +0.1000 (noise 0.1225) at xs, -0.1000 at small" in md
    # with the oracle, 3 of 6 flip: b - c and b - no-junk within xs's noise (0.1225 each);
    # a - no-junk (0.25 > 2 x 0.1225) resolved at xs, and small has no noise to judge it by
    assert (
        "- lm xs → small: 3 of 6 pairs flip: 2 within xs's seed noise, 1 resolved at xs; "
        "small's seed noise is unknown" in md
    )
    # per task: the fake task is half the headline, so it ranks the same
    assert "| headline | 0.67 (3) |" in md and f"| {TASK} | 0.67 (3) |" in md
    # the task's values are half the headlines: same ratio, half the std
    assert f"| {TASK} | acc | yes | 0.0500 | 0.1500 | 3.0 |" in md
    assert "- lm-xs-d-s0.json: suite/pool" in md
    assert plot.read_bytes()[:4] == b"\x89PNG"
    script.main([*argv, "--num-bootstrap", "5"])
    assert out.read_text() == md  # regeneration is reproducible


def test_entries_trained_in_another_precision_are_never_ranked_or_compared_together(tmp_path):
    board = tmp_path / "leaderboard"
    _write(board, "lm-xs-a-s0", "xs", 0, 0.5, 0)
    _write(board, "lm-xs-a-s1", "xs", 1, 0.6, 1)
    other = _write(board, "lm-xs-b-s0", "xs", 0, 0.4, 2)
    other["compute"]["precision"] = "bf16"  # an auto recipe on hardware with native bf16
    bf16 = board / "lm" / "xs" / "lm-xs-b-s0.json"
    bf16.write_text(json.dumps(other, indent=2))
    sections = rank(load_entries(board), num_bootstrap=50)
    assert sorted(key[-1] for key, _ in sections) == ["bf16", "fp32"]
    with pytest.raises(EntryError, match=r"differ in precision \(fp32 vs bf16\)"):
        compare(board / "lm" / "xs" / "lm-xs-a-s0.json", bf16)
    kept, skipped = comparable(load_entries(board))
    assert [e["name"] for _, e in kept] == ["lm-xs-a-s0", "lm-xs-a-s1"]
    assert len(skipped) == 1 and skipped[0].startswith("lm-xs-b-s0.json: suite/pool/precision")


def test_a_scale_is_studied_under_its_committed_recipe_once_that_has_entries(board):
    """A recipe change: the old recipe's entries are the majority at small, but the one
    method retrained under today's scales/lm/small.yaml is what the study keeps there.
    xs has no entry of today's recipe, so it keeps its majority."""
    from benchmark.config import load_recipe

    today = load_recipe("lm", "small").sha256
    for path in (board / "lm" / "small").glob("lm-small-c-s?.json"):
        entry = json.loads(path.read_text())
        entry["recipe"]["sha256"] = today
        path.write_text(json.dumps(entry))
    methods, skipped = collect_methods(load_entries(board))
    assert [m.name for m in methods if m.scale == "small"] == ["c"]
    assert len([m for m in methods if m.scale == "xs"]) == 4
    old = [s for s in skipped if "is not today's scales/lm/small.yaml" in s]
    assert sorted(s.split(".json")[0] for s in old) == [
        "lm-small-a-s0",
        "lm-small-b-s0",
        "lm-small-no-junk-s0",
    ]


def test_leaderboard_marks_a_section_whose_recipe_was_since_replaced(tmp_path, capsys):
    from benchmark.cli import main
    from benchmark.config import load_recipe

    board = tmp_path / "leaderboard"
    _write(board, "lm-xs-a-s0", "xs", 0, 0.5, 0)  # a recipe hash scales/ does not give
    today = _write(board, "lm-xs-b-s0", "xs", 0, 0.4, 1)
    today["recipe"]["sha256"] = load_recipe("lm", "xs", today["recipe"]["overrides"]).sha256
    (board / "lm" / "xs" / "lm-xs-b-s0.json").write_text(json.dumps(today))
    assert main(["leaderboard", "--board", str(board), "--json"]) == 0
    sections = json.loads(capsys.readouterr().out)
    assert sorted((s["recipe_current"], s["ranking"][0]["name"]) for s in sections) == [
        (False, "lm-xs-a-s0"),
        (True, "lm-xs-b-s0"),
    ]
    assert main(["leaderboard", "--board", str(board)]) == 0
    headers = [x for x in capsys.readouterr().out.splitlines() if x.startswith("lm / xs")]
    assert sorted("since replaced in scales/lm/xs.yaml" in h for h in headers) == [False, True]


def test_leaderboard_marks_a_section_scored_with_an_older_suite_version(tmp_path, capsys):
    from benchmark.cli import main
    from benchmark.evaluate.suite import load_suite

    board = tmp_path / "leaderboard"
    for name, version, minute in (("lm-xs-a-s0", "old", 0), ("lm-xs-b-s0", None, 1)):
        entry = _write(board, name, "xs", 0, 0.5, minute)
        entry["metrics"]["suite"]["version"] = version or load_suite("lm", "core").version
        (board / "lm" / "xs" / f"{name}.json").write_text(json.dumps(entry))
    assert main(["leaderboard", "--board", str(board), "--json"]) == 0
    sections = json.loads(capsys.readouterr().out)
    assert sorted((s["suite_current"], s["ranking"][0]["name"]) for s in sections) == [
        (False, "lm-xs-a-s0"),
        (True, "lm-xs-b-s0"),
    ]
    assert main(["leaderboard", "--board", str(board)]) == 0
    headers = [x for x in capsys.readouterr().out.splitlines() if x.startswith("lm / xs")]
    assert sorted("suite since changed in evals/lm/core.yaml" in h for h in headers) == [
        False,
        True,
    ]


def test_recipe_noise_summarises_each_arm_from_finished_runs(tmp_path, monkeypatch):
    from benchmark.studies import recipe_noise as script

    runs = tmp_path / "runs"
    for arm, headlines in {
        "calm": {"a": [0.5, 0.52], "b": [0.4, 0.42]},
        "wild": {"a": [0.5, 0.7]},
    }.items():
        for method, values in headlines.items():
            for seed, value in enumerate(values):
                entry = json.loads(TEMPLATE.with_suffix(".json").read_text())
                entry.update(name=f"lm-small-{method}-s{seed}", scale="small", seed=seed)
                entry["subset"]["method"] = {"name": method, "options": {}, "label": method}
                entry["metrics"]["headline"]["value"] = value
                entry["recipe"]["overrides"] = ["optim.lr=1e-3", "runtime.precision=fp32"]
                (runs / arm / entry["name"]).mkdir(parents=True)
                (runs / arm / entry["name"] / "entry.json").write_text(json.dumps(entry))
    rows = script.finished_rows(runs, "small")
    assert sorted((r["arm"], r["method"], r["seed"]) for r in rows)[:2] == [
        ("calm", "a", 0),
        ("calm", "a", 1),
    ]
    calm = script.summarise([r for r in rows if r["arm"] == "calm"], "headline")
    assert calm["pooled_std"] == pytest.approx(0.02 / 2**0.5)
    assert calm["spread"] == pytest.approx(0.1) and calm["ratio"] == pytest.approx(
        0.1 / 0.01414, rel=1e-3
    )
    wild = script.summarise([r for r in rows if r["arm"] == "wild"], "headline")
    assert wild["spread"] is None and wild["ratio"] is None  # one method: no spread
    out = tmp_path / "docs" / "recipe_noise"
    out.parent.mkdir()
    script.write(rows, "small", out)
    md = out.with_suffix(".md").read_text()
    assert "## calm: optim.lr=1e-3" in md and "ratio **7.1**" in md
    assert "| b | 2 | 0.4100 ± 0.0141 |" in md
    assert json.loads(out.with_suffix(".json").read_text())["summary"]["calm"]["headline"]["spread"]
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


def test_recipe_noise_reads_a_clip_arm_with_its_training_loss(tmp_path):
    from benchmark.studies import recipe_noise as script

    runs = tmp_path / "runs"
    for track, loss in (("clip", 4.4), ("clip", 4.2), ("lm", 3.0)):
        seed = len(list(runs.glob(f"lr/{track}-medium-all-s*")))
        entry = json.loads(TEMPLATE.with_suffix(".json").read_text())
        entry.update(name=f"{track}-medium-all-s{seed}", track=track, scale="medium", seed=seed)
        entry["subset"]["method"] = {"name": "all", "options": {}, "label": "all"}
        entry["train"]["final_loss"] = loss
        entry["recipe"]["overrides"] = ["optim.lr=1e-3"]
        (runs / "lr" / entry["name"]).mkdir(parents=True)
        (runs / "lr" / entry["name"] / "entry.json").write_text(json.dumps(entry))
    rows = script.finished_rows(runs, "medium", "clip")
    assert sorted(r["final_loss"] for r in rows) == [4.2, 4.4]  # the LM run is not CLIP's
    out = tmp_path / "recipe_noise_clip"
    script.write(rows, "medium", out, "clip")
    md = out.with_suffix(".md").read_text()
    assert "# Recipe noise study (clip / medium)" in md
    assert "| all | 2 | " in md and "| 4.300 ± 0.141 |" in md
    assert json.loads(out.with_suffix(".json").read_text())["track"] == "clip"
