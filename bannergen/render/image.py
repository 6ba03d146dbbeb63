"""Compose one banner image (Pillow) from a template layout and the template variables.

    composition = Compositor(assets_dir).compose(template, (1200, 400), variables, image_path)
    composition.image   # RGB PIL image, 1200x400

Composition is: copy the cached background (with every static shape baked in), paste the cached
product image, draw conditional shapes, draw fitted text. Encoding lives in encode.py.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

import bannergen.render.layers as layers
from bannergen.render.fonts import Chain
from bannergen.render.text import FittedText, draw_text, fit_text, warnings_for
from bannergen.size import Size
from bannergen.templating.checks import resolve_asset
from bannergen.templating.layout import PRODUCT, PRODUCT_SOURCES, Element, Layout
from bannergen.templating.template import Template
from bannergen.types import BannerContext

log = logging.getLogger(__name__)


@dataclass
class Composition:
    """The composed image plus what the HTML renderer needs to agree with it."""

    image: Image.Image
    fitted: dict[str, FittedText] = field(default_factory=dict)
    visible: list[Element] = field(default_factory=list)
    product: Image.Image | None = None  # the first fitted product image (RGBA), None for a placeholder
    products: dict[str, Image.Image] = field(default_factory=dict)  # element name -> fitted image (no placeholders)
    baked: set[str] = field(default_factory=set)  # names of visible elements already in the background
    warnings: list[str] = field(default_factory=list)


def image_sources(context: BannerContext) -> dict[str, Path | None]:
    """The image path of every context image source (layout ``source``): ``product`` is the item
    (or the first of ``items``), ``product2``/``product3`` the next items, ``antecedent`` the
    cross-sell trigger. A source the context does not fill is None (a placeholder is drawn)."""
    items = context.items or (context,)
    return {
        PRODUCT: items[0].image,
        "product2": items[1].image if len(items) > 1 else None,
        "product3": items[2].image if len(items) > 2 else None,
        "antecedent": context.antecedent_image,
    }


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def baked(layout: Layout) -> frozenset[int]:
    """Indexes of static elements that can be drawn into the cached background: those no earlier
    per-item element overlaps (so baking them does not change what is on top)."""
    out: set[int] = set()
    dynamic: list[tuple[int, int, int, int]] = []
    for i, element in enumerate(layout.elements):
        if element.is_static and not any(_overlaps(element.box, d) for d in dynamic):
            out.add(i)
        else:
            dynamic.append(element.box)
    return frozenset(out)


class Compositor:
    """Draws banners; holds the per-(template, size) background cache. No I/O in __init__."""

    def __init__(self, assets_dir: Path) -> None:
        self.assets_dir = Path(assets_dir)
        self._backgrounds: dict[tuple[str, str, tuple[int, int]], Image.Image] = {}
        self._chains: dict[tuple[str, ...], Chain] = {}

    def chain(self, template: Template, style: str) -> Chain:
        """Absolute font paths (primary, then fallbacks) for ``style``, resolved once."""
        names = template.fonts.chain(style)
        chain = self._chains.get(names)
        if chain is None:
            chain = self._chains[names] = tuple(
                str(resolve_asset(self.assets_dir, f"fonts/{name}", f"template '{template.id}' fonts"))
                for name in names
            )
        return chain

    def background(self, template: Template, size: tuple[int, int]) -> Image.Image:
        """Background plus baked static elements, drawn once per (template, version, size)."""
        key = (template.id, template.version, size)
        cached = self._backgrounds.get(key)
        if cached is None:
            layout = template.layout(size)
            spec = layout.background
            where = f"template '{template.id}' {Size(*size)} background"
            path = resolve_asset(self.assets_dir, spec.image, where) if spec.image else None
            cached = layers.background(size, spec, path)
            for i in sorted(baked(layout)):
                self._draw_static(cached, template, layout.elements[i])
            self._backgrounds[key] = cached
        return cached

    def _draw_static(self, image: Image.Image, template: Template, element: Element) -> None:
        x, y, w, h = element.box
        if element.kind == "image":
            path = resolve_asset(self.assets_dir, element.source, f"template '{template.id}' element {element.name}")
            img = layers.asset_image(str(path), path.stat().st_mtime_ns, w, h, element.fit, element.radius)
            image.paste(img, (x, y), img)
        else:
            layers.draw_shape(
                image, element.kind, element.box, element.fill, element.radius, element.outline, element.outline_width,
                element.outline_style,
            )

    def compose(self, template: Template, size: tuple[int, int], variables: dict[str, Any],
                images: Mapping[str, Path | None] | Path | None) -> Composition:
        """``images``: image_sources(context), or just the product image path."""
        if images is None or isinstance(images, (str, Path)):
            images = {PRODUCT: Path(images) if images is not None else None}
        layout = template.layout(size)
        result = Composition(self.background(template, size).copy())
        skip = baked(layout)
        for i, element in enumerate(layout.elements):
            if not element.visible(variables):
                continue
            result.visible.append(element)
            if i in skip:
                result.baked.add(element.name)
                continue
            x, y, w, h = element.box
            if element.kind == "image" and element.source in PRODUCT_SOURCES:
                image_path = images.get(element.source)
                img, warning = layers.product_image(image_path, w, h, element.fit, element.radius)
                if warning:
                    result.warnings.append(warning)
                elif image_path is not None:
                    result.products[element.name] = img
                    if result.product is None and element.source == PRODUCT:
                        result.product = img
                result.image.paste(img, (x, y), img)
            elif element.kind == "text":
                assert element.text is not None and element.style is not None
                style = element.style
                chain = self.chain(template, style.font)
                text = element.text.render(variables)
                fitted = fit_text(
                    text, chain, w, h, style.max_size, style.min_size, style.max_lines, style.line_spacing, style.step
                )
                result.fitted[element.name] = fitted
                result.warnings.extend(warnings_for(element.name, fitted, chain))
                draw_text(
                    result.image, element.box, fitted, chain, style.colour, style.align, style.valign, style.strike
                )
            else:
                self._draw_static(result.image, template, element)
        return result
