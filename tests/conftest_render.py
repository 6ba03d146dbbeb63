"""Shared helpers of the render and template tests: the shipped templates, fixed sample products and
contexts, image comparison (imported by name: they are functions and constants, not fixtures)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy.ndimage import gaussian_filter

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
                discount_text="省¥1,000", image=image, url="https://shop.example.com/p/A100",
                list_price_value=5999.0, saving_value=1000.0)
    base.update(changes)
    return BannerContext(**base)  # type: ignore[arg-type]


SHIPPED = ("brand-showcase", "carousel", "category-launch", "cross-sell", "price-drop", "product-spotlight")
BASE_SIZES = ((1200, 400), (750, 300), (300, 250))


def product_image_2(path: Path, colour: str = "#2F7D5B") -> Path:
    """A second fixed product (a bottle), for the carousel and the cross-sell antecedent."""
    img = Image.new("RGB", (480, 480), "white")
    d = ImageDraw.Draw(img)
    d.rectangle((205, 60, 275, 130), fill="#23262B")
    d.rounded_rectangle((150, 130, 330, 420), 30, fill=colour)
    d.rectangle((180, 230, 300, 320), fill="#F1F3F5")
    img.save(path, "PNG")
    return path


def golden_context(template_id: str, image: Path, other: Path) -> BannerContext:
    """The fixed sample each template's golden images show: the camera, with a lens (antecedent)
    for cross-sell and three items for the carousel."""
    ctx = camera_context(image)
    if template_id == "category-launch":  # the catalog marks it new, so the banner may say 新品 and 首发
        return camera_context(image, is_new=True)
    if template_id == "price-drop":  # 17% off is above the 10% from which 优惠 may be said
        return camera_context(image, is_sale=True)
    if template_id == "cross-sell":
        return camera_context(image, antecedent="索尼 SEL50F18F 定焦镜头", antecedent_id="B200", antecedent_image=other)
    if template_id == "carousel":
        second = camera_context(
            other, item_id="B200", title="索尼 SEL50F18F 定焦镜头 大光圈人像", price="¥1,299", price_value=1299.0
        )
        third = camera_context(None, item_id="C300", title="闪迪 128GB SD 存储卡 V30", price="¥99", price_value=99.0)
        return camera_context(image, items=(ctx, second, third))
    return ctx


def load_shipped() -> dict[str, Template]:
    return load_templates(TEMPLATES, assets_dir=ASSETS)


def renderer(formats: tuple[str, ...] = ("webp", "png", "html")) -> Renderer:
    return Renderer(load_shipped(), ASSETS, formats=formats)


def copy_template(tmp_path: Path, template_id: str = "product-spotlight") -> Path:
    """A writable copy of a shipped template under tmp_path/templates/<id>/."""
    dest = tmp_path / "templates" / template_id
    shutil.copytree(TEMPLATES / template_id, dest)
    return dest


def edit_file(path: Path, old: str, new: str) -> None:
    """Replace the first ``old`` in ``path`` by ``new`` (``old`` must be there)."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_with(path: Path, needle: str) -> int:
    """The 1-based number of the first line of ``path`` that holds ``needle``."""
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line)


def ink_bbox(image: Image.Image, background: tuple[int, int, int]) -> tuple[int, int, int, int] | None:
    """Bounding box (left, top, right, bottom) of every pixel that differs from ``background``."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    diff = np.abs(pixels - np.array(background, dtype=np.int16)).sum(axis=2) > 0
    ys, xs = np.nonzero(diff)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


# Structural similarity (Wang et al. 2004) on grayscale with numpy and scipy only: Gaussian window
# sigma 1.5, K1 0.01, K2 0.03, L 255, the mean of the SSIM map (scikit-image's gaussian_weights
# definition, without the extra dependency).


def ssim(a: Image.Image, b: Image.Image) -> float:
    x = np.asarray(a.convert("L"), dtype=np.float64)
    y = np.asarray(b.convert("L"), dtype=np.float64)
    assert x.shape == y.shape, (x.shape, y.shape)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    blur = lambda z: gaussian_filter(z, 1.5, truncate=3.5)  # noqa: E731
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s.mean())
