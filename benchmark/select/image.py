"""Selection methods for image-text pools, after DataComp's baselines.

- ``caption-filter``: DataComp's basic filtering on the caption: English (CLD2), more
  than two words and more than five characters, and not a bare file name.
- ``image-dedup``: one pair per image hash: the pool's 64-bit difference hash (near
  duplicates: the same picture re-rendered) or its sha256 (exact copies).
- ``text-filter``: DataComp's text-based filtering: keep captions that name a concept.
  DataComp matched ImageNet-21k class names, which are WordNet noun synsets; here the
  concepts are all WordNet nouns under *physical entity* (things one can picture).
- ``clip-score``: DataComp's CLIP score filter: cosine similarity of image and caption
  under a CLIP, keep the top ``fraction``. The scorer is the harness's own CLIP trained on
  the whole pool at ``xs`` (``bench train --track clip --scale xs``): a bootstrap, since
  no pretrained CLIP may be downloaded; DataComp used OpenAI's ViT-L/14.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from pathlib import Path

import numpy as np
import torch

from benchmark.errors import BenchError
from benchmark.fetch.packages import fetch_apt
from benchmark.io import sha256_file
from benchmark.paths import download_cache
from benchmark.pool.format import image_sizes
from benchmark.pool.store import Pool
from benchmark.select.registry import register
from benchmark.select.scan import scan, shared_dir
from benchmark.select.text import (
    detect_language,
    first_of_each,
    keep_by_rule,
    top_fraction,
)

log = logging.getLogger(__name__)

_FILENAME = re.compile(r"^\S+\.(png|jpe?g|gif|svg|webp|bmp|tiff?)$", re.IGNORECASE)


def caption_reason(caption: str, min_words: int, min_chars: int) -> str | None:
    """Why DataComp's basic caption filter drops ``caption`` (None: it passes)."""
    text = caption.strip()
    if len(text.split()) < min_words or len(text) < min_chars:
        return "too short"
    if _FILENAME.match(text):
        return "file name"
    if detect_language(text)[0] != "en":
        return "not English"
    return None


@register("caption-filter", track="clip")
def select_caption_filter(pool: Pool, *, min_words: int = 3, min_chars: int = 6) -> np.ndarray:
    """DataComp's basic caption filtering: English by CLD2, at least ``min_words`` words
    and ``min_chars`` characters (DataComp: more than two and more than five), and not a
    bare image file name."""
    return keep_by_rule(pool, caption_reason, (min_words, min_chars), "caption-filter")


def _column(cols: dict, start: int, name: str) -> np.ndarray:
    return np.asarray(cols[name])


@register("image-dedup", track="clip")
def select_image_dedup(pool: Pool, *, hash: str = "dhash") -> np.ndarray:
    """One pair per image: ``hash=dhash`` (perceptual difference hash: near duplicates)
    or ``hash=sha256`` (identical pixels); the first pair in pool order stays."""
    columns = {"dhash": "dhash", "sha256": "image_sha256"}
    if hash not in columns:
        raise BenchError(f"image-dedup: hash must be one of {', '.join(columns)}, got {hash!r}")
    column = columns[hash]
    return first_of_each(scan(pool, _column, [column], "image-dedup", column))


# --- text-based filtering: WordNet's physical-entity nouns ----------------------------

WORDNET = ("wordnet-base", "1:3.0-37")
PHYSICAL_ENTITY = "00001930"  # physical_entity.n.01


def concept_nouns(wn_dir: Path, root: str = PHYSICAL_ENTITY) -> set[str]:
    """Lemmas (lower case, multiword joined by spaces) of every noun synset under
    ``root`` by hypernym links in WordNet's ``data.noun``."""
    children: dict[str, list[str]] = {}
    lemmas: dict[str, list[str]] = {}
    with open(wn_dir / "data.noun", encoding="latin-1") as f:
        for line in f:
            if line.startswith(" "):
                continue  # the licence header
            fields = line.split(" | ")[0].split()
            offset, n_words = fields[0], int(fields[3], 16)
            words = fields[4 : 4 + 2 * n_words : 2]
            lemmas[offset] = [re.sub(r"\(.*\)$", "", w).replace("_", " ").lower() for w in words]
            i = 4 + 2 * n_words
            for j in range(int(fields[i])):
                symbol, target = fields[i + 1 + 4 * j], fields[i + 2 + 4 * j]
                if symbol in ("@", "@i"):  # hypernym, instance hypernym
                    children.setdefault(target, []).append(offset)
    found: set[str] = set()
    queue = deque([root])
    seen = {root}
    while queue:
        offset = queue.popleft()
        found.update(lemmas.get(offset, ()))
        for child in children.get(offset, ()):
            if child not in seen:
                seen.add(child)
                queue.append(child)
    return {w for w in found if len(w) >= 3}


def names_a_concept(caption: str, concepts: set[str], max_words: int = 3) -> bool:
    words = re.findall(r"[a-z]+(?:['-][a-z]+)*", caption.lower())
    for n in range(1, max_words + 1):
        for i in range(len(words) - n + 1):
            if " ".join(words[i : i + n]) in concepts:
                return True
    return False


@register("text-filter", track="clip")
def select_text_filter(pool: Pool) -> np.ndarray:
    """DataComp's text-based filtering: keep captions that contain the name (1-3 words)
    of a WordNet noun under *physical entity*, the analogue of its ImageNet-21k class
    names (which are WordNet noun synsets)."""
    wordnet = fetch_apt(*WORDNET, download_cache())
    concepts = concept_nouns(wordnet.root / "usr/share/wordnet")
    log.info("text-filter: %d concept names from WordNet", len(concepts))
    with shared_dir() as folder:  # the names go to the tasks as a file, read once a process
        path = folder / "concepts.txt"
        path.write_text("\n".join(sorted(concepts)) + "\n", encoding="utf-8")
        digest = sha256_file(path)
        named = scan(pool, _names_concepts, ["text"], "text-filter", str(path), digest)
    return np.flatnonzero(named).astype(np.int64)


_CONCEPTS: dict[str, set[str]] = {}  # per process: the concept names of the file read last


def _names_concepts(cols: dict, start: int, path: str, digest: str) -> np.ndarray:
    """Whether each caption names a concept of the file at ``path`` (whose sha256 is
    ``digest``: part of the task, so that kept verdicts belong to these names)."""
    if digest not in _CONCEPTS:
        _CONCEPTS.clear()
        _CONCEPTS[digest] = set(Path(path).read_text(encoding="utf-8").split("\n")) - {""}
    return np.array([names_a_concept(c, _CONCEPTS[digest]) for c in cols["text"]], dtype=bool)


# --- CLIP score -----------------------------------------------------------------------


def checkpoint_dir(path: Path) -> Path:
    """The open_clip checkpoint folder in a run directory (or the folder itself)."""
    for candidate in (path, path / "checkpoint"):
        if (candidate / "open_clip_config.json").is_file():
            return candidate
    raise BenchError(
        f"no CLIP checkpoint at {path}: train the scorer first with "
        "`bench train --track clip --scale xs --name clip-xs-all-s0` and pass "
        "--opt checkpoint=runs/clip-xs-all-s0"
    )


_SCORERS: dict[str, tuple] = {}  # per process: the scorer of a scan, loaded once


@torch.no_grad()
def _clip_scores(
    cols: dict, start: int, root: str, size_file: str, checkpoint: str, batch_size: int
) -> np.ndarray:
    """Cosine similarity of each pair's image and caption in this shard."""
    from benchmark.evaluate.clip import load_checkpoint, to_model_input

    if checkpoint not in _SCORERS:
        _SCORERS.clear()
        _SCORERS[checkpoint] = load_checkpoint(Path(checkpoint), "cpu")
    model, tokenizer, size, _ = _SCORERS[checkpoint]
    images = np.load(Path(root) / size_file, mmap_mode="r")
    captions = cols["text"]
    scores = np.empty(len(captions), dtype=np.float32)
    for lo in range(0, len(captions), batch_size):
        hi = min(lo + batch_size, len(captions))
        img = model.encode_image(
            to_model_input(images[start + lo : start + hi], size), normalize=True
        )
        txt = model.encode_text(tokenizer(captions[lo:hi]), normalize=True)
        scores[lo:hi] = (img * txt).sum(-1).float().numpy()
    return scores


def clip_scores(pool: Pool, checkpoint: Path, batch_size: int = 512) -> np.ndarray:
    """Cosine similarity of each pair's image and caption under the CLIP at ``checkpoint``
    (a pass over the pool's shards: this machine, or Ray)."""
    import json

    from benchmark.pool.format import images_name

    ckpt = checkpoint_dir(checkpoint)
    size = json.loads((ckpt / "open_clip_config.json").read_text())["preprocess_cfg"]["size"]
    have = image_sizes(pool.root)
    if not have:
        raise BenchError(f"pool {pool.name} has no image cache; rebuild it")
    cache = images_name(min(have, key=lambda s: (s < size, abs(s - size))))
    args = (str(pool.root), cache, str(ckpt.resolve()), batch_size)
    return scan(pool, _clip_scores, ["text"], "clip-score", *args)


@register("clip-score", track="clip", pool_only=False)
def select_clip_score(pool: Pool, *, fraction: float = 0.3, checkpoint: str = "") -> np.ndarray:
    """DataComp's CLIP score filter: keep the ``fraction`` of pairs whose image and caption
    agree most under the CLIP at ``checkpoint`` (a run directory of this harness; the
    study uses the whole pool trained at ``xs``)."""
    if not checkpoint:
        raise BenchError("clip-score needs --opt checkpoint=RUN_DIR (a CLIP run of this harness)")
    scores = clip_scores(pool, Path(checkpoint))
    log.info("clip-score quartiles %s", np.round(np.quantile(scores, [0.25, 0.5, 0.75]), 3))
    return top_fraction(scores.astype(np.float64), fraction)
