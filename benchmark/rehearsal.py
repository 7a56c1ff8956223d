"""A rehearsal of a GPU scale on the CPU: the same code path as a real run, shrunk.

    path, entry = rehearse("lm", workdir, board=workdir / "board")

1. writes an external pool in its project's own format (DCLM: ``.jsonl.zst`` shards;
   DataComp: webdataset tars with parquet metadata) and imports it with
   ``bench pool import --format``'s library call;
2. writes stand-in eval data for the scale's suite (``dclm-core`` / ``datacomp``) in
   exactly the layout ``bench evals fetch`` writes (:mod:`benchmark.evaluate.standin`);
3. trains the GPU recipe (``400m-1x`` / ``datacomp-small``) on the CPU with overrides that
   shrink the model and the budget (``REHEARSAL``), evaluates on the stand-in data
   through lm-eval's and clip-benchmark's unmodified loaders, writes the entry, and
   submits it (non-standard) to ``board``.

The overrides also name the imported pool and the CPU (``runtime.device=cpu``); the LM
pool is tokenized with a BPE trained on it, since GPT-NeoX's tokenizer is not to be had
without the Hugging Face hub (``data.tokenizer=null``; ``model.vocab_size=null`` sizes
the embedding to it).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.evaluate.standin import WORDS

log = logging.getLogger(__name__)

SCALES = {"lm": "400m-1x", "clip": "datacomp-small"}
POOLS = {"lm": "rehearsal-dclm", "clip": "rehearsal-datacomp"}

# Overrides that shrink a GPU recipe to minutes on two cores; the rest of the recipe
# (optimiser, schedule shape, z-loss, precision rules, suite) is the real one.
REHEARSAL = {
    "lm": [
        "model.hidden_size=64",
        "model.num_layers=2",
        "model.num_heads=2",
        "model.intermediate_size=128",
        "model.vocab_size=null",
        "data.tokenizer=null",
        "data.seq_len=256",  # > 128: the BIG-bench tasks generate up to 128 tokens
        "data.train_tokens=32768",
        "data.global_batch_size=16",
        "data.micro_batch_size=16",
        "optim.warmup_steps=2",
    ],
    "clip": [
        "model.config=databench-clip-xs",
        "data.image_size=32",
        "data.train_samples=2048",
        "data.global_batch_size=128",
        "data.micro_batch_size=128",
        "optim.warmup_steps=2",
    ],
}
RUNTIME = ["runtime.device=cpu", "runtime.precision=fp32", "runtime.compile=false"]


def overrides(track: str, data_dir: Path) -> list[str]:
    return [f"pool={POOLS[track]}", *REHEARSAL[track], *RUNTIME, f"eval.data_dir={data_dir}"]


def write_dclm_shards(root: Path, num_docs: int = 600, seed: int = 0) -> Path:
    """DCLM-Pool-style shards: ``global-shard_*/local-shard_*/shard_*.jsonl.zst`` records
    with ``text``, ``url`` and DCLM's ``metadata.WARC-Record-ID``."""
    import zstandard

    rng = np.random.default_rng(seed)
    per_shard = -(-num_docs // 3)
    for s in range(3):
        folder = root / f"global-shard_{s + 1:02d}_of_03" / "local-shard_0_of_1"
        folder.mkdir(parents=True, exist_ok=True)
        lines = []
        for i in range(s * per_shard, min(num_docs, (s + 1) * per_shard)):
            words = rng.choice(WORDS, size=int(rng.integers(20, 200))).tolist()
            record = {
                "text": " ".join(words).capitalize() + ".",
                "url": f"https://example.org/{i}",
                "metadata": {"WARC-Record-ID": f"<urn:uuid:{i:08d}-0000-0000-0000-000000000000>"},
            }
            lines.append(json.dumps(record) + "\n")
        data = zstandard.ZstdCompressor().compress("".join(lines).encode())
        (folder / f"shard_{s:08d}_processed.jsonl.zst").write_bytes(data)
    return root


def write_datacomp_shards(root: Path, num_pairs: int = 256, seed: int = 0) -> Path:
    """DataComp-CommonPool-style shards: ``shards/0000000{i}.tar`` with ``{key}.jpg``,
    ``.txt`` and ``.json`` (holding the 128-bit hex uid), and a parquet of metadata."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq
    import webdataset as wds
    from PIL import Image

    rng = np.random.default_rng(seed)
    (root / "shards").mkdir(parents=True, exist_ok=True)
    uids, captions = [], []
    per_shard = num_pairs // 2
    for s in range(2):
        with wds.TarWriter(str(root / "shards" / f"{s:08d}.tar")) as sink:
            for i in range(per_shard):
                key = f"{s:04d}{i:05d}"
                uid = f"{int(rng.integers(0, 2**63)):016x}{int(rng.integers(0, 2**63)):016x}"
                caption = " ".join(rng.choice(WORDS, size=int(rng.integers(3, 12))).tolist())
                colour = rng.integers(0, 256, size=3, dtype=np.uint8)
                buf = io.BytesIO()
                Image.fromarray(np.broadcast_to(colour, (48, 48, 3)).copy()).save(buf, "JPEG")
                sink.write(
                    {
                        "__key__": key,
                        "jpg": buf.getvalue(),
                        "txt": caption,
                        "json": json.dumps({"uid": uid, "caption": caption}),
                    }
                )
                uids.append(uid)
                captions.append(caption)
    pq.write_table(pa.table({"uid": uids, "text": captions}), root / "metadata.parquet")
    return root


def rehearse(
    track: str, workdir: Path, *, board: Path, progress: bool = False
) -> tuple[Path, dict[str, Any]]:
    """Rehearse ``track``'s first GPU scale end to end under ``workdir``; the submitted
    entry's path on ``board`` and the entry."""
    from benchmark.evaluate.standin import write_standin
    from benchmark.evaluate.suite import load_suite
    from benchmark.io import check_output_dir
    from benchmark.leaderboard.submit import submit
    from benchmark.pool.importers.external import import_external
    from benchmark.run import run_train

    check_output_dir(workdir, "--workdir")  # before minutes of work
    check_output_dir(board, "--board")
    scale = SCALES[track]
    workdir.mkdir(parents=True, exist_ok=True)
    if track == "lm":
        source = write_dclm_shards(workdir / "dclm-pool")
        import_external(POOLS[track], "dclm", source, force=True)
    else:
        source = write_datacomp_shards(workdir / "datacomp-pool")
        import_external(
            POOLS[track], "datacomp", source, force=True, image_sizes=(32,), tokenizer="train"
        )
    from benchmark.config import load_recipe

    suite = load_suite(track, load_recipe(track, scale).eval.suite)
    data_dir = write_standin(suite, (workdir / "eval-data").resolve())
    out = run_train(
        track=track,
        scale=scale,
        name=f"rehearsal-{track}-{scale}",
        overrides=overrides(track, data_dir),
        runs_dir=workdir / "runs",
        wandb_mode="disabled",
        progress=progress,
    )
    assert out is not None  # one process: rank 0
    entry_path, entry = out
    path = submit(entry_path.parent, allow_nonstandard=True, board=board)
    return path, entry
