"""Subsets: what a researcher submits, read from ``.txt``, ``.npy`` or ``.parquet``.

- ``.txt``: one uid (32 hex characters) a line; blank lines and ``#`` comments ignored;
- ``.npy``: DataComp's structured ``u8,u8`` array (a 128-bit uid split into two unsigned
  64-bit halves, in any order) or an array of uid strings;
- ``.parquet``: a ``uid`` column.

A repeated uid means upsampling. Validation is strict and names what is wrong and
where. A subset's sha256 is over its sorted uids, repeats included, so it does not
depend on the file's format or order.

    subset = load_subset(Path("my.npy"), pool)
    subset.rows, subset.sha256
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.errors import SubsetError
from benchmark.pool.store import UID_DTYPE, Pool

_HEX32 = re.compile(r"^[0-9a-f]{32}$")
FORMATS = (".txt", ".npy", ".parquet")


@dataclass(frozen=True)
class Subset:
    """A validated subset of a pool: pool row indices (repeats kept) and its hashes."""

    file: str
    pool: str
    rows: np.ndarray  # (N,) int64 pool row index of every uid, file order, repeats kept
    sha256: str
    num_unique: int

    @property
    def num_uids(self) -> int:
        return int(len(self.rows))


def _read_txt(path: Path) -> np.ndarray:
    uids = []
    for lineno, line in enumerate(
        path.read_text(encoding="utf-8", errors="replace").splitlines(), 1
    ):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        s = s.lower()
        if not _HEX32.match(s):
            shown = s if len(s) <= 40 else s[:37] + "..."
            raise SubsetError(f"{path}: line {lineno}: {shown!r} is not a 32-hex uid")
        uids.append(s)
    return np.array(uids, dtype=UID_DTYPE)


def _from_halves(arr: np.ndarray) -> np.ndarray:
    a, b = (arr[name].astype(np.uint64) for name in arr.dtype.names[:2])
    return np.array(
        [f"{x:016x}{y:016x}" for x, y in zip(a.tolist(), b.tolist(), strict=True)], dtype=UID_DTYPE
    )


def _check_strings(path: Path, uids: np.ndarray) -> np.ndarray:
    uids = np.char.lower(np.char.strip(uids.astype(UID_DTYPE if uids.dtype.kind == "S" else str)))
    uids = uids.astype(UID_DTYPE) if uids.dtype.kind == "U" else uids
    for i, u in enumerate(uids.tolist()):
        s = u.decode() if isinstance(u, bytes) else u
        if not _HEX32.match(s):
            raise SubsetError(f"{path}: element {i}: {s!r} is not a 32-hex uid")
    return uids


def _read_npy(path: Path) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise SubsetError(
            f"{path}: not a plain .npy array ({exc}); save uids as strings or u8,u8"
        ) from None
    arr = np.ravel(arr)
    names = arr.dtype.names
    if names and len(names) == 2 and all(arr.dtype[n].kind in "ui" for n in names):
        return _from_halves(arr)
    if arr.dtype.kind in "US":
        return _check_strings(path, arr)
    raise SubsetError(
        f"{path}: dtype {arr.dtype} is not a uid array; "
        "use DataComp's structured 'u8,u8' or strings"
    )


def _read_parquet(path: Path) -> np.ndarray:
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    if "uid" not in schema.names:
        raise SubsetError(f"{path}: no 'uid' column (columns: {', '.join(schema.names)})")
    col = pq.read_table(path, columns=["uid"]).column("uid").to_pylist()
    if any(not isinstance(u, str) for u in col):
        raise SubsetError(f"{path}: column 'uid' must hold strings")
    return _check_strings(path, np.array(col, dtype=str))


def read_uids(path: Path) -> np.ndarray:
    """The uids in ``path`` (``S32``, file order, repeats kept), format checked."""
    path = Path(path)
    if not path.is_file():
        raise SubsetError(f"subset file {path} does not exist")
    suffix = path.suffix.lower()
    readers = {".txt": _read_txt, ".npy": _read_npy, ".parquet": _read_parquet}
    if suffix not in readers:
        raise SubsetError(
            f"{path}: unknown subset format {suffix!r}; use one of {', '.join(FORMATS)}"
        )
    uids = readers[suffix](path)
    if len(uids) == 0:
        raise SubsetError(f"{path}: the subset is empty")
    return uids


def subset_sha256(uids: np.ndarray) -> str:
    """sha256 over the sorted uids, one per line, repeats included."""
    return hashlib.sha256(b"\n".join(np.sort(uids).tolist()) + b"\n").hexdigest()


def load_subset(path: Path, pool: Pool) -> Subset:
    """Read and validate ``path`` against ``pool``."""
    uids = read_uids(path)
    rows = pool.lookup(uids)
    missing = np.flatnonzero(rows < 0)
    if len(missing):
        first = uids[missing[0]].decode()
        if len(missing) == len(uids):
            raise SubsetError(
                f"{path}: none of its {len(uids)} uids are in pool {pool.name} (first: {first}); "
                "was it made for another pool?"
            )
        raise SubsetError(
            f"{path}: {len(missing)} uids are not in pool {pool.name} (first: {first})"
        )
    return Subset(
        file=str(path),
        pool=pool.name,
        rows=rows.astype(np.int64),
        sha256=subset_sha256(uids),
        num_unique=int(len(np.unique(rows))),
    )


def whole_pool(pool: Pool) -> Subset:
    """The "no filtering" baseline: every item once."""
    rows = np.arange(pool.num_items, dtype=np.int64)
    return Subset(
        file="",
        pool=pool.name,
        rows=rows,
        sha256=subset_sha256(np.asarray(pool.uids)),
        num_unique=pool.num_items,
    )


def num_tokens(subset: Subset, pool: Pool) -> int:
    """Tokens the subset covers (repeats counted), from the pool's token cache."""
    return int(pool.token_counts()[subset.rows].sum())


def write_uids(path: Path, uids: np.ndarray) -> None:
    """Write uids (``S32``) to ``path`` in the format its suffix names, atomically."""
    from benchmark.io import atomic_path

    suffix = path.suffix.lower()
    with atomic_path(path) as tmp:
        if suffix == ".txt":
            tmp.write_bytes(b"".join(u + b"\n" for u in uids.tolist()))
        elif suffix == ".npy":
            halves = np.array(
                [(int(u[:16], 16), int(u[16:], 16)) for u in uids.tolist()], dtype="u8,u8"
            )
            with open(tmp, "wb") as f:
                np.save(f, halves)
        elif suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table({"uid": [u.decode() for u in uids.tolist()]}), tmp)
        else:
            raise SubsetError(
                f"{path}: unknown subset format {suffix!r}; use one of {', '.join(FORMATS)}"
            )
