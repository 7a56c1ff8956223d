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
and the time left. With ``keep`` (a folder), each finished task's result is kept there as
it arrives, named by the task's index and a hash of the task, and a later call with the
same tasks loads those results instead of running the tasks again: a killed import or
selection re-run with the same arguments resumes at the first unfinished shard.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import pickle
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
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
        keep: Path | None = None,
    ) -> list[Any]:
        """``[fn(t) for t in tasks]``, in order, with a progress bar (``weights``: what
        each task adds to it, default 1); ``keep``: a folder of finished tasks' results."""
        from tqdm import tqdm

        weights = list(weights) if weights is not None else [1] * len(tasks)
        kept = Kept(keep, fn, tasks, desc) if keep is not None else None
        # leave=False: the bar is cleared when done, so that an error after it is the one
        # line left on the terminal (callers log what they did when they finish)
        bar = tqdm(
            total=sum(weights), desc=desc, unit=unit, unit_scale=True, mininterval=1.0,
            leave=False,
        )  # fmt: skip
        todo = list(range(len(tasks)))
        out: list[Any] = [None] * len(tasks)
        if kept is not None:
            for i in kept.finished():
                out[i] = kept.load(i)
                bar.update(weights[i])
            todo = [i for i in todo if i not in kept.done]
            if kept.done:
                log.info("%s: %d of %d tasks were done before", desc, len(kept.done), len(tasks))

        def finish(i: int, result: Any) -> None:
            out[i] = result
            bar.update(weights[i])
            if kept is not None:
                kept.save(i, result)

        try:
            if self.name == "ray":
                _ray_map(fn, tasks, todo, finish, bar.desc, self.workers, self.address)
            else:
                _local_map(fn, tasks, todo, finish, self.workers)
            return out
        finally:
            bar.close()


class Kept:
    """Finished tasks' results in a folder, one pickle each, written atomically."""

    def __init__(self, folder: Path, fn: Callable, tasks: Sequence[Any], desc: str) -> None:
        self.folder = folder
        slug = re.sub(r"[^a-z0-9]+", "-", desc.lower()).strip("-")
        name = f"{fn.__module__}.{fn.__qualname__}"
        self.names = [
            f"{slug}-{i:06d}-{hashlib.sha256(pickle.dumps((name, t))).hexdigest()[:16]}.pkl"
            for i, t in enumerate(tasks)
        ]
        self.done: set[int] = set()

    def finished(self) -> list[int]:
        self.done = {i for i, n in enumerate(self.names) if (self.folder / n).is_file()}
        return sorted(self.done)

    def load(self, i: int) -> Any:
        return pickle.loads((self.folder / self.names[i]).read_bytes())

    def save(self, i: int, result: Any) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{self.names[i]}.tmp"
        tmp.write_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, self.folder / self.names[i])


def _quiet_tokenizers() -> None:
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one process per core is the parallelism


def _call(fn: Callable[[Any], Any], task: Any) -> Any:
    _quiet_tokenizers()
    return fn(task)


def _local_map(fn, tasks, todo: list[int], finish, workers: int) -> None:
    if workers == 1 or len(todo) <= 1:
        for i in todo:
            finish(i, fn(tasks[i]))
        return
    ctx = multiprocessing.get_context("spawn")  # no fork after tokenizers' threads
    with ProcessPoolExecutor(min(workers, len(todo)), ctx, _quiet_tokenizers) as ex:
        futures = {i: ex.submit(fn, tasks[i]) for i in todo}
        try:
            for i, f in futures.items():  # in task order: the first failure is raised
                finish(i, f.result())
        except BaseException:
            for f in futures.values():
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


def _ray_map(fn, tasks, todo: list[int], finish, desc: str, workers: int, address) -> None:
    import ray

    if not todo:
        return
    started = connect(address, workers or None)
    try:
        run = ray.remote(num_cpus=1, max_retries=0)(_call)
        in_flight = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        fn_ref = ray.put(fn)
        pending: dict[Any, int] = {}
        failed: dict[int, BaseException] = {}
        queue = list(reversed(todo))
        while queue or pending:
            while queue and len(pending) < in_flight and not failed:
                i = queue.pop()
                pending[run.remote(fn_ref, tasks[i])] = i
            if not pending:
                break
            [done], _ = ray.wait(list(pending), num_returns=1)
            i = pending.pop(done)
            try:
                finish(i, ray.get(done))
            except ray.exceptions.RayTaskError as err:
                failed[i] = _cause(err)
            except ray.exceptions.RayError as err:  # a lost worker or node
                failed[i] = BenchError(f"{desc}: task {i} failed on Ray ({err})")
        if failed:
            raise failed[min(failed)]
    finally:
        if started:
            ray.shutdown()


def _cause(err) -> BaseException:
    """The exception a task raised, as it was raised (not Ray's wrapper)."""
    cause = getattr(err, "cause", None)
    return cause if isinstance(cause, BaseException) else err
