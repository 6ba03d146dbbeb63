"""Shared helpers of the render and template tests (imported explicitly; the lead owns conftest.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from bannergen.render import Renderer
from bannergen.templating import Template, load_templates
from bannergen.types import BannerContext

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
ASSETS = ROOT / "assets"
GOLDEN = Path(__file__).resolve().parent / "golden"
REGULAR = str(ASSETS / "fonts" / "NotoSansSC-Regular.otf")
BOLD = str(ASSETS / "fonts" / "NotoSansSC-Bold.otf")


def product_image(path: Path) -> Path:
    """A fixed, drawn product photo (a camera on white), lossless so every run reads the same pixels."""
    img = Image.new("RGB", (640, 480), "white")
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((120, 150, 520, 400), 36, fill="#23262B")
    d.rectangle((170, 110, 280, 150), fill="#23262B")
    d.ellipse((230, 175, 410, 355), fill="#5C6370")
    d.ellipse((275, 220, 365, 310), fill="#8FA3C8")
    d.ellipse((440, 175, 480, 215), fill="#E4393C")
    img.save(path, "PNG")
    return path


def camera_context(image: Path | None, **changes: object) -> BannerContext:
    base = dict(item_id="A100", title="佳能 EOS R50 微单相机 4K 高清 Vlog 套机（18-45mm）", brand="佳能",
                category="相机", price="¥4,999", price_value=4999.0, list_price="¥5,999", discount_pct=17,
                discount_text="省¥1,000", image=image, url="https://shop.example.com/p/A100")
    base.update(changes)
    return BannerContext(**base)  # type: ignore[arg-type]


def load_shipped() -> dict[str, Template]:
    return load_templates(TEMPLATES, assets_dir=ASSETS)


def renderer(formats: tuple[str, ...] = ("webp", "png", "html")) -> Renderer:
    return Renderer(load_shipped(), ASSETS, formats=formats)


def copy_template(tmp_path: Path, template_id: str = "product-spotlight") -> Path:
    """A writable copy of a shipped template under tmp_path/templates/<id>/."""
    dest = tmp_path / "templates" / template_id
    shutil.copytree(TEMPLATES / template_id, dest)
    return dest


def ink_bbox(image: Image.Image, background: tuple[int, int, int]) -> tuple[int, int, int, int] | None:
    """Bounding box (left, top, right, bottom) of every pixel that differs from ``background``."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    diff = np.abs(pixels - np.array(background, dtype=np.int16)).sum(axis=2) > 0
    ys, xs = np.nonzero(diff)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
