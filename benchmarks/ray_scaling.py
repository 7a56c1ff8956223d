"""Documents per second of a DCLM import and two selections, local against Ray, 1 CPU against 2.

    python benchmarks/ray_scaling.py                        # 1M documents, 40 shards
    python benchmarks/ray_scaling.py --docs 200000 --out docs/ray_scaling.json

A synthetic DCLM-format pool (``--docs`` documents of 20-200 words drawn from a
vocabulary of English-like words, 5% exact copies, ``.jsonl.zst`` shards with ids) is
imported with ``bench pool import --format dclm`` and selected from with two methods
(``--methods``, default ``exact-dedup`` and ``langid``), on each engine with 1 and 2
workers (a local Ray started for the run with that many CPUs). Every configuration must
give the same pool fingerprint and the same subsets; the script fails otherwise.
Reports, per configuration and step, documents per second, the scaling ratio (2 workers
over 1) and the peak resident memory summed over the driver, its child processes and
Ray's worker processes (sampled every 0.2 s with psutil).
The import step uses ``--tokenizer`` of a pool imported once beforehand, so that every
configuration tokenizes with the same BPE and the timing is of reading, writing and
tokenizing, not of the tokenizer's training (which runs once, on the driver).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

from benchmark.engine import Engine
from benchmark.io import sha256_file
from benchmark.pool.importers.external import import_external
from benchmark.select import select

WORDS = (  # noqa: SIM905
    "the of and to in is that it was for on are with as be by this have from or not river "
    "mountain house garden letter morning evening window road music story winter summer "
    "people water history city country north south government school family water light "
    "between under after before during through against among without within along"
).split()


def make_pool(root: Path, num_docs: int, num_shards: int, seed: int = 0) -> Path:
    """``num_shards`` .jsonl.zst shards of DCLM records holding ``num_docs`` documents."""
    import zstandard

    rng = np.random.default_rng(seed)
    vocab = np.array(WORDS)
    per = -(-num_docs // num_shards)
    made = 0
    root.mkdir(parents=True, exist_ok=True)
    for s in range(num_shards):
        n = min(per, num_docs - made)
        lengths = rng.integers(20, 200, size=n)
        words = vocab[rng.integers(0, len(vocab), size=int(lengths.sum()))]
        cuts = np.cumsum(lengths)[:-1]
        texts = [" ".join(w) + "." for w in np.split(words, cuts)]
        copies = rng.random(n) < 0.05
        src = rng.integers(0, max(1, n), size=n)
        lines = []
        for i in range(n):
            text = texts[src[i]] if copies[i] else texts[i]
            lines.append(json.dumps({"id": f"doc-{made + i}", "text": text, "url": f"u/{i}"}))
        data = ("\n".join(lines) + "\n").encode()
        (root / f"shard_{s:05d}.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
        made += n
    return root


class PeakRSS:
    """The peak of the summed RSS of this process, its descendants and Ray's workers
    (``peak``), and the peak of this process alone (``peak_driver``) and of any one of the
    others (``peak_worker``)."""

    def __init__(self) -> None:
        self.peak = self.peak_worker = self.peak_driver = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _total(self) -> int:
        me = psutil.Process()
        procs = {me.pid: me, **{p.pid: p for p in me.children(recursive=True)}}
        for p in psutil.process_iter(["name", "cmdline"]):
            cmd = " ".join(p.info.get("cmdline") or [])
            if cmd.startswith("ray::") or "default_worker.py" in cmd:
                procs[p.pid] = p
        total = 0
        for p in procs.values():
            with contextlib.suppress(psutil.Error):
                rss = p.memory_info().rss
                total += rss
                if p is me:
                    self.peak_driver = max(self.peak_driver, rss)
                else:
                    self.peak_worker = max(self.peak_worker, rss)
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._total())
            self._stop.wait(0.2)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._total())


def run_config(engine: Engine, src: Path, tokenizer: str, out: Path, methods: list[str]) -> dict:
    import ray

    row: dict = {"engine": engine.name, "workers": engine.workers}
    started = False
    if engine.name == "ray":  # one Ray for the configuration, started outside the timing
        from benchmark.engine import connect

        started = connect(None, engine.workers)
    try:
        name = f"bench-{engine.name}-{engine.workers}"
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            pool = import_external(
                name, "dclm", src, engine=engine, tokenizer=tokenizer, force=True
            )
            row["import_s"] = time.perf_counter() - t0
        row["import_peak_gib"] = mem.peak / 1024**3
        row["fingerprint"] = pool.fingerprint
        for method in methods:
            with PeakRSS() as mem:
                t0 = time.perf_counter()
                select(method, pool, out / f"{name}-{method}.txt", engine=engine)
                row[f"{method}_s"] = time.perf_counter() - t0
            row[f"{method}_peak_gib"] = mem.peak / 1024**3
            row[f"{method}_sha"] = sha256_file(out / f"{name}-{method}.txt")
        row["num_docs"] = pool.num_items
        shutil.rmtree(pool.root)
    finally:
        if started:
            ray.shutdown()
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--docs", type=int, default=1_000_000)
    p.add_argument("--shards", type=int, default=40)
    p.add_argument("--methods", default="exact-dedup,langid", help="two selection methods")
    p.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = p.parse_args()
    methods = args.methods.split(",")
    with tempfile.TemporaryDirectory(prefix="ray-scaling-") as tmp:
        tmp = Path(tmp)
        os.environ.setdefault("BENCH_HOME", str(tmp / "home"))
        t0 = time.perf_counter()
        src = make_pool(tmp / "src", args.docs, args.shards)
        made = time.perf_counter() - t0
        print(f"made {args.docs} documents in {args.shards} shards in {made:.0f} s")
        tok_src = make_pool(tmp / "tok-src", 20_000, 1, seed=1)
        import_external("bench-tokenizer", "dclm", tok_src)  # its BPE, for every configuration
        rows = []
        for engine in (Engine("local", 1), Engine("local", 2), Engine("ray", 1), Engine("ray", 2)):
            row = run_config(engine, src, "bench-tokenizer", tmp, methods)
            rows.append(row)
            n = row["num_docs"]
            print(
                f"{engine.name:<5} {engine.workers} cpu: import {n / row['import_s']:8.0f} doc/s "
                f"(peak {row['import_peak_gib']:.2f} GiB), "
                + ", ".join(f"{m} {n / row[f'{m}_s']:8.0f} doc/s" for m in methods),
                flush=True,
            )
    for key in ("fingerprint", *(f"{m}_sha" for m in methods)):
        if len({r[key] for r in rows}) != 1:
            raise SystemExit(f"the configurations differ in {key}: {[r[key] for r in rows]}")
    ratios = {}
    for name in ("local", "ray"):
        one, two = (
            next(r for r in rows if r["engine"] == name and r["workers"] == w) for w in (1, 2)
        )
        ratios[name] = {s: one[f"{s}_s"] / two[f"{s}_s"] for s in ("import", *methods)}
        print(
            f"{name}: 2 CPUs over 1: " + ", ".join(f"{s} {v:.2f}x" for s, v in ratios[name].items())
        )
    if args.out:
        args.out.write_text(
            json.dumps({"docs": args.docs, "rows": rows, "ratios": ratios}, indent=1)
        )


if __name__ == "__main__":
    main()
