"""External pools: a DCLM-style text pool or a DataComp-style image-text pool, imported.

The GPU scales train on pools too large to ship: DCLM-Pool's jsonl shards, DataComp's
CommonPool webdataset shards. A user downloads them with those projects' own tools and
imports the directory once; the result is an ordinary pool directory under
``$BENCH_HOME/pools/NAME`` that every command reads as it reads an embedded pool::

    bench pool import dclm-pool-400m-1x --format dclm --source /data/dclm/400m-1x --workers 16
    bench pool import datacomp-pool-small --format datacomp --source /data/datacomp/small \\
        --workers 16 --evals-from image-default
    bench pool info dclm-pool-400m-1x
    bench subset check my_subset.npy --pool datacomp-pool-small
    bench train --scale 400m-1x            # the recipe names pool dclm-pool-400m-1x

(``bench pool import FILE`` without ``--format`` still installs an exported archive.)

Formats (see :mod:`benchmark.pool.dclm` and :mod:`benchmark.pool.datacomp` for the
details and the uid rules):

- ``dclm``: ``*.jsonl`` / ``*.jsonl.zst`` / ``*.jsonl.zstd`` shards, one JSON object a
  line with ``text`` and an id; the import tokenizes every document
  (``tokens.npy``/``offsets.npy``) so ``bench train --track lm`` can train on it;
- ``datacomp``: webdataset ``*.tar`` shards (``KEY.jpg|png|webp``, ``KEY.txt``,
  ``KEY.json`` with a ``uid``) plus parquet metadata with a ``uid`` column of 32-hex
  uids; the import writes the image caches (``images-{32,64}.npy`` by default) and a
  caption tokenizer so ``bench train --track clip`` can train on it, and DataComp's
  ``.npy`` subsets (``u8,u8``) check against it.

Choices, and why:

- **Tokenizer** (``--tokenizer``): ``train`` (default) trains the track's byte-level
  BPE on a fixed sample of the pool in uid order, exactly as the embedded pools do, so
  the pool is self-contained and versioned with its tokenizer. A built pool's name
  (``text-default``) reuses that pool's tokenizer, and a directory with a
  ``tokenizer.json`` (a ``save_pretrained`` folder, e.g. GPT-NeoX-20B's for the DCLM
  scales) is copied in. Token ids are stored as uint16, or uint32 for vocabularies over
  65,536. The manifest's ``tokenizer.name`` records which (a Hub cache folder
  ``models--ORG--NAME`` is recorded as ``ORG/NAME``). ``openai-clip`` (clip pools)
  installs OpenAI CLIP's BPE from open_clip's wheel, the tokenizer open_clip's built-in
  model configs (the ``datacomp-*`` scales' ViT-B-32, B-16, L-14) expect.
- **Eval data** (``--evals-from POOL``): a track's eval sets are built with its embedded
  pool, so an imported pool copies them from one (``text-default`` or
  ``image-default``); text pools are checked for 13-gram overlap with them as the
  embedded pool is, and the count of eval items found in the pool is recorded, not
  fixed (DCLM decontaminates the pool, not the evals). Without it training works but the
  evaluation after it fails for want of eval data.
- **uids** are derived from the source's own ids, so they can be computed outside the
  harness; the **fingerprint** covers every uid and a hash of its content (text, or
  caption and image bytes), so it is the same whatever the source folder is called,
  the worker count or the order of the shards on disk.
- **Parallel and deterministic**: shards are read, and the pool's documents tokenized,
  on ``--workers`` processes with progress bars; every unit of work is fixed by the
  pool (a source shard, a 50,000-item slice in uid order), so any worker count writes
  identical files.
- **All or nothing**: the pool is written to a temporary folder beside its destination
  and renamed into place when complete; any error (a malformed line, a missing field,
  a repeated uid) is one line naming the file and the line or sample, and leaves nothing
  behind.

The importer holds one copy of the pool's text (text pools) or metadata (image pools) in
memory while it sorts them by uid; a pool larger than memory is imported in parts, as
separate pools.

A pool directory holds, besides the common files (``manifest.json``, ``docs-*.parquet``
in uid order, ``uids.npy``, ``uids128.npy``, ``tokenizer/``, ``evals/``): for a text
pool ``tokens.npy`` + ``offsets.npy``; for an image-text pool ``images-{size}.npy``
(the source tars stay where they are; the manifest records each with its sha256).
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.errors import PoolError
from benchmark.io import sha256_file
from benchmark.pool.store import MANIFEST, UID_DTYPE, Pool, check_pool_name, pool_path
from benchmark.pool.uidindex import halves_to_hex, hex_to_halves, write_index128

log = logging.getLogger(__name__)

FORMATS = ("dclm", "datacomp")
IMPORT_VERSION = "1"  # the importer's output format; recorded as the pool's version
TRACKS = {"dclm": "lm", "datacomp": "clip"}  # the track each format's pool trains


def import_external(
    name: str,
    fmt: str,
    source: Path,
    *,
    workers: int = 1,
    tokenizer: str = "train",
    evals_from: str | None = None,
    force: bool = False,
    id_field: str | None = None,
    metadata: Path | None = None,
    image_sizes: Sequence[int] = (32, 64),
    encoded: bool = False,
) -> Pool:
    """Import the external pool at ``source`` (format ``fmt``) as pool ``name``."""
    from benchmark.pool.build import BUILDERS

    if fmt not in FORMATS:
        raise PoolError(f"unknown pool format {fmt!r}; valid: {', '.join(FORMATS)}")
    check_pool_name(name)
    other = "datacomp" if fmt == "dclm" else "dclm"
    for flag, given in (
        ("--id-field", id_field is not None and fmt == "datacomp"),
        ("--metadata", metadata is not None and fmt == "dclm"),
        ("--encoded", encoded and fmt == "dclm"),
    ):
        if given:
            raise PoolError(f"{flag} is for --format {other}, not --format {fmt}; leave it out")
    if name in BUILDERS or name.removesuffix("-reduced") in BUILDERS:
        raise PoolError(f"{name!r} is an embedded pool's name; pick another for an import")
    if workers < 1:
        raise PoolError(f"--workers must be at least 1, got {workers}")
    source = Path(source).resolve()
    if not source.is_dir():
        raise PoolError(f"--source {source} is not a directory")
    dest = pool_path(name)
    if (dest / MANIFEST).is_file() and not force:
        raise PoolError(f"pool {name!r} already exists at {dest}; use --force to replace it")
    check_tokenizer(tokenizer, TRACKS[fmt])  # before hours of reading shards
    check_evals_from(evals_from, TRACKS[fmt])
    with staging(dest) as tmp:
        if fmt == "dclm":
            from benchmark.pool.dclm import import_dclm

            import_dclm(name, source, tmp, workers, tokenizer, evals_from, id_field)
        else:
            from benchmark.pool.datacomp import import_datacomp

            import_datacomp(
                name,
                source,
                tmp,
                workers,
                tokenizer,
                evals_from,
                metadata,
                tuple(image_sizes),
                encoded,
            )
    return Pool(dest)


@contextmanager
def staging(dest: Path) -> Iterator[Path]:
    """A temporary folder beside ``dest``, renamed onto it on success, removed on failure."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.import-", dir=dest.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; a pool is shared data
    try:
        yield tmp
        old = dest.with_name(f".{dest.name}.old")
        if dest.exists():
            shutil.rmtree(old, ignore_errors=True)
            dest.rename(old)
        tmp.rename(dest)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def find_shards(source: Path, suffixes: tuple[str, ...], what: str) -> list[Path]:
    """Files under ``source`` ending in one of ``suffixes``, by relative path."""
    found = sorted(
        (p for p in source.rglob("*") if p.is_file() and p.name.endswith(suffixes)),
        key=lambda p: p.relative_to(source).as_posix(),
    )
    if not found:
        raise PoolError(f"no {what} ({', '.join('*' + s for s in suffixes)}) under {source}")
    return found


def shard_record(path: Path, source: Path) -> dict[str, Any]:
    """A source shard as the manifest lists it (``name`` is its path under the source)."""
    return {
        "name": path.relative_to(source).as_posix(),
        "quality": None,
        "sha256": sha256_file(path),
        "bytes": path.stat().st_size,
    }


def _worker_init() -> None:
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one process per core is the parallelism


def parallel_map(
    fn: Callable[[Any], Any],
    tasks: Sequence[Any],
    workers: int,
    desc: str,
    weights: Sequence[int] | None = None,
    unit: str = "it",
) -> list[Any]:
    """``[fn(t) for t in tasks]`` on ``workers`` processes, in order, with a progress bar.

    ``weights`` (default 1 each) is what each task adds to the bar. The first failing
    task in task order raises its error; the tasks not yet started are cancelled.
    """
    from tqdm import tqdm

    weights = list(weights) if weights is not None else [1] * len(tasks)
    # leave=False: the bar is cleared when done, so that an error after it is the one line
    # left on the terminal (the importers log what they did when they finish)
    bar = tqdm(
        total=sum(weights), desc=desc, unit=unit, unit_scale=True, mininterval=1.0, leave=False
    )
    try:
        if workers == 1 or len(tasks) <= 1:
            out = []
            for task, w in zip(tasks, weights, strict=True):
                out.append(fn(task))
                bar.update(w)
        else:
            ctx = multiprocessing.get_context("spawn")  # no fork after tokenizers' threads
            with ProcessPoolExecutor(min(workers, len(tasks)), ctx, _worker_init) as ex:
                futures = [ex.submit(fn, t) for t in tasks]
                for f, w in zip(futures, weights, strict=True):
                    f.add_done_callback(lambda _, w=w: bar.update(w))
                try:
                    out = [f.result() for f in futures]
                except BaseException:
                    for f in futures:
                        f.cancel()
                    raise
        return out
    finally:
        bar.close()


def uid_of_id(value: Any) -> str:
    """An item's uid from its source id: the id itself when it is 32 hex characters,
    else the first 32 hex characters of the sha256 of its UTF-8 text."""
    s = str(value)
    if len(s) == 32 and all(c in "0123456789abcdefABCDEF" for c in s):
        return s.lower()
    return hashlib.sha256(s.encode()).hexdigest()[:32]


def uid_order(uids: np.ndarray) -> np.ndarray:
    """The permutation that sorts ``S32`` uids (via their 128-bit halves)."""
    hi, lo, _ = hex_to_halves(np.ascontiguousarray(uids).view(np.uint8).reshape(len(uids), 32))
    return np.lexsort((lo, hi))


def first_repeat(sorted_uids: np.ndarray) -> int | None:
    """Position of the first uid equal to the next one in a sorted array, or None."""
    same = np.flatnonzero(sorted_uids[1:] == sorted_uids[:-1])
    return int(same[0]) if len(same) else None


def sorted_fingerprint(sorted_uids: np.ndarray, digests: np.ndarray) -> str:
    """:func:`benchmark.pool.store.fingerprint` over uids already sorted, with their
    content sha256 digests as ``(n, 32)`` raw bytes; vectorised, in blocks."""
    h = hashlib.sha256()
    block = 1 << 18
    for s in range(0, len(sorted_uids), block):
        uids = np.ascontiguousarray(sorted_uids[s : s + block]).view(np.uint8).reshape(-1, 32)
        d = digests[s : s + block].view(">u8").reshape(-1, 4)
        line = np.empty((len(uids), 98), dtype=np.uint8)  # "uid sha256hex\n"
        line[:, :32], line[:, 32], line[:, 97] = uids, ord(" "), ord("\n")
        line[:, 33:65] = halves_to_hex(d[:, 0].astype(np.uint64), d[:, 1].astype(np.uint64))
        line[:, 65:97] = halves_to_hex(d[:, 2].astype(np.uint64), d[:, 3].astype(np.uint64))
        h.update(line)
    return h.hexdigest()


def write_index(tmp: Path, sorted_uids: np.ndarray) -> None:
    """``uids.npy`` and ``uids128.npy`` for uids already sorted."""
    uids = np.asarray(sorted_uids, dtype=UID_DTYPE)
    np.save(tmp / "uids.npy", uids)
    write_index128(tmp, uids)


def tokenizer_name(path: Path) -> str:
    """``ORG/NAME`` for a Hugging Face cache folder, else the folder's name."""
    for part in reversed(path.parts):
        if part.startswith("models--"):
            return part.removeprefix("models--").replace("--", "/")
    return path.name


OPENAI_CLIP = "openai-clip"  # the tokenizer open_clip's built-in configs (ViT-B-32, ...) expect


def check_tokenizer(spec: str, track: str) -> None:
    """Refuse a ``--tokenizer`` that :func:`install_tokenizer` cannot install, in one line
    and before any shard is read."""
    if spec == "train":
        return
    path = Path(spec).expanduser()
    if spec == OPENAI_CLIP:
        if track != "clip":
            raise PoolError(f"--tokenizer {OPENAI_CLIP} is a caption tokenizer: clip pools only")
    elif path.is_dir():
        if not (path / "tokenizer.json").is_file():
            raise PoolError(f"--tokenizer {spec}: no tokenizer.json in that folder")
    elif (pool_path(spec) / MANIFEST).is_file():
        src = Pool(pool_path(spec))
        if src.track != track:
            raise PoolError(f"--tokenizer {spec}: a {src.track} pool; need a {track} pool's")
    else:
        raise PoolError(
            f"--tokenizer {spec!r} is neither 'train', '{OPENAI_CLIP}', a folder with a "
            "tokenizer.json, nor a built pool"
        )


def install_tokenizer(spec: str, out: Path, track: str, train: Callable[[Path], dict]) -> dict:
    """Put the pool's tokenizer in ``out``: trained (``train``), a built pool's, or a
    folder's; return the manifest's ``tokenizer`` record."""
    check_tokenizer(spec, track)
    if spec == "train":
        return {**train(out), "from": "trained on the pool"}
    path = Path(spec).expanduser()
    if spec == OPENAI_CLIP:
        from benchmark.pool.captions import openai_clip_tokenizer

        openai_clip_tokenizer(out)
        record = {"from": "OpenAI CLIP's BPE, from open_clip's wheel", "name": OPENAI_CLIP}
    elif path.is_dir():
        shutil.copytree(path, out)
        record = {"from": f"folder {path.resolve()}", "name": tokenizer_name(path.resolve())}
    else:  # a built pool of the track (check_tokenizer)
        src = Pool(pool_path(spec))
        shutil.copytree(src.tokenizer_dir, out)
        record = {**src.manifest.get("tokenizer", {}), "from": f"pool {spec}", "name": spec}
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(out))
    if tok.eos_token_id is None:
        raise PoolError(f"--tokenizer {spec}: the tokenizer has no end-of-text (eos) token")
    return {**record, "vocab_size": len(tok), "eos_token": tok.eos_token}


def check_evals_from(evals_from: str | None, track: str) -> None:
    """Refuse an ``--evals-from`` that is not a built ``track`` pool with eval data."""
    if evals_from is None:
        return
    check_pool_name(evals_from)
    if not (pool_path(evals_from) / MANIFEST).is_file():
        raise PoolError(
            f"--evals-from {evals_from}: pool not built; run `bench pool build {evals_from}`"
        )
    src = Pool(pool_path(evals_from))
    if src.track != track or not src.evals_dir.is_dir():
        raise PoolError(f"--evals-from {evals_from}: not a {track} pool with eval data")


def copy_evals(evals_from: str | None, tmp: Path, track: str) -> dict | None:
    """Copy a built pool's eval data into ``tmp/evals``; its manifest record."""
    if evals_from is None:
        log.warning(
            "no --evals-from: the pool has no eval data, so `bench train` will fail when it "
            "evaluates; import again with --evals-from %s",
            "text-default" if track == "lm" else "image-default",
        )
        return None
    check_evals_from(evals_from, track)
    src = Pool(pool_path(evals_from))
    shutil.copytree(src.evals_dir, tmp / "evals")
    return {"from": evals_from, "fingerprint": src.fingerprint, "items": src.manifest.get("evals")}
