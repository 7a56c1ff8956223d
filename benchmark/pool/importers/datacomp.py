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

**Flow.** Each tar is read by its own task (:mod:`~benchmark.pool.importers.datacomp_tars`);
each metadata file is cut into uid-range buckets by its own task; each bucket's task then
joins its samples with their metadata rows and writes its docs shards. No process holds more
than a shard, a metadata file or a bucket.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.engine import Engine
from benchmark.errors import PoolError
from benchmark.io import sha256_file, write_json
from benchmark.pool import writer
from benchmark.pool.format import (
    MANIFEST,
    TOKENIZER_DIR,
    UID_DTYPE,
    content_digest,
    fingerprint,
    item_content,
)
from benchmark.pool.importers import common
from benchmark.pool.importers.common import (
    IMPORT_VERSION,
    KEPT_META,
    KEPT_READ,
    KEPT_SORT,
    KEPT_WRITE,
    bucket_bounds,
    bucket_part,
    bucket_sources,
    copy_evals,
    cut_into_buckets,
    drop_parts,
    find_shards,
    first_repeat,
    forget,
    install_tokenizer,
    read_bucket,
    skipped_shards,
    uid_order,
)
from benchmark.pool.importers.datacomp_tars import (
    HEX32,
    locate_sample,
    read_tar,
    write_encoded,
    write_images,
)
from benchmark.pool.writer import write_docs, write_uid_index

log = logging.getLogger(__name__)

VOCAB_SIZE = 4096  # as image-default's caption tokenizer
_OWN_COLUMNS = ("uid", "text", "source", "locator", "url", "image_sha256", "width", "height")


def _metadata_schema(files: list[Path]):
    """The metadata files' unified schema and records, from their footers alone (a file
    that is not parquet, or has no ``uid`` column, fails here, before any shard is read)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schemas, records = [], []
    for f in files:
        try:
            meta = pq.ParquetFile(f).metadata
        except (pa.ArrowException, OSError) as err:  # not parquet, truncated, or damaged
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise PoolError(
                f"{f}: not a readable parquet file ({first}); pass --metadata with DataComp's "
                "metadata parquet files"
            ) from None
        schema = meta.schema.to_arrow_schema()
        if "uid" not in schema.names:
            raise PoolError(f"{f}: no 'uid' column (columns: {', '.join(schema.names)})")
        schemas.append(schema.remove_metadata())
        records.append({"name": str(f), "sha256": sha256_file(f), "num_rows": meta.num_rows})
    try:
        schema = pa.unify_schemas(schemas, promote_options="default")
    except pa.ArrowException as err:
        raise PoolError(f"metadata: the files' columns do not agree ({err})") from None
    return schema, records


def metadata_part(task: tuple[str, int, str, Any, np.ndarray]) -> dict[int, int]:
    """The reorder's first pass, on one metadata file: its rows in the unified schema
    (plus the file's number), uids checked and lower-cased, cut into the buckets of
    ``meta-NNNNNN.parquet`` (run in a worker process)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp, index, path, schema, bounds = task
    table = pq.read_table(path)
    columns = [
        table.column(f.name).cast(f.type)
        if f.name in table.column_names
        else pa.nulls(len(table), f.type)
        for f in schema
    ]
    table = pa.table(columns, schema=schema)
    raw = table.column("uid").to_pylist()
    for row, u in enumerate(raw):
        if not isinstance(u, str) or not HEX32.match(u):
            raise PoolError(f"{path}: uid {u!r} (row {row}) is not 32 hex characters")
    uids = np.char.lower(np.array(raw, dtype=UID_DTYPE))
    i = table.schema.get_field_index("uid")
    table = table.set_column(i, pa.field("uid", pa.string()), pa.array(uids.astype(str)))
    table = table.append_column("__file", pa.array(np.full(len(table), index, np.int32)))
    return cut_into_buckets(table, uids, bounds, Path(tmp) / f"meta-{index:06d}.parquet")


def write_bucket(task: tuple) -> dict[str, Any]:
    """The reorder's second pass, on one bucket: its samples and its metadata rows from
    every part, joined on uid, written as the docs shards from ``first`` on; the items'
    content digests (uid order) and the samples not in the metadata (run in a worker
    process)."""
    import pyarrow as pa

    tmp, sources, meta_sources, num_parts, meta_files, first, rows = task
    tmp = Path(tmp)
    own, uids = read_bucket([tmp / f"bucket-{i:06d}.parquet" for i in range(num_parts)], sources)
    paths = [tmp / f"meta-{i:06d}.parquet" for i in range(len(meta_files))]
    meta, meta_uids = read_bucket(paths, meta_sources)
    rep = first_repeat(meta_uids)
    if rep is not None:
        which = meta.column("__file").to_pylist()[rep : rep + 2]
        raise PoolError(
            f"metadata: uid {meta_uids[rep].decode()} appears twice "
            f"({meta_files[which[0]]}, {meta_files[which[1]]}); pass --metadata to choose the files"
        )
    pos = np.minimum(np.searchsorted(meta_uids, uids), max(len(meta_uids) - 1, 0))
    absent = np.flatnonzero(meta_uids[pos] != uids) if len(meta_uids) else np.arange(len(uids))
    if len(absent):
        return {"absent": len(absent), "first_absent": uids[absent[0]], "names": []}
    meta = meta.take(pos)
    keys = own.column("key").to_pylist()
    texts = own.column("text").to_pylist()
    column = next((c for c in ("text", "caption") if c in meta.column_names), None)
    values = meta.column(column).to_pylist() if column else None
    for k, text in enumerate(texts):
        if text is None:
            where = f"{own.column('source')[k].as_py()}: sample {keys[k]}"
            if values is None:
                raise PoolError(f"{where}: no caption (.txt, or a 'text' metadata column)")
            if values[k] is None:
                raise PoolError(f"{where}: no caption (.txt, or metadata {column!r})")
            texts[k] = str(values[k])
    own = own.drop_columns(["key"]).set_column(1, "text", pa.array(texts, pa.string()))
    for name in meta.column_names:
        if name not in _OWN_COLUMNS and name != "__file":
            own = own.append_column(name, meta.column(name))
    shas = own.column("image_sha256").to_pylist()
    digests = b"".join(content_digest(item_content(t, h)) for t, h in zip(texts, shas, strict=True))
    return {
        "absent": 0,
        "digests": np.frombuffer(digests, dtype=np.uint8).reshape(-1, 32),
        "names": write_docs(tmp, own, first=first, rows=rows),
    }


def _metadata_files(source: Path, metadata: Path | None) -> list[Path]:
    if metadata is None:
        return find_shards(source, (".parquet",), "parquet metadata")
    metadata = Path(metadata)
    if metadata.is_file():
        return [metadata]
    if metadata.is_dir():
        return find_shards(metadata, (".parquet",), "parquet metadata")
    raise PoolError(f"--metadata {metadata} does not exist")


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
    meta_files = _metadata_files(source, metadata)
    meta_schema, meta_records = _metadata_schema(meta_files)
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
    order = uid_order(uids)
    sorted_uids = uids[order]
    rep = first_repeat(sorted_uids)
    if rep is not None:
        a, b = sorted(order[rep : rep + 2].tolist())
        raise PoolError(
            f"repeated uid {sorted_uids[rep].decode()} at {locate_sample(tmp, parsed, a)} and "
            f"{locate_sample(tmp, parsed, b)}"
        )
    num_meta = sum(r["num_rows"] for r in meta_records)
    shards, digests, absent = _write_docs(tmp, engine, parsed, meta_files, meta_schema, sorted_uids)
    if absent is not None:
        count, uid = absent
        k = int(order[np.searchsorted(sorted_uids, uid)])
        raise PoolError(
            f"{locate_sample(tmp, parsed, k)}: uid {uid.decode()} is not in the metadata "
            f"({count} samples are not; {num_meta} metadata rows)"
        )
    write_images(tmp, parsed, order, sizes)
    encoded_bytes = write_encoded(tmp, parsed, order) if encoded else None
    drop_parts(tmp, len(parsed), len(meta_files))
    write_uid_index(tmp, sorted_uids)

    def train(out: Path) -> dict[str, Any]:
        import pyarrow.parquet as pq

        from benchmark.pool.tokenizer import train_caption_tokenizer

        texts = (
            t
            for name in shards
            for t in pq.read_table(tmp / name, columns=["text"]).column("text").to_pylist()
        )
        train_caption_tokenizer(texts, VOCAB_SIZE, out, length=len(sorted_uids))
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
            "num_metadata_rows": num_meta,
            "num_not_downloaded": num_meta - len(sorted_uids),
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


def _write_docs(tmp, engine, parsed, meta_files, meta_schema, sorted_uids):
    """The docs shards in uid order, streaming as the DCLM importer's reorder does, each
    sample joined with its metadata row: the shards' names and the items' content digests
    (uid order), and ``(count, first uid)`` of the samples not in the metadata (or None).
    No process
    holds more than a shard, a metadata file or a bucket."""
    rows = writer.SHARD_ROWS  # read here, where a test may have changed it
    bounds = bucket_bounds(sorted_uids, rows)
    tasks = [(str(tmp), i, bounds) for i in range(len(parsed))]
    groups = engine.map(bucket_part, tasks, "sort shards", keep=tmp / KEPT_SORT)
    tasks = [(str(tmp), i, str(f), meta_schema, bounds) for i, f in enumerate(meta_files)]
    weights = [f.stat().st_size for f in meta_files]
    meta_groups = engine.map(
        metadata_part, tasks, "sort metadata", weights, unit="B", keep=tmp / KEPT_META
    )
    files = [str(f) for f in meta_files]
    tasks = [
        (
            str(tmp),
            bucket_sources(groups, b),
            bucket_sources(meta_groups, b),
            len(parsed),
            files,
            b * common.BUCKET_SHARDS,
            rows,
        )
        for b in range(len(bounds) + 1)
    ]
    per = common.BUCKET_SHARDS * rows
    sizes = [min(per, len(sorted_uids) - b * per) for b in range(len(tasks))]
    out = engine.map(write_bucket, tasks, "write docs", sizes, unit="pair", keep=tmp / KEPT_WRITE)
    for kept in (KEPT_READ, KEPT_SORT, KEPT_META, KEPT_WRITE):  # before the parts go: a
        forget(tmp / kept)  # resumed import then reads the shards again
    absent = [r for r in out if r["absent"]]
    if absent:
        return [], None, (sum(r["absent"] for r in absent), absent[0]["first_absent"])
    names = [n for r in out for n in r["names"]]
    return names, np.concatenate([r["digests"] for r in out]), None
