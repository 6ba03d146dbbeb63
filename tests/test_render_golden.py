"""Golden images: one per template per size on a fixed sample context, compared with a tolerance.

On a mismatch the actual image is written beside the expected one as ``<name>.actual.png``.
Regenerate on purpose only: ``BANNERGEN_REGEN_GOLDEN=1 pytest tests/test_render_golden.py``.
"""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from bannergen.types import RenderSpec
from conftest_render import GOLDEN, camera_context, product_image, renderer

MAX_MEAN_ABS_DIFF = 2.0  # on 0-255
MAX_SHARE_FAR_OFF = 0.01  # pixels differing by more than 64 in some channel
REGEN = os.environ.get("BANNERGEN_REGEN_GOLDEN") == "1"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    image = product_image(tmp_path_factory.mktemp("golden") / "camera.png")
    r = renderer(("png",))
    return lambda tid, size: r.render(RenderSpec(tid, size, camera_context(image))).files["png"]


def compare(actual: Image.Image, expected: Image.Image) -> tuple[float, float]:
    a = np.asarray(actual.convert("RGB"), dtype=np.int16)
    b = np.asarray(expected.convert("RGB"), dtype=np.int16)
    diff = np.abs(a - b)
    return float(diff.mean()), float((diff.max(axis=2) > 64).mean())


@pytest.mark.parametrize("template_id", ["product-spotlight", "price-drop", "category-launch"])
@pytest.mark.parametrize("size", [(1200, 400), (750, 300)])
def test_banner_matches_its_golden_image(rendered, template_id, size):
    name = f"{template_id}-{size[0]}x{size[1]}"
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
