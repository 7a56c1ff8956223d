"""Selection methods: the rules on hand-made texts, and every method on the reduced pools."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from benchmark.errors import BenchError
from benchmark.select import METHODS, select
from benchmark.select import text as T
from benchmark.select.reference import passages
from benchmark.subset import read_uids

PROSE = (
    "The committee met on a grey morning to weigh the proposal. Its members read the "
    "report with care, and they asked the authors to explain how the figures had been "
    "gathered. After a long debate they agreed that the plan was sound, but that it "
    "needed a clearer budget and a timetable that the town could keep. "
) * 2


def test_gopher_rules_keep_prose_and_name_what_they_drop():
    assert T.gopher_quality_reason(PROSE) is None
    assert T.gopher_repetition_reason(PROSE.split(". ")[0] + ".") is None
    assert T.gopher_quality_reason("too short to count as a page") == "word count"
    assert T.gopher_quality_reason("# " * 60 + PROSE) == "symbol-to-word ratio"
    assert (
        T.gopher_quality_reason("\n".join(["- the committee agreed with the plan"] * 60))
        == "bullet lines"
    )
    numbers = " ".join(str(i) for i in range(80))
    assert T.gopher_quality_reason(numbers) in {"mean word length", "alphabetic words"}
    # PROSE is its first half twice: most of its 5-grams are duplicated
    assert T.gopher_repetition_reason(PROSE) is not None
    assert T.gopher_repetition_reason("\n".join(["same line here"] * 10)) == "duplicate lines"


def test_c4_rules():
    assert T.c4_reason(PROSE) is None
    assert T.c4_reason(PROSE + " int main() { return 0; }") == "contains '{'"
    assert T.c4_reason("Lorem ipsum dolor sit amet. " + PROSE) == "contains 'lorem ipsum'"
    menu = "\n\n".join(["Home", "About us", "Contact", "Shop now"] * 10)
    assert T.c4_reason(menu + "\n\nOne sentence here is fine.") == "lines C4 would remove"
    assert T.c4_reason("One short sentence with five words.") == "too few sentences"
    # a chunk cut mid-sentence is judged without its trailing fragment
    assert T.c4_reason(PROSE + "and then the chunk stops in the middle of") is None


def test_language_detection():
    assert T.detect_language(PROSE)[0] == "en"
    french = "Le comité s'est réuni un matin gris pour examiner la proposition du maire."
    assert T.detect_language(french * 3)[0] == "fr"
    assert T.detect_language("\x00\x01")[0] == "un"


def test_shingles_and_top_fraction():
    assert T.shingles("A b c", 5) == {b"a b c"}
    assert len(T.shingles("one two three four five six", 5)) == 2
    scores = np.array([0.1, 0.9, 0.5, 0.9, 0.2])
    assert T.top_fraction(scores, 0.4).tolist() == [1, 3]
    assert T.top_fraction(scores, 0.01).tolist() == [1]  # at least one; ties by row


def test_reference_passages_are_cut_at_paragraphs():
    text = "\n\n".join(["word " * 90] * 5)
    cut = passages(text, words=200)
    assert [len(p.split()) for p in cut] == [270, 180]


@pytest.mark.parametrize(
    "method,options",
    [("exact-dedup", {}), ("minhash-dedup", {"threshold": 0.5}), ("gopher", {}), ("c4", {}),
     ("langid", {}), ("fasttext", {"fraction": 0.2})],
)  # fmt: skip
def test_text_methods_on_the_reduced_pool(tiny_pool, tmp_path, method, options):
    out = tmp_path / f"{method}.txt"
    n = select(method, tiny_pool, out, **options)
    uids = read_uids(out)
    assert len(uids) == n and 0 < n <= tiny_pool.num_items
    assert len(np.unique(uids)) == n
    meta = json.loads(out.with_name(out.name + ".meta.json").read_text())
    assert meta["method"] == method and meta["pool"]["fingerprint"] == tiny_pool.fingerprint
    again = tmp_path / "again.txt"
    select(method, tiny_pool, again, **options)
    assert again.read_bytes() == out.read_bytes()  # deterministic


def test_text_methods_drop_what_they_should(tiny_pool, tmp_path):
    table = tiny_pool.read_table(["text", "source"]).to_pydict()

    def kept(name: str) -> list[int]:
        return tiny_pool.lookup(read_uids(tmp_path / name)).tolist()

    norm = [T.normalise(t) for t in table["text"]]
    n_distinct = len(set(norm))
    assert select("exact-dedup", tiny_pool, tmp_path / "d.txt") == n_distinct
    assert len({norm[r] for r in kept("d.txt")}) == n_distinct
    # near-dedup keeps at most what exact dedup keeps
    assert select("minhash-dedup", tiny_pool, tmp_path / "m.txt") <= n_distinct
    select("gopher", tiny_pool, tmp_path / "g.txt")
    sources = np.asarray(table["source"])
    share = {s: np.isin(np.flatnonzero(sources == s), kept("g.txt")).mean() for s in
             ("tweets", "fortunes", "sotu", "austen")}  # fmt: skip
    assert share["tweets"] < 0.05 and share["fortunes"] < 0.2  # too short
    assert share["sotu"] > 0.8 and share["austen"] > 0.8
    select("langid", tiny_pool, tmp_path / "l.txt")
    dropped = set(range(len(norm))) - set(kept("l.txt"))
    assert {table["source"][r] for r in dropped} >= {"handbook-i18n"}
    assert "sotu" not in {table["source"][r] for r in dropped}


def test_select_errors(tiny_pool, tmp_path):
    with pytest.raises(BenchError, match="no option 'thresh'"):
        select("minhash-dedup", tiny_pool, tmp_path / "x.txt", thresh=0.5)
    with pytest.raises(BenchError, match="unknown selection method"):
        select("nope", tiny_pool, tmp_path / "x.txt")
    with pytest.raises(BenchError, match="fraction"):
        select("random", tiny_pool, tmp_path / "x.txt", fraction=1.5)
    with pytest.raises(BenchError, match="positives file"):
        select("fasttext", tiny_pool, tmp_path / "x.txt", positives=str(tmp_path / "none.txt"))
    assert not (tmp_path / "x.txt").exists()
    for name, m in METHODS.items():
        assert m.summary, f"{name} has no docstring"


def test_cli_select_list_and_opt(tiny_pool, tmp_path, bench_home):
    bench = [sys.executable, "-m", "benchmark.cli"]
    out = subprocess.run(bench + ["select", "--list"], capture_output=True, text=True, check=True)
    assert "minhash-dedup" in out.stdout and "threshold=0.8" in out.stdout
    dest = tmp_path / "g.txt"
    args = ["select", "gopher", "--pool", tiny_pool.name, "--out", str(dest)]
    done = subprocess.run(bench + args + ["--opt", "min_words=20", "--opt", "repetition=false"],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    meta = json.loads(dest.with_name(dest.name + ".meta.json").read_text())
    assert meta["options"] == {"min_words": 20, "repetition": False}
    bad = subprocess.run(bench + args + ["--opt", "min_words"], capture_output=True, text=True)
    assert bad.returncode == 2 and "KEY=VALUE" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_caption_rules():
    from benchmark.select.image import caption_reason, names_a_concept

    assert caption_reason("a red apple on a white background", 3, 6) is None
    assert caption_reason("apple", 3, 6) == "too short"
    assert caption_reason("emoji_u1f590_1f3fc.png", 1, 6) == "file name"
    assert caption_reason("une pomme rouge sur un fond blanc", 3, 6) == "not English"
    concepts = {"apple", "fire engine"}
    assert names_a_concept("A shiny Fire Engine!", concepts)
    assert names_a_concept("apple", concepts) and not names_a_concept("pineapples", concepts)


def test_image_methods_on_the_reduced_pool(tiny_image_pool, tmp_path):
    table = tiny_image_pool.read_table(["caption_kind", "dhash", "image_sha256"]).to_pydict()
    kinds = np.asarray(table["caption_kind"])

    def kept(name: str) -> np.ndarray:
        return tiny_image_pool.lookup(read_uids(tmp_path / name))

    for method, options in [("caption-filter", {}), ("image-dedup", {}),
                            ("image-dedup", {"hash": "sha256"}), ("text-filter", {})]:  # fmt: skip
        out = tmp_path / f"{method}{''.join(options.values())}.txt"
        select(method, tiny_image_pool, out, **options)
        again = tmp_path / "again.txt"
        select(method, tiny_image_pool, again, **options)
        assert out.read_bytes() == again.read_bytes()
    dedup = kept("image-dedup.txt")
    assert len(dedup) == len(set(table["dhash"]))
    select("image-dedup", tiny_image_pool, tmp_path / "sha.txt", hash="sha256")
    assert len(kept("sha.txt")) == len(set(table["image_sha256"])) >= len(dedup)
    for name in ("caption-filter.txt", "text-filter.txt"):
        rows = kept(name)
        assert not np.isin(kinds[rows], ["empty"]).any()
        share = np.isin(kinds[rows], ["descriptive", "keywords"]).mean()
        assert share > np.isin(kinds, ["descriptive", "keywords"]).mean() + 0.05
    assert not np.isin(kinds[kept("caption-filter.txt")], ["filename"]).any()
    with pytest.raises(BenchError, match="hash must be"):
        select("image-dedup", tiny_image_pool, tmp_path / "x.txt", hash="md5")


def test_a_method_refuses_the_other_track(tiny_pool, tiny_image_pool, tmp_path):
    with pytest.raises(BenchError, match="needs a clip pool"):
        select("caption-filter", tiny_pool, tmp_path / "x.txt")
    with pytest.raises(BenchError, match="needs a lm pool"):
        select("gopher", tiny_image_pool, tmp_path / "x.txt")


def test_composition_reads_a_subset_against_the_pool_labels(tiny_pool, tiny_image_pool, tmp_path):
    from benchmark.select.composition import composition

    select("sources", tiny_pool, tmp_path / "junk.txt", qualities=("junk",))
    meta = json.loads((tmp_path / "junk.txt.meta.json").read_text())
    comp = meta["composition"]
    assert comp["group_by"] == "source"
    assert comp["labels"]["junk"] == {**comp["labels"]["junk"], "kept": 1.0, "share": 1.0}
    assert comp["labels"]["good"]["kept"] == comp["labels"]["good"]["share"] == 0.0
    junk = {n for n, g in comp["groups"].items() if g["label"] == "junk"}
    assert junk and all(comp["groups"][n]["kept"] == 1.0 for n in junk)
    assert sum(g["pool"] for g in comp["groups"].values()) == tiny_pool.num_items
    # repeats count towards a group's share of the subset, not towards what it keeps
    rows = np.array([0, 0, 0, 1])
    comp = composition(tiny_image_pool, rows)
    assert comp["group_by"] == "caption_kind"
    assert comp["kept"] == round(2 / tiny_image_pool.num_items, 4)
    kinds = tiny_image_pool.read_table(["caption_kind"]).column("caption_kind").to_pylist()
    assert comp["groups"][kinds[0]]["share"] >= 0.75
    assert sum(g["share"] for g in comp["groups"].values()) == pytest.approx(1.0)
