"""Golden images: every shipped template at every 1x size on a fixed sample, compared with a
tolerance; the 2x versions are checked structurally against the same goldens (downscaled).

On a mismatch the actual image is written beside the expected one as ``<name>.actual.png``.
Regenerate on purpose only: ``BANNERGEN_REGEN_GOLDEN=1 pytest tests/test_render_golden.py``.
"""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from conftest_render import BASE_SIZES, GOLDEN, SHIPPED, golden_context, product_image, product_image_2, renderer, ssim
from PIL import Image

from bannergen.size import Size
from bannergen.types import RenderSpec

MAX_MEAN_ABS_DIFF = 2.0  # on 0-255
MAX_SHARE_FAR_OFF = 0.01  # pixels differing by more than 64 in some channel
MIN_SSIM_2X = 0.90  # a 2x render, downscaled, against the 1x golden: same boxes, slightly different glyph hinting
REGEN = os.environ.get("BANNERGEN_REGEN_GOLDEN") == "1"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("golden")
    image, other = product_image(folder / "camera.png"), product_image_2(folder / "bottle.png")
    r = renderer(("png",))
    return lambda tid, size: r.render(RenderSpec(tid, size, golden_context(tid, image, other))).files["png"]


def compare(actual: Image.Image, expected: Image.Image) -> tuple[float, float]:
    a = np.asarray(actual.convert("RGB"), dtype=np.int16)
    b = np.asarray(expected.convert("RGB"), dtype=np.int16)
    diff = np.abs(a - b)
    return float(diff.mean()), float((diff.max(axis=2) > 64).mean())


@pytest.mark.parametrize("template_id", SHIPPED)
@pytest.mark.parametrize("size", BASE_SIZES, ids=lambda s: str(Size(*s)))
def test_banner_matches_its_golden_image(rendered, template_id, size):
    name = f"{template_id}-{Size(*size)}"
    expected_path = GOLDEN / f"{name}.png"
    actual_path = GOLDEN / f"{name}.actual.png"
    data = rendered(template_id, size)
    if REGEN:
        expected_path.write_bytes(data)
    assert expected_path.is_file(), f"{expected_path} missing; create it with BANNERGEN_REGEN_GOLDEN=1"
    actual = Image.open(io.BytesIO(data))
    expected = Image.open(expected_path)
    assert actual.size == expected.size
    mean, far = compare(actual, expected)
    if mean >= MAX_MEAN_ABS_DIFF or far >= MAX_SHARE_FAR_OFF:
        actual.save(actual_path)
        pytest.fail(f"{name}: mean abs diff {mean:.2f} (max {MAX_MEAN_ABS_DIFF}), {far:.2%} pixels off by > 64 "
                    f"(max {MAX_SHARE_FAR_OFF:.0%}); actual saved as {actual_path}")
    actual_path.unlink(missing_ok=True)


@pytest.mark.parametrize("template_id", SHIPPED)
def test_2x_versions_have_the_1x_structure(rendered, template_id):
    for w, h in BASE_SIZES:
        big = Image.open(io.BytesIO(rendered(template_id, (w * 2, h * 2))))
        assert big.size == (w * 2, h * 2)
        expected = Image.open(GOLDEN / f"{template_id}-{w}x{h}.png")
        score = ssim(big.resize((w, h), Image.Resampling.LANCZOS), expected)
        assert score >= MIN_SSIM_2X, (
            f"{template_id} {w}x{h}@2x: SSIM {score:.3f} against the 1x golden (min {MIN_SSIM_2X})"
        )


def test_no_stray_golden_files():
    expected = {f"{t}-{Size(*s)}.png" for t in SHIPPED for s in BASE_SIZES}
    assert {p.name for p in GOLDEN.glob("*.png") if not p.name.endswith(".actual.png")} == expected
