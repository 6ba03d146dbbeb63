"""Fit a string into a box: wrap, shrink, cut with an ellipsis; then draw it clipped to the box.

Line breaking follows the common Chinese rules: a break may fall between any two CJK characters,
but never before closing punctuation (，。！）」 …) nor after opening punctuation (（「 …); Latin
words break at spaces, and a single word too long for the line is broken between characters.

    fitted = fit_text("佳能 EOS R50 微单相机", chain, box_w=600, box_h=120, max_size=48, min_size=24, max_lines=2)
    fitted.size, fitted.lines   # (48, ("佳能 EOS R50 微单相机",))
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw

import bannergen.render.fonts as fonts
from bannergen.render.fonts import Chain

log = logging.getLogger(__name__)

ELLIPSIS = "…"
CLOSING = frozenset("，。、；：！？）」』】》〉〕”’…‥—～%,.;:!?)]}·%°")
OPENING = frozenset("（「『【《〈〔“‘([{￥¥$")


@dataclass(frozen=True)
class FittedText:
    """The result of fitting: font ``size`` (px), the ``lines`` to draw, ``line_height`` (px,
    baseline to baseline), ``ascent``/``descent`` (px) of the primary font, whether the text was
    ``truncated`` with an ellipsis and the ``missing`` characters no font has (dropped)."""

    text: str
    size: int
    lines: tuple[str, ...]
    line_height: int
    ascent: int
    descent: int
    truncated: bool = False
    missing: tuple[str, ...] = ()

    @property
    def height(self) -> int:
        """Height of the text block in pixels (first ascent to last descent)."""
        if not self.lines:
            return 0
        return self.line_height * (len(self.lines) - 1) + self.ascent + self.descent


def clean(text: str, chain: Chain) -> tuple[str, tuple[str, ...]]:
    """Collapse whitespace and drop characters no font in ``chain`` covers (returned apart)."""
    text = " ".join(text.split())
    missing: list[str] = []
    kept: list[str] = []
    for ch in text:
        if ch == " " or fonts.font_index(chain, ch) is not None:
            kept.append(ch)
        elif ch not in missing:
            missing.append(ch)
    return " ".join("".join(kept).split()), tuple(missing)


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def tokens(text: str) -> list[str]:
    """Unbreakable units: single CJK characters, Latin words, and " " marking a break at a space.
    Closing punctuation is glued to the unit before it, opening punctuation to the unit after.
    ASCII punctuation stays inside its word, so "¥4,999" or "(R50)" never splits."""
    raw: list[str] = []
    word = ""
    for ch in text:
        if ch == " " or _wide(ch):
            if word:
                raw.append(word)
                word = ""
            raw.append(ch)
        else:
            word += ch
    if word:
        raw.append(word)
    out: list[str] = []
    opening = ""  # opening punctuation waiting for the unit it belongs to
    for tok in raw:
        if tok == " ":
            if opening:
                out.append(opening)
                opening = ""
            out.append(tok)
        elif tok in OPENING:
            opening += tok
        elif tok[0] in CLOSING and not opening and out and out[-1] != " ":
            out[-1] += tok
        else:
            out.append(opening + tok)
            opening = ""
    if opening:
        out.append(opening)
    return out


def wrap(text: str, chain: Chain, size: int, box_w: int, max_lines: int | None) -> list[str] | None:
    """Greedy line filling at ``size``; None as soon as more than ``max_lines`` lines are needed."""
    lines: list[str] = []
    line = ""
    space = False

    def fits(s: str) -> bool:
        return fonts.width(chain, size, s) <= box_w

    def push(s: str) -> bool:
        lines.append(s)
        return max_lines is None or len(lines) <= max_lines

    for tok in tokens(text):
        if tok == " ":
            space = bool(line)
            continue
        candidate = f"{line} {tok}" if space else line + tok
        space = False
        if fits(candidate):
            line = candidate
            continue
        if line and not push(line):
            return None
        line = ""
        if fits(tok):
            line = tok
            continue
        for ch in tok:  # one word longer than the line: break it between characters
            if line and not fits(line + ch):
                if not push(line):
                    return None
                line = ""
            line += ch
    if line and not push(line):
        return None
    return lines


def _lines_for_height(chain: Chain, size: int, spacing: float, box_h: int) -> tuple[int, int, int, int]:
    ascent, descent = fonts.metrics(chain, size)
    line_height = max(1, round(size * spacing))
    room = box_h - (ascent + descent)
    return ascent, descent, line_height, (room // line_height + 1) if room >= 0 else 0


def _sizes(max_size: int, min_size: int, step: int) -> list[int]:
    sizes = list(range(max_size, min_size - 1, -step))
    if sizes[-1] != min_size:
        sizes.append(min_size)
    return sizes


@lru_cache(maxsize=8192)
def fit_text(text: str, chain: Chain, box_w: int, box_h: int, max_size: int, min_size: int,
             max_lines: int = 1, line_spacing: float = 1.25, step: int = 2) -> FittedText:
    """The largest size in max_size, max_size-step, ..., min_size at which ``text`` wraps into
    at most ``max_lines`` lines inside ``box_w`` x ``box_h`` pixels; at min_size, the lines that
    fit with the last one cut and ended with "…" (``truncated``)."""
    text, missing = clean(text, chain)

    def attempt(size: int) -> FittedText | None:
        ascent, descent, lh, by_height = _lines_for_height(chain, size, line_spacing, box_h)
        limit = min(max_lines, by_height)
        if limit < 1:
            return None
        lines = wrap(text, chain, size, box_w, limit)
        if lines is None:
            return None
        if any(fonts.width(chain, size, line) > box_w for line in lines):
            return None  # a single glyph wider than the box
        return FittedText(text, size, tuple(lines), lh, ascent, descent, False, missing)

    sizes = _sizes(max_size, min_size, step)
    if not text:
        ascent, descent = fonts.metrics(chain, max_size)
        return FittedText("", max_size, (), round(max_size * line_spacing), ascent, descent, False, missing)
    # Binary search for the first (largest) size that fits: fitting is monotone in practice,
    # and this keeps a long title at ~4 attempts instead of one per step.
    lo, hi, best = 0, len(sizes) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        result = attempt(sizes[mid])
        if result is not None:
            best, hi = result, mid - 1
        else:
            lo = mid + 1
    if best is not None:
        return best
    return _truncate(text, missing, chain, box_w, box_h, min_size, max_lines, line_spacing)


def _truncate(text: str, missing: tuple[str, ...], chain: Chain, box_w: int, box_h: int,
              size: int, max_lines: int, spacing: float) -> FittedText:
    ascent, descent, lh, by_height = _lines_for_height(chain, size, spacing, box_h)
    limit = max(1, min(max_lines, by_height))  # a box lower than one line still gets one (clipped)
    lines = wrap(text, chain, size, box_w, None) or [""]
    kept = lines[:limit]
    last = kept[-1]
    while last and fonts.width(chain, size, last.rstrip() + ELLIPSIS) > box_w:
        last = last[:-1]
    kept[-1] = last.rstrip() + ELLIPSIS
    return FittedText(text, size, tuple(kept), lh, ascent, descent, True, missing)


def warnings_for(name: str, fitted: FittedText, chain: Chain) -> list[str]:
    """Human-readable problems, e.g. "title: no glyph for '𠀀' (U+20000) in NotoSansSC-Regular.otf"."""
    fonts_named = ", ".join(Path(p).name for p in chain)
    out = [f"{name}: no glyph for {ch!r} (U+{ord(ch):04X}) in {fonts_named}" for ch in fitted.missing]
    if fitted.truncated:
        out.append(f"{name}: text cut with an ellipsis at {fitted.size}px: {fitted.text!r}")
    return out


def line_offsets(
    fitted: FittedText, chain: Chain, box_w: int, box_h: int, align: str, valign: str
) -> list[tuple[float, int]]:
    """(x, baseline y) of every line relative to the box's top-left corner."""
    block = fitted.height
    top = {"top": 0, "middle": (box_h - block) // 2, "bottom": box_h - block}[valign]
    top = max(0, top)
    out: list[tuple[float, int]] = []
    for i, line in enumerate(fitted.lines):
        left, right = fonts.extent(chain, fitted.size, line)
        w = right - left
        x = {"left": 0.0, "center": (box_w - w) / 2, "right": box_w - w}[align] - left
        out.append((round(x), top + fitted.ascent + i * fitted.line_height))
    return out


@lru_cache(maxsize=32768)
def glyph_mask(chain: Chain, size: int, ch: str) -> tuple[Image.Image, int, int] | None:
    """Anti-aliased coverage mask of one character and the offset of its top-left corner from
    the pen position on the baseline; None for a blank (space). Cached per (font, size, char):
    rasterising glyphs is the largest cost of composition, and CJK titles share most characters."""
    idx = fonts.font_index(chain, ch) or 0
    font = fonts.truetype(chain[idx], size)
    left, top, right, bottom = (int(v) for v in font.getbbox(ch, anchor="ls"))
    if right <= left or bottom <= top:
        return None
    mask = Image.new("L", (right - left, bottom - top), 0)
    ImageDraw.Draw(mask).text((-left, -top), ch, font=font, fill=255, anchor="ls")
    return mask, left, top


def draw_text(
    image: Image.Image,
    box: tuple[int, int, int, int],
    fitted: FittedText,
    chain: Chain,
    colour: tuple[int, int, int, int],
    align: str = "left",
    valign: str = "top",
    strike: bool = False,
) -> None:
    """Draw ``fitted`` into ``box`` of ``image``. Drawing happens on a crop of the box that is
    pasted back, so nothing can paint outside the box even if the fitting were off by a pixel.
    Glyphs are placed at the rounded pen position (the BASIC layout has no kerning, so this is
    the same placement as drawing the whole line, from cached glyph masks)."""
    if not fitted.lines:
        return
    x0, y0, w, h = box
    region = image.crop((x0, y0, x0 + w, y0 + h))
    ink = colour[:3]
    alpha = colour[3]
    for line, (x, y) in zip(fitted.lines, line_offsets(fitted, chain, w, h, align, valign)):
        pen = float(x)
        for ch in line:
            glyph = glyph_mask(chain, fitted.size, ch)
            if glyph is not None:
                mask, dx, dy = glyph
                if alpha < 255:
                    mask = mask.point(lambda v: v * alpha // 255)
                region.paste(ink, (round(pen) + dx, y + dy), mask)
            pen += fonts.glyph(chain, fitted.size, ch)[0]
        if strike:
            left, right = fonts.extent(chain, fitted.size, line)
            thickness = max(2, round(fitted.size / 14))
            top = y - round(fitted.size * 0.32) - thickness // 2
            bar = Image.new("L", (max(1, round(right - left)), thickness), alpha)
            region.paste(ink, (round(x + left), top), bar)
    image.paste(region, (x0, y0))
