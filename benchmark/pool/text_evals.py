"""Build the data files of the embedded LM eval suite from real material outside the pool.

Three JSONL files (UTF-8, one object a line) are written into ``out_dir``:

- ``wordnet_define.jsonl``: which gloss defines a word? ``{"id", "word", "choices"
  (4 WordNet glosses), "label"}``; the word is a common single-word lemma of Debian
  ``wordnet-base`` (high sense-tagged frequency in ``cntlist.rev``, and present in the
  held-out prose when any is given), its most frequent sense's gloss is the answer,
  and three glosses of other synsets of the same part of speech are the distractors.
- ``cloze.jsonl``: LAMBADA-style last word: ``{"id", "context", "choices", "label"}``.
  The context (40-120 words of held-out prose, no trailing space) stops just before
  a target word (alphabetic, >= 4 letters) that already occurs in the context; the
  three distractors are other such words of the same context. Score a choice as the
  continuation ``" " + choice``.
- ``heldout_text.jsonl``: ``{"id", "text"}``, held-out passages cut to at most 200
  words, for bits per byte.

- ``word_order.jsonl``, ``agreement.jsonl``, ``prepositions.jsonl``, ``pronouns.jsonl``
  and ``determiners.jsonl``: ``{"id", "context", "choices", "label"}`` on the same
  held-out prose, built by :mod:`benchmark.pool.text_evals_extra` (see its docstring).

Everything is deterministic given ``seed`` and the inputs (the passages are sorted
first). The same held-out passages feed every file but ``wordnet_define``.

The version record (:data:`benchmark.pool.format.EVAL_DATA_FILE`) holds
``EVAL_DATA_VERSION`` and the item counts; a suite that needs a given version of the
data names it (``eval_data_version``), so a pool built by an older release fails with
a clear error instead of scoring a different item set. Version 2 has
about 4x the items of version 1 (cloze 2000, the other prose tasks 1200 each, 800
held-out passages): at ``small`` most of the seed-to-seed spread of the v3 headline was
items flipping between seeds, which shrinks with the item count. Each builder takes
items in a fixed shuffled order, so version 1's items are the first of version 2's.

    counts, sources = build_text_evals(out_dir, heldout_prose, cache_dir)
    # counts: {"wordnet_define.jsonl": 500, ...}; sources: [Fetched] for the manifest
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from benchmark.io import atomic_path, write_json
from benchmark.pool.fetch import Fetched, fetch_apt
from benchmark.pool.format import EVAL_DATA_FILE

log = logging.getLogger(__name__)

WORDNET_PACKAGE = ("wordnet-base", "1:3.0-37")
EVAL_DATA_VERSION = "2"
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


def build_text_evals(
    out_dir: Path, heldout_prose: list[str], cache_dir: Path, seed: int = 0
) -> tuple[dict[str, int], list[Fetched]]:
    """Write the eval files; return (items per file name, fetched packages)."""
    from benchmark.pool import text_evals_extra as extra

    passages = sorted(p for p in heldout_prose if p.strip())
    wordnet = fetch_apt(*WORDNET_PACKAGE, cache_dir)
    vocab = {w.lower() for p in passages for w in _WORD.findall(p)}
    wn_dir = wordnet.root / "usr/share/wordnet"
    files = {
        "wordnet_define.jsonl": wordnet_items(wn_dir, vocab, random.Random(seed)),
        "cloze.jsonl": cloze_items(passages, random.Random(seed + 1)),
        "heldout_text.jsonl": heldout_items(passages, random.Random(seed + 2)),
        "word_order.jsonl": extra.word_order_items(passages, random.Random(seed + 3)),
        "agreement.jsonl": extra.agreement_items(passages, random.Random(seed + 4)),
        "prepositions.jsonl": extra.closed_class_items(
            passages, random.Random(seed + 5), extra.PREPOSITIONS, "preposition"
        ),
        "pronouns.jsonl": extra.closed_class_items(
            passages, random.Random(seed + 6), extra.PRONOUNS, "pronoun"
        ),
        "determiners.jsonl": extra.closed_class_items(
            passages, random.Random(seed + 7), extra.DETERMINERS, "determiner"
        ),
    }
    for name, items in files.items():
        write_jsonl(Path(out_dir) / name, items)
        log.info("wrote %d items to %s", len(items), name)
    counts = {name: len(items) for name, items in files.items()}
    write_json(Path(out_dir) / EVAL_DATA_FILE, {"version": EVAL_DATA_VERSION, "items": counts})
    return counts, [wordnet]


def write_jsonl(path: Path, items: list[dict]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(
            "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items), encoding="utf-8"
        )


# --- WordNet definitions -----------------------------------------------------


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


# --- cloze and held-out text ---------------------------------------------------

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
