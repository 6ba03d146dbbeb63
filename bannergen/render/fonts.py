"""Font loading, glyph coverage and text measurement, all memoized.

A *chain* is a tuple of font file paths: the primary font, then fallbacks. Each character is
drawn with the first font of the chain whose cmap has it; a character no font has is dropped
(and reported) rather than drawn as a tofu box.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from fontTools.ttLib import TTFont, TTLibError
from PIL import ImageFont

from bannergen.errors import EnvironmentFailure

log = logging.getLogger(__name__)

Chain = tuple[str, ...]

_HINT = "the fonts ship under assets/fonts/; regenerate them with tools/subset_fonts.py"


@lru_cache(maxsize=32)
def coverage(path: str) -> frozenset[int]:
    """Code points the font's cmap maps (read with fontTools; lazy, so only cmap is parsed)."""
    try:
        with TTFont(path, lazy=True) as font:
            return frozenset(font.getBestCmap() or {})
    except (OSError, TTLibError) as exc:
        raise EnvironmentFailure(f"{path}: cannot read font: {exc}", hint=_HINT) from exc


@lru_cache(maxsize=512)
def truetype(path: str, size: int) -> ImageFont.FreeTypeFont:
    # BASIC layout: no Raqm dependency, so the same bytes come out on every machine.
    try:
        return ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)
    except OSError as exc:
        raise EnvironmentFailure(f"{path}: cannot load font: {exc}", hint=_HINT) from exc


def font_index(chain: Chain, ch: str) -> int | None:
    """Index in ``chain`` of the first font that has ``ch``, or None."""
    return _font_index(chain, ch)


@lru_cache(maxsize=65536)
def _font_index(chain: Chain, ch: str) -> int | None:
    cp = ord(ch)
    for i, path in enumerate(chain):
        if cp in coverage(path):
            return i
    return None


@lru_cache(maxsize=65536)
def glyph(chain: Chain, size: int, ch: str) -> tuple[float, float, float]:
    """(advance, ink left, ink right) of one character in pixels, relative to its pen position."""
    idx = _font_index(chain, ch) or 0
    font = truetype(chain[idx], size)
    left, _, right, _ = font.getbbox(ch, anchor="ls")
    return font.getlength(ch), float(left), float(right)


@lru_cache(maxsize=131072)
def extent(chain: Chain, size: int, text: str) -> tuple[float, float]:
    """(left, right) of ``text`` drawn at x=0 in pixels: the union of the pen advance and the
    ink, so a line whose ``right - left`` fits a box never paints outside it.

    Built from cached per-character metrics: the BASIC layout engine does no kerning or
    shaping, so a line's advance is exactly the sum of its characters' advances, and this is
    what keeps wrapping fast (no FreeType call per candidate line)."""
    x = 0.0
    left = right = 0.0
    for ch in text:
        advance, ink_left, ink_right = glyph(chain, size, ch)
        if ink_right > ink_left:  # spaces have no ink
            left = min(left, x + ink_left)
            right = max(right, x + ink_right)
        x += advance
    return left, max(right, x)


def width(chain: Chain, size: int, text: str) -> float:
    left, right = extent(chain, size, text)
    return right - left


@lru_cache(maxsize=1024)
def metrics(chain: Chain, size: int) -> tuple[int, int]:
    """(ascent, descent) in pixels of the primary font at ``size``."""
    return truetype(chain[0], size).getmetrics()
