"""What the external importers (:mod:`~benchmark.pool.importers.dclm`,
:mod:`~benchmark.pool.importers.datacomp`) share: finding and recording source shards,
uid order, and installing the pool's tokenizer and eval data.

The pool they write is the format of :mod:`benchmark.pool.format`, staged by
:mod:`benchmark.pool.writer`; :mod:`benchmark.pool.importers.external` is the entry point.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.errors import PoolError
from benchmark.io import sha256_file
from benchmark.pool.format import EVALS_DIR, MANIFEST, TOKENIZER_JSON, UID_DTYPE
from benchmark.pool.store import Pool, check_pool_name, pool_path
from benchmark.pool.uidindex import hex_to_halves

log = logging.getLogger(__name__)

IMPORT_VERSION = "1"  # the importer's output format; recorded as the pool's version
# In the staging folder: finished tasks' results (Engine.map's keep), so that a killed
# import run again resumes; each is dropped before the files its tasks wrote are consumed.
KEPT_READ, KEPT_SORT, KEPT_WRITE = ".kept-read", ".kept-sort", ".kept-write"
KEPT_TOK = ".kept-tokenize"
KEPT_META = ".kept-metadata"

BUCKET_SHARDS = 20  # docs shards per bucket of the reorder: a write task holds 1M items


def forget(kept: Path) -> None:
    """Drop a folder of kept task results."""
    shutil.rmtree(kept, ignore_errors=True)


def resume_key(*parts: Any, source: Path) -> str:
    """What fixes an import: its options and every source file's path, size and mtime."""
    files = sorted(
        (p.relative_to(source).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
        for p in source.rglob("*")
        if p.is_file()
    )
    return hashlib.sha256(json.dumps([[str(x) for x in parts], files]).encode()).hexdigest()


def find_shards(source: Path, suffixes: tuple[str, ...], what: str) -> list[Path]:
    """Files under ``source`` ending in one of ``suffixes``, by relative path."""
    found = sorted(
        (p for p in source.rglob("*") if p.is_file() and p.name.endswith(suffixes)),
        key=lambda p: p.relative_to(source).as_posix(),
    )
    if not found:
        raise PoolError(f"no {what} ({', '.join('*' + s for s in suffixes)}) under {source}")
    return found


def shard_record(path: Path, source: Path) -> dict[str, Any]:
    """A source shard as the manifest lists it (``name`` is its path under the source)."""
    return {
        "name": path.relative_to(source).as_posix(),
        "quality": None,
        "sha256": sha256_file(path),
        "bytes": path.stat().st_size,
    }


def skipped_shards(parsed: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The shards an import with ``--skip-bad-shards`` left out, and why (for the manifest)."""
    return [
        {"name": p["record"]["name"], "error": p["record"]["skipped"]}
        for p in parsed
        if "skipped" in p["record"]
    ]


def uid_order(uids: np.ndarray) -> np.ndarray:
    """The permutation that sorts ``S32`` uids (via their 128-bit halves)."""
    hi, lo, _ = hex_to_halves(np.ascontiguousarray(uids).view(np.uint8).reshape(len(uids), 32))
    return np.lexsort((lo, hi))


def first_repeat(sorted_uids: np.ndarray) -> int | None:
    """Position of the first uid equal to the next one in a sorted array, or None."""
    same = np.flatnonzero(sorted_uids[1:] == sorted_uids[:-1])
    return int(same[0]) if len(same) else None


def bucket_bounds(sorted_uids: np.ndarray, rows: int) -> np.ndarray:
    """Each bucket's first uid after the first: a bucket is :data:`BUCKET_SHARDS` docs
    shards of ``rows`` items, so buckets written one after another give the docs shards."""
    per = BUCKET_SHARDS * rows
    return sorted_uids[per::per]


def cut_into_buckets(table, uids: np.ndarray, bounds: np.ndarray, path: Path) -> dict[int, int]:
    """The reorder's first pass, on one part: ``table`` (whose rows have the ``S32`` uids
    ``uids``) sorted by uid and cut at ``bounds`` into the row groups of the parquet file
    ``path``; which row group holds which bucket."""
    import pyarrow.parquet as pq

    order = uid_order(uids) if len(uids) else np.zeros(0, dtype=np.int64)
    table, uids = table.take(order), uids[order]
    edges = [0, *np.searchsorted(uids, bounds).tolist(), len(uids)]
    groups: dict[int, int] = {}
    with pq.ParquetWriter(path, table.schema) as w:
        for b, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
            if hi > lo:
                groups[b] = len(groups)
                w.write_table(table.slice(lo, hi - lo), row_group_size=hi - lo)
    return groups


def bucket_part(task: tuple[str, int, np.ndarray]) -> dict[int, int]:
    """The reorder's first pass, on one read shard's part ``parse-NNNNNN.parquet`` in the
    staging folder: :func:`cut_into_buckets` into ``bucket-NNNNNN.parquet`` (run in a
    worker process)."""
    import pyarrow.parquet as pq

    tmp, index, bounds = task
    table = pq.read_table(Path(tmp) / f"parse-{index:06d}.parquet")
    uids = np.array(table.column("uid").to_pylist(), dtype=UID_DTYPE)
    return cut_into_buckets(table, uids, bounds, Path(tmp) / f"bucket-{index:06d}.parquet")


def drop_parts(tmp: Path, num_parts: int, num_meta: int = 0) -> None:
    """Remove the reorder's files: each read shard's part and buckets, each metadata
    file's buckets."""
    for i in range(num_parts):
        (tmp / f"parse-{i:06d}.parquet").unlink()
        (tmp / f"bucket-{i:06d}.parquet").unlink()
    for i in range(num_meta):
        (tmp / f"meta-{i:06d}.parquet").unlink()


def bucket_sources(groups: list[dict[int, int]], bucket: int) -> list[tuple[int, int]]:
    """``(part, row group)`` of every part's rows in ``bucket``."""
    return [(i, g[bucket]) for i, g in enumerate(groups) if bucket in g]


def read_bucket(paths: list[Path], sources: list[tuple[int, int]]):
    """The reorder's second pass reads a bucket: its row groups from every part, as one
    table sorted by uid, and the uids."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.concat_tables(pq.ParquetFile(paths[i]).read_row_group(g) for i, g in sources)
    uids = np.char.lower(np.array(table.column("uid").to_pylist(), dtype=UID_DTYPE))
    order = uid_order(uids)
    return table.take(order), uids[order]


def tokenizer_name(path: Path) -> str:
    """``ORG/NAME`` for a Hugging Face cache folder, else the folder's name."""
    for part in reversed(path.parts):
        if part.startswith("models--"):
            return part.removeprefix("models--").replace("--", "/")
    return path.name


OPENAI_CLIP = "openai-clip"  # the tokenizer open_clip's built-in configs (ViT-B-32, ...) expect


def check_tokenizer(spec: str, track: str) -> None:
    """Refuse a ``--tokenizer`` that :func:`install_tokenizer` cannot install, in one line
    and before any shard is read."""
    if spec == "train":
        return
    path = Path(spec).expanduser()
    if spec == OPENAI_CLIP:
        if track != "clip":
            raise PoolError(f"--tokenizer {OPENAI_CLIP} is a caption tokenizer: clip pools only")
    elif path.is_dir():
        if not (path / TOKENIZER_JSON).is_file():
            raise PoolError(f"--tokenizer {spec}: no {TOKENIZER_JSON} in that folder")
    elif (pool_path(spec) / MANIFEST).is_file():
        src = Pool(pool_path(spec))
        if src.track != track:
            raise PoolError(f"--tokenizer {spec}: a {src.track} pool; need a {track} pool's")
    else:
        raise PoolError(
            f"--tokenizer {spec!r} is neither 'train', '{OPENAI_CLIP}', a folder with a "
            f"{TOKENIZER_JSON}, nor a built pool"
        )


def install_tokenizer(spec: str, out: Path, track: str, train: Callable[[Path], dict]) -> dict:
    """Put the pool's tokenizer in ``out``: trained (``train``), a built pool's, or a
    folder's; return the manifest's ``tokenizer`` record."""
    check_tokenizer(spec, track)
    shutil.rmtree(out, ignore_errors=True)  # a resumed import's earlier attempt
    if spec == "train":
        return {**train(out), "from": "trained on the pool"}
    path = Path(spec).expanduser()
    if spec == OPENAI_CLIP:
        from benchmark.pool.tokenizer import openai_clip_tokenizer

        openai_clip_tokenizer(out)
        record = {"from": "OpenAI CLIP's BPE, from open_clip's wheel", "name": OPENAI_CLIP}
    elif path.is_dir():
        shutil.copytree(path, out)
        record = {"from": f"folder {path.resolve()}", "name": tokenizer_name(path.resolve())}
    else:  # a built pool of the track (check_tokenizer)
        src = Pool(pool_path(spec))
        shutil.copytree(src.tokenizer_dir, out)
        record = {**src.manifest.get("tokenizer", {}), "from": f"pool {spec}", "name": spec}
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(out))
    if tok.eos_token_id is None:
        raise PoolError(f"--tokenizer {spec}: the tokenizer has no end-of-text (eos) token")
    return {**record, "vocab_size": len(tok), "eos_token": tok.eos_token}


def check_evals_from(evals_from: str | None, track: str) -> None:
    """Refuse an ``--evals-from`` that is not a built ``track`` pool with eval data."""
    if evals_from is None:
        return
    check_pool_name(evals_from)
    if not (pool_path(evals_from) / MANIFEST).is_file():
        raise PoolError(
            f"--evals-from {evals_from}: pool not built; run `bench pool build {evals_from}`"
        )
    src = Pool(pool_path(evals_from))
    if src.track != track or not src.evals_dir.is_dir():
        raise PoolError(f"--evals-from {evals_from}: not a {track} pool with eval data")


def copy_evals(evals_from: str | None, tmp: Path, track: str) -> dict | None:
    """Copy a built pool's eval data into ``tmp/evals``; its manifest record."""
    if evals_from is None:
        log.warning(
            "no --evals-from: the pool has no eval data, so `bench train` will fail when it "
            "evaluates; import again with --evals-from %s",
            "text-default" if track == "lm" else "image-default",
        )
        return None
    check_evals_from(evals_from, track)
    src = Pool(pool_path(evals_from))
    shutil.rmtree(tmp / EVALS_DIR, ignore_errors=True)  # a resumed import's earlier attempt
    shutil.copytree(src.evals_dir, tmp / EVALS_DIR)
    return {"from": evals_from, "fingerprint": src.fingerprint, "items": src.manifest.get("evals")}
