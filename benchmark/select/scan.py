"""One pass over a pool's items, shard by shard, on the selection's engine.

    values = scan(pool, fn, ["text"], "gopher", *args)   # fn(columns, start_row, *args)

``fn`` runs once per docs shard on that shard's columns (``{name: list}``) and the pool row
its shard starts at, and returns one array (usually a value per row); ``scan`` returns
the arrays concatenated in pool order. The selection methods are such a pass (what needs
each item's text: hashes, rule verdicts, scores) followed by a step on the driver over
the small per-row values (keep the first of each hash, the top fraction), so they stream
through a pool shard by shard and run unchanged on this machine or on a Ray cluster
(``bench select --engine ray``); the subset is the same either way, since the values come
back in pool order whatever finishes first. ``fn`` must be a module-level function.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.engine import Engine
from benchmark.pool.store import Pool

_ENGINE: ContextVar[Engine | None] = ContextVar("engine", default=None)  # None: this process
_KEEP: ContextVar[Path | None] = ContextVar("keep", default=None)


@contextmanager
def using(engine: Engine | None, keep: Path | None = None) -> Iterator[None]:
    """Run the scans inside the block on ``engine`` (None: this process), keeping each
    finished shard's values in ``keep``: a selection killed outright and run again
    resumes at the first unfinished shard. ``keep`` is removed when the block ends,
    unless the process is killed."""
    tokens = _ENGINE.set(engine), _KEEP.set(keep)
    try:
        yield
    finally:
        _ENGINE.reset(tokens[0])
        _KEEP.reset(tokens[1])
        if keep is not None:
            shutil.rmtree(keep, ignore_errors=True)


@contextmanager
def shared_dir() -> Iterator[Path]:
    """A folder the scan's tasks can read (a model a method trained, say): the kept
    results' folder beside the subset being written (on a cluster, a shared file system,
    as the pool is), else a temporary one. Big inputs go to tasks as a path here, not as
    an argument every task would copy."""
    keep = _KEEP.get()
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp:
        yield Path(tmp)


def share(folder: Path, name: str, array: np.ndarray) -> tuple[str, str]:
    """Save ``array`` in ``folder`` (a :func:`shared_dir`) for the scan's tasks; its path
    and sha256, which the tasks pass to :func:`shared` (the digest makes a kept result
    belong to this array)."""
    from benchmark.io import sha256_file

    path = folder / f"{name}.npy"
    np.save(path, np.ascontiguousarray(array))
    return str(path), sha256_file(path)


_SHARED: dict[str, np.ndarray] = {}  # per process: the arrays of the last scans, mapped


def shared(path: str, digest: str) -> np.ndarray:
    """The array :func:`share` saved, memory-mapped once a process."""
    if digest not in _SHARED:
        if len(_SHARED) >= 4:
            _SHARED.clear()
        _SHARED[digest] = np.load(path, mmap_mode="r")
    return _SHARED[digest]


def rows_in(rows: np.ndarray, start: int, count: int) -> np.ndarray:
    """The sorted ``rows`` that fall in a shard starting at pool row ``start``."""
    lo, hi = np.searchsorted(rows, [start, start + count])
    return np.asarray(rows[lo:hi])


def scan(
    pool: Pool, fn: Callable[..., np.ndarray], columns: Sequence[str], desc: str, *args: Any
) -> np.ndarray:
    """``fn(columns, start_row, *args)`` over every docs shard, in pool order."""
    import pyarrow.parquet as pq

    paths = pool.shard_paths()
    counts = [pq.ParquetFile(p).metadata.num_rows for p in paths]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int).tolist()
    tasks = [(str(p), tuple(columns), s, fn, args) for p, s in zip(paths, starts, strict=True)]
    engine = _ENGINE.get() or Engine()
    parts = engine.map(_scan_shard, tasks, desc, counts, unit="doc", keep=_KEEP.get())
    return np.concatenate(parts)


def _scan_shard(task: tuple) -> np.ndarray:
    import pyarrow.parquet as pq

    path, columns, start, fn, args = task
    table = pq.read_table(path, columns=list(columns))
    return fn({c: table.column(c).to_pylist() for c in columns}, start, *args)
