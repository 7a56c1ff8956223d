"""Write a pool directory atomically: shards, uid index, payload files, manifest.

The caller hands over items already sorted by uid and a callback that writes the
track-specific payload (tokenizer, token cache, evals) into the temporary directory and
returns extra manifest fields. The directory is renamed into place only when complete.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.io import write_json
from benchmark.pool.store import MANIFEST, UID_DTYPE
from benchmark.pool.uidindex import write_index128

SHARD_ROWS = 50_000


def write_shards(tmp: Path, items: list[dict[str, Any]]) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = []
    for k, start in enumerate(range(0, len(items), SHARD_ROWS)):
        table = pa.Table.from_pylist(items[start : start + SHARD_ROWS])
        name = f"docs-{k:05d}.parquet"
        pq.write_table(table, tmp / name, compression="zstd")
        names.append(name)
    return names


def write_pool_dir(
    dest: Path,
    items: list[dict[str, Any]],
    manifest: dict[str, Any],
    build_payload: Callable[[Path], dict[str, Any]],
) -> dict[str, Any]:
    """Write ``items`` and the payload to ``dest``; return the final manifest."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        t0 = time.time()
        shards = write_shards(tmp, items)
        uids = np.array([it["uid"] for it in items], dtype=UID_DTYPE)
        np.save(tmp / "uids.npy", uids)
        write_index128(tmp, uids)
        manifest = {**manifest, **build_payload(tmp), "shards": shards}
        manifest["build"] = {
            **manifest.get("build", {}),
            "write_seconds": round(time.time() - t0, 1),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        write_json(tmp / MANIFEST, manifest)
        if dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return manifest
