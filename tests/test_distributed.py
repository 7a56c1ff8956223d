"""Two processes on CPU (gloo) follow the one-process loss curve, both tracks, DDP and FSDP.

The recipes accumulate gradients (the micro batch is a quarter of the global batch), so
one process runs four micro batches a step and each of two processes runs two, on its
own half of every global batch. Float sums then run in another order, so the curves
agree to rounding, not bit for bit: ``TOL`` over every step. The runs train in fp32: the
recipes say ``auto``, which is bf16 on CPUs that have it, and bf16's rounding (about 1e-3
on these losses) would hide a real difference between the two ways of summing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TINY
from tests.test_clip import TINY_CLIP

TOL = 1e-4  # max |loss difference| over the curve, 1 vs 2 processes
STEPS = {"lm": 8, "clip": 6}
FP32 = "runtime.precision=fp32"
OVERRIDES = {
    # 8 steps of 32 sequences; 8 per micro batch
    "lm": [*TINY, FP32, "data.train_tokens=32768", "data.micro_batch_size=8"],
    # 6 steps of 128 pairs; 32 per micro batch (cached-feature accumulation)
    "clip": [*TINY_CLIP, FP32, "data.train_samples=768", "data.micro_batch_size=32"],
}
CHECKPOINT_EVERY = 4  # the one-process runs leave a step-4 resume state behind


def losses(run_dir: Path) -> list[float]:
    return [json.loads(x)["loss"] for x in (run_dir / "train_log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def curve(tiny_pool, tiny_image_pool, tmp_path_factory):
    """``curve(track, num_processes, parallel)``: (result, run dir), trained once."""
    from benchmark.run import train_only

    made: dict[tuple, tuple] = {}

    def make(track: str, num_processes: int, parallel: str = "ddp"):
        key = (track, num_processes, parallel)
        if key not in made:
            run_dir = tmp_path_factory.mktemp(f"{track}-{num_processes}-{parallel}")
            result = train_only(
                track=track,
                scale="xs",
                run_dir=run_dir,
                overrides=[
                    *OVERRIDES[track],
                    f"runtime.parallel={parallel}",
                    f"runtime.checkpoint_every={CHECKPOINT_EVERY}",
                ],
                num_processes=num_processes,
            )
            made[key] = (result, run_dir)
        return made[key]

    return make


@pytest.mark.slow
@pytest.mark.parametrize("parallel", ["ddp", "fsdp"])
@pytest.mark.parametrize("track", ["lm", "clip"])
def test_two_processes_follow_the_one_process_loss_curve(curve, track, parallel):
    one, one_dir = curve(track, 1)
    two, two_dir = curve(track, 2, parallel)
    a, b = losses(one_dir), losses(two_dir)
    assert len(a) == len(b) == STEPS[track]  # rank 0 alone logs
    assert max(abs(x - y) for x, y in zip(a, b, strict=True)) <= TOL
    assert two.num_processes == 2 and one.num_processes == 1
    assert two.final_loss == pytest.approx(one.final_loss, abs=TOL)


@pytest.mark.slow
@pytest.mark.parametrize("track", ["lm", "clip"])
def test_fsdp_checkpoint_is_whole_and_loads_like_any_other(curve, track):
    import torch

    _, one_dir = curve(track, 1)
    _, two_dir = curve(track, 2, "fsdp")
    if track == "lm":
        from transformers import AutoModelForCausalLM

        def load(d):
            return AutoModelForCausalLM.from_pretrained(str(d / "checkpoint")).state_dict()
    else:
        import open_clip

        def load(d):
            model = open_clip.create_model_and_transforms(f"local-dir:{d / 'checkpoint'}")[0]
            return model.state_dict()

    a, b = load(one_dir), load(two_dir)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("parallel", ["ddp", "fsdp"])
def test_a_run_resumes_with_another_number_of_processes(curve, parallel, tmp_path):
    from benchmark.run import train_only

    _, one_dir = curve("lm", 1)
    run_dir = tmp_path / "run"
    shutil.copytree(one_dir, run_dir)  # its resume.pt holds step 4 of 8
    shutil.rmtree(run_dir / "checkpoint")
    train_only(
        track="lm",
        scale="xs",
        run_dir=run_dir,
        overrides=[*OVERRIDES["lm"], f"runtime.parallel={parallel}"],
        num_processes=2,
    )
    a, b = losses(one_dir), losses(run_dir)
    assert len(b) == STEPS["lm"] and b[:CHECKPOINT_EVERY] == a[:CHECKPOINT_EVERY]
    assert max(abs(x - y) for x, y in zip(a, b, strict=True)) <= TOL
    assert (run_dir / "checkpoint" / "model.safetensors").is_file()


CLI_CLIP = [*TINY_CLIP, "data.train_samples=768"]


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["nproc", "torchrun"])
def test_cli_trains_with_two_processes_and_rank_0_alone_writes(launcher, tiny_image_pool, tmp_path):
    args = ["train", "--track", "clip", "--scale", "xs", "--runs-dir", str(tmp_path)]
    args += ["--name", "two", "--wandb", "disabled", "--no-progress", *CLI_CLIP]
    if launcher == "nproc":
        cmd = [sys.executable, "-m", "benchmark.cli", *args, "--nproc", "2"]
    else:  # the documented line: torchrun --nproc-per-node 2 -m benchmark.cli train ...
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        cmd += ["--nproc-per-node", "2", "-m", "benchmark.cli", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("entry: ") == 1  # printed by rank 0 only
    entry = json.loads((tmp_path / "two" / "entry.json").read_text())
    assert entry["compute"]["num_processes"] == 2
    assert len(losses(tmp_path / "two")) == 6
    assert not (tmp_path / "two" / "resume.pt").exists()


def test_threads_follow_the_cpu_affinity_not_the_machine():
    """Under taskset or a SLURM/container CPU set, one thread per usable core (more would
    oversubscribe them: 9% slower on 2 of 16 cores in benchmarks/clip_throughput.py)."""
    code = (
        "import os, torch\n"
        "os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})\n"
        "from benchmark.config import Runtime\n"
        "from benchmark.train.common import setup_runtime\n"
        "info = setup_runtime(Runtime())\n"
        "print(torch.get_num_threads(), info.num_threads, repr(info.describe()))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "WORLD_SIZE")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True)  # fmt: skip
    threads, num, described = out.stdout.split(maxsplit=2)
    assert (threads, num) == ("1", "1") and described.startswith("'cpu (1 thread, ")
