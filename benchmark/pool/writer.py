"""Write a pool directory: staged in a temporary folder beside it, renamed into place.

Every builder and importer writes through :func:`staging`, so a pool is either complete
or absent: the folder is renamed onto the destination only when the block that fills it
succeeds (an existing pool is moved aside first and removed after), and removed on any
error. :func:`write_docs` and :func:`write_uid_index` write the files every pool has,
named by :mod:`benchmark.pool.format`; :func:`write_pool_dir` is the whole write for the
embedded builders, who hand over items already sorted by uid and a callback that writes
the track's payload (tokenizer, token cache, evals) and returns extra manifest fields.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.io import write_json
from benchmark.pool.format import MANIFEST, SHARD_ROWS, UID_DTYPE, UIDS, docs_name
from benchmark.pool.uidindex import write_index128


@contextmanager
def scratch(parent: Path, prefix: str) -> Iterator[Path]:
    """A temporary folder in ``parent`` (readable by all: a pool is shared data), removed
    on exit."""
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    tmp.chmod(0o755)  # mkdtemp makes it private
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def replace_dir(src: Path, dest: Path) -> None:
    """Rename ``src`` onto ``dest`` (same file system), moving an existing ``dest`` aside
    first and removing it after."""
    old = dest.with_name(f".{dest.name}.old")
    if dest.exists():
        shutil.rmtree(old, ignore_errors=True)
        dest.rename(old)
    src.rename(dest)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def staging(dest: Path, resume_key: str | None = None) -> Iterator[Path]:
    """A temporary folder beside ``dest``, renamed onto it on success, removed on failure.

    With ``resume_key`` (what fixes the build: its inputs and options) the folder is
    ``.<name>.resume-<key>``: a build killed outright leaves it, and the same build run
    again finds it and keeps the work its finished tasks recorded (``Engine.map``'s
    ``keep``); an error still removes it."""
    if resume_key is None:
        with scratch(dest.parent, f".{dest.name}.") as tmp:
            yield tmp
            replace_dir(tmp, dest)
        return
    tmp = dest.parent / f".{dest.name}.resume-{resume_key[:16]}"
    tmp.mkdir(parents=True, exist_ok=True)
    tmp.chmod(0o755)
    try:
        yield tmp
        replace_dir(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_docs(
    tmp: Path, table, order: np.ndarray | None = None, first: int = 0, rows: int | None = None
) -> list[str]:
    """The docs shards of the pyarrow ``table`` (its rows in uid order, or taken in
    ``order``), ``rows`` (default :data:`SHARD_ROWS`) a shard, numbered from ``first``;
    their names."""
    rows = rows or SHARD_ROWS
    import pyarrow.parquet as pq

    names = []
    num_rows = len(table) if order is None else len(order)
    for k, start in enumerate(range(0, num_rows, rows)):
        stop = start + rows
        part = table.slice(start, rows) if order is None else table.take(order[start:stop])
        pq.write_table(part, tmp / docs_name(first + k), compression="zstd")
        names.append(docs_name(first + k))
    return names


def write_uid_index(tmp: Path, sorted_uids: np.ndarray) -> None:
    """The uid index files for uids already sorted."""
    uids = np.asarray(sorted_uids, dtype=UID_DTYPE)
    np.save(tmp / UIDS, uids)
    write_index128(tmp, uids)


def write_pool_dir(
    dest: Path,
    items: list[dict[str, Any]],
    manifest: dict[str, Any],
    build_payload: Callable[[Path], dict[str, Any]],
) -> dict[str, Any]:
    """Write ``items`` (sorted by uid) and the payload to ``dest``; return the manifest."""
    import pyarrow as pa

    with staging(dest) as tmp:
        t0 = time.time()
        shards = write_docs(tmp, pa.Table.from_pylist(items))
        write_uid_index(tmp, np.array([it["uid"] for it in items], dtype=UID_DTYPE))
        manifest = {**manifest, **build_payload(tmp), "shards": shards}
        manifest["build"] = {
            **manifest.get("build", {}),
            "write_seconds": round(time.time() - t0, 1),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        write_json(tmp / MANIFEST, manifest)
    return manifest
