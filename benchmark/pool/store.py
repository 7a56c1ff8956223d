"""The on-disk pool format and its reader.

A built pool is a directory under ``$BENCH_HOME/pools/<name>/``:

- ``manifest.json``: name, version, track, ``num_items``, ``fingerprint`` (sha256 over
  the sorted uids and their content hashes), sources with package, version, sha256 and
  licence, and build statistics;
- ``docs-NNNNN.parquet``: the items, sorted by uid (row i of the concatenated shards is
  the i-th smallest uid): ``uid``, ``text``, ``source``, ``locator`` and metadata;
- ``uids.npy``: the sorted uids as ``S32`` (32 lowercase hex characters), the index a
  subset is checked against with a binary search;
- ``uids128.npy``: the same uids as ``(2, N)`` uint64 high and low halves, the fast
  index for large subsets (:mod:`benchmark.pool.uidindex`);
- ``tokenizer/``: the track's tokenizer (``save_pretrained`` format);
- ``tokens.npy`` + ``offsets.npy``: every item tokenized once (uint16 ids, concatenated in
  uid order; item i is ``tokens[offsets[i]:offsets[i+1]]``), so a subset is a gather;
- ``evals/``: the eval data built with the pool (never part of it).

The directory is written under a temporary name and renamed, so a pool is either
complete or absent.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.errors import PoolError
from benchmark.paths import pools_dir

UID_DTYPE = "S32"
MANIFEST = "manifest.json"
# what every manifest holds (the readers index these directly)
MANIFEST_KEYS = ("name", "version", "track", "num_items", "fingerprint", "sources")
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
    """A pool's ``manifest.json``, checked to be an object with :data:`MANIFEST_KEYS`;
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


def make_uid(source: str, locator: str, text: str) -> str:
    """A stable 32-hex uid from an item's source, locator and content."""
    payload = f"{source}\n{locator}\n{text}".encode()
    return hashlib.sha256(payload).hexdigest()[:32]


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(uids: list[str], hashes: list[str]) -> str:
    """sha256 over ``uid content_hash`` lines in uid order."""
    h = hashlib.sha256()
    for uid, ch in sorted(zip(uids, hashes, strict=True)):
        h.update(f"{uid} {ch}\n".encode())
    return h.hexdigest()


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
        return np.load(self.root / "uids.npy", mmap_mode="r")

    @cached_property
    def offsets(self) -> np.ndarray:
        return np.load(self.root / "offsets.npy", mmap_mode="r")

    @cached_property
    def tokens(self) -> np.ndarray:
        return np.load(self.root / "tokens.npy", mmap_mode="r")

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
        return sorted(self.root.glob("docs-*.parquet"))

    def read_table(self, columns: list[str] | None = None):
        """The pool's items as one pyarrow table, in uid order."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        return pa.concat_tables(pq.read_table(p, columns=columns) for p in self.shard_paths())

    @property
    def tokenizer_dir(self) -> Path:
        return self.root / "tokenizer"

    def load_tokenizer(self):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(self.tokenizer_dir))

    @property
    def evals_dir(self) -> Path:
        return self.root / "evals"

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
