"""The ``wordnet_define`` eval set: which gloss defines a word (Debian ``wordnet-base``).

The word is a common single-word lemma (high sense-tagged frequency in ``cntlist.rev``,
and present in the held-out prose when any is given); its most frequent sense's gloss is
the answer, and three glosses of other synsets of the same part of speech are the
distractors. Deterministic given ``rng``.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

WORDNET_PACKAGE = ("wordnet-base", "1:3.0-37")
_POS_FILES = {"n": "data.noun", "v": "data.verb", "a": "data.adj"}
_SS_NUMBER = {"n": 1, "v": 2, "a": 3, "s": 5}  # synset type -> sense-key digit
_WORD = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class Synset:
    pos: str  # "n" | "v" | "a" (satellites counted as "a")
    offset: str
    lemmas: frozenset[str]
    gloss: str  # the definition: the gloss up to the first ';' or '"'
    tag_count: int  # sense-tagged frequency of the lemma the item asks about
    lemma: str  # the single-word lemma the item asks about


def wordnet_items(
    wn_dir: Path, vocab: set[str], rng: random.Random, num_items: int = 500
) -> list[dict]:
    """Definition multiple choice over common single-word lemmas (see module docstring)."""
    counts = _tag_counts(wn_dir / "cntlist.rev")
    best: dict[str, Synset] = {}  # lemma -> its most frequent sense over all parts of speech
    by_pos: dict[str, list[Synset]] = defaultdict(list)
    for pos, filename in _POS_FILES.items():
        for synset in _parse_data(wn_dir / filename, pos, counts):
            by_pos[pos].append(synset)
            if vocab and synset.lemma not in vocab:
                continue
            current = best.get(synset.lemma)
            if current is None or (synset.tag_count, synset.offset) > (
                current.tag_count,
                current.offset,
            ):
                best[synset.lemma] = synset
    ranked = sorted(best.values(), key=lambda s: (-s.tag_count, s.lemma))
    ranked = [s for s in ranked if s.tag_count >= 3 and not _mentions(s.gloss, s.lemma)]
    chosen = sorted(
        rng.sample(ranked[: 2 * num_items], min(num_items, len(ranked))), key=lambda s: s.lemma
    )
    distractor_pool = {
        pos: sorted((s for s in best.values() if s.pos == pos), key=lambda s: s.lemma)
        for pos in by_pos
    }
    items = []
    for synset in chosen:
        wrong = _distractors(synset, distractor_pool[synset.pos], rng)
        choices = [*wrong, synset.gloss]
        rng.shuffle(choices)
        items.append(
            {
                "id": f"wordnet-{synset.pos}-{synset.offset}-{synset.lemma}",
                "word": synset.lemma,
                "choices": choices,
                "label": choices.index(synset.gloss),
            }
        )
    return items


def _tag_counts(path: Path) -> dict[tuple[str, int, int, int], int]:
    """cntlist.rev: sense key -> tag count, keyed (lemma, ss_type, lex_filenum, lex_id)."""
    counts: dict[tuple[str, int, int, int], int] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, _sense, count = line.split()
        lemma, rest = key.split("%", 1)
        ss_type, lex_file, lex_id = (int(x) for x in rest.split(":")[:3])
        counts[(lemma, ss_type, lex_file, lex_id)] = int(count)
    return counts


def _parse_data(path: Path, pos: str, counts: dict) -> list[Synset]:
    """One Synset per single-word alphabetic lemma of each synset of a data.* file."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("  ") or " | " not in line:
            continue  # licence header
        fields, gloss = line.split(" | ", 1)
        parts = fields.split()
        offset, lex_file, ss_type, num_words = parts[0], int(parts[1]), parts[2], int(parts[3], 16)
        words = [
            (re.sub(r"\(.*\)$", "", parts[4 + 2 * i]), int(parts[5 + 2 * i], 16))
            for i in range(num_words)
        ]
        definition = re.split(r'[;"]', gloss, maxsplit=1)[0].strip().rstrip(" :,")
        if len(definition.split()) < 2:
            continue
        lemmas = frozenset(w.lower() for w, _ in words)
        for word, lex_id in words:
            if word.isalpha() and word.isascii() and word.islower() and len(word) >= 3:  # no names
                count = counts.get((word, _SS_NUMBER[ss_type], lex_file, lex_id), 0)
                out.append(Synset(pos, offset, lemmas, definition, count, word))
    return out


def _mentions(gloss: str, word: str) -> bool:
    """Whether the gloss contains the word or a simple inflection of it."""
    stem = word[:-1] if word.endswith("e") and len(word) > 4 else word
    return (
        re.search(
            rf"\b(?:{re.escape(word)}|{re.escape(stem)}(?:s|es|ed|d|ing|er|ers|ly))\b", gloss, re.I
        )
        is not None
    )


def _distractors(target: Synset, pool: list[Synset], rng: random.Random) -> list[str]:
    picked: list[str] = []
    for _ in range(10_000):
        if len(picked) == 3:
            return picked
        other = pool[rng.randrange(len(pool))]
        if (
            other.offset != target.offset
            and target.lemma not in other.lemmas
            and other.gloss != target.gloss
            and other.gloss not in picked
            and not _mentions(other.gloss, target.lemma)
        ):
            picked.append(other.gloss)
    raise AssertionError(
        f"no three distractor glosses for {target.lemma!r}"
    )  # pools hold thousands
