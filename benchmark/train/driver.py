"""The one training loop both tracks plug into.

    result = train(recipe, pool, subset, run_dir, LMTrack, wandb_mode="offline")

The driver owns what the tracks share: the runtime (device, precision, processes), the
seeded model build, DDP/FSDP wrapping, AdamW with its schedule, resume checkpoints on the
recipe's cadence, ``torch.compile``, the metrics log and progress bar, the step
bookkeeping, the final weights (gathered under FSDP) and the :class:`TrainResult`. A track
(:class:`Track`) brings only what differs: its data, model, one optimisation step's
forward and backward, what it logs beside the loss, and how it saves a checkpoint.

The order of every seeded choice is fixed here: the track prepares its data (numpy,
seeded by the recipe) before ``torch.manual_seed(recipe.seed)`` and the model build.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import torch

from benchmark.config import Recipe
from benchmark.pool.store import Pool
from benchmark.subset import Subset
from benchmark.train import distributed
from benchmark.train.common import (
    RuntimeInfo,
    TrainResult,
    budget_tail,
    make_optimizer,
    optimizer_step,
    setup_runtime,
    start_logging,
    step_loss,
)
from benchmark.train.resume import Cadence, full_model_state, load_state, run_key, save_state


class Track(Protocol):
    """What a track plugs into :func:`train` (built after the runtime, before the model)."""

    unit: str  # the progress bar's unit: "tok" or "pair"
    amount: str  # what a step counts in the log and the result: "tokens" or "samples"
    per_step: int  # tokens or pairs in one global batch
    num_epochs: int  # passes over the subset the budget takes

    def build_model(self) -> torch.nn.Module:
        """A freshly initialised model (the driver seeds torch first)."""

    def flops_per_unit(self, model: torch.nn.Module, num_params: int) -> float:
        """Training FLOPs per token or pair."""

    def blocks(self) -> tuple[type, ...]:
        """The model's repeated blocks: FSDP's units."""

    def prepare(self, wrapped: torch.nn.Module, forward: torch.nn.Module) -> None:
        """Called once the model is wrapped and (maybe) compiled, before the first step."""

    def batches(self, steps: range) -> Iterator[Any]:
        """This process's share of each step's global batch, one item per step."""

    def step(self, batch: Any) -> torch.Tensor:
        """Forward and backward over one step's batch; the detached loss."""

    def after_step(self, model: torch.nn.Module) -> dict[str, float]:
        """After the optimizer step: any in-place fix-up, and the fields it logs."""

    def save(self, model: torch.nn.Module, full: dict | None, ckpt: Path) -> None:
        """Write the checkpoint (rank 0); ``full``: the gathered weights under FSDP."""


def train(
    recipe: Recipe,
    pool: Pool,
    subset: Subset,
    run_dir: Path,
    make_track: Callable[[Recipe, Pool, Subset, RuntimeInfo], Track],
    *,
    wandb_mode: str = "offline",
    progress: bool = True,
) -> TrainResult:
    rt = setup_runtime(recipe.runtime)
    track = make_track(recipe, pool, subset, rt)
    num_steps = recipe.num_steps
    torch.manual_seed(recipe.seed)
    model = track.build_model().to(rt.device)
    num_params = sum(p.numel() for p in model.parameters())
    flops_per_unit = track.flops_per_unit(model, num_params)
    wrapped, unsharded = distributed.parallelize(model, recipe.runtime.parallel, track.blocks())
    opt, sched = make_optimizer(model, recipe.optim, num_steps)
    key = run_key(recipe, pool, subset)
    state = load_state(run_dir, key, model, opt, sched)
    cadence = Cadence(recipe.runtime.checkpoint_every, num_steps)
    track.prepare(wrapped, torch.compile(wrapped) if recipe.runtime.compile else wrapped)
    per_step = track.per_step
    sink, bar = start_logging(
        recipe,
        run_dir,
        rt,
        wandb_mode=wandb_mode,
        progress=progress,
        total=num_steps * per_step,
        unit=track.unit,
        start_step=state.step,
        per_step=per_step,
    )
    t0 = time.time() - state.elapsed_s
    try:
        model.train()
        steps = range(state.step, num_steps)
        for step, batch in zip(steps, track.batches(steps), strict=True):
            loss = track.step(batch)
            grad_norm = optimizer_step(model, opt, sched, recipe.optim.grad_clip, unsharded)
            extra = track.after_step(model)
            value = step_loss(loss, rt, step)
            state.losses.append(value)
            state.step = step + 1
            state.elapsed_s = time.time() - t0
            sink.log(
                {
                    "step": step + 1,
                    "loss": value,
                    "lr": sched.get_last_lr()[0],
                    "grad_norm": grad_norm,
                    **extra,
                    track.amount: (step + 1) * per_step,
                    "elapsed_s": round(state.elapsed_s, 3),
                }
            )
            bar.set_postfix(loss=f"{value:.3f}", refresh=False)
            bar.update(per_step)
            if cadence.due(state.step):
                save_state(run_dir, key, model, opt, sched, state)
    finally:
        bar.close()
    wall = time.time() - t0
    ckpt = run_dir / "checkpoint"
    sharded = rt.world_size > 1 and recipe.runtime.parallel == "fsdp"
    full = full_model_state(model) if sharded else None  # collective: every rank calls it
    if rt.is_main:
        track.save(model, full, ckpt)
    total = num_steps * per_step
    result = TrainResult(
        checkpoint=ckpt,
        num_params=num_params,
        num_steps=num_steps,
        num_epochs=track.num_epochs,
        final_loss=budget_tail(state.losses),
        flops=flops_per_unit * total,
        wall_seconds=wall,
        throughput=total / wall,
        device=rt.describe(),
        precision=rt.precision,
        num_processes=rt.world_size,
        **{f"train_{track.amount}": total},
    )
    sink.summary({"final_loss": result.final_loss, f"{track.amount}_per_second": result.throughput})
    sink.close()
    return result
