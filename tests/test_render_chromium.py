"""The HTML and the image agree: each shipped template's HTML, rendered by real headless Chromium
(Debian's /usr/bin/chromium driven by Playwright), against the Pillow image at the same size.

The page is served from a fake origin (``http://banner.test/``) by Playwright's request routing,
so the HTML's relative sidecars and its @font-face (the project's own Noto Sans SC) load exactly
as from a CDN, with no network and no file:// restrictions.

Threshold: SSIM (grayscale, Gaussian window sigma 1.5) >= 0.90. Measured on the shipped
templates: the same banner scores 0.92-0.99 (0.92-0.95 at 300x250, where text is a larger share
of the pixels: Skia and FreeType rasterize the same glyphs with slightly different edges). The
same image shifted by only 2 px scores <= 0.84 (1200x400) and <= 0.67 (300x250), and another
template's image 0.47. So 0.90 accepts rasterization differences and rejects any box that moved
by a couple of pixels, which is what "the same boxes in the same places" means.
"""

from __future__ import annotations

import io
import mimetypes
import shutil
from pathlib import Path

import pytest
from conftest_render import (
    ASSETS,
    BASE_SIZES,
    SHIPPED,
    golden_context,
    load_shipped,
    product_image,
    product_image_2,
    ssim,
)
from PIL import Image

from bannergen.render import Renderer
from bannergen.size import Size
from bannergen.types import RenderSpec

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--font-render-hinting=none"]
ORIGIN = "http://banner.test"
MIN_SSIM = 0.90

pytestmark = [pytest.mark.chromium, pytest.mark.slow]  # a real browser per template and size


def _playwright():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (CI: apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip(
            "the playwright Python package is not installed (pip install playwright; no browser download needed)"
        )
    return sync_playwright


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """{(template, size): (page path, Pillow image)} with every file under one served folder."""
    root = tmp_path_factory.mktemp("site")
    image, other = product_image(root / "camera.png"), product_image_2(root / "bottle.png")
    shutil.copytree(ASSETS / "fonts", root / "fonts")
    renderer = Renderer(load_shipped(), ASSETS, formats=("png", "html"), font_base_url=f"{ORIGIN}/fonts")
    pages = {}
    for tid in SHIPPED:
        for size in BASE_SIZES:
            variant = renderer.render(RenderSpec(tid, size, golden_context(tid, image, other)))
            name = f"{tid}-{Size(*size)}.html"
            (root / name).write_bytes(variant.files["html"])
            for rel, data in variant.sidecars.items():
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_bytes(data)
            pages[(tid, size)] = (name, Image.open(io.BytesIO(variant.files["png"])).convert("RGB"))
    return root, pages


@pytest.fixture(scope="module")
def screenshots(site):
    sync_playwright = _playwright()
    root, pages = site

    def serve(route):
        rel = route.request.url[len(ORIGIN) + 1:].split("?")[0]
        path = (root / rel).resolve()
        if not path.is_relative_to(root.resolve()) or not path.is_file():
            return route.fulfill(status=404, body="not found")
        return route.fulfill(status=200, body=path.read_bytes(),
                             content_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
                             headers={"Access-Control-Allow-Origin": "*"})

    shots = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(device_scale_factor=1)
            context.route(f"{ORIGIN}/**", serve)
            context.route(lambda url: not url.startswith(ORIGIN), lambda route: route.abort())  # no network at all
            page = context.new_page()
            for key, (name, _) in pages.items():
                page.set_viewport_size({"width": key[1][0], "height": key[1][1]})
                page.goto(f"{ORIGIN}/{name}", wait_until="load")
                page.evaluate("document.fonts.ready")
                shots[key] = Image.open(io.BytesIO(page.screenshot(type="png"))).convert("RGB")
        finally:
            browser.close()
    return shots


@pytest.mark.parametrize("template_id", SHIPPED)
@pytest.mark.parametrize("size", BASE_SIZES, ids=lambda s: str(Size(*s)))
def test_html_in_chromium_matches_the_image(site, screenshots, template_id, size, tmp_path):
    image = site[1][(template_id, size)][1]
    shot = screenshots[(template_id, size)]
    assert shot.size == image.size
    score = ssim(shot, image)
    if score < MIN_SSIM:
        shot.save(tmp_path / "chromium.png")
        image.save(tmp_path / "pillow.png")
    assert score >= MIN_SSIM, f"{template_id} {size}: SSIM {score:.3f} < {MIN_SSIM}; both saved under {tmp_path}"


def test_the_threshold_tells_a_different_layout_apart(site, screenshots):
    shot = screenshots[("product-spotlight", (1200, 400))]
    other = site[1][("price-drop", (1200, 400))][1]
    assert ssim(shot, other) < 0.8
    own = site[1][("product-spotlight", (1200, 400))][1]
    shifted = Image.new("RGB", own.size, own.getpixel((0, 0)))
    shifted.paste(own, (2, 2))
    assert ssim(shot, shifted) < 0.86
