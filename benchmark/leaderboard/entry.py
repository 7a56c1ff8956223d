"""A leaderboard entry: build and write a run's (``RUN_DIR/entry.json``), read and check one
against ``leaderboard/schema.json``, and the experiment it records (section, subset, seed).

The entry records everything needed to reproduce and audit a result: the recipe (name,
hash, whether it is standard, the overrides), the pool fingerprint, the subset hash,
every metric with its random baseline, compute, tool versions and the checkpoint hash.
It is written atomically.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from benchmark import __version__
from benchmark.errors import EntryError
from benchmark.io import sha256_tree, write_json
from benchmark.paths import repo_file, repo_root
from benchmark.select.registry import subset_method

SCHEMA_VERSION = 2  # 2: the subset's audit (older entries stay valid)
_PACKAGES = (
    "torch",
    "transformers",
    "tokenizers",
    "lm_eval",
    "open_clip_torch",
    "clip_benchmark",
    "numpy",
    "hydra-core",
    "wandb",
)


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=repo_root(),
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=repo_root(),
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def versions() -> dict[str, Any]:
    out: dict[str, Any] = {
        "benchmark": __version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
    }
    for pkg in _PACKAGES:
        try:
            out[pkg.replace("-", "_")] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg.replace("-", "_")] = None
    return out


def build_entry(
    *,
    name: str,
    recipe: Any,
    pool: Any,
    subset: Any,
    num_tokens: int | None,
    metrics: dict[str, Any],
    train: Any,
    checkpoint: Path,
    audit: dict[str, Any] | None = None,
) -> dict[str, Any]:
    if train.train_samples is not None:
        unit, budget = "samples", {"train_samples": train.train_samples}
    else:
        unit, budget = "tokens", {"train_tokens": train.train_tokens}
    return {
        "schema_version": SCHEMA_VERSION,
        "name": name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "track": recipe.track,
        "scale": recipe.scale,
        "seed": recipe.seed,
        "recipe": {
            "name": recipe.name,
            "sha256": recipe.sha256,
            "standard": recipe.standard,
            "overrides": list(recipe.overrides),
            "resolved": recipe.to_dict(),
        },
        "pool": {
            "name": pool.name,
            "version": pool.manifest["version"],
            "fingerprint": pool.fingerprint,
            "num_items": pool.num_items,
        },
        "subset": {
            "sha256": subset.sha256,
            "num_uids": subset.num_uids,
            "num_unique": subset.num_unique,
            "num_tokens": num_tokens,
            "file": subset.file or None,
            "method": subset_method(subset.file or None, subset.num_uids),
        },
        "metrics": metrics,
        "train": {
            "final_loss": train.final_loss,
            "num_steps": train.num_steps,
            "num_epochs": train.num_epochs,
            "num_params": train.num_params,
        },
        "compute": {
            **budget,
            "flops": train.flops,
            "wall_seconds": round(train.wall_seconds, 1),
            "eval_seconds": metrics.get("eval_seconds"),
            f"{unit}_per_second": round(train.throughput, 1),
            "device": train.device,
            "precision": train.precision,
            "num_processes": train.num_processes,
        },
        "versions": versions(),
        "checkpoint": {"path": str(checkpoint), "sha256": sha256_tree(checkpoint)},
        **({"audit": audit} if audit is not None else {}),
    }


def write_entry(run_dir: Path, entry: dict[str, Any]) -> Path:
    path = run_dir / "entry.json"
    write_json(path, entry)
    return path


def leaderboard_dir() -> Path:
    return repo_root() / "leaderboard"


def load_schema() -> dict[str, Any]:
    return json.loads(repo_file("leaderboard/schema.json").read_text())


def check_schema(entry: dict[str, Any], where: str) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema())
    errors = sorted(validator.iter_errors(entry), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        path = "/".join(str(p) for p in e.absolute_path) or "(top)"
        raise EntryError(f"{where}: schema violation at {path}: {e.message}")


def read_entry(path: Path) -> dict[str, Any]:
    """An entry file, parsed and checked against the schema."""
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        raise EntryError(f"{path} does not exist; is it a run directory with entry.json?") from None
    except IsADirectoryError:
        raise EntryError(f"{path} is a directory; give an entry JSON file") from None
    except json.JSONDecodeError as exc:
        raise EntryError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except UnicodeDecodeError:
        raise EntryError(f"{path}: not valid JSON (not UTF-8 text)") from None
    check_schema(entry, str(path))
    return entry


def section_key(e: dict[str, Any]) -> tuple:
    return (
        e["track"],
        e["scale"],
        e["pool"]["fingerprint"],
        e["recipe"]["sha256"],
        e["metrics"]["suite"]["name"],
        e["metrics"]["suite"]["version"],
        e["compute"]["precision"],
    )


def experiment_key(e: dict[str, Any]) -> tuple:
    """One experiment: its section, subset and seed. A board holds one entry of each."""
    return section_key(e), e["subset"]["sha256"], e["seed"]
