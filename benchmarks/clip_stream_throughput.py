"""CLIP training throughput from a decoded cache vs from encoded images streamed by workers.

Writes a synthetic DataComp-style source (webdataset tars of JPEGs at web-like sizes,
captions, parquet metadata with 128-bit uids), imports it twice (``--image-sizes SIZE``
and ``--encoded``; ``--tokenizer openai-clip`` for built-in configs), and trains the recipe
(default: ``datacomp-small``'s ViT-B-32 at 224 px, shortened) from the cache and from
the encoded pool with 0 and N decode workers, in one process. Prints samples/s of each
and the ratio to the cache run, and checks the three runs' losses are identical.

    python benchmarks/clip_stream_throughput.py --images 4096 --steps 24 --batch 256 --workers 8
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np


def write_source(root: Path, num: int, seed: int, per_shard: int = 1000) -> None:
    """``num`` JPEGs (random shapes on random backgrounds, 250-500 px sides) with captions."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    shapes = ("circle", "square", "triangle")
    colours = ("red", "green", "blue", "yellow", "purple", "orange")
    uids, texts = [], []
    root.mkdir(parents=True, exist_ok=True)
    for shard in range(0, num, per_shard):
        with tarfile.open(root / f"{shard // per_shard:05d}.tar", "w") as tar:
            for i in range(shard, min(shard + per_shard, num)):
                w, h = (int(v) for v in rng.integers(250, 500, size=2))
                bg = tuple(int(v) for v in rng.integers(0, 255, size=3))
                im = Image.new("RGB", (w, h), bg)
                shape, colour = shapes[i % 3], colours[int(rng.integers(6))]
                x0, y0 = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
                box = (x0, y0, x0 + w // 3, y0 + h // 3)
                draw = ImageDraw.Draw(im)
                if shape == "circle":
                    draw.ellipse(box, fill=colour)
                elif shape == "square":
                    draw.rectangle(box, fill=colour)
                else:
                    draw.polygon([(box[0], box[3]), (box[2], box[3]), (x0 + w // 6, y0)], colour)
                buf = io.BytesIO()
                im.save(buf, "JPEG", quality=90)
                uid = uuid.UUID(int=int(rng.integers(2**62)) << 64 | i).hex
                caption = f"a {colour} {shape} on a coloured background"
                for ext, data in (
                    ("jpg", buf.getvalue()),
                    ("txt", caption.encode()),
                    ("json", json.dumps({"uid": uid}).encode()),
                ):
                    info = tarfile.TarInfo(f"{i:08d}.{ext}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
                uids.append(uid)
                texts.append(caption)
    pq.write_table(pa.table({"uid": uids, "text": texts}), root / "metadata.parquet")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", default="datacomp-small")
    p.add_argument("--images", type=int, default=4096)
    p.add_argument("--steps", type=int, default=24)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--workers", default="8", help="decode worker counts to try, e.g. 4,8,14")
    p.add_argument("--out", help="write the figures as JSON here")
    args = p.parse_args()

    work = Path(tempfile.mkdtemp(prefix="clip-stream-"))
    os.environ.setdefault("BENCH_HOME", str(work / "home"))
    from benchmark.config import clip_model_config, load_recipe
    from benchmark.pool.importers.external import import_external
    from benchmark.subset import whole_pool
    from benchmark.train.clip import train_clip

    size = load_recipe("clip", args.scale).data.image_size
    t0 = time.time()
    write_source(work / "src", args.images, seed=0)
    made = time.time() - t0
    pools = {}
    counts = [int(w) for w in str(args.workers).split(",")]
    # open_clip's built-in configs need OpenAI CLIP's tokenizer; the repo's train their own
    text_cfg = clip_model_config(load_recipe("clip", args.scale).model.config)["text_cfg"]
    tokenizer = "train" if "eos_id" in text_cfg else "openai-clip"
    kinds = {"cache": {"image_sizes": (size,)}, "encoded": {"image_sizes": (), "encoded": True}}
    for name, kw in kinds.items():
        t0 = time.time()
        pools[name] = import_external(
            f"stream-{name}", "datacomp", work / "src", workers=max(counts),
            tokenizer=tokenizer, **kw,
        )  # fmt: skip
        print(f"import {name}: {time.time() - t0:.1f} s", flush=True)
    common = [
        f"data.global_batch_size={args.batch}",
        f"data.micro_batch_size={args.batch}",
        "optim.warmup_steps=1",
    ]
    runs = {"cache": ("cache", 0), "encoded-0": ("encoded", 0)}
    runs.update({f"encoded-{w}": ("encoded", w) for w in counts})
    # The first run in a process pays for CUDA/allocator warm-up: a short untimed one first.
    runs = {"warm-up": ("cache", 0), **runs}
    results = {}
    for label, (pool_name, workers) in runs.items():
        pool = pools[pool_name]
        steps = 4 if label == "warm-up" else args.steps
        samples = f"data.train_samples={steps * args.batch}"
        recipe = load_recipe(
            "clip",
            args.scale,
            [f"pool={pool.name}", samples, *common, f"runtime.data_workers={workers}"],
        )
        run_dir = work / "runs" / label
        run_dir.mkdir(parents=True)
        r = train_clip(recipe, pool, whole_pool(pool), run_dir, wandb_mode="disabled",
                       progress=False)  # fmt: skip
        if label == "warm-up":
            continue
        results[label] = {"samples_per_s": r.throughput, "final_loss": r.final_loss,
                          "device": r.device}  # fmt: skip
        print(f"{label}: {r.throughput:.0f} samples/s, loss {r.final_loss:.5f}", flush=True)
    ref = results["cache"]["samples_per_s"]
    for label, res in results.items():
        res["ratio_to_cache"] = res["samples_per_s"] / ref
        print(f"  {label:<12} {res['samples_per_s']:8.0f} samples/s  {res['ratio_to_cache']:.2f}x")
    losses = {res["final_loss"] for res in results.values()}
    print(f"identical losses: {len(losses) == 1} ({sorted(losses)})")
    summary = {"args": vars(args), "source_seconds": made, "cpus": os.cpu_count(), **results}
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
