"""Shared fixtures: a temporary $BENCH_HOME and a reduced real text pool built once.

The reduced pool is ``text-default`` built from the same real sources with a cap on
documents per source; registry downloads are cached in ``$BENCH_DOWNLOAD_CACHE``
(default: a folder in the session's temporary directory).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MAX_DOCS = 60
MAX_IMAGE_OBJECTS = 40  # pool objects per source of the reduced image pool
# Fixtures that build a pool from the package registries: a test that uses one (directly or
# through another fixture) is marked `network`, and `make test-fast` leaves it out.
FETCHING = {"tiny_pool", "tiny_image_pool", "reduced_pool"}


def pytest_collection_modifyitems(items):
    for item in items:
        if FETCHING & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.network)


@pytest.fixture(scope="session")
def bench_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("bench_home")
    os.environ["BENCH_HOME"] = str(home)
    os.environ.setdefault("BENCH_DOWNLOAD_CACHE", str(tmp_path_factory.getbasetemp() / "downloads"))
    os.environ.setdefault("WANDB_SILENT", "true")
    return home


@pytest.fixture(scope="session")
def tiny_pool(bench_home: Path):
    """A reduced, real text pool (a few hundred items) with its tokenizer and evals."""
    from benchmark.pool.build import build_pool

    return build_pool("text-default", max_docs_per_source=MAX_DOCS)


@pytest.fixture(scope="session")
def tiny_image_pool(bench_home: Path):
    """A reduced, real image-text pool (about a thousand pairs) with its tokenizer and evals."""
    from benchmark.pool.build import build_pool

    return build_pool("image-default", max_docs_per_source=MAX_IMAGE_OBJECTS)


# A tiny, non-standard variant of the xs recipe on the reduced pool: seconds, not minutes.
TINY = [
    "pool=text-default-reduced",
    "data.train_tokens=65536",
    "optim.warmup_steps=2",
    "eval.batch_size=64",
]


@pytest.fixture(scope="session")
def subset_file(tiny_pool, tmp_path_factory):
    from benchmark.select import select

    path = tmp_path_factory.mktemp("subsets") / "random.npy"
    select("random", tiny_pool, path, fraction=0.5, seed=0)
    return path


@pytest.fixture(scope="session")
def junk_file(tiny_pool, tmp_path_factory):
    from benchmark.select import select

    path = tmp_path_factory.mktemp("subsets") / "junk.txt"
    select("sources", tiny_pool, path, qualities=("junk",))
    return path


@pytest.fixture(scope="session")
def tiny_run(tiny_pool, tmp_path_factory):
    """Train (once per session) a tiny run: ``tiny_run(name, seed, subset_path)``."""
    from benchmark.run import run_train

    runs = tmp_path_factory.mktemp("runs")
    made: dict[str, tuple] = {}

    def make(name: str, seed: int, subset: Path):
        if name not in made:
            made[name] = run_train(
                track="lm",
                scale="xs",
                subset_file=subset,
                seed=seed,
                name=name,
                overrides=TINY,
                runs_dir=runs,
                wandb_mode="offline",
                progress=False,
            )
        return made[name]

    return make
