"""Checks made before the first training step, so that a run that cannot finish fails in
one line at once rather than after hours of accelerator time.

    check_devices(recipe, num_processes)      # a GPU recipe with no GPU, or too few
    check_eval_data(suite, data_dir)          # every task of the suite has readable data

The memory estimate is deliberately rough (weights, gradients and AdamW state in fp32,
sharded under FSDP; for the LM, stored activations and the logits of one micro batch);
it refuses only runs that cannot fit, and says what to change.
"""

from __future__ import annotations

import logging
import os

from benchmark.config import Recipe
from benchmark.errors import BenchError

log = logging.getLogger(__name__)

GiB = 1024**3
BYTES_PER_PARAM = 16  # fp32 weights (4) + gradients (4) + AdamW's two moments (8)


class PreflightError(BenchError):
    """A run that cannot start (devices, memory, eval data)."""


def memory_per_device(recipe: Recipe, num_processes: int, num_params: int) -> float:
    """Rough peak bytes on one device: optimizer state (sharded by FSDP) plus one micro
    batch's stored activations where the recipe estimates them (the LM's)."""
    shards = num_processes if recipe.runtime.parallel == "fsdp" else 1
    d = recipe.data
    micro = min(d.micro_batch_size, d.global_batch_size // max(num_processes, 1))
    return BYTES_PER_PARAM * num_params / shards + recipe.activation_bytes(micro)


def check_devices(recipe: Recipe, num_processes: int) -> None:
    """Refuse a ``runtime.device: cuda`` recipe where there is no GPU, fewer GPUs than
    processes, or too little memory per GPU for the recipe at this process count."""
    if recipe.runtime.device != "cuda":
        return
    import torch

    fix = (
        "run it on a GPU machine (see expected.hardware), or rehearse it on the CPU with "
        "runtime.device=cpu and overrides that shrink the model and the budget"
    )
    if not torch.cuda.is_available():
        raise PreflightError(
            f"recipe {recipe.name} needs CUDA GPUs ({recipe.expected.hardware}) and this "
            f"machine has none: {fix}"
        )
    have = torch.cuda.device_count()
    local = int(os.environ.get("LOCAL_WORLD_SIZE", num_processes))  # processes on this node
    if local > have:
        raise PreflightError(
            f"recipe {recipe.name}: {local} processes on this node but {have} GPUs; "
            "start one process per GPU (torchrun --nproc-per-node)"
        )
    num_params = recipe.estimated_params()
    if num_params is None:
        return  # open_clip's parameter count needs the model; the LM estimate is the costly one
    need = memory_per_device(recipe, num_processes, num_params)
    total = torch.cuda.get_device_properties(0).total_memory
    if need > 0.95 * total:
        sharded = recipe.runtime.parallel == "fsdp"
        more = "more processes" if sharded else "runtime.parallel=fsdp across more processes"
        raise PreflightError(
            f"recipe {recipe.name} needs about {need / GiB:.0f} GiB per GPU with "
            f"{num_processes} process{'es' if num_processes > 1 else ''} "
            f"({'FSDP' if sharded else 'DDP'}, micro batch {recipe.data.micro_batch_size}); "
            f"this GPU has {total / GiB:.0f} GiB: use {more} "
            f"({recipe.expected.hardware}) or a smaller data.micro_batch_size"
        )
