from __future__ import annotations

import numpy as np
import pytest

from benchmark.train.packing import PackedSequences

EOS = 0


def _toy():
    docs = [np.arange(1, 6), np.arange(10, 13), np.arange(20, 29)]  # 5, 3, 9 tokens
    tokens = np.concatenate(docs).astype(np.uint16)
    offsets = np.array([0, 5, 8, 17])
    return tokens, offsets


def _pack(tokens, offsets, rows, **kw):
    seqs = PackedSequences(tokens, offsets, np.asarray(rows), eos_id=EOS, **kw)
    return seqs[:], seqs.num_epochs


def _materialised(tokens, offsets, rows, *, seq_len, num_sequences, eos_id, seed):
    """The whole stream built in memory, cut and shuffled: the definition the index keeps."""
    rng = np.random.default_rng(seed)
    lengths = offsets[rows + 1] - offsets[rows] + 1
    epochs = -(-(num_sequences * seq_len) // int(lengths.sum()))
    pieces = []
    for _ in range(epochs):
        for r in rows[rng.permutation(len(rows))]:
            pieces += [tokens[offsets[r] : offsets[r + 1]].astype(np.int64), [eos_id]]
    stream = np.concatenate(pieces)[: num_sequences * seq_len].reshape(num_sequences, seq_len)
    return stream[rng.permutation(num_sequences)]


def test_budget_is_fixed_and_a_small_subset_repeats():
    tokens, offsets = _toy()
    seqs, epochs = _pack(tokens, offsets, [1], seq_len=4, num_sequences=5, seed=0)
    assert seqs.shape == (5, 4)
    assert epochs == 5  # 4 tokens per epoch (3 + eos), 20 needed
    assert sorted(seqs.ravel().tolist()) == sorted([10, 11, 12, EOS] * 5)


def test_documents_are_separated_by_eos_and_order_is_seeded():
    tokens, offsets = _toy()
    rows = [0, 1, 2]
    a, _ = _pack(tokens, offsets, rows, seq_len=4, num_sequences=5, seed=1)
    b, _ = _pack(tokens, offsets, rows, seq_len=4, num_sequences=5, seed=1)
    c, _ = _pack(tokens, offsets, rows, seq_len=4, num_sequences=5, seed=2)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert (a == EOS).sum() == 3  # 17 tokens + 3 eos = 20 = 5 x 4


def test_repeated_uids_upsample():
    tokens, offsets = _toy()
    seqs, _ = _pack(tokens, offsets, [0, 0, 1], seq_len=3, num_sequences=5, seed=0)
    flat = seqs.ravel().tolist()
    assert flat.count(1) == 2 and flat.count(10) == 1


@pytest.mark.parametrize("seed", range(6))
def test_the_index_gives_the_materialised_streams_sequences(seed):
    """Random pools, subsets with repeats, sequences longer and shorter than documents,
    one epoch or many: every sequence equals the whole-stream definition's."""
    rng = np.random.default_rng(100 + seed)
    lengths = rng.integers(0, 40, size=50)
    offsets = np.concatenate(([0], np.cumsum(lengths)))
    tokens = rng.integers(1, 60000, size=int(offsets[-1])).astype(np.uint16)
    rows = rng.integers(0, 50, size=int(rng.integers(1, 80)))
    kw = dict(seq_len=int(rng.integers(1, 64)), num_sequences=int(rng.integers(1, 300)), seed=seed)
    got = PackedSequences(tokens, offsets, rows, eos_id=EOS, **kw)
    want = _materialised(tokens, offsets, rows, eos_id=EOS, **kw)
    assert np.array_equal(got[:], want)
    k = len(want) // 2
    assert np.array_equal(got[k : k + 3], want[k : k + 3])  # any slice, as a step reads it
