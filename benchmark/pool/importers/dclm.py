"""Import a DCLM-style text pool: jsonl shards, one document a line.

    bench pool import my-dclm --format dclm --source DIR [--workers N] [--tokenizer train]

``DIR`` holds ``*.jsonl``, ``*.jsonl.zst`` or ``*.jsonl.zstd`` files (any depth; DCLM's
``global-shard_XX_of_10/local-shard_Y_of_10/shard_NNNNNNNN_processed.jsonl.zst``
layout works as it is). Each non-blank line is a JSON object with a ``text`` string.

**uid rule.** The id is the first of these fields a record has: ``uid``, ``id``,
``metadata.WARC-Record-ID`` (DCLM-Pool's Common Crawl record id), ``WARC-Record-ID``,
``url``; ``--id-field a.b`` names one instead (then every record must have it). An id
of 32 hex characters is the uid itself (lower-cased); any other id's uid is the first
32 hex characters of the sha256 of its UTF-8 text (:func:`benchmark.pool.format.uid_of_id`),
e.g. for DCLM-Pool::

    uid = hashlib.sha256(record["metadata"]["WARC-Record-ID"].encode()).hexdigest()[:32]

A record with none of those fields takes the sha256 of its ``text``. Two records with
one uid are an error (deduplicate first, or choose another ``--id-field``).

The pool's items are the documents as they are (no chunking: DCLM trains on whole
documents); the docs shards keep ``uid``, ``text``, ``source`` (the shard's path),
``locator`` (``shard:line``), ``url``, ``num_words``, ``num_chars``, ``language`` (a
cheap guess) and ``meta`` (the rest of the record as JSON, e.g. DCLM's classifier
scores), for selection methods to read.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.engine import Engine
from benchmark.errors import PoolError
from benchmark.io import write_json
from benchmark.pool import textmeta, writer
from benchmark.pool.format import (
    EVALS_DIR,
    MANIFEST,
    OFFSETS,
    TOKENIZER_DIR,
    TOKENIZER_JSON,
    TOKENS,
    UID_DTYPE,
    content_digest,
    fingerprint,
    item_content,
    uid_of_id,
)
from benchmark.pool.importers import common
from benchmark.pool.importers.common import (
    IMPORT_VERSION,
    KEPT_READ,
    KEPT_SORT,
    KEPT_TOK,
    KEPT_WRITE,
    bucket_bounds,
    bucket_part,
    bucket_sources,
    copy_evals,
    drop_parts,
    find_shards,
    first_repeat,
    forget,
    install_tokenizer,
    read_bucket,
    shard_record,
    skipped_shards,
    uid_order,
)
from benchmark.pool.writer import write_docs, write_uid_index

log = logging.getLogger(__name__)

SUFFIXES = (".jsonl", ".jsonl.zst", ".jsonl.zstd")
ID_FIELDS = ("uid", "id", "metadata.WARC-Record-ID", "WARC-Record-ID", "url")
VOCAB_SIZE = 8192  # as text-default's tokenizer
TOKENIZER_SAMPLE_BYTES = 8_000_000  # as text-default: the first items in uid order
NGRAM = 13  # eval overlap check, as text-default


def _docs_schema():
    import pyarrow as pa

    strings = ("uid", "text", "source", "locator", "url")
    return pa.schema(
        [(k, pa.string()) for k in strings]
        + [("num_words", pa.int64()), ("num_chars", pa.int64())]
        + [("language", pa.string()), ("meta", pa.string())]
    )


def _field(record: dict, dotted: str) -> Any:
    value: Any = record
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _lines(path: Path):
    """``(line number, bytes)`` of a jsonl shard, decompressing ``.zst`` as it reads."""
    with open(path, "rb") as raw:
        if path.name.endswith((".zst", ".zstd")):
            import zstandard

            reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
            stream = io.BufferedReader(reader)
        else:
            stream = raw
        yield from enumerate(stream, 1)


def _stream_errors() -> tuple[type[BaseException], ...]:
    import zstandard

    return (OSError, EOFError, zstandard.ZstdError)


def _parse(path: Path, fields: tuple[str, ...], id_field: str | None):
    """A shard's columns, content digests and where its uids came from; a PoolError names
    the first line that cannot be read."""
    cols: dict[str, list] = {k: [] for k in ("uid", "text", "url", "meta", "lineno")}
    digests, id_from = [], Counter()
    try:
        for lineno, line in _lines(path):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as err:
                raise PoolError(f"{path}:{lineno}: malformed JSON line ({err})") from None
            text = rec.get("text") if isinstance(rec, dict) else None
            if not isinstance(text, str):
                keys = ", ".join(sorted(rec)) if isinstance(rec, dict) else type(rec).__name__
                raise PoolError(f"{path}:{lineno}: no 'text' string field (has: {keys})")
            key = next((f for f in fields if _field(rec, f) not in (None, "")), None)
            if key is None and id_field:
                raise PoolError(f"{path}:{lineno}: no {id_field!r} field (--id-field)")
            id_from[key or "text"] += 1
            digest = content_digest(item_content(text))
            cols["uid"].append(uid_of_id(_field(rec, key)) if key else digest.hex()[:32])
            cols["text"].append(text)
            cols["url"].append(str(rec.get("url") or _field(rec, "metadata.WARC-Target-URI") or ""))
            rest = {k: v for k, v in rec.items() if k != "text"}
            cols["meta"].append(json.dumps(rest, ensure_ascii=False, sort_keys=True))
            cols["lineno"].append(lineno)
            digests.append(digest)
    except _stream_errors() as err:
        raise PoolError(f"{path}: cannot be read ({err})") from None
    return cols, digests, id_from


def read_shard(task: tuple[str, str, str, int, str | None, bool]) -> dict[str, Any]:
    """Parse one shard into ``parse-NNNNNN.parquet`` in the staging folder; return its
    uids, content digests, line numbers and record (run in a worker process). With
    ``skip_bad``, a shard that cannot be read is imported as empty and its record says why."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source, rel, tmp, index, id_field, skip_bad = task
    path = Path(source) / rel
    skipped = None
    try:
        cols, digests, id_from = _parse(path, (id_field,) if id_field else ID_FIELDS, id_field)
    except PoolError as err:
        if not skip_bad:
            raise
        skipped = str(err)
        cols, digests, id_from = {k: [] for k in ("uid", "text", "url", "meta", "lineno")}, [], {}
    lines = cols.pop("lineno")
    table = pa.table(
        {
            **{k: cols[k] for k in ("uid", "text")},
            "source": [rel] * len(lines),
            "locator": [f"{rel}:{n}" for n in lines],
            "url": cols["url"],
            "num_words": [len(t.split()) for t in cols["text"]],
            "num_chars": [len(t) for t in cols["text"]],
            "language": [textmeta.guess_language(t) for t in cols["text"]],
            "meta": cols["meta"],
        },
        schema=_docs_schema(),
    )
    pq.write_table(table, Path(tmp) / f"parse-{index:06d}.parquet", compression="zstd")
    record = {**shard_record(path, Path(source)), "num_items": len(lines)}
    return {
        "record": record if skipped is None else {**record, "skipped": skipped},
        "uids": np.array(cols["uid"], dtype=UID_DTYPE),
        "digests": np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, 32),
        "lines": np.array(lines, dtype=np.int64),
        "id_from": dict(id_from),
    }


_EVAL_GRAMS: dict[int, list[set[int]]] = {}  # per process: eval texts' n-grams, computed once


def tokenize_shard(task: tuple[str, str, str, list[str] | None]) -> dict[str, Any]:
    """Tokenize one docs shard into ``tokens-NNNNN.npy``; lengths, and the eval items
    sharing an n-gram with it (run in a worker process)."""
    import pyarrow.parquet as pq
    from tokenizers import Tokenizer

    docs, tokenizer_json, out, eval_texts = task
    texts = pq.read_table(docs, columns=["text"]).column("text").to_pylist()
    tok = Tokenizer.from_file(tokenizer_json)
    dtype = np.uint16 if tok.get_vocab_size(with_added_tokens=True) <= 1 << 16 else np.uint32
    parts, lengths = [], np.zeros(len(texts), dtype=np.int64)
    for start in range(0, len(texts), 4096):
        encs = tok.encode_batch(texts[start : start + 4096], add_special_tokens=False)
        for i, enc in enumerate(encs):
            parts.append(np.asarray(enc.ids, dtype=dtype))
            lengths[start + i] = len(enc.ids)
    np.save(out, np.concatenate(parts) if parts else np.zeros(0, dtype=dtype))
    hits: list[int] = []
    if eval_texts:
        key = hash(tuple(eval_texts))
        if key not in _EVAL_GRAMS:
            _EVAL_GRAMS[key] = [textmeta.ngrams(t, NGRAM) for t in eval_texts]
        grams = _EVAL_GRAMS[key]
        wanted = set().union(*grams)
        seen: set[int] = set()
        for text in texts:
            seen |= textmeta.ngrams(text, NGRAM) & wanted
        hits = [i for i, g in enumerate(grams) if g & seen]
    return {"lengths": lengths, "eval_hits": hits}


def _eval_texts(evals_dir: Path) -> list[str]:
    """Every eval item's text, one string per item (as text-default's check reads them)."""
    texts = []
    for path in sorted(evals_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            fields = [str(row.get(k, "")) for k in ("context", "text", "word")]
            texts.append("\n".join([*fields, *map(str, row.get("choices", []))]))
    return texts


def write_bucket(task: tuple[str, list[tuple[int, int]], int, int, int]) -> list[str]:
    """The reorder's second pass, on one bucket: its row groups from every shard, sorted by
    uid, written as the docs shards from ``first`` on (run in a worker process)."""
    tmp, sources, num_parts, first, rows = task
    paths = [Path(tmp) / f"bucket-{i:06d}.parquet" for i in range(num_parts)]
    table, _ = read_bucket(paths, sources)
    return write_docs(Path(tmp), table, first=first, rows=rows)


def _write_docs(tmp: Path, engine: Engine, num_parts: int, sorted_uids: np.ndarray) -> list[str]:
    """The parsed shards as the docs shards in uid order, streaming: each shard is sorted
    and cut into buckets (:func:`~benchmark.pool.importers.common.bucket_bounds`), then each
    bucket is gathered, sorted and written; no process holds more than a shard or a bucket."""
    rows = writer.SHARD_ROWS  # read here, where a test may have changed it
    bounds = bucket_bounds(sorted_uids, rows)
    tasks = [(str(tmp), i, bounds) for i in range(num_parts)]
    groups = engine.map(bucket_part, tasks, "sort shards", keep=tmp / KEPT_SORT)
    tasks = [
        (str(tmp), bucket_sources(groups, b), num_parts, b * common.BUCKET_SHARDS, rows)
        for b in range(len(bounds) + 1)
    ]
    per = common.BUCKET_SHARDS * rows
    sizes = [min(per, len(sorted_uids) - b * per) for b in range(len(tasks))]
    names = engine.map(write_bucket, tasks, "write docs", sizes, unit="doc", keep=tmp / KEPT_WRITE)
    for kept in (KEPT_READ, KEPT_SORT, KEPT_WRITE):  # before the parts go: a resumed import
        forget(tmp / kept)  # then reads the shards again
    drop_parts(tmp, num_parts)
    return [n for part in names for n in part]


def _train_tokenizer(tmp: Path, shards: list[str]):
    import pyarrow.parquet as pq

    from benchmark.pool.tokenizer import EOS, train_tokenizer

    def train(out: Path) -> dict[str, Any]:
        sample, size = [], 0
        for name in shards:
            for text in pq.read_table(tmp / name, columns=["text"]).column("text").to_pylist():
                if size >= TOKENIZER_SAMPLE_BYTES:
                    break
                sample.append(text)
                size += len(text.encode())
        train_tokenizer(sample, VOCAB_SIZE, out)
        return {
            "type": "byte-level BPE",
            "vocab_size": VOCAB_SIZE,
            "sample_bytes": size,
            "eos_token": EOS,
            "name": "trained",
        }

    return train


def _tokenize(tmp: Path, shards: list[str], engine: Engine, eval_texts: list[str] | None):
    """The token cache from the docs shards (a task each); token count per item and the
    eval items found in the pool."""
    import pyarrow.parquet as pq

    tasks = [
        (
            str(tmp / name),
            str(tmp / TOKENIZER_DIR / TOKENIZER_JSON),
            str(tmp / f"tokens-{k:05d}.npy"),
            eval_texts,
        )
        for k, name in enumerate(shards)
    ]
    sizes = [pq.ParquetFile(tmp / name).metadata.num_rows for name in shards]
    results = engine.map(tokenize_shard, tasks, "tokenize", sizes, unit="doc", keep=tmp / KEPT_TOK)
    lengths = np.concatenate([r["lengths"] for r in results])
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    first = np.load(tasks[0][2], mmap_mode="r")
    tokens = np.lib.format.open_memmap(tmp / TOKENS, "w+", first.dtype, (int(offsets[-1]),))
    pos = 0
    forget(tmp / KEPT_TOK)  # the parts go: a resumed import tokenizes again
    for task in tasks:
        part = np.load(task[2], mmap_mode="r")
        tokens[pos : pos + len(part)] = part
        pos += len(part)
        del part
        Path(task[2]).unlink()
    tokens.flush()
    del tokens
    np.save(tmp / OFFSETS, offsets)
    hits = sorted({i for r in results for i in r["eval_hits"]})
    return lengths, hits, str(first.dtype)


def import_dclm(
    name: str,
    source: Path,
    tmp: Path,
    engine: Engine,
    tokenizer: str,
    evals_from: str | None,
    id_field: str | None,
    skip_bad: bool = False,
) -> dict[str, Any]:
    """Build the pool into the staging folder ``tmp``; return its manifest."""
    t0 = time.time()
    files = find_shards(source, SUFFIXES, "jsonl shards")
    tasks = [
        (str(source), f.relative_to(source).as_posix(), str(tmp), i, id_field, skip_bad)
        for i, f in enumerate(files)
    ]
    parsed = engine.map(
        read_shard,
        tasks,
        "read shards",
        keep=tmp / KEPT_READ,
        unit="B",
        weights=[f.stat().st_size for f in files],
    )
    uids = np.concatenate([p["uids"] for p in parsed])
    for p in parsed:
        if "skipped" in p["record"]:
            log.warning("skipped %s", p["record"]["skipped"])
    if len(uids) == 0:
        raise PoolError(f"the shards under {source} hold no documents")
    order = uid_order(uids)
    sorted_uids = uids[order]
    rep = first_repeat(sorted_uids)
    if rep is not None:
        shard = np.repeat(np.arange(len(parsed)), [len(p["uids"]) for p in parsed])
        lines = np.concatenate([p["lines"] for p in parsed])
        a, b = sorted(order[rep : rep + 2].tolist())
        where = [f"{parsed[shard[k]]['record']['name']}:{lines[k]}" for k in (a, b)]
        raise PoolError(
            f"repeated uid {sorted_uids[rep].decode()} at {where[0]} and {where[1]} "
            f"(same id or, without one, same text); deduplicate or pass --id-field"
        )
    digests = np.concatenate([p["digests"] for p in parsed])[order]
    t_read = time.time() - t0
    shards = _write_docs(tmp, engine, len(parsed), sorted_uids)
    write_uid_index(tmp, sorted_uids)
    tok_record = install_tokenizer(
        tokenizer, tmp / TOKENIZER_DIR, "lm", _train_tokenizer(tmp, shards)
    )
    evals = copy_evals(evals_from, tmp, "lm")
    eval_texts = _eval_texts(tmp / EVALS_DIR) if evals else None
    lengths, hits, dtype = _tokenize(tmp, shards, engine, eval_texts)
    if evals is not None:
        evals["contaminated_items_13gram"] = len(hits)
        if hits:
            log.warning("%d eval items share a %d-gram with the pool", len(hits), NGRAM)
    source_of = np.repeat(np.arange(len(parsed)), [len(p["uids"]) for p in parsed])[order]
    per_source = np.bincount(source_of, weights=lengths, minlength=len(parsed))
    records = [
        {**p["record"], "num_tokens": int(n)} for p, n in zip(parsed, per_source, strict=True)
    ]
    import pyarrow.parquet as pq

    languages: Counter = Counter()
    for s in shards:
        languages.update(
            pq.read_table(tmp / s, columns=["language"]).column("language").to_pylist()
        )
    manifest = {
        "name": name,
        "version": IMPORT_VERSION,
        "track": "lm",
        "num_items": len(sorted_uids),
        "num_tokens": int(lengths.sum()),
        "fingerprint": fingerprint(sorted_uids, digests),
        "external": {
            "format": "dclm",
            "source": str(source),
            "uid_rule": f"first of {', '.join([id_field] if id_field else ID_FIELDS)}: "
            "a 32-hex id as it is, else sha256(id)[:32]; no id: sha256(text)[:32]",
            "uids_from": dict(sum((Counter(p["id_from"]) for p in parsed), Counter())),
            "skipped_shards": skipped_shards(parsed),
        },
        "sources": records,
        "tokenizer": {**tok_record, "token_dtype": dtype},
        "evals": evals,
        "stats": {"languages": dict(languages.most_common())},
        "shards": shards,
        "build": {
            "engine": engine.name,
            "workers": engine.workers,
            "read_seconds": round(t_read, 1),
            "total_seconds": round(time.time() - t0, 1),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    }
    write_json(tmp / MANIFEST, manifest)
    log.info(
        "imported %s: %d documents, %d tokens in %.0fs",
        name,
        len(sorted_uids),
        manifest["num_tokens"],
        time.time() - t0,
    )
    return manifest
