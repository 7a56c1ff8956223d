"""More eval builders for the embedded LM suite, on held-out prose (never part of the pool).

Called by :func:`benchmark.pool.text_evals.build_text_evals`; each builder returns a list
of JSON-ready items ``{"id", "context", "choices", "label"}`` (score a choice as the
continuation ``" " + choice``), deterministic given its ``rng`` and the passages, at most
one item per passage. The context is up to 40 words of a passage.

- ``word_order_items``: the passage's own next 12 words against the same words with two
  adjacent ones swapped (BLiMP-style, 2 choices).
- ``agreement_items``: the passage's own verb (is/are, was/were, has/have) against the
  other number's form (2 choices).
- ``closed_class_items``: the passage's own next word, a preposition (``PREPOSITIONS``),
  a pronoun (``PRONOUNS``) or a determiner (``DETERMINERS``), against three other
  members of the class (4 choices; short words of a closed class).
"""

from __future__ import annotations

import random
import re


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
