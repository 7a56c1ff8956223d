"""The LM eval suites: DCLM Core's names resolve in lm-eval, and the embedded eval data
built with the pool is deterministic, well formed and disjoint from the pool."""

from __future__ import annotations

import itertools
import json
import os
import random
from pathlib import Path

from benchmark.evaluate.suite import parse_suite
from benchmark.paths import evals_dir
from benchmark.pool import textmeta
from benchmark.pool.text.evals import build_text_evals
from benchmark.pool.text.prose import (
    PREPOSITIONS,
    agreement_items,
    closed_class_items,
    word_order_items,
)

CANARY = "canary"  # BIG-bench and friends mark their data with a "canary GUID" string


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


DCLM_CORE = {  # DCLM's 22 Core labels and few-shot counts (eval/additional_aggregation.json)
    "hellaswag_zeroshot": 0, "jeopardy": 10, "bigbench_qa_wikidata": 10, "arc_easy": 10,
    "arc_challenge": 10, "copa": 0, "commonsense_qa": 10, "piqa": 10, "openbook_qa": 0,
    "lambada_openai": 0, "hellaswag": 10, "winograd": 0, "winogrande": 0,
    "bigbench_dyck_languages": 10, "agi_eval_lsat_ar": 3, "bigbench_cs_algorithms": 10,
    "bigbench_operators": 10, "bigbench_repeat_copy_logic": 10, "squad": 10, "coqa": 0,
    "boolq": 10, "bigbench_language_identification": 10,
}  # fmt: skip


def test_dclm_core_is_dclms_22_tasks_and_each_resolves_in_lm_eval():
    from lm_eval.tasks import TaskManager

    suite = parse_suite(evals_dir() / "lm" / "dclm-core.yaml")
    assert {t.name: t.num_fewshot for t in suite.tasks} == DCLM_CORE
    assert all("core" in t.tags and t.random_baseline is not None for t in suite.tasks)
    own = suite.task_dir / "tasks" / "dclm"
    index = TaskManager(include_path=str(own)).all_tasks  # the registry and our files
    missing = [t.runs for t in suite.tasks if t.runs not in index]
    assert not missing, f"not in lm-eval's registry nor our task files: {missing}"
    assert {t.name for t in suite.tasks if t.file} == {
        "jeopardy",
        "squad",
        "coqa",
        "agi_eval_lsat_ar",
    }


def test_core_suite_files_and_baselines():
    suite = parse_suite(evals_dir() / "lm" / "core.yaml")
    assert suite.version == "4" and suite.eval_data_version == "2"
    core = [t for t in suite.tasks if "core" in t.tags]
    scored = [t for t in suite.tasks if "extended" in t.tags]
    assert len(suite.tasks) >= 8 and len(scored) >= 7 and 4 <= len(core) < len(scored)
    assert {t.name for t in core} <= {t.name for t in scored}
    for t in scored:
        assert t.random_baseline in (0.25, 0.5), t.name  # 1 / number of choices


def test_pool_evals_are_well_formed_and_disjoint_from_the_pool(tiny_pool):
    suite = parse_suite(evals_dir() / "lm" / "core.yaml")
    counts = json.loads((tiny_pool.root / "manifest.json").read_text())["evals"]
    assert counts["contaminated_items_13gram"] == 0
    pool_texts = tiny_pool.read_table(["text"]).column("text").to_pylist()
    for name, num in counts["items"].items():
        rows = _rows(tiny_pool.evals_dir / name)
        assert len(rows) == num
        assert len({r["id"] for r in rows}) == len(rows), name
        for r in rows:
            assert CANARY not in json.dumps(r).lower()
            if "choices" in r:
                assert 0 <= r["label"] < len(r["choices"])
                assert len(set(r["choices"])) == len(r["choices"]), r["id"]
        texts = [r.get("context") or r.get("text") or "" for r in rows]
        assert not any(textmeta.overlapping(texts, pool_texts, n=13)), name
        long = [t for t in texts if len(t.split()) >= 13]
        assert not any(t in p for t in long for p in pool_texts), name
    for t in suite.tasks:  # every task of the suite has its data file
        text = (suite.task_dir / t.file).read_text()
        data = text.split("__EVAL_DATA__/", 1)[1].split()[0]
        assert data in counts["items"], t.name
    assert all(0 < k <= 2000 for k in counts["items"].values()), counts["items"]
    record = json.loads((tiny_pool.evals_dir / "eval_data.json").read_text())
    assert record == {"version": suite.eval_data_version, "items": counts["items"]}


def test_eval_builders_are_deterministic_given_the_seed(tiny_pool, tmp_path):
    passages = [r["text"] for r in _rows(tiny_pool.evals_dir / "heldout_text.jsonl")]
    cache = Path(os.environ["BENCH_DOWNLOAD_CACHE"])
    outs = {}
    for run, seed in (("a", 0), ("b", 0), ("c", 1)):
        counts, fetched = build_text_evals(tmp_path / run, passages, cache, seed=seed)
        outs[run] = {n: (tmp_path / run / n).read_bytes() for n in counts}
    assert outs["a"] == outs["b"]
    assert outs["a"]["prepositions.jsonl"] != outs["c"]["prepositions.jsonl"]
    assert [f.package for f in fetched] == ["wordnet-base"]


def test_word_order_items_swap_two_adjacent_words():
    passage = " ".join("".join(p) for p in itertools.product("abcdefgh", repeat=3))
    items = word_order_items([passage], random.Random(0))
    assert len(items) == 1
    good, bad = (items[0]["choices"][i] for i in (items[0]["label"], 1 - items[0]["label"]))
    assert good in passage and bad not in passage and sorted(good.split()) == sorted(bad.split())
    assert items[0]["context"] + " " + good in passage


def test_agreement_and_closed_class_items_keep_the_passages_own_word():
    passage = " ".join(f"the dog{i} with a cat was here and it is fine by me" for i in range(9))
    for items in (
        agreement_items([passage], random.Random(0)),
        closed_class_items([passage], random.Random(0), PREPOSITIONS, "preposition"),
    ):
        assert len(items) == 1
        item = items[0]
        gold = item["choices"][item["label"]]
        assert item["context"] + " " + gold + " " in passage
        assert len(set(item["choices"])) == len(item["choices"]) in (2, 4)


def test_dclm_mmlu_is_the_57_subjects_macro_averaged():
    from lm_eval.tasks import TaskManager

    suite = parse_suite(evals_dir() / "lm" / "dclm-mmlu.yaml")
    assert len(suite.tasks) == 57 and suite.aggregate == "mean" and suite.data == "folder"
    assert {t.num_fewshot for t in suite.tasks} == {5} and all(t.file is None for t in suite.tasks)
    index = TaskManager().all_tasks
    assert [t.name for t in suite.tasks if t.name not in index] == []
