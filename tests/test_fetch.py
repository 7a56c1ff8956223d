"""Fetching pinned registry packages: what a user sees when the registry lets them down.

pip runs for real here, offline: no index and a find-links folder stand in for a
registry (``PIP_NO_INDEX``, ``PIP_FIND_LINKS``, as pip documents them).
"""

from __future__ import annotations

import zipfile

import pytest

from benchmark.fetch.packages import FetchError, fetch_pip


@pytest.fixture
def registry(tmp_path, monkeypatch):
    links = tmp_path / "links"
    links.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    monkeypatch.delenv("BENCH_OFFLINE", raising=False)
    return links


def test_a_pinned_release_gone_from_the_registry_names_the_way_round(registry, tmp_path):
    # as PyPI became in 2026-12 for bigbench 1.0.0, once the image pool's eval source
    with pytest.raises(FetchError, match=r"has no such release.*set PIP_FIND_LINKS=FOLDER"):
        fetch_pip("bigbench", "1.0.0", tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("fetched.json"))


def test_a_release_in_a_find_links_folder_is_fetched_and_cached(registry, tmp_path):
    wheel = registry / "databench_demo-1.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("databench_demo/data.txt", "hello\n")
        zf.writestr(
            "databench_demo-1.0.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: databench-demo\nVersion: 1.0.0\nLicense: MIT\n",
        )
        zf.writestr("databench_demo-1.0.0.dist-info/WHEEL", "Wheel-Version: 1.0\n")
        zf.writestr("databench_demo-1.0.0.dist-info/RECORD", "")
    got = fetch_pip("databench-demo", "1.0.0", tmp_path / "cache")
    assert (got.root / "databench_demo/data.txt").read_text() == "hello\n"
    assert list((tmp_path / "cache").rglob("fetched.json"))
