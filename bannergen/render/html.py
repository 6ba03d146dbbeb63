"""Render banner.html.j2: the same slots in the same boxes as the image.

The template sees BannerContext.as_template_vars() plus ``size``, ``width``, ``height``,
``headline``, ``image_url`` (relative sidecar URL, "" for a placeholder), ``background_url``
(the cached background layer as a sidecar), ``fitted`` (per text element: font size and the
exact lines, with their positions, chosen by the text fitter) and ``boxes`` (per visible
element: position, size and colours). Autoescape is on; ``url`` is "" unless it is http(s).
"""

from __future__ import annotations

import logging
from typing import Any

import jinja2
from jinja2.sandbox import SecurityError

from bannergen.errors import TemplateError
from bannergen.render.fonts import Chain
from bannergen.render.image import Composition
from bannergen.render.text import line_offsets
from bannergen.templating.checks import RGBA
from bannergen.templating.limits import MAX_HTML_CHARS, evaluating
from bannergen.templating.manifest import HTML
from bannergen.templating.sandbox import describe, render_bounded, safe_url
from bannergen.templating.template import Template

log = logging.getLogger(__name__)


def css_colour(c: RGBA | None) -> str:
    if c is None:
        return "transparent"
    if c[3] == 255:
        return f"#{c[0]:02x}{c[1]:02x}{c[2]:02x}"
    return f"rgba({c[0]},{c[1]},{c[2]},{c[3] / 255:.3f})"


def view_model(composition: Composition, chains: dict[str, Chain]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(boxes, fitted) for the HTML template, from what the image renderer actually drew."""
    boxes: dict[str, Any] = {}
    fitted: dict[str, Any] = {}
    for element in composition.visible:
        x, y, w, h = element.box
        boxes[element.name] = {
            "kind": element.kind, "x": x, "y": y, "w": w, "h": h, "radius": element.radius,
            "fill": css_colour(element.fill), "outline": css_colour(element.outline),
            "outline_width": element.outline_width, "outline_style": element.outline_style, "fit": element.fit,
            "baked": element.name in composition.baked,  # already in the background sidecar
        }
        fit = composition.fitted.get(element.name)
        if fit is None or element.style is None:
            continue
        style = element.style
        chain = chains[style.font]
        offsets = line_offsets(fit, chain, w, h, style.align, style.valign)
        fitted[element.name] = {
            "size": fit.size,
            "line_height": fit.ascent + fit.descent,  # one line box per line: baseline at top + ascent
            "weight": 700 if style.font == "bold" else 400,
            "colour": css_colour(style.colour),
            "strike": style.strike,
            "truncated": fit.truncated,
            "text": " ".join(fit.lines),
            "lines": [
                {"text": line, "x": x + dx, "top": y + by - fit.ascent} for line, (dx, by) in zip(fit.lines, offsets)
            ],
        }
    return boxes, fitted


def render_html(template: Template, size: tuple[int, int], variables: dict[str, Any], composition: Composition,
                chains: dict[str, Chain], image_url: str, background_url: str, *,
                images: dict[str, str] | None = None, fonts: dict[str, str] | None = None) -> bytes:
    """The banner as UTF-8 HTML bytes. ``images``: element name -> sidecar URL of every product
    image drawn (absent: a placeholder); ``fonts``: {"regular", "bold"} -> font URL, or {}."""
    boxes, fitted = view_model(composition, chains)
    names = dict(variables)
    names.update(url=safe_url(variables.get("url", "")), image_url=image_url, background_url=background_url,
                 boxes=boxes, fitted=fitted, images=images or {}, fonts=fonts or {})
    assert template.html_env is not None
    where = str(template.folder / HTML)
    try:
        with evaluating(where):
            source = template.html_env.get_template(HTML)
    except (jinja2.TemplateError, SecurityError) as exc:
        raise TemplateError(f"{where}: {describe(exc)}") from exc
    return render_bounded(source, names, MAX_HTML_CHARS, where).encode("utf-8")
