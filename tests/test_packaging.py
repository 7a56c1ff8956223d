"""A wheel, installed as a new user would (not editable), finds its recipes and suites."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHIPPED = {"benchmark._scales": "scales", "benchmark._evals": "evals", "benchmark._board": None}


def test_the_package_list_names_every_package_under_benchmark():
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {
        ".".join(p.parent.relative_to(REPO).parts)
        for p in (REPO / "benchmark").rglob("__init__.py")
    }
    assert set(setuptools["packages"]) == found | set(SHIPPED)


@pytest.mark.slow
def test_an_installed_wheel_finds_every_scale_and_suite_from_any_folder(tmp_path):
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(REPO)],
        check=True,
        cwd=tmp_path,
    )
    [wheel] = wheels.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.startswith("benchmarks/")]
    for folder in ("scales", "evals"):
        for f in (REPO / folder).rglob("*.*"):
            assert f"benchmark/_{folder}/{f.relative_to(REPO / folder)}" in names
    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True)
    work = tmp_path / "elsewhere"
    work.mkdir()
    probe = (
        "from benchmark.config import available_scales, load_recipe;"
        "from benchmark.evaluate.suite import load_suite;"
        "from benchmark.leaderboard.entry import leaderboard_dir, load_schema;"
        "import benchmark;"
        "print(benchmark.__file__);"
        "print(','.join(available_scales('lm')), ','.join(available_scales('clip')));"
        "print(load_recipe('lm', 'xs').sha256, load_recipe('clip', 'xs').sha256);"
        "print(load_suite('lm', 'dclm-core').version, load_schema()['title']);"
        "print(leaderboard_dir())"
    )
    env = {k: v for k, v in os.environ.items() if k != "BENCH_REPO"}
    env["PYTHONPATH"] = str(site)
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=work, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    where, scales, hashes, suite, board = out.stdout.splitlines()
    assert where.startswith(str(site))
    from benchmark.config import available_scales, load_recipe

    assert scales == f"{','.join(available_scales('lm'))} {','.join(available_scales('clip'))}"
    assert hashes == f"{load_recipe('lm', 'xs').sha256} {load_recipe('clip', 'xs').sha256}"
    assert suite.startswith("2 databench leaderboard entry")
    assert board == str(work / "leaderboard")
