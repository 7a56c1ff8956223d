"""The pool's uid index as 128-bit integers, for checking large subsets fast.

A uid is 32 hex characters, i.e. a 128-bit integer: DataComp stores it as two unsigned
64-bit halves (``u8,u8``). Beside the sorted ``S32`` uids (the index every reader knows) a
pool holds :data:`~benchmark.pool.format.UIDS128`: the same uids as a ``(2, N)`` uint64
array, row 0 the high halves and row 1 the low halves, both sorted like the ``S32`` index
(the order of 32 lowercase hex characters is the order of the integers). Binary search on contiguous
uint64 is an order of magnitude faster than on 32-byte strings, and a DataComp ``.npy``
subset needs no conversion at all. Pools built before the file existed get it computed
in memory on first use (16 bytes per item).

    hi, lo = hex_to_halves(chars)            # (n, 32) uint8 hex -> two (n,) uint64
    index = UidIndex.of(pool)
    order, rows = index.find(hi, lo)          # rows[k] is the pool row of uid order[k], or -1
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from benchmark.pool.format import UIDS128

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_BAD = 0xFFFF


def _pair_table() -> np.ndarray:
    """Two ASCII hex characters (read as one little-endian uint16) -> their byte, or _BAD."""
    nib = np.full(256, 255, dtype=np.uint16)
    for i, c in enumerate(b"0123456789abcdef"):
        nib[c] = i
    for i, c in enumerate(b"ABCDEF"):
        nib[c] = 10 + i
    first, second = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    table = (nib[first] << 4) | nib[second]  # first char is the low byte of the uint16
    bad = (nib[first] == 255) | (nib[second] == 255)
    table[bad] = _BAD
    return table.T.ravel().astype(np.uint16)  # index = second * 256 + first


_PAIRS = _pair_table()


def hex_to_halves(chars: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(n, 32)`` uint8 ASCII hex (either case) -> high halves, low halves, bad-row mask."""
    chars = np.ascontiguousarray(chars, dtype=np.uint8)
    pairs = chars.view("<u2").reshape(len(chars), 16)
    nbytes = np.take(_PAIRS, pairs)  # (n, 16) byte values, _BAD where a character is not hex
    if len(chars) and int(nbytes.max()) > 255:
        bad = (nbytes == _BAD).any(axis=1)
    else:
        bad = np.zeros(len(chars), dtype=bool)
    be = nbytes.astype(np.uint8).view(">u8").reshape(len(chars), 2)
    return be[:, 0].astype(np.uint64), be[:, 1].astype(np.uint64), bad


def halves_to_hex(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """Two (n,) uint64 -> ``(n, 32)`` uint8 lowercase ASCII hex."""
    raw = np.empty((len(hi), 2), dtype=">u8")
    raw[:, 0], raw[:, 1] = hi, lo
    b = raw.view(np.uint8).reshape(len(hi), 16)
    out = np.empty((len(hi), 32), dtype=np.uint8)
    out[:, 0::2] = _HEX[b >> 4]
    out[:, 1::2] = _HEX[b & 15]
    return out


def s32_to_halves(uids: np.ndarray, chunk: int = 1 << 20) -> np.ndarray:
    """A sorted ``S32`` uid array (or memmap) -> the ``(2, N)`` uint64 index, in chunks."""
    out = np.empty((2, len(uids)), dtype=np.uint64)
    for start in range(0, len(uids), chunk):
        part = np.asarray(uids[start : start + chunk]).view(np.uint8).reshape(-1, 32)
        out[0, start : start + len(part)], out[1, start : start + len(part)], _ = hex_to_halves(
            part
        )
    return out


def write_index128(root: Path, uids: np.ndarray) -> None:
    """Write the 128-bit index for the sorted ``S32`` uids of a pool being built in ``root``."""
    np.save(root / UIDS128, s32_to_halves(uids))


_GROUP_ITEMS = 1 << 15  # index items per search group: 256 KiB of high halves, cache-sized


@dataclass(frozen=True)
class UidIndex:
    """A pool's sorted uids as high and low uint64 halves (memory-mapped when on disk)."""

    hi: np.ndarray  # (N,) uint64, sorted
    lo: np.ndarray  # (N,) uint64, sorted within equal hi

    @cached_property
    def _groups(self) -> tuple[np.ndarray, list[int]]:
        """Edges splitting the uid space by its top bits, and where each edge falls in the
        index: a search then runs in one cache-sized group instead of the whole index."""
        bits = min(16, max(0, (len(self.hi) // _GROUP_ITEMS).bit_length()))
        edges = np.arange(1 << bits, dtype=np.uint64) << np.uint64(64 - bits) if bits else None
        if edges is None:
            return np.zeros(1, dtype=np.uint64), [0, len(self.hi)]
        starts = np.searchsorted(self.hi, edges).tolist()
        return edges, [*starts, len(self.hi)]

    def _search(self, qhi: np.ndarray) -> np.ndarray:
        """``np.searchsorted(self.hi, qhi)``, group by group, for ``qhi`` sorted at least
        by the top bits that pick the group."""
        edges, starts = self._groups
        bounds = [*np.searchsorted(qhi, edges).tolist(), len(qhi)]
        pos = np.empty(len(qhi), dtype=np.int64)
        index = self.hi
        for g in np.flatnonzero(np.diff(bounds)).tolist():
            a, b, lo, hi = bounds[g], bounds[g + 1], starts[g], starts[g + 1]
            np.add(np.searchsorted(index[lo:hi], qhi[a:b]), lo, out=pos[a:b])
        return pos

    @classmethod
    def of(cls, pool) -> UidIndex:
        path = pool.root / UIDS128
        both = np.load(path, mmap_mode="r") if path.is_file() else s32_to_halves(pool.uids)
        return cls(hi=np.asarray(both[0]), lo=np.asarray(both[1]))  # views, not copies

    def __len__(self) -> int:
        return len(self.hi)

    def find(self, hi: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pool rows of the uids ``(hi, lo)``: ``(order, rows)``, ``rows[k]`` the row of uid
        ``order[k]`` (-1 when absent); ``order`` sorts the query by its top bits, so
        ``rows`` is almost sorted and the searches stay in cache.

        The sort packs each query's position into the low bits of its high half, so one
        ``np.sort`` of uint64 (vectorised) does the work of a far slower ``argsort``.
        """
        n = len(hi)
        if n == 0 or len(self.hi) == 0:
            return np.arange(n, dtype=np.int64), np.full(n, -1, dtype=np.int64)
        bits = max(1, int(n - 1).bit_length())
        mask = np.uint64((1 << bits) - 1)
        keys = np.sort((hi & ~mask) | np.arange(n, dtype=np.uint64))
        order = (keys & mask).astype(np.int64)
        qhi, qlo = np.take(hi, order), np.take(lo, order)
        pos = self._search(qhi)  # qhi is sorted by its top bits: enough for the groups
        at = np.minimum(pos, len(self.hi) - 1)
        hit_hi = np.take(self.hi, at) == qhi
        found = hit_hi & (np.take(self.lo, at) == qlo)
        rows = np.where(found, pos, -1)
        for k in np.flatnonzero(hit_hi & ~found):  # equal high halves: rare, search the run
            start = int(pos[k])
            stop = int(np.searchsorted(self.hi, qhi[k], side="right"))
            j = start + int(np.searchsorted(self.lo[start:stop], qlo[k]))
            if j < stop and self.lo[j] == qlo[k]:
                rows[k] = j
        return order, rows.astype(np.int64)
