"""What regenerates an entry's subset, kept on the board once per subset hash.

A run records its subset's sha256 and the local path of its uid file, which nobody else
has. At submit the board keeps, under ``leaderboard/subsets/``:

- for a baseline written by ``bench select`` (its ``FILE.meta.json`` beside it) whose
  method reads nothing but the pool: ``<sha256>.json`` with the method, its options and
  the pool fingerprint, from which ``bench select`` remakes the file;
- otherwise the uid file itself, ``<sha256><suffix>`` (the same bytes);
- nothing for the whole pool (``"pool"``).

The entry names it in ``subset.source``. ``check`` tests the record against the entry's
subset hash; given the built pool it also remakes the subset (a method record) or hashes
the whole pool.

    source = keep(entry, board)          # at submit
    problems = check(entry, board, pool) # bench verify
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmark.errors import BenchError
from benchmark.io import atomic_path, write_json

FOLDER = "subsets"  # under the board
WHOLE_POOL = "pool"


def _method_record(entry: dict[str, Any], file: Path) -> dict[str, Any] | None:
    """The ``bench select`` provenance beside ``file`` when it regenerates the subset."""
    from benchmark.select import METHODS
    from benchmark.select.registry import read_meta

    meta = read_meta(file)
    if meta is None:
        return None  # no provenance this harness wrote: keep the uid file instead
    registered = METHODS.get(meta["method"])
    same = meta["pool"]["fingerprint"] == entry["pool"]["fingerprint"]
    if registered is None or not registered.pool_only or not same:
        return None
    if meta["num_selected"] != entry["subset"]["num_uids"]:
        return None  # the file changed after bench select wrote it
    return {
        "sha256": entry["subset"]["sha256"],
        "method": meta["method"],
        "options": meta["options"],
        "pool": {"name": meta["pool"].get("name"), "fingerprint": meta["pool"]["fingerprint"]},
        "num_uids": meta["num_selected"],
    }


def keep(entry: dict[str, Any], board: Path) -> str:
    """Store what regenerates ``entry``'s subset on ``board`` (once per subset hash) and
    return its name for ``subset.source``. Call under the board's submit lock."""
    file = entry["subset"].get("file")
    if not file:
        return WHOLE_POOL
    sha = entry["subset"]["sha256"]
    folder = board / FOLDER
    existing = sorted(folder.glob(f"{sha}.*")) if folder.is_dir() else []
    if existing:  # another entry of this subset stored it already
        return f"{FOLDER}/{existing[0].name}"
    record = _method_record(entry, Path(file))
    if record is not None:
        write_json(folder / f"{sha}.json", record)
        return f"{FOLDER}/{sha}.json"
    dest = folder / f"{sha}{''.join(Path(file).suffixes[-1:]).lower()}"
    with atomic_path(dest) as tmp:
        shutil.copyfile(file, tmp)
    return f"{FOLDER}/{dest.name}"


def check(entry: dict[str, Any], board: Path, pool=None) -> list[str]:
    """Problems with ``entry``'s subset source on ``board``; with the built ``pool``, the
    subset is also remade (method record) or the whole pool hashed."""
    from benchmark.subset import read_uids, subset_sha256

    sub = entry["subset"]
    source = sub.get("source")
    if source is None:
        return ["subset.source is missing: the board keeps nothing that regenerates the subset"]
    if source == WHOLE_POOL:
        if sub.get("file"):
            return [f"subset.source says the whole pool but the run used {sub['file']}"]
        if pool is not None and subset_sha256(pool.uids) != sub["sha256"]:
            return ["subset.sha256 is not the hash of the whole pool's uids"]
        return []
    path = board / source
    if not path.is_file():
        return [f"subset source {source} is missing from the board"]
    if path.suffix == ".json":
        return _check_record(entry, path, pool)
    try:
        sha = subset_sha256(read_uids(path))
    except BenchError as exc:
        return [f"subset file {source} does not read: {exc}"]
    if sha != sub["sha256"]:
        return [f"subset file {source} hashes to {sha[:12]}…, the entry says {sub['sha256'][:12]}…"]
    return []


_REMADE: dict[tuple[Path, str], str] = {}  # (record, pool fingerprint) -> the remade hash


def _check_record(entry: dict[str, Any], path: Path, pool) -> list[str]:
    from benchmark.select import METHODS, select
    from benchmark.subset import read_uids, subset_sha256

    where = f"subset record {path.name}"
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
        method, options = rec["method"], dict(rec["options"])
        sha, fingerprint = rec["sha256"], rec["pool"]["fingerprint"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        return [f"{where} is malformed ({exc!r})"]
    problems = []
    if sha != entry["subset"]["sha256"] or path.stem != sha:
        problems.append(f"{where} is for subset {sha[:12]}…, not the entry's")
    if fingerprint != entry["pool"]["fingerprint"]:
        problems.append(f"{where} was made on pool {fingerprint[:12]}…, not the entry's")
    if method not in METHODS or not METHODS[method].pool_only:
        problems.append(f"{where}: {method!r} is not a registered pool-only selection method")
    if problems or pool is None:
        return problems
    key = (path.resolve(), pool.fingerprint)
    if key not in _REMADE:  # entries of one subset share its record: remake it once
        with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
            out = Path(tmp) / "subset.npy"
            try:
                select(method, pool, out, **options)
            except BenchError as exc:
                return [f"{where}: bench select {method} fails today: {exc}"]
            _REMADE[key] = subset_sha256(read_uids(out))
    remade = _REMADE[key]
    if remade != sha:
        return [
            f"{where}: bench select {method} {options} makes subset {remade[:12]}…, not {sha[:12]}…"
        ]
    return []
