"""Import a DataComp-style image-text pool: webdataset tar shards plus parquet metadata.

    bench pool import my-datacomp --format datacomp --source DIR [--metadata PATH]
        [--workers N] [--image-sizes 32,64] [--tokenizer train] [--evals-from image-default]

``DIR`` holds webdataset ``*.tar`` shards (any depth), as DataComp's
``download_upstream.py`` (img2dataset) writes them: each sample is ``KEY.jpg`` (or
``.jpeg``, ``.png``, ``.webp``), ``KEY.txt`` (the caption) and ``KEY.json`` (with the
sample's ``uid``). The metadata is every ``*.parquet`` under ``DIR`` (or ``--metadata``,
a file or folder) with a ``uid`` column of 128-bit uids as 32 hex characters, as
DataComp's metadata has; its other columns (``url``, ``text``, CLIP scores, ...) are
kept with each item for selection methods to read.

**uid rule.** A sample's uid is its ``.json``'s ``uid``, or else its key when that is
32 hex characters; it must be in the metadata. The pool is the samples present in the
shards: metadata rows whose image was not downloaded are counted in the manifest
(``external.num_not_downloaded``), not made items, so a DataComp subset naming them
fails the check with their count (filter it to the pool first). The caption is the
``.txt``, or else the metadata's ``text`` (or ``caption``) column.

**Images.** Each image is decoded once (JPEG at a reduced scale where that suffices),
centre-cropped to a square and resized (bicubic) to each ``--image-sizes`` size into the
pool's image caches (uint8, uid order; :func:`benchmark.pool.format.decode_square`), which
``bench train --track clip`` reads; the recipe's ``data.image_size`` must be one of them.
The tars are not copied: the manifest lists each with its sha256. An item's
``image_sha256`` is the sha256 of its image file's bytes, and its content
(:func:`benchmark.pool.format.item_content`) is its caption and that sha256.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.engine import Engine
from benchmark.errors import PoolError
from benchmark.io import sha256_file, write_json
from benchmark.pool.format import (
    ENCODED_IMAGES,
    ENCODED_OFFSETS,
    MANIFEST,
    TOKENIZER_DIR,
    UID_DTYPE,
    content_digest,
    decode_square,
    fingerprint,
    images_name,
    item_content,
)
from benchmark.pool.importers.common import (
    IMPORT_VERSION,
    KEPT_READ,
    copy_evals,
    find_shards,
    first_repeat,
    forget,
    install_tokenizer,
    shard_record,
    skipped_shards,
    uid_order,
)
from benchmark.pool.writer import write_docs, write_uid_index

log = logging.getLogger(__name__)

IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")
VOCAB_SIZE = 4096  # as image-default's caption tokenizer
_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
_KEY_EXT = re.compile(r"^((?:.*/|)[^./]+)\.([^/]*)$")  # webdataset: key up to the first dot
_OWN_COLUMNS = ("uid", "text", "source", "locator", "url", "image_sha256", "width", "height")


def _samples(path: Path) -> Iterator[tuple[str, dict[str, bytes]]]:
    """``(key, {extension: bytes})`` of a webdataset tar, in the order keys first appear."""
    groups: dict[str, dict[str, bytes]] = {}
    with tarfile.open(path, "r:*") as tar:
        for member in tar:
            m = _KEY_EXT.match(member.name) if member.isfile() else None
            if m:
                f = tar.extractfile(member)
                groups.setdefault(m.group(1), {})[m.group(2).lower()] = f.read() if f else b""
    yield from groups.items()


def read_tar(task: tuple[str, str, str, int, tuple[int, ...], bool, bool]) -> dict[str, Any]:
    """Decode one shard's samples into ``img-NNNNNN-SIZE.npy`` in the staging folder (and,
    with ``encoded``, their bytes into ``enc-NNNNNN.bin``); return their uids, keys,
    captions and image facts (run in a worker process). With ``skip_bad``, a shard that
    cannot be read is imported as empty and its record says why."""
    source, rel, tmp, index, sizes, encoded, skip_bad = task
    try:
        return _read_tar(source, rel, tmp, index, sizes, encoded)
    except PoolError as err:
        if not skip_bad:
            raise
        empty = _read_tar(source, rel, tmp, index, sizes, encoded, limit=0)
        return {**empty, "record": {**empty["record"], "skipped": str(err)}}


def _read_tar(source, rel, tmp, index, sizes, encoded, limit: int | None = None):
    from PIL import Image

    lengths: list[int] = []
    enc = open(Path(tmp) / f"enc-{index:06d}.bin", "wb") if encoded else None  # noqa: SIM115
    path = Path(source) / rel
    out: dict[str, list] = {k: [] for k in ("uid", "key", "caption", "url", "sha", "w", "h")}
    images: list[list[np.ndarray]] = [[] for _ in sizes]
    try:
        for key, files in _samples(path) if limit != 0 else ():
            where = f"{path}: sample {key}"
            ext = next((e for e in IMAGE_EXTS if e in files), None)
            if ext is None:
                raise PoolError(f"{where}: no image (.{', .'.join(IMAGE_EXTS)})")
            try:
                meta = json.loads(files["json"]) if "json" in files else {}
            except ValueError as err:
                raise PoolError(f"{where}: malformed .json ({err})") from None
            uid = str(meta.get("uid") or Path(key).name)
            if not _HEX32.match(uid):
                raise PoolError(f"{where}: no 32-hex uid (neither the .json's 'uid' nor the key)")
            try:
                w, h, arrays = decode_square(files[ext], sizes)
            except (OSError, ValueError, Image.DecompressionBombError) as err:
                raise PoolError(f"{where}: the .{ext} image cannot be decoded ({err})") from None
            for k, a in enumerate(arrays):
                images[k].append(a)
            if enc is not None:
                enc.write(files[ext])
                lengths.append(len(files[ext]))
            txt = files.get("txt")
            out["uid"].append(uid.lower())
            out["key"].append(key)
            out["caption"].append(
                txt.decode("utf-8", errors="replace") if txt is not None else None
            )
            out["url"].append(str(meta.get("url") or ""))
            out["sha"].append(hashlib.sha256(files[ext]).hexdigest())
            out["w"].append(w)
            out["h"].append(h)
    except (tarfile.TarError, EOFError) as err:
        # tarfile's "r:*" lists every compression it tried, a line each
        why = "not a tar file, or a damaged one" if "\n" in str(err) else str(err)
        raise PoolError(f"{path}: not a readable tar ({why})") from None
    finally:
        if enc is not None:
            enc.close()
    for k, s in enumerate(sizes):
        stack = np.stack(images[k]) if images[k] else np.zeros((0, s, s, 3), np.uint8)
        np.save(Path(tmp) / f"img-{index:06d}-{s}.npy", stack)
    return {
        **out,
        "uid": np.array(out["uid"], dtype=UID_DTYPE),
        "enc_lengths": np.array(lengths, dtype=np.int64),
        "record": {**shard_record(path, Path(source)), "num_items": len(out["key"])},
    }


def _read_metadata(files: list[Path]):
    """The metadata as one table, its uids sorted, the row of each sorted uid, and records."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables, records, file_of = [], [], []
    for i, f in enumerate(files):
        try:
            t = pq.read_table(f)
        except (pa.ArrowException, OSError) as err:  # not parquet, truncated, or damaged
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise PoolError(
                f"{f}: not a readable parquet file ({first}); pass --metadata with DataComp's "
                "metadata parquet files"
            ) from None
        if "uid" not in t.column_names:
            raise PoolError(f"{f}: no 'uid' column (columns: {', '.join(t.column_names)})")
        tables.append(t)
        file_of.append(np.full(len(t), i, dtype=np.int32))
        records.append({"name": str(f), "sha256": sha256_file(f), "num_rows": len(t)})
    table = pa.concat_tables(tables, promote_options="default")
    raw = table.column("uid").to_pylist()
    for i, u in enumerate(raw):
        if not isinstance(u, str) or not _HEX32.match(u):
            row_file = files[np.concatenate(file_of)[i]]
            raise PoolError(f"{row_file}: uid {u!r} (row {i}) is not 32 hex characters")
    uids = np.char.lower(np.array(raw, dtype=UID_DTYPE))
    order = uid_order(uids)
    rep = first_repeat(uids[order])
    if rep is not None:
        which = np.concatenate(file_of)[order[rep : rep + 2]]
        raise PoolError(
            f"metadata: uid {uids[order[rep]].decode()} appears twice "
            f"({files[which[0]]}, {files[which[1]]}); pass --metadata to choose the files"
        )
    return table, uids[order], order, records


def _metadata_files(source: Path, metadata: Path | None) -> list[Path]:
    if metadata is None:
        return find_shards(source, (".parquet",), "parquet metadata")
    metadata = Path(metadata)
    if metadata.is_file():
        return [metadata]
    if metadata.is_dir():
        return find_shards(metadata, (".parquet",), "parquet metadata")
    raise PoolError(f"--metadata {metadata} does not exist")


def _write_docs(
    tmp: Path, parsed: list[dict], texts: list[str], order: np.ndarray, meta, meta_rows
) -> list[str]:
    """The docs shards in uid order: the samples' own columns and their metadata."""
    import pyarrow as pa

    def cat(key: str) -> list:
        return [x for p in parsed for x in p[key]]

    locators = [f"{p['record']['name']}:{k}" for p in parsed for k in p["key"]]
    sources = [p["record"]["name"] for p in parsed for _ in p["key"]]
    own = pa.table(
        {
            "uid": np.concatenate([p["uid"] for p in parsed]).astype(str),
            "text": texts,
            "source": sources,
            "locator": locators,
            "url": cat("url"),
            "image_sha256": cat("sha"),
            "width": pa.array(cat("w"), pa.int32()),
            "height": pa.array(cat("h"), pa.int32()),
        }
    ).take(order)
    extra = meta.take(meta_rows)
    for name in extra.column_names:
        if name not in _OWN_COLUMNS:
            own = own.append_column(name, extra.column(name))
    return write_docs(tmp, own)


def _write_images(tmp: Path, parsed: list[dict], order: np.ndarray, sizes) -> None:
    """The image caches in uid order from the per-shard parts."""
    dest = np.empty(len(order), dtype=np.int64)
    dest[order] = np.arange(len(order))  # original item -> row in uid order
    forget(tmp / KEPT_READ)  # the parts go: a resumed import reads the shards again
    for s in sizes:
        out = np.lib.format.open_memmap(tmp / images_name(s), "w+", np.uint8, (len(order), s, s, 3))
        start = 0
        for i in range(len(parsed)):
            part_path = tmp / f"img-{i:06d}-{s}.npy"
            part = np.load(part_path)
            out[dest[start : start + len(part)]] = part
            start += len(part)
            part_path.unlink()
        out.flush()
        del out


def _write_encoded(tmp: Path, parsed: list[dict], order: np.ndarray) -> int:
    """:data:`ENCODED_IMAGES` (uint8, the image files' bytes in uid order) and
    :data:`ENCODED_OFFSETS` (int64, N + 1) from the per-shard parts, copied through memory
    maps one image at a time; the byte count."""
    lengths = np.concatenate([p["enc_lengths"] for p in parsed])  # original item order
    part_of = np.repeat(np.arange(len(parsed)), [len(p["enc_lengths"]) for p in parsed])
    starts = np.concatenate([np.cumsum(p["enc_lengths"]) - p["enc_lengths"] for p in parsed])
    offsets = np.concatenate([[0], np.cumsum(lengths[order])]).astype(np.int64)
    np.save(tmp / ENCODED_OFFSETS, offsets)
    forget(tmp / KEPT_READ)
    paths = [tmp / f"enc-{i:06d}.bin" for i in range(len(parsed))]
    parts = [np.memmap(p, np.uint8, "r") if p.stat().st_size else None for p in paths]
    out = np.lib.format.open_memmap(tmp / ENCODED_IMAGES, "w+", np.uint8, (int(offsets[-1]),))
    for row, k in enumerate(order):
        part = parts[part_of[k]]
        out[offsets[row] : offsets[row + 1]] = part[starts[k] : starts[k] + lengths[k]]
    out.flush()
    del out, parts
    for p in paths:
        p.unlink()
    return int(offsets[-1])


def import_datacomp(
    name: str,
    source: Path,
    tmp: Path,
    engine: Engine,
    tokenizer: str,
    evals_from: str | None,
    metadata: Path | None,
    sizes: tuple[int, ...],
    encoded: bool = False,
    skip_bad: bool = False,
) -> dict[str, Any]:
    """Build the pool into the staging folder ``tmp``; return its manifest."""
    t0 = time.time()
    if (not sizes and not encoded) or (sizes and min(sizes) < 8):
        raise PoolError(f"--image-sizes {sizes}: give sizes of at least 8 px (or --encoded)")
    tars = find_shards(source, (".tar",), "webdataset shards")
    meta, meta_uids, meta_order, meta_records = _read_metadata(_metadata_files(source, metadata))
    tasks = [
        (str(source), t.relative_to(source).as_posix(), str(tmp), i, sizes, encoded, skip_bad)
        for i, t in enumerate(tars)
    ]
    parsed = engine.map(
        read_tar,
        tasks,
        "read shards",
        unit="B",
        weights=[t.stat().st_size for t in tars],
        keep=tmp / KEPT_READ,
    )
    uids = np.concatenate([p["uid"] for p in parsed])
    for p in parsed:
        if "skipped" in p["record"]:
            log.warning("skipped %s", p["record"]["skipped"])
    if len(uids) == 0:
        raise PoolError(f"the shards under {source} hold no samples")
    locators = [f"{p['record']['name']}: sample {k}" for p in parsed for k in p["key"]]
    order = uid_order(uids)
    sorted_uids = uids[order]
    rep = first_repeat(sorted_uids)
    if rep is not None:
        a, b = sorted(order[rep : rep + 2].tolist())
        raise PoolError(
            f"repeated uid {sorted_uids[rep].decode()} at {locators[a]} and {locators[b]}"
        )
    pos = np.minimum(np.searchsorted(meta_uids, sorted_uids), len(meta_uids) - 1)
    absent = np.flatnonzero(meta_uids[pos] != sorted_uids)
    if len(absent):
        k = int(order[absent].min())
        raise PoolError(
            f"{locators[k]}: uid {uids[k].decode()} is not in the metadata "
            f"({len(absent)} samples are not; {len(meta_uids)} metadata rows)"
        )
    meta_rows = meta_order[pos]  # metadata row of each item, uid order
    texts = _captions(parsed, meta, meta_rows, order, locators)
    shards = _write_docs(tmp, parsed, texts, order, meta, meta_rows)
    _write_images(tmp, parsed, order, sizes)
    encoded_bytes = _write_encoded(tmp, parsed, order) if encoded else None
    write_uid_index(tmp, sorted_uids)
    shas = [x for p in parsed for x in p["sha"]]
    digests = np.frombuffer(
        b"".join(content_digest(item_content(texts[k], shas[k])) for k in order),
        dtype=np.uint8,
    ).reshape(-1, 32)

    def train(out: Path) -> dict[str, Any]:
        from benchmark.pool.tokenizer import train_caption_tokenizer

        train_caption_tokenizer([texts[k] for k in order], VOCAB_SIZE, out)
        return {
            "type": "byte-level BPE",
            "vocab_size": VOCAB_SIZE,
            "name": "trained",
            "normalizer": "NFKC + lowercase",
            "pad_token": "<pad>",
            "eos_token": "</s>",
        }

    tok_record = install_tokenizer(tokenizer, tmp / TOKENIZER_DIR, "clip", train)
    evals = copy_evals(evals_from, tmp, "clip")
    if evals is not None:
        evals["overlap_checked"] = False  # the eval images are made, not crawled
    manifest = {
        "name": name,
        "version": IMPORT_VERSION,
        "track": "clip",
        "num_items": len(sorted_uids),
        "fingerprint": fingerprint(sorted_uids, digests),
        "external": {
            "format": "datacomp",
            "source": str(source),
            "metadata": meta_records,
            "num_metadata_rows": len(meta_uids),
            "num_not_downloaded": len(meta_uids) - len(sorted_uids),
            "uid_rule": "the sample's .json 'uid', else its key; 32 hex, in the metadata",
            "skipped_shards": skipped_shards(parsed),
        },
        "sources": [p["record"] for p in parsed],
        "tokenizer": tok_record,
        "evals": evals,
        "cache_resolutions": list(sizes),
        "encoded_images": None if encoded_bytes is None else {"num_bytes": encoded_bytes},
        "shards": shards,
        "build": {
            "engine": engine.name,
            "workers": engine.workers,
            "total_seconds": round(time.time() - t0, 1),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    }
    write_json(tmp / MANIFEST, manifest)
    log.info("imported %s: %d image-text pairs in %.0fs", name, len(sorted_uids), time.time() - t0)
    return manifest


def _captions(parsed, meta, meta_rows, order, locators) -> list[str]:
    """Each item's caption (original order): its ``.txt``, else the metadata's text."""
    captions = [c for p in parsed for c in p["caption"]]
    column = next((c for c in ("text", "caption") if c in meta.column_names), None)
    missing = [k for k, c in enumerate(captions) if c is None]
    if missing and column is None:
        raise PoolError(f"{locators[missing[0]]}: no caption (.txt, or a 'text' metadata column)")
    if missing:
        row_of = np.empty(len(order), dtype=np.int64)
        row_of[order] = meta_rows  # original item -> metadata row
        values = meta.column(column).take(row_of[missing]).to_pylist()
        for k, v in zip(missing, values, strict=True):
            if v is None:
                raise PoolError(f"{locators[k]}: no caption (.txt, or metadata {column!r})")
            captions[k] = str(v)
    return captions
