"""Baseline selection methods: plain functions registered by name.

A method takes the pool and its options and returns the pool rows it keeps (repeats
allowed). ``select`` runs one and writes the uids, sorted, to a subset file.

    rows = METHODS["random"](pool, fraction=0.5, seed=0)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmark.errors import BenchError
from benchmark.pool.store import Pool
from benchmark.subset import write_uids

log = logging.getLogger(__name__)

Method = Callable[..., np.ndarray]


def select_all(pool: Pool, **_: object) -> np.ndarray:
    """No filtering: every item once."""
    return np.arange(pool.num_items, dtype=np.int64)


def select_random(pool: Pool, *, fraction: float = 0.5, seed: int = 0, **_: object) -> np.ndarray:
    """A uniformly random ``fraction`` of the pool, without replacement, seeded."""
    num = round(pool.num_items * fraction)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(pool.num_items, size=num, replace=False))


def select_sources(
    pool: Pool,
    *,
    sources: tuple[str, ...] = (),
    qualities: tuple[str, ...] = (),
    exclude: bool = False,
    **_: object,
) -> np.ndarray:
    """Items of the named sources, or of the given quality labels (``good``, ``reference``,
    ``junk``); with ``exclude``, everything else. Quality is a source's label in a text
    pool's manifest, and a caption kind's label (``caption_kinds``) in an image-text pool.

    An oracle, not a curation method: it exists to measure how far the benchmark
    separates a known-good from a known-bad subset.
    """
    known = {s["name"]: s.get("quality") for s in pool.manifest["sources"]}
    unknown = sorted(set(sources) - set(known))
    if unknown:
        raise BenchError(
            f"unknown source {unknown[0]!r}; sources of {pool.name}: {', '.join(sorted(known))}"
        )
    kinds = pool.manifest.get("caption_kinds")  # image-text pools label items, not sources
    labelled = kinds if kinds else known
    labels = {q for q in labelled.values() if q}
    bad = sorted(set(qualities) - labels)
    if bad:
        raise BenchError(f"unknown quality {bad[0]!r}; valid: {', '.join(sorted(labels))}")
    if not sources and not qualities:
        raise BenchError("method sources needs --sources NAME,... or --quality LABEL,...")
    column = pool.read_table(["source"]).column("source").to_numpy(zero_copy_only=False)
    keep = np.isin(column, sorted(sources))
    if qualities:
        chosen = sorted(n for n, q in labelled.items() if q in qualities)
        key = "caption_kind" if kinds else "source"
        values = pool.read_table([key]).column(key).to_numpy(zero_copy_only=False)
        keep |= np.isin(values, chosen)
    return np.flatnonzero(~keep if exclude else keep).astype(np.int64)


METHODS: dict[str, Method] = {
    "all": select_all,
    "random": select_random,
    "sources": select_sources,
}


def select(
    method: str, pool: Pool, out: Path, *, fraction: float = 0.5, seed: int = 0, **options: object
) -> int:
    """Run ``method`` on ``pool`` and write the subset to ``out``; return its size."""
    if method not in METHODS:
        raise BenchError(f"unknown selection method {method!r}; valid: {', '.join(METHODS)}")
    if not 0 < fraction <= 1:
        raise BenchError(f"--fraction must be in (0, 1], got {fraction}")
    rows = METHODS[method](pool, fraction=fraction, seed=seed, **options)
    if len(rows) == 0:
        raise BenchError(f"method {method} selected nothing from pool {pool.name}")
    uids = np.sort(np.asarray(pool.uids)[rows])
    write_uids(out, uids)
    log.info("%s: kept %d of %d items -> %s", method, len(uids), pool.num_items, out)
    return int(len(uids))
