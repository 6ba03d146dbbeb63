"""Text fitting: wrap, shrink, ellipsis; drawn pixels never leave the box; missing glyphs dropped."""

from __future__ import annotations

import pytest
from conftest_render import BOLD, REGULAR, ink_bbox
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from bannergen.render.text import CLOSING, draw_text, fit_text, tokens, warnings_for

CHAIN = (REGULAR,)
WHITE = (255, 255, 255)
BOX = (40, 30, 420, 130)  # x, y, w, h inside a 520x200 canvas

LONG_TITLES = {
    "chinese": ("华为 HUAWEI Mate 60 Pro 旗舰手机 12GB+512GB 雅川青 卫星通话 超可靠玄武架构 "
                "全焦段超清影像，「新品」限时抢购！") * 2,
    "english": ("Sony WH-1000XM5 Wireless Industry Leading Noise Canceling Headphones "
                "with Auto Noise Canceling Optimizer ") * 2,
    "mixed": ("Apple iPhone 15 Pro Max (A3108) 256GB 原色钛金属 支持移动联通电信5G 双卡双待手机 "
              "Supercalifragilisticexpialidocious"),
    "one_word": "Pneumonoultramicroscopicsilicovolcanoconiosis" * 3,
}


def draw(
    text: str, box=BOX, max_size=48, min_size=16, max_lines=2, align="left", valign="top", strike=False, chain=CHAIN
):
    image = Image.new("RGB", (520, 200), WHITE)
    x, y, w, h = box
    fitted = fit_text(text, chain, w, h, max_size, min_size, max_lines, 1.25, 2)
    draw_text(image, box, fitted, chain, (20, 20, 20, 255), align, valign, strike)
    return image, fitted


def assert_inside(image: Image.Image, box) -> None:
    bbox = ink_bbox(image, WHITE)
    if bbox is None:
        return
    x, y, w, h = box
    assert bbox[0] >= x and bbox[1] >= y and bbox[2] <= x + w and bbox[3] <= y + h, (bbox, box)


@pytest.mark.parametrize("name", sorted(LONG_TITLES))
@pytest.mark.parametrize("align", ["left", "center", "right"])
def test_long_titles_stay_inside_their_box(name, align):
    image, fitted = draw(LONG_TITLES[name], align=align, valign="middle", strike=True)
    assert fitted.size >= 16 and 1 <= len(fitted.lines) <= 2
    assert ink_bbox(image, WHITE) is not None
    assert_inside(image, BOX)


def test_too_long_text_shrinks_to_min_size_then_ends_with_an_ellipsis():
    _, fitted = draw(LONG_TITLES["chinese"])
    assert fitted.size == 16 and fitted.truncated
    assert fitted.lines[-1].endswith("…")
    assert warnings_for("title", fitted, CHAIN) == [f"title: text cut with an ellipsis at 16px: {fitted.text!r}"]


def test_short_text_keeps_the_max_size_on_one_line():
    _, fitted = draw("佳能 EOS R50", max_lines=2)
    assert (fitted.size, fitted.lines, fitted.truncated) == (48, ("佳能 EOS R50",), False)


def test_breaking_rules_cjk_punctuation_and_latin_words():
    assert tokens("相机，「超值」套装！仅¥4,999") == ["相", "机，", "「超", "值」", "套", "装！", "仅", "¥4,999"]
    _, fitted = draw("超值好物，限时特惠。" * 6, max_size=30, min_size=30, max_lines=8, box=(10, 10, 300, 190))
    assert all(line[0] not in CLOSING for line in fitted.lines)
    _, fitted = draw(
        "Noise Canceling Headphones Wireless", max_size=30, min_size=30, max_lines=4, box=(10, 10, 260, 190)
    )
    assert all(not line.startswith(" ") and not line.endswith(" ") for line in fitted.lines)
    assert " ".join(fitted.lines) == "Noise Canceling Headphones Wireless"  # broke at spaces only


def test_a_missing_glyph_is_reported_and_not_drawn_as_a_box():
    with_missing, fitted = draw("A𠀀B")
    without, _ = draw("AB")
    assert fitted.missing == ("𠀀",)
    assert warnings_for("title", fitted, CHAIN) == ["title: no glyph for '𠀀' (U+20000) in NotoSansSC-Regular.otf"]
    assert with_missing.tobytes() == without.tobytes()


def test_fallback_font_order_is_primary_first():
    _, fitted = draw("新品 New", chain=(BOLD, REGULAR))
    assert fitted.missing == ()


# Pieces rather than characters, so long Latin words (broken between characters) come up too.
TEXT = st.lists(
    st.sampled_from(
        list("华为手机新品上市超值好物限时抢购耳机相机，。！？（）「」、 ")
        + list("AaBbWwMmiIl0123456789 -,.()¥%")
        + ["Supercalifragilistic", "𠀀", "😀", "  "]
    ),
    min_size=1,
    max_size=60,
).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT, max_lines=st.integers(1, 3), align=st.sampled_from(["left", "center", "right"]),
       valign=st.sampled_from(["top", "middle", "bottom"]), w=st.integers(30, 420), h=st.integers(12, 130))
def test_random_text_never_leaves_its_box(text, max_lines, align, valign, w, h):
    box = (40, 30, w, h)
    image, fitted = draw(
        text, box=box, max_size=40, min_size=10, max_lines=max_lines, align=align, valign=valign, strike=True
    )
    assert_inside(image, box)
    assert "𠀀" not in "".join(fitted.lines) and "😀" not in "".join(fitted.lines)
