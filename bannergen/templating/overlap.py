"""Boxes that collide: text on text, or text running into a badge it does not belong to.

    for size, index, problem in overlaps(template, contexts):
        ...   # (1200, 400), 5, "text 'price' overlaps text 'old_price' by 120x12 px"

Two elements collide only when both are drawn for the same banner, so visibility is decided over
the given sample contexts (a struck list price and a "new" tag shown for different items may
share a place). A badge is a rect or ellipse that holds a text whole (the "-17%" in its disc); any
other text that reaches into it would be drawn over or under the badge.
"""

from __future__ import annotations

from collections.abc import Iterable

from bannergen.templating.checks import Box
from bannergen.templating.layout import Element, Layout
from bannergen.templating.template import Template
from bannergen.types import BannerContext


def intersection(a: Box, b: Box) -> tuple[int, int]:
    """(width, height) of the overlap of two [x, y, w, h] boxes; (0, 0) when they do not meet."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return (w, h) if w > 0 and h > 0 else (0, 0)


def contains(outer: Box, inner: Box) -> bool:
    return (outer[0] <= inner[0] and outer[1] <= inner[1]
            and inner[0] + inner[2] <= outer[0] + outer[2] and inner[1] + inner[3] <= outer[1] + outer[3])


def _shown_together(template: Template, layout: Layout, contexts: Iterable[BannerContext]) -> set[tuple[int, int]]:
    """Pairs (i, j), i < j, of elements drawn together for at least one context."""
    pairs: set[tuple[int, int]] = set()
    for context in contexts:
        names = template.variables(context, layout.size)
        names["headline"] = template.headline(context)
        shown = [i for i, e in enumerate(layout.elements) if e.visible(names)]
        pairs.update((a, b) for n, a in enumerate(shown) for b in shown[n + 1:])
    return pairs


def _badges(elements: tuple[Element, ...]) -> dict[int, set[int]]:
    """{shape index: indexes of the texts it holds whole} for every shape that holds a text."""
    badges: dict[int, set[int]] = {}
    for s, shape in enumerate(elements):
        if shape.kind in ("rect", "ellipse"):
            held = {t for t, e in enumerate(elements) if e.kind == "text" and contains(shape.box, e.box)}
            if held:
                badges[s] = held
    return badges


def overlaps(template: Template, contexts: Iterable[BannerContext]) -> list[tuple[tuple[int, int], int, str]]:
    """(1x size, element index, problem) for every collision in the template's 1x layouts."""
    contexts = tuple(contexts)
    found: list[tuple[tuple[int, int], int, str]] = []
    for size in template.base_sizes or template.sizes:
        layout = template.layouts.get(size)
        if layout is None:
            continue
        elements = layout.elements
        together = _shown_together(template, layout, contexts)
        badges = _badges(elements)
        for i, j in sorted(together):
            a, b = elements[i], elements[j]
            w, h = intersection(a.box, b.box)
            if not w:
                continue
            if a.kind == "text" and b.kind == "text":
                found.append((size, j, f"text '{b.name}' overlaps text '{a.name}' by {w}x{h} px"))
                continue
            for badge, text in ((i, j), (j, i)):
                if badge in badges and elements[text].kind == "text" and text not in badges[badge]:
                    found.append((size, text, f"text '{elements[text].name}' runs into the badge "
                                              f"'{elements[badge].name}' by {w}x{h} px"))
    return found
