"""Size: the "WxH" text form of a banner size, parsed and printed in one place."""

from __future__ import annotations

import json

import pytest

from bannergen.size import Size


def test_parse_print_and_double():
    size = Size.parse("1200x400")
    assert size == Size(1200, 400) and (size.width, size.height) == (1200, 400)
    assert str(size) == "1200x400" and f"{size}@2x" == "1200x400@2x"
    assert size.double() == Size(2400, 800) and size.scaled(3) == (3600, 1200)


def test_a_size_is_the_plain_tuple_to_dicts_and_json():
    """Sizes key dicts built from tuples, and variant ids (canonical JSON) do not change."""
    assert {(1200, 400): "banner"}[Size(1200, 400)] == "banner"
    assert json.dumps(Size(750, 300)) == json.dumps((750, 300)) == "[750, 300]"


@pytest.mark.parametrize(
    "text", ["1200X400", "1200 x 400", "1200x", "x400", "0x400", "1200x0", "-1x4", "1.5x2", "", 1200]
)
def test_anything_else_is_refused_with_the_text_named(text):
    with pytest.raises(ValueError) as caught:
        Size.parse(text)
    assert str(caught.value) == f"size must look like '1200x400'; got {text!r}"
