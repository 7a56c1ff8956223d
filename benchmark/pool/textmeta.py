"""Cheap per-document metadata for text pools: chunking, word counts, a language guess.

These are what a selection method may use without reading the text itself; the pool
never filters on them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)

# Frequent function words per language: a guess from their share of a text's words.
_STOPWORDS = {
    "en": "the of and to in is that it was for on are with as be by this have from or not",
    "de": "der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als",
    "fr": "de la le et les des en un une du est que pour dans qui par sur pas au plus avec",
    "es": "de la que el en y los del se las por un para con no una su al es lo como",
    "it": "di che il la per un non una in sono del della le si con da gli dei è alla",
    "nl": "de het een van en in is dat op te zijn met voor niet aan er ook als",
    "pt": "de que não da em um para com uma os no se na por mais as dos como mas",
}
_STOP_SETS = {lang: set(words.split()) for lang, words in _STOPWORDS.items()}


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def guess_language(text: str) -> str:
    """ISO 639-1 code of the most likely language, or ``"und"`` (undetermined)."""
    toks = [w.lower() for w in words(text)[:400]]
    if len(toks) < 5:
        return "und"
    scores = {lang: sum(t in stops for t in toks) / len(toks) for lang, stops in _STOP_SETS.items()}
    lang, best = max(scores.items(), key=lambda kv: kv[1])
    return lang if best >= 0.08 else "und"


def chunk_text(text: str, max_words: int) -> Iterator[str]:
    """Cut a document into pieces of at most ``max_words`` whitespace words.

    Paragraphs (blank-line separated) are packed whole where they fit; a longer
    paragraph is cut at word boundaries.
    """
    buf: list[str] = []
    size = 0
    for para in re.split(r"\n\s*\n", text):
        para = para.strip()
        if not para:
            continue
        n = len(para.split())
        if n > max_words:
            if buf:
                yield "\n\n".join(buf)
                buf, size = [], 0
            toks = para.split()
            for i in range(0, len(toks), max_words):
                yield " ".join(toks[i : i + max_words])
            continue
        if size + n > max_words and buf:
            yield "\n\n".join(buf)
            buf, size = [], 0
        buf.append(para)
        size += n
    if buf:
        yield "\n\n".join(buf)


def ngrams(text: str, n: int) -> set[int]:
    """Hashes of the lower-cased word ``n``-grams of ``text`` (for contamination checks)."""
    toks = [w.lower() for w in words(text)]
    return {hash(tuple(toks[i : i + n])) for i in range(len(toks) - n + 1)}


def overlapping(eval_texts: list[str], pool_texts, n: int = 13) -> list[bool]:
    """For each of ``eval_texts``: does it share a word ``n``-gram with any of ``pool_texts``?"""
    grams = [ngrams(t, n) for t in eval_texts]
    wanted = set().union(*grams) if grams else set()
    seen: set[int] = set()
    for text in pool_texts:
        seen |= ngrams(text, n) & wanted
    return [bool(g & seen) for g in grams]
