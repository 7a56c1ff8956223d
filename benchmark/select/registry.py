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
    pool_only: bool = True  # its subset follows from the pool and the options alone
    label: Callable[[dict[str, Any]], str] | None = None  # its subsets' name, from options

    @property
    def options(self) -> dict[str, Any]:
        """Keyword options and their defaults (``seed`` included when it takes one)."""
        params = inspect.signature(self.func).parameters.values()
        return {p.name: p.default for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}

    @property
    def summary(self) -> str:
        return (inspect.getdoc(self.func) or "").split("\n\n")[0].replace("\n", " ")


METHODS: dict[str, Registered] = {}


def register(
    name: str,
    track: str | None = None,
    *,
    pool_only: bool = True,
    label: Callable[[dict[str, Any]], str] | None = None,
) -> Callable[[Method], Method]:
    """Register ``func(pool, *, option=default, ...) -> rows`` under ``name``.
    ``pool_only=False``: the method also reads files outside the pool (a model), so the
    leaderboard keeps its subsets' uid files rather than the method and options.
    ``label(options)``: what to call a subset of it when the options make it another
    subset in kind (``sources`` with ``qualities=[junk]`` is ``junk-only``)."""

    def add(func: Method) -> Method:
        if name in METHODS:
            raise ValueError(f"selection method {name!r} registered twice")
        METHODS[name] = Registered(name, func, track, pool_only, label)
        return func

    return add


def describe() -> list[dict[str, Any]]:
    """Every method with its track, options and one-line summary (``bench select --list``)."""
    return [
        {"method": m.name, "track": m.track or "any", "options": m.options, "summary": m.summary}
        for m in METHODS.values()
    ]


def _option(method: str, key: str, value: Any, default: Any) -> Any:
    """``value`` as option ``key`` takes it: of its default's type (a whole number for an
    int, any number for a float, a list of names for a tuple), else a one-line error."""
    where = f"option {key} of method {method}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise BenchError(f"{where} must be true or false, got {value!r}")
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise BenchError(f"{where} must be a whole number, got {value!r}")
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BenchError(f"{where} must be a number, got {value!r}")
        value = float(value)
    elif isinstance(default, str):
        if not isinstance(value, str):
            raise BenchError(f"{where} must be text, got {value!r} (quote it: {key}='...')")
    elif isinstance(default, tuple):
        if isinstance(value, str):
            value = tuple(v for v in value.split(",") if v)
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise BenchError(f"{where} must be a list of names, e.g. [a, b], got {value!r}")
        value = tuple(value)
    return value


def check_options(method: str, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` checked against ``method``'s signature (names, types, the common ranges),
    a whole number given for a float option made a float; cheap, so the CLI checks them
    before it opens or builds the pool."""
    from benchmark.config import check_seed

    if method not in METHODS:
        raise BenchError(f"unknown selection method {method!r}; valid: {', '.join(METHODS)}")
    valid = METHODS[method].options
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise BenchError(
            f"method {method} has no option {unknown[0]!r}; "
            f"valid: {', '.join(valid) or 'none'} (see bench select --list)"
        )
    options = {k: _option(method, k, v, valid[k]) for k, v in options.items()}
    if "fraction" in options and not 0 < options["fraction"] <= 1:
        raise BenchError(f"--fraction must be in (0, 1], got {options['fraction']}")
    if "seed" in options:
        check_seed(options["seed"])
    return options


def meta_path(out: Path) -> Path:
    """Where ``select`` writes the provenance of the subset file ``out``."""
    return Path(f"{out}.meta.json")


def read_meta(out: Path) -> dict[str, Any] | None:
    """The provenance ``select`` wrote beside ``out``; None if there is none (or it is not
    one this harness wrote)."""
    import json

    try:
        meta = json.loads(meta_path(out).read_text(encoding="utf-8"))
        ok = isinstance(meta["method"], str) and isinstance(meta["options"], dict)
        ok = ok and isinstance(meta["pool"]["fingerprint"], str) and meta["num_selected"] >= 1
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        return None
    return meta if ok else None


def subset_method(file: str | None, num_uids: int) -> dict[str, Any] | None:
    """What made a run's subset, for its entry: ``{"name", "options", "label"}`` from the
    file's provenance (the whole pool: ``all``); None when no ``bench select`` record
    matches the file (another tool wrote it, or it changed since)."""
    if not file:
        return {"name": "all", "options": {}, "label": "all"}
    meta = read_meta(Path(file))
    if meta is None or meta["num_selected"] != num_uids:
        return None
    name, options = meta["method"], meta["options"]
    registered = METHODS.get(name)
    label = registered.label(options) if registered and registered.label else name
    return {"name": name, "options": options, "label": label}


def select(method: str, pool: Pool, out: Path, *, engine=None, **options: Any) -> int:
    """Run ``method`` on ``pool`` with ``options`` (its passes over the items on
    ``engine``, default this process), write the subset to ``out`` and its provenance to
    ``out.meta.json``; return the subset's size. The subset does not depend on the engine."""
    from benchmark.select.scan import using
    from benchmark.subset import check_output

    options = check_options(method, options)
    check_output(out)
    entry = METHODS[method]
    if entry.track and entry.track != pool.track:
        raise BenchError(
            f"method {method} needs a {entry.track} pool; {pool.name} is a {pool.track} pool"
        )
    valid = entry.options
    start = time.perf_counter()
    with using(engine, keep=out.with_name(f".{out.name}.scan")):
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
    write_json(meta_path(out), meta)
    labels = meta.get("composition", {}).get("labels", {})
    shares = ", ".join(f"{k} {v['share']:.0%}" for k, v in labels.items())
    log.info(
        "%s: kept %d of %d items in %.1f s -> %s%s",
        method, len(uids), pool.num_items, seconds, out, f" (by label: {shares})" if shares else "",
    )  # fmt: skip
    return int(len(uids))
