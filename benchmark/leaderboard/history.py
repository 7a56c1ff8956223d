"""Committed versions of the recipe and suite files, read from git history.

An entry names its recipe by hash and its suite by version. The board keeps entries of
recipes and suites that were replaced since (each in its own section), so checking such
an entry needs the file as it was when the run was made: this module finds it in the
repository's history and loads it with today's loaders, from a temporary copy of
``scales/`` and ``evals/`` at that commit (``$BENCH_REPO`` points the loaders at it).

    suite = suite_at("lm", "core", "3")
    commit = recipe_commit("lm", "small", overrides, sha256)
"""

from __future__ import annotations

import functools
import io
import os
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmark.errors import BenchError, EntryError
from benchmark.paths import repo_root

TREES = ("scales", "evals")  # what the recipe and suite loaders read


def _git(*args: str) -> bytes:
    try:
        out = subprocess.run(
            ["git", *args], cwd=repo_root(), capture_output=True, check=False, timeout=60
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise EntryError(
            f"cannot read the repository's history ({exc}); is git installed?"
        ) from None
    if out.returncode != 0:
        first = out.stderr.decode(errors="replace").strip().splitlines()[:1]
        raise EntryError(
            f"cannot read the repository's history (git {args[0]}: {' '.join(first)}); "
            "check from a full git clone (not a shallow one or an exported tree)"
        )
    return out.stdout


@functools.cache
def revisions(path: str) -> tuple[str, ...]:
    """Commits that changed ``path`` (relative to the repository), newest first."""
    return tuple(_git("log", "--format=%H", "--", path).decode().split())


@contextmanager
def checkout(commit: str) -> Iterator[Path]:
    """``scales/`` and ``evals/`` as of ``commit`` in a temporary folder, with the
    loaders pointed at it (``$BENCH_REPO``) while the block runs."""
    archive = _git("archive", "--format=tar", commit, *TREES)
    previous = os.environ.get("BENCH_REPO")
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        os.environ["BENCH_REPO"] = tmp
        try:
            yield Path(tmp)
        finally:
            if previous is None:
                os.environ.pop("BENCH_REPO", None)
            else:
                os.environ["BENCH_REPO"] = previous


@functools.cache
def suite_at(track: str, name: str, version: str):
    """The suite ``name`` at ``version``: today's file if it has that version, else the
    newest committed file that did. Raises EntryError when no commit had it."""
    from benchmark.evaluate.suite import load_suite

    try:
        today = load_suite(track, name)
    except BenchError:  # removed since: only the history has it
        today = None
    if today is not None and today.version == version:
        return today
    for commit in revisions(f"evals/{track}/{name}.yaml"):
        with checkout(commit):
            try:
                suite = load_suite(track, name)
            except BenchError:  # a file today's loader cannot read is not the version
                continue
        if suite.version == version:
            return suite
    raise EntryError(
        f"suite {track}/{name} v{version} is neither today's evals/{track}/{name}.yaml nor "
        "any committed version of it"
    )


@functools.cache
def recipe_commit(track: str, scale: str, overrides: tuple[str, ...], sha256: str) -> str | None:
    """``"today"`` if today's ``scales/<track>/<scale>.yaml`` with ``overrides`` gives
    ``sha256``, else the newest commit whose file did; None if none did."""
    from benchmark.config import load_recipe

    def hash_now() -> str | None:
        try:
            return load_recipe(track, scale, overrides).sha256
        except BenchError:  # the file or an override does not load at that version
            return None

    if hash_now() == sha256:
        return "today"
    for commit in revisions(f"scales/{track}"):
        with checkout(commit):
            if hash_now() == sha256:
                return commit
    return None
