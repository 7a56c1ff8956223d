"""Web-like captions for the image pool, and the caption tokenizer.

Each pool item gets one caption *kind*, chosen by a hash of its locator, with shares
meant to look like alt-text scraped from the web:

====================  =========  ====================================================
kind                  quality    example
====================  =========  ====================================================
``descriptive``       good       "a cartoon drawing of a red apple on a blue background"
``keywords``          reference  "apple, fruit, red, food"
``filename``          junk       "emoji_u1f34e.png", "DSC_0412.JPG"
``non-english``       junk       "Roter Apfel" (a real translation from the package)
``empty``             junk       ""
``mismatched``        junk       a descriptive caption of another picture
``duplicate``         junk       an exact copy of another pair (same image and caption)
====================  =========  ====================================================

``caption_kind`` is an *oracle* label, kept so that validation studies can check what a
selection method keeps; a real pool has no such column, and selection methods that
read it are not legitimate entries.

    rng = random.Random(seed_of(locator + "#caption"))
    kind = choose_kind(rng, has_translation=bool(obj.translations))
    text = make_caption(kind, [obj], aug, rng, other=random_other_object)
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from pathlib import Path

from benchmark.pool.image_render import Augment
from benchmark.pool.image_sources import ImageObject

log = logging.getLogger(__name__)

KINDS: dict[str, str] = {
    "descriptive": "good",
    "keywords": "reference",
    "filename": "junk",
    "non-english": "junk",
    "empty": "junk",
    "mismatched": "junk",
    "duplicate": "junk",
}
# Shares of the kinds chosen per item; duplicates are added on top as extra copies.
WEIGHTS: dict[str, int] = {
    "descriptive": 40,
    "keywords": 26,
    "mismatched": 13,
    "filename": 8,
    "non-english": 8,
    "empty": 5,
}
DUPLICATE_SHARE = 0.05

_TEMPLATES = {
    "emoji": [
        "an emoji of {a}", "a {style} emoji of {a}", "{a} emoji", "a cartoon icon of {a}",
        "an illustration of {a}", "{a} icon", "a flat vector drawing of {a}", "emoji: {n}",
    ],
    "clip art": [
        "a clip art drawing of {a}", "a vector illustration of {a}", "clip art of {a}",
        "a cartoon drawing of {a}", "a simple drawing of {a}", "an illustration of {a}",
    ],
    "stamp": ["a drawing of {a}", "a picture of {a}", "a cartoon drawing of {a}", "{d}", "{d}"],
    "flag": ["{a}", "a picture of {a}", "an image of {a}", "{a}, waving", "a drawing of {a}"],
}  # fmt: skip
_STYLES = ("cartoon", "flat", "colorful", "cute", "simple", "glossy")
_PAIR_TEMPLATES = (
    "{a} and {b} side by side",
    "{a} next to {b}",
    "two pictures: {a} and {b}",
    "{a} on the left and {b} on the right",
)
_FAKE_FILENAMES = (
    "DSC_{n:04d}.JPG", "IMG_{n:04d}.jpg", "image ({k}).png", "{h}.png", "{h}.jpg",
    "Screenshot_{n:04d}.png", "photo-{n:04d}.jpeg", "unnamed ({k}).png", "download.png",
)  # fmt: skip


def choose_kind(rng: random.Random, has_translation: bool) -> str:
    """A caption kind by the weighted shares (``non-english`` only where a translation exists)."""
    kinds = [k for k in WEIGHTS if has_translation or k != "non-english"]
    return rng.choices(kinds, weights=[WEIGHTS[k] for k in kinds])[0]


def with_article(name: str) -> str:
    if name.startswith(("flag of ", "the ")):
        return f"the {name}" if name.startswith("flag of ") else name
    if name[:1].isdigit() or name.endswith("s") and not name.endswith("ss"):
        return name
    return ("an " if name[:1].lower() in "aeiou" else "a ") + name


def _one(obj: ImageObject, rng: random.Random) -> str:
    template = rng.choice(_TEMPLATES[obj.kind])
    if "{d}" in template and not obj.description:
        template = _TEMPLATES[obj.kind][0]
    return template.format(
        a=with_article(obj.name), n=obj.name, d=obj.description, style=rng.choice(_STYLES)
    )


def descriptive(objs: Sequence[ImageObject], aug: Augment | None, rng: random.Random) -> str:
    """An English sentence naming what the picture shows (and often its background)."""
    if len(objs) == 1:
        text = _one(objs[0], rng)
    else:
        template = rng.choice(_PAIR_TEMPLATES)
        text = template.format(a=with_article(objs[0].name), b=with_article(objs[1].name))
    if aug is not None and rng.random() < 0.6 and not text.endswith("."):
        text = f"{text} {aug.background_phrase}"
    return text[0].upper() + text[1:] if rng.random() < 0.3 else text


def keywords(objs: Sequence[ImageObject], rng: random.Random) -> str:
    words: list[str] = []
    for obj in objs:
        pool = list(dict.fromkeys([obj.name, *obj.keywords]))
        rng.shuffle(pool)
        words.extend(pool[: rng.randint(2, 6)])
    sep = rng.choice([", ", ", ", " ", " | ", "; "])
    text = sep.join(words)
    return " ".join(f"#{w.replace(' ', '')}" for w in words) if rng.random() < 0.1 else text


def filename(objs: Sequence[ImageObject], rng: random.Random) -> str:
    if rng.random() < 0.45:
        return objs[0].filename
    h = f"{rng.getrandbits(32):08x}"
    return rng.choice(_FAKE_FILENAMES).format(n=rng.randint(0, 9999), k=rng.randint(1, 40), h=h)


def non_english(objs: Sequence[ImageObject], rng: random.Random) -> str:
    parts = []
    for obj in objs:
        if obj.translations:
            lang = rng.choice(sorted(obj.translations))
            parts.append(obj.translations[lang])
    return " / ".join(parts)


def make_caption(
    kind: str,
    objs: Sequence[ImageObject],
    aug: Augment,
    rng: random.Random,
    other: ImageObject,
) -> str:
    """The caption of kind ``kind`` for a picture of ``objs``; ``other`` feeds mismatches."""
    if kind == "descriptive":
        return descriptive(objs, aug, rng)
    if kind == "keywords":
        return keywords(objs, rng)
    if kind == "filename":
        return filename(objs, rng)
    if kind == "non-english":
        return non_english(objs, rng)
    if kind == "empty":
        return ""
    if kind == "mismatched":
        return descriptive([other], None, rng)
    raise ValueError(f"unknown caption kind {kind!r}; valid: {sorted(KINDS)}")


# --- tokenizer ---------------------------------------------------------------

PAD, EOS, UNK = "<pad>", "</s>", "<unk>"


def train_caption_tokenizer(texts: Sequence[str], vocab_size: int, out_dir: Path) -> None:
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

    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[PAD, EOS, UNK],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    eos_id = tok.token_to_id(EOS)
    assert tok.token_to_id(PAD) == 0 and eos_id == 1
    tok.post_processor = processors.TemplateProcessing(
        single=f"$A {EOS}", pair=f"$A {EOS} $B {EOS}", special_tokens=[(EOS, eos_id)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token=PAD, eos_token=EOS, unk_token=UNK, model_max_length=77
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
