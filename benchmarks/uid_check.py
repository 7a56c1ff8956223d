"""Subset check at scale: a 10M-uid subset against a 20M-uid pool index.

Writes a synthetic pool (sorted ``uids.npy``, ``uids128.npy``, ``offsets.npy`` and a
manifest) and a subset drawn with replacement (repeats are upsampling, as in DataComp)
in DataComp's ``u8,u8`` ``.npy`` and as ``.txt``, into a temporary ``$BENCH_HOME``. Then,
each in a fresh process, it runs the real code path of ``bench subset check``
(:func:`benchmark.subset.check_subset`) and, as the reference, the previous full-load
implementation (the whole subset as ``S32`` strings, string binary search, string sort
for the hash). Reports wall time, the heap peak (tracemalloc: numpy's allocations,
not the memory-mapped index) and the process's peak RSS (which counts the index pages it
touched), and the ratio of the two implementations.

    python benchmarks/uid_check.py                       # 20M pool, 10M subset
    python benchmarks/uid_check.py --pool-size 2000000 --subset-size 1000000 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmark.pool.format import UIDS128
from benchmark.pool.uidindex import halves_to_hex

# One measured check, in a fresh interpreter: prints a JSON line.
_CHILD = r"""
import json, resource, sys, time, tracemalloc
from pathlib import Path
impl, path, pool_name = sys.argv[1:4]
import numpy as np
from benchmark.pool.store import open_pool
pool = open_pool(pool_name)
tracemalloc.start()
t0 = time.perf_counter()
if impl == "streaming":
    from benchmark.subset import check_subset
    c = check_subset(Path(path), pool)
    out = dict(num_uids=c.num_uids, num_unique=c.num_unique, num_tokens=c.num_tokens,
               sha256=c.sha256)
else:
    sys.path.insert(0, sys.argv[4])
    from uid_check import naive_check
    out = naive_check(Path(path), pool)
out["seconds"] = time.perf_counter() - t0
out["heap_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
out["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
print(json.dumps(out))
"""


def naive_check(path: Path, pool) -> dict:
    """The check as it was before streaming: everything in memory as 32-byte strings."""
    import hashlib

    if path.suffix == ".npy":
        arr = np.ravel(np.load(path, allow_pickle=False))
        a, b = (arr[n].astype(np.uint64) for n in arr.dtype.names[:2])
        uids = np.array(
            [f"{x:016x}{y:016x}" for x, y in zip(a.tolist(), b.tolist(), strict=True)],
            dtype="S32",
        )
    else:
        uids = np.array(
            [s.strip().lower() for s in path.read_bytes().split(b"\n") if s.strip()], dtype="S32"
        )
    rows = pool.lookup(uids)
    assert (rows >= 0).all()
    sha = hashlib.sha256(b"\n".join(np.sort(uids).tolist()) + b"\n").hexdigest()
    return dict(
        num_uids=len(uids),
        num_unique=int(len(np.unique(rows))),
        num_tokens=int(pool.token_counts()[rows].sum()),
        sha256=sha,
    )


def _write_hex(path: Path, hi: np.ndarray, lo: np.ndarray, chunk: int = 1 << 21) -> None:
    """``S32`` uids as an .npy written chunk by chunk."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype="S32", shape=(len(hi),))
    for s in range(0, len(hi), chunk):
        out[s : s + chunk] = halves_to_hex(hi[s : s + chunk], lo[s : s + chunk]).view("S32")[:, 0]
    out.flush()
    del out


def make_pool(home: Path, name: str, num_items: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    hi = np.sort(rng.integers(0, 2**64, size=num_items, dtype=np.uint64, endpoint=False))
    lo = rng.integers(0, 2**64, size=num_items, dtype=np.uint64, endpoint=False)
    tie = np.flatnonzero(hi[1:] == hi[:-1])  # keep (hi, lo) sorted where high halves tie
    for k in tie:
        lo[k : k + 2] = np.sort(lo[k : k + 2])
    root = home / "pools" / name
    root.mkdir(parents=True)
    _write_hex(root / "uids.npy", hi, lo)
    np.save(root / UIDS128, np.stack([hi, lo]))
    offsets = np.zeros(num_items + 1, dtype=np.int64)
    np.cumsum(rng.integers(1, 2000, size=num_items), out=offsets[1:])
    np.save(root / "offsets.npy", offsets)
    manifest = {
        "name": name,
        "version": "synthetic",
        "track": "lm",
        "num_items": num_items,
        "fingerprint": "synthetic",
        "sources": [],
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return hi, lo


def make_subsets(out: Path, hi, lo, size: int, seed: int, formats: list[str]) -> list[Path]:
    rng = np.random.default_rng(seed + 1)
    rows = rng.integers(0, len(hi), size=size)  # with replacement: some uids repeat
    paths = []
    if "npy" in formats:
        halves = np.empty(size, dtype="u8,u8")
        halves["f0"], halves["f1"] = hi[rows], lo[rows]
        np.save(out / "subset.npy", halves)
        paths.append(out / "subset.npy")
    if "txt" in formats:
        with open(out / "subset.txt", "wb") as f:
            for s in range(0, size, 1 << 21):
                r = rows[s : s + (1 << 21)]
                buf = np.empty((len(r), 33), dtype=np.uint8)
                buf[:, :32], buf[:, 32] = halves_to_hex(hi[r], lo[r]), 10
                f.write(buf.tobytes())
        paths.append(out / "subset.txt")
    return paths


def measure(impl: str, path: Path, pool: str, env: dict, repeats: int) -> dict:
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = subprocess.run(
            [sys.executable, "-c", _CHILD, impl, str(path), pool, str(Path(__file__).parent)],
            env=env,
            capture_output=True,
            text=True,
        )
        if res.returncode:
            raise SystemExit(f"{impl} check of {path} failed:\n{res.stderr}")
        run = json.loads(res.stdout.strip().splitlines()[-1])
        run["process_seconds"] = time.perf_counter() - t0
        runs.append(run)
    best = min(runs, key=lambda r: r["seconds"])
    best["all_seconds"] = [round(r["seconds"], 2) for r in runs]
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pool-size", type=int, default=20_000_000)
    p.add_argument("--subset-size", type=int, default=10_000_000)
    p.add_argument("--formats", default="npy,txt", help="comma-separated: npy, txt")
    p.add_argument("--repeats", type=int, default=3, help="runs of each check; best is kept")
    p.add_argument("--no-reference", action="store_true", help="skip the full-load reference")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="uid-check-") as tmp:
        home = Path(tmp)
        t0 = time.perf_counter()
        hi, lo = make_pool(home, "synthetic", args.pool_size, args.seed)
        paths = make_subsets(home, hi, lo, args.subset_size, args.seed, args.formats.split(","))
        del hi, lo
        print(f"generated in {time.perf_counter() - t0:.1f}s under {home}", flush=True)
        env = {**os.environ, "BENCH_HOME": str(home)}
        repo = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [repo, env.get("PYTHONPATH")]))
        print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        for path in paths:
            fast = measure("streaming", path, "synthetic", env, args.repeats)
            line = (
                f"{path.suffix:<5} streaming: {fast['seconds']:6.2f}s (runs {fast['all_seconds']}, "
                f"process {fast['process_seconds']:.2f}s), heap peak "
                f"{fast['heap_peak_mib']:7.1f} MiB, max RSS {fast['max_rss_mib']:7.1f} MiB"
            )
            print(line, flush=True)
            if args.no_reference:
                continue
            ref = measure("naive", path, "synthetic", env, 1)
            keys = ("num_uids", "num_unique", "num_tokens", "sha256")
            same = all(ref[k] == fast[k] for k in keys)
            print(
                f"{path.suffix:<5} full-load: {ref['seconds']:6.2f}s, heap peak "
                f"{ref['heap_peak_mib']:7.1f} MiB, max RSS {ref['max_rss_mib']:7.1f} MiB; "
                f"streaming is {ref['seconds'] / fast['seconds']:.1f}x faster with "
                f"{ref['heap_peak_mib'] / fast['heap_peak_mib']:.1f}x less heap; "
                f"results {'identical' if same else 'DIFFER'}",
                flush=True,
            )
        print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
