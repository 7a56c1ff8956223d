"""External pools: DCLM-style jsonl(.zst) shards and DataComp-style webdataset shards,
made small in a temporary folder, imported, checked, and (text) trained on."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmark.errors import PoolError
from benchmark.io import sha256_file
from benchmark.paths import pools_dir
from benchmark.pool.importers.external import import_external
from benchmark.subset import check_subset, write_uids

WORDS = (
    "the of and to in is that it was for on are with as be by this have from or not river "
    "mountain house garden letter morning evening window road music story winter summer"
)


def _doc(rng: np.random.Generator) -> str:
    return " ".join(rng.choice(WORDS.split(), size=int(rng.integers(10, 120))).tolist())


def _sha(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()[:32]


def _zst(path: Path, records: list[dict], frames: int = 1) -> None:
    import zstandard

    lines = [json.dumps(r) + "\n" for r in records]
    step = -(-len(lines) // frames)
    cctx = zstandard.ZstdCompressor()
    path.write_bytes(
        b"".join(
            cctx.compress("".join(lines[i : i + step]).encode()) for i in range(0, len(lines), step)
        )
    )


def make_dclm(root: Path, texts: list[str] | None = None) -> Path:
    """Three shards: WARC ids (plain jsonl), plain ids (one zstd frame), no ids (two frames)."""
    rng = np.random.default_rng(0)
    texts = texts or [_doc(rng) for _ in range(240)]
    third = len(texts) // 3
    (root / "global-shard_01").mkdir(parents=True)
    warc = [
        {
            "text": t,
            "url": f"https://example.org/{i}",
            "metadata": {"WARC-Record-ID": f"<urn:uuid:{i:08d}>"},
            "fasttext_score": i / 1000,
        }
        for i, t in enumerate(texts[:third])
    ]
    (root / "global-shard_01" / "shard_00000009.jsonl").write_text("")  # an empty shard
    (root / "global-shard_01" / "shard_00000000.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in warc) + "\n"  # a trailing blank line is fine
    )
    _zst(
        root / "shard_00000001.jsonl.zst",
        [{"text": t, "id": f"doc-{i}"} for i, t in enumerate(texts[third : 2 * third])],
    )
    _zst(root / "shard_00000002.jsonl.zst", [{"text": t} for t in texts[2 * third :]], frames=2)
    return root


def make_datacomp(root: Path, *, num_shards: int = 2, per_shard: int = 24, extra: int = 5) -> Path:
    """webdataset shards (png and jpg, some without .txt) and DataComp-like metadata."""
    import webdataset as wds
    from PIL import Image

    rng = np.random.default_rng(1)
    (root / "shards").mkdir(parents=True)
    uids, texts = [], []
    for s in range(num_shards):
        with wds.TarWriter(str(root / "shards" / f"{s:08d}.tar")) as sink:
            for i in range(per_shard):
                key = f"{s:04d}{i:05d}"
                uid = _sha(f"sample {key}")
                pixels = rng.integers(0, 255, (40 + i, 70, 3), dtype=np.uint8)
                buf = io.BytesIO()
                Image.fromarray(pixels).save(buf, format="PNG" if i % 2 else "JPEG")
                sample = {
                    "__key__": key,
                    "png" if i % 2 else "jpg": buf.getvalue(),
                    "json": json.dumps({"uid": uid, "url": f"https://img/{key}"}),
                }
                if i % 5:
                    sample["txt"] = f"a photo of thing {i} in shard {s}"
                sink.write(sample)
                uids.append(uid)
                texts.append(f"metadata caption {key}")
    uids += [_sha(f"not downloaded {i}") for i in range(extra)]
    texts += ["never fetched"] * extra
    pq.write_table(
        pa.table(
            {"uid": uids, "text": texts, "clip_l14_similarity_score": np.linspace(0, 1, len(uids))}
        ),
        root / "metadata.parquet",
    )
    return root


@pytest.fixture(scope="module")
def dclm_src(tmp_path_factory) -> Path:
    return make_dclm(tmp_path_factory.mktemp("dclm"))


@pytest.fixture(scope="module")
def dclm_pool(bench_home, dclm_src):
    return import_external("ext-dclm", "dclm", dclm_src)


@pytest.fixture(scope="module")
def datacomp_src(tmp_path_factory) -> Path:
    return make_datacomp(tmp_path_factory.mktemp("datacomp"))


@pytest.fixture(scope="module")
def datacomp_pool(bench_home, datacomp_src):
    return import_external("ext-datacomp", "datacomp", datacomp_src, image_sizes=(16, 32))


def _leftovers() -> list[str]:
    return sorted(p.name for p in pools_dir().iterdir() if p.name.startswith("."))


def test_dclm_pool_has_manifest_index_and_token_cache(dclm_pool, dclm_src):
    m = dclm_pool.manifest
    assert m["track"] == "lm" and m["num_items"] == 240 and len(m["fingerprint"]) == 64
    assert m["external"]["source"] == str(dclm_src.resolve())
    assert m["external"]["uids_from"] == {"metadata.WARC-Record-ID": 80, "id": 80, "text": 80}
    names = [s["name"] for s in m["sources"]]
    assert names == [
        "global-shard_01/shard_00000000.jsonl",
        "global-shard_01/shard_00000009.jsonl",
        "shard_00000001.jsonl.zst",
        "shard_00000002.jsonl.zst",
    ]
    for s in m["sources"]:
        assert s["sha256"] == sha256_file(dclm_src / s["name"])
    assert [s["num_items"] for s in m["sources"]] == [80, 0, 80, 80]
    assert sum(s["num_tokens"] for s in m["sources"]) == m["num_tokens"] > 0
    uids = np.asarray(dclm_pool.uids)
    assert (uids[1:] > uids[:-1]).all()
    table = dclm_pool.read_table(["uid", "text", "locator", "meta"])
    assert table.column("uid").to_pylist() == [u.decode() for u in uids.tolist()]
    rows = dict(zip(table.column("uid").to_pylist(), table.to_pylist(), strict=True))
    first = rows[_sha("<urn:uuid:00000000>")]  # the documented uid rule, for each id kind
    assert first["locator"] == "global-shard_01/shard_00000000.jsonl:1"
    assert json.loads(first["meta"])["fasttext_score"] == 0
    assert rows[_sha("doc-0")]["locator"] == "shard_00000001.jsonl.zst:1"
    last = [r for r in rows.values() if r["locator"] == "shard_00000002.jsonl.zst:80"][0]
    assert last["uid"] == _sha(last["text"])  # no id: the text's hash; both frames read
    offsets, tokens = np.asarray(dclm_pool.offsets), np.asarray(dclm_pool.tokens)
    assert offsets[0] == 0 and offsets[-1] == len(tokens) == m["num_tokens"]
    tok = dclm_pool.load_tokenizer()
    k = int(np.flatnonzero(uids == _sha("doc-0").encode())[0])
    assert tok.decode(tokens[offsets[k] : offsets[k + 1]].tolist()) == rows[_sha("doc-0")]["text"]


def test_pool_info_lists_the_shards(dclm_pool, datacomp_pool):
    for pool in (dclm_pool, datacomp_pool):
        out = subprocess.run(
            [sys.executable, "-m", "benchmark.cli", "pool", "info", pool.name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert pool.fingerprint in out and pool.manifest["sources"][0]["sha256"][:16] in out


def test_workers_and_source_folder_do_not_change_the_pool(
    bench_home, dclm_pool, dclm_src, tmp_path, monkeypatch
):
    import benchmark.pool.writer as writer

    monkeypatch.setattr(writer, "SHARD_ROWS", 70)  # several docs shards and tokenization tasks
    moved = shutil.copytree(dclm_src, tmp_path / "elsewhere")
    one = import_external("ext-dclm-w1", "dclm", dclm_src, workers=1)
    two = import_external("ext-dclm-w2", "dclm", moved, workers=2)
    assert one.fingerprint == two.fingerprint == dclm_pool.fingerprint
    assert len(one.manifest["shards"]) == 4
    for name in (
        "tokens.npy",
        "offsets.npy",
        "uids.npy",
        "uids128.npy",
        "tokenizer/tokenizer.json",
        *one.manifest["shards"],
    ):
        assert (one.root / name).read_bytes() == (two.root / name).read_bytes(), name
    assert np.array_equal(np.asarray(one.tokens), np.asarray(dclm_pool.tokens))


def test_tokenizer_from_a_folder(bench_home, dclm_pool, dclm_src, tmp_path):
    from benchmark.pool.importers.common import tokenizer_name

    folder = shutil.copytree(dclm_pool.tokenizer_dir, tmp_path / "models--Org--tok" / "snap")
    pool = import_external("ext-dclm-tokdir", "dclm", dclm_src, tokenizer=str(folder))
    assert pool.manifest["tokenizer"]["name"] == tokenizer_name(folder) == "Org/tok"
    assert np.array_equal(np.asarray(pool.tokens), np.asarray(dclm_pool.tokens))
    with pytest.raises(PoolError, match="neither 'train', 'openai-clip', a folder"):
        import_external("ext-dclm-tok-bad", "dclm", dclm_src, tokenizer="no-such-pool")


def test_subset_check_txt_on_text_pool(dclm_pool, tmp_path):
    uids = np.asarray(dclm_pool.uids)[::3]
    write_uids(tmp_path / "s.txt", uids)
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmark.cli",
            "subset",
            "check",
            str(tmp_path / "s.txt"),
            "--pool",
            dclm_pool.name,
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(res.stdout)
    assert info["num_uids"] == info["num_unique"] == len(uids)
    counts = np.diff(np.asarray(dclm_pool.offsets))
    assert info["num_tokens"] == int(counts[::3].sum())


def test_datacomp_pool_and_its_npy_subsets(datacomp_pool, datacomp_src, tmp_path):
    m = datacomp_pool.manifest
    assert m["track"] == "clip" and m["num_items"] == 48
    assert m["external"]["num_metadata_rows"] == 53 and m["external"]["num_not_downloaded"] == 5
    assert [s["name"] for s in m["sources"]] == ["shards/00000000.tar", "shards/00000001.tar"]
    images = np.load(datacomp_pool.root / "images-32.npy")
    assert images.shape == (48, 32, 32, 3) and images.dtype == np.uint8
    assert np.load(datacomp_pool.root / "images-16.npy").shape == (48, 16, 16, 3)
    table = datacomp_pool.read_table(["uid", "text", "clip_l14_similarity_score", "width"])
    assert table.column("uid").to_pylist() == [u.decode() for u in np.asarray(datacomp_pool.uids)]
    texts = table.column("text").to_pylist()
    assert sum(t.startswith("metadata caption") for t in texts) == 10  # no .txt: metadata's
    assert len(datacomp_pool.load_tokenizer()("a photo").input_ids) > 0
    # DataComp's subset format: structured u8,u8 halves of the 128-bit uid
    uids = [u.decode() for u in np.asarray(datacomp_pool.uids)[::2].tolist()]
    halves = np.array([(int(u[:16], 16), int(u[16:], 16)) for u in uids], dtype="u8,u8")
    np.save(tmp_path / "dc.npy", halves[::-1])
    write_uids(tmp_path / "dc.txt", np.array(uids, dtype="S32"))
    a, b = (
        check_subset(tmp_path / "dc.npy", datacomp_pool),
        check_subset(tmp_path / "dc.txt", datacomp_pool),
    )
    assert a.num_uids == a.num_unique == 24 and a.sha256 == b.sha256 and a.num_tokens is None
    missing = pq.read_table(datacomp_src / "metadata.parquet").column("uid").to_pylist()[-5:]
    write_uids(tmp_path / "all.txt", np.array(uids + missing, dtype="S32"))
    with pytest.raises(Exception, match="5 uids are not in pool ext-datacomp"):
        check_subset(tmp_path / "all.txt", datacomp_pool)


def _bad_dclm(root: Path, case: str) -> tuple[Path, str]:
    good = [{"text": f"document {i} " + "word " * i, "id": f"d{i}"} for i in range(6)]
    lines = [json.dumps(r) for r in good]
    if case == "missing text":
        lines[3] = json.dumps({"id": "x", "body": "no text here"})
        message = r"shard\.jsonl:4: no 'text' string field \(has: body, id\)"
    elif case == "malformed line":
        lines[4] = '{"text": "cut short'
        message = r"shard\.jsonl:5: malformed JSON line"
    elif case == "duplicate uid":
        lines[5] = json.dumps({"text": "another text", "id": "d1"})
        message = r"repeated uid .* at shard\.jsonl:2 and shard\.jsonl:6 \(same id"
    else:
        return root, r"no jsonl shards"
    (root / "shard.jsonl").write_text("\n".join(lines) + "\n")
    return root, message


@pytest.mark.parametrize("case", ["missing text", "malformed line", "duplicate uid", "no shards"])
def test_bad_text_source_is_one_clear_error_and_leaves_nothing(bench_home, tmp_path, case):
    src, message = _bad_dclm(tmp_path, case)
    with pytest.raises(PoolError, match=message):
        import_external(f"bad-{case.replace(' ', '-')}", "dclm", src)
    assert not (pools_dir() / f"bad-{case.replace(' ', '-')}").exists() and not _leftovers()


def _bad_datacomp(root: Path, case: str) -> str:
    make_datacomp(root, num_shards=1, per_shard=4, extra=0)
    meta = pq.read_table(root / "metadata.parquet")
    if case == "uid not in metadata":
        pq.write_table(meta.slice(1), root / "metadata.parquet")
        return r"00000000\.tar: sample 000000000: uid \w{32} is not in the metadata"
    if case == "metadata repeats a uid":
        pq.write_table(meta.slice(0, 1), root / "more.parquet")
        return r"metadata: uid \w{32} appears twice"
    import webdataset as wds

    with wds.TarWriter(str(root / "shards" / "00000001.tar")) as sink:
        sink.write({"__key__": "x1", "txt": "no picture", "json": json.dumps({"uid": _sha("x")})})
    return r"00000001\.tar: sample x1: no image"


@pytest.mark.parametrize("case", ["uid not in metadata", "metadata repeats a uid", "no image"])
def test_bad_image_source_is_one_clear_error_and_leaves_nothing(bench_home, tmp_path, case):
    message = _bad_datacomp(tmp_path, case)
    with pytest.raises(PoolError, match=message):
        import_external("bad-dc", "datacomp", tmp_path, image_sizes=(16,))
    assert not (pools_dir() / "bad-dc").exists() and not _leftovers()


def test_cli_import_errors_are_one_line(bench_home, dclm_pool, dclm_src, tmp_path):
    cmd = [sys.executable, "-m", "benchmark.cli", "pool", "import"]
    src, _ = _bad_dclm(tmp_path, "malformed line")
    for args, message in [
        (["bad-cli", "--format", "dclm", "--source", str(src)], "shard.jsonl:5: malformed JSON"),
        ([dclm_pool.name, "--format", "dclm", "--source", str(dclm_src)], "use --force"),
        (["text-default", "--format", "dclm", "--source", str(dclm_src)], "embedded pool"),
    ]:
        res = subprocess.run(cmd + args, capture_output=True, text=True)
        err = [line for line in res.stderr.splitlines() if line.startswith("bench: error")]
        assert res.returncode == 2 and len(err) == 1 and message in err[0], res.stderr
        assert "Traceback" not in res.stderr


@pytest.mark.slow
def test_train_lm_on_an_imported_pool(tiny_pool, tmp_path):
    """Real prose (the reduced embedded pool's documents) imported as a DCLM pool, with
    that pool's tokenizer and eval data, trains and evaluates at a tiny xs."""
    from benchmark.run import run_train

    texts = tiny_pool.read_table(["text"]).column("text").to_pylist()[:600]
    src = make_dclm(tmp_path / "src", texts)
    pool = import_external(
        "ext-prose", "dclm", src, tokenizer=tiny_pool.name, evals_from=tiny_pool.name, workers=2
    )
    assert pool.manifest["evals"]["contaminated_items_13gram"] == 0
    assert pool.manifest["tokenizer"]["name"] == tiny_pool.name
    uids = np.asarray(pool.uids)[::2]
    write_uids(tmp_path / "half.npy", uids)
    path, entry = run_train(
        track="lm",
        scale="xs",
        subset_file=tmp_path / "half.npy",
        name="ext-prose",
        overrides=["pool=ext-prose", "data.train_tokens=16384", "optim.warmup_steps=1"],
        runs_dir=tmp_path / "runs",
        wandb_mode="disabled",
        progress=False,
    )
    assert entry["pool"]["fingerprint"] == pool.fingerprint and entry["pool"]["name"] == "ext-prose"
    assert entry["subset"]["num_uids"] == len(uids)
    assert entry["metrics"]["headline"]["value"] == entry["metrics"]["headline"]["value"]  # not NaN


@pytest.mark.slow
def test_train_clip_on_an_imported_pool(datacomp_pool, tmp_path):
    """The DataComp-style pool feeds the CLIP loop: image cache, captions, tokenizer."""
    from benchmark.config import load_recipe
    from benchmark.subset import whole_pool
    from benchmark.train.clip import train_clip

    recipe = load_recipe(
        "clip",
        "xs",
        [
            f"pool={datacomp_pool.name}",
            "data.train_samples=128",
            "data.global_batch_size=32",
            "data.micro_batch_size=16",
            "optim.warmup_steps=1",
        ],
    )
    result = train_clip(
        recipe,
        datacomp_pool,
        whole_pool(datacomp_pool),
        tmp_path,
        wandb_mode="disabled",
        progress=False,
    )
    assert result.num_steps == 4 and np.isfinite(result.final_loss)
    assert (result.checkpoint / "open_clip_model.safetensors").is_file()


def test_openai_clip_tokenizer_gives_open_clips_ids(tmp_path):
    import open_clip
    from transformers import AutoTokenizer

    from benchmark.pool.tokenizer import openai_clip_tokenizer

    openai_clip_tokenizer(tmp_path / "tok")
    hf = AutoTokenizer.from_pretrained(str(tmp_path / "tok"))
    simple = open_clip.tokenizer.SimpleTokenizer()
    assert len(hf) == 49408 and hf.eos_token_id == 49407 and hf.bos_token_id == 49406
    captions = [
        "A photo of a DOG.",
        "tanzender Mann: dunkle Hautfarbe",
        "emoji_u1f590_1f3fc.png",
        "it's   the  cat's 3 toys!!",
        "wielbłąd café naïve",
        "日本語のテキスト",
        "",
    ]
    for caption in captions:
        expected = [simple.sot_token_id, *simple.encode(caption), simple.eot_token_id]
        assert hf(caption).input_ids == expected, caption
    long = "flag of honduras " * 30  # truncated, the end token kept, as open_clip.tokenize
    ids = hf(long, max_length=77, padding="max_length", truncation=True).input_ids
    assert ids == open_clip.tokenize(long)[0].tolist()


@pytest.mark.slow
def test_builtin_vit_b_32_trains_on_a_pool_with_openai_clip_tokenizer(
    bench_home, datacomp_src, tmp_path
):
    """DataComp's recipe model (open_clip's built-in ViT-B-32, 224 px, 49,408-token text
    tower) trains a step on a DataComp-style pool imported with its tokenizer; the
    pool's own trained BPE is refused with the fix."""
    from benchmark.config import load_recipe
    from benchmark.errors import RecipeError
    from benchmark.subset import whole_pool
    from benchmark.train.clip import train_clip

    pool = import_external(
        "ext-datacomp-224", "datacomp", datacomp_src, image_sizes=(224,), tokenizer="openai-clip"
    )
    assert pool.manifest["tokenizer"]["name"] == "openai-clip"
    tiny = ["data.train_samples=8", "data.global_batch_size=8", "data.micro_batch_size=4",
            "optim.warmup_steps=0", "runtime.precision=fp32"]  # fmt: skip
    recipe = load_recipe("clip", "datacomp-small", [f"pool={pool.name}", *tiny])
    result = train_clip(recipe, pool, whole_pool(pool), tmp_path, wandb_mode="disabled",
                        progress=False)  # fmt: skip
    assert result.num_steps == 1 and np.isfinite(result.final_loss)
    own = import_external("ext-datacomp-224-bpe", "datacomp", datacomp_src, image_sizes=(224,))
    bad = load_recipe("clip", "datacomp-small", [f"pool={own.name}", *tiny])
    with pytest.raises(RecipeError, match="--tokenizer openai-clip"):
        train_clip(bad, own, whole_pool(own), tmp_path / "b", wandb_mode="disabled")


@pytest.mark.slow
def test_encoded_pool_streams_the_same_pixels_as_a_cache(bench_home, datacomp_src, tmp_path):
    """--encoded keeps the image bytes; training decodes them in worker processes as it
    goes and gets the same run as from a decoded cache of that size."""
    from benchmark.config import load_recipe
    from benchmark.subset import whole_pool
    from benchmark.train.clip import train_clip
    from benchmark.train.images import EncodedImages, StepImages

    cached = import_external("ext-dc-cache", "datacomp", datacomp_src, image_sizes=(32,))
    streamed = import_external("ext-dc-enc", "datacomp", datacomp_src, image_sizes=(), encoded=True)
    assert not list(streamed.root.glob("images-*.npy"))
    assert streamed.fingerprint == cached.fingerprint
    store = EncodedImages(streamed.root, 32)
    rows = np.array([0, 7, 47])
    cache = np.load(cached.root / "images-32.npy")
    assert np.array_equal(store.decode(rows), cache[rows])
    assert StepImages(streamed, 32, np.arange(48), workers=0).streamed

    tiny = ["data.train_samples=96", "data.global_batch_size=32", "data.micro_batch_size=16",
            "optim.warmup_steps=1"]  # fmt: skip
    results = []
    for pool, extra in ((cached, []), (streamed, ["runtime.data_workers=2"])):
        recipe = load_recipe("clip", "xs", [f"pool={pool.name}", *tiny, *extra])
        out = tmp_path / pool.name
        out.mkdir()
        results.append(train_clip(recipe, pool, whole_pool(pool), out, wandb_mode="disabled",
                                  progress=False))  # fmt: skip
    a, b = results
    assert a.final_loss == b.final_loss and a.num_steps == b.num_steps == 3
    with pytest.raises(PoolError, match="--encoded"):
        StepImages(cached, 64, np.arange(4))


@pytest.mark.parametrize("fmt", ["dclm", "datacomp"])
def test_a_bad_shard_stops_the_import_or_with_the_option_is_skipped_and_recorded(
    fmt, bench_home, tmp_path
):
    src = make_dclm(tmp_path / "src") if fmt == "dclm" else make_datacomp(tmp_path / "src")
    good = import_external(
        f"skip-{fmt}-good", fmt, src, **({"image_sizes": (16,)} if fmt != "dclm" else {})
    )
    if fmt == "dclm":
        bad = src / "shard_00000003.jsonl"
        bad.write_text('{"text": "fine", "id": "x1"}\n{"text": broken\n')
        where = f"{bad}:2: malformed JSON line"
    else:
        bad = src / "shards" / "00000009.tar"
        bad.write_bytes(b"not a tar at all" * 64)
        where = f"{bad}: not a readable tar"
    kw = {"image_sizes": (16,)} if fmt != "dclm" else {}
    before = _leftovers()
    with pytest.raises(PoolError, match=re.escape(where)):
        import_external(f"skip-{fmt}", fmt, src, **kw)
    assert not (pools_dir() / f"skip-{fmt}").exists() and _leftovers() == before
    pool = import_external(f"skip-{fmt}", fmt, src, skip_bad_shards=True, **kw)
    skipped = pool.manifest["external"]["skipped_shards"]
    assert [s["name"] for s in skipped] == [bad.relative_to(src).as_posix()]
    assert where in skipped[0]["error"]
    assert pool.fingerprint == good.fingerprint  # the bad shard added nothing


def _pool_files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


def _killed_after_two_tasks(bench_home: Path, call: str) -> None:
    """Run ``call`` in a new process that SIGKILLs itself once two tasks of a step are kept."""
    code = (
        "import os, signal\n"
        "from pathlib import Path\n"
        "from benchmark.engine import Kept\n"
        "save = Kept.save\n"
        "def save_then_die(self, i, result):\n"
        "    save(self, i, result)\n"
        "    if len(list(self.folder.glob('*.pkl'))) == 2:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "Kept.save = save_then_die\n"
    ) + call
    env = {**os.environ, "BENCH_HOME": str(bench_home)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr


@pytest.mark.parametrize("fmt", ["dclm", "datacomp"])
def test_a_killed_import_resumes_at_the_first_unread_shard(bench_home, tmp_path, caplog, fmt):
    """SIGKILL an import once two shards are read; the same command again reads only the
    rest and gives the pool an import in one go gives."""
    if fmt == "dclm":
        src, options = make_dclm(tmp_path / "src"), {}
    else:
        src, options = (
            make_datacomp(tmp_path / "src", num_shards=4, per_shard=6),
            {"image_sizes": (16,)},
        )
    whole = import_external(f"resume-whole-{fmt}", fmt, src, **options)
    _killed_after_two_tasks(
        bench_home,
        "from benchmark.pool.importers.external import import_external\n"
        f"import_external('resume-{fmt}', {fmt!r}, Path({str(src)!r}), **{options!r})\n",
    )
    [left] = [p for p in pools_dir().iterdir() if p.name.startswith(f".resume-{fmt}.resume-")]
    assert len(list((left / ".kept-read").glob("*.pkl"))) == 2
    caplog.set_level(logging.INFO, logger="benchmark.engine")
    pool = import_external(f"resume-{fmt}", fmt, src, **options)
    assert pool.fingerprint == whole.fingerprint
    assert _pool_files(pool.root) == _pool_files(whole.root)
    assert not left.exists() and not list(pool.root.glob(".kept*"))
    assert "read shards: 2 of 4 tasks were done before" in caplog.text


def test_datacomp_reorder_in_buckets_gives_the_one_bucket_pool(bench_home, tmp_path, monkeypatch):
    """The streaming reorder (samples and metadata cut into uid-range buckets, each joined
    and written alone) gives the files one bucket gives; metadata files whose columns differ
    are joined in one schema, a column a file lacks being null for its rows."""
    src = make_datacomp(tmp_path / "src", num_shards=3, per_shard=20, extra=4)
    meta = pq.read_table(src / "metadata.parquet")
    (src / "metadata.parquet").unlink()
    pq.write_table(meta.slice(0, 30), src / "meta-a.parquet")
    pq.write_table(
        meta.slice(30).drop_columns(["clip_l14_similarity_score"]), src / "meta-b.parquet"
    )
    monkeypatch.setattr("benchmark.pool.writer.SHARD_ROWS", 7)  # 60 pairs: 9 docs shards
    one = import_external("one-bucket", "datacomp", src, image_sizes=(16,), encoded=True)
    monkeypatch.setattr("benchmark.pool.importers.common.BUCKET_SHARDS", 2)  # 5 buckets
    many = import_external("buckets", "datacomp", src, image_sizes=(16,), encoded=True, workers=2)
    assert len(many.shard_paths()) == 9
    assert _pool_files(many.root) == _pool_files(one.root)
    assert many.fingerprint == one.fingerprint
    table = many.read_table(["uid", "clip_l14_similarity_score"])
    scores = dict(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))
    b_uids = set(meta.slice(30).column("uid").to_pylist())
    assert all((scores[u] is None) == (u in b_uids) for u in scores)
    assert any(u in b_uids for u in scores) and any(u not in b_uids for u in scores)


def test_a_killed_selection_resumes_at_the_first_unscanned_shard(
    bench_home, tmp_path, monkeypatch, caplog
):
    from benchmark.select import select

    monkeypatch.setattr("benchmark.pool.writer.SHARD_ROWS", 50)  # 240 documents: 5 shards
    pool = import_external("resume-select", "dclm", make_dclm(tmp_path / "src"))
    assert len(pool.shard_paths()) == 5
    select("gopher", pool, tmp_path / "whole.txt")
    _killed_after_two_tasks(
        bench_home,
        "from benchmark.pool.store import open_pool\n"
        "from benchmark.select import select\n"
        f"select('gopher', open_pool('resume-select'), Path({str(tmp_path / 'again.txt')!r}))\n",
    )
    assert len(list((tmp_path / ".again.txt.scan").glob("*.pkl"))) == 2
    caplog.set_level(logging.INFO, logger="benchmark.engine")
    select("gopher", pool, tmp_path / "again.txt")
    assert "gopher: 2 of 5 tasks were done before" in caplog.text
    assert (tmp_path / "again.txt").read_bytes() == (tmp_path / "whole.txt").read_bytes()
    assert not (tmp_path / ".again.txt.scan").exists()
