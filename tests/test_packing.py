from __future__ import annotations

import numpy as np

from benchmark.train.packing import pack_sequences

EOS = 0


def _toy():
    docs = [np.arange(1, 6), np.arange(10, 13), np.arange(20, 29)]  # 5, 3, 9 tokens
    tokens = np.concatenate(docs).astype(np.uint16)
    offsets = np.array([0, 5, 8, 17])
    return tokens, offsets


def test_budget_is_fixed_and_a_small_subset_repeats():
    tokens, offsets = _toy()
    seqs, epochs = pack_sequences(
        tokens, offsets, np.array([1]), seq_len=4, num_sequences=5, eos_id=EOS, seed=0
    )
    assert seqs.shape == (5, 4)
    assert epochs == 5  # 4 tokens per epoch (3 + eos), 20 needed
    assert sorted(seqs.ravel().tolist()) == sorted([10, 11, 12, EOS] * 5)


def test_documents_are_separated_by_eos_and_order_is_seeded():
    tokens, offsets = _toy()
    rows = np.array([0, 1, 2])
    a, _ = pack_sequences(tokens, offsets, rows, seq_len=4, num_sequences=5, eos_id=EOS, seed=1)
    b, _ = pack_sequences(tokens, offsets, rows, seq_len=4, num_sequences=5, eos_id=EOS, seed=1)
    c, _ = pack_sequences(tokens, offsets, rows, seq_len=4, num_sequences=5, eos_id=EOS, seed=2)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert (a == EOS).sum() == 3  # 17 tokens + 3 eos = 20 = 5 x 4


def test_repeated_uids_upsample():
    tokens, offsets = _toy()
    seqs, _ = pack_sequences(
        tokens, offsets, np.array([0, 0, 1]), seq_len=3, num_sequences=5, eos_id=EOS, seed=0
    )
    flat = seqs.ravel().tolist()
    assert flat.count(1) == 2 and flat.count(10) == 1
