"""Build the embedded CLIP pool ``image-default`` from named images the registries ship.

Steps: fetch every source (cached), read its objects, hold out one whole emoji art style
and 1 in 8 clip art drawings for evaluation, render each remaining object once into a
sprite, plan the pool items (``variants`` augmented renders per object, composites of
two objects side by side, exact duplicates), caption each item by a kind drawn from a
hash of its locator (see :mod:`benchmark.pool.image.captions`; ``caption_kind`` is an oracle
label for validation studies, a real pool has none), render the items at 64 px, and
write the pool: parquet index, webdataset tars, the 32/64 px image caches, the caption
tokenizer and the eval sets (checked for overlap with the pool).

    build_image_default(dest=Path(...), cache_dir=Path(...))
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from benchmark.errors import PoolError
from benchmark.fetch.packages import describe
from benchmark.pool import textmeta
from benchmark.pool.format import (
    EVALS_DIR,
    TOKENIZER_DIR,
    fingerprint_of,
    images_name,
    item_content,
    make_uid,
    tar_shard_name,
)
from benchmark.pool.image.captions import (
    DUPLICATE_SHARE,
    KINDS,
    choose_kind,
    make_caption,
)
from benchmark.pool.image.render import (
    IMAGE_SIZE,
    augment_params,
    compose,
    dhash,
    png_bytes,
    render_sprite,
    resize,
    seed_of,
)
from benchmark.pool.image.sources import HELDOUT_STYLE, IMAGE_SOURCES, ImageObject
from benchmark.pool.tokenizer import train_caption_tokenizer
from benchmark.pool.writer import write_pool_dir

log = logging.getLogger(__name__)

NAME = "image-default"
VERSION = "0.2.0"  # 0.2.0: SVG text is not drawn (font-independent pixels)
HOLDOUT_CLIPART_EVERY = 8  # 1 in 8 clip art drawings is held out for evaluation
COMPOSITES_PER_OBJECT = 0.15  # composite items, per pool object
SHARD_SAMPLES = 10_000
CACHE_RESOLUTIONS = (32, 64)
VOCAB_SIZE = 4096
NUM_WORKERS = 2
SLOW_RENDER_SECONDS = 3.0  # renders slower than this are logged (MAX_SVG_BYTES keeps them rare)

_SPRITES: list[np.ndarray] = []  # set before forking the compose workers


def _held_out(obj: ImageObject) -> bool:
    if obj.source == HELDOUT_STYLE:
        return True
    return obj.source == "openclipart" and seed_of(obj.locator) % HOLDOUT_CLIPART_EVERY == 0


def _map(fn, args: list, desc: str, chunksize: int) -> list:
    """``fn`` over ``args`` in order, on NUM_WORKERS forked processes when worth it."""
    bar = dict(total=len(args), desc=desc, unit="img", mininterval=2.0)
    if len(args) < 2000:
        return [fn(a) for a in tqdm(args, **bar)]
    with multiprocessing.get_context("fork").Pool(NUM_WORKERS) as pool:
        return list(tqdm(pool.imap(fn, args, chunksize=chunksize), **bar))


def _sprite(obj: tuple[bytes, str, str]) -> np.ndarray | None:
    data, fmt, locator = obj
    t0 = time.time()
    sprite = render_sprite(data, fmt)
    if time.time() - t0 > SLOW_RENDER_SECONDS:
        log.warning("slow render (%.1fs): %s", time.time() - t0, locator)
    return sprite


def _render_item(job: tuple[list[int], int]) -> tuple[np.ndarray, np.ndarray, bytes, str, str]:
    """One pool item: 64 px RGB, 32 px RGB, PNG bytes, pixel sha256, dhash hex."""
    sprite_ids, seed = job
    rgb = compose([_SPRITES[i] for i in sprite_ids], augment_params(seed))
    sha = hashlib.sha256(rgb.tobytes()).hexdigest()
    return rgb, resize(rgb, 32), png_bytes(rgb), sha, f"{dhash(rgb):016x}"


def _collect(cache_dir: Path, max_docs: int | None):
    from benchmark.fetch.packages import fetch_source
    from benchmark.pool.image.sources import fetch_helpers

    helpers = fetch_helpers(cache_dir)
    roots = {k: f.root for k, f in helpers.items()}
    pool_objs: list[ImageObject] = []
    heldout: list[ImageObject] = []
    records = []
    for src in IMAGE_SOURCES:
        fetched = fetch_source(src, cache_dir)
        objs = list(src.read(fetched.root, roots))
        skipped = Counter(o.skip for o in objs if o.skip)
        usable = sorted((o for o in objs if not o.skip), key=lambda o: seed_of(o.locator))
        held = [o for o in usable if _held_out(o)]
        kept = [o for o in usable if not _held_out(o)][:max_docs]
        pool_objs.extend(kept)
        heldout.extend(held)
        records.append(
            {
                **describe(fetched),
                "name": src.name,
                "role": "images",
                "num_objects": len(objs),
                "num_skipped": dict(skipped),
                "num_heldout_objects": len(held),
                "num_pool_objects": len(kept),
                "variants": src.variants,
            }
        )
        log.info(
            "source %s: %d objects, %d held out, %d in the pool",
            src.name,
            len(objs),
            len(held),
            len(kept),
        )
    for name, fetched in helpers.items():
        records.append({**describe(fetched), "name": name, "role": "metadata and evals"})
    return pool_objs, heldout, records, roots


def _plan(objs: list[ImageObject], variants: dict[str, int]) -> list[dict[str, Any]]:
    """Every pool item: locator, source, object indices, augmentation seed, caption."""
    plans = []
    for i, obj in enumerate(objs):
        for v in range(variants[obj.source]):
            plans.append({"locator": f"{obj.locator}#v{v}", "source": obj.source, "objs": [i]})
    by_locator = sorted(range(len(objs)), key=lambda i: objs[i].locator)
    for j in range(int(len(objs) * COMPOSITES_PER_OBJECT)):
        rng = random.Random(seed_of(f"composite/{j}"))
        a, b = rng.sample(by_locator, 2)
        loc = f"composite/{objs[a].locator}+{objs[b].locator}"
        plans.append({"locator": loc, "source": "composite", "objs": [a, b]})
    for p in plans:
        rng = random.Random(seed_of(p["locator"] + "#caption"))
        members = [objs[i] for i in p["objs"]]
        p["kind"] = choose_kind(rng, all(o.translations for o in members))
        other = objs[by_locator[rng.randrange(len(objs))]]
        aug = augment_params(seed_of(p["locator"]))
        p["text"] = make_caption(p["kind"], members, aug, rng, other)
    return plans


def build_image_default(
    dest: Path, cache_dir: Path, max_docs_per_source: int | None = None
) -> dict[str, Any]:
    """Build the pool into ``dest`` (atomically) and return its manifest.

    ``max_docs_per_source`` caps the pool objects of each source (a reduced pool for
    tests, named ``image-default-reduced``); every eval task is still built, smaller.
    """
    global _SPRITES
    from benchmark.pool.image.evals import plan_evals, write_evals

    t0 = time.time()
    reduced = max_docs_per_source is not None
    objs, heldout, records, roots = _collect(cache_dir, max_docs_per_source)
    eval_plan = plan_evals(heldout, reduced)
    eval_objs = list({o.locator: o for v in eval_plan.values() for o, _ in v}.values())
    everything = objs + eval_objs
    rendered = _map(_sprite, [(o.data, o.fmt, o.locator) for o in everything], "render sprites", 16)
    t_sprites = time.time() - t0
    eval_sprites = {
        o.locator: s for o, s in zip(eval_objs, rendered[len(objs) :], strict=True) if s is not None
    }
    unreadable = Counter(o.source for o, s in zip(objs, rendered, strict=False) if s is None)
    keep = [i for i in range(len(objs)) if rendered[i] is not None]
    objs = [objs[i] for i in keep]
    _SPRITES = [rendered[i] for i in keep]
    if not objs:
        raise PoolError(f"pool {NAME}: the sources yielded no images; check the downloads")
    plans = _plan(objs, {s.name: s.variants for s in IMAGE_SOURCES})
    jobs = [(p["objs"], seed_of(p["locator"])) for p in plans]
    out = _map(_render_item, jobs, "render items", 64)
    _SPRITES = []
    items, payload = [], []
    for p, (rgb64, rgb32, png, sha, dh) in zip(plans, out, strict=True):
        copies = [(p["locator"], p["kind"])]
        if seed_of(p["locator"] + "#dup") % 10_000 < DUPLICATE_SHARE * 10_000:
            copies.append((p["locator"] + "#copy", "duplicate"))
        for loc, kind in copies:
            text = p["text"]
            items.append(
                {
                    "uid": make_uid(p["source"], loc, item_content(text, sha)),
                    "text": text,
                    "source": p["source"],
                    "locator": loc,
                    "caption_kind": kind,
                    "num_words": len(text.split()),
                    "num_chars": len(text),
                    "language": textmeta.guess_language(text),
                    "width": IMAGE_SIZE,
                    "height": IMAGE_SIZE,
                    "image_sha256": sha,
                    "dhash": dh,
                }
            )
            payload.append((rgb64, rgb32, png))
    order = sorted(range(len(items)), key=lambda k: items[k]["uid"])
    items = [items[k] for k in order]
    payload = [payload[k] for k in order]
    if len({it["uid"] for it in items}) != len(items):
        raise PoolError(f"pool {NAME}: repeated uids; a source yields the same locator twice")
    t_render = time.time() - t0

    def build_payload(tmp: Path) -> dict[str, Any]:
        import webdataset as wds

        np.save(tmp / images_name(64), np.stack([p[0] for p in payload]))
        np.save(tmp / images_name(32), np.stack([p[1] for p in payload]))
        shards = []
        for k, start in enumerate(range(0, len(items), SHARD_SAMPLES)):
            name = tar_shard_name(k)
            (tmp / name).parent.mkdir(exist_ok=True)
            with wds.TarWriter(str(tmp / name), mtime=0.0) as sink:
                for it, (_, _, png) in zip(
                    items[start : start + SHARD_SAMPLES],
                    payload[start : start + SHARD_SAMPLES],
                    strict=True,
                ):
                    meta = json.dumps(it, ensure_ascii=False, sort_keys=True)
                    sink.write({"__key__": it["uid"], "png": png, "txt": it["text"], "json": meta})
            shards.append(name)
        train_caption_tokenizer([it["text"] for it in items], VOCAB_SIZE, tmp / TOKENIZER_DIR)
        pool_sha = {
            64: {it["image_sha256"] for it in items},
            32: {hashlib.sha256(p[1].tobytes()).hexdigest() for p in payload},
        }
        pool_dhash = np.array([int(it["dhash"], 16) for it in items], dtype=np.uint64)
        evals = write_evals(
            tmp / EVALS_DIR,
            eval_plan,
            eval_sprites,
            roots,
            pool_sha,
            pool_dhash,
            reduced,
        )
        manifest["build"]["total_seconds"] = round(time.time() - t0, 1)  # before the rename
        return {
            "tar_shards": shards,
            "tokenizer": {
                "type": "byte-level BPE",
                "vocab_size": VOCAB_SIZE,
                "normalizer": "NFKC + lowercase",
                "pad_token": "<pad>",
                "eos_token": "</s>",
                "unk_token": "<unk>",
            },
            "evals": {name: t["num_items"] for name, t in evals["tasks"].items()},
            "evals_overlap_dropped": sum(
                t["dropped"] for t in evals["overlap"]["per_task"].values()
            ),
        }

    kinds = Counter(it["caption_kind"] for it in items)
    per_source = Counter(it["source"] for it in items)
    for rec in records:
        if rec.get("role") == "images":
            rec["num_items"] = per_source.get(rec["name"], 0)
            rec["num_unreadable"] = unreadable.get(rec["name"], 0)
    name = NAME if not reduced else f"{NAME}-reduced"
    manifest = {
        "name": name,
        "version": VERSION,
        "track": "clip",
        "num_items": len(items),
        "fingerprint": fingerprint_of(
            [it["uid"] for it in items],
            [item_content(it["text"], it["image_sha256"]) for it in items],
        ),
        "sources": records,
        "caption_kinds": KINDS,
        "image_size": IMAGE_SIZE,
        "cache_resolutions": list(CACHE_RESOLUTIONS),
        "stats": {
            "items_per_source": dict(sorted(per_source.items())),
            "items_per_caption_kind": dict(kinds.most_common()),
            "caption_kind_shares": {k: round(n / len(items), 4) for k, n in kinds.most_common()},
            "languages": dict(Counter(it["language"] for it in items).most_common()),
            "num_heldout_objects": len(heldout),
        },
        "build": {
            "max_docs_per_source": max_docs_per_source,
            "holdout_style": HELDOUT_STYLE,
            "holdout_clipart_every": HOLDOUT_CLIPART_EVERY,
            "sprite_seconds": round(t_sprites, 1),
            "render_seconds": round(t_render, 1),
        },
    }
    manifest = write_pool_dir(dest, items, manifest, build_payload)
    log.info("built %s: %d items in %.0fs", name, len(items), time.time() - t0)
    return manifest
