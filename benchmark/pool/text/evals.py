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
  held-out prose, built by :mod:`benchmark.pool.text.prose` (see its docstring).

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
from pathlib import Path

from benchmark.fetch.packages import Fetched, fetch_apt
from benchmark.io import atomic_path, write_json
from benchmark.pool.format import EVAL_DATA_FILE
from benchmark.pool.text import prose
from benchmark.pool.text.wordnet import WORDNET_PACKAGE, wordnet_items

log = logging.getLogger(__name__)

EVAL_DATA_VERSION = "2"
_WORD = re.compile(r"[A-Za-z]+")


def build_text_evals(
    out_dir: Path, heldout_prose: list[str], cache_dir: Path, seed: int = 0
) -> tuple[dict[str, int], list[Fetched]]:
    """Write the eval files; return (items per file name, fetched packages)."""
    passages = sorted(p for p in heldout_prose if p.strip())
    wordnet = fetch_apt(*WORDNET_PACKAGE, cache_dir)
    vocab = {w.lower() for p in passages for w in _WORD.findall(p)}
    wn_dir = wordnet.root / "usr/share/wordnet"
    files = {
        "wordnet_define.jsonl": wordnet_items(wn_dir, vocab, random.Random(seed)),
        "cloze.jsonl": prose.cloze_items(passages, random.Random(seed + 1)),
        "heldout_text.jsonl": prose.heldout_items(passages, random.Random(seed + 2)),
        "word_order.jsonl": prose.word_order_items(passages, random.Random(seed + 3)),
        "agreement.jsonl": prose.agreement_items(passages, random.Random(seed + 4)),
        "prepositions.jsonl": prose.closed_class_items(
            passages, random.Random(seed + 5), prose.PREPOSITIONS, "preposition"
        ),
        "pronouns.jsonl": prose.closed_class_items(
            passages, random.Random(seed + 6), prose.PRONOUNS, "pronoun"
        ),
        "determiners.jsonl": prose.closed_class_items(
            passages, random.Random(seed + 7), prose.DETERMINERS, "determiner"
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
