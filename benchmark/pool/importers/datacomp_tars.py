"""DataComp's webdataset tar shards, read for :mod:`~benchmark.pool.importers.datacomp`.

Each tar is read by its own task: its samples' images are decoded into per-shard image
parts at each cache size (and, with ``--encoded``, their bytes into a per-shard ``.bin``),
and their own columns (uid, caption or null, source, locator, url, image sha256, size,
key) go to a per-shard parquet part. Once every tar is read and the uid order is known,
:func:`write_images` and :func:`write_encoded` gather the parts into the pool's image
files in uid order. A webdataset sample's key is its member name up to the first dot.
"""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.errors import PoolError
from benchmark.pool.format import (
    ENCODED_IMAGES,
    ENCODED_OFFSETS,
    UID_DTYPE,
    decode_square,
    images_name,
)
from benchmark.pool.importers.common import shard_record

IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")
HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
_KEY_EXT = re.compile(r"^((?:.*/|)[^./]+)\.([^/]*)$")  # webdataset: key up to the first dot


def _samples(path: Path) -> Iterator[tuple[str, dict[str, bytes]]]:
    """``(key, {extension: bytes})`` of a webdataset tar, in the order keys first appear."""
    groups: dict[str, dict[str, bytes]] = {}
    with tarfile.open(path, "r:*") as tar:
        for member in tar:
            m = _KEY_EXT.match(member.name) if member.isfile() else None
            if m:
                f = tar.extractfile(member)
                groups.setdefault(m.group(1), {})[m.group(2).lower()] = f.read() if f else b""
    yield from groups.items()


def read_tar(task: tuple[str, str, str, int, tuple[int, ...], bool, bool]) -> dict[str, Any]:
    """Decode one shard's samples into ``img-NNNNNN-SIZE.npy`` in the staging folder (and,
    with ``encoded``, their bytes into ``enc-NNNNNN.bin``); return their uids, keys,
    captions and image facts (run in a worker process). With ``skip_bad``, a shard that
    cannot be read is imported as empty and its record says why."""
    source, rel, tmp, index, sizes, encoded, skip_bad = task
    try:
        return _read_tar(source, rel, tmp, index, sizes, encoded)
    except PoolError as err:
        if not skip_bad:
            raise
        empty = _read_tar(source, rel, tmp, index, sizes, encoded, limit=0)
        return {**empty, "record": {**empty["record"], "skipped": str(err)}}


def _read_tar(source, rel, tmp, index, sizes, encoded, limit: int | None = None):
    from PIL import Image

    lengths: list[int] = []
    enc = open(Path(tmp) / f"enc-{index:06d}.bin", "wb") if encoded else None  # noqa: SIM115
    path = Path(source) / rel
    out: dict[str, list] = {k: [] for k in ("uid", "key", "caption", "url", "sha", "w", "h")}
    images: list[list[np.ndarray]] = [[] for _ in sizes]
    try:
        for key, files in _samples(path) if limit != 0 else ():
            where = f"{path}: sample {key}"
            ext = next((e for e in IMAGE_EXTS if e in files), None)
            if ext is None:
                raise PoolError(f"{where}: no image (.{', .'.join(IMAGE_EXTS)})")
            try:
                meta = json.loads(files["json"]) if "json" in files else {}
            except ValueError as err:
                raise PoolError(f"{where}: malformed .json ({err})") from None
            uid = str(meta.get("uid") or Path(key).name)
            if not HEX32.match(uid):
                raise PoolError(f"{where}: no 32-hex uid (neither the .json's 'uid' nor the key)")
            try:
                w, h, arrays = decode_square(files[ext], sizes)
            except (OSError, ValueError, Image.DecompressionBombError) as err:
                raise PoolError(f"{where}: the .{ext} image cannot be decoded ({err})") from None
            for k, a in enumerate(arrays):
                images[k].append(a)
            if enc is not None:
                enc.write(files[ext])
                lengths.append(len(files[ext]))
            txt = files.get("txt")
            out["uid"].append(uid.lower())
            out["key"].append(key)
            out["caption"].append(
                txt.decode("utf-8", errors="replace") if txt is not None else None
            )
            out["url"].append(str(meta.get("url") or ""))
            out["sha"].append(hashlib.sha256(files[ext]).hexdigest())
            out["w"].append(w)
            out["h"].append(h)
    except (tarfile.TarError, EOFError) as err:
        # tarfile's "r:*" lists every compression it tried, a line each
        why = "not a tar file, or a damaged one" if "\n" in str(err) else str(err)
        raise PoolError(f"{path}: not a readable tar ({why})") from None
    finally:
        if enc is not None:
            enc.close()
    for k, s in enumerate(sizes):
        stack = np.stack(images[k]) if images[k] else np.zeros((0, s, s, 3), np.uint8)
        np.save(Path(tmp) / f"img-{index:06d}-{s}.npy", stack)
    record = shard_record(path, Path(source))  # hashes the tar: once
    _write_part(Path(tmp) / f"parse-{index:06d}.parquet", record["name"], out)
    return {
        "uid": np.array(out["uid"], dtype=UID_DTYPE),
        "enc_lengths": np.array(lengths, dtype=np.int64),
        "record": {**record, "num_items": len(out["key"])},
    }


def _write_part(path: Path, name: str, out: dict[str, list]) -> None:
    """One shard's samples as the docs shards' own columns (``text`` null where the sample
    has no ``.txt``), and each sample's ``key``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "uid": pa.array(out["uid"], pa.string()),
            "text": pa.array(out["caption"], pa.string()),
            "source": pa.array([name] * len(out["key"]), pa.string()),
            "locator": pa.array([f"{name}:{k}" for k in out["key"]], pa.string()),
            "url": pa.array(out["url"], pa.string()),
            "image_sha256": pa.array(out["sha"], pa.string()),
            "width": pa.array(out["w"], pa.int32()),
            "height": pa.array(out["h"], pa.int32()),
            "key": pa.array(out["key"], pa.string()),
        }
    )
    pq.write_table(table, path, compression="zstd")


def write_images(tmp: Path, parsed: list[dict], order: np.ndarray, sizes) -> None:
    """The image caches in uid order from the per-shard parts."""
    dest = np.empty(len(order), dtype=np.int64)
    dest[order] = np.arange(len(order))  # original item -> row in uid order
    for s in sizes:
        out = np.lib.format.open_memmap(tmp / images_name(s), "w+", np.uint8, (len(order), s, s, 3))
        start = 0
        for i in range(len(parsed)):
            part_path = tmp / f"img-{i:06d}-{s}.npy"
            part = np.load(part_path)
            out[dest[start : start + len(part)]] = part
            start += len(part)
            part_path.unlink()
        out.flush()
        del out


def write_encoded(tmp: Path, parsed: list[dict], order: np.ndarray) -> int:
    """:data:`ENCODED_IMAGES` (uint8, the image files' bytes in uid order) and
    :data:`ENCODED_OFFSETS` (int64, N + 1) from the per-shard parts, copied through memory
    maps one image at a time; the byte count."""
    lengths = np.concatenate([p["enc_lengths"] for p in parsed])  # original item order
    part_of = np.repeat(np.arange(len(parsed)), [len(p["enc_lengths"]) for p in parsed])
    starts = np.concatenate([np.cumsum(p["enc_lengths"]) - p["enc_lengths"] for p in parsed])
    offsets = np.concatenate([[0], np.cumsum(lengths[order])]).astype(np.int64)
    np.save(tmp / ENCODED_OFFSETS, offsets)
    paths = [tmp / f"enc-{i:06d}.bin" for i in range(len(parsed))]
    parts = [np.memmap(p, np.uint8, "r") if p.stat().st_size else None for p in paths]
    out = np.lib.format.open_memmap(tmp / ENCODED_IMAGES, "w+", np.uint8, (int(offsets[-1]),))
    for row, k in enumerate(order):
        part = parts[part_of[k]]
        out[offsets[row] : offsets[row + 1]] = part[starts[k] : starts[k] + lengths[k]]
    out.flush()
    del out, parts
    for p in paths:
        p.unlink()
    return int(offsets[-1])


def locate_sample(tmp: Path, parsed: list[dict], k: int) -> str:
    """``SHARD: sample KEY`` of the ``k``-th sample read (shards in order), from its part."""
    import pyarrow.parquet as pq

    counts = np.cumsum([len(p["uid"]) for p in parsed])
    part = int(np.searchsorted(counts, k, side="right"))
    row = k - (int(counts[part - 1]) if part else 0)
    key = (
        pq.read_table(tmp / f"parse-{part:06d}.parquet", columns=["key"]).column("key")[row].as_py()
    )
    return f"{parsed[part]['record']['name']}: sample {key}"
