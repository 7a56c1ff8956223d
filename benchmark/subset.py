"""Subsets: what a researcher submits, read from ``.txt``, ``.npy`` or ``.parquet``.

- ``.txt``: one uid (32 hex characters) a line; blank lines and ``#`` comments ignored;
- ``.npy``: DataComp's structured ``u8,u8`` array (a 128-bit uid split into two unsigned
  64-bit halves, high half first, in any row order) or an array of uid strings;
- ``.parquet``: a ``uid`` column.

A repeated uid means upsampling. Validation is strict and names what is wrong and
where. A subset's sha256 is over its sorted uids, repeats included, so it does not
depend on the file's format or order.

    subset = load_subset(Path("my.npy"), pool)     # rows, for training
    subset.rows, subset.sha256
    check = check_subset(Path("my.npy"), pool)     # counts and hashes only

Files are read in chunks of ``CHUNK`` uids (``.npy`` memory-mapped, ``.txt`` in blocks,
``.parquet`` by batches), each chunk is converted to 128-bit integers and looked up in
the pool's integer index (:mod:`benchmark.pool.uidindex`), and a per-pool-item count
(one byte per item, wider only if a uid repeats more than 255 times) accumulates the
subset; the hash and the token count are then streamed from the sorted index. So
``check_subset`` needs memory for one chunk and the counts, whatever the subset's size;
``load_subset`` adds the rows themselves (8 bytes per uid), which training needs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.errors import SubsetError
from benchmark.pool.format import OFFSETS, UID_DTYPE
from benchmark.pool.store import Pool
from benchmark.pool.uidindex import UidIndex, halves_to_hex, hex_to_halves

FORMATS = (".txt", ".npy", ".parquet")
CHUNK = 1 << 19  # uids read and looked up at a time
_DIGEST_BLOCK = 1 << 20  # pool rows hashed at a time
_RECORD = 33  # one uid and its newline, the unit of a subset's sha256

Halves = tuple[np.ndarray, np.ndarray]  # (n,) uint64 high and low halves of n uids


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


@dataclass(frozen=True)
class SubsetCheck:
    """What ``bench subset check`` reports: a subset's size and hash, without its rows."""

    file: str
    pool: str
    num_uids: int
    num_unique: int
    num_tokens: int | None  # None for pools without a token cache (image-text)
    sha256: str


def _bad(path: Path, where: str, value: bytes | str) -> SubsetError:
    s = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value
    s = s.strip().lower()
    shown = s if len(s) <= 40 else s[:37] + "..."
    return SubsetError(f"{path}: {where}: {shown!r} is not a 32-hex uid")


def _from_strings(path: Path, values: list, first: int, what: str = "element") -> Halves:
    """The slow path: uid strings with stray case or whitespace, checked one by one."""
    clean = []
    for i, v in enumerate(values):
        s = (v.decode("utf-8", errors="replace") if isinstance(v, bytes) else str(v)).strip()
        if len(s) != 32 or not s.isascii():
            raise _bad(path, f"{what} {first + i}", s)
        clean.append(s.encode())
    chars = np.frombuffer(b"".join(clean), dtype=np.uint8).reshape(len(clean), 32)
    return _checked(path, chars, lambda i: f"{what} {first + i}")


def _checked(path: Path, chars: np.ndarray, where) -> Halves:
    hi, lo, bad = hex_to_halves(chars)
    if bad.any():
        i = int(np.argmax(bad))
        raise _bad(path, where(i), chars[i].tobytes())
    return hi, lo


def _txt_block(path: Path, body: memoryview, first_line: int) -> Halves:
    """Lines ``first_line + 1 ...`` of a ``.txt`` subset; ``body`` ends at a line end."""
    raw = np.frombuffer(body, dtype=np.uint8)
    if len(raw) % _RECORD == 0 and (raw[32::_RECORD] == 10).all():  # the common layout
        hi, lo, bad = hex_to_halves(raw.reshape(-1, _RECORD)[:, :32])
        if not bad.any():
            return hi, lo
    kept, linenos = [], []
    for i, line in enumerate(bytes(body).split(b"\n")):
        s = line.strip()
        if not s or s.startswith(b"#"):
            continue
        if len(s) != 32:
            _kept_halves(path, kept, linenos)  # an earlier bad line is reported first
            raise _bad(path, f"line {first_line + i + 1}", s)
        kept.append(s)
        linenos.append(first_line + i + 1)
    return _kept_halves(path, kept, linenos)


def _kept_halves(path: Path, kept: list[bytes], linenos: list[int]) -> Halves:
    if not kept:
        return np.zeros(0, np.uint64), np.zeros(0, np.uint64)
    chars = np.frombuffer(b"".join(kept), dtype=np.uint8).reshape(len(kept), 32)
    return _checked(path, chars, lambda i: f"line {linenos[i]}")


def _txt_chunks(path: Path) -> Iterator[Halves]:
    lineno, rest = 0, b""
    with open(path, "rb") as f:
        while True:
            data = f.read(CHUNK * _RECORD)
            buf = rest + data if rest else data
            cut = len(buf) if not data else buf.rfind(b"\n") + 1
            body, rest = memoryview(buf)[:cut], buf[cut:]
            if cut:
                yield _txt_block(path, body, lineno)
                lineno += int(np.count_nonzero(np.frombuffer(body, dtype=np.uint8) == 10))
            if not data:
                return


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _npy_chunks(path: Path) -> Iterator[Halves]:
    fix = "save uids with numpy.save as strings or DataComp's u8,u8"
    with open(path, "rb") as f:
        if f.read(6) != b"\x93NUMPY":  # else numpy guesses a pickle and suggests loading it
            raise SubsetError(f"{path}: not a .npy file (no NUMPY header); {fix}")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:  # Python objects, or truncated
        raise SubsetError(f"{path}: not a plain .npy array ({_first_line(exc)}); {fix}") from None
    arr = arr.reshape(-1)
    names = arr.dtype.names
    if names and len(names) == 2 and all(arr.dtype[n].kind in "ui" for n in names):
        for start in range(0, len(arr), CHUNK):
            part = arr[start : start + CHUNK]
            yield part[names[0]].astype(np.uint64), part[names[1]].astype(np.uint64)
        return
    if arr.dtype.kind not in "US":
        raise SubsetError(
            f"{path}: dtype {arr.dtype} is not a uid array; "
            "use DataComp's structured 'u8,u8' or strings"
        )
    width = arr.dtype.itemsize // (4 if arr.dtype.kind == "U" else 1)
    for start in range(0, len(arr), CHUNK):
        part = np.asarray(arr[start : start + CHUNK])
        if width == 32:
            units = part.view(np.uint32 if arr.dtype.kind == "U" else np.uint8)
            units = units.reshape(len(part), 32)
            if (units < 128).all():
                yield _checked(path, units.astype(np.uint8), lambda i, s=start: f"element {s + i}")
                continue
        yield _from_strings(path, part.tolist(), start)


def _parquet_chunks(path: Path) -> Iterator[Halves]:
    import pyarrow as pa

    try:
        yield from _parquet_batches(path)
    except (pa.ArrowException, OSError) as exc:  # not parquet, truncated, or damaged
        raise SubsetError(
            f"{path}: not a readable parquet file ({_first_line(exc)}); write a 'uid' column "
            "of strings with pyarrow or pandas"
        ) from None


def _parquet_batches(path: Path) -> Iterator[Halves]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    schema = pf.schema_arrow
    if "uid" not in schema.names:
        raise SubsetError(f"{path}: no 'uid' column (columns: {', '.join(schema.names)})")
    typ = schema.field("uid").type
    if not (pa.types.is_string(typ) or pa.types.is_large_string(typ)):
        raise SubsetError(f"{path}: column 'uid' must hold strings")
    start = 0
    for batch in pf.iter_batches(batch_size=CHUNK, columns=["uid"]):
        col = batch.column(0)
        if col.null_count:
            raise SubsetError(f"{path}: column 'uid' must hold strings (it has nulls)")
        lengths = pc.min_max(pc.binary_length(col)).as_py()
        if len(col) and lengths["min"] == lengths["max"] == 32:
            fixed = col.cast(pa.binary(32))
            chars = np.frombuffer(
                fixed.buffers()[1], np.uint8, count=32 * len(fixed), offset=32 * fixed.offset
            ).reshape(len(fixed), 32)
            yield _checked(path, chars, lambda i, s=start: f"element {s + i}")
        else:
            yield _from_strings(path, col.to_pylist(), start)
        start += len(col)


_READERS = {".txt": _txt_chunks, ".npy": _npy_chunks, ".parquet": _parquet_chunks}


def check_subset_file(path: Path) -> None:
    """Fail in one line on a subset path that is missing, not a file, or of an unknown
    format: cheap, so callers check it before any pool is built."""
    path = Path(path)
    if not path.exists():
        raise SubsetError(f"subset file {path} does not exist")
    if not path.is_file():
        raise SubsetError(f"subset file {path} is not a file; give a {'/'.join(FORMATS)} file")
    _check_format(path)


def _check_format(path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise SubsetError(
            f"{path}: unknown subset format {suffix!r}; use one of {', '.join(FORMATS)}"
        )


def check_output(path: Path) -> None:
    """Fail in one line, before a selection runs, where ``path`` cannot take a subset."""
    from benchmark.io import check_output_file

    _check_format(path)
    check_output_file(path, "subset file")


def iter_uid_chunks(path: Path) -> Iterator[Halves]:
    """The uids of ``path`` in file order, repeats kept, as chunks of 128-bit halves."""
    path = Path(path)
    check_subset_file(path)
    return _READERS[path.suffix.lower()](path)


def read_uids(path: Path) -> np.ndarray:
    """The uids in ``path`` (``S32``, file order, repeats kept), format checked."""
    parts = [halves_to_hex(hi, lo).view(UID_DTYPE).ravel() for hi, lo in iter_uid_chunks(path)]
    uids = np.concatenate(parts) if parts else np.zeros(0, dtype=UID_DTYPE)
    if len(uids) == 0:
        raise SubsetError(f"{path}: the subset is empty")
    return uids


def subset_sha256(uids: np.ndarray) -> str:
    """sha256 over the sorted uids, one per line, repeats included."""
    return hashlib.sha256(b"\n".join(np.sort(uids).tolist()) + b"\n").hexdigest()


def _add_counts(counts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Add one to ``counts`` at each of ``rows`` (almost sorted); widen on overflow."""
    if len(rows) == 0:
        return counts
    if not (rows[1:] >= rows[:-1]).all():
        rows = np.sort(rows)
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    rows, num = rows[starts], np.diff(np.r_[starts, len(rows)])
    total = counts[rows].astype(np.int64) + num
    if int(total.max()) > np.iinfo(counts.dtype).max:
        counts = counts.astype(np.uint32 if total.max() < 2**32 else np.uint64)
    counts[rows] = total
    return counts


def _read_ahead(chunks: Iterator[Halves]) -> Iterator[Halves]:
    """``chunks``, each next one read on a thread while the caller works on this one."""
    end: Halves = (np.zeros(0, np.uint64), np.zeros(0, np.uint64))
    with ThreadPoolExecutor(1) as ex:
        ahead = ex.submit(next, chunks, end)
        while (chunk := ahead.result()) is not end:
            ahead = ex.submit(next, chunks, end)
            yield chunk


def _scan(path: Path, pool: Pool, keep_rows: bool) -> tuple[np.ndarray, list[np.ndarray], int]:
    """Per-pool-row counts of the uids in ``path``, their rows (file order) when
    ``keep_rows``, and their number; unknown uids are an error naming the first."""
    index = UidIndex.of(pool)
    counts = np.zeros(len(index), dtype=np.uint8)
    parts: list[np.ndarray] = []
    num_uids = num_missing = 0
    first_missing = ""
    for hi, lo in _read_ahead(iter_uid_chunks(path)):
        order, rows = index.find(hi, lo)
        missing = rows < 0
        if missing.any():
            num_missing += int(missing.sum())
            if not first_missing:
                k = int(order[missing].min())
                first_missing = halves_to_hex(hi[k : k + 1], lo[k : k + 1]).tobytes().decode()
            counts = _add_counts(counts, rows[~missing])
        else:
            counts = _add_counts(counts, rows)
        if keep_rows:
            in_file_order = np.empty(len(rows), dtype=np.int64)
            in_file_order[order] = rows
            parts.append(in_file_order)
        num_uids += len(hi)
    if num_uids == 0:
        raise SubsetError(f"{path}: the subset is empty")
    if num_missing == num_uids:
        raise SubsetError(
            f"{path}: none of its {num_uids} uids are in pool {pool.name} "
            f"(first: {first_missing}); was it made for another pool?"
        )
    if num_missing:
        raise SubsetError(
            f"{path}: {num_missing} uids are not in pool {pool.name} (first: {first_missing})"
        )
    return counts, parts, num_uids


def _digest(pool: Pool, counts: np.ndarray) -> tuple[str, int, int | None]:
    """sha256 of the sorted uids (each ``counts[row]`` times), unique uids, tokens.

    Streams over the sorted index: pool row order is uid order, so no sort is needed.
    """
    h = hashlib.sha256()
    chars = np.asarray(pool.uids).view(np.uint8).reshape(len(pool.uids), 32)
    offsets = pool.offsets if (pool.root / OFFSETS).is_file() else None
    num_unique, num_tokens = 0, 0
    with ThreadPoolExecutor(1) as hashing:  # hashes block k while block k + 1 is gathered
        pending = hashing.submit(h.update, b"")
        for start in range(0, len(counts), _DIGEST_BLOCK):
            block = counts[start : start + _DIGEST_BLOCK]
            nz = np.flatnonzero(block)
            if not len(nz):
                continue
            rep = block[nz]
            rows = nz + start if rep.max() == 1 else np.repeat(nz + start, rep)
            buf = np.empty((len(rows), _RECORD), dtype=np.uint8)
            buf[:, :32], buf[:, 32] = np.take(chars, rows, axis=0), 10
            pending.result()
            pending = hashing.submit(h.update, buf)
            num_unique += len(nz)
            if offsets is not None:
                lengths = np.diff(offsets[start : start + len(block) + 1])[nz]
                num_tokens += int((lengths * rep).sum())
        pending.result()
    return h.hexdigest(), num_unique, num_tokens if offsets is not None else None


def check_subset(path: Path, pool: Pool) -> SubsetCheck:
    """Validate ``path`` against ``pool`` and summarise it, in memory bounded by the pool."""
    counts, _, num_uids = _scan(Path(path), pool, keep_rows=False)
    sha, num_unique, tokens = _digest(pool, counts)
    return SubsetCheck(str(path), pool.name, num_uids, num_unique, tokens, sha)


def load_subset(path: Path, pool: Pool) -> Subset:
    """Read and validate ``path`` against ``pool``."""
    counts, parts, _ = _scan(Path(path), pool, keep_rows=True)
    sha, num_unique, _ = _digest(pool, counts)
    return Subset(
        file=str(path),
        pool=pool.name,
        rows=np.concatenate(parts),
        sha256=sha,
        num_unique=num_unique,
    )


def whole_pool(pool: Pool) -> Subset:
    """The "no filtering" baseline: every item once."""
    sha, _, _ = _digest(pool, np.ones(pool.num_items, dtype=np.uint8))
    rows = np.arange(pool.num_items, dtype=np.int64)
    return Subset(file="", pool=pool.name, rows=rows, sha256=sha, num_unique=pool.num_items)


def num_tokens(subset: Subset, pool: Pool) -> int:
    """Tokens the subset covers (repeats counted), from the pool's token cache."""
    return int(pool.token_counts()[subset.rows].sum())


def write_uids(path: Path, uids: np.ndarray) -> None:
    """Write uids (``S32``) to ``path`` in the format its suffix names, atomically."""
    from benchmark.io import atomic_path

    _check_format(path)
    suffix = path.suffix.lower()
    chars = np.ascontiguousarray(uids, dtype=UID_DTYPE).view(np.uint8).reshape(len(uids), 32)
    with atomic_path(path) as tmp:
        if suffix == ".txt":
            buf = np.empty((len(uids), _RECORD), dtype=np.uint8)
            buf[:, :32], buf[:, 32] = chars, 10
            tmp.write_bytes(buf.tobytes())
        elif suffix == ".npy":
            hi, lo, _ = hex_to_halves(chars)
            halves = np.empty(len(uids), dtype="u8,u8")
            halves["f0"], halves["f1"] = hi, lo
            with open(tmp, "wb") as f:
                np.save(f, halves)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table({"uid": [u.decode() for u in uids.tolist()]}), tmp)
