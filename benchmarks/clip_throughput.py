"""CLIP training speed: the harness's loop against open_clip's own trainer, one command.

Both train the same open_clip model (a recipe's model config), on the same pool, with
the same batch, precision and thread count, for the same number of steps:

- open_clip_train: ``python -m open_clip_train.main`` reading the pool's webdataset
  shards (PNG decode + open_clip's preprocessing in a data-loader worker), the way a
  user of open_clip trains; the model comes from a ``local-dir:`` folder holding the
  same config and the pool's tokenizer, freshly initialised;
- the harness: ``train_clip`` on the pool's preprocessed image cache.

Steady-state samples/s of each (the first steps, which include start-up, are left out)
and their ratio are printed and written to ``--out`` as JSON.

Keep ``steps x batch`` plus open_clip's 5,000-sample shuffle buffer inside the first
10,000-sample shard: open_clip_train 3.3.0's ``group_by_keys_nothrow`` raises
``KeyError: 'fname'`` at a shard boundary with webdataset 1.0.2.

    BENCH_HOME=... python benchmarks/clip_throughput.py --scale small --steps 16 [--compile]

``--reduce-to DIR --items N`` instead writes a reduced copy of the pool (its first N
items, the tar shard re-encoded at the cache's resolution) under ``DIR/pools`` to carry
to another machine; ``BENCH_HOME=DIR ... --pool NAME`` then measures on it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from benchmark.config import clip_model_config, load_recipe
from benchmark.io import write_json
from benchmark.pool.build import ensure_pool
from benchmark.subset import whole_pool
from benchmark.train.clip import TOKENIZER_TAG, train_clip

_RATE = re.compile(r"Batch \(t\): [\d.]+, ([\d.]+)/s")


def open_clip_train_rate(recipe, pool, steps: int, workdir: Path, threads: int) -> dict:
    """Run open_clip's trainer for ``steps`` steps; return its steady-state samples/s."""
    d = recipe.data
    model_dir = workdir / "model"
    model_dir.mkdir(parents=True)
    cfg = clip_model_config(recipe.model.config)
    cfg["text_cfg"]["hf_tokenizer_name"] = TOKENIZER_TAG
    write_json(model_dir / "open_clip_config.json", {"model_cfg": cfg, "preprocess_cfg": {}})
    pool.load_tokenizer().save_pretrained(str(model_dir))
    shards = sorted((pool.root / "shards").glob("shard-*.tar"))
    first, last = shards[0].stem.split("-")[1], shards[-1].stem.split("-")[1]
    train_data = str(pool.root / "shards" / f"shard-{{{first}..{last}}}.tar")
    o = recipe.optim
    cmd = [
        sys.executable, "-m", "open_clip_train.main",
        "--model", f"local-dir:{model_dir}",
        "--train-data", train_data,
        "--dataset-type", "webdataset",
        "--train-num-samples", str(steps * d.global_batch_size),
        "--batch-size", str(d.global_batch_size),
        "--epochs", "1",
        "--lr", str(o.lr), "--wd", str(o.weight_decay), "--warmup", str(o.warmup_steps),
        "--beta1", str(o.beta1), "--beta2", str(o.beta2), "--eps", str(o.eps),
        "--grad-clip-norm", str(o.grad_clip),
        "--precision", "fp32",
        "--workers", "1",
        "--seed", "0",
        "--log-every-n-steps", "5",
        "--save-frequency", "0",
        "--logs", str(workdir / "logs"),
        "--name", "bench",
        "--report-to", "",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise SystemExit(f"open_clip_train failed:\n{log[-3000:]}")
    rates = [float(r) for r in _RATE.findall(log)]
    steady = rates[1:] or rates  # the first report includes start-up
    return {"samples_per_second": statistics.median(steady), "reports": rates}


def harness_rate(recipe, pool, steps: int, workdir: Path) -> dict:
    """Run the harness's loop for ``steps`` steps; steady-state samples/s from its log."""
    run_dir = workdir / "harness"
    run_dir.mkdir(parents=True)
    recipe = dataclasses.replace(
        recipe,
        data=dataclasses.replace(recipe.data, train_samples=steps * recipe.data.global_batch_size),
        optim=dataclasses.replace(recipe.optim, warmup_steps=min(recipe.optim.warmup_steps, 1)),
    )
    result = train_clip(recipe, pool, whole_pool(pool), run_dir, wandb_mode="disabled")
    rows = [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]
    skip = max(1, steps // 8)  # leave out start-up, as for open_clip's first report
    t = rows[-1]["elapsed_s"] - rows[skip - 1]["elapsed_s"]
    n = rows[-1]["samples"] - rows[skip - 1]["samples"]
    return {"samples_per_second": n / t, "overall": result.throughput}


def reduce_pool(pool, size: int, items: int, home: Path, name: str) -> Path:
    """The pool's first ``items`` items as pool ``name`` under ``home/pools``: index,
    tokenizer, ``size`` px cache, and one tar shard whose images are the cache's pixels as
    PNG (so both trainers read the same pixels)."""
    import io
    import shutil
    import tarfile

    import numpy as np
    import pyarrow.parquet as pq
    from PIL import Image

    dest = home / "pools" / name
    (dest / "shards").mkdir(parents=True)
    table = pool.read_table().slice(0, items)
    pq.write_table(table, dest / "docs-00000.parquet")
    np.save(dest / "uids.npy", np.asarray(pool.uids)[:items])
    images = np.load(pool.root / f"images-{size}.npy", mmap_mode="r")[:items]
    np.save(dest / f"images-{size}.npy", np.asarray(images))
    shutil.copytree(pool.tokenizer_dir, dest / "tokenizer")
    uids = table.column("uid").to_pylist()
    with tarfile.open(dest / "shards" / "shard-00000.tar", "w") as tar:
        for uid, text, pixels in zip(uids, table.column("text").to_pylist(), images, strict=True):
            buf = io.BytesIO()
            Image.fromarray(np.asarray(pixels)).save(buf, "PNG")
            for ext, data in (("png", buf.getvalue()), ("txt", text.encode()),
                              ("json", json.dumps({"uid": uid}).encode())):  # fmt: skip
                info = tarfile.TarInfo(f"{uid}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    manifest = {**pool.manifest, "name": name, "num_items": items, "shards": ["docs-00000.parquet"],
                "cache_resolutions": [size], "reduced_from": pool.fingerprint}  # fmt: skip
    write_json(dest / "manifest.json", manifest)
    return dest


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", default="small")
    p.add_argument("--pool", help="measure on this pool instead of the recipe's")
    p.add_argument("--steps", type=int, default=16)
    p.add_argument("--compile", action="store_true", help="also time the harness compiled")
    p.add_argument("--out", type=Path, default=Path("runs/bench/clip_throughput.json"))
    p.add_argument("--reduce-to", type=Path, help="write a reduced pool here and stop")
    p.add_argument("--items", type=int, default=9500)
    p.add_argument("overrides", nargs="*", help="recipe overrides, e.g. runtime.precision=fp32")
    args = p.parse_args()
    overrides = ([f"pool={args.pool}"] if args.pool else []) + args.overrides
    recipe = load_recipe("clip", args.scale, overrides)
    pool = ensure_pool(recipe.pool)
    if args.reduce_to:
        dest = reduce_pool(pool, recipe.data.image_size, args.items, args.reduce_to, "image-bench")
        print(f"wrote {dest}")
        return
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:
        ref = open_clip_train_rate(recipe, pool, args.steps, Path(tmp) / "oc", threads)
        ours = harness_rate(recipe, pool, args.steps, Path(tmp))
        if args.compile:
            compiled = dataclasses.replace(
                recipe, runtime=dataclasses.replace(recipe.runtime, compile=True)
            )
            ours_compiled = harness_rate(compiled, pool, args.steps, Path(tmp) / "compiled")
    ratio = ours["samples_per_second"] / ref["samples_per_second"]
    out = {
        "scale": args.scale,
        "model": recipe.model.config,
        "global_batch_size": recipe.data.global_batch_size,
        "steps": args.steps,
        "threads": threads,
        "overrides": overrides,
        "precision": recipe.runtime.precision,
        "open_clip_train": ref,
        "harness": ours,
        "ratio": ratio,
    }
    if args.compile:
        out["harness_compiled"] = ours_compiled
        out["ratio_compiled"] = ours_compiled["samples_per_second"] / ref["samples_per_second"]
    write_json(args.out, out)
    print(
        f"{recipe.model.config}, batch {recipe.data.global_batch_size}, {args.steps} steps, "
        f"{threads} threads\n"
        f"  open_clip_train  {ref['samples_per_second']:8.1f} samples/s\n"
        f"  harness          {ours['samples_per_second']:8.1f} samples/s\n"
        f"  ratio            {ratio:8.2f}x"
    )
    if args.compile:
        print(f"  harness compiled {ours_compiled['samples_per_second']:8.1f} samples/s, "
              f"ratio {out['ratio_compiled']:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
