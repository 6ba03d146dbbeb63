"""`templates lint --catalog`: every template against every item it suits, at every size.

    report = lint_catalog(templates, assets_dir, catalog, catalog_dir)
    report.issues      # [Issue(template, item_id, size, element, kind, detail), ...]
    report.summary()   # per template: items, banners, count per kind

Kinds (per template, item, size and text element unless said):
  min_size        the text fitted only at its ``min_size``
  ellipsis        the text was cut with "…" at min_size
  no_fit          not even one line fits the box at min_size
  missing_glyph   a character no font of the chain has (dropped from the banner)
  contrast        text colour vs the pixels under it below WCAG AA: 4.5:1, or 3:1 for large
                  text (>= 24 px, or >= 18.67 px bold)
  upscaled        a product image smaller than its box (per image element)
  small_text      text drawn below the minimum size at 1x (default 12 px; a 2x banner's text
                  counts at half its pixels), too small to read on a phone

Text is fitted with the renderer's own code (the same fonts, caches and decisions), and the
background under each text is the renderer's cached layer, so nothing is encoded and the whole
example shop (320 items x 6 templates x 6 sizes) takes seconds.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

import bannergen.render.fonts as fontlib
import bannergen.render.layers as layers
from bannergen.render.fonts import metrics
from bannergen.render.image import Compositor, baked, image_sources
from bannergen.render.text import fit_text, line_offsets
from bannergen.size import Size
from bannergen.templating.layout import PRODUCT_SOURCES, Element
from bannergen.templating.template import Template
from bannergen.types import BannerContext

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

KINDS = ("min_size", "ellipsis", "no_fit", "missing_glyph", "contrast", "upscaled", "small_text")
MIN_TEXT_PX = 12  # the smallest text at 1x that stays legible on a phone
AA_NORMAL, AA_LARGE = 4.5, 3.0


@dataclass(frozen=True)
class Issue:
    template: str
    item_id: str
    size: str  # "1200x400" or "1200x400@2x"
    element: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.template} {self.item_id} {self.size} {self.element}: {self.kind}: {self.detail}"


@dataclass
class Report:
    issues: list[Issue] = field(default_factory=list)
    items: Counter = field(default_factory=Counter)  # template -> items checked
    banners: Counter = field(default_factory=Counter)  # template -> (item, size) pairs checked
    seconds: float = 0.0

    def summary(self) -> list[dict[str, Any]]:
        """One row per template: template, items, banners, then a count per kind."""
        counts = Counter((i.template, i.kind) for i in self.issues)
        return [{"template": t, "items": self.items[t], "banners": self.banners[t],
                 **{k: counts[(t, k)] for k in KINDS}} for t in sorted(self.banners)]

    def as_dict(self) -> dict[str, Any]:
        return {"summary": self.summary(), "issues": [asdict(i) for i in self.issues],
                "seconds": round(self.seconds, 2)}


def luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG relative luminance of sRGB values in 0..255, shape (..., 3) -> (...)."""
    c = rgb.astype(np.float64) / 255.0
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return c @ np.array([0.2126, 0.7152, 0.0722])


def contrast_ratio(a: float | np.ndarray, b: float | np.ndarray) -> Any:
    hi, lo = np.maximum(a, b), np.minimum(a, b)
    return (hi + 0.05) / (lo + 0.05)


@lru_cache(maxsize=4096)
def _image_size(path: str) -> tuple[int, int] | None:
    try:
        with Image.open(path) as img:
            return img.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


class Linter:
    """Lints (template, context, size) triples; holds the per-template layer caches."""

    def __init__(self, assets_dir: Path, min_text_px: float = MIN_TEXT_PX) -> None:
        self.compositor = Compositor(Path(assets_dir))
        self.min_text_px = min_text_px
        self._under: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._ratios: dict[tuple, float] = {}

    def _under_layer(
        self, template: Template, size: tuple[int, int], index: int, shown: tuple[int, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(RGB pixels, shape (h, w, 3); their luminance, shape (h, w)) of the banner just before
        element ``index`` is drawn: the cached background with the visible dynamic shapes
        ``shown`` painted on."""
        key = (template.id, size, shown)  # the shapes drawn so far decide the pixels, not the element
        cached = self._under.get(key)
        if cached is None:
            image = self.compositor.background(template, size)
            layout = template.layout(size)
            if shown:
                image = image.copy()
                for i in shown:
                    e = layout.elements[i]
                    layers.draw_shape(image, e.kind, e.box, e.fill, e.radius, e.outline, e.outline_width,
                                      e.outline_style)
            rgb = np.asarray(image.convert("RGB"))
            cached = self._under[key] = (rgb, luminance(rgb))
        return cached

    def lint(self, template: Template, context: BannerContext, size: tuple[int, int]) -> list[Issue]:
        layout = template.layout(size)
        label = template.size_label(size)
        names = template.variables(context, size)
        names["headline"] = template.headline(context)
        sources = image_sources(context)
        skip = baked(layout)
        out: list[Issue] = []
        shown: list[int] = []

        def issue(e: Element, kind: str, detail: str) -> None:
            out.append(Issue(template.id, context.item_id, label, e.name, kind, detail))

        for i, e in enumerate(layout.elements):
            if not e.visible(names):
                continue
            x, y, w, h = e.box
            if e.kind in ("rect", "ellipse") and i not in skip:
                shown.append(i)
            elif e.kind == "image" and e.source in PRODUCT_SOURCES:
                path = sources.get(e.source)
                dims = _image_size(str(path)) if path is not None else None
                if dims:
                    scale = (min if e.fit == "contain" else max)(w / dims[0], h / dims[1])
                    if scale > 1.0:
                        issue(e, "upscaled", f"{Size(*dims)} image in a {Size(w, h)} box (x{scale:.2f})")
            elif e.kind == "text" and e.text is not None and e.style is not None:
                style = e.style
                chain = self.compositor.chain(template, style.font)
                text = e.text.render(names)
                fitted = fit_text(
                    text, chain, w, h, style.max_size, style.min_size, style.max_lines, style.line_spacing, style.step
                )
                if fitted.missing:
                    chars = ", ".join(f"{ch!r} (U+{ord(ch):04X})" for ch in fitted.missing[:5])
                    issue(e, "missing_glyph", f"no font has {chars}")
                ascent, descent = metrics(chain, style.min_size)
                if fitted.truncated and (ascent + descent > h or fitted.lines in ((), ("…",))):
                    issue(e, "no_fit", f"{text!r} does not fit {Size(w, h)} even at {style.min_size}px")
                elif fitted.truncated:
                    issue(e, "ellipsis", f"cut at {fitted.size}px: {' '.join(fitted.lines)!r}")
                elif fitted.lines and fitted.size == style.min_size and style.min_size < style.max_size:
                    issue(e, "min_size", f"fits only at min_size {style.min_size}px")
                at_1x = fitted.size / template.scale_of(size)[1]
                if fitted.lines and at_1x < self.min_text_px:
                    issue(e, "small_text", f"{at_1x:g}px at 1x, below the minimum of {self.min_text_px:g}px")
                if fitted.lines:
                    ratio, need = self._contrast(template, size, i, tuple(shown), e, fitted, chain)
                    if ratio < need:
                        issue(e, "contrast", f"{ratio:.2f}:1 against its background, needs {need:g}:1 ({fitted.size}px"
                                             f"{' bold' if style.font == 'bold' else ''})")
        return out

    def _contrast(self, template: Template, size: tuple[int, int], index: int, shown: tuple[int, ...],
                  e: Element, fitted: Any, chain: tuple[str, ...]) -> tuple[float, float]:
        """(worst contrast over the pixels under the drawn lines, required ratio)."""
        assert e.style is not None
        x, y, w, h = e.box
        offsets = line_offsets(fitted, chain, w, h, e.style.align, e.style.valign)
        left = right = None
        for line, (dx, _base) in zip(fitted.lines, offsets):
            lo, hi = fontlib.extent(chain, fitted.size, line)
            a, b = dx + lo, dx + hi
            left = a if left is None else min(left, a)
            right = b if right is None else max(right, b)
        top = offsets[0][1] - fitted.ascent
        bottom = offsets[-1][1] + fitted.descent
        x0, x1 = int(max(0, x + (left or 0))), int(min(x + w, x + (right or w)))
        y0, y1 = int(max(0, y + top)), int(min(y + h, y + bottom))
        large = fitted.size >= 24 or (e.style.font == "bold" and fitted.size >= 18.67)
        need = AA_LARGE if large else AA_NORMAL
        key = (template.id, size, index, shown, x0, x1, y0, y1, e.style.colour)
        worst = self._ratios.get(key)
        if worst is None:
            worst = self._ratios[key] = self._worst(
                template, size, index, shown, (x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)), e.style.colour
            )
        return worst, need

    def _worst(self, template: Template, size: tuple[int, int], index: int, shown: tuple[int, ...],
               region: tuple[int, int, int, int], colour: tuple[int, int, int, int]) -> float:
        """The 5th percentile of the contrast ratios over ``region`` (so a few anti-aliased edge
        pixels of a shape do not decide), sampled every ``scale`` pixels at @2x."""
        rgb, lum = self._under_layer(template, size, index, shown)
        x0, y0, x1, y1 = region
        step = template.scale_of(size)[1]
        if colour[3] == 255:
            bg = lum[y0:y1:step, x0:x1:step].ravel()
            ink = luminance(np.array(colour[:3], dtype=np.float64))
        else:  # translucent text: blend it over every pixel first
            px = rgb[y0:y1:step, x0:x1:step].reshape(-1, 3).astype(np.float64)
            alpha = colour[3] / 255.0
            bg = luminance(px)
            ink = luminance(np.array(colour[:3], dtype=np.float64) * alpha + px * (1 - alpha))
        if bg.size == 0:
            return 21.0
        ratios = contrast_ratio(ink, bg)
        k = int(0.05 * (ratios.size - 1))
        return float(np.partition(ratios, k)[k])


def lint_catalog(templates: dict[str, Template], assets_dir: Path, catalog: pd.DataFrame, catalog_dir: Path, *,
                 sample: int | None = None, sizes: tuple[str, ...] = (), seed: int = 0,
                 min_text_px: float = MIN_TEXT_PX) -> Report:
    """Lint every template against every item it suits (``catalog_mask``), or a seeded random
    ``sample`` of them, at every size (or only the ``sizes`` labels given, e.g. "300x250@2x");
    text below ``min_text_px`` at 1x is ``small_text``."""
    from bannergen.render.samples import contexts_for

    start = time.perf_counter()
    report = Report()
    linter = Linter(assets_dir, min_text_px)
    for template in templates.values():
        rows = None
        if sample is not None:
            idx = np.flatnonzero(template.catalog_mask(catalog))
            rng = np.random.default_rng(seed)
            rows = (
                sorted(int(i) for i in rng.choice(idx, size=min(sample, len(idx)), replace=False)) if len(idx) else []
            )
        chosen = [s for s in template.sizes if not sizes or template.size_label(s) in sizes or str(Size(*s)) in sizes]
        report.banners[template.id] += 0
        for _, context in contexts_for(template, catalog, catalog_dir, rows):
            report.items[template.id] += 1
            for size in chosen:
                report.issues += linter.lint(template, context, size)
                report.banners[template.id] += 1
    report.seconds = time.perf_counter() - start
    return report
