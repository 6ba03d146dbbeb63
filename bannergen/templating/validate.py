"""`templates validate`: every check of one template folder, as findings with file and line.

    findings = validate_templates(Path("templates"), Path("assets"))   # {folder name: [Finding]}
    for f in findings["price-drop"]: print(f)   # templates/price-drop/layout.toml:35: ... (hint: ...)

A folder is checked on its own, so one broken template never hides the state of the others:
the manifest and layout schema, Jinja syntax and sandbox policy, the HTML rules (see
htmlcheck.py), fonts that load and cover the template's own static text, assets that exist
under assets/ and are real PNG/JPEG/WebP images within the pixel limit, boxes inside the
canvas at every size, and one trial render per size.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from jinja2 import nodes

from bannergen.errors import BannergenError, TemplateError
from bannergen.size import Size
from bannergen.templating.checks import resolve_asset
from bannergen.templating.locate import line_of, locate
from bannergen.templating.manifest import HTML, LAYOUT, MANIFEST, SAMPLE_CONTEXTS, load_template
from bannergen.templating.overlap import overlaps
from bannergen.templating.template import Template

log = logging.getLogger(__name__)

ASSET_FORMATS = {"PNG": (".png",), "JPEG": (".jpg", ".jpeg"), "WEBP": (".webp",)}
MAX_ASSET_PIXELS = 4096 * 4096  # a banner is at most 2400x800; anything bigger is a mistake or a bomb


def _file_order(file: str) -> int:  # findings read top-down: manifest, layout, HTML, the rest
    name = Path(file).name
    return (MANIFEST, LAYOUT, HTML).index(name) if name in (MANIFEST, LAYOUT, HTML) else 3


@dataclass(frozen=True)
class Finding:
    """One problem: ``file:line: problem (hint: ...)``."""

    file: str
    line: int
    problem: str
    hint: str | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.problem}" + (f" (hint: {self.hint})" if self.hint else "")

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "problem": self.problem, "hint": self.hint}


def from_error(error: BannergenError, fallback_file: Path) -> Finding:
    file, line, problem = locate(error.message)
    return Finding(file or str(fallback_file), line, problem, error.hint)


def validate_templates(templates_dir: Path, assets_dir: Path, only: tuple[str, ...] = ()) -> dict[str, list[Finding]]:
    """{folder name: findings} for every template folder (a folder with a template.toml)."""
    templates_dir = Path(templates_dir)
    if not templates_dir.is_dir():
        raise TemplateError(
            f"{templates_dir}: templates folder not found", hint="set paths.templates in bannergen.toml"
        )
    folders = sorted(p for p in templates_dir.iterdir() if (p / MANIFEST).is_file())
    if only:
        missing = sorted(set(only) - {p.name for p in folders})
        if missing:
            raise TemplateError(
                f"{templates_dir}: no template folder {missing[0]!r}", hint=f"templates: {[p.name for p in folders]}"
            )
        folders = [p for p in folders if p.name in only]
    return {folder.name: validate_template(folder, assets_dir) for folder in folders}


def validate_template(folder: Path, assets_dir: Path) -> list[Finding]:
    folder = Path(folder).resolve()
    layout_errors: list[TemplateError] = []  # every broken layout section and element, not just the first
    try:
        template = load_template(folder, errors=layout_errors)
    except BannergenError as error:
        errors = layout_errors if error in layout_errors else [error]
        return sorted((from_error(e, folder / MANIFEST) for e in errors), key=lambda f: (_file_order(f.file), f.line))
    findings = _fonts(template, Path(assets_dir)) + _assets(template, Path(assets_dir)) + _overlaps(template)
    if not findings:
        findings += _coverage(template, Path(assets_dir))
    if not findings:
        findings += _trial_render(template, Path(assets_dir))
    return findings


def _overlaps(template: Template) -> list[Finding]:
    """Text on text and text running into a badge, at the line of the later element's box."""
    layout_file = template.folder / LAYOUT
    out = []
    for size, index, problem in overlaps(template, SAMPLE_CONTEXTS):
        label = str(Size(*size))
        element = template.layouts[size].elements[index]
        out.append(Finding(str(layout_file), line_of(layout_file, ("sizes", label, "elements", index, "box")),
                           f'sizes."{label}" element \'{element.name}\': {problem}',
                           "move or shrink one of the boxes, or show them for different items ('when')"))
    return out


def _manifest_line(template: Template, *keys: object) -> int:
    return line_of(template.folder / MANIFEST, tuple(keys))


def _fonts(template: Template, assets_dir: Path) -> list[Finding]:
    from fontTools.ttLib import TTFont, TTLibError
    from PIL import ImageFont

    out: list[Finding] = []
    named = [("regular", template.fonts.regular), ("bold", template.fonts.bold)]
    named += [("fallbacks", name) for name in template.fonts.fallbacks]
    file = str(template.folder / MANIFEST)
    for key, name in named:
        line = _manifest_line(template, "fonts", key)
        try:
            path = resolve_asset(assets_dir, f"fonts/{name}", file)
        except TemplateError as error:
            out.append(Finding(file, line, error.message.split(": ", 1)[-1], error.hint))
            continue
        if not path.is_file():
            out.append(Finding(file, line, f"font '{name}' not found under {assets_dir}/fonts/",
                               "put the .otf/.ttf file in assets/fonts/ or name a shipped one"))
            continue
        try:
            with TTFont(str(path), lazy=True) as font:
                if not font.getBestCmap():
                    raise TTLibError("no Unicode character map")
            ImageFont.truetype(str(path), 12)
        except (OSError, TTLibError, ValueError, AssertionError) as exc:
            out.append(
                Finding(
                    file,
                    line,
                    f"font '{name}' cannot be read: {type(exc).__name__}: {exc}",
                    "replace it with a valid OpenType/TrueType file (tools/subset_fonts.py makes the shipped ones)",
                )
            )
    return out


def _asset_refs(template: Template) -> list[tuple[str, tuple[str | int, ...]]]:
    """(asset path, layout key path) of every image the 1x layouts name."""
    refs: list[tuple[str, tuple[str | int, ...]]] = []
    for size in template.base_sizes or template.sizes:
        label = str(Size(*size))
        layout = template.layouts[size]
        if layout.background.image:
            refs.append((layout.background.image, ("sizes", label, "background", "image")))
        for i, e in enumerate(layout.elements):
            if e.kind == "image" and e.is_static:
                refs.append((e.source, ("sizes", label, "elements", i, "source")))
    return refs


def check_image_file(path: Path) -> tuple[str, str] | None:
    """(problem, hint) when ``path`` is not an allowed image within the pixel limit, else None.
    Reads the header first, so a decompression bomb is refused before any pixel is decoded."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            fmt, (w, h) = img.format or "?", img.size
            if fmt not in ASSET_FORMATS:
                return (f"{path.name} is a {fmt} image, not one of PNG, JPEG, WebP", "re-export it as PNG or WebP")
            if w * h > MAX_ASSET_PIXELS:
                return _too_big(path, w * h)
            if path.suffix.lower() not in ASSET_FORMATS[fmt]:
                return (f"{path.name} is a {fmt} image but its name says {path.suffix or 'nothing'}",
                        f"rename it to {path.stem}{ASSET_FORMATS[fmt][0]} or re-export it")
            img.load()
    except Image.DecompressionBombError as exc:  # Pillow's own limit, hit while reading the header
        import re

        count = re.search(r"\((\d+) pixels\)", str(exc))
        return _too_big(path, int(count.group(1)) if count else MAX_ASSET_PIXELS + 1)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        return (f"{path.name} is not a readable image: {type(exc).__name__}: {exc}", "re-export it as PNG or WebP")
    return None


def _too_big(path: Path, pixels: int) -> tuple[str, str]:
    return (f"{path.name} has {pixels:,} pixels, above the limit of {MAX_ASSET_PIXELS:,} (4096x4096)",
            "resize it; an image this large is refused before it is decoded (decompression bomb)")


def _assets(template: Template, assets_dir: Path) -> list[Finding]:
    out: list[Finding] = []
    layout_file = template.folder / LAYOUT
    for rel, key_path in _asset_refs(template):
        line = line_of(layout_file, key_path)
        try:
            path = resolve_asset(assets_dir, rel, str(layout_file))
        except TemplateError as error:
            out.append(Finding(str(layout_file), line, error.message.split(": ", 1)[-1], error.hint))
            continue
        if not path.is_file():
            out.append(
                Finding(
                    str(layout_file),
                    line,
                    f"asset '{rel}' not found under {assets_dir}/",
                    "add the file or fix the path",
                )
            )
            continue
        problem = check_image_file(path)
        if problem:
            out.append(Finding(str(layout_file), line, f"asset '{rel}': {problem[0]}", problem[1]))
    return out


def literal_text(source: str, env) -> str:
    """The static characters of a Jinja string: its literal text and string constants."""
    ast = env.parse(source)
    parts = [n.data for n in ast.find_all(nodes.TemplateData)]
    parts += [n.value for n in ast.find_all(nodes.Const) if isinstance(n.value, str)]
    return "".join(parts)


def _coverage(template: Template, assets_dir: Path) -> list[Finding]:
    from bannergen.render.fonts import font_index

    out: list[Finding] = []
    chains = {
        style: tuple(str(assets_dir.resolve() / "fonts" / n) for n in template.fonts.chain(style))
        for style in ("regular", "bold")
    }
    checks: list[tuple[str, str, str, int]] = []  # (file, what, text, line)
    manifest = str(template.folder / MANIFEST)
    checks.append(
        (
            manifest,
            "headline",
            literal_text(template.headline_source, template.text_env),
            _manifest_line(template, "headline"),
        )
    )
    checks.append((manifest, "cta", template.cta, _manifest_line(template, "cta")))
    layout_file = template.folder / LAYOUT
    for size in template.base_sizes or template.sizes:
        label = str(Size(*size))
        for i, e in enumerate(template.layouts[size].elements):
            if e.text is not None and e.style is not None:
                line = line_of(layout_file, ("sizes", label, "elements", i, "text"))
                checks.append(
                    (
                        str(layout_file),
                        f"sizes.\"{label}\" element '{e.name}'",
                        literal_text(e.text.source, template.text_env),
                        line,
                    )
                )
    seen: set[tuple[str, int]] = set()
    for file, what, text, line in checks:
        chain = chains["bold"] if what in ("headline", "cta") else chains["regular"]
        missing = sorted({ch for ch in text if not ch.isspace() and font_index(chain, ch) is None})
        if missing and (file, line) not in seen:
            seen.add((file, line))
            shown = ", ".join(f"{ch!r} (U+{ord(ch):04X})" for ch in missing[:5])
            out.append(Finding(file, line, f"{what}: no font covers {shown}",
                               "add a [fonts] fallback that has these characters, or change the text"))
    return out


def _trial_render(template: Template, assets_dir: Path) -> list[Finding]:
    """Render every size over the sample contexts: what only a real render shows (a font Pillow
    cannot rasterize, an HTML runtime error) becomes a finding too."""
    from bannergen.render import Renderer
    from bannergen.types import RenderSpec

    renderer = Renderer({template.id: template}, assets_dir, formats=("html",))
    smallest = min(template.sizes, key=lambda s: s[0] * s[1])
    for size in template.sizes:
        for context in SAMPLE_CONTEXTS:
            try:
                spec = RenderSpec(template.id, size, context)
                renderer.render(spec) if size == smallest else renderer.compose(spec)  # encoding proves nothing here
            except BannergenError as error:
                return [from_error(error, template.folder / MANIFEST)]
    return []
