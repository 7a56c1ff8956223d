"""Packed training sequences for the LM track.

Documents of the subset (repeats kept) are shuffled with the run's seed, joined with
an end-of-text token between them, cut into ``seq_len``-token sequences, and the
sequences are shuffled again (DCLM's recipe). When the subset holds fewer tokens than
the budget, further epochs follow, each with its own document order, so the budget is
fixed whatever the subset's size.
"""

from __future__ import annotations

import numpy as np


def pack_sequences(
    tokens: np.ndarray,
    offsets: np.ndarray,
    rows: np.ndarray,
    *,
    seq_len: int,
    num_sequences: int,
    eos_id: int,
    seed: int,
) -> tuple[np.ndarray, int]:
    """``(num_sequences, seq_len)`` int64 token ids and the number of epochs used."""
    need = num_sequences * seq_len
    lengths = offsets[rows + 1] - offsets[rows] + 1  # +1: the end-of-text token
    per_epoch = int(lengths.sum())
    if per_epoch <= 0:
        raise ValueError("the subset holds no tokens")
    num_epochs = -(-need // per_epoch)
    rng = np.random.default_rng(seed)
    out = np.empty(num_epochs * per_epoch, dtype=np.int64)
    pos = 0
    eos = np.array([eos_id], dtype=np.int64)
    for _ in range(num_epochs):
        order = rows[rng.permutation(len(rows))]
        pieces = []
        for r in order.tolist():
            pieces.append(tokens[offsets[r] : offsets[r + 1]])
            pieces.append(eos)
        chunk = np.concatenate(pieces)
        out[pos : pos + len(chunk)] = chunk
        pos += len(chunk)
    seqs = out[:need].reshape(num_sequences, seq_len)
    return seqs[rng.permutation(num_sequences)], num_epochs
