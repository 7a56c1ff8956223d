"""Web-like captions for the image pool (their tokenizers are in :mod:`benchmark.pool.tokenizer`).

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

from benchmark.pool.image.render import Augment
from benchmark.pool.image.sources import ImageObject

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
