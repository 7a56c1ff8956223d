"""Export a built pool to one archive and import it elsewhere, fingerprint checked."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from benchmark.cli import main
from benchmark.errors import PoolError
from benchmark.pool.importers.archive import export_pool, import_pool, recompute_fingerprint


@pytest.fixture
def other_home(tmp_path: Path, bench_home: Path):
    """A second, empty $BENCH_HOME for the duration of one test."""
    home = tmp_path / "other_home"
    os.environ["BENCH_HOME"] = str(home)
    yield home
    os.environ["BENCH_HOME"] = str(bench_home)


@pytest.fixture(scope="module")
def archive(tiny_pool, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_pool(tiny_pool.name, tmp_path_factory.mktemp("archive") / "pool.tar.gz")


def test_export_then_import_elsewhere_keeps_the_fingerprint(tiny_pool, archive, other_home):
    pool = import_pool(archive)
    assert pool.root == other_home / "pools" / tiny_pool.name
    assert pool.fingerprint == tiny_pool.fingerprint == recompute_fingerprint(pool.root)
    assert pool.num_items == tiny_pool.num_items
    assert (pool.tokenizer_dir / "tokenizer.json").is_file()
    with pytest.raises(PoolError, match="--force"):
        import_pool(archive)
    assert import_pool(archive, force=True).fingerprint == tiny_pool.fingerprint
    assert not [p for p in pool.root.parent.iterdir() if p.name.startswith(".")]


def test_an_image_pool_survives_export_and_import(tiny_image_pool, tmp_path, other_home):
    assert recompute_fingerprint(tiny_image_pool.root) == tiny_image_pool.fingerprint
    os.environ["BENCH_HOME"] = str(tiny_image_pool.root.parent.parent)
    out = export_pool(tiny_image_pool.name, tmp_path / "images.tar")
    os.environ["BENCH_HOME"] = str(other_home)
    pool = import_pool(out)
    assert pool.root == other_home / "pools" / tiny_image_pool.name
    assert pool.fingerprint == tiny_image_pool.fingerprint
    assert (pool.root / "images-32.npy").is_file()


def test_cli_exports_and_imports(tiny_pool, tmp_path, other_home, capsys):
    os.environ["BENCH_HOME"] = str(tiny_pool.root.parent.parent)
    out = tmp_path / "pool.tar"
    assert main(["pool", "export", tiny_pool.name, "--out", str(out)]) == 0
    os.environ["BENCH_HOME"] = str(other_home)
    assert main(["pool", "import", str(out)]) == 0
    assert tiny_pool.fingerprint[:16] in capsys.readouterr().out


def _tampered(archive: Path, tmp_path: Path) -> Path:
    """A copy of ``archive`` with one item's text changed in its first shard."""
    work = tmp_path / "work"
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")
    (top,) = work.iterdir()
    shard = sorted(top.glob("docs-*.parquet"))[0]
    table = pq.read_table(shard)
    texts = table.column("text").to_pylist()
    texts[0] = texts[0] + " (edited)"
    table = table.set_column(table.schema.get_field_index("text"), "text", [texts])
    pq.write_table(table, shard)
    bad = tmp_path / "tampered.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        tar.add(top, arcname=top.name)
    return bad


def test_a_tampered_archive_is_refused(archive, tmp_path, other_home, capsys):
    bad = _tampered(archive, tmp_path)
    assert main(["pool", "import", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "fingerprint mismatch" in err and len(err.splitlines()) == 1
    pools = other_home / "pools"
    assert not pools.exists() or not any(pools.iterdir())


def test_not_an_archive_is_refused(tmp_path, other_home):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar")
    with pytest.raises(PoolError, match="cannot be read"):
        import_pool(junk)
    (tmp_path / "pool.zip").write_bytes(b"")
    with pytest.raises(PoolError, match="valid endings"):
        import_pool(tmp_path / "pool.zip")
