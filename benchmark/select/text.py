"""Selection methods for text pools, after the filters DCLM and its predecessors used.

- ``exact-dedup``: one item per normalised text (lower case, whitespace collapsed).
- ``minhash-dedup``: near-duplicates by MinHash LSH over word 5-grams (datasketch), as
  in DCLM's and Gopher's fuzzy dedup; the first item of each near-duplicate group stays.
- ``gopher``: Gopher's quality rules and repetition rules (Rae et al. 2021, App. A).
- ``c4``: C4's rules (Raffel et al. 2020). C4 edits pages line by line; a selection
  cannot edit, so it keeps the items C4 would mostly keep (see ``select_c4``).
- ``langid``: language identification with Google's CLD2 (pycld2).
- ``fasttext``: DCLM's quality classifier: fastText bigram model, positives from a
  reference set (``benchmark.select.reference``), negatives random pool items; keeps the
  top ``fraction`` by its score.

Each method is a pass over the items, shard by shard (:mod:`benchmark.select.scan`: a
hash, a rule's verdict or a score per item, on this machine or a Ray cluster), then a
step over those values in row order that breaks ties by row, so the same options and seed
give the same subset on either engine.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.errors import BenchError
from benchmark.io import sha256_file
from benchmark.pool.store import Pool
from benchmark.select.registry import register
from benchmark.select.scan import scan, shared_dir

log = logging.getLogger(__name__)

_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+", re.UNICODE)


def normalise(text: str) -> str:
    return _SPACE.sub(" ", text.lower()).strip()


# --- deduplication --------------------------------------------------------------------


def _exact_keys(cols: dict, start: int) -> np.ndarray:
    """A 128-bit hash of each normalised text, ``(n, 2)`` uint64."""
    digests = [
        hashlib.blake2b(normalise(t).encode(), digest_size=16).digest() for t in cols["text"]
    ]
    return np.frombuffer(b"".join(digests), dtype=np.uint64).reshape(-1, 2)


def first_of_each(keys: np.ndarray) -> np.ndarray:
    """Rows of the first occurrence of each distinct key (row of ``keys``), in row order."""
    _, first = np.unique(keys, axis=0 if keys.ndim > 1 else None, return_index=True)
    return np.sort(first).astype(np.int64)


@register("exact-dedup", track="lm")
def select_exact_dedup(pool: Pool) -> np.ndarray:
    """One item per distinct normalised text (lower case, whitespace collapsed); the
    first in pool order stays."""
    return first_of_each(scan(pool, _exact_keys, ["text"], "exact-dedup"))


def shingles(text: str, n: int) -> set[bytes]:
    """The set of word ``n``-grams of the normalised text (the whole text if shorter)."""
    words = _WORD.findall(text.lower())
    if len(words) <= n:
        return {" ".join(words).encode()}
    return {" ".join(words[i : i + n]).encode() for i in range(len(words) - n + 1)}


def _band_keys(
    cols: dict, start: int, threshold: float, num_perm: int, ngram: int, seed: int
) -> np.ndarray:
    """Each text's LSH band keys, ``(n, bands, 16)`` uint8: a 128-bit hash of each band
    of its MinHash signature, with datasketch's banding for ``threshold``."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    # One permutation set for all signatures: MinHash(seed=...) draws it once per object.
    template = MinHash(num_perm=num_perm, seed=seed)
    out = bytearray()
    for text in cols["text"]:
        m = MinHash(
            num_perm=num_perm, seed=seed, permutations=template.permutations,
            scheme=template.scheme,
        )  # fmt: skip
        m.update_batch(shingles(text, ngram))
        for lo, hi in lsh.hashranges:
            out += hashlib.blake2b(lsh._H(m.hashvalues[lo:hi]), digest_size=16).digest()
    return np.frombuffer(bytes(out), dtype=np.uint8).reshape(len(cols["text"]), lsh.b, 16)


def first_unmatched(keys: np.ndarray) -> np.ndarray:
    """Rows, in order, none of whose band keys an earlier kept row holds (LSH query, then
    insert: datasketch's ``MinHashLSH`` walk, on the keys alone)."""
    tables: list[set[bytes]] = [set() for _ in range(keys.shape[1])]
    keep = []
    for row in range(len(keys)):
        bands = [keys[row, j].tobytes() for j in range(keys.shape[1])]
        if any(k in t for k, t in zip(bands, tables, strict=True)):
            continue
        for k, t in zip(bands, tables, strict=True):
            t.add(k)
        keep.append(row)
    return np.asarray(keep, dtype=np.int64)


@register("minhash-dedup", track="lm")
def select_minhash_dedup(
    pool: Pool, *, threshold: float = 0.8, num_perm: int = 128, ngram: int = 5, seed: int = 0
) -> np.ndarray:
    """Near-duplicate removal: MinHash signatures of word ``ngram``-grams, LSH at Jaccard
    ``threshold``; an item is dropped when an earlier kept item is a candidate
    near-duplicate. ``seed`` seeds the hash permutations."""
    if not 0 < threshold <= 1:
        raise BenchError(f"minhash-dedup: threshold must be in (0, 1], got {threshold}")
    if num_perm < 2 or ngram < 1:
        raise BenchError(
            f"minhash-dedup: num_perm must be at least 2 and ngram at least 1, got "
            f"num_perm={num_perm}, ngram={ngram}"
        )
    args = (threshold, num_perm, ngram, seed)
    return first_unmatched(scan(pool, _band_keys, ["text"], "minhash", *args))


# --- heuristic quality rules ----------------------------------------------------------

STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
BULLETS = ("●", "•", "*", "-", "–", "—", "‣", "◦")


def gopher_quality_reason(text: str, min_words: int = 50) -> str | None:
    """Why Gopher's quality filter drops ``text`` (None: it passes)."""
    words = text.split()
    n = len(words)
    if n < min_words or n > 100_000:
        return "word count"
    mean_len = sum(len(w) for w in words) / n
    if not 3 <= mean_len <= 10:
        return "mean word length"
    if (text.count("#") + text.count("...") + text.count("…")) / n > 0.1:
        return "symbol-to-word ratio"
    lines = [line for line in text.split("\n") if line.strip()]
    if lines:
        if sum(line.lstrip().startswith(BULLETS) for line in lines) / len(lines) > 0.9:
            return "bullet lines"
        if sum(line.rstrip().endswith(("...", "…")) for line in lines) / len(lines) > 0.3:
            return "ellipsis lines"
    if sum(any(c.isalpha() for c in w) for w in words) / n < 0.8:
        return "alphabetic words"
    lowered = {w.lower().strip(".,;:!?\"'()") for w in words}
    if sum(s in lowered for s in STOP_WORDS) < 2:
        return "stop words"
    return None


# (n, most frequent n-gram's max share of characters) and (n, duplicated n-grams' max
# share of characters), Gopher Table A1.
TOP_NGRAM = ((2, 0.20), (3, 0.18), (4, 0.16))
DUP_NGRAM = ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))


def gopher_repetition_reason(text: str) -> str | None:
    """Why Gopher's repetition filter drops ``text`` (None: it passes)."""
    lines = [line for line in text.split("\n") if line.strip()]
    paragraphs = [p for p in re.split(r"\n{2,}", text) if p.strip()]
    chars = max(len(text), 1)
    for name, parts in (("line", lines), ("paragraph", paragraphs)):
        if not parts:
            continue
        counts = Counter(parts)
        dup = [p for p in parts if counts[p] > 1]
        if len(dup) / len(parts) > 0.30:
            return f"duplicate {name}s"
        if sum(len(p) for p in dup) / chars > 0.20:
            return f"duplicate {name} characters"
    words = text.split()
    word_chars = max(sum(len(w) for w in words), 1)
    for n, limit in TOP_NGRAM:
        grams = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
        if grams:
            gram, count = grams.most_common(1)[0]
            if count > 1 and count * sum(len(w) for w in gram) / word_chars > limit:
                return f"top {n}-gram"
    for n, limit in DUP_NGRAM:
        seen: dict[tuple[str, ...], int] = {}
        covered = np.zeros(len(words), dtype=bool)
        for i in range(len(words) - n + 1):
            gram = tuple(words[i : i + n])
            if gram in seen:
                covered[i : i + n] = True
                j = seen[gram]
                covered[j : j + n] = True
            else:
                seen[gram] = i
        lengths = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
        if lengths[covered].sum() / word_chars > limit:
            return f"duplicate {n}-grams"
    return None


def _reasons(cols: dict, start: int, rule, *args) -> np.ndarray:
    """Why ``rule`` drops each text ("" where it keeps it), an object array."""
    return np.array([rule(t, *args) or "" for t in cols["text"]], dtype=object)


def keep_by_rule(pool: Pool, rule, args: tuple, what: str) -> np.ndarray:
    """Rows ``rule(text, *args)`` keeps (returns None for); logs why the others went."""
    reasons = scan(pool, _reasons, ["text"], what, rule, *args)
    keep = np.flatnonzero(reasons == "").astype(np.int64)
    dropped = Counter(reasons[reasons != ""].tolist())
    log.info("%s dropped %d items: %s", what, sum(dropped.values()), dict(dropped.most_common()))
    return keep


@register("gopher", track="lm")
def select_gopher(pool: Pool, *, min_words: int = 50, repetition: bool = True) -> np.ndarray:
    """Gopher's quality rules (word count, mean word length, symbols, bullets, ellipses,
    alphabetic words, stop words) and, with ``repetition``, its repetition rules
    (duplicate lines and paragraphs, top n-grams, duplicated n-grams)."""

    return keep_by_rule(pool, gopher_reason, (min_words, repetition), "gopher")


def gopher_reason(text: str, min_words: int, repetition: bool) -> str | None:
    """Why Gopher's quality (and, with ``repetition``, repetition) rules drop ``text``."""
    reason = gopher_quality_reason(text, min_words)
    if reason is None and repetition:
        reason = gopher_repetition_reason(text)
    return reason


_TERMINAL = (".", "!", "?", '"', "'", "”", "’")
_BAD_PAGE = ("lorem ipsum", "{")


def c4_reason(text: str, min_kept: float = 0.5, min_sentences: int = 3) -> str | None:
    """Why ``text`` fails C4: a page with "lorem ipsum" or a curly bracket is dropped
    whole; otherwise C4 keeps the lines that end in terminal punctuation, have at least
    5 words and do not mention JavaScript, and drops pages left with fewer than 3
    sentences. Here an item passes if that cleaning would keep at least ``min_kept`` of
    its characters and ``min_sentences`` sentences. A "line" is a paragraph with its
    hard wraps joined."""
    lowered = text.lower()
    # A pool item is a chunk of a document, cut mid-sentence: the fragment after its last
    # sentence end is the chunking's, not the page's, and is not counted.
    ends = [m.end() for m in re.finditer(r"[.!?][\"'”’]?(?=\s|$)", text)]
    text = text[: ends[-1]] if ends else text
    for bad in _BAD_PAGE:
        if bad in lowered:
            return f"contains {bad!r}"
    # Web pages' lines are paragraphs; the pool's prose is hard-wrapped, so C4's "line"
    # is a paragraph here: its lines joined.
    paragraphs = (" ".join(p.split()) for p in re.split(r"\n\s*\n", text))
    kept = [
        line
        for line in paragraphs
        if line.endswith(_TERMINAL) and len(line.split()) >= 5 and "javascript" not in line.lower()
    ]
    if sum(len(line) for line in kept) < min_kept * len(text.strip()):
        return "lines C4 would remove"
    if len(re.findall(r"[.!?][\"'”’]?(\s|$)", " ".join(kept))) < min_sentences:
        return "too few sentences"
    return None


@register("c4", track="lm")
def select_c4(pool: Pool, *, min_kept: float = 0.5, min_sentences: int = 3) -> np.ndarray:
    """C4's rules as a selection: drop items with "lorem ipsum" or "{", and items of which
    C4's line cleaning (terminal punctuation, >= 5 words, no "javascript") would remove
    more than ``1 - min_kept`` of the characters or leave < ``min_sentences`` sentences."""
    return keep_by_rule(pool, c4_reason, (min_kept, min_sentences), "c4")


# --- language ID ----------------------------------------------------------------------


_CLD2_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def detect_language(text: str) -> tuple[str, int]:
    """(ISO code, percent of the text in it) of the text's main language by Google's CLD2
    (pycld2); ``("un", 0)`` when it finds none."""
    import pycld2

    try:
        _, _, details = pycld2.detect(_CLD2_BAD.sub(" ", text), bestEffort=True)
    except pycld2.error:  # CLD2 refuses some byte sequences; treat as unknown
        return "un", 0
    return details[0][1], int(details[0][2])


def _languages(cols: dict, start: int) -> np.ndarray:
    """Each text's main language by CLD2 and the percent of the text in it."""
    found = [detect_language(t) if t.strip() else ("un", 0) for t in cols["text"]]
    return np.array(found, dtype=[("lang", "U16"), ("percent", "i2")])


@register("langid", track="lm")
def select_langid(
    pool: Pool, *, languages: tuple[str, ...] = ("en",), min_percent: int = 65
) -> np.ndarray:
    """Items whose main language by CLD2 (Google's compact language detector, as mC4's
    pipeline used CLD3) is one of ``languages`` and covers >= ``min_percent`` % of the text
    (DCLM kept a fastText-LID English score >= 0.65)."""
    found = scan(pool, _languages, ["text"], "langid")
    log.info("langid: languages found %s", dict(Counter(found["lang"].tolist()).most_common(8)))
    wanted = np.isin(found["lang"], list(_as_tuple(languages)))
    return np.flatnonzero(wanted & (found["percent"] >= min_percent)).astype(np.int64)


def _as_tuple(value) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v for v in value.split(",") if v)
    return tuple(value)


# --- fastText quality classifier ------------------------------------------------------


def _fasttext_line(text: str) -> str:
    return normalise(text)


def train_quality_classifier(positives: list[str], negatives: list[str], seed: int, workdir):
    """A fastText bigram classifier (DCLM's setup: word bigrams, softmax), one thread so
    that it is deterministic."""
    import fasttext

    rng = np.random.default_rng(seed)
    lines = [f"__label__hq {_fasttext_line(t)}" for t in positives]
    lines += [f"__label__cc {_fasttext_line(t)}" for t in negatives]
    order = rng.permutation(len(lines))
    path = Path(workdir) / "train.txt"
    path.write_text("\n".join(lines[i] for i in order) + "\n", encoding="utf-8")
    return fasttext.train_supervised(
        input=str(path), wordNgrams=2, epoch=5, lr=0.1, dim=100, minCount=1,
        thread=1, seed=seed, verbose=0,
    )  # fmt: skip


def quality_scores(model, values: list[str], batch: int = 4096) -> np.ndarray:
    """P(high quality) of each text under ``model``."""
    scores = np.empty(len(values), dtype=np.float64)
    for start in range(0, len(values), batch):
        chunk = [_fasttext_line(t) for t in values[start : start + batch]]
        labels, probs = model.predict(chunk, k=2)
        for i, (names, p) in enumerate(zip(labels, probs, strict=True)):
            scores[start + i] = dict(zip(names, p, strict=True)).get("__label__hq", 0.0)
    return scores


_MODELS: dict[str, Any] = {}  # per process: the classifier of a scan, loaded once


def _fasttext_scores(cols: dict, start: int, model_path: str, digest: str) -> np.ndarray:
    """P(high quality) of each text under the classifier at ``model_path`` (whose sha256
    is ``digest``: part of the task, so that kept scores belong to this model)."""
    import fasttext

    if digest not in _MODELS:
        _MODELS.clear()
        _MODELS[digest] = fasttext.load_model(model_path)
    return quality_scores(_MODELS[digest], cols["text"])


def _take(cols: dict, start: int, rows: np.ndarray) -> np.ndarray:
    """The texts of the pool ``rows`` (sorted) that fall in this shard."""
    values = cols["text"]
    mine = rows[(rows >= start) & (rows < start + len(values))] - start
    return np.array([values[i] for i in mine], dtype=object)


def top_fraction(scores: np.ndarray, fraction: float) -> np.ndarray:
    """Rows of the ``fraction`` highest scores, ties broken by row (stable)."""
    num = max(1, round(len(scores) * fraction))
    return np.sort(np.argsort(-scores, kind="stable")[:num])


@register("fasttext", track="lm")
def select_fasttext(
    pool: Pool, *, fraction: float = 0.1, seed: int = 0, positives: str = ""
) -> np.ndarray:
    """DCLM's fastText quality filter: train a bigram classifier on a reference set
    (``positives``: a .txt/.jsonl file of your own, else the built-in reference set of
    ``benchmark.select.reference``) against as many random pool items, score every item
    and keep the top ``fraction``."""
    from benchmark.select.reference import load_positives

    pos = load_positives(Path(positives) if positives else None)
    if len(pos) >= pool.num_items:
        raise BenchError(
            f"{len(pos)} positives for a pool of {pool.num_items}: use fewer positives"
        )
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(pool.num_items, size=len(pos), replace=False))
    neg = scan(pool, _take, ["text"], "fasttext sample", sample).tolist()
    with tempfile.TemporaryDirectory(prefix="bench-fasttext-") as workdir:
        model = train_quality_classifier(pos, neg, seed, workdir)
    with shared_dir() as folder:  # the model (hundreds of MB) goes to the tasks as a path
        path = folder / f"fasttext-{seed}.bin"
        model.save_model(str(path))
        del model
        scores = scan(
            pool, _fasttext_scores, ["text"], "fasttext score", str(path), sha256_file(path)
        )
    log.info(
        "fasttext: %d positives; pool score quartiles %s",
        len(pos),
        np.round(np.quantile(scores, [0.25, 0.5, 0.75]), 3).tolist(),
    )
    return top_fraction(scores, fraction)
