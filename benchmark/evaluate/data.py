"""Where a suite's eval data lives, whether every task can read it, and how to fetch it.

Embedded suites (``data: pool``) read the eval sets built with the pool. Suites of the
published scales (``data: folder``: ``dclm-core``, ``datacomp``) read a local folder in
the layout their own downloaders write, so that clusters without internet evaluate
offline:

- LM: the ``datasets`` library's cache (``hf/datasets/<org>___<name>/<config>/...``),
  which lm-eval's own task downloads fill, plus LLM Foundry's local-data files that DCLM
  copies from llm-foundry (``llm-foundry/<path>``);
- CLIP: DataComp's ``download_evalsets.py`` layout: ``wds_<task>_test/`` per task
  (``classnames.txt``, ``zeroshot_classification_templates.txt``, ``test/nshards.txt``,
  ``test/<i>.tar``) and ``hf_cache/`` for the retrieval sets (Flickr, MSCOCO, WinoGAViL).

    folder = resolve(suite, pool, recipe.eval.data_dir)
    report = check(suite, folder)           # one TaskData per task
    fetch(suite, folder)                    # on a machine with internet

The folder is ``eval.data_dir`` (a recipe field, free), else ``$BENCH_EVAL_DATA``, else
``$BENCH_HOME/eval-data``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmark.errors import EvalError
from benchmark.evaluate.suite import Suite, TaskSpec
from benchmark.paths import bench_home
from benchmark.pool.format import EVAL_CAPTIONS, EVAL_CLASSES

log = logging.getLogger(__name__)

ENV = "BENCH_EVAL_DATA"
HF_DATASETS = Path("hf") / "datasets"  # the LM folder's `datasets` cache
HF_CACHE = Path("hf_cache")  # DataComp's cache_dir for its Hugging Face eval sets
LLM_FOUNDRY = "llm-foundry"  # LLM Foundry's scripts/eval/local_data, at the version DCLM pins
LLM_FOUNDRY_URL = (
    "https://raw.githubusercontent.com/mosaicml/llm-foundry/v0.9.0/scripts/eval/local_data/"
)
DATACOMP_HF = "https://huggingface.co/datasets/djghosh/"  # DataComp's webdataset eval sets


@dataclass(frozen=True)
class TaskData:
    """One task's data, as ``bench evals check`` reports it."""

    task: str
    found: bool
    readable: bool
    items: int | None  # None where not counted
    where: str  # the folder or dataset it was looked for in
    version: str = ""  # lm-eval task version / shard count
    error: str = ""


def resolve(suite: Suite, pool_evals: Path, configured: str | None = None) -> Path:
    """The folder ``suite`` reads: the pool's eval sets, or the configured data folder."""
    if suite.data == "pool":
        return pool_evals
    if configured:
        return Path(configured).expanduser()
    env = os.environ.get(ENV)
    return Path(env).expanduser() if env else bench_home() / "eval-data"


def wds_folder(spec: TaskSpec) -> str:
    """DataComp's folder for a webdataset task: ``wds_<key, / as ->_test`` (``fairness/``
    is dropped first, as its download script does)."""
    key = spec.runs.removeprefix("fairness/")
    return f"wds_{key.replace('/', '-')}_test"


def hf_name(spec: TaskSpec) -> str:
    """The Hugging Face data set of a DataComp retrieval task (``retrieval/flickr_...``)."""
    return f"nlphuji/{spec.runs.split('/', 1)[1]}"


@contextlib.contextmanager
def hf_datasets(cache: Path, *, offline: bool) -> Iterator[None]:
    """Point the ``datasets`` library at ``cache`` (and forbid network access when
    ``offline``) for the duration; restores its settings afterwards. Set on the imported
    module because ``datasets`` reads its environment variables once, at import."""
    import datasets

    cfg = datasets.config
    saved = (cfg.HF_DATASETS_CACHE, cfg.HF_HUB_OFFLINE, cfg.HF_DATASETS_OFFLINE)
    verbosity = datasets.logging.get_verbosity()
    cfg.HF_DATASETS_CACHE = Path(cache)
    cfg.HF_HUB_OFFLINE = cfg.HF_DATASETS_OFFLINE = offline or saved[1]
    if offline:  # reading the cache is the plan: no "using the latest cached version" lines
        datasets.logging.set_verbosity_error()
    try:
        yield
    finally:
        cfg.HF_DATASETS_CACHE, cfg.HF_HUB_OFFLINE, cfg.HF_DATASETS_OFFLINE = saved
        datasets.logging.set_verbosity(verbosity)


# ---- checking ---------------------------------------------------------------------------


def check(suite: Suite, folder: Path, *, count: bool = True) -> list[TaskData]:
    """Each task's data under ``folder``: found, readable, its item count (``count``: read
    every webdataset shard's member list; otherwise only the first item is read)."""
    if suite.track == "lm":
        return _check_lm(suite, folder)
    return [_check_clip(spec, folder, count) for spec in suite.tasks]


def missing(report: list[TaskData]) -> list[TaskData]:
    return [t for t in report if not (t.found and t.readable)]


def require(suite: Suite, folder: Path, how: str = "") -> None:
    """Fail in one line when any task of ``suite`` cannot read its data under ``folder``."""
    if suite.data == "pool":
        return
    bad = missing(check(suite, folder, count=False))
    if bad:
        names = ", ".join(t.task for t in bad[:6]) + (
            f" and {len(bad) - 6} more" if len(bad) > 6 else ""
        )
        raise EvalError(
            f"eval data missing for {len(bad)} of {len(suite.tasks)} tasks of suite "
            f"{suite.name} ({names}); looked in {folder}{how}; fetch them on a machine with "
            f"internet with `bench evals fetch {suite.name} --dir {folder}` and copy the "
            f"folder here, or point ${ENV} (eval.data_dir=) at a folder that has them"
        )


def require_pool_evals(suite: Suite, folder: Path) -> None:
    """Before training, for a suite that reads the pool's eval sets: fail in one line when
    they are not the version the suite needs, or a CLIP task's folder is missing (an
    LM task's files are checked when its task YAMLs are materialised)."""
    from benchmark.evaluate.tasks import check_data_version

    check_data_version(suite, folder)
    if suite.track == "clip":
        for spec in suite.tasks:
            task_kind(folder, spec.name)


def task_kind(data_dir: Path, name: str) -> str:
    task_dir = data_dir / name
    if (task_dir / EVAL_CLASSES).is_file():
        return "classification"
    if (task_dir / EVAL_CAPTIONS).is_file():
        return "retrieval"
    raise EvalError(
        f"eval data for task {name!r} is missing under {data_dir}; rebuild the pool "
        "(`bench pool build image-default --force`) or fix the suite"
    )


def _check_lm(suite: Suite, folder: Path) -> list[TaskData]:
    import tempfile

    from benchmark.evaluate.tasks import task_manager

    out = []
    with tempfile.TemporaryDirectory() as tmp, hf_datasets(folder / HF_DATASETS, offline=True):
        manager = task_manager(suite, folder, Path(tmp))
        for spec in suite.tasks:
            out.append(_check_lm_task(manager, spec, folder))
    return out


def task_config(manager, task: str) -> dict:
    """A task's YAML as lm-eval indexes it (``include:`` resolved, functions not)."""
    from lm_eval.tasks._yaml_loader import load_yaml

    entry = manager.task_index[task]
    cfg = load_yaml(entry.yaml_path, resolve_func=False)
    if "dataset_path" not in cfg and "include" in cfg:  # lm-eval's template files
        base = load_yaml(Path(entry.yaml_path).parent / cfg["include"], resolve_func=False)
        cfg = {**base, **cfg}
    return cfg


def _check_lm_task(manager, spec: TaskSpec, folder: Path) -> TaskData:
    where = str(folder / HF_DATASETS)
    try:
        with _quiet():
            task = manager.load([spec.runs])["tasks"][spec.runs]
        docs = task.eval_docs
    except Exception as exc:  # any failure to build or read is the user's to see, per task
        text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        absent = _absent(exc, text)
        if absent and spec.runs in manager.task_index:
            cfg = task_config(manager, spec.runs)
            name = "/".join(str(x) for x in (cfg.get("dataset_path"), cfg.get("dataset_name")) if x)
            text = f"{name} is not in {where}"
        return TaskData(spec.name, not absent, False, None, where, error=text)
    cfg = task.config
    if cfg.dataset_path == "json":
        where = str(next(iter((cfg.dataset_kwargs or {}).get("data_files", {}).values()), where))
    else:
        where = f"{where} ({cfg.dataset_path}{'/' + cfg.dataset_name if cfg.dataset_name else ''})"
    version = str((cfg.metadata or {}).get("version", ""))
    return TaskData(spec.name, True, True, len(docs), where, version=version)


def _absent(exc: Exception, text: str) -> bool:
    """Whether a load failed because the data is not there at all (rather than broken)."""
    marks = ("Couldn't reach", "Couldn't find cache", "not cached", "No such file")
    return isinstance(exc, FileNotFoundError) or any(m in text for m in marks)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """lm-eval and datasets warn once per cached data set loaded offline; a check of 22
    tasks would print 22 such lines."""
    import datasets

    names = ("lm_eval", "datasets", "lm-eval")
    levels = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.ERROR)
    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        for n, level in levels.items():
            logging.getLogger(n).setLevel(level)
        if bars:
            datasets.enable_progress_bars()


def _check_clip(spec: TaskSpec, folder: Path, count: bool) -> TaskData:
    if spec.kind in ("retrieval", "winogavil"):
        return _check_hf(spec, folder)
    root = folder / wds_folder(spec)
    need = [root / "classnames.txt", root / "zeroshot_classification_templates.txt"]
    need.append(root / "test" / "nshards.txt")
    absent = [p.name for p in need if not p.is_file()]
    if absent:
        return TaskData(spec.name, False, False, None, str(root), error=f"no {absent[0]}")
    try:
        shards = int((root / "test" / "nshards.txt").read_text().strip())
        tars = [root / "test" / f"{i}.tar" for i in range(shards)]
        lost = [t.name for t in tars if not t.is_file()]
        if lost:
            return TaskData(spec.name, True, False, None, str(root), error=f"no shard {lost[0]}")
        items = None
        if count:
            items = sum(_tar_items(t, first_only=False) for t in tars)
        else:
            _tar_items(tars[0], first_only=True)  # one item read: the shards are readable
    except (OSError, ValueError, tarfile.TarError) as exc:
        return TaskData(spec.name, True, False, None, str(root), error=str(exc)[:200])
    return TaskData(spec.name, True, True, items, str(root), version=f"{shards} shards")


def _tar_items(path: Path, *, first_only: bool) -> int:
    """Samples in a webdataset shard (members ending in ``.cls``); with ``first_only``,
    read one member and return 0."""
    with tarfile.open(path) as tar:
        if first_only:
            member = tar.next()
            if member is None:
                raise ValueError(f"{path} is empty")
            tar.extractfile(member).read()  # type: ignore[union-attr]
            return 0
        return sum(1 for m in tar if m.name.endswith(".cls"))


def _check_hf(spec: TaskSpec, folder: Path) -> TaskData:
    import datasets

    cache = folder / HF_CACHE
    try:
        with hf_datasets(cache, offline=True), _quiet():
            ds = datasets.load_dataset(hf_name(spec), split="test", cache_dir=str(cache))
    except Exception as exc:  # not cached, or a broken cache: reported per task
        text = str(exc).strip().splitlines()[0][:200]
        return TaskData(spec.name, not _absent(exc, text), False, None, str(cache), error=text)
    return TaskData(spec.name, True, True, len(ds), f"{cache} ({hf_name(spec)})")


# ---- fetching (needs internet) ------------------------------------------------------------


def fetch(suite: Suite, folder: Path) -> list[TaskData]:
    """Download every task's data into ``folder`` through the libraries' own downloaders:
    lm-eval's task downloads (LM), DataComp's webdataset repos and ``datasets`` (CLIP)."""
    folder.mkdir(parents=True, exist_ok=True)
    if suite.track == "lm":
        _fetch_lm(suite, folder)
    else:
        for spec in suite.tasks:
            _fetch_clip(spec, folder)
    return check(suite, folder)


def _fetch_lm(suite: Suite, folder: Path) -> None:
    import tempfile

    from benchmark.evaluate.tasks import placeholder_paths, task_manager

    for spec in suite.tasks:  # LLM Foundry's files, named in our task files
        if spec.file:
            text = (suite.task_dir / spec.file).read_text(encoding="utf-8")
            for rel in placeholder_paths(text):
                if rel.startswith(LLM_FOUNDRY + "/"):
                    _download(LLM_FOUNDRY_URL + rel.removeprefix(LLM_FOUNDRY + "/"), folder / rel)
    with tempfile.TemporaryDirectory() as tmp, hf_datasets(folder / HF_DATASETS, offline=False):
        manager = task_manager(suite, folder, Path(tmp))
        for spec in suite.tasks:
            log.info("fetching %s (%s)", spec.name, spec.runs)
            manager.load([spec.runs])["tasks"][spec.runs].eval_docs  # noqa: B018 (downloads)


def _download(url: str, dest: Path) -> None:
    import urllib.request

    from benchmark.io import atomic_path

    if dest.is_file():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s", url)
    with atomic_path(dest) as tmp, urllib.request.urlopen(url, timeout=60) as resp:
        tmp.write_bytes(resp.read())


def _fetch_clip(spec: TaskSpec, folder: Path) -> None:
    if spec.kind in ("retrieval", "winogavil"):
        import datasets

        log.info("fetching %s (%s)", spec.name, hf_name(spec))
        with hf_datasets(folder / HF_CACHE, offline=False):
            datasets.load_dataset(hf_name(spec), split="test", cache_dir=str(folder / HF_CACHE))
        return
    from huggingface_hub import snapshot_download

    name = wds_folder(spec)
    log.info("fetching %s (%s%s)", spec.name, DATACOMP_HF, name)
    snapshot_download(
        repo_id=f"djghosh/{name}",
        repo_type="dataset",
        local_dir=str(folder / name),
        allow_patterns=["classnames.txt", "zeroshot_classification_templates.txt", "test/*"],
    )
