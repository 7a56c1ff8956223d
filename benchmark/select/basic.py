"""Methods for any pool: everything, a random share, and the source/quality oracle."""

from __future__ import annotations

import numpy as np

from benchmark.errors import BenchError
from benchmark.pool.store import Pool
from benchmark.select.composition import pool_labels
from benchmark.select.registry import register


@register("all")
def select_all(pool: Pool) -> np.ndarray:
    """No filtering: every item once."""
    return np.arange(pool.num_items, dtype=np.int64)


@register("random")
def select_random(pool: Pool, *, fraction: float = 0.5, seed: int = 0) -> np.ndarray:
    """A uniformly random ``fraction`` of the pool, without replacement, seeded."""
    num = round(pool.num_items * fraction)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(pool.num_items, size=num, replace=False))


def _sources_label(options: dict) -> str:
    """``junk-only`` (qualities=[junk]), ``no-junk`` (the same with exclude), likewise for
    sources."""
    names = "+".join([*options.get("sources", ()), *options.get("qualities", ())])
    return f"no-{names}" if options.get("exclude") else f"{names}-only"


@register("sources", label=_sources_label)
def select_sources(
    pool: Pool,
    *,
    sources: tuple[str, ...] = (),
    qualities: tuple[str, ...] = (),
    exclude: bool = False,
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
    key, labelled = pool_labels(pool)  # image-text pools label caption kinds, not sources
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
        values = pool.read_table([key]).column(key).to_numpy(zero_copy_only=False)
        keep |= np.isin(values, chosen)
    return np.flatnonzero(~keep if exclude else keep).astype(np.int64)
