"""The pools' tokenizers: the LM track's byte-level BPE trained once per pool and its token
cache; the CLIP track's caption BPE and OpenAI CLIP's tokenizer (end of the module).

The tokenizer is trained at pool-build time on a fixed sample of the pool (the first
items in uid order up to a byte budget), so it is versioned with the pool. Every item is
tokenized once into the pool's token cache so that a subset is a gather.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence, Sized
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


# --- the CLIP track's caption tokenizers --------------------------------------------------

CAPTION_PAD, CAPTION_EOS, CAPTION_UNK = "<pad>", "</s>", "<unk>"


def train_caption_tokenizer(
    texts: Iterable[str], vocab_size: int, out_dir: Path, length: int | None = None
) -> None:
    """A byte-level BPE (NFKC + lowercase) that appends ``</s>``; ``save_pretrained`` format.

    Ids: ``<pad>`` 0, ``</s>`` 1, ``<unk>`` 2. Trained on the pool's captions in uid
    order, so the same pool gives the same tokenizer.
    """
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=CAPTION_UNK))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[CAPTION_PAD, CAPTION_EOS, CAPTION_UNK],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    length = len(texts) if length is None and isinstance(texts, Sized) else length
    tok.train_from_iterator(texts, trainer=trainer, length=length)
    eos_id = tok.token_to_id(CAPTION_EOS)
    assert tok.token_to_id(CAPTION_PAD) == 0 and eos_id == 1
    tok.post_processor = processors.TemplateProcessing(
        single=f"$A {CAPTION_EOS}",
        pair=f"$A {CAPTION_EOS} $B {CAPTION_EOS}",
        special_tokens=[(CAPTION_EOS, eos_id)],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=CAPTION_PAD,
        eos_token=CAPTION_EOS,
        unk_token=CAPTION_UNK,
        model_max_length=77,
    )
    fast.save_pretrained(str(out_dir))


# OpenAI CLIP's tokenizer, the one open_clip's built-in model configs (ViT-B-32, ...) expect:
# 49,408 ids = 256 byte symbols + the same with "</w>" + 48,894 merges + two specials.
CLIP_SOT, CLIP_EOT = "<|startoftext|>", "<|endoftext|>"
CLIP_MERGES = 49152 - 256 - 2  # the merges open_clip's SimpleTokenizer reads from its file
CLIP_SPLIT = (
    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"
)


def openai_clip_tokenizer(out_dir: Path) -> None:
    """Write OpenAI CLIP's BPE as a ``save_pretrained`` folder, built from the merges file
    that open_clip's wheel ships (nothing is downloaded): lower case, whitespace
    collapsed, words split as CLIP splits them, ``<|startoftext|>`` and ``<|endoftext|>``
    around every caption. Its ids equal open_clip's ``SimpleTokenizer``'s; padding uses
    ``<|endoftext|>`` (open_clip pads with 0), which changes nothing for the model: it
    pools at the first (argmax) end token behind a causal mask.
    """
    import gzip

    from open_clip.tokenizer import bytes_to_unicode, default_bpe
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )
    from transformers import PreTrainedTokenizerFast

    with gzip.open(default_bpe(), "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")[1 : CLIP_MERGES + 1]
    merges = [tuple(line.split()) for line in lines]
    symbols = list(bytes_to_unicode().values())
    vocab_list = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
    vocab = {token: i for i, token in enumerate(vocab_list + [CLIP_SOT, CLIP_EOT])}
    tok = Tokenizer(
        models.BPE(vocab=vocab, merges=merges, end_of_word_suffix="</w>", unk_token=CLIP_EOT)
    )
    tok.normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(CLIP_SPLIT), behavior="removed", invert=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.BPEDecoder(suffix="</w>")
    sot, eot = vocab[CLIP_SOT], vocab[CLIP_EOT]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{CLIP_SOT} $A {CLIP_EOT}",
        pair=f"{CLIP_SOT} $A {CLIP_EOT} $B {CLIP_EOT}",
        special_tokens=[(CLIP_SOT, sot), (CLIP_EOT, eot)],
    )
    tok.add_special_tokens([CLIP_SOT, CLIP_EOT])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=CLIP_SOT,
        eos_token=CLIP_EOT,
        pad_token=CLIP_EOT,
        unk_token=CLIP_EOT,
        model_max_length=77,
    )
    fast.save_pretrained(str(out_dir))
