"""Candidate pools: building them from registry material, and reading them back.

``format`` owns the on-disk format (file names, uid, content hash, fingerprint),
``writer`` writes it, ``store`` holds the :class:`Pool` reader; ``text_default`` builds
the embedded LM pool; ``fetch`` and ``text_sources`` bring in the real material.
"""

from __future__ import annotations

from benchmark.pool.store import Pool, open_pool

__all__ = ["Pool", "open_pool"]
