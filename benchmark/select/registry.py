"""The registry of selection methods and the one function that runs any of them."""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.errors import BenchError
from benchmark.io import write_json
from benchmark.pool.store import Pool
from benchmark.select.composition import composition, pool_labels
from benchmark.subset import write_uids

log = logging.getLogger(__name__)

Method = Callable[..., np.ndarray]


@dataclass(frozen=True)
class Registered:
    name: str
    func: Method
    track: str | None  # "lm" or "clip" when the method needs that kind of pool

    @property
    def options(self) -> dict[str, Any]:
        """Keyword options and their defaults (``seed`` included when it takes one)."""
        params = inspect.signature(self.func).parameters.values()
        return {p.name: p.default for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}

    @property
    def summary(self) -> str:
        return (inspect.getdoc(self.func) or "").split("\n\n")[0].replace("\n", " ")


METHODS: dict[str, Registered] = {}


def register(name: str, track: str | None = None) -> Callable[[Method], Method]:
    """Register ``func(pool, *, option=default, ...) -> rows`` under ``name``."""

    def add(func: Method) -> Method:
        if name in METHODS:
            raise ValueError(f"selection method {name!r} registered twice")
        METHODS[name] = Registered(name, func, track)
        return func

    return add


def describe() -> list[dict[str, Any]]:
    """Every method with its track, options and one-line summary (``bench select --list``)."""
    return [
        {"method": m.name, "track": m.track or "any", "options": m.options, "summary": m.summary}
        for m in METHODS.values()
    ]


def select(method: str, pool: Pool, out: Path, **options: Any) -> int:
    """Run ``method`` on ``pool`` with ``options``, write the subset to ``out`` and its
    provenance to ``out.meta.json``; return the subset's size."""
    if method not in METHODS:
        raise BenchError(f"unknown selection method {method!r}; valid: {', '.join(METHODS)}")
    entry = METHODS[method]
    if entry.track and entry.track != pool.track:
        raise BenchError(
            f"method {method} needs a {entry.track} pool; {pool.name} is a {pool.track} pool"
        )
    valid = entry.options
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise BenchError(
            f"method {method} has no option {unknown[0]!r}; "
            f"valid: {', '.join(valid) or 'none'} (see bench select --list)"
        )
    if "fraction" in options and not 0 < float(options["fraction"]) <= 1:
        raise BenchError(f"--fraction must be in (0, 1], got {options['fraction']}")
    start = time.perf_counter()
    rows = np.asarray(entry.func(pool, **options), dtype=np.int64)
    seconds = time.perf_counter() - start
    if len(rows) == 0:
        raise BenchError(f"method {method} selected nothing from pool {pool.name}")
    uids = np.sort(np.asarray(pool.uids)[rows])
    write_uids(out, uids)
    meta = {
        "method": method,
        "options": {**valid, **options},
        "pool": {"name": pool.name, "fingerprint": pool.fingerprint},
        "num_selected": int(len(uids)),
        "num_unique": int(len(np.unique(rows))),
        "num_pool": int(pool.num_items),
        "seconds": round(seconds, 2),
    }
    if any(pool_labels(pool)[1].values()):  # an embedded pool: what the subset keeps of each label
        meta["composition"] = composition(pool, rows)
    write_json(Path(f"{out}.meta.json"), meta)
    labels = meta.get("composition", {}).get("labels", {})
    shares = ", ".join(f"{k} {v['share']:.0%}" for k, v in labels.items())
    log.info(
        "%s: kept %d of %d items in %.1f s -> %s%s",
        method, len(uids), pool.num_items, seconds, out, f" (by label: {shares})" if shares else "",
    )  # fmt: skip
    return int(len(uids))
