"""The Renderer facade: real images decoded, deterministic bytes, variant ids, HTML safety."""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest_render import ASSETS, ROOT, camera_context, load_shipped, product_image
from PIL import Image

from bannergen.errors import TemplateError
from bannergen.render import Renderer
from bannergen.types import RenderSpec


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    return product_image(tmp_path_factory.mktemp("img") / "camera.png")


@pytest.fixture(scope="module")
def shipped():
    return load_shipped()


@pytest.mark.parametrize("template_id", ["product-spotlight", "price-drop", "category-launch"])
@pytest.mark.parametrize("size", [(1200, 400), (750, 300)])
def test_every_format_decodes_to_the_requested_size(shipped, image, template_id, size):
    r = Renderer(shipped, ASSETS, formats=("webp", "png", "jpg", "html"))
    variant = r.render(RenderSpec(template_id, size, camera_context(image)))
    assert set(variant.files) == {"webp", "png", "jpg", "html"}
    for fmt, pil_format in (("png", "PNG"), ("webp", "WEBP"), ("jpg", "JPEG")):
        with Image.open(io.BytesIO(variant.files[fmt])) as decoded:
            assert (decoded.format, decoded.size, decoded.mode) == (pil_format, size, "RGB")
            decoded.load()
    assert variant.warnings == ()
    assert re.fullmatch(r"[0-9a-f]{24}", variant.variant_id)


def test_html_refers_to_its_sidecars_with_relative_urls(shipped, image):
    variant = Renderer(shipped, ASSETS).render(RenderSpec("product-spotlight", (1200, 400), camera_context(image)))
    html = variant.files["html"].decode("utf-8")
    assert len(variant.sidecars) == 2  # the fitted product image and the background layer
    for name, data in variant.sidecars.items():
        assert re.fullmatch(r"img/[0-9a-f]{20}\.webp", name)
        assert name == f"img/{hashlib.sha256(data).hexdigest()[:20]}.webp"
        assert f'"{name}"' in html
        Image.open(io.BytesIO(data)).load()
    assert 'font-family: "Noto Sans SC", "Noto Sans CJK SC", sans-serif' in html
    assert 'href="https://shop.example.com/p/A100"' in html


def test_html_uses_the_font_size_and_lines_the_image_used(shipped, image):
    variant = Renderer(shipped, ASSETS).render(RenderSpec("product-spotlight", (1200, 400), camera_context(image)))
    html = variant.files["html"].decode("utf-8")
    title_lines = re.findall(r'data-slot="title" style="[^"]*font-size:(\d+)px[^"]*">([^<]*)</div>', html)
    assert len(title_lines) == 2
    assert "".join(text for _, text in title_lines).replace(" ", "") == camera_context(image).title.replace(" ", "")


def test_html_escapes_catalog_text_and_drops_unsafe_urls(shipped, image):
    ctx = camera_context(image, title='<script>alert("x")</script> 相机', url="javascript:alert(1)")
    html = Renderer(shipped, ASSETS).render(RenderSpec("product-spotlight", (1200, 400), ctx)).files["html"].decode()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "javascript:" not in html and "href=" not in html


def test_missing_product_image_draws_a_placeholder_and_warns(shipped, tmp_path):
    missing = tmp_path / "nope.jpg"
    variant = Renderer(shipped, ASSETS, formats=("png", "html")).render(
        RenderSpec("price-drop", (750, 300), camera_context(missing))
    )
    assert any(w.startswith(f"image: cannot use {missing}") for w in variant.warnings)
    assert Image.open(io.BytesIO(variant.files["png"])).size == (750, 300)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    variant = Renderer(shipped, ASSETS, formats=("png",)).render(
        RenderSpec("price-drop", (750, 300), camera_context(broken))
    )
    assert any("UnidentifiedImageError" in w for w in variant.warnings)


def test_missing_glyph_in_a_title_is_a_warning(shipped, image):
    variant = Renderer(shipped, ASSETS, formats=("png",)).render(
        RenderSpec("product-spotlight", (1200, 400), camera_context(image, title="新品𠀀相机")))
    assert "title: no glyph for '𠀀' (U+20000) in NotoSansSC-Bold.otf" in variant.warnings


def test_variant_id_follows_what_decides_the_bytes(shipped, image, tmp_path):
    r = Renderer(shipped, ASSETS)
    spec = RenderSpec("price-drop", (1200, 400), camera_context(image))
    base = r.variant_id(spec)
    assert base == r.variant_id(RenderSpec("price-drop", (1200, 400), camera_context(image)))
    assert base == r.render(spec).variant_id
    assert base != r.variant_id(
        RenderSpec("price-drop", (1200, 400), camera_context(image, price="¥4,899", price_value=4899.0))
    )
    assert base != r.variant_id(RenderSpec("price-drop", (750, 300), camera_context(image)))
    assert base != r.variant_id(RenderSpec("category-launch", (1200, 400), camera_context(image)))
    assert base != Renderer(shipped, ASSETS, webp_quality=70).variant_id(spec)
    # another item's fields are not part of this spec, so changing them cannot move this id
    other_before = r.variant_id(
        RenderSpec("price-drop", (1200, 400), camera_context(image, item_id="B2", title="别的商品"))
    )
    other_after = r.variant_id(
        RenderSpec("price-drop", (1200, 400), camera_context(image, item_id="B2", title="别的商品 新版"))
    )
    assert other_before != other_after and r.variant_id(spec) == base
    # the image counts by content, not by path
    copy = tmp_path / "same.png"
    copy.write_bytes(image.read_bytes())
    assert r.variant_id(RenderSpec("price-drop", (1200, 400), camera_context(copy))) == base


def test_unknown_template_or_size_is_a_template_error(shipped, image):
    r = Renderer(shipped, ASSETS)
    with pytest.raises(TemplateError, match="unknown template 'nope'"):
        r.render(RenderSpec("nope", (1200, 400), camera_context(image)))
    with pytest.raises(TemplateError, match="template 'price-drop': no layout for size 320x50"):
        r.variant_id(RenderSpec("price-drop", (320, 50), camera_context(image)))


_SCRIPT = textwrap.dedent("""
    import hashlib, json, sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from conftest_render import camera_context, renderer
    from bannergen.types import RenderSpec
    r = renderer(("webp", "png", "jpg", "html"))
    out = {{}}
    for tid in ("product-spotlight", "price-drop", "category-launch"):
        v = r.render(RenderSpec(tid, (1200, 400), camera_context(Path({image!r}))))
        out[tid] = {{k: hashlib.sha256(b).hexdigest() for k, b in sorted({{**v.files, **v.sidecars}}.items())}}
    print(json.dumps(out, sort_keys=True))
""")


def test_same_spec_gives_identical_bytes_in_two_processes(image):
    script = _SCRIPT.format(tests=str(ROOT / "tests"), image=str(image))
    runs = [
        subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
        )
        for _ in range(2)
    ]
    first, second = (json.loads(run.stdout) for run in runs)
    assert first == second
    assert all(len(files) >= 5 for files in first.values())
