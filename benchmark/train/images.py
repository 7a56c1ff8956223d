"""Where the CLIP loop's images come from: a decoded cache, or the encoded images streamed.

An embedded or small pool has an image cache at each size it was built for: the pairs a
run will see are read into memory once. A pool imported with ``--encoded`` keeps each
image's original bytes (:data:`~benchmark.pool.format.ENCODED_IMAGES`, uid order), for
pools whose decoded cache at the model's resolution would not fit on disk (224 px
DataComp pools: 150 KB an image decoded, about 35 KB encoded). Its batches are decoded,
centre-cropped and resized by ``runtime.data_workers`` processes, a few steps ahead of
the model, in step order: the same decode as the import's cache
(:func:`~benchmark.pool.format.decode_square`; for a cache imported at that one size:
JPEGs are drafted at the largest size asked for), so a run reads the same pixels either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from benchmark.errors import PoolError
from benchmark.pool.format import (
    ENCODED_IMAGES,
    ENCODED_OFFSETS,
    decode_square,
    image_sizes,
    images_name,
)
from benchmark.pool.store import Pool


def image_cache(pool: Pool, size: int) -> np.ndarray:
    """The pool's images at ``size`` px, uint8 ``(N, size, size, 3)`` in uid order."""
    path = pool.root / images_name(size)
    if not path.is_file():
        have = ", ".join(map(str, image_sizes(pool.root))) or "none"
        raise PoolError(
            f"pool {pool.name} has no {size} px image cache (has: {have}); "
            f"rebuild it with `bench pool build {pool.name} --force`"
        )
    images = np.load(path, mmap_mode="r")
    if images.shape[0] != pool.num_items:
        raise PoolError(f"{path} has {images.shape[0]} rows, the pool {pool.num_items} items")
    return images


class EncodedImages:
    """Random access to a pool's encoded images by row, decoded to ``size`` px."""

    def __init__(self, root: Path, size: int) -> None:
        self.root, self.size = root, size
        self.offsets = np.load(root / ENCODED_OFFSETS, mmap_mode="r")
        self._data: np.ndarray | None = None  # opened lazily: once per worker process

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def decode(self, rows: np.ndarray) -> np.ndarray:
        """uint8 ``(len(rows), size, size, 3)``."""
        if self._data is None:
            self._data = np.load(self.root / ENCODED_IMAGES, mmap_mode="r")
        out = np.empty((len(rows), self.size, self.size, 3), dtype=np.uint8)
        for i, row in enumerate(rows):
            start, stop = int(self.offsets[row]), int(self.offsets[row + 1])
            out[i] = decode_square(self._data[start:stop].tobytes(), (self.size,))[2][0]
        return out


class _Steps(torch.utils.data.Dataset):
    def __init__(self, store: EncodedImages, rows_of: Callable[[int], np.ndarray], steps):
        self.store, self.rows_of, self.steps = store, rows_of, list(steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.from_numpy(self.store.decode(self.rows_of(self.steps[i])))


class StepImages:
    """The images of each training step: ``batches(rows_of, steps)`` yields, for each step
    in ``steps``, the uint8 images of the pool rows ``rows_of(step)``."""

    def __init__(self, pool: Pool, size: int, rows: np.ndarray, workers: int = 0) -> None:
        cache = pool.root / images_name(size)
        self.workers = workers
        self.memory: np.ndarray | None = None
        self.encoded: EncodedImages | None = None
        self.rows = rows  # the pool rows the run sees, sorted; batches index into them
        if cache.is_file():
            self.memory = np.asarray(image_cache(pool, size)[rows])  # (U, H, W, 3)
        elif (pool.root / ENCODED_IMAGES).is_file():
            self.encoded = EncodedImages(pool.root, size)
            if len(self.encoded) != pool.num_items:
                raise PoolError(f"{pool.root / ENCODED_OFFSETS} does not match the pool's items")
        else:
            have = ", ".join(map(str, image_sizes(pool.root))) or "none"
            raise PoolError(
                f"pool {pool.name} has no {size} px image cache (has: {have})"
                f" and no encoded images; re-import it with --image-sizes {size} or --encoded"
            )

    @property
    def streamed(self) -> bool:
        return self.encoded is not None

    def batches(self, local_of: Callable[[int], np.ndarray], steps: range) -> Iterator:
        """uint8 arrays ``(B, H, W, 3)`` for each step; ``local_of(step)`` gives the
        step's indices into ``rows``."""
        if self.memory is not None:
            for step in steps:
                yield self.memory[local_of(step)]
            return
        assert self.encoded is not None
        dataset = _Steps(self.encoded, lambda s: self.rows[local_of(s)], steps)
        loader = torch.utils.data.DataLoader(
            dataset,
            batch_size=None,
            shuffle=False,
            num_workers=self.workers,
            prefetch_factor=2 if self.workers else None,
            persistent_workers=False,
        )
        for images in loader:
            yield images.numpy()
