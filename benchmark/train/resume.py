"""Resume checkpoints: a killed run re-run with the same arguments goes on where it stopped.

    state = load_state(run_dir, key, model, opt, sched)        # step 0 when there is none
    ...
    if cadence.due(step):
        save_state(run_dir, key, model, opt, sched, TrainState(step, losses, elapsed))

``RUN_DIR/resume.pt`` holds the model's and the optimizer's full (unsharded) state, the
scheduler, the RNG states, the step reached, the losses so far and the training time;
it is written by rank 0 to a temporary file and renamed into place, so a kill at any
moment leaves the previous one whole. The state is the same whatever the number of
processes or DDP/FSDP, so a run can resume with another ``--nproc``. The data order is
a function of the seed alone, so the step is the data position. A ``key`` (recipe hash,
seed, pool fingerprint, subset hash) guards against resuming another run's state.

When training ends, ``RUN_DIR/train_result.json`` records its result and ``resume.pt``
goes: a re-run after a kill during evaluation skips training.
Everything is ``torch.load(weights_only=True)``-loadable (tensors, numbers, strings).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from benchmark.errors import BenchError
from benchmark.io import atomic_path, write_json
from benchmark.train import distributed
from benchmark.train.common import TrainResult

log = logging.getLogger(__name__)

STATE_FILE = "resume.pt"
RESULT_FILE = "train_result.json"
AUTO_CHECKPOINTS = 20  # resume checkpoint marks per run when runtime.checkpoint_every is 0
AUTO_MIN_SECONDS = 300.0  # and at least this long apart


@dataclass
class TrainState:
    """Where a training loop stands (what a resume checkpoint adds to the weights)."""

    step: int = 0  # optimizer steps done
    losses: list[float] = dataclasses.field(default_factory=list)  # one per step done
    elapsed_s: float = 0.0  # training time so far, over all attempts


def run_key(recipe: Any, pool: Any, subset: Any) -> dict[str, Any]:
    """What a run's training depends on: a state saved under another key is not resumed."""
    return {
        "recipe_sha256": recipe.sha256,
        "seed": recipe.seed,
        "pool_fingerprint": pool.fingerprint,
        "subset_sha256": subset.sha256,
    }


class Cadence:
    """When to write resume checkpoints: every ``every`` steps; with ``every`` = 0, at 5%
    marks of the run but no more often than every ``AUTO_MIN_SECONDS`` (short runs lose
    little when killed, and the checkpoint's cost does not weigh on them)."""

    def __init__(self, every: int, num_steps: int) -> None:
        self.every, self.num_steps = every, num_steps
        self.last = time.time()

    def due(self, step: int) -> bool:
        """Whether to checkpoint after ``step`` steps (never after the last one)."""
        if step >= self.num_steps:
            return False
        if self.every:
            return step % self.every == 0
        if step % max(1, self.num_steps // AUTO_CHECKPOINTS):
            return False
        due = distributed.broadcast(time.time() - self.last >= AUTO_MIN_SECONDS)  # rank 0's clock
        if due:
            self.last = time.time()
        return due


def _options(**kwargs: Any):
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=True, **kwargs)


def full_model_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's unsharded state dict on CPU (collective under FSDP: every rank calls it;
    rank 0 gets the tensors)."""
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    return get_model_state_dict(model, options=_options(cpu_offload=True))


def save_state(
    run_dir: Path,
    key: dict[str, Any],
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    sched: Any,
    state: TrainState,
) -> None:
    """Write ``RUN_DIR/resume.pt`` atomically (every rank calls it; rank 0 writes)."""
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

    model_state = full_model_state(model)
    optim_state = get_optimizer_state_dict(model, opt, options=_options(cpu_offload=True))
    if not distributed.is_main():
        return
    blob = {
        "key": json.dumps(key, sort_keys=True),
        "model": model_state,
        "optimizer": optim_state,
        "scheduler": sched.state_dict(),
        "rng": _rng_state(),
        "step": state.step,
        "losses": list(state.losses),
        "elapsed_s": state.elapsed_s,
    }
    with atomic_path(run_dir / STATE_FILE) as tmp, open(tmp, "wb") as f:
        torch.save(blob, f)
        f.flush()
        os.fsync(f.fileno())
    log.debug("resume checkpoint at step %d", state.step)


def load_state(
    run_dir: Path,
    key: dict[str, Any],
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    sched: Any,
) -> TrainState:
    """Restore ``RUN_DIR/resume.pt`` into the model, optimizer, scheduler and RNGs (every
    rank calls it; rank 0 reads and broadcasts); a fresh state when there is none."""
    from torch.distributed.checkpoint.state_dict import (
        set_model_state_dict,
        set_optimizer_state_dict,
    )

    blob: dict[str, Any] = {}
    meta: dict[str, Any] | str | None = None
    path = run_dir / STATE_FILE
    if distributed.is_main():
        for partial in run_dir.glob(f".{STATE_FILE}.*.tmp"):  # a save cut short by a kill
            partial.unlink()
    if distributed.is_main() and path.is_file():
        blob = torch.load(path, map_location="cpu", weights_only=True)
        meta = {k: blob[k] for k in ("step", "losses", "elapsed_s", "scheduler", "rng")}
        if json.loads(blob["key"]) != key:
            meta = (
                f"{run_dir} holds a killed run of another recipe, seed, pool or subset "
                f"({blob['key']}); pass another --name or remove {path}"
            )
    meta = distributed.broadcast(meta)  # every rank learns what rank 0 found
    if isinstance(meta, str):
        raise BenchError(meta)
    if meta is None:
        return TrainState()
    broadcast = distributed.world_size() > 1
    set_model_state_dict(
        model, blob.get("model", {}), options=_options(broadcast_from_rank0=broadcast)
    )
    set_optimizer_state_dict(
        model, opt, blob.get("optimizer", {}), options=_options(broadcast_from_rank0=broadcast)
    )
    sched.load_state_dict(meta["scheduler"])
    _set_rng_state(meta["rng"])
    if distributed.is_main():
        log.info("resuming %s at step %d", run_dir.name, meta["step"])
    return TrainState(meta["step"], list(meta["losses"]), meta["elapsed_s"])


def _rng_state() -> dict[str, Any]:
    rng: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state()
    return rng


def _set_rng_state(rng: dict[str, Any]) -> None:
    torch.set_rng_state(rng["cpu"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state(rng["cuda"])


def save_result(run_dir: Path, key: dict[str, Any], result: TrainResult) -> None:
    """Training is over: record its result and drop the resume state (rank 0)."""
    data = {**dataclasses.asdict(result), "checkpoint": str(result.checkpoint), "key": key}
    write_json(run_dir / RESULT_FILE, data)
    (run_dir / STATE_FILE).unlink(missing_ok=True)


def load_result(run_dir: Path, key: dict[str, Any]) -> TrainResult | None:
    """A finished training's result for ``key`` (None if training has not finished)."""
    path = run_dir / RESULT_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    if data.pop("key") != key:
        raise BenchError(
            f"{run_dir} holds a trained model of another recipe, seed, pool or subset; "
            "pass another --name or remove the run directory"
        )
    (run_dir / STATE_FILE).unlink(missing_ok=True)  # left if killed inside save_result
    return TrainResult(**{**data, "checkpoint": Path(data["checkpoint"])})
