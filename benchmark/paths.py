"""Where the harness keeps its state.

Everything built or downloaded (pools, the registry download cache) lives under
``$BENCH_HOME`` (default: ``~/.cache/databench``); tests point it at a temporary
directory.

The repository (scales/, evals/, leaderboard/) is ``$BENCH_REPO`` if set, else the
source checkout this package runs from, else the working directory. The recipes, suites
and entry schema come from the repository when it has them, else from the copies an
installed wheel carries as package data (``benchmark/_scales``, ``_evals``, ``_board``):
a ``pip install .`` finds every scale from any folder, and the leaderboard is the
working directory's ``leaderboard/`` (or ``--board``), never one in site-packages.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_STEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def bench_home() -> Path:
    """The state directory, created on first use."""
    home = Path(os.environ.get("BENCH_HOME") or Path.home() / ".cache" / "databench")
    home.mkdir(parents=True, exist_ok=True)
    return home


def pools_dir() -> Path:
    return bench_home() / "pools"


def download_cache() -> Path:
    """Registry downloads; ``$BENCH_DOWNLOAD_CACHE`` shares one cache between homes."""
    env = os.environ.get("BENCH_DOWNLOAD_CACHE")
    return Path(env) if env else bench_home() / "downloads"


PACKAGE = Path(__file__).resolve().parent
SHIPPED = {"scales": "_scales", "evals": "_evals", "leaderboard": "_board"}  # wheel copies


def repo_root() -> Path:
    """The repository holding scales/, evals/ and leaderboard/ (see the module docstring)."""
    env = os.environ.get("BENCH_REPO")
    if env:
        return Path(env)
    checkout = PACKAGE.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "scales").is_dir():
        return checkout
    return Path.cwd()


def repo_file(name: str) -> Path:
    """``scales``, ``evals`` or ``leaderboard/schema.json``: the repository's own, else the
    source checkout's (``$BENCH_REPO`` may name a repository of recipes without a schema),
    else the copy the installed package carries."""
    top, _, rest = name.partition("/")
    candidates = (repo_root() / name, PACKAGE.parent / name, PACKAGE / SHIPPED[top] / rest)
    return next((p for p in candidates if p.exists()), candidates[0])


def is_file_stem(name: str) -> bool:
    """Whether ``name`` can name a file of scales/ or evals/ (no folder, no glob)."""
    return bool(_STEM.match(name))


def scales_dir() -> Path:
    return repo_file("scales")


def evals_dir() -> Path:
    return repo_file("evals")
