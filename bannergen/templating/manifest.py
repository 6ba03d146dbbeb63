"""template.toml: reading and checking template folders.

    templates = load_templates(Path("templates"))   # {"category-launch": Template, ...}

Every template is checked once, here, at the edge: unknown keys (with a "did you mean" hint),
wrong types, sizes without a layout, asset paths that leave assets/, and a dry run of every
Jinja expression over a sample context, so an unknown name or a sandbox violation fails at load
time rather than in the middle of a batch render.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jinja2

from bannergen.config import FORMATS
from bannergen.errors import TemplateError
from bannergen.templating.checks import check_keys, parse_colour, parse_size, require, resolve_asset, typed
from bannergen.templating.htmlcheck import hint_for, html_problems
from bannergen.templating.layout import load_layouts
from bannergen.templating.names import HTML_NAMES, SLOT_NAMES, TEXT_NAMES
from bannergen.templating.sandbox import TextExpression, describe, make_environment, name_hint
from bannergen.templating.template import FontSet, Template
from bannergen.types import BannerContext

log = logging.getLogger(__name__)

MANIFEST = "template.toml"
LAYOUT = "layout.toml"
HTML = "banner.html.j2"
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

_TOP_KEYS = ("id", "version", "description", "sizes", "scales", "slots", "suits", "priority", "headline", "cta",
             "fonts", "colours", "formats")
_SUITS_KEYS = ("categories", "requires_discount", "min_discount_pct", "requires_antecedent", "requires_items")
MAX_ITEMS = 3
_FONT_KEYS = ("regular", "bold", "fallbacks")

__all__ = ["HTML_NAMES", "SLOT_NAMES", "TEXT_NAMES", "load_template", "load_templates"]

# Dry-run contexts: one discounted, one not, one cross-sell carousel of three, so both branches of
# every `when` are evaluated.
_THIRD = BannerContext(item_id="sample-3", title="示例配件 Accessory", brand="示例品牌", category="相机",
                       price="¥199", price_value=199.0)
SAMPLE_CONTEXTS = (
    BannerContext(
        item_id="sample-1",
        title="示例商品 Sample Product 2025",
        brand="示例品牌",
        category="相机",
        price="¥4,999",
        price_value=4999.0,
        list_price="¥5,999",
        discount_pct=17,
        discount_text="省¥1,000",
        url="https://shop.example.com/p/1",
    ),
    BannerContext(
        item_id="sample-2", title="示例商品", brand="示例品牌", category="手机", price="¥1,999", price_value=1999.0
    ),
    replace(_THIRD, antecedent="示例商品 Sample Product", antecedent_id="sample-1", items=(_THIRD, _THIRD, _THIRD)),
)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TemplateError(f"{path}: not found", hint=f"every template folder needs a {path.name}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TemplateError(f"{path}: not valid TOML: {exc}") from exc


def _suits(raw: Any, where: str) -> tuple[tuple[str, ...] | None, bool, int, bool, int]:
    if not isinstance(raw, dict):
        raise TemplateError(f"{where}: missing [suits] table")
    check_keys(raw, _SUITS_KEYS, where)
    categories = raw.get("categories", "*")
    if categories == "*":
        cats = None
    elif isinstance(categories, list) and categories and all(isinstance(c, str) and c for c in categories):
        cats = tuple(categories)
    else:
        raise TemplateError(f"{where}: categories must be \"*\" or a non-empty list of names; got {categories!r}")
    min_pct = typed(raw, "min_discount_pct", int, where, 0)
    if not 0 <= min_pct < 100:
        raise TemplateError(f"{where}: min_discount_pct must be within 0..99; got {min_pct}")
    items = typed(raw, "requires_items", int, where, 1)
    if not 1 <= items <= MAX_ITEMS:
        raise TemplateError(f"{where}: requires_items must be within 1..{MAX_ITEMS}; got {items}")
    return (
        cats,
        typed(raw, "requires_discount", bool, where, False),
        min_pct,
        typed(raw, "requires_antecedent", bool, where, False),
        items,
    )


def _fonts(raw: Any, where: str) -> FontSet:
    if raw is None:
        return FontSet()
    if not isinstance(raw, dict):
        raise TemplateError(f"{where}: [fonts] must be a table")
    check_keys(raw, _FONT_KEYS, where)
    fallbacks = typed(raw, "fallbacks", list, where, [])
    names = [
        typed(raw, "regular", str, where, FontSet.regular),
        typed(raw, "bold", str, where, FontSet.bold),
        *fallbacks,
    ]
    for name in names:
        if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
            raise TemplateError(f"{where}: font must be a file name under assets/fonts/; got {name!r}")
    return FontSet(names[0], names[1], tuple(names[2:]))


def _dry_run(template: Template) -> None:
    """Render every expression over the sample contexts: unknown names and sandbox violations
    surface now, with the file and element that caused them."""
    for context in SAMPLE_CONTEXTS:
        template.headline(context)
        for size, layout in template.layouts.items():
            names = template.variables(context, size)
            names["headline"] = template.headline(context)
            for element in layout.elements:
                if element.visible(names) and element.text is not None:
                    element.text.render(names)


def _check_html(template: Template) -> None:
    where = f"{template.folder / HTML}"
    assert template.html_env is not None
    try:
        source = (template.folder / HTML).read_text(encoding="utf-8")
        ast = template.html_env.parse(source)
    except FileNotFoundError as exc:
        raise TemplateError(f"{where}: not found", hint="every template folder needs a banner.html.j2") from exc
    except UnicodeDecodeError as exc:
        raise TemplateError(f"{where}: not UTF-8 text: {exc}") from exc
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{where}: {describe(exc)}") from exc
    problems = html_problems(ast, source, template.folder)
    if problems:
        line, problem = problems[0]
        hint = name_hint(problem, HTML_NAMES) if problem.startswith("unknown name") else hint_for(problem)
        raise TemplateError(f"{where}: line {line}: {problem}", hint=hint)


def load_template(folder: Path, assets_dir: Path | None = None, errors: list[TemplateError] | None = None) -> Template:
    """Parse and check one template folder. ``assets_dir``, when given, must hold every font and
    image the template names (checked with resolve(): nothing may leave assets/). ``errors``:
    collect every broken layout section and element there (the first still raises)."""
    folder = Path(folder).resolve()
    path = folder / MANIFEST
    where = str(path)
    raw = _read_toml(path)
    check_keys(raw, _TOP_KEYS, where)
    tid = require(raw, "id", str, where)
    if not _ID.match(tid):
        raise TemplateError(f"{where}: id must be lowercase letters, digits and '-'; got {tid!r}")
    if tid != folder.name:
        raise TemplateError(f"{where}: id {tid!r} differs from the folder name {folder.name!r}")
    labels = require(raw, "sizes", list, where)
    if not labels:
        raise TemplateError(f"{where}: 'sizes' must list at least one size like '1200x400'")
    sizes = tuple(dict.fromkeys(parse_size(s, f"{where}: sizes") for s in labels))
    slots = tuple(require(raw, "slots", list, where))
    bad_slots = [s for s in slots if s not in SLOT_NAMES]
    if bad_slots:
        raise TemplateError(
            f"{where}: unknown slots {bad_slots}", hint=f"slots are BannerContext fields: {list(SLOT_NAMES)}"
        )
    scales = typed(raw, "scales", list, where, [1])
    if (
        not scales
        or any(not isinstance(k, int) or isinstance(k, bool) or k not in (1, 2, 3) for k in scales)
        or 1 not in scales
    ):
        raise TemplateError(f"{where}: scales must list pixel densities from 1, 2, 3 and include 1; got {scales!r}")
    scales = sorted(set(scales))
    all_sizes = tuple(dict.fromkeys((w * k, h * k) for k in scales for w, h in sizes))
    if len(all_sizes) != len(sizes) * len(scales):
        raise TemplateError(
            f"{where}: a size at scale 2 or 3 equals another size; got sizes {labels} x scales {scales}"
        )
    categories, requires_discount, min_pct, requires_antecedent, requires_items = _suits(
        raw.get("suits"), f"{where}: [suits]"
    )
    colours = typed(raw, "colours", dict, where, {})
    for name, value in colours.items():
        parse_colour(value, {}, f"{where}: colours.{name}")
    formats = typed(raw, "formats", list, where, None)
    if formats is not None and (not formats or any(f not in FORMATS for f in formats)):
        raise TemplateError(f"{where}: formats must be some of {list(FORMATS)}; got {formats!r}")
    text_env = make_environment(folder, html=False)
    html_env = make_environment(folder, html=True)
    headline_src = require(raw, "headline", str, where)
    template = Template(
        id=tid,
        version=str(require(raw, "version", (str, int), where)),
        description=typed(raw, "description", str, where, ""),
        folder=folder,
        sizes=all_sizes,
        base_sizes=sizes,
        scales=tuple(scales),
        categories=categories,
        requires_discount=requires_discount,
        min_discount_pct=min_pct,
        requires_antecedent=requires_antecedent,
        requires_items=requires_items,
        priority=typed(raw, "priority", float, where, 0.0),
        headline_source=headline_src,
        cta=typed(raw, "cta", str, where, ""),
        slots=slots,
        fonts=_fonts(raw.get("fonts"), f"{where}: [fonts]"),
        colours=MappingProxyType(dict(colours)),
        formats=tuple(formats) if formats is not None else None,
        layouts=MappingProxyType(load_layouts(folder / LAYOUT, sizes, colours, text_env, tuple(scales), errors)),
        text_env=text_env,
        html_env=html_env,
        _headline=TextExpression(text_env, headline_src, f"{where}: headline", TEXT_NAMES - {"headline"}),
    )
    _dry_run(template)
    _check_html(template)
    if assets_dir is not None:
        for rel in template.asset_paths():
            asset = resolve_asset(assets_dir, rel, where)
            if not asset.is_file():
                raise TemplateError(f"{where}: asset {rel!r} not found under {assets_dir}")
    return template


def load_templates(templates_dir: Path, *, assets_dir: Path | None = None,
                   on_error: Callable[[TemplateError], None] | None = None) -> dict[str, Template]:
    """Every template folder under ``templates_dir`` (a folder with a template.toml), by id,
    sorted by id. Raises TemplateError("file: problem") on the first bad template, unless
    ``on_error`` is given: then a bad template is passed to it and skipped, and the others load."""
    templates_dir = Path(templates_dir)
    if not templates_dir.is_dir():
        raise TemplateError(
            f"{templates_dir}: templates folder not found", hint="set paths.templates in bannergen.toml"
        )
    templates: dict[str, Template] = {}
    for folder in sorted(p for p in templates_dir.iterdir() if (p / MANIFEST).is_file()):
        try:
            template = load_template(folder, assets_dir)
        except TemplateError as error:
            if on_error is None:
                raise
            on_error(error)
            continue
        templates[template.id] = template
    if not templates:
        raise TemplateError(f"{templates_dir}: no template folders (each needs a {MANIFEST})")
    log.debug("loaded %d templates from %s", len(templates), templates_dir)
    return dict(sorted(templates.items()))
