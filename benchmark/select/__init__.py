"""Baseline selection methods: plain functions registered by name.

A method takes the pool and its keyword options and returns the pool rows it keeps
(repeats allowed). ``select`` runs one, writes the uids, sorted, to a subset file, and
beside it ``FILE.meta.json``: method, options, seed, pool fingerprint and counts, so a
subset can be audited and remade.

    n = select("minhash-dedup", pool, Path("subset.txt"), seed=0, threshold=0.8)

Methods live in one module per kind of data: ``basic`` (any pool), ``text`` (text
pools), ``image`` (image-text pools); ``bench select --list`` prints them all.
"""

from __future__ import annotations

from benchmark.select import basic, image, text  # noqa: F401  (they register their methods)
from benchmark.select.registry import METHODS, check_options, describe, select

__all__ = ["METHODS", "check_options", "describe", "select"]
