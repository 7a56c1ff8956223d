"""Build time and peak memory of the LM packing index at a GPU recipe's full budget.

    python benchmarks/packing_index.py                     # 400m-1x, 1M documents
    python benchmarks/packing_index.py --scale 1b-1x --docs 2000000

A synthetic pool: ``--docs`` documents with log-normal lengths (median about 600 tokens,
mean about 1,000, as web text), offsets in memory and tokens in a sparse memory-mapped
file (the index reads only the offsets to build; a batch reads its own tokens). Reports
the index's build time, the peak of Python-tracked memory during the build (numpy
allocations included), the index's size, the time to gather one process's share of a
step (one of 8 processes; first from the file, then from the page cache: the index's
own work), and what the materialised stream the index replaces would
have allocated: budget tokens x 8 bytes (int64), in every process.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from benchmark.config import load_recipe
from benchmark.train.packing import PackedSequences

GiB = 1024**3


def synthetic_pool(num_docs: int, folder: Path, seed: int = 0):
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(mean=6.4, sigma=1.0, size=num_docs), 16, 100_000)
    offsets = np.concatenate(([0], np.cumsum(lengths.astype(np.int64))))
    tokens = np.lib.format.open_memmap(
        folder / "tokens.npy", mode="w+", dtype=np.uint16, shape=(int(offsets[-1]),)
    )  # sparse on disk: never written, reads as zeros
    return tokens, offsets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="400m-1x")
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--processes", type=int, default=8, help="processes sharing a step")
    args = ap.parse_args()
    recipe = load_recipe("lm", args.scale)
    d = recipe.data
    num_sequences = recipe.num_steps * d.global_batch_size
    with tempfile.TemporaryDirectory() as tmp:
        tokens, offsets = synthetic_pool(args.docs, Path(tmp))
        rows = np.arange(args.docs)
        tracemalloc.start()
        t0 = time.perf_counter()
        seqs = PackedSequences(
            tokens,
            offsets,
            rows,
            seq_len=d.seq_len,
            num_sequences=num_sequences,
            eos_id=0,
            seed=recipe.seed,
        )
        build_s = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        share = d.global_batch_size // args.processes
        gather_ms = {}
        for where in ("cold", "warm"):  # first touch of the file's pages, then page cache
            t0 = time.perf_counter()
            for step in range(20):
                start = (step * 97 % recipe.num_steps) * d.global_batch_size
                seqs[start : start + share]
            gather_ms[where] = (time.perf_counter() - t0) / 20 * 1000
    stream = num_sequences * d.seq_len * 8
    print(
        f"scale {args.scale}: {recipe.num_steps} steps x {d.global_batch_size} x {d.seq_len}"
        f" = {num_sequences * d.seq_len / 1e9:.2f}B tokens"
    )
    print(
        f"pool: {args.docs:,} documents, {int(offsets[-1]) / 1e9:.2f}B tokens; "
        f"{seqs.num_epochs} epoch(s)"
    )
    print(
        f"index build: {build_s:.2f} s, peak traced memory {peak / GiB:.3f} GiB, "
        f"index {seqs.nbytes / GiB:.3f} GiB"
    )
    print(
        f"one process's share of a step ({share} sequences): {gather_ms['warm']:.1f} ms "
        f"from the page cache, {gather_ms['cold']:.1f} ms reading the memory-mapped file"
    )
    print(
        f"the materialised int64 stream it replaces: {stream / GiB:.1f} GiB per process "
        f"({stream / peak:.0f}x the index's peak)"
    )


if __name__ == "__main__":
    main()
