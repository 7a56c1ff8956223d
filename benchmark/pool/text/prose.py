"""The embedded LM suite's eval sets built on held-out prose (never part of the pool).

Called by :func:`benchmark.pool.text.evals.build_text_evals`; each builder returns a list
of JSON-ready items, deterministic given its ``rng`` and the passages.

- ``cloze_items``: LAMBADA-style last word, ``{"id", "context", "choices", "label"}``;
  the context (40-120 words) stops just before a target word (alphabetic, >= 4 letters)
  that already occurs in it; three other such words of the context are the distractors.
- ``heldout_items``: ``{"id", "text"}``, passages cut to at most 200 words (bits per byte).
- ``word_order_items``: the passage's own next 12 words against the same words with two
  adjacent ones swapped (BLiMP-style, 2 choices).
- ``agreement_items``: the passage's own verb (is/are, was/were, has/have) against the
  other number's form (2 choices).
- ``closed_class_items``: the passage's own next word, a preposition (``PREPOSITIONS``),
  a pronoun (``PRONOUNS``) or a determiner (``DETERMINERS``), against three other
  members of the class (4 choices; short words of a closed class).

Score a choice as the continuation ``" " + choice``. The last three take at most one item
per passage, with a context of up to 40 words.
"""

from __future__ import annotations

import random
import re

_CLOZE_WORD = re.compile(r"[A-Za-z]{4,}")
# Never a cloze target or distractor: LAMBADA's targets are content words.
_FUNCTION_WORDS = frozenset(
    """
    that which have with been will this from their they there these those were would
    should could them than then what when where while upon into such more most only also
    some each other very must shall being about under over your ours here does made make
    much many
    """.split()  # noqa: SIM905
)


def cloze_items(
    passages: list[str], rng: random.Random, num_items: int = 2000, per_passage: int = 4
) -> list[dict]:
    """LAMBADA-style items, taken round-robin over passages (at most ``per_passage`` each)."""
    candidates = [_passage_cloze(p, rng, per_passage) for p in passages]
    items: list[dict] = []
    for round_ in range(per_passage):
        for number, found in enumerate(candidates):
            if round_ < len(found) and len(items) < num_items:
                items.append({"id": f"cloze-{number}-{round_}", **found[round_]})
    return items


def _passage_cloze(passage: str, rng: random.Random, limit: int) -> list[dict]:
    tokens = list(re.finditer(r"\S+", passage))
    positions = list(range(40, len(tokens)))
    rng.shuffle(positions)
    found: list[dict] = []
    used: list[tuple[int, int]] = []
    for i in positions:
        if len(found) >= limit:
            break
        match = re.fullmatch(r"([A-Za-z]{4,})[^A-Za-z0-9]*", tokens[i].group())
        start = i - rng.randint(40, min(120, i))
        if (
            match is None
            or match.group(1).lower() in _FUNCTION_WORDS
            or any(a <= i and start <= b for a, b in used)
        ):
            continue
        target = match.group(1)
        context = passage[tokens[start].start() : tokens[i - 1].end()]
        earlier: dict[str, str] = {}  # lower case -> first spelling in the context
        for word in _CLOZE_WORD.findall(context):
            earlier.setdefault(word.lower(), word)
        others = sorted(
            w for low, w in earlier.items() if low != target.lower() and low not in _FUNCTION_WORDS
        )
        if target not in _CLOZE_WORD.findall(context) or len(others) < 3:
            continue
        choices = [*rng.sample(others, 3), target]
        rng.shuffle(choices)
        found.append({"context": context, "choices": choices, "label": choices.index(target)})
        used.append((start, i))
    return found


def heldout_items(
    passages: list[str], rng: random.Random, num_items: int = 800, max_words: int = 200
) -> list[dict]:
    """Up to ``num_items`` passages, each cut after its ``max_words``-th word."""
    order = list(range(len(passages)))
    rng.shuffle(order)
    items = []
    for number in sorted(order[:num_items]):
        tokens = list(re.finditer(r"\S+", passages[number]))
        if tokens:
            text = passages[number][: tokens[min(max_words, len(tokens)) - 1].end()].strip()
            items.append({"id": f"heldout-{number}", "text": text})
    return items


def _spans(passage: str) -> list[re.Match]:
    return list(re.finditer(r"\S+", passage))


def word_order_items(passages: list[str], rng: random.Random, num_items: int = 1200) -> list[dict]:
    """The passage's next 12 words against the same words with two adjacent ones swapped."""
    items = []
    order = list(range(len(passages)))
    rng.shuffle(order)
    for number in order:
        tokens = _spans(passages[number])
        if len(tokens) < 60 or len(items) >= num_items:
            continue
        start = rng.randrange(20, len(tokens) - 12)
        words = [t.group() for t in tokens[start : start + 12]]
        spots = [
            i
            for i in range(1, 11)
            if words[i].isalpha()
            and words[i + 1].isalpha()
            and words[i].lower() != words[i + 1].lower()
        ]
        if not spots:
            continue
        i = rng.choice(spots)
        swapped = [*words[:i], words[i + 1], words[i], *words[i + 2 :]]
        context = passages[number][tokens[max(0, start - 40)].start() : tokens[start - 1].end()]
        choices = [" ".join(words), " ".join(swapped)]
        rng.shuffle(choices)
        items.append(
            {
                "id": f"word-order-{number}",
                "context": context,
                "choices": choices,
                "label": choices.index(" ".join(words)),
            }
        )
    return sorted(items, key=lambda x: int(x["id"].rsplit("-", 1)[1]))


_AGREEMENT = {"is": "are", "are": "is", "was": "were", "were": "was", "has": "have", "have": "has"}


def agreement_items(passages: list[str], rng: random.Random, num_items: int = 1200) -> list[dict]:
    """Subject-verb agreement: after up to 40 words of a passage, its own verb
    (is/are, was/were, has/have) against the other number's form (BLiMP-style)."""
    items = []
    order = list(range(len(passages)))
    rng.shuffle(order)
    for number in order:
        tokens = _spans(passages[number])
        spots = [i for i in range(10, len(tokens)) if tokens[i].group() in _AGREEMENT]
        if not spots or len(items) >= num_items:
            continue
        i = rng.choice(spots)
        verb = tokens[i].group()
        context = passages[number][tokens[max(0, i - 40)].start() : tokens[i - 1].end()]
        choices = [verb, _AGREEMENT[verb]]
        rng.shuffle(choices)
        items.append(
            {
                "id": f"agreement-{number}",
                "context": context,
                "choices": choices,
                "label": choices.index(verb),
            }
        )
    return sorted(items, key=lambda x: int(x["id"].rsplit("-", 1)[1]))


PREPOSITIONS = ("in", "on", "at", "of", "to", "for", "with", "by", "from")
PRONOUNS = ("he", "she", "it", "they", "we", "you", "I")
DETERMINERS = ("the", "a", "this", "that", "his", "her", "their", "its", "my", "our")


def closed_class_items(
    passages: list[str], rng: random.Random, words: tuple[str, ...], prefix: str, num_items=1200
) -> list[dict]:
    """After up to 40 words of a passage, its own next word (one of ``words``, e.g. a
    preposition) against three other members of the class, one item per passage."""
    items = []
    order = list(range(len(passages)))
    rng.shuffle(order)
    for number in order:
        tokens = _spans(passages[number])
        spots = [i for i in range(10, len(tokens)) if tokens[i].group() in words]
        if not spots or len(items) >= num_items:
            continue
        i = rng.choice(spots)
        gold = tokens[i].group()
        context = passages[number][tokens[max(0, i - 40)].start() : tokens[i - 1].end()]
        choices = [*rng.sample([w for w in words if w != gold], 3), gold]
        rng.shuffle(choices)
        items.append(
            {
                "id": f"{prefix}-{number}",
                "context": context,
                "choices": choices,
                "label": choices.index(gold),
            }
        )
    return sorted(items, key=lambda x: int(x["id"].rsplit("-", 1)[1]))
