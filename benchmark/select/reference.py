"""The reference set: positives for the fastText quality classifier.

DCLM trained its classifier on instruction data and ELI5 answers (explanatory, edited
text) against random web pages. The analogue here is edited English that is in
neither the pool nor any eval: the Debian FAQ (questions answered in prose, like ELI5)
and Debian's founding documents (manifesto, social contract, constitution), fetched
from the package registry at pinned versions. Pages are cut into passages of about
``PASSAGE_WORDS`` words at paragraph breaks, the size of a pool item. It is small
(a few hundred passages) and about software, so the classifier learns "careful
explanatory English" with a Debian accent; a user's own set replaces it with
``--opt positives=FILE``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from benchmark.errors import BenchError
from benchmark.fetch.packages import fetch_apt
from benchmark.fetch.readers import files_reader
from benchmark.paths import download_cache

PASSAGE_WORDS = 200

# (package, version, reader); none of these packages feeds the pool or an eval.
REFERENCE = (
    (
        "debian-faq",
        "11.1",
        files_reader("debian-faq", "usr/share/doc/debian/FAQ/*.en.html", render_html=True),
    ),
    (
        "doc-debian",
        "11.3+nmu1",
        files_reader(
            "doc-debian",
            "usr/share/doc/debian/debian-manifesto.gz",
            "usr/share/doc/debian/social-contract.txt.gz",
            "usr/share/doc/debian/constitution.txt.gz",
        ),
    ),
)


def passages(text: str, words: int = PASSAGE_WORDS) -> list[str]:
    """Cut ``text`` at paragraph breaks into passages of about ``words`` words."""
    out: list[str] = []
    current: list[str] = []
    size = 0
    for para in re.split(r"\n\s*\n", text):
        n = len(para.split())
        if n == 0:
            continue
        current.append(para.strip())
        size += n
        if size >= words:
            out.append("\n\n".join(current))
            current, size = [], 0
    if size >= words // 4:
        out.append("\n\n".join(current))
    return out


def reference_passages() -> list[str]:
    """The built-in reference set, fetched (once, cached) from the package registry."""
    result = []
    for package, version, read in REFERENCE:
        fetched = fetch_apt(package, version, download_cache())
        for _, text in read(fetched.root):
            result.extend(passages(text))
    return result


def load_positives(path: Path | None) -> list[str]:
    """Positives from ``path`` (.jsonl with a "text" field, or .txt with one document per
    line), else the built-in reference set."""
    if path is None:
        return reference_passages()
    if not path.is_file():
        raise BenchError(f"positives file {path} not found; give a .jsonl or .txt file")
    if path.suffix == ".jsonl":
        docs = []
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                docs.append(str(json.loads(line)["text"]))
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                raise BenchError(
                    f"{path}:{lineno}: expected a JSON object with a 'text' field ({err})"
                ) from None
    else:
        docs = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(docs) < 10:
        raise BenchError(f"{path} holds {len(docs)} positives; give at least 10 documents")
    return docs
