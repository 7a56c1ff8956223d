"""Pieces both tracks' training loops share: device, precision, processes, schedule, logging.

- :func:`setup_runtime` picks the device, the precision (bf16 autocast where the hardware
  has it) and the thread count, and joins torchrun's process group (``distributed``);
- :func:`make_optimizer` builds AdamW (decay on matrices only) with transformers' cosine
  schedule with warm-up and a floor;
- :class:`MetricsSink` writes ``train_log.jsonl`` and, on rank 0, mirrors to wandb
  (offline unless asked otherwise; imported only when used); a resumed run continues
  both where its checkpoint stands, without repeated rows.
"""

from __future__ import annotations

import json
import logging
import math
import os
import uuid
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from benchmark.config import Optim, Runtime
from benchmark.errors import BenchError, RecipeError
from benchmark.io import atomic_path
from benchmark.train import distributed

log = logging.getLogger(__name__)

WANDB_MODES = ("offline", "online", "disabled")


@dataclass(frozen=True)
class TrainResult:
    """What a training loop hands back (either track)."""

    checkpoint: Path
    num_params: int
    num_steps: int
    num_epochs: int  # passes over the subset the budget took
    final_loss: float  # mean loss over the last 10% of steps
    flops: float  # approximate training FLOPs (6 x params x tokens, plus attention)
    wall_seconds: float
    throughput: float  # examples per second: tokens (LM) or image-text pairs (CLIP)
    device: str
    precision: str
    num_processes: int
    train_tokens: int | None = None  # LM budget
    train_samples: int | None = None  # CLIP budget


def budget_tail(losses: list[float]) -> float:
    """Mean loss over the last 10% of steps (at least one)."""
    tail = losses[-max(1, len(losses) // 10) :]
    return float(sum(tail) / len(tail))


@dataclass(frozen=True)
class RuntimeInfo:
    device: torch.device
    precision: str  # "bf16" | "fp32" (what is actually used)
    rank: int
    world_size: int
    num_threads: int

    def autocast(self) -> AbstractContextManager:
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def describe(self) -> str:
        if self.device.type == "cuda":
            return torch.cuda.get_device_name(self.device)
        threads = f"{self.num_threads} thread{'s' if self.num_threads != 1 else ''}"
        return f"cpu ({threads}, {torch.backends.cpu.get_cpu_capability()})"


def cpu_has_bf16() -> bool:
    """True when the CPU has native bf16 matrix instructions (AVX512-BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(f in flags for f in ("avx512_bf16", "amx_bf16"))


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity (taskset, a SLURM or container
    CPU set), not the machine's count, so that threads never outnumber them."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity API (macOS)
        return os.cpu_count() or 1


def setup_runtime(runtime: Runtime) -> RuntimeInfo:
    """Device, precision, threads and process group for this process."""
    distributed.init()
    rank, world = distributed.rank(), distributed.world_size()
    if runtime.device != "cpu" and torch.cuda.is_available():
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
        has_bf16 = torch.cuda.is_bf16_supported()
    else:
        device = torch.device("cpu")
        has_bf16 = cpu_has_bf16()
    threads = runtime.num_threads or max(1, usable_cores() // max(world, 1))
    torch.set_num_threads(threads)
    if runtime.precision == "bf16" and not has_bf16:
        log.warning("bf16 requested but %s has no native bf16: it will be slow", device)
    precision = {"auto": "bf16" if has_bf16 else "fp32"}.get(runtime.precision, runtime.precision)
    return RuntimeInfo(device, precision, rank, world, threads)


def make_optimizer(model: torch.nn.Module, optim: Optim, num_steps: int):
    """AdamW (weight decay on >=2-D parameters only) and a cosine schedule with warm-up."""
    from transformers import get_cosine_with_min_lr_schedule_with_warmup

    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    groups = [
        {"params": decay, "weight_decay": optim.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(
        groups, lr=optim.lr, betas=(optim.beta1, optim.beta2), eps=optim.eps, foreach=True
    )
    sched = get_cosine_with_min_lr_schedule_with_warmup(
        opt,
        num_warmup_steps=optim.warmup_steps,
        num_training_steps=num_steps,
        min_lr_rate=optim.min_lr_ratio,
    )
    return opt, sched


def start_logging(
    recipe,
    run_dir: Path,
    rt: RuntimeInfo,
    *,
    wandb_mode: str,
    progress: bool,
    total: int,
    unit: str,
    start_step: int = 0,
    per_step: int = 0,
):
    """The run's metrics sink and its progress bar (rate and ETA), both on rank 0 only;
    a run resumed after ``start_step`` steps of ``per_step`` units continues both."""
    from tqdm import tqdm

    sink = MetricsSink(
        run_dir,
        mode=wandb_mode,
        project="databench",
        name=run_dir.name,
        config=recipe.to_dict(),
        enabled=rt.is_main,
        start_step=start_step,
    )
    bar = tqdm(
        total=total,
        initial=start_step * per_step,
        unit=unit,
        unit_scale=True,
        desc=f"train {recipe.name}",
        disable=not (progress and rt.is_main),
    )
    return sink, bar


def accumulation(global_batch: int, micro_batch: int, world_size: int) -> tuple[int, int]:
    """(micro batch, micro batches per process per step) making up ``global_batch`` over
    ``world_size`` processes. The micro batch is a memory knob: it shrinks to this
    process's share of the global batch when larger."""
    micro = min(micro_batch, global_batch // world_size)
    if micro < 1 or global_batch % (micro * world_size):
        raise RecipeError(
            f"global batch {global_batch} is not divisible by micro batch {micro} x "
            f"{world_size} processes; set data.micro_batch_size to a divisor of "
            f"{global_batch // world_size if global_batch % world_size == 0 else global_batch}"
        )
    return micro, global_batch // (micro * world_size)


def local_share(batch, rt: RuntimeInfo):
    """This process's contiguous slice of a global batch (all of it with one process)."""
    size = len(batch) // rt.world_size
    return batch[rt.rank * size : (rt.rank + 1) * size]


def optimizer_step(
    model: torch.nn.Module, opt, sched, grad_clip: float, unsharded: list | None = None
) -> float:
    """Clip the global grad norm (when ``grad_clip`` > 0), step, schedule, zero; the norm.

    ``unsharded``: parameters FSDP leaves whole, whose gradients are averaged here."""
    if unsharded:
        distributed.sync_ignored_grads(unsharded)
    grad_norm = float("nan")
    if grad_clip > 0:
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        grad_norm = float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)
    opt.step()
    sched.step()
    opt.zero_grad(set_to_none=True)
    return grad_norm


def step_loss(loss: torch.Tensor, rt: RuntimeInfo, step: int) -> float:
    """The step's loss averaged over processes; a non-finite loss stops the run."""
    if rt.world_size > 1:
        torch.distributed.all_reduce(loss, op=torch.distributed.ReduceOp.AVG)
    value = float(loss)
    if not math.isfinite(value):
        raise FloatingPointError(f"loss is {value} at step {step}")
    return value


class MetricsSink:
    """Per-step metrics to ``train_log.jsonl`` and (rank 0) wandb.

    With ``start_step`` > 0 (a resumed run) the log keeps its rows up to that step and
    appends after them, and wandb resumes the run of the same id (``wandb_id.txt``);
    wandb skips the steps it already holds (logged after the checkpoint, before the
    kill), whose values the resumed run repeats exactly.
    """

    def __init__(
        self,
        run_dir: Path,
        *,
        mode: str,
        project: str,
        name: str,
        config: dict[str, Any],
        enabled: bool = True,
        start_step: int = 0,
    ) -> None:
        if mode not in WANDB_MODES:
            raise BenchError(f"--wandb {mode!r} is not one of {', '.join(WANDB_MODES)}")
        self.enabled = enabled
        self.path = run_dir / "train_log.jsonl"
        self._file = None
        self._wandb = None
        if not enabled:
            return
        if start_step:
            keep_rows(self.path, start_step)
        self._file = open(self.path, "a" if start_step else "w", encoding="utf-8")  # noqa: SIM115
        if mode != "disabled":
            import wandb

            id_file = run_dir / "wandb_id.txt"
            resume = bool(start_step) and id_file.is_file()
            run_id = id_file.read_text().strip() if resume else uuid.uuid4().hex[:12]
            id_file.write_text(run_id + "\n")
            self._wandb = wandb.init(
                project=project,
                name=name,
                id=run_id,
                resume="allow" if resume else None,
                config=config,
                mode=mode,
                dir=str(run_dir),
                reinit="finish_previous",
            )

    def log(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        assert self._file is not None
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()
        if self._wandb is not None:
            self._wandb.log(row, step=row.get("step"))

    def summary(self, values: dict[str, Any]) -> None:
        if self._wandb is not None:
            self._wandb.summary.update(values)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._wandb is not None:
            self._wandb.finish()
            self._wandb = None


def keep_rows(path: Path, last_step: int) -> None:
    """Drop the rows of ``path`` (JSON lines) logged after ``last_step``, atomically."""
    if not path.is_file():
        return
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = []
    for line in lines:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by the kill
            break
        if row.get("step", 0) > last_step:
            break
        kept.append(line + "\n")
    with atomic_path(path) as tmp:
        tmp.write_text("".join(kept), encoding="utf-8")
