"""Decoders of two markup formats the text sources ship: SWORD modules and HTML.

SWORD (the format of Debian's ``sword-text-*`` and ``sword-comm-*`` packages) keeps a
Bible or commentary as zlib-compressed blocks plus two little-endian indexes per
testament (``ot``/``nt``), the block letter ``b``/``c``/``v`` saying how the text was
blocked (book, chapter, verse)::

    ot.bzs  12 bytes a block:  offset, compressed size, uncompressed size   (uint32 x 3)
    ot.bzv  one entry a verse: block number, offset in block, size
            (uint32, uint32, uint16: 10 bytes for zText/zCom; uint32 x 3 for zText4/zCom4)
    ot.bzz  the compressed blocks

Entries are in versification order; OSIS milestones ``<chapter sID="Gen.1"/>`` and
``<div type="book" osisID="Gen"/>`` mark where a chapter or a book starts, so
:func:`read_sword_module` yields one document per chapter (and per book or module
introduction), rendered to plain text with footnotes dropped.

    for key, text in read_sword_module(root / "usr/share/sword/modules/texts/ztext/x"):
        ...                                    # key: "Gen.1", "Ps.intro", "ot.intro"
"""

from __future__ import annotations

import html
import re
import struct
import zlib
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

from benchmark.fetch.packages import FetchError

_CHAPTER = re.compile(r'<chapter\b[^>]*\bsID="([^"]+)"')
_BOOK = re.compile(r'<div\b[^>]*\btype="book"[^>]*>')
_BOOK_ID = re.compile(r'\bosisID="([^"]+)"')
_NOTE = re.compile(r"<note\b[^>]*>.*?</note>", re.S)
_BREAK = re.compile(r'<title\b[^>]*>|</title>|<div\b[^>]*type="x-p"[^>]*>|</?p\b[^>]*>|<lb\b[^>]*>')
_TAG = re.compile(r"<[^>]+>")


def _entries(folder: Path, testament: str) -> tuple[list[tuple[int, int, int]], list[bytes]]:
    """The verse index and the compressed blocks of one testament (empty when absent)."""
    found = [p for p in sorted(folder.glob(f"{testament}.?zs")) if p.stat().st_size]
    if not found:
        return [], []
    stem = str(found[0])[:-1]
    blocks_raw = Path(stem + "s").read_bytes()
    blocks = [struct.unpack_from("<III", blocks_raw, i) for i in range(0, len(blocks_raw), 12)]
    data = Path(stem + "z").read_bytes()
    compressed = [data[off : off + size] for off, size, _ in blocks]
    index = Path(stem + "v").read_bytes()
    for width, fmt in ((10, "<IIH"), (12, "<III")):
        if len(index) % width:
            continue
        entries = [struct.unpack_from(fmt, index, i) for i in range(0, len(index), width)]
        if all(s == 0 or (b < len(blocks) and o + s <= blocks[b][2]) for b, o, s in entries):
            return entries, compressed
    raise FetchError(f"{stem}v: not a SWORD verse index (10- or 12-byte entries)")


def osis_to_text(osis: str) -> str:
    """Plain text of an OSIS fragment: notes dropped, titles and paragraphs on their own."""
    text = _TAG.sub("", _BREAK.sub("\n\n", _NOTE.sub("", osis)))
    return html.unescape(text)


def _tidy(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def read_sword_module(folder: Path) -> Iterator[tuple[str, str]]:
    """(key, text) per chapter or introduction of a SWORD module folder, in canon order."""
    seen: set[str] = set()
    for testament in ("ot", "nt"):
        entries, compressed = _entries(folder, testament)
        cache: dict[int, bytes] = {}
        key, parts, last = f"{testament}.intro", [], (-1, -1, -1)
        for block, offset, size in entries:
            if size == 0 or (block, offset, size) == last:
                continue  # an empty verse, or one linked to the previous entry's text
            last = (block, offset, size)
            if block not in cache:
                cache = {block: zlib.decompress(compressed[block])}  # blocks come in order
            raw = cache[block][offset : offset + size].decode("utf-8", errors="replace")
            chapter, book = _CHAPTER.search(raw), _BOOK.search(raw)
            new_key = chapter.group(1) if chapter else None
            book_id = (
                _BOOK_ID.search(book.group(0)) if book and "eID=" not in book.group(0) else None
            )
            if new_key is None and book_id:
                new_key = book_id.group(1) + ".intro"
            if new_key is not None:
                yield from _emit(key, parts, seen)
                key, parts = new_key, []
            parts.append(osis_to_text(raw))
        yield from _emit(key, parts, seen)


def _emit(key: str, parts: list[str], seen: set[str]) -> Iterator[tuple[str, str]]:
    text = _tidy(" ".join(parts))
    if not text:
        return
    unique, n = key, 1
    while unique in seen:
        n += 1
        unique = f"{key}@{n}"
    seen.add(unique)
    yield unique, text


class _HTMLText(HTMLParser):
    """Collects the text of an HTML page; block elements become paragraph breaks."""

    BLOCKS = frozenset(
        [
            "p",
            "div",
            "br",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "li",
            "ul",
            "ol",
            "dl",
            "dt",
            "dd",
            "pre",
            "table",
            "tr",
            "td",
            "th",
            "section",
            "article",
            "header",
            "footer",
            "nav",
            "blockquote",
            "title",
        ]
    )
    SKIP = frozenset(("script", "style"))

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(page: str) -> str:
    """The visible text of an HTML page (navigation included), one block a paragraph."""
    parser = _HTMLText()
    parser.feed(page)
    parser.close()
    return _tidy("".join(parser.parts))
