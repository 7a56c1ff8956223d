"""More than one process: launching, the process group, and DDP or FSDP around a model.

Two ways to run ``N`` processes, the same underneath:

    bench train --scale small --nproc 2 ...              # launches torchrun's agent itself
    torchrun --nproc-per-node 2 -m benchmark.cli train --scale small ...

:func:`launch` is what ``--nproc`` uses: torch's elastic agent (what ``torchrun``
runs) started from Python with a function as the entry point. Inside each process
:func:`init` joins the process group (``nccl`` on GPUs, ``gloo`` on CPUs) from the
environment torchrun sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_*``).

:func:`parallelize` wraps a model for the recipe's ``runtime.parallel``: ``ddp``
(``DistributedDataParallel``) or ``fsdp`` (torch's ``fully_shard``, one unit per
transformer block and one for the rest). Scalar parameters (CLIP's ``logit_scale``)
cannot be sharded; FSDP leaves them whole and :func:`sync_ignored_grads` averages
their gradients by hand. :func:`grad_sync` turns gradient synchronisation off for all
but the last micro batch of an accumulated step, for either wrapper.
"""

from __future__ import annotations

import datetime
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import torch
import torch.distributed as dist

from benchmark.errors import BenchError

log = logging.getLogger(__name__)

PARALLEL = ("ddp", "fsdp")


def rank() -> int:
    """This process's rank (0 without torchrun)."""
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main() -> bool:
    return rank() == 0


def init() -> None:
    """Join the process group when torchrun started several processes (idempotent)."""
    if world_size() > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        # Rank 0 evaluates alone after training while the others wait for the next run.
        dist.init_process_group(backend, timeout=datetime.timedelta(hours=6))
        log.debug("rank %d of %d joined the %s process group", rank(), world_size(), backend)


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


@contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 runs the block first (e.g. builds a pool), the others after it is done."""
    if not is_main():
        barrier()
    yield
    if is_main():
        barrier()


def broadcast(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (small, picklable objects only: flags, numbers)."""
    if not dist.is_initialized():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def parallelize(
    model: torch.nn.Module, parallel: str, block_types: tuple[type, ...]
) -> tuple[torch.nn.Module, list[torch.nn.Parameter]]:
    """``model`` ready for this process group, and its parameters FSDP left unsharded.

    Single process: ``model`` itself. ``ddp``: a ``DistributedDataParallel`` wrapper
    (train through it, save and step ``model``). ``fsdp``: ``model`` sharded in place,
    one unit per module of ``block_types`` and the root for the rest; build the
    optimizer afterwards, since the parameters become DTensors.
    """
    if world_size() == 1:
        return model, []
    if parallel == "ddp":
        return torch.nn.parallel.DistributedDataParallel(model), []
    if parallel != "fsdp":
        raise BenchError(f"runtime.parallel {parallel!r} is not one of {', '.join(PARALLEL)}")
    from torch.distributed.fsdp import fully_shard

    ignored = [p for p in model.parameters() if p.ndim == 0]  # fully_shard needs >= 1-D
    for module in model.modules():
        if isinstance(module, block_types):
            fully_shard(module)
    fully_shard(model, ignored_params=set(ignored))
    return model, ignored


def sync_ignored_grads(params: list[torch.nn.Parameter]) -> None:
    """Average the gradients of parameters FSDP does not manage over the processes."""
    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.AVG)


def grad_sync(wrapped: torch.nn.Module, enabled: bool):
    """A context in which backward passes synchronise gradients only if ``enabled``."""
    if enabled or world_size() == 1:
        return nullcontext()
    if isinstance(wrapped, torch.nn.parallel.DistributedDataParallel):
        return wrapped.no_sync()
    return _fsdp_no_sync(wrapped)


@contextmanager
def _fsdp_no_sync(model: torch.nn.Module) -> Iterator[None]:
    model.set_requires_gradient_sync(False)  # type: ignore[operator]
    try:
        yield
    finally:
        model.set_requires_gradient_sync(True)  # type: ignore[operator]


def launch(num_processes: int, fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` in ``num_processes`` local processes under torch's elastic agent
    (what ``torchrun --standalone --nproc-per-node N`` does); rank 0's return value."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=num_processes,
        run_id=f"databench-{uuid.uuid4().hex[:8]}",
        rdzv_backend="c10d",
        rdzv_endpoint="localhost:0",
        max_restarts=0,
        monitor_interval=0.5,
        start_method="spawn",
    )
    try:
        results = elastic_launch(config, fn)(*args)
    except ChildFailedError as exc:
        failed_rank, failure = exc.get_first_failure()
        message = failure.message
        if isinstance(message, dict):  # the error file's content: {"message": ..., ...}
            message = message.get("message")
        raise BenchError(
            f"{num_processes}-process run failed on rank {failed_rank}: "
            f"{message or f'exit code {failure.exitcode}'}"
        ) from None
    return results[0]
