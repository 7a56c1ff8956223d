"""Move a built pool between machines as one archive, its fingerprint checked on import.

An archive is a tar of the pool directory under one top folder named after the pool
(``text-default/<each file of the pool>``): ``.tar``,
``.tar.gz``/``.tgz``, ``.tar.xz``, or ``.tar.zst`` (needs the ``zstandard`` package).
Import extracts into a temporary folder beside the destination, recomputes the
fingerprint from the shards' uids and texts, compares it with the manifest, and only
then renames the folder into place, so a pool is either complete and verified or absent.

    export_pool("text-default", Path("text-default.tar.gz"))
    pool = import_pool(Path("text-default.tar.gz"), force=False)
"""

from __future__ import annotations

import logging
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from benchmark.errors import PoolError
from benchmark.io import atomic_path, check_output_file
from benchmark.paths import pools_dir
from benchmark.pool.format import DOCS_GLOB, MANIFEST, fingerprint_of, item_content
from benchmark.pool.store import Pool, check_pool_name, open_pool, pool_path, read_manifest
from benchmark.pool.writer import replace_dir, scratch

log = logging.getLogger(__name__)

_MODES = {".tar": "", ".tar.gz": "gz", ".tgz": "gz", ".tar.xz": "xz", ".tar.zst": "zst"}


def _compression(path: Path) -> str:
    name = path.name.lower()
    for suffix, kind in sorted(_MODES.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(suffix):
            return kind
    raise PoolError(f"archive {path}: unknown file type; valid endings: {', '.join(_MODES)}")


def _zstd():
    try:
        import zstandard
    except ImportError as err:
        raise PoolError(
            ".tar.zst archives need the `zstandard` package: pip install zstandard"
        ) from err
    return zstandard


@contextmanager
def _open_tar(path: Path, kind: str, write: bool) -> Iterator[tarfile.TarFile]:
    if kind != "zst":
        mode = ("w" if write else "r") + (f":{kind}" if kind else ("" if write else ":*"))
        with tarfile.open(path, mode) as tar:
            yield tar
        return
    zstd = _zstd()
    with open(path, "wb" if write else "rb") as raw:
        stream: IO[bytes] = (
            zstd.ZstdCompressor(level=10).stream_writer(raw)
            if write
            else zstd.ZstdDecompressor().stream_reader(raw)
        )
        with stream, tarfile.open(fileobj=stream, mode="w|" if write else "r|") as tar:
            yield tar


def export_pool(name: str, out: Path) -> Path:
    """Write the built pool ``name`` to the archive ``out`` (atomically); return ``out``."""
    pool = open_pool(name)
    kind = _compression(out)
    check_output_file(out, "--out")
    with atomic_path(out) as tmp, _open_tar(tmp, kind, write=True) as tar:
        for path in sorted(pool.root.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=f"{name}/{path.relative_to(pool.root).as_posix()}")
    log.info("exported pool %s (%d items) to %s", name, pool.num_items, out)
    return out


def _pool_name(tar_members: list[tarfile.TarInfo], archive: Path) -> str:
    tops = {m.name.split("/", 1)[0] for m in tar_members}
    if len(tops) != 1 or f"{next(iter(tops))}/{MANIFEST}" not in {m.name for m in tar_members}:
        raise PoolError(
            f"archive {archive}: expected one pool folder with a {MANIFEST}, found {sorted(tops)}"
        )
    name = tops.pop()
    check_pool_name(name)
    return name


def recompute_fingerprint(root: Path) -> str:
    """The fingerprint of a pool directory from its docs shards: each item's content is
    its ``text``, and for an image-text pool its caption and ``image_sha256``."""
    pool = Pool(root)
    image = pool.track == "clip"
    table = pool.read_table(["uid", "text", "image_sha256"] if image else ["uid", "text"])
    texts = table.column("text").to_pylist()
    shas = table.column("image_sha256").to_pylist() if image else [None] * len(texts)
    contents = [item_content(t, sha) for t, sha in zip(texts, shas, strict=True)]
    return fingerprint_of(table.column("uid").to_pylist(), contents)


def _verify(root: Path, archive: Path) -> Pool:
    pool = Pool(root)
    if not pool.shard_paths():
        raise PoolError(
            f"archive {archive}: {root.name}/ has no {DOCS_GLOB} shards; export the pool again"
        )
    try:
        actual = recompute_fingerprint(root)
    except (OSError, ValueError, KeyError) as err:  # pyarrow errors derive from these
        raise PoolError(f"archive {archive}: unreadable pool shards ({err})") from None
    if actual != pool.fingerprint:
        raise PoolError(
            f"archive {archive}: fingerprint mismatch (manifest {pool.fingerprint[:16]}…, "
            f"content {actual[:16]}…): the archive is damaged or was altered"
        )
    return pool


def _stream_errors() -> tuple[type[Exception], ...]:
    """What a damaged compressed stream raises besides ``OSError`` and ``EOFError``."""
    import zlib

    errors: list[type[Exception]] = [zlib.error]
    try:
        import zstandard

        errors.append(zstandard.ZstdError)
    except ImportError:
        pass
    return tuple(errors)


def _extract(archive: Path, into: Path) -> str:
    """Extract ``archive`` below ``into``; return the pool's folder name."""
    try:
        with _open_tar(archive, _compression(archive), write=False) as tar:
            members = []
            for member in tar:
                members.append(member)
                tar.extract(member, into, filter="data")
    except (tarfile.TarError, OSError, EOFError, *_stream_errors()) as err:
        # tarfile's "r:*" lists every compression it tried, a line each
        why = "not a tar file, or a damaged one" if "\n" in str(err) else str(err)
        raise PoolError(f"archive {archive}: cannot be read ({why}); export it again") from None
    return _pool_name(members, archive)


def import_pool(archive: Path, force: bool = False) -> Pool:
    """Install the pool in ``archive`` under ``$BENCH_HOME/pools/``; return it, verified.

    Refuses to replace an existing pool of the same name unless ``force``.
    """
    if not archive.is_file():
        raise PoolError(f"archive {archive} not found")
    _compression(archive)  # a known file type, before anything is extracted
    with scratch(pools_dir(), ".import.") as tmp:  # the pool's name is in the archive
        name = _extract(archive, tmp)
        dest = pool_path(name)
        if (dest / MANIFEST).exists() and not force:
            raise PoolError(f"pool {name!r} already exists at {dest}; use --force to replace it")
        where = f"archive {archive}: {name}/{MANIFEST}"
        manifest = read_manifest(tmp / name / MANIFEST, where, "export the pool again")
        if manifest["name"] != name:
            raise PoolError(f"archive {archive}: folder {name!r} holds pool {manifest['name']!r}")
        _verify(tmp / name, archive)
        replace_dir(tmp / name, dest)
    log.info("imported pool %s into %s", name, dest)
    return Pool(dest)


def describe_archive(path: Path) -> str:
    """A one-line size summary for the CLI."""
    size = path.stat().st_size
    return f"{path} ({size / 2**20:.1f} MiB)"
