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
