"""Packed training sequences for the LM track, read through an index over the pool.

Documents of the subset (repeats kept) are shuffled with the run's seed, joined with
an end-of-text token between them, cut into ``seq_len``-token sequences, and the
sequences are shuffled again (DCLM's recipe). When the subset holds fewer tokens than
the budget, further epochs follow, each with its own document order, so the budget is
fixed whatever the subset's size.

The token stream is never materialised: ``PackedSequences`` keeps, per epoch, the
document order (int32 positions into the subset) and each document's start in the
stream (int64), for the documents the budget reaches, plus the sequence order. A batch
is gathered from the pool's memory-mapped tokens when it is asked for, so memory is
about 12 bytes per document read and 8 per sequence, whatever the budget's tokens
(400m-1x: 8.2B tokens, 66 GB as an int64 stream in every process).

    seqs = PackedSequences(pool.tokens, pool.offsets, subset.rows, seq_len=2048,
                           num_sequences=steps * batch, eos_id=eos, seed=seed)
    batch = seqs[step * batch:(step + 1) * batch]   # (B, seq_len) int64
"""

from __future__ import annotations

import numpy as np


class PackedSequences:
    """``num_sequences`` packed sequences of ``seq_len`` tokens, gathered on demand.

    The random draws are those of the plain algorithm (one permutation of the subset per
    epoch, then one of the sequences, from one generator), so the sequences are the same
    as materialising the whole stream, cutting it and shuffling the rows."""

    def __init__(
        self,
        tokens: np.ndarray,
        offsets: np.ndarray,
        rows: np.ndarray,
        *,
        seq_len: int,
        num_sequences: int,
        eos_id: int,
        seed: int,
    ) -> None:
        self.tokens, self.offsets = tokens, offsets
        self.seq_len, self.num_sequences, self.eos_id = seq_len, num_sequences, eos_id
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) >= 2**31:
            raise ValueError("a subset of 2**31 documents or more is not supported")
        self.rows = rows
        lengths = np.asarray(offsets[rows + 1] - offsets[rows], dtype=np.int64) + 1  # + eos
        need = num_sequences * seq_len
        self.per_epoch, self.num_epochs = token_epochs(lengths, need)
        rng = np.random.default_rng(seed)
        self.orders: list[np.ndarray] = []  # per epoch: positions into rows, in stream order
        self.starts: list[np.ndarray] = []  # per epoch: each document's start within the epoch
        for e in range(self.num_epochs):
            perm = rng.permutation(len(rows))
            left = need - e * self.per_epoch  # tokens this epoch must still supply
            ends = np.cumsum(lengths[perm])
            used = min(len(rows), int(np.searchsorted(ends, left, side="left")) + 1)
            self.orders.append(perm[:used].astype(np.int32))
            self.starts.append(np.concatenate(([0], ends[: used - 1])).astype(np.int64))
        self.order = rng.permutation(num_sequences)  # sequence k is stream row order[k]

    def __len__(self) -> int:
        return self.num_sequences

    @property
    def nbytes(self) -> int:
        """Memory the index holds (the pool's tokens stay memory-mapped)."""
        parts = [*self.orders, *self.starts, self.order, self.rows]
        return int(sum(a.nbytes for a in parts))

    def __getitem__(self, index: slice) -> np.ndarray:
        """The sequences ``index`` selects, as a ``(B, seq_len)`` int64 array."""
        picked = self.order[index]
        out = np.empty((len(picked), self.seq_len), dtype=np.int64)
        for i, r in enumerate(picked.tolist()):
            self._fill(out[i], r * self.seq_len)
        return out

    def _fill(self, dest: np.ndarray, pos: int) -> None:
        """Copy the stream's tokens from ``pos`` on into ``dest`` (crossing documents and
        epochs where the sequence does)."""
        epoch, within = divmod(pos, self.per_epoch)
        j = int(np.searchsorted(self.starts[epoch], within, side="right")) - 1
        skip = within - int(self.starts[epoch][j])
        filled = 0
        while filled < len(dest):
            if j == len(self.orders[epoch]):
                epoch, j = epoch + 1, 0
            row = self.rows[self.orders[epoch][j]]
            a, b = int(self.offsets[row]), int(self.offsets[row + 1])
            doc = self.tokens[a + skip : b] if skip < b - a else self.tokens[0:0]
            take = min(len(doc), len(dest) - filled)
            dest[filled : filled + take] = doc[:take]
            filled += take
            if filled < len(dest) and skip + take == b - a:
                dest[filled] = self.eos_id  # the end-of-text token after the document
                filled += 1
            skip, j = 0, j + 1


def token_epochs(lengths: np.ndarray, need: int) -> tuple[int, int]:
    """(tokens one pass over the subset gives, passes the budget takes): ``lengths`` are
    its documents' token counts with their end token, ``need`` the budget in tokens."""
    per_epoch = int(np.asarray(lengths, dtype=np.int64).sum())
    if per_epoch <= 0:
        raise ValueError("the subset holds no tokens")
    return per_epoch, -(-need // per_epoch)
