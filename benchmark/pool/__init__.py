"""Candidate pools: building them from registry material, and reading them back.

``store`` holds the on-disk format and the :class:`Pool` reader; ``text_default`` builds
the embedded LM pool; ``fetch`` and ``text_sources`` bring in the real material.
"""

from __future__ import annotations

from benchmark.pool.store import Pool, open_pool

__all__ = ["Pool", "open_pool"]
