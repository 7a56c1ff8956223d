"""``bench subset audit``: what a subset holds of the eval sets, how often the scale's
budget repeats it, and what it keeps of the pool.

    report = audit(pool, subset, recipe, suite, data_dir, against=None)

- **contamination**, per task of the scale's suite: the share of its eval items found in
  the subset, and the subset uids responsible. LM: an item is found when a word 13-gram
  of its context or of a choice (the words :mod:`benchmark.pool.textmeta` splits, lower
  case; the rule the text pool's build checks the pool with) stands in a subset document.
  CLIP: an eval image is found when a subset image at the eval images' size has the same
  pixels (sha256) or a 64-bit difference hash within 2 bits of it (the image pool build's
  rule).
- **repetition**: unique and repeated uids, and how many passes over the subset the
  scale's fixed budget takes, by the trainers' own arithmetic
  (:func:`benchmark.train.packing.token_epochs`, :func:`benchmark.train.clip.sample_passes`).
- **composition**: the subset's share by group (source or caption kind, with their
  quality labels), language and length bucket, beside a reference subset's (default:
  the whole pool).

The pass over the documents is a scan (:mod:`benchmark.select.scan`): shard by shard, on
this machine or on the Ray engine.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.config import Recipe
from benchmark.evaluate.suite import Suite
from benchmark.pool import textmeta
from benchmark.pool.store import Pool
from benchmark.subset import Subset

log = logging.getLogger(__name__)

NGRAM = 13  # words, as the text pool's build and DCLM's decontamination
NEAR_HAMMING = 2  # dhash bits: the image pool build's "same picture"
MAX_UIDS = 20  # responsible subset uids listed per task
_P = np.uint64(1099511628211)  # FNV prime: the rolling combination of word hashes
LENGTH_BUCKETS = {"lm": (0, 50, 200, 1000), "clip": (0, 1, 3, 10)}  # words, lower bounds


_WORD_HASHES: dict[str, int] = {}  # per process: word -> its lower case's hash
_MAX_WORDS = 1 << 20  # words remembered before the memo starts again


def _word_hash(word: str) -> int:
    if len(_WORD_HASHES) >= _MAX_WORDS:
        _WORD_HASHES.clear()
    h = _WORD_HASHES[word] = int.from_bytes(
        hashlib.blake2b(word.lower().encode(), digest_size=8).digest()
    )
    return h


def gram_hashes(text: str, n: int = NGRAM) -> np.ndarray:
    """Stable 64-bit hashes of the lower-cased word ``n``-grams of ``text`` (the same in
    every process, unlike Python's ``hash``). Each word's hash is memoised: a pool's words
    repeat, and blake2b was most of an audit's time."""
    words = textmeta.words(text)
    if len(words) < n:
        return np.zeros(0, dtype=np.uint64)
    memo = _WORD_HASHES
    h = np.array([memo[w] if w in memo else _word_hash(w) for w in words], dtype=np.uint64)
    out = np.zeros(len(words) - n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):
            out = out * _P + h[j : len(words) - n + 1 + j]
    return out


def _item_texts(row: dict) -> list[str]:
    """The parts of an eval item whose n-grams count: its context (or text, or word) and
    each choice, apart, so that no n-gram spans two of them."""
    parts = [str(row[k]) for k in ("context", "text", "word") if row.get(k)]
    return parts + [str(c) for c in row.get("choices", [])]


def lm_eval_items(suite: Suite, data_dir: Path) -> dict[str, list[list[str]]]:
    """Per task with local data files: its items, each as the texts that count."""
    from benchmark.evaluate.tasks import placeholder_paths

    out: dict[str, list[list[str]]] = {}
    for task in suite.tasks:
        if not task.file:
            continue
        text = (suite.task_dir / task.file).read_text(encoding="utf-8")
        items = []
        for rel in placeholder_paths(text):
            path = data_dir / rel
            if path.is_file():
                lines = path.read_text(encoding="utf-8").splitlines()
                items += [_item_texts(json.loads(line)) for line in lines if line.strip()]
        if items:
            out[task.name] = items
    return out


def _doc_hits(cols: dict, start: int, rows_ref, wanted_ref) -> np.ndarray:
    """(pool row, n-gram hash) of every wanted n-gram in this shard's subset documents
    (``rows_ref`` and ``wanted_ref``: the subset's sorted rows and the eval n-grams, as
    :func:`~benchmark.select.scan.share` saved them)."""
    from benchmark.select.scan import rows_in, shared

    texts = cols["text"]
    wanted = shared(*wanted_ref)
    found = []
    for row in rows_in(shared(*rows_ref), start, len(texts)).tolist():
        grams = gram_hashes(texts[row - start])
        pos = np.minimum(np.searchsorted(wanted, grams), max(len(wanted) - 1, 0))
        hit = np.unique(grams[wanted[pos] == grams]) if len(wanted) else grams[:0]
        found += [(row, int(g)) for g in hit]
    return np.array(found, dtype=[("row", "i8"), ("gram", "u8")])


def lm_contamination(pool: Pool, subset: Subset, suite: Suite, data_dir: Path) -> dict:
    from benchmark.select.scan import scan, share, shared_dir

    items = lm_eval_items(suite, data_dir)
    owners: dict[int, list[tuple[str, int]]] = {}  # n-gram -> the (task, item) holding it
    for task, rows in items.items():
        for i, texts in enumerate(rows):
            for g in set().union(*(set(gram_hashes(t).tolist()) for t in texts)):
                owners.setdefault(g, []).append((task, i))
    wanted = np.array(sorted(owners), dtype=np.uint64)
    with shared_dir() as folder:  # the subset's rows go to the tasks as a file
        rows = share(folder, "audit-rows", np.unique(subset.rows))
        grams = share(folder, "audit-grams", wanted)
        hits = scan(pool, _doc_hits, ["text"], "audit: contamination", rows, grams)
    found: dict[str, dict[int, set[int]]] = {t: {} for t in items}  # task -> item -> rows
    for row, gram in zip(hits["row"].tolist(), hits["gram"].tolist(), strict=True):
        for task, i in owners[gram]:
            found[task].setdefault(i, set()).add(row)
    return _per_task(pool, suite, {t: len(v) for t, v in items.items()}, found)


def _per_task(pool: Pool, suite: Suite, sizes: dict[str, int], found: dict) -> dict:
    out = {}
    for task in suite.tasks:
        if task.name not in sizes:
            out[task.name] = {"checked": False, "why": "its eval data is not local files"}
            continue
        rows = sorted({r for rs in found[task.name].values() for r in rs})
        uids = [u.decode() for u in np.asarray(pool.uids)[rows[:MAX_UIDS]]]
        n = sizes[task.name]
        out[task.name] = {
            "checked": True,
            "items": n,
            "found": len(found[task.name]),
            "share": round(len(found[task.name]) / n, 6) if n else 0.0,
            "subset_uids": uids,
            "num_subset_uids": len(rows),
        }
    return out


_POOLS: dict[str, Pool] = {}  # per process: the pool a scan's task reads images of


def _image_hits(cols: dict, start: int, root: str, rows_ref, evals: list) -> np.ndarray:
    """(eval set, eval item, pool row) of every eval image that this shard's subset images
    match: the same pixels at the eval images' size (where the pool caches it), or a
    difference hash within :data:`NEAR_HAMMING` bits (the pool's ``dhash`` column, else
    computed from its smallest image cache)."""
    from benchmark.pool.format import image_sizes
    from benchmark.pool.image.render import dhash
    from benchmark.select.scan import rows_in, shared
    from benchmark.train.images import image_cache

    if root not in _POOLS:
        _POOLS.clear()
        _POOLS[root] = Pool(Path(root))
    pool = _POOLS[root]
    rows = rows_in(shared(*rows_ref), start, len(cols["uid"]))
    have = image_sizes(pool.root)
    if "dhash" in cols:
        mine = np.array([int(cols["dhash"][r - start], 16) for r in rows], np.uint64)
    else:
        cache = image_cache(pool, min(have))
        mine = np.array([dhash(np.asarray(cache[r])) for r in rows], dtype=np.uint64)
    found = []
    for e, (size, hashes, shas) in enumerate(evals):
        if size in have:
            cache = image_cache(pool, size)
            for r in rows.tolist():
                for i in shas.get(hashlib.sha256(np.asarray(cache[r]).tobytes()).hexdigest(), ()):
                    found.append((e, i, r))
        for lo in range(0, len(hashes), 64):
            near = np.bitwise_count(np.bitwise_xor(hashes[lo : lo + 64, None], mine[None, :]))
            for i, j in zip(*np.nonzero(near <= NEAR_HAMMING), strict=True):
                found.append((e, lo + int(i), int(rows[j])))
    return np.array(found, dtype=[("eval", "i4"), ("item", "i8"), ("row", "i8")])


def clip_contamination(pool: Pool, subset: Subset, suite: Suite, data_dir: Path) -> dict:
    import pyarrow.parquet as pq

    from benchmark.pool.format import EVAL_IMAGES, image_sizes
    from benchmark.pool.image.render import dhash
    from benchmark.select.scan import scan, share, shared_dir

    columns = ["uid"]
    if "dhash" in pq.read_schema(pool.shard_paths()[0]).names:  # the embedded pool's column
        columns.append("dhash")
    elif not image_sizes(pool.root):
        why = {"checked": False, "why": "the pool has no image cache to hash"}
        return {t.name: why for t in suite.tasks}
    names, evals = [], []
    for task in suite.tasks:
        path = data_dir / task.name / EVAL_IMAGES
        if path.is_file():
            images = np.load(path, mmap_mode="r")
            hashes = np.array([dhash(np.asarray(im)) for im in images], dtype=np.uint64)
            shas: dict[str, list[int]] = {}
            for i, im in enumerate(images):
                shas.setdefault(hashlib.sha256(np.asarray(im).tobytes()).hexdigest(), []).append(i)
            names.append(task.name)
            evals.append((images.shape[1], hashes, shas))
    with shared_dir() as folder:  # the subset's rows go to the tasks as a file
        rows = share(folder, "audit-rows", np.unique(subset.rows))
        args = (str(pool.root), rows, evals)
        hits = scan(pool, _image_hits, columns, "audit: contamination", *args)
    found: dict[str, dict[int, set[int]]] = {n: {} for n in names}
    for e, i, r in zip(
        hits["eval"].tolist(), hits["item"].tolist(), hits["row"].tolist(), strict=True
    ):
        found[names[e]].setdefault(i, set()).add(r)
    return _per_task(pool, suite, {n: len(evals[k][1]) for k, n in enumerate(names)}, found)


def repetition(pool: Pool, subset: Subset, recipe: Recipe) -> dict[str, Any]:
    """Uids once and repeated, and the passes the recipe's budget takes over the subset."""
    counts = np.bincount(subset.rows, minlength=pool.num_items)
    out: dict[str, Any] = {
        "num_uids": subset.num_uids,
        "num_unique": subset.num_unique,
        "num_repeated": int((counts > 1).sum()),
        "budget": recipe.budget,
        "budget_unit": "tokens" if recipe.track == "lm" else "samples",
    }
    if recipe.track == "lm":
        from benchmark.train.packing import token_epochs

        offsets = np.asarray(pool.offsets)
        lengths = offsets[subset.rows + 1] - offsets[subset.rows] + 1  # + eos, as packed
        per_epoch, epochs = token_epochs(lengths, recipe.num_steps * recipe.examples_per_step)
        views = round(out["budget"] / per_epoch, 3)
        out.update(subset_size=per_epoch, epochs=epochs, views=views)
    else:
        from benchmark.train.clip import sample_passes

        samples = recipe.num_steps * recipe.examples_per_step
        epochs = sample_passes(samples, subset.num_uids)
        views = round(samples / subset.num_uids, 3)
        out.update(subset_size=subset.num_uids, epochs=epochs, views=views)
    return out


def _shares(values: np.ndarray, rows: np.ndarray) -> dict[str, float]:
    taken = Counter(values[rows].tolist())
    return {str(k): round(v / len(rows), 4) for k, v in sorted(taken.items())}


def composition(pool: Pool, subset: Subset, against: Subset | None) -> dict[str, Any]:
    """The subset's shares (repeats counted) by group, language and length, beside the
    reference's (default: the whole pool) and the difference."""
    import pyarrow.parquet as pq

    from benchmark.select.composition import pool_labels

    group, labels = pool_labels(pool)
    present = set(pq.read_schema(pool.shard_paths()[0]).names)
    columns = [c for c in (group, "language", "num_words") if c in present]
    table = pool.read_table(columns if "num_words" in present else [*columns, "text"])
    ref = against.rows if against is not None else np.arange(pool.num_items)
    bounds = LENGTH_BUCKETS[pool.track]
    if "num_words" in present:
        words = np.asarray(table.column("num_words").to_numpy(zero_copy_only=False))
    else:  # an imported image pool: its captions' words
        words = np.array([len((t or "").split()) for t in table.column("text").to_pylist()])
    bucket = np.searchsorted(np.array(bounds[1:]), words, side="right")
    names = [f"{lo}+" if i == len(bounds) - 1 else
             str(lo) if bounds[i + 1] - 1 == lo else f"{lo}-{bounds[i + 1] - 1}"
             for i, lo in enumerate(bounds)]  # fmt: skip
    by = {
        c: table.column(c).to_numpy(zero_copy_only=False).astype(str)
        for c in (group, "language")
        if c in present
    }
    by["length_words"] = np.array(names)[bucket]
    out: dict[str, Any] = {"reference": against.file if against is not None else "the pool"}
    for key, values in by.items():
        mine, theirs = _shares(values, subset.rows), _shares(values, ref)
        keys = names if key == "length_words" else sorted(set(mine) | set(theirs))
        out[key] = {
            k: {"subset": mine.get(k, 0.0), "reference": theirs.get(k, 0.0),
                "difference": round(mine.get(k, 0.0) - theirs.get(k, 0.0), 4)}
            for k in keys if k in mine or k in theirs
        }  # fmt: skip
    out["labels"] = {g: labels.get(g) for g in out.get(group, {})}
    return out


def audit(
    pool: Pool,
    subset: Subset,
    recipe: Recipe,
    suite: Suite,
    data_dir: Path,
    against: Subset | None = None,
) -> dict[str, Any]:
    """The three parts of the audit (see the module docstring)."""
    contamination = lm_contamination if pool.track == "lm" else clip_contamination
    return {
        "subset": {"file": subset.file or "the whole pool", "sha256": subset.sha256},
        "pool": {"name": pool.name, "fingerprint": pool.fingerprint},
        "scale": recipe.scale,
        "suite": {"name": suite.name, "version": suite.version},
        "contamination": contamination(pool, subset, suite, data_dir),
        "repetition": repetition(pool, subset, recipe),
        "composition": composition(pool, subset, against),
    }


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """What an entry records of its subset's audit (the whole report is ``audit.json``)."""
    checked = {t: c for t, c in report["contamination"].items() if c["checked"]}
    rep = report["repetition"]
    return {
        "contamination": {
            t: {"found": c["found"], "items": c["items"]} for t, c in checked.items()
        },
        "max_share": max((c["share"] for c in checked.values()), default=0.0),
        "epochs": rep["epochs"],
        "views": rep["views"],
        "num_repeated": rep["num_repeated"],
    }
