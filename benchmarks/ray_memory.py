"""Peak memory of a Ray import and selection of pools several times the object store's size.

    python benchmarks/ray_memory.py                          # 1M and 3M documents
    python benchmarks/ray_memory.py --docs 1000000,3000000 --out docs/ray_memory.json

Synthetic DCLM-format pools (``ray_scaling.make_pool``) of each ``--docs`` size are
imported with ``bench pool import --format dclm --engine ray`` on a local Ray started with
``--workers`` CPUs and the engine's own object store (``benchmark.engine.OBJECT_STORE_BYTES``),
then selected from with ``exact-dedup``. Reports the pool's text (uncompressed), source
and docs shards against the object store, and the peak resident memory of the driver, of the largest
single process and summed over the driver and Ray's workers (psutil, every 0.2 s).

What streaming means here: the driver keeps 64 bytes an item (uid and content digest);
a worker holds one shard, or one bucket of the reorder (``BUCKET_SHARDS`` docs shards,
1M documents). So a pool 3x the larger keeps each worker's peak where it was, and the
driver's grows by the per-item arrays alone. The script fails if the largest Ray worker
of the biggest pool peaks above ``--max-growth`` times the smallest pool's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import ray
from ray_scaling import PeakRSS, make_pool

from benchmark.engine import OBJECT_STORE_BYTES, Engine, connect
from benchmark.pool.importers.external import import_external
from benchmark.select import select


def folder_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def measure(src: Path, workers: int, tokenizer: str, out: Path) -> dict:
    engine = Engine("ray", workers)
    connect(None, workers)
    try:
        row: dict = {}
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            pool = import_external(
                "mem", "dclm", src, engine=engine, tokenizer=tokenizer, force=True
            )
            row["import_s"] = time.perf_counter() - t0
        row["import"] = {"sum": mem.peak, "worker": mem.peak_worker, "driver": mem.peak_driver}
        with PeakRSS() as mem:
            select("exact-dedup", pool, out / "dedup.txt", engine=engine)
        row["exact-dedup"] = {"sum": mem.peak, "worker": mem.peak_worker, "driver": mem.peak_driver}
        row["num_docs"] = pool.num_items
        row["pool_bytes"] = folder_bytes(pool.root)
        row["docs_bytes"] = sum(p.stat().st_size for p in pool.shard_paths())
        chars = pool.read_table(["num_chars"]).column("num_chars").to_numpy()
        row["text_bytes"] = int(chars.sum())  # ASCII text: a byte a character
        shutil.rmtree(pool.root)
        return row
    finally:
        ray.shutdown()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--docs", default="1000000,3000000", help="comma-separated pool sizes")
    p.add_argument("--shards", type=int, default=40, help="source shards per million documents")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--max-growth", type=float, default=1.5)
    p.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = p.parse_args()
    sizes = [int(n) for n in args.docs.split(",")]
    gib = 1024**3
    rows = []
    with tempfile.TemporaryDirectory(prefix="ray-memory-") as tmp:
        tmp = Path(tmp)
        os.environ.setdefault("BENCH_HOME", str(tmp / "home"))
        tok_src = make_pool(tmp / "tok-src", 20_000, 1, seed=1)
        import_external("mem-tokenizer", "dclm", tok_src)  # one BPE for every size
        for n in sizes:
            src = make_pool(tmp / "src", n, max(1, args.shards * n // 1_000_000))
            row = {
                "source_bytes": folder_bytes(src),
                **measure(src, args.workers, "mem-tokenizer", tmp),
            }
            row["object_store_bytes"] = OBJECT_STORE_BYTES
            shutil.rmtree(src)
            rows.append(row)
            print(
                f"{n:>9} docs: text {row['text_bytes'] / gib:.2f} GiB = "
                f"{row['text_bytes'] / OBJECT_STORE_BYTES:.1f}x the object store (source "
                f"{row['source_bytes'] / gib:.2f} GiB, docs shards {row['docs_bytes'] / gib:.2f} "
                f"GiB compressed); import {row['import_s']:.0f} s",
                flush=True,
            )
            for step in ("import", "exact-dedup"):
                m = row[step]
                print(
                    f"    {step:<11} peak: driver {m['driver'] / gib:.2f} GiB, largest worker "
                    f"{m['worker'] / gib:.2f} GiB, all processes {m['sum'] / gib:.2f} GiB",
                    flush=True,
                )
    if args.out:
        args.out.write_text(json.dumps({"workers": args.workers, "rows": rows}, indent=1))
    for step in ("import", "exact-dedup"):
        growth = rows[-1][step]["worker"] / rows[0][step]["worker"]
        driver = (rows[-1][step]["driver"] - rows[0][step]["driver"]) / gib
        print(
            f"{step}, {sizes[0]} to {sizes[-1]} documents: largest worker {growth:.2f}x, "
            f"driver {driver:+.2f} GiB"
        )
        if growth > args.max_growth:
            raise SystemExit(f"{step}: the largest worker grew {growth:.2f}x; it does not stream")


if __name__ == "__main__":
    main()
