"""Time and peak memory of `bench subset audit` on a 10M-uid subset of an imported pool.

    python benchmarks/audit_scale.py                        # 2M documents, 10M uids
    python benchmarks/audit_scale.py --docs 10000000 --uids 10000000 --out docs/audit_scale.json

A synthetic DCLM-format pool (``ray_scaling.make_pool``: ``--docs`` documents of 20-200
words, 40 shards a million) plus ``--planted`` documents that each quote one item of the
text pool's cloze task is imported with ``--evals-from text-default`` (so the LM suite's
eval data is the embedded pool's). The subset is ``--uids`` uids in DataComp's ``.npy``
format: every document of the pool, repeated in turn until the count is reached (a
subset may repeat uids: upsampling), shuffled with a fixed seed. The audit at scale
``--scale`` then runs as ``bench subset audit`` runs it, on the local engine with 1 and 2
workers (``--workers``): the subset is read, its documents scanned for the suite's 13-grams,
its repetition counted and its composition taken. Reports seconds per step, uids and
documents per second, the peak resident memory (driver and workers, psutil every 0.2 s)
and the planted items found: the script fails unless every one is.

Needs the embedded ``text-default`` pool built (``bench pool build text-default``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from ray_scaling import PeakRSS, make_pool

from benchmark.audit import composition, lm_contamination, repetition
from benchmark.config import load_recipe
from benchmark.engine import Engine
from benchmark.errors import PoolError
from benchmark.evaluate.suite import load_suite
from benchmark.pool.importers.external import import_external
from benchmark.pool.store import open_pool
from benchmark.run import eval_data_dir
from benchmark.select.scan import using
from benchmark.subset import load_subset, write_uids


def plant(src: Path, evals: Path, count: int) -> None:
    """One more shard: ``count`` documents, each quoting one cloze item's context."""
    rows = [json.loads(x) for x in (evals / "cloze.jsonl").read_text().splitlines()]
    chosen = np.random.default_rng(0).choice(len(rows), size=count, replace=False)
    with open(src / "planted.jsonl", "w") as f:
        for k, i in enumerate(sorted(chosen.tolist())):
            text = f"Found on a forum: {rows[i]['context']} -- and so on."
            f.write(json.dumps({"id": f"planted-{k}", "text": text}) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--docs", type=int, default=2_000_000)
    p.add_argument("--uids", type=int, default=10_000_000)
    p.add_argument("--planted", type=int, default=40)
    p.add_argument("--scale", default="small")
    p.add_argument("--workers", default="1,2")
    p.add_argument("--work", type=Path, default=Path("/tmp/audit-scale"))
    p.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = p.parse_args()
    text = open_pool("text-default")
    src = args.work / "src"
    if not src.is_dir():
        t0 = time.perf_counter()
        make_pool(src, args.docs, max(1, 40 * args.docs // 1_000_000))
        plant(src, text.evals_dir, args.planted)
        print(f"made {args.docs} documents in {time.perf_counter() - t0:.0f} s", flush=True)
    name = f"audit-scale-{args.docs}"
    try:
        pool = open_pool(name)
    except PoolError:  # not imported yet
        t0 = time.perf_counter()
        pool = import_external(
            name, "dclm", src, evals_from="text-default", tokenizer="text-default"
        )
        print(f"imported {pool.num_items} documents in {time.perf_counter() - t0:.0f} s")
    subset_file = args.work / f"subset-{args.uids}.npy"
    if not subset_file.is_file():
        uids = np.asarray(pool.uids)
        picked = np.resize(np.arange(pool.num_items), args.uids)
        np.random.default_rng(0).shuffle(picked)
        write_uids(subset_file, uids[picked])
    recipe = load_recipe("lm", args.scale)
    suite = load_suite("lm", recipe.eval.suite)
    data_dir = eval_data_dir(recipe.eval.data_dir, suite, pool)
    rows = []
    for workers in [int(w) for w in args.workers.split(",")]:
        row: dict = {"workers": workers}
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            subset = load_subset(subset_file, pool)
            row["read_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            with using(Engine("local", workers)):
                found = lm_contamination(pool, subset, suite, data_dir)
            row["contamination_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            rep = repetition(pool, subset, recipe)
            row["repetition_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            composition(pool, subset, None)
            row["composition_s"] = time.perf_counter() - t0
        row["total_s"] = sum(
            row[k] for k in ("read_s", "contamination_s", "repetition_s", "composition_s")
        )
        row["peak_driver_gib"] = mem.peak_driver / 1024**3
        row["peak_all_gib"] = mem.peak / 1024**3
        row["planted_found"] = found["databench_cloze"]["found"]
        row["epochs"], row["views"] = rep["epochs"], rep["views"]
        rows.append(row)
        print(
            f"{workers} worker(s): {subset.num_uids:,} uids ({subset.num_unique:,} unique) in "
            f"{row['total_s']:.0f} s: read {row['read_s']:.1f} s, contamination "
            f"{row['contamination_s']:.0f} s ({subset.num_unique / row['contamination_s']:,.0f} "
            f"doc/s), repetition {row['repetition_s']:.1f} s, composition "
            f"{row['composition_s']:.1f} s; peak driver {row['peak_driver_gib']:.2f} GiB, all "
            f"{row['peak_all_gib']:.2f} GiB; cloze items found {row['planted_found']}",
            flush=True,
        )
        if row["planted_found"] < args.planted:
            raise SystemExit(f"found {row['planted_found']} of {args.planted} planted items")
    if len(rows) > 1:
        print(f"contamination, {rows[-1]['workers']} workers over 1: "
              f"{rows[0]['contamination_s'] / rows[-1]['contamination_s']:.2f}x")  # fmt: skip
    if args.out:
        args.out.write_text(
            json.dumps({"docs": args.docs, "uids": args.uids, "rows": rows}, indent=1)
        )


if __name__ == "__main__":
    main()
