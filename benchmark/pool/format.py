"""The pool format: every file name in a pool directory and every rule that defines its items.

This module is the one owner of the pool's integrity contract; builders
(:mod:`~benchmark.pool.text.build`, :mod:`~benchmark.pool.image.build`), importers
(:mod:`~benchmark.pool.importers.dclm`, :mod:`~benchmark.pool.importers.datacomp`,
:mod:`~benchmark.pool.importers.archive`), the writer (:mod:`~benchmark.pool.writer`) and every
reader (:mod:`~benchmark.pool.store`, training, selection, evaluation) use its names.

A built pool is a directory under ``$BENCH_HOME/pools/<name>/``:

- :data:`MANIFEST`: name, version, track, ``num_items``, ``fingerprint``, sources with
  package, version, sha256 and licence (:data:`MANIFEST_KEYS`), and build statistics;
- :func:`docs_name` shards (:data:`DOCS_GLOB`, :data:`SHARD_ROWS` items each): the items
  sorted by uid (row i of the concatenated shards is the i-th smallest uid): ``uid``,
  ``text``, ``source``, ``locator`` and metadata;
- :data:`UIDS`: the sorted uids as :data:`UID_DTYPE` (32 lowercase hex characters);
  :data:`UIDS128`: the same as ``(2, N)`` uint64 halves (:mod:`benchmark.pool.uidindex`);
- :data:`TOKENIZER_DIR`: the track's tokenizer (``save_pretrained`` format);
- text pools: :data:`TOKENS` + :data:`OFFSETS`, every item tokenized once (ids
  concatenated in uid order; item i is ``tokens[offsets[i]:offsets[i+1]]``);
- image-text pools: :func:`images_name` caches (uint8 ``(N, size, size, 3)``, uid order,
  pixels by :func:`decode_square` for imported pools), or :data:`ENCODED_IMAGES` +
  :data:`ENCODED_OFFSETS` (the image files' bytes, uid order); ``image-default`` also
  keeps webdataset tars (:func:`tar_shard_name`);
- :data:`EVALS_DIR`: the eval data built with the pool (never part of it).

Item rules: an item's content is its text, or for an image-text item its caption and the
sha256 of its image (:func:`item_content`); a built pool's uid hashes source, locator and
content (:func:`make_uid`), an imported pool's comes from the source's id
(:func:`uid_of_id`); the fingerprint is a sha256 over every uid and its content's sha256
in uid order (:func:`fingerprint`), so it does not depend on how the pool was written.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

MANIFEST = "manifest.json"
# what every manifest holds (the readers index these directly)
MANIFEST_KEYS = ("name", "version", "track", "num_items", "fingerprint", "sources")
UID_DTYPE = "S32"
UIDS, UIDS128 = "uids.npy", "uids128.npy"
TOKENS, OFFSETS = "tokens.npy", "offsets.npy"
TOKENIZER_DIR = "tokenizer"
TOKENIZER_JSON = "tokenizer.json"  # in a ``save_pretrained`` folder: the fast tokenizer
EVALS_DIR = "evals"
ENCODED_IMAGES, ENCODED_OFFSETS = "encoded-images.npy", "encoded-offsets.npy"
DOCS_GLOB = "docs-*.parquet"
SHARD_ROWS = 50_000  # items per docs shard
IMAGES_GLOB = "images-*.npy"

# inside EVALS_DIR: the text eval data's version record, and an image eval task's files
EVAL_DATA_FILE = "eval_data.json"
EVAL_IMAGES, EVAL_LABELS = "images.npy", "labels.npy"
EVAL_CLASSES, EVAL_CAPTIONS = "classes.json", "captions.json"


def docs_name(k: int) -> str:
    """The ``k``-th docs shard."""
    return f"docs-{k:05d}.parquet"


def images_name(size: int) -> str:
    """The image cache at ``size`` px."""
    return f"images-{size}.npy"


def image_sizes(root: Path) -> list[int]:
    """The sizes of the image caches in the pool directory ``root``, ascending."""
    stems = (p.stem.removeprefix("images-") for p in root.glob(IMAGES_GLOB))
    return sorted(int(s) for s in stems if s.isdigit())


def tar_shard_name(k: int) -> str:
    """The ``k``-th webdataset tar of a built image-text pool."""
    return f"shards/shard-{k:05d}.tar"


def eval_data_version(evals_dir: Path) -> str:
    """The version of the text eval data in ``evals_dir`` (:data:`EVAL_DATA_FILE`,
    written with the data; eval data without one is version 1)."""
    record = evals_dir / EVAL_DATA_FILE
    return str(json.loads(record.read_text())["version"]) if record.is_file() else "1"


def item_content(text: str, image_sha256: str | None = None) -> str:
    """What an item's uid and content hash cover: its text, or for an image-text item its
    caption and its ``image_sha256`` (hex) joined by a newline."""
    return text if image_sha256 is None else f"{text}\n{image_sha256}"


def content_digest(content: str) -> bytes:
    """The sha256 of an item's content (:func:`item_content`), 32 raw bytes."""
    return hashlib.sha256(content.encode()).digest()


def make_uid(source: str, locator: str, content: str) -> str:
    """A built pool's stable 32-hex uid from an item's source, locator and content."""
    payload = f"{source}\n{locator}\n{content}".encode()
    return hashlib.sha256(payload).hexdigest()[:32]


def uid_of_id(value: Any) -> str:
    """An imported item's uid from its source id: the id itself (lower-cased) when it is
    32 hex characters, else the first 32 hex characters of the sha256 of its UTF-8 text."""
    s = str(value)
    if len(s) == 32 and all(c in "0123456789abcdefABCDEF" for c in s):
        return s.lower()
    return hashlib.sha256(s.encode()).hexdigest()[:32]


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def fingerprint(sorted_uids: np.ndarray, digests: np.ndarray) -> str:
    """The pool fingerprint: sha256 over one line ``f"{uid} {content sha256 hex}\\n"`` per
    item in uid order. ``sorted_uids`` is :data:`UID_DTYPE`, ascending; ``digests`` their
    content digests (:func:`content_digest`) as ``(n, 32)`` uint8. Vectorised, in blocks."""
    h = hashlib.sha256()
    block = 1 << 18
    for s in range(0, len(sorted_uids), block):
        uids = np.ascontiguousarray(sorted_uids[s : s + block]).view(np.uint8).reshape(-1, 32)
        d = np.asarray(digests[s : s + block], dtype=np.uint8)  # (b, 32)
        line = np.empty((len(uids), 98), dtype=np.uint8)  # (b, 98): "uid sha256hex\n"
        line[:, :32], line[:, 32], line[:, 97] = uids, ord(" "), ord("\n")
        line[:, 33:97:2], line[:, 34:97:2] = _HEX[d >> 4], _HEX[d & 15]
        h.update(line)
    return h.hexdigest()


def fingerprint_of(uids: Sequence[str], contents: Sequence[str]) -> str:
    """:func:`fingerprint` of items in any order, from their uids and contents."""
    if not all(isinstance(u, str) and len(u) == 32 for u in uids):
        raise ValueError("every uid must be 32 characters")
    pairs = sorted(zip(uids, map(content_digest, contents), strict=True))
    digests = np.frombuffer(b"".join(d for _, d in pairs), dtype=np.uint8).reshape(-1, 32)
    return fingerprint(np.array([u for u, _ in pairs], dtype=UID_DTYPE), digests)


def decode_square(data: bytes, sizes: tuple[int, ...]) -> tuple[int, int, list[np.ndarray]]:
    """Width, height, and the image file ``data`` centre-cropped to a square and resized
    (bicubic) to each size, RGB uint8: the pixels of an imported pool's image caches, and
    of its encoded images as training decodes them (JPEGs drafted at the largest size)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        width, height = im.size
        if sizes:
            im.draft("RGB", (max(sizes), max(sizes)))  # JPEG: the smallest scale that fits
        rgb = im.convert("RGB")
    if not sizes:
        return width, height, []
    side = min(rgb.size)
    left, top = (rgb.width - side) // 2, (rgb.height - side) // 2
    square = rgb.crop((left, top, left + side, top + side))
    return width, height, [np.asarray(square.resize((s, s), Image.BICUBIC)) for s in sizes]
