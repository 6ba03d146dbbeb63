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
from bannergen.size import Size
from bannergen.templating.campaign import KEYS as CAMPAIGN_KEYS
from bannergen.templating.campaign import parse_campaign
from bannergen.templating.checks import check_keys, parse_colour, parse_size, require, resolve_asset, typed
from bannergen.templating.htmlcheck import HTML_FILE, hint_for, html_problems
from bannergen.templating.layout import load_layouts
from bannergen.templating.limits import MAX_CANVAS_SIDE, MAX_SCALED_SIDE
from bannergen.templating.names import HTML_NAMES, SLOT_NAMES, TEXT_NAMES
from bannergen.templating.sandbox import TextExpression, describe, make_environment, name_hint
from bannergen.templating.template import FontSet, Template
from bannergen.types import BannerContext

log = logging.getLogger(__name__)

MANIFEST = "template.toml"
LAYOUT = "layout.toml"
HTML = HTML_FILE
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

_TOP_KEYS = ("id", "version", "description", "sizes", "scales", "slots", "suits", "priority", "headline", "cta",
             "fonts", "colours", "formats", *CAMPAIGN_KEYS)
_SUITS_KEYS = ("categories", "requires_discount", "min_discount_pct", "requires_antecedent", "requires_items")
MAX_ITEMS = 3
_FONT_KEYS = ("regular", "bold", "fallbacks")

__all__ = ["HTML_NAMES", "SLOT_NAMES", "TEXT_NAMES", "load_template", "load_templates", "load_usable_templates"]

# Dry-run contexts: one discounted, new and on sale, one not, one cross-sell carousel of three, so
# both branches of every `when` and claim are evaluated.
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
        list_price_value=5999.0,
        saving_value=1000.0,
        is_new=True,
        is_sale=True,
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
    except OSError as exc:  # unreadable: this template is broken, the others are not
        raise TemplateError(f"{path}: cannot be read: {exc.strerror or exc}") from exc


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


def _html_problems(template: Template) -> list[TemplateError]:
    """Every problem of banner.html.j2, each its own error "file: line N: problem"."""
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
    first_per_line = dict(reversed(html_problems(ast, source, template.folder)))  # ''.__class__.__mro__: one
    return [
        TemplateError(f"{where}: line {line}: {problem}",
                      hint=name_hint(problem, HTML_NAMES) if problem.startswith("unknown ") else hint_for(problem))
        for line, problem in sorted(first_per_line.items())
    ]


class _Collector:
    """Runs the independent checks of one template. Collecting (``errors`` given), a failed check
    is noted and its ``default`` used, so every problem of every file is found in one pass;
    otherwise the first failure raises."""

    def __init__(self, errors: list[TemplateError] | None) -> None:
        self.errors = errors
        self.before = len(errors) if errors is not None else 0

    def __call__(self, check: Callable[..., Any], *args: Any, default: Any = None) -> Any:
        try:
            return check(*args)
        except TemplateError as error:
            self.note(error)
            return default

    def note(self, error: TemplateError) -> None:
        if self.errors is None:
            raise error
        if not any(error is seen for seen in self.errors):  # load_layouts notes its own before raising
            self.errors.append(error)

    @property
    def failed(self) -> bool:
        return self.errors is not None and len(self.errors) > self.before

    def raise_first(self) -> None:
        if self.errors is not None and self.failed:
            raise self.errors[self.before]


def _check_id(raw: dict[str, Any], folder: Path, where: str) -> str:
    tid = require(raw, "id", str, where)
    if not _ID.match(tid):
        raise TemplateError(f"{where}: id must be lowercase letters, digits and '-'; got {tid!r}")
    if tid != folder.name:
        raise TemplateError(f"{where}: id {tid!r} differs from the folder name {folder.name!r}")
    return tid


def _sizes(raw: dict[str, Any], where: str) -> tuple[Size, ...]:
    labels = require(raw, "sizes", list, where)
    if not labels:
        raise TemplateError(f"{where}: 'sizes' must list at least one size like '1200x400'")
    sizes = tuple(dict.fromkeys(parse_size(s, f"{where}: sizes") for s in labels))
    too_big = [str(s) for s in sizes if max(s) > MAX_CANVAS_SIDE]
    if too_big:
        raise TemplateError(
            f"{where}: sizes: {too_big[0]} is larger than {MAX_CANVAS_SIDE} pixels a side",
            hint=f"list 1x sizes of at most {MAX_CANVAS_SIDE}x{MAX_CANVAS_SIDE}; 2x versions come from 'scales'",
        )
    return sizes


def _slot_errors(raw: dict[str, Any], where: str) -> list[TemplateError]:
    import difflib

    slots = require(raw, "slots", list, where)
    errors = []
    for slot in slots:
        if slot not in SLOT_NAMES:
            close = difflib.get_close_matches(str(slot), SLOT_NAMES, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"slots are BannerContext fields: {list(SLOT_NAMES)}"
            errors.append(TemplateError(f"{where}: slots: unknown slot {slot!r}", hint=hint))
    return errors


def _scales(raw: dict[str, Any], sizes: tuple[Size, ...], where: str) -> list[int]:
    scales = typed(raw, "scales", list, where, [1])
    if (
        not scales
        or any(not isinstance(k, int) or isinstance(k, bool) or k not in (1, 2, 3) for k in scales)
        or 1 not in scales
    ):
        raise TemplateError(f"{where}: scales must list pixel densities from 1, 2, 3 and include 1; got {scales!r}")
    scales = sorted(set(scales))
    too_big = [(s, k) for k in scales for s in sizes if max(s) * k > MAX_SCALED_SIDE]
    if too_big:
        (size, k), = too_big[:1]
        raise TemplateError(
            f"{where}: scales: {size} at {k}x would be {max(size) * k} pixels a side, above {MAX_SCALED_SIDE}",
            hint="drop that scale, or list a smaller 1x size",
        )
    all_sizes = {(w * k, h * k) for k in scales for w, h in sizes}
    if len(all_sizes) != len(sizes) * len(scales):
        raise TemplateError(
            f"{where}: scales: a size at scale 2 or 3 equals another size; got sizes "
            f"{[str(s) for s in sizes]} x scales {scales}"
        )
    return scales


def _colours(raw: dict[str, Any], where: str) -> dict[str, str]:
    colours = typed(raw, "colours", dict, where, {})
    for name, value in colours.items():
        parse_colour(value, {}, f"{where}: colours.{name}")
    return colours


def _formats(raw: dict[str, Any], where: str) -> list[str] | None:
    formats = typed(raw, "formats", list, where, None)
    if formats is not None and (not formats or any(f not in FORMATS for f in formats)):
        raise TemplateError(f"{where}: formats must be some of {list(FORMATS)}; got {formats!r}")
    return formats


def load_template(folder: Path, assets_dir: Path | None = None, errors: list[TemplateError] | None = None) -> Template:
    """Parse and check one template folder. ``assets_dir``, when given, must hold every font and
    image the template names (checked with resolve(): nothing may leave assets/). ``errors``:
    collect there every problem of every file the checks can reach in one pass (template.toml,
    layout.toml, banner.html.j2); the first still raises."""
    folder = Path(folder).resolve()
    path = folder / MANIFEST
    where = str(path)
    raw = _read_toml(path)
    attempt = _Collector(errors)
    for key in raw:
        attempt(check_keys, {key: None}, _TOP_KEYS, where)
    tid = attempt(_check_id, raw, folder, where, default=folder.name)
    sizes = attempt(_sizes, raw, where)
    for error in attempt(_slot_errors, raw, where, default=[]):
        attempt.note(error)
    scales = attempt(_scales, raw, sizes or (), where, default=[1])
    categories, requires_discount, min_pct, requires_antecedent, requires_items = attempt(
        _suits, raw.get("suits"), f"{where}: [suits]", default=(None, False, 0, False, 1)
    )
    colours = attempt(_colours, raw, where, default={})
    formats = attempt(_formats, raw, where)
    campaign = attempt(parse_campaign, raw, where)
    text_env = make_environment(folder, html=False)
    html_env = make_environment(folder, html=True)
    headline_src = attempt(require, raw, "headline", str, where, default="")
    layouts = {}
    if sizes:
        layouts = attempt(load_layouts, folder / LAYOUT, sizes, colours, text_env, tuple(scales), errors, default={})
    template = Template(
        id=tid,
        version=str(attempt(require, raw, "version", (str, int), where, default="")),
        description=attempt(typed, raw, "description", str, where, ""),
        folder=folder,
        sizes=tuple(dict.fromkeys((w * k, h * k) for k in scales for w, h in sizes or ())),
        base_sizes=sizes or (),
        scales=tuple(scales),
        categories=categories,
        requires_discount=requires_discount,
        min_discount_pct=min_pct,
        requires_antecedent=requires_antecedent,
        requires_items=requires_items,
        priority=attempt(typed, raw, "priority", float, where, 0.0, default=0.0),
        headline_source=headline_src,
        cta=attempt(typed, raw, "cta", str, where, "", default=""),
        slots=tuple(s for s in raw.get("slots", ()) if s in SLOT_NAMES),
        fonts=attempt(_fonts, raw.get("fonts"), f"{where}: [fonts]", default=FontSet()),
        colours=MappingProxyType(dict(colours)),
        formats=tuple(formats) if formats is not None else None,
        **({"campaign": campaign} if campaign is not None else {}),
        layouts=MappingProxyType(layouts),
        text_env=text_env,
        html_env=html_env,
        _headline=attempt(TextExpression, text_env, headline_src, f"{where}: headline", TEXT_NAMES - {"headline"}),
    )
    if not attempt.failed:  # a dry run of a half-read template would only repeat what is already known
        attempt(_dry_run, template)
    for error in attempt(_html_problems, template, default=[]):
        attempt.note(error)
    if assets_dir is not None:
        for rel in template.asset_paths():
            attempt(_check_asset, assets_dir, rel, where)
    attempt.raise_first()
    return template


def _check_asset(assets_dir: Path, rel: str, where: str) -> None:
    if not resolve_asset(assets_dir, rel, where).is_file():
        raise TemplateError(f"{where}: asset {rel!r} not found under {assets_dir}")


def load_templates(templates_dir: Path, *, assets_dir: Path | None = None,
                   on_error: Callable[[TemplateError], None] | None = None) -> dict[str, Template]:
    """Every template folder under ``templates_dir`` (a folder with a template.toml), by id,
    sorted by id. Raises TemplateError("file: problem") on the first bad template, unless
    ``on_error`` is given: then a bad template is passed to it and skipped, and the others load
    (a TemplateError still when none is left)."""
    templates_dir = Path(templates_dir)
    if not templates_dir.is_dir():
        raise TemplateError(
            f"{templates_dir}: templates folder not found", hint="set paths.templates in bannergen.toml"
        )
    templates: dict[str, Template] = {}
    broken: list[TemplateError] = []
    for folder in sorted(p for p in templates_dir.iterdir() if (p / MANIFEST).is_file()):
        try:
            template = load_template(folder, assets_dir)
        except TemplateError as error:
            if on_error is None:
                raise
            broken.append(error)
            on_error(error)
            continue
        templates[template.id] = template
    if broken and not templates:
        raise TemplateError(f"{templates_dir}: no template is left: all {len(broken)} are broken; the first: "
                            f"{broken[0].message}", hint="run: bannergen templates validate")
    if not templates:
        raise TemplateError(f"{templates_dir}: no template folders (each needs a {MANIFEST})")
    log.debug("loaded %d templates from %s", len(templates), templates_dir)
    return dict(sorted(templates.items()))


def load_usable_templates(templates_dir: Path, *, assets_dir: Path | None = None,
                          quiet: bool = False) -> dict[str, Template]:
    """The templates a render can use: ``load_templates`` that skips every broken one (whatever
    file is broken) with a one-line warning "skipped template ID: file: problem" (a debug line
    when ``quiet``, for render workers that load the same folder again). TemplateError (exit 2)
    only when no template is left."""
    def skipped(error: TemplateError) -> None:
        folder = Path(error.message.split(": ", 1)[0]).parent.name
        (log.debug if quiet else log.warning)("skipped template %s: %s", folder, error)

    return load_templates(templates_dir, assets_dir=assets_dir, on_error=skipped)
