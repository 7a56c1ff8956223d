"""The Ray engine (benchmark.engine): imports and selections on Ray equal the local ones.

Each module-level fixture starts Ray once (about 10-30 s on two cores), so the file is
marked slow; the pools are small, with docs shards cut to a few dozen rows so that a
pass over them is several tasks whose results come back in any order.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from benchmark.engine import Engine, connect
from benchmark.errors import PoolError
from benchmark.pool.importers.external import import_external
from benchmark.select import select
from tests.test_pool_external import make_datacomp, make_dclm

pytestmark = pytest.mark.slow

SHARD_ROWS = 50  # docs shard size of the pools imported here (the format's is 50,000)
METHODS_LM = [
    ("exact-dedup", {}),
    ("minhash-dedup", {"threshold": 0.5}),
    ("gopher", {}),
    ("c4", {}),
    ("langid", {}),
    ("fasttext", {"fraction": 0.2}),
]
METHODS_CLIP = [("caption-filter", {}), ("image-dedup", {}), ("text-filter", {})]


@pytest.fixture(scope="module")
def ray_engine():
    import ray

    os.environ.pop("RAY_ADDRESS", None)
    connect(None, 2)
    yield Engine("ray", 2)
    ray.shutdown()


@pytest.fixture(scope="module")
def small_shards():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("benchmark.pool.writer.SHARD_ROWS", SHARD_ROWS)
        yield


def _pool_files(root: Path) -> dict[str, bytes]:
    """Every file of a pool but the manifest (which records the engine and the times)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


def _double(x: int) -> int:
    if x == 3:
        raise PoolError("task 3 is bad")
    if x == 5:
        time.sleep(0.5)
        raise PoolError("task 5 is bad")
    return 2 * x


def test_map_keeps_task_order_and_raises_the_first_failure_as_itself(ray_engine):
    assert ray_engine.map(_double, [0, 1, 2, 4, 6, 7], "double") == [0, 2, 4, 8, 12, 14]
    assert ray_engine.map(_double, [0, 1, 2], "double") == Engine().map(_double, [0, 1, 2], "d")
    # task 0 fails after task 1 does: the error is task 0's, as the local engine raises it
    with pytest.raises(PoolError, match="^task 5 is bad$"):
        ray_engine.map(_double, [5, 3, 1], "double")
    with pytest.raises(PoolError, match="^task 5 is bad$"):
        Engine("local", 2).map(_double, [5, 3, 1], "double")


@pytest.mark.parametrize("fmt", ["dclm", "datacomp"])
def test_an_import_on_ray_is_byte_identical_to_the_local_one(
    fmt, ray_engine, small_shards, bench_home, tmp_path_factory
):
    src = tmp_path_factory.mktemp(f"src-{fmt}")
    src = make_dclm(src) if fmt == "dclm" else make_datacomp(src, num_shards=3)
    kw = {} if fmt == "dclm" else {"image_sizes": (16,)}
    local = import_external(f"{fmt}-local", fmt, src, engine=Engine("local", 2), **kw)
    remote = import_external(f"{fmt}-ray", fmt, src, engine=ray_engine, **kw)
    assert remote.fingerprint == local.fingerprint
    files = _pool_files(local.root)
    assert len(list(local.root.glob("docs-*.parquet"))) > 1
    assert _pool_files(remote.root) == files
    assert remote.manifest["build"]["engine"] == "ray"


@pytest.fixture(scope="module")
def sharded_text_pool(small_shards, bench_home, tmp_path_factory):
    rng = np.random.default_rng(3)
    words = ["the", "river", "ran", "past", "old", "mill", "and", "town", "slept", "under"]
    texts = [" ".join(rng.choice(words, size=60)) + "." for _ in range(200)]
    texts += texts[:40]  # exact copies, for the dedup methods
    src = make_dclm(tmp_path_factory.mktemp("sharded"), texts)
    return import_external("sharded-text", "dclm", src)


@pytest.mark.parametrize("method,options", METHODS_LM[:3])
def test_text_methods_on_ray_over_many_shards(
    method, options, sharded_text_pool, ray_engine, tmp_path
):
    assert len(sharded_text_pool.shard_paths()) >= 5
    _same_subset(method, options, sharded_text_pool, ray_engine, tmp_path)


def _same_subset(method: str, options: dict, pool, engine: Engine, out: Path) -> None:
    select(method, pool, out / "local.txt", **options)
    select(method, pool, out / "ray.txt", engine=engine, **options)
    assert (out / "ray.txt").read_bytes() == (out / "local.txt").read_bytes()


@pytest.mark.parametrize("method,options", METHODS_LM)
def test_every_text_method_on_ray_writes_the_same_subset(
    method, options, tiny_pool, ray_engine, tmp_path
):
    _same_subset(method, options, tiny_pool, ray_engine, tmp_path)


@pytest.mark.parametrize("method,options", METHODS_CLIP)
def test_every_image_method_on_ray_writes_the_same_subset(
    method, options, tiny_image_pool, ray_engine, tmp_path
):
    _same_subset(method, options, tiny_image_pool, ray_engine, tmp_path)


def test_clip_score_on_ray_writes_the_same_subset(tiny_image_pool, ray_engine, tmp_path):
    from benchmark.run import train_only
    from tests.test_clip import TINY_CLIP

    train_only(track="clip", scale="xs", run_dir=tmp_path / "scorer", overrides=TINY_CLIP)
    options = {"fraction": 0.3, "checkpoint": str(tmp_path / "scorer")}
    _same_subset("clip-score", options, tiny_image_pool, ray_engine, tmp_path)


@pytest.mark.parametrize("track", ["lm", "clip"])
def test_an_audit_on_ray_finds_what_the_local_one_finds(
    track, tiny_pool, tiny_image_pool, ray_engine, small_shards, tmp_path
):
    """Planted eval items, spread over many docs shards: the Ray engine's report is the
    local one's, and it finds every planted item."""
    from benchmark.audit import audit
    from benchmark.config import load_recipe
    from benchmark.evaluate.suite import load_suite
    from benchmark.select.scan import using
    from benchmark.subset import whole_pool
    from tests.test_audit import PLANTED, make_planted_image, make_planted_text

    if track == "lm":
        pool, _ = make_planted_text(tiny_pool, tmp_path / "src", "ray-planted-text")
        task = "databench_cloze"
    else:
        pool = make_planted_image(tiny_image_pool, tmp_path / "src", "ray-planted-image")
        task = "fashion_mnist"
    assert len(pool.shard_paths()) > 1
    recipe = load_recipe(track, "xs")
    suite = load_suite(track, recipe.eval.suite)
    reports = []
    for engine in (None, ray_engine):
        with using(engine):
            reports.append(audit(pool, whole_pool(pool), recipe, suite, pool.evals_dir))
    assert reports[0] == reports[1]
    assert reports[1]["contamination"][task]["found"] >= PLANTED


def test_a_two_node_cluster_imports_and_selects_as_one_machine(
    small_shards, bench_home, tmp_path_factory, tmp_path
):
    """Two Ray nodes on this machine's loopback (Ray's own ``cluster_utils.Cluster``)."""
    import ray
    from ray.cluster_utils import Cluster

    ray.shutdown()  # the module's one-node Ray, if a test above started it
    src = make_dclm(tmp_path_factory.mktemp("two-node"))
    local = import_external("two-node-local", "dclm", src)
    cluster = Cluster()
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=1, object_store_memory=100 * 1024**2, include_dashboard=False)
        engine = Engine("ray", 2, cluster.address)
        remote = import_external("two-node-ray", "dclm", src, engine=engine)
        assert _pool_files(remote.root) == _pool_files(local.root)
        connect(cluster.address)
        assert len(ray.nodes()) == 2
        for method, options in METHODS_LM[:2]:
            select(method, local, tmp_path / f"{method}-local.txt", **options)
            select(method, local, tmp_path / f"{method}-ray.txt", engine=engine, **options)
            ray_txt = (tmp_path / f"{method}-ray.txt").read_bytes()
            assert ray_txt == (tmp_path / f"{method}-local.txt").read_bytes()
    finally:
        ray.shutdown()
        cluster.shutdown()
