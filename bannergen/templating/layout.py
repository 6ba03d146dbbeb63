"""layout.toml: the Pillow layout of a template, one section per size.

A section holds one background and an ordered list of elements (later elements draw on top).
Element kinds: ``text`` (a Jinja expression fitted into a box), ``image`` (the product image or an
image under assets/), ``rect`` and ``ellipse`` (shapes, e.g. a rounded badge). Any element may
carry ``when``, a Jinja condition such as ``has_discount``; it is drawn only when true.
See docs/templates.md for every key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

from bannergen.errors import TemplateError
from bannergen.size import Size
from bannergen.templating.checks import (
    RGBA,
    Box,
    check_asset_path,
    check_keys,
    parse_box,
    parse_colour,
    parse_size,
    require,
    typed,
)
from bannergen.templating.names import TEXT_NAMES
from bannergen.templating.sandbox import Condition, TextExpression

BACKGROUND_KINDS = ("solid", "gradient", "image")
DIRECTIONS = ("horizontal", "vertical", "diagonal")
ELEMENT_KINDS = ("text", "image", "rect", "ellipse")
ALIGNS = ("left", "center", "right")
VALIGNS = ("top", "middle", "bottom")
FITS = ("contain", "cover")
OUTLINE_STYLES = ("solid", "dashed", "dotted")
PRODUCT = "product"  # the image source meaning "the item's own image"
# Image sources that come from the banner context rather than assets/: the item (or the first of
# ``items``), the second and third of ``items`` (the carousel), and the cross-sell antecedent.
PRODUCT_SOURCES: tuple[str, ...] = (PRODUCT, "product2", "product3", "antecedent")

_COMMON_KEYS = ("kind", "name", "box", "when")
_KEYS = {
    "text": _COMMON_KEYS + ("text", "font", "max_size", "min_size", "step", "colour", "align", "valign",
                            "max_lines", "line_spacing", "strike"),
    "image": _COMMON_KEYS + ("source", "fit", "radius"),
    "rect": _COMMON_KEYS + ("fill", "radius", "outline", "outline_width", "outline_style"),
    "ellipse": _COMMON_KEYS + ("fill", "outline", "outline_width", "outline_style"),
}
_BACKGROUND_KEYS = ("kind", "colour", "from", "to", "direction", "image")


@dataclass(frozen=True)
class Background:
    kind: str  # solid | gradient | image
    colour: RGBA  # solid colour, gradient start, or the fill under a transparent image
    colour_to: RGBA | None = None
    direction: str = "horizontal"
    image: str | None = None  # path under assets/


@dataclass(frozen=True)
class TextStyle:
    font: str  # "regular" | "bold"
    max_size: int
    min_size: int
    step: int
    colour: RGBA
    align: str
    valign: str
    max_lines: int
    line_spacing: float
    strike: bool


@dataclass(frozen=True, eq=False)
class Element:
    kind: str
    name: str
    box: Box
    when: Condition | None = None
    text: TextExpression | None = None
    style: TextStyle | None = None
    source: str = PRODUCT  # image: "product" or a path under assets/
    fit: str = "contain"
    radius: int = 0
    fill: RGBA | None = None
    outline: RGBA | None = None
    outline_width: int = 0
    outline_style: str = "solid"  # solid | dashed | dotted

    @property
    def is_static(self) -> bool:
        """Drawn identically for every item: can be baked into the cached background layer."""
        if self.when is not None:
            return False
        return self.kind in ("rect", "ellipse") or (self.kind == "image" and self.source not in PRODUCT_SOURCES)

    def visible(self, variables: dict[str, Any]) -> bool:
        return self.when is None or self.when(variables)


@dataclass(frozen=True, eq=False)
class Layout:
    size: tuple[int, int]
    background: Background
    elements: tuple[Element, ...]

    def asset_paths(self) -> tuple[str, ...]:
        paths = [self.background.image] if self.background.image else []
        paths += [e.source for e in self.elements if e.kind == "image" and e.source not in PRODUCT_SOURCES]
        return tuple(paths)

    def scaled(self, k: int) -> Layout:
        """This layout at ``k`` times the pixels (the @2x version): every box, font size, radius
        and outline multiplied by ``k``, so text wraps the same way at the higher density."""
        def box(b: Box) -> Box:
            return b[0] * k, b[1] * k, b[2] * k, b[3] * k

        elements = []
        for e in self.elements:
            style = e.style
            if style is not None:
                style = replace(style, max_size=style.max_size * k, min_size=style.min_size * k, step=style.step * k)
            elements.append(
                replace(e, box=box(e.box), style=style, radius=e.radius * k, outline_width=e.outline_width * k)
            )
        return Layout((self.size[0] * k, self.size[1] * k), self.background, tuple(elements))


def _background(raw: Any, colours: Mapping[str, str], where: str) -> Background:
    if not isinstance(raw, dict):
        raise TemplateError(f"{where}: missing [background] table")
    check_keys(raw, _BACKGROUND_KEYS, where)
    kind = require(raw, "kind", str, where)
    if kind not in BACKGROUND_KINDS:
        raise TemplateError(f"{where}: kind must be one of {list(BACKGROUND_KINDS)}; got {kind!r}")
    if kind == "solid":
        return Background("solid", parse_colour(require(raw, "colour", str, where), colours, f"{where}.colour"))
    if kind == "gradient":
        direction = typed(raw, "direction", str, where, "horizontal")
        if direction not in DIRECTIONS:
            raise TemplateError(f"{where}: direction must be one of {list(DIRECTIONS)}; got {direction!r}")
        return Background(
            "gradient",
            parse_colour(require(raw, "from", str, where), colours, f"{where}.from"),
            parse_colour(require(raw, "to", str, where), colours, f"{where}.to"),
            direction,
        )
    image = check_asset_path(require(raw, "image", str, where), f"{where}.image")
    colour = parse_colour(typed(raw, "colour", str, where, "#ffffff"), colours, f"{where}.colour")
    return Background("image", colour, image=image)


def _text_style(raw: dict[str, Any], colours: Mapping[str, str], where: str) -> TextStyle:
    font = typed(raw, "font", str, where, "regular")
    if font not in ("regular", "bold"):
        raise TemplateError(f"{where}: font must be 'regular' or 'bold'; got {font!r}")
    max_size = require(raw, "max_size", int, where)
    min_size = typed(raw, "min_size", int, where, max_size)
    if not 4 <= min_size <= max_size <= 400:
        raise TemplateError(
            f"{where}: need 4 <= min_size <= max_size <= 400; got min_size={min_size}, max_size={max_size}"
        )
    align = typed(raw, "align", str, where, "left")
    valign = typed(raw, "valign", str, where, "top")
    if align not in ALIGNS or valign not in VALIGNS:
        raise TemplateError(
            f"{where}: align must be one of {list(ALIGNS)} and valign one of {list(VALIGNS)}; got {align!r}, {valign!r}"
        )
    max_lines = typed(raw, "max_lines", int, where, 1)
    spacing = typed(raw, "line_spacing", float, where, 1.25)
    step = typed(raw, "step", int, where, 2)
    if max_lines < 1 or not 0.8 <= spacing <= 3.0 or step < 1:
        raise TemplateError(
            f"{where}: need max_lines >= 1, 0.8 <= line_spacing <= 3, step >= 1; got {max_lines}, {spacing}, {step}"
        )
    return TextStyle(
        font=font,
        max_size=max_size,
        min_size=min_size,
        step=step,
        colour=parse_colour(typed(raw, "colour", str, where, "#000000"), colours, f"{where}.colour"),
        align=align,
        valign=valign,
        max_lines=max_lines,
        line_spacing=spacing,
        strike=typed(raw, "strike", bool, where, False),
    )


def _element(
    raw: Any, index: int, size: tuple[int, int], colours: Mapping[str, str], env: SandboxedEnvironment, where: str
) -> Element:
    where = f"{where}.elements[{index}]"
    if not isinstance(raw, dict):
        raise TemplateError(f"{where}: must be a table; got {raw!r}")
    kind = require(raw, "kind", str, where)
    if kind not in ELEMENT_KINDS:
        raise TemplateError(f"{where}: kind must be one of {list(ELEMENT_KINDS)}; got {kind!r}")
    check_keys(raw, _KEYS[kind], where)
    name = typed(raw, "name", str, where, f"{kind}{index}")
    where = f"{where} ({name})"
    box = parse_box(require(raw, "box", list, where), size, where)
    when_src = typed(raw, "when", str, where, None)
    when = Condition(env, when_src, f"{where}.when", TEXT_NAMES) if when_src else None
    outline = raw.get("outline")
    common: dict[str, Any] = {"kind": kind, "name": name, "box": box, "when": when}
    if kind == "text":
        return Element(
            **common,
            text=TextExpression(env, require(raw, "text", str, where), f"{where}.text", TEXT_NAMES),
            style=_text_style(raw, colours, where),
        )
    if kind == "image":
        source = typed(raw, "source", str, where, PRODUCT)
        if source not in PRODUCT_SOURCES:
            source = check_asset_path(source, f"{where}.source")
        fit = typed(raw, "fit", str, where, "contain")
        if fit not in FITS:
            raise TemplateError(f"{where}: fit must be one of {list(FITS)}; got {fit!r}")
        return Element(**common, source=source, fit=fit, radius=typed(raw, "radius", int, where, 0))
    outline_style = typed(raw, "outline_style", str, where, "solid")
    if outline_style not in OUTLINE_STYLES:
        raise TemplateError(f"{where}: outline_style must be one of {list(OUTLINE_STYLES)}; got {outline_style!r}")
    return Element(
        **common,
        outline_style=outline_style,
        fill=parse_colour(typed(raw, "fill", str, where, "#00000000"), colours, f"{where}.fill"),
        radius=typed(raw, "radius", int, where, 0) if kind == "rect" else 0,
        outline=parse_colour(outline, colours, f"{where}.outline") if outline is not None else None,
        outline_width=typed(raw, "outline_width", int, where, 1 if outline is not None else 0),
    )


def load_layouts(
    path: Path,
    sizes: tuple[tuple[int, int], ...],
    colours: Mapping[str, str],
    env: SandboxedEnvironment,
    scales: tuple[int, ...] = (1,),
    errors: list[TemplateError] | None = None,
) -> dict[tuple[int, int], Layout]:
    """Parse ``path`` (layout.toml); it must have one [sizes."WxH"] section per manifest size.

    For every scale k > 1 the k-times layout is derived from the 1x section (``Layout.scaled``)
    unless layout.toml has its own section for that pixel size (e.g. [sizes."2400x800"]).

    ``errors``: collect the problems of every size section and element (what `templates validate`
    reports, all at once) and raise the first at the end; without it the first problem raises."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TemplateError(f"{path}: not found", hint="every template folder needs a layout.toml") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TemplateError(f"{path}: not valid TOML: {exc}") from exc
    check_keys(raw, ("sizes",), str(path))
    sections = raw.get("sizes", {})
    if not isinstance(sections, dict):
        raise TemplateError(f"{path}: 'sizes' must be a table of [sizes.\"WxH\"] sections")
    wanted = {str(Size(*s)): s for s in sizes}
    derived = {str(Size(*s).scaled(k)): (s, k) for s in sizes for k in scales if k > 1}
    for label in sections:
        parse_size(label, str(path))
        if label not in wanted and label not in derived:
            raise TemplateError(
                f'{path}: section sizes."{label}" is not one of the manifest sizes {list(wanted) + list(derived)}'
            )
    wanted.update({label: parse_size(label, str(path)) for label in derived if label in sections})
    found: list[TemplateError] = [] if errors is None else errors
    before = len(found)

    def attempt(parse, *args):
        """parse(*args), or None after noting its problem (collecting) / raising it (not collecting)."""
        try:
            return parse(*args)
        except TemplateError as error:
            if errors is None:
                raise
            found.append(error)
            return None

    layouts: dict[tuple[int, int], Layout] = {}
    for label, size in wanted.items():
        layout = attempt(
            _size_layout, sections.get(label), label, size, colours, env, f'{path}: sizes."{label}"', attempt
        )
        if layout is not None:
            layouts[size] = layout
    if len(found) > before:
        raise found[before]
    for base, k in derived.values():
        size = (base[0] * k, base[1] * k)
        if size not in layouts:
            layouts[size] = layouts[base].scaled(k)
    return layouts


def _size_layout(section, label: str, size: tuple[int, int], colours: Mapping[str, str], env: SandboxedEnvironment,
                 where: str, attempt) -> Layout | None:
    """One [sizes."WxH"] section; each element is parsed through ``attempt`` (so a collecting
    caller hears of every broken element, not just the first). None when an element failed."""
    if not isinstance(section, dict):
        raise TemplateError(f"{where}: missing", hint="add a layout section for every size in template.toml")
    check_keys(section, ("background", "elements"), where)
    elements = section.get("elements", [])
    if not isinstance(elements, list):
        raise TemplateError(f"{where}: 'elements' must be an array of tables ([[sizes.\"{label}\".elements]])")
    parsed = [attempt(_element, e, i, size, colours, env, where) for i, e in enumerate(elements)]
    background = attempt(_background, section.get("background"), colours, f"{where}.background")
    if background is None or any(e is None for e in parsed):
        return None
    names = [e.name for e in parsed]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise TemplateError(f"{where}: element names must be unique; repeated: {dupes}")
    return Layout(size, background, tuple(parsed))
