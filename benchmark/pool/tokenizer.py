"""The LM track's tokenizer: a byte-level BPE trained once per pool, and the token cache.

The tokenizer is trained at pool-build time on a fixed sample of the pool (the first
items in uid order up to a byte budget), so it is versioned with the pool. Every item is
tokenized once into the pool's token cache so that a subset is a gather.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmark.pool.format import TOKENIZER_JSON

log = logging.getLogger(__name__)

EOS = "<|endoftext|>"


def train_tokenizer(texts: Sequence[str], vocab_size: int, out_dir: Path) -> None:
    """Train a byte-level BPE on ``texts`` and save it with ``save_pretrained``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=EOS, bos_token=EOS, pad_token=EOS, model_max_length=2048
    )
    fast.save_pretrained(str(out_dir))


def tokenize_items(tokenizer_dir: Path, texts: Sequence[str], batch: int = 4096):
    """Token ids of every text, concatenated (uint16), and the offsets (int64, n+1)."""
    from tokenizers import Tokenizer
    from tqdm import tqdm

    tok = Tokenizer.from_file(str(tokenizer_dir / TOKENIZER_JSON))
    if tok.get_vocab_size() > np.iinfo(np.uint16).max:
        raise ValueError("token cache stores uint16 ids; vocabulary too large")
    lengths = np.zeros(len(texts), dtype=np.int64)
    parts: list[np.ndarray] = []
    with tqdm(total=len(texts), desc="tokenize", unit="doc") as bar:
        for start in range(0, len(texts), batch):
            encs = tok.encode_batch(list(texts[start : start + batch]), add_special_tokens=False)
            for i, enc in enumerate(encs):
                ids = np.asarray(enc.ids, dtype=np.uint16)
                lengths[start + i] = len(ids)
                parts.append(ids)
            bar.update(len(encs))
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    tokens = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint16)
    return tokens, offsets
