"""`bench subset audit`: planted contamination is found, a clean subset reports none, and the
repetition figures are the trainer's own."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from benchmark.audit import audit
from benchmark.config import load_recipe, read_recipe
from benchmark.evaluate.suite import load_suite
from benchmark.pool.importers.external import import_external
from benchmark.subset import load_subset, whole_pool, write_uids
from tests.test_pool_external import make_datacomp, make_dclm

PLANTED = 40  # eval items planted in each test pool


@pytest.fixture(scope="module")
def planted_text(tiny_pool, tmp_path_factory):
    return make_planted_text(tiny_pool, tmp_path_factory.mktemp("planted-text"), "planted-text")


def make_planted_text(tiny_pool, root, name):
    """A DCLM-format pool of prose plus 40 documents that quote the cloze task's items, with
    the reduced text pool's eval data; the pool and the planted items."""
    items = [json.loads(x) for x in (tiny_pool.evals_dir / "cloze.jsonl").read_text().splitlines()]
    rng = np.random.default_rng(0)
    chosen = sorted(rng.choice(len(items), size=PLANTED, replace=False).tolist())
    filler = "the river ran past the mill and the town slept under the snow"
    texts = [f"{filler} {k} and on" for k in range(200)]
    texts += [f"Found on a forum: {items[i]['context']} -- and so on." for i in chosen]
    src = make_dclm(root, texts)
    pool = import_external(name, "dclm", src, evals_from=tiny_pool.name)
    return pool, chosen


def _lm_audit(pool, subset, scale="xs"):
    recipe = load_recipe("lm", scale)
    suite = load_suite("lm", recipe.eval.suite)
    return audit(pool, subset, recipe, suite, pool.evals_dir)


def test_planted_eval_items_are_found_with_the_uids_responsible(planted_text):
    pool, chosen = planted_text
    report = _lm_audit(pool, whole_pool(pool))
    cloze = report["contamination"]["databench_cloze"]
    lines = (pool.evals_dir / "cloze.jsonl").read_text().splitlines()
    assert cloze["checked"] and cloze["items"] == len(lines)
    assert cloze["found"] >= PLANTED  # every planted item (recall 1.0), and any they echo
    planted = pool.read_table(["uid", "text"]).to_pylist()
    quoting = sorted(r["uid"] for r in planted if r["text"].startswith("Found on a forum"))
    assert cloze["num_subset_uids"] == PLANTED
    assert sorted(cloze["subset_uids"]) == quoting[:20] or set(cloze["subset_uids"]) <= set(quoting)
    assert report["contamination"]["databench_wordnet_define"]["found"] == 0


def test_a_clean_subset_reports_no_contamination(planted_text, tmp_path):
    pool, _ = planted_text
    rows = pool.read_table(["uid", "text"]).to_pylist()
    clean = np.array([r["uid"] for r in rows if not r["text"].startswith("Found")], dtype="S32")
    write_uids(tmp_path / "clean.txt", clean)
    report = _lm_audit(pool, load_subset(tmp_path / "clean.txt", pool))
    assert all(c["found"] == 0 for c in report["contamination"].values() if c["checked"])


def test_repetition_is_the_trainers_epoch_count(tiny_pool, tiny_run, subset_file):
    path, entry = tiny_run("audit-a", 0, subset_file)
    recipe = read_recipe(path.parent / "recipe.yaml")
    suite = load_suite("lm", recipe.eval.suite)
    subset = load_subset(subset_file, tiny_pool)
    rep = audit(tiny_pool, subset, recipe, suite, tiny_pool.evals_dir)["repetition"]
    assert rep["epochs"] == entry["train"]["num_epochs"] and rep["epochs"] >= 1
    assert rep["num_unique"] == subset.num_unique and rep["budget_unit"] == "tokens"


def test_a_run_restarted_under_another_recipe_audits_again(tiny_pool, subset_file, tmp_path):
    """A run folder holding another recipe's audit of the same subset (a run killed, its
    recipe changed, then run again) gets a new audit: the entry's repetition is this run's."""
    from benchmark.run import run_train
    from tests.conftest import TINY

    subset = load_subset(subset_file, tiny_pool)
    small = load_recipe("lm", "small", ["pool=text-default-reduced"])
    stale = audit(tiny_pool, subset, small, load_suite("lm", small.eval.suite), tiny_pool.evals_dir)
    run_dir = tmp_path / "runs" / "restarted"
    run_dir.mkdir(parents=True)
    key = {"recipe_sha256": small.sha256, "seed": 0, "pool_fingerprint": tiny_pool.fingerprint,
           "subset_sha256": subset.sha256}  # fmt: skip
    (run_dir / "audit.json").write_text(json.dumps({**stale, "run_key": key}))
    _, entry = run_train(track="lm", scale="xs", subset_file=subset_file, seed=0, name="restarted",
                         overrides=TINY, runs_dir=tmp_path / "runs", wandb_mode="disabled",
                         progress=False)  # fmt: skip
    assert entry["audit"]["epochs"] == entry["train"]["num_epochs"]
    assert entry["audit"]["views"] != stale["repetition"]["views"]
    kept = json.loads((run_dir / "audit.json").read_text())
    assert kept["run_key"]["recipe_sha256"] == entry["recipe"]["sha256"] != small.sha256


def test_planted_eval_images_are_found_by_pixels_or_hash(tiny_image_pool, tmp_path_factory):
    pool = make_planted_image(tiny_image_pool, tmp_path_factory.mktemp("planted-image"), "planted")
    recipe = load_recipe("clip", "xs")
    suite = load_suite("clip", recipe.eval.suite)
    report = audit(pool, whole_pool(pool), recipe, suite, pool.evals_dir)
    photos = report["contamination"]["fashion_mnist"]
    assert photos["checked"] and photos["found"] >= PLANTED
    assert report["repetition"]["budget_unit"] == "samples"


def make_planted_image(tiny_image_pool, root, name):
    """A DataComp-format pool whose extra shard holds 40 Fashion-MNIST eval images as they are."""
    import webdataset as wds
    from PIL import Image

    images = np.load(tiny_image_pool.evals_dir / "fashion_mnist" / "images.npy")[:PLANTED]
    src = make_datacomp(root)
    with wds.TarWriter(str(src / "shards" / "00000099.tar")) as sink:
        for i, im in enumerate(images):
            buf = io.BytesIO()
            Image.fromarray(im).save(buf, format="PNG")  # lossless: the same pixels
            uid = f"{i:032x}"
            sink.write({"__key__": f"p{i:05d}", "png": buf.getvalue(),
                        "json": json.dumps({"uid": uid}), "txt": "a picture"})  # fmt: skip
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = pq.read_table(src / "metadata.parquet")
    extra = pa.table({"uid": [f"{i:032x}" for i in range(PLANTED)], "text": ["x"] * PLANTED,
                      "clip_l14_similarity_score": [0.5] * PLANTED})  # fmt: skip
    pq.write_table(pa.concat_tables([meta, extra]), src / "metadata.parquet")
    return import_external(
        name, "datacomp", src, image_sizes=(32,), evals_from=tiny_image_pool.name
    )


def test_cli_prints_the_audit_and_its_json(planted_text, tmp_path, capsys):
    from benchmark.cli import main

    pool, _ = planted_text
    uids = np.asarray(pool.uids)
    write_uids(tmp_path / "all.txt", uids)
    assert main(["subset", "audit", str(tmp_path / "all.txt"), "--pool", pool.name,
                 "--scale", "xs"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "databench_cloze" in out and f"{PLANTED} uids" in out
    both = [str(tmp_path / "all.txt"), "--against", str(tmp_path / "all.txt")]
    assert main(["subset", "audit", *both, "--pool", pool.name, "--scale", "xs", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    diffs = [v["difference"] for k, part in report["composition"].items()
             if k not in ("reference", "labels") for v in part.values()]  # fmt: skip
    assert diffs and all(d == 0 for d in diffs)  # a subset against itself
    assert Path(report["subset"]["file"]).name == "all.txt"


def _board_with_an_audit(tmp_path: Path, share: float) -> Path:
    repo = Path(__file__).resolve().parent.parent / "leaderboard" / "lm" / "xs"
    board = tmp_path / "board"
    (board / "lm" / "xs").mkdir(parents=True)
    for name in ("lm-xs-all-s0", "lm-xs-c4-s0"):
        entry = json.loads((repo / f"{name}.json").read_text())
        if name.endswith("c4-s0"):
            entry["schema_version"] = 2
            entry["audit"] = {
                "contamination": {"databench_cloze": {"found": round(2000 * share), "items": 2000}},
                "max_share": share, "epochs": 1, "views": 0.5, "num_repeated": 0,
            }  # fmt: skip
        (board / "lm" / "xs" / f"{name}.json").write_text(json.dumps(entry))
        details = repo / f"{name}.details.json.gz"
        (board / "lm" / "xs" / details.name).write_bytes(details.read_bytes())
    return board


@pytest.mark.parametrize("share,flagged", [(0.05, True), (0.002, False)])
def test_the_board_flags_an_entry_over_its_suites_contamination_threshold(share, flagged, tmp_path):
    from benchmark.leaderboard.tables import board_rows, format_board

    rows = board_rows(_board_with_an_audit(tmp_path, share), "lm", "xs")
    by_name = {g["name"]: g for s in rows for g in s["ranking"]}
    assert by_name["lm-xs-c4-s0"]["contamination"] == share
    assert by_name["lm-xs-c4-s0"]["flagged"] is flagged
    assert by_name["lm-xs-all-s0"]["contamination"] is None
    text = format_board(rows)
    assert (f"{share:.1%} !" in text) is flagged and "not audited" in text
    assert ("more of a task's eval items than its suite allows" in text) is flagged


def test_the_report_page_shows_the_audits_and_flags_the_entry(tmp_path):
    from benchmark.leaderboard.report import write_report

    page = write_report(_board_with_an_audit(tmp_path, 0.05), tmp_path / "report", num_bootstrap=50)
    text = page.read_text()
    assert "Subset audits" in text and "<td>100/2000</td>" in text
    assert "5.0% (over the suite's threshold)" in text and "not audited" in text


def test_compare_shows_both_sides_audits(tmp_path):
    from benchmark.leaderboard.board import compare
    from benchmark.leaderboard.tables import format_compare

    board = _board_with_an_audit(tmp_path, 0.05)
    xs = board / "lm" / "xs"
    res = compare(xs / "lm-xs-c4-s0.json", xs / "lm-xs-all-s0.json", board=board, num_bootstrap=50)
    text = format_compare(res)
    assert "audit A: eval items held up to 5.0% (most: databench_cloze, 100/2000)" in text
    assert "audit B: not recorded" in text
