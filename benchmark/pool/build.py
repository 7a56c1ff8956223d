"""The registry of embedded pools and their builders.

build_pool("text-default")      # fetch, build, write $BENCH_HOME/pools/text-default
ensure_pool("text-default")     # open it, building it first if missing
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmark.errors import PoolError
from benchmark.paths import download_cache
from benchmark.pool.format import MANIFEST
from benchmark.pool.store import Pool, check_pool_name, pool_path

log = logging.getLogger(__name__)


def _text_default(dest: Path, cache: Path, max_docs: int | None) -> dict[str, Any]:
    from benchmark.pool.text.build import build_text_default

    return build_text_default(dest, cache, max_docs_per_source=max_docs)


def _image_default(dest: Path, cache: Path, max_docs: int | None) -> dict[str, Any]:
    from benchmark.pool.image.build import build_image_default

    return build_image_default(dest, cache, max_docs_per_source=max_docs)


BUILDERS: dict[str, Callable[[Path, Path, int | None], dict[str, Any]]] = {
    "text-default": _text_default,
    "image-default": _image_default,
}


def build_pool(name: str, *, force: bool = False, max_docs_per_source: int | None = None) -> Pool:
    """Build the embedded pool ``name`` (a no-op when already built, unless ``force``)."""
    if name not in BUILDERS:
        raise PoolError(f"no builder for pool {name!r}; embedded pools: {', '.join(BUILDERS)}")
    if max_docs_per_source is not None and max_docs_per_source < 1:
        raise PoolError(f"--max-docs-per-source must be at least 1, got {max_docs_per_source}")
    dest = pool_path(name if max_docs_per_source is None else f"{name}-reduced")
    if (dest / MANIFEST).is_file() and not force:
        log.info("pool %s already built at %s", name, dest)
        return Pool(dest)
    BUILDERS[name](dest, download_cache(), max_docs_per_source)
    return Pool(dest)


def ensure_pool(name: str) -> Pool:
    """Open pool ``name``, building it first when it is an embedded pool not yet built."""
    check_pool_name(name)
    dest = pool_path(name)
    if (dest / MANIFEST).is_file():
        return Pool(dest)
    if name in BUILDERS:
        log.info("pool %s is not built yet: building it now (one time)", name)
        return build_pool(name)
    raise PoolError(
        f"pool {name!r} is not built and has no builder; embedded pools: {', '.join(BUILDERS)}"
    )
