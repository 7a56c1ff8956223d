"""Where per-shard work runs: this machine's processes, or a Ray cluster.

    engine = Engine("ray", workers=8, address="ray://head:10001")   # or Engine() / "local"
    results = engine.map(read_shard, tasks, "read shards", weights=sizes, unit="B")

``map`` is ``[fn(t) for t in tasks]`` whatever the engine: results come back in task
order, so what a caller writes from them does not depend on the engine, the number of
workers or nodes, or the order tasks finish in. The pool importers and the selection
methods are written as per-shard tasks (a task reads its shard and returns a small array
or writes its own file) plus a step on the driver, and run unchanged on either engine.

- ``local``: ``workers`` processes of this machine (``spawn``; one process per core is the
  parallelism, so the tokenizers' own threads are turned off), or the calling process
  when ``workers`` is 1.
- ``ray``: one Ray task per shard (Ray core, the pattern DCLM's ``ray_processing`` uses),
  at most ``workers`` in flight (default: the cluster's CPUs), on the cluster at
  ``address`` or ``$RAY_ADDRESS``, else a Ray instance started on this machine for the
  call and stopped after it. Ray Data was weighed and not used: it does not keep block
  order unless told to, and the output here must be byte-identical to the local engine's.
  On a cluster every node must reach the paths the tasks name (the pool's folder, the
  import's source and staging folders) on a shared file system.

The first failing task, in task order, raises its own error (a ``PoolError`` stays a
``PoolError``); the tasks not yet started are not started. A progress bar shows the rate
and the time left.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from benchmark.errors import BenchError

log = logging.getLogger(__name__)

ENGINES = ("local", "ray")
OBJECT_STORE_BYTES = 256 * 1024**2  # a local Ray's object store: tasks return small arrays


@dataclass(frozen=True)
class Engine:
    name: str = "local"
    workers: int = 1  # local: processes; ray: tasks in flight (0: the cluster's CPUs)
    address: str | None = None  # ray: the cluster (None: $RAY_ADDRESS, else a local Ray)

    def __post_init__(self) -> None:
        if self.name not in ENGINES:
            raise BenchError(f"engine {self.name!r} is not one of {', '.join(ENGINES)}")
        if self.workers < (0 if self.name == "ray" else 1):
            raise BenchError(f"--workers must be at least 1, got {self.workers}")
        if self.address and self.name != "ray":
            raise BenchError("--ray-address needs --engine ray")

    def map(
        self,
        fn: Callable[[Any], Any],
        tasks: Sequence[Any],
        desc: str,
        weights: Sequence[int] | None = None,
        unit: str = "it",
    ) -> list[Any]:
        """``[fn(t) for t in tasks]``, in order, with a progress bar (``weights``: what
        each task adds to it, default 1)."""
        from tqdm import tqdm

        weights = list(weights) if weights is not None else [1] * len(tasks)
        # leave=False: the bar is cleared when done, so that an error after it is the one
        # line left on the terminal (callers log what they did when they finish)
        bar = tqdm(
            total=sum(weights), desc=desc, unit=unit, unit_scale=True, mininterval=1.0,
            leave=False,
        )  # fmt: skip
        try:
            if self.name == "ray":
                return _ray_map(fn, tasks, weights, bar, self.workers, self.address)
            return _local_map(fn, tasks, weights, bar, self.workers)
        finally:
            bar.close()


def _quiet_tokenizers() -> None:
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one process per core is the parallelism


def _call(fn: Callable[[Any], Any], task: Any) -> Any:
    _quiet_tokenizers()
    return fn(task)


def _local_map(fn, tasks, weights, bar, workers: int) -> list[Any]:
    if workers == 1 or len(tasks) <= 1:
        out = []
        for task, w in zip(tasks, weights, strict=True):
            out.append(fn(task))
            bar.update(w)
        return out
    ctx = multiprocessing.get_context("spawn")  # no fork after tokenizers' threads
    with ProcessPoolExecutor(min(workers, len(tasks)), ctx, _quiet_tokenizers) as ex:
        futures = [ex.submit(fn, t) for t in tasks]
        for f, w in zip(futures, weights, strict=True):
            f.add_done_callback(lambda _, w=w: bar.update(w))
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def connect(address: str | None, num_cpus: int | None = None) -> bool:
    """Join the Ray cluster at ``address`` (or ``$RAY_ADDRESS``), else start Ray here;
    True when this call started it (and so should stop it)."""
    import ray

    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    logging.getLogger("ray").setLevel(logging.ERROR)  # its start-up notices are not ours
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
    address = address or os.environ.get("RAY_ADDRESS") or None
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(
                address="local",
                num_cpus=num_cpus or None,
                object_store_memory=OBJECT_STORE_BYTES,
                include_dashboard=False,
                **quiet,
            )
    except (ConnectionError, ValueError, RuntimeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise BenchError(
            f"cannot start or join Ray{f' at {address}' if address else ''}: {first}"
        ) from None
    return True


def _ray_map(fn, tasks, weights, bar, workers: int, address: str | None) -> list[Any]:
    import ray

    started = connect(address, workers or None)
    try:
        run = ray.remote(num_cpus=1, max_retries=0)(_call)
        in_flight = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        fn_ref = ray.put(fn)
        out: list[Any] = [None] * len(tasks)
        pending: dict[Any, int] = {}
        failed: dict[int, BaseException] = {}
        nxt = 0
        while nxt < len(tasks) or pending:
            while nxt < len(tasks) and len(pending) < in_flight and not failed:
                pending[run.remote(fn_ref, tasks[nxt])] = nxt
                nxt += 1
            if not pending:
                break
            [done], _ = ray.wait(list(pending), num_returns=1)
            k = pending.pop(done)
            try:
                out[k] = ray.get(done)
                bar.update(weights[k])
            except ray.exceptions.RayTaskError as err:
                failed[k] = _cause(err)
            except ray.exceptions.RayError as err:  # a lost worker or node
                failed[k] = BenchError(f"{bar.desc}: task {k} failed on Ray ({err})")
        if failed:
            raise failed[min(failed)]
        return out
    finally:
        if started:
            ray.shutdown()


def _cause(err) -> BaseException:
    """The exception a task raised, as it was raised (not Ray's wrapper)."""
    cause = getattr(err, "cause", None)
    return cause if isinstance(cause, BaseException) else err
