"""What a subset keeps of a labelled pool: per group and per quality label.

The embedded pools label their items: a text pool's sources carry a quality (``good``,
``reference``, ``junk``) in its manifest, and an image-text pool's caption kinds do
(``caption_kinds``). Against those labels a selection's effect can be read directly, for
example that a caption filter drops the empty captions but keeps the mismatched ones.
Imported pools (DataComp, DCLM) carry no labels, so ``select`` records a composition only
for labelled pools.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmark.pool.store import Pool


def pool_labels(pool: Pool) -> tuple[str, dict[str, str | None]]:
    """The column that groups the pool's items (``caption_kind`` or ``source``) and each
    group's quality label (None where unlabelled)."""
    kinds = pool.manifest.get("caption_kinds")
    if kinds:
        return "caption_kind", dict(kinds)
    return "source", {s["name"]: s.get("quality") for s in pool.manifest["sources"]}


def composition(pool: Pool, rows: np.ndarray) -> dict[str, Any]:
    """How the subset ``rows`` (pool rows, repeats allowed) covers the pool.

    ``kept``: the share of the pool's items in the subset (each item once). Per group
    and per label: the pool's count, the items kept, their share of the group (``kept``)
    and of the subset (``share``, repeats counted).
    """
    key, labels = pool_labels(pool)
    groups = pool.read_table([key]).column(key).to_numpy(zero_copy_only=False).astype(str)
    rows = np.asarray(rows, dtype=np.int64)
    unique = np.zeros(len(groups), dtype=bool)
    unique[rows] = True
    names, inverse = np.unique(groups, return_inverse=True)
    in_pool = np.bincount(inverse, minlength=len(names))
    kept = np.bincount(inverse[unique], minlength=len(names))
    taken = np.bincount(inverse[rows], minlength=len(names))

    def stats(n_pool: int, n_kept: int, n_taken: int) -> dict[str, Any]:
        return {
            "pool": int(n_pool),
            "kept": round(n_kept / n_pool, 4) if n_pool else 0.0,
            "share": round(n_taken / len(rows), 4) if len(rows) else 0.0,
        }

    by_group = {
        str(name): {"label": labels.get(str(name)), **stats(in_pool[i], kept[i], taken[i])}
        for i, name in enumerate(names)
    }
    by_label: dict[str, dict[str, Any]] = {}
    for label in sorted({g["label"] for g in by_group.values() if g["label"]}):
        members = [i for i, name in enumerate(names) if labels.get(str(name)) == label]
        by_label[label] = stats(in_pool[members].sum(), kept[members].sum(), taken[members].sum())
    return {
        "group_by": key,
        "kept": round(int(unique.sum()) / len(groups), 4),
        "labels": by_label,
        "groups": by_group,
    }
