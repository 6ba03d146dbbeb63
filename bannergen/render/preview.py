"""Contact sheets: every size of one template over a few sample items, image beside HTML.

    result = write_preview(renderer, template, samples, Path("out/preview"))
    result.html   # out/preview/<id>/index.html: per sample, per size, the PNG and the HTML (iframe)
    result.png    # out/preview/<id>/sheet.png: the 1x images in one picture, labelled

2x versions are shown at their 1x CSS size (as a high-density screen shows them).
"""

from __future__ import annotations

import html
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from bannergen.cache import atomic_write
from bannergen.render.engine import Renderer
from bannergen.size import Size
from bannergen.templating.template import Template
from bannergen.types import BannerContext, RenderSpec

log = logging.getLogger(__name__)

GAP = 24
LABEL = 28


@dataclass(frozen=True)
class Preview:
    html: Path
    png: Path
    banners: int
    warnings: tuple[str, ...]


def write_preview(
    renderer: Renderer, template: Template, samples: list[tuple[str, BannerContext]], out_dir: Path
) -> Preview:
    """Render ``samples`` ((label, context)) at every size of ``template`` into ``out_dir/<id>/``.
    The renderer should have formats ("png", "html"); fonts are copied beside the pages so the
    HTML can use them (``Renderer(font_base_url="../fonts")``)."""
    folder = Path(out_dir) / template.id
    banners = folder / "banners"
    if folder.exists():
        shutil.rmtree(folder)
    banners.mkdir(parents=True)
    fonts = folder / "fonts"
    fonts.mkdir()
    for name in (template.fonts.regular, template.fonts.bold):
        shutil.copyfile(renderer.assets_dir / "fonts" / name, fonts / name)
    rows: list[str] = []
    sheet_rows: list[tuple[str, list[Image.Image]]] = []
    warnings: list[str] = []
    count = 0
    for label, ctx in samples:
        cells: list[str] = []
        images: list[Image.Image] = []
        for size in template.sizes:
            variant = renderer.render(RenderSpec(template.id, size, ctx))
            count += 1
            warnings += [f"{template.size_label(size)} {ctx.item_id}: {w}" for w in variant.warnings]
            name = f"{ctx.item_id}-{Size(*size)}"
            png = banners / f"{name}.png"
            atomic_write(png, variant.files["png"])
            (base_w, base_h), scale = template.scale_of(size)
            cell = (f'<figure><figcaption>{html.escape(template.size_label(size))} image</figcaption>'
                    f'<img src="banners/{png.name}" width="{base_w}" height="{base_h}" alt=""></figure>')
            if "html" in variant.files and scale == 1:
                page = banners / f"{name}.html"
                atomic_write(page, variant.files["html"])
                for rel, data in variant.sidecars.items():
                    target = banners / rel
                    if not target.exists():
                        atomic_write(target, data)
                cell += (
                    f"<figure><figcaption>{html.escape(template.size_label(size))} HTML</figcaption>"
                    f'<iframe src="banners/{page.name}" width="{base_w}" height="{base_h}" scrolling="no">'
                    "</iframe></figure>"
                )
            if scale == 1:
                images.append(Image.open(png).convert("RGB"))
            cells.append(f'<div class="pair">{cell}</div>')
        rows.append(
            f"<section><h2>{html.escape(ctx.title)} <small>{html.escape(label)} · {html.escape(ctx.price)}</small></h2>"
            + "".join(cells)
            + "</section>"
        )
        sheet_rows.append((f"{label}: {ctx.title}", images))
    page = folder / "index.html"
    atomic_write(page, _page(template, rows, warnings).encode("utf-8"))
    sheet = folder / "sheet.png"
    _sheet(renderer, template, sheet_rows).save(sheet, "PNG")
    return Preview(page, sheet, count, tuple(warnings))


def _page(template: Template, rows: list[str], warnings: list[str]) -> str:
    notes = "".join(f"<li>{html.escape(w)}</li>" for w in warnings) or "<li>none</li>"
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(template.id)} preview</title>
<style>
body {{ font-family: "Noto Sans SC", sans-serif; margin: 24px; background: #f3f4f6; color: #111827; }}
section {{ background: #fff; padding: 16px; margin-bottom: 24px; border-radius: 8px; }}
.pair {{ display: flex; gap: 16px; flex-wrap: wrap; margin: 8px 0; }}
figure {{ margin: 0; }} figcaption {{ font-size: 12px; color: #6b7280; }}
iframe {{ border: 0; display: block; }} img {{ display: block; }}
</style></head><body>
<h1>{html.escape(template.id)} v{html.escape(template.version)} <small>{html.escape(template.description)}</small></h1>
<p>Every size over sample items; left the image (PNG), right the HTML version.</p>
<h2>Text-fitting warnings</h2><ul>{notes}</ul>
{''.join(rows)}
</body></html>
"""


def _sheet(renderer: Renderer, template: Template, rows: list[tuple[str, list[Image.Image]]]) -> Image.Image:
    from PIL import ImageFont

    width = GAP + sum(w + GAP for w, _ in template.base_sizes or template.sizes)
    height = GAP + sum(LABEL + max((im.height for im in ims), default=0) + GAP for _, ims in rows)
    sheet = Image.new("RGB", (max(width, 400), max(height, 100)), "#F3F4F6")
    draw = ImageDraw.Draw(sheet)
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont
    try:
        font = ImageFont.truetype(str(renderer.assets_dir / "fonts" / template.fonts.regular), 16)
    except OSError:
        font = ImageFont.load_default()
    y = GAP
    for label, images in rows:
        draw.text((GAP, y), label[:120], fill="#374151", font=font)
        y += LABEL
        x = GAP
        for im in images:
            sheet.paste(im, (x, y))
            x += im.width + GAP
        y += max((im.height for im in images), default=0) + GAP
    return sheet
