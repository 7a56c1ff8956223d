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

Formats (see :mod:`benchmark.pool.importers.dclm` and
:mod:`benchmark.pool.importers.datacomp` for the details and the uid rules):

- ``dclm``: ``*.jsonl`` / ``*.jsonl.zst`` / ``*.jsonl.zstd`` shards, one JSON object a
  line with ``text`` and an id; the import tokenizes every document (the token cache)
  so ``bench train --track lm`` can train on it;
- ``datacomp``: webdataset ``*.tar`` shards (``KEY.jpg|png|webp``, ``KEY.txt``,
  ``KEY.json`` with a ``uid``) plus parquet metadata with a ``uid`` column of 32-hex
  uids; the import writes the image caches (32 and 64 px by default) and a
  caption tokenizer so ``bench train --track clip`` can train on it, and DataComp's
  ``.npy`` subsets (``u8,u8``) check against it.

Choices, and why:

- **Tokenizer** (``--tokenizer``): ``train`` (default) trains the track's byte-level
  BPE on a fixed sample of the pool in uid order, exactly as the embedded pools do, so
  the pool is self-contained and versioned with its tokenizer. A built pool's name
  (``text-default``) reuses that pool's tokenizer, and a ``save_pretrained`` folder
  (e.g. GPT-NeoX-20B's for the DCLM scales) is copied in. Token ids are stored as
  uint16, or uint32 for vocabularies over 65,536. The manifest's ``tokenizer.name``
  records which (a Hub cache folder ``models--ORG--NAME`` is recorded as ``ORG/NAME``).
  ``openai-clip`` (clip pools) installs OpenAI CLIP's BPE from open_clip's wheel, the
  tokenizer open_clip's built-in model configs (the ``datacomp-*`` scales' ViT-B-32,
  B-16, L-14) expect.
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

**Bounded memory.** No process holds the pool's text, captions or metadata: each source
shard (and each metadata file) is parsed into a part on disk, sorted and cut into
uid-range buckets of :data:`~benchmark.pool.importers.common.BUCKET_SHARDS` docs shards,
and each bucket is gathered, joined with its metadata rows and written alone
(:func:`~benchmark.pool.importers.common.cut_into_buckets`). The driver keeps fixed-width
arrays per item (its uid and content digest, 64 bytes, which the uid index and fingerprint
are made of); a worker holds one shard, one metadata file or one bucket (1M items).

The pool directory is in the format of :mod:`benchmark.pool.format` (a text pool with its
token cache, an image-text pool with its image caches or encoded images; the source tars
stay where they are, and the manifest records each with its sha256). What the two
importers share is in :mod:`benchmark.pool.importers.common`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from benchmark.engine import Engine
from benchmark.errors import PoolError
from benchmark.pool.format import MANIFEST
from benchmark.pool.importers.common import check_evals_from, check_tokenizer, resume_key
from benchmark.pool.store import Pool, check_pool_name, pool_path
from benchmark.pool.writer import staging

log = logging.getLogger(__name__)

FORMATS = ("dclm", "datacomp")
TRACKS = {"dclm": "lm", "datacomp": "clip"}  # the track each format's pool trains


def import_external(
    name: str,
    fmt: str,
    source: Path,
    *,
    workers: int = 1,
    engine: Engine | None = None,
    tokenizer: str = "train",
    evals_from: str | None = None,
    force: bool = False,
    id_field: str | None = None,
    metadata: Path | None = None,
    image_sizes: Sequence[int] = (32, 64),
    encoded: bool = False,
    skip_bad_shards: bool = False,
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
    engine = engine or Engine("local", workers)
    source = Path(source).resolve()
    if not source.is_dir():
        raise PoolError(f"--source {source} is not a directory")
    dest = pool_path(name)
    if (dest / MANIFEST).is_file() and not force:
        raise PoolError(f"pool {name!r} already exists at {dest}; use --force to replace it")
    check_tokenizer(tokenizer, TRACKS[fmt])  # before hours of reading shards
    check_evals_from(evals_from, TRACKS[fmt])
    key = resume_key(
        fmt, tokenizer, evals_from, id_field, metadata, tuple(image_sizes), encoded,
        skip_bad_shards, source=source,
    )  # fmt: skip
    with staging(dest, key) as tmp:
        if fmt == "dclm":
            from benchmark.pool.importers.dclm import import_dclm

            import_dclm(name, source, tmp, engine, tokenizer, evals_from, id_field, skip_bad_shards)
        else:
            from benchmark.pool.importers.datacomp import import_datacomp

            import_datacomp(
                name,
                source,
                tmp,
                engine,
                tokenizer,
                evals_from,
                metadata,
                tuple(image_sizes),
                encoded,
                skip_bad_shards,
            )
    return Pool(dest)
