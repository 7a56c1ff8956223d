"""Where the harness keeps its state.

Everything built or downloaded (pools, the registry download cache) lives under
``$BENCH_HOME`` (default: ``~/.cache/databench``); tests point it at a temporary
directory. The repository's own files (scales/, evals/, leaderboard/) are found from
the package location, or from ``$BENCH_REPO`` when the package is installed elsewhere.
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


def repo_root() -> Path:
    """The repository holding scales/, evals/ and leaderboard/."""
    env = os.environ.get("BENCH_REPO")
    return Path(env) if env else Path(__file__).resolve().parent.parent


def is_file_stem(name: str) -> bool:
    """Whether ``name`` can name a file of scales/ or evals/ (no folder, no glob)."""
    return bool(_STEM.match(name))


def scales_dir() -> Path:
    return repo_root() / "scales"


def evals_dir() -> Path:
    return repo_root() / "evals"
