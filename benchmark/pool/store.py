"""The pool reader: :class:`Pool` over a built pool directory, and where pools live.

A pool is ``$BENCH_HOME/pools/<name>/`` in the format of :mod:`benchmark.pool.format`
(which names every file); it is written by :mod:`benchmark.pool.writer`, so it is
either complete or absent.

    pool = open_pool("text-default")
    rows = pool.lookup(uids)          # row of each S32 uid, -1 where absent
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.errors import PoolError
from benchmark.paths import pools_dir
from benchmark.pool.format import (
    DOCS_GLOB,
    EVALS_DIR,
    MANIFEST,
    MANIFEST_KEYS,
    OFFSETS,
    TOKENIZER_DIR,
    TOKENS,
    UIDS,
)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def check_pool_name(name: str) -> None:
    """A pool name is a folder name under ``$BENCH_HOME/pools``: no path, no spaces."""
    if not _NAME.match(name):
        raise PoolError(
            f"pool name {name!r} must be letters, digits, '.', '_' or '-' (at most 100, "
            "starting with a letter or digit)"
        )


def read_manifest(
    path: Path, where: str | None = None, fix: str = "rebuild or re-import the pool"
) -> dict[str, Any]:
    """A pool's manifest (:data:`MANIFEST`), checked to be an object with :data:`MANIFEST_KEYS`;
    errors name it as ``where`` (default: its path) and end with ``fix``."""
    where = where or str(path)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PoolError(f"{path.parent} is not a built pool (no {MANIFEST})") from None
    except (ValueError, OSError) as exc:  # JSONDecodeError and UnicodeDecodeError included
        raise PoolError(f"{where} is not valid JSON ({exc}); {fix}") from None
    if not isinstance(manifest, dict):
        raise PoolError(f"{where} is not a JSON object; {fix}")
    missing = [k for k in MANIFEST_KEYS if k not in manifest]
    if missing:
        raise PoolError(f"{where} lacks {missing[0]!r}; {fix}")
    return manifest


class Pool:
    """Read access to a built pool directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.manifest: dict[str, Any] = read_manifest(root / MANIFEST)

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def track(self) -> str:
        return self.manifest["track"]

    @property
    def fingerprint(self) -> str:
        return self.manifest["fingerprint"]

    @property
    def num_items(self) -> int:
        return int(self.manifest["num_items"])

    @cached_property
    def uids(self) -> np.ndarray:
        """The sorted uid index, ``S32``, memory-mapped."""
        return np.load(self.root / UIDS, mmap_mode="r")

    @cached_property
    def offsets(self) -> np.ndarray:
        return np.load(self.root / OFFSETS, mmap_mode="r")

    @cached_property
    def tokens(self) -> np.ndarray:
        return np.load(self.root / TOKENS, mmap_mode="r")

    def token_counts(self) -> np.ndarray:
        """Tokens per item, in uid order."""
        return np.diff(np.asarray(self.offsets))

    def lookup(self, uids: np.ndarray) -> np.ndarray:
        """Row index of each uid (``S32`` array); -1 where the uid is not in the pool."""
        index = self.uids
        pos = np.searchsorted(index, uids)
        pos = np.minimum(pos, len(index) - 1)
        found = index[pos] == uids
        return np.where(found, pos, -1)

    def shard_paths(self) -> list[Path]:
        return sorted(self.root.glob(DOCS_GLOB))

    def read_table(self, columns: list[str] | None = None):
        """The pool's items as one pyarrow table, in uid order."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        return pa.concat_tables(pq.read_table(p, columns=columns) for p in self.shard_paths())

    @property
    def tokenizer_dir(self) -> Path:
        return self.root / TOKENIZER_DIR

    def load_tokenizer(self):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(self.tokenizer_dir))

    @property
    def evals_dir(self) -> Path:
        return self.root / EVALS_DIR

    def summary(self) -> dict[str, Any]:
        m = self.manifest
        return {
            "name": m["name"],
            "version": m["version"],
            "track": m["track"],
            "path": str(self.root),
            "num_items": m["num_items"],
            "num_tokens": m.get("num_tokens"),
            "fingerprint": m["fingerprint"],
            "sources": m["sources"],
            "stats": m.get("stats", {}),
        }


def pool_path(name: str) -> Path:
    return pools_dir() / name


def open_pool(name: str) -> Pool:
    """The built pool ``name``; a clear error says how to build it when it is missing."""
    check_pool_name(name)
    root = pool_path(name)
    if not (root / MANIFEST).is_file():
        raise PoolError(f"pool {name!r} is not built; run `bench pool build {name}`")
    return Pool(root)
