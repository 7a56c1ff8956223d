"""Small I/O helpers shared by every stage: atomic writes and hashing.

Nothing a run records is ever half-written: files are written to a temporary name in
the same directory and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmark.errors import BenchError


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The file ends up with the mode ``open()`` would give it (0666 less the umask), not
    mkstemp's private 0600: subsets and entries are meant to be shared."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def _check_parents(path: Path, what: str) -> None:
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise BenchError(f"{what} {path}: {parent} is not a directory; choose another path")
            return


def check_output_file(path: Path, what: str) -> None:
    """Fail in one line, before any work, where ``path`` cannot become a file: it is a
    folder, or a folder on its way is a file. ``what`` names it (``--out``)."""
    if path.is_dir():
        raise BenchError(f"{what} {path} is a directory; give a file name")
    _check_parents(path, what)


def check_output_dir(path: Path, what: str) -> None:
    """Fail in one line, before any work, where ``path`` cannot be (or become) a folder."""
    if path.exists() and not path.is_dir():
        raise BenchError(f"{what} {path} is not a directory; give a folder")
    _check_parents(path, what)


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_tree(root: Path) -> str:
    """One hash over every file below ``root`` (relative paths and contents, sorted)."""
    h = hashlib.sha256()
    for p in sorted(q for q in root.rglob("*") if q.is_file()):
        h.update(str(p.relative_to(root)).encode() + b"\0" + sha256_file(p).encode() + b"\n")
    return h.hexdigest()
