from __future__ import annotations

import json

import numpy as np
import pytest

from benchmark.errors import PoolError
from benchmark.io import sha256_file
from benchmark.paths import download_cache
from benchmark.pool.format import make_uid
from benchmark.pool.store import Pool, open_pool
from benchmark.pool.text.build import build_text_default
from tests.conftest import MAX_DOCS


def test_pool_is_sorted_indexed_and_fingerprinted(tiny_pool):
    uids = np.asarray(tiny_pool.uids)
    assert len(uids) == tiny_pool.num_items > 100
    assert (uids[1:] > uids[:-1]).all()  # sorted, no repeats
    table = tiny_pool.read_table(["uid", "text", "source", "locator"])
    assert table.column("uid").to_pylist() == [u.decode() for u in uids.tolist()]
    row = table.slice(7, 1).to_pylist()[0]
    assert make_uid(row["source"], row["locator"], row["text"]) == row["uid"]
    assert len(tiny_pool.offsets) == tiny_pool.num_items + 1
    assert tiny_pool.offsets[-1] == len(tiny_pool.tokens) == tiny_pool.manifest["num_tokens"]
    tok = tiny_pool.load_tokenizer()
    first = tiny_pool.tokens[tiny_pool.offsets[7] : tiny_pool.offsets[8]].tolist()
    assert tok.decode(first) == row["text"]


def test_manifest_records_sources_and_a_clean_eval_split(tiny_pool):
    m = tiny_pool.manifest
    qualities = {s["quality"] for s in m["sources"]}
    assert qualities == {"good", "reference", "junk"}
    for s in m["sources"]:
        assert s["version"] and len(s["sha256"]) == 64 and s["licence"]
    assert m["evals"]["contaminated_items_13gram"] == 0
    for name, count in m["evals"]["items"].items():
        lines = (tiny_pool.evals_dir / name).read_text().splitlines()
        assert len(lines) == count > 0
        json.loads(lines[0])


def test_lookup_finds_members_and_flags_strangers(tiny_pool):
    uids = np.asarray(tiny_pool.uids)
    probe = np.array([uids[5], b"f" * 32, uids[0]], dtype="S32")
    assert tiny_pool.lookup(probe).tolist() == [5, -1, 0]


def test_missing_pool_says_how_to_build_it(bench_home):
    with pytest.raises(PoolError, match="bench pool build nope"):
        open_pool("nope")


@pytest.mark.slow
def test_two_builds_give_the_same_fingerprint_tokenizer_and_tokens(tiny_pool, tmp_path):
    m = build_text_default(tmp_path / "again", download_cache(), max_docs_per_source=MAX_DOCS)
    again = Pool(tmp_path / "again")
    assert m["fingerprint"] == tiny_pool.fingerprint
    assert np.array_equal(np.asarray(again.tokens), np.asarray(tiny_pool.tokens))
    for name in ("tokenizer/tokenizer.json", "evals/cloze.jsonl", "evals/wordnet_define.jsonl"):
        assert sha256_file(again.root / name) == sha256_file(tiny_pool.root / name)
