"""Render named images (SVG or PNG) to small RGB arrays, with seeded augmentations.

An object is rendered once into a square RGBA *sprite* (trimmed to its visible pixels,
centred, ``SPRITE`` px); every pool item is then a sprite (or two, side by side) pasted
on a background at a random scale and offset, with colour jitter. All randomness comes
from a seed derived from the item's locator (:func:`seed_of`), never from file order,
so a build is deterministic whatever the worker count.

    sprite = render_sprite(svg_bytes, "svg")          # (SPRITE, SPRITE, 4) uint8
    params = augment_params(seed_of(locator))         # background, scale, jitter...
    rgb = compose([sprite], params)                   # (64, 64, 3) uint8
    phrase = params.background_phrase                 # "on a blue background"
"""

from __future__ import annotations

import hashlib
import io
import logging
import random
import re
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

IMAGE_SIZE = 64  # the pool's render size
SPRITE = 64  # sprite side; objects are scaled down from it
MAX_SVG_BYTES = 400_000  # larger SVGs (maps, photo traces) are skipped: slow and unreadable

# Named background colours, so a caption can say what it shows.
COLOURS: dict[str, tuple[int, int, int]] = {
    "white": (250, 250, 250),
    "black": (15, 15, 15),
    "gray": (128, 128, 128),
    "light gray": (205, 205, 205),
    "red": (210, 40, 40),
    "dark red": (120, 20, 25),
    "orange": (240, 140, 30),
    "yellow": (245, 220, 50),
    "green": (50, 160, 60),
    "dark green": (25, 85, 40),
    "light green": (160, 225, 140),
    "blue": (40, 90, 210),
    "light blue": (150, 200, 245),
    "navy": (20, 30, 90),
    "purple": (120, 50, 160),
    "pink": (245, 160, 200),
    "brown": (120, 75, 40),
    "beige": (230, 215, 180),
    "teal": (30, 140, 140),
}


def seed_of(key: str) -> int:
    """A 64-bit seed from a string (an item's locator): stable across runs and machines."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


@dataclass(frozen=True)
class Augment:
    """What one item's augmentation does; derived from a seed by :func:`augment_params`."""

    background: str  # "plain" | "gradient" | "stripes" | "checker" | "noise"
    colours: tuple[str, str]  # named colours (the second one for gradients and patterns)
    scale: float  # object size as a share of the canvas
    dx: float  # offset of the object's centre, share of the canvas, in [-0.5, 0.5]
    dy: float
    angle: float  # small rotation in degrees
    brightness: float
    contrast: float
    saturation: float
    seed: int

    @property
    def background_phrase(self) -> str:
        a, b = self.colours
        if self.background == "plain":
            return f"on a {a} background"
        if self.background == "gradient":
            return f"on a {a} and {b} gradient"
        if self.background == "stripes":
            return f"on a {a} and {b} striped background"
        if self.background == "checker":
            return "on a checkered background"
        return f"on a noisy {a} background"


def augment_params(seed: int, *, clean: bool = False) -> Augment:
    """The augmentation of the item whose seed is ``seed``; ``clean``: centred on white."""
    if clean:
        return Augment("plain", ("white", "white"), 0.86, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, seed)
    rng = random.Random(seed)
    names = list(COLOURS)
    a = rng.choice(names)
    b = rng.choice([n for n in names if n != a])
    background = rng.choices(
        ["plain", "gradient", "stripes", "checker", "noise"], weights=[60, 12, 10, 8, 10]
    )[0]
    scale = rng.uniform(0.5, 1.1)
    room = max(0.0, (1.0 - scale) / 2) + 0.08  # a little may fall off the canvas (a crop)
    return Augment(
        background=background,
        colours=(a, b),
        scale=scale,
        dx=rng.uniform(-room, room),
        dy=rng.uniform(-room, room),
        angle=rng.uniform(-12, 12) if rng.random() < 0.3 else 0.0,
        brightness=rng.uniform(0.8, 1.2),
        contrast=rng.uniform(0.8, 1.2),
        saturation=rng.uniform(0.7, 1.3),
        seed=seed,
    )


# SVG text is drawn with whatever fonts the machine has (fontconfig picks a substitute
# for "Arial Black"), so the same file gave other pixels, and so other uids, on other
# machines or font caches. Text is left out: at 32-64 px it is illegible anyway.
_SVG_TEXT = re.compile(
    rb"<(?:[\w-]+:)?(text|flowRoot)\b[^>]*?/>"  # empty element
    rb"|<(?:[\w-]+:)?(text|flowRoot)\b.*?</(?:[\w-]+:)?\2\s*>",  # element with content
    re.DOTALL,
)


def strip_svg_text(data: bytes) -> bytes:
    """The SVG without its ``<text>`` and ``<flowRoot>`` elements (font-dependent pixels)."""
    return _SVG_TEXT.sub(b"", data)


def render_sprite(data: bytes, fmt: str, size: int = SPRITE) -> np.ndarray | None:
    """A square RGBA sprite of the image (visible pixels trimmed and centred), or None.

    None when the image cannot be read or is blank (an SVG that renders nothing). An
    SVG's text is not drawn (:func:`strip_svg_text`), so the pixels do not depend on the
    machine's fonts.
    """
    from PIL import Image

    try:
        if fmt == "svg":
            import cairosvg

            png = cairosvg.svg2png(
                bytestring=strip_svg_text(data), output_width=size * 2, unsafe=False
            )
            img = Image.open(io.BytesIO(png))
        else:
            img = Image.open(io.BytesIO(data))
        img = img.convert("RGBA")
    except Exception as exc:  # malformed SVG/PNG in a package: skipped and counted
        log.debug("cannot render image: %s", exc)
        return None
    box = img.getchannel("A").point(lambda v: 255 if v > 8 else 0).getbbox()
    if box is None:
        return None
    img = img.crop(box)
    w, h = img.size
    side = max(w, h)
    canvas = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    canvas.paste(img, ((side - w) // 2, (side - h) // 2))
    return np.asarray(canvas.resize((size, size), Image.Resampling.LANCZOS), dtype=np.uint8)


def _background(aug: Augment, size: int):
    from PIL import Image

    rng = np.random.default_rng(aug.seed)
    a = np.array(COLOURS[aug.colours[0]], dtype=np.float32)
    b = np.array(COLOURS[aug.colours[1]], dtype=np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    if aug.background == "gradient":
        t = (xx if aug.seed % 2 else yy)[..., None]
        arr = a * (1 - t) + b * t
    elif aug.background == "stripes":
        period = int(rng.integers(4, 12))
        mask = ((xx + yy * (aug.seed % 3 == 0)) * size // period % 2).astype(bool)
        arr = np.where(mask[..., None], a, b)
    elif aug.background == "checker":
        cell = int(rng.integers(4, 12))
        mask = ((np.floor(xx * size / cell) + np.floor(yy * size / cell)) % 2).astype(bool)
        arr = np.where(mask[..., None], a, b)
    elif aug.background == "noise":
        arr = a + rng.normal(0, 28, size=(size, size, 3))
    else:
        arr = np.broadcast_to(a, (size, size, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def compose(sprites: list[np.ndarray], aug: Augment, size: int = IMAGE_SIZE) -> np.ndarray:
    """Paste one sprite (or several, side by side) on the background: (size, size, 3) uint8."""
    from PIL import Image, ImageEnhance

    canvas = _background(aug, size)
    n = len(sprites)
    slot = size / n  # side-by-side slots for composites
    for i, sp in enumerate(sprites):
        obj = Image.fromarray(sp, "RGBA")
        obj = ImageEnhance.Brightness(obj).enhance(aug.brightness)
        obj = ImageEnhance.Contrast(obj).enhance(aug.contrast)
        obj = ImageEnhance.Color(obj).enhance(aug.saturation)
        side = max(4, int(round(aug.scale * (size if n == 1 else slot * 0.95))))
        obj = obj.resize((side, side), Image.Resampling.LANCZOS)
        if aug.angle:
            obj = obj.rotate(aug.angle, resample=Image.Resampling.BICUBIC, expand=False)
        cx = (i + 0.5) * slot + aug.dx * (size if n == 1 else slot * 0.3)
        cy = size / 2 + aug.dy * size
        canvas.paste(obj, (int(round(cx - side / 2)), int(round(cy - side / 2))), obj)
    return np.asarray(canvas, dtype=np.uint8)


def resize(rgb: np.ndarray, size: int) -> np.ndarray:
    """Resize an RGB uint8 image (bicubic; area-like when shrinking by 2)."""
    from PIL import Image

    if rgb.shape[0] == size and rgb.shape[1] == size:
        return rgb
    img = Image.fromarray(rgb, "RGB").resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(img, dtype=np.uint8)


def dhash(rgb: np.ndarray) -> int:
    """64-bit difference hash of an RGB image (computed on its 32 px version, grey 9x8)."""
    from PIL import Image

    small = resize(rgb, 32) if rgb.shape[0] != 32 else rgb
    grey = Image.fromarray(small, "RGB").convert("L").resize((9, 8), Image.Resampling.BILINEAR)
    px = np.asarray(grey, dtype=np.int16)
    bits = (px[:, 1:] > px[:, :-1]).flatten()
    return int(np.packbits(bits).view(">u8")[0])


def png_bytes(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()
