"""Before/after contact sheet of the shipped templates on items of the example shop.

    # render each tree with its own code (a git worktree of the older commit for "before")
    PYTHONPATH=/tmp/before python tools/contact_sheet.py render /tmp/before /tmp/sheet/before
    python tools/contact_sheet.py render . /tmp/sheet/after
    python tools/contact_sheet.py compose /tmp/sheet/before /tmp/sheet/after docs/images/templates-before-after.png

``render`` writes one PNG per (template, 1x size) with the project's templates and the example
shop's catalog and images; ``compose`` puts them side by side, before | after, one template per
row band, for the sizes where the difference shows: 300x250 and 750x300.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

# template -> (item, extra items): what each template shows. 000127 is 9% off (优惠 must not be
# shouted), 000121 has no launch date (新品 must not be claimed), 000119 has a very long title.
SAMPLES = {
    "brand-showcase": ("000113", ()),
    "carousel": ("000115", ("000121", "000103")),
    "category-launch": ("000121", ()),
    "cross-sell": ("000124", ("000117",)),
    "price-drop": ("000127", ()),
    "product-spotlight": ("000119", ()),
}
SIZES = ("300x250", "750x300")
GAP, LABEL = 24, 30


def render(root: Path, out: Path) -> None:
    import pandas as pd

    from bannergen.contexts import banner_context
    from bannergen.render import Renderer
    from bannergen.size import Size
    from bannergen.templating import load_templates
    from bannergen.types import RenderSpec

    shop = root / "examples" / "shop"
    catalog = pd.read_csv(shop / "catalog.csv", dtype={"item_id": str}).set_index("item_id", drop=False)
    templates = load_templates(root / "templates")
    renderer = Renderer(templates, root / "assets", formats=("png",))
    out.mkdir(parents=True, exist_ok=True)
    for template_id, (item, extra) in SAMPLES.items():
        context = banner_context(catalog.loc[item], shop)
        others = [banner_context(catalog.loc[i], shop) for i in extra]
        if template_id == "carousel":
            context = replace(context, items=(context, *others))
        elif template_id == "cross-sell":
            trigger = others[0]
            context = replace(context, antecedent=trigger.title, antecedent_id=trigger.item_id,
                              antecedent_image=trigger.image)
        for label in SIZES:
            size = Size.parse(label)
            png = renderer.render(RenderSpec(template_id, (size.width, size.height), context)).files["png"]
            (out / f"{template_id}-{label}.png").write_bytes(png)


def compose(before: Path, after: Path, out: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(Path(__file__).resolve().parents[1] / "assets/fonts/NotoSansSC-Regular.otf"), 18)
    widths = [int(s.split("x")[0]) for s in SIZES]
    heights = [int(s.split("x")[1]) for s in SIZES]
    width = GAP + sum(2 * (w + GAP) for w in widths)
    band = LABEL + max(heights) + GAP
    sheet = Image.new("RGB", (width, GAP + LABEL + band * len(SAMPLES)), "#F3F4F6")
    draw = ImageDraw.Draw(sheet)
    x = GAP
    for label, w in zip(SIZES, widths):
        for side in ("before", "after"):
            draw.text((x, GAP // 2), f"{label} {side}", fill="#111827", font=font)
            x += w + GAP
    y = GAP + LABEL
    for template_id in SAMPLES:
        draw.text((GAP, y), template_id, fill="#374151", font=font)
        x = GAP
        for label, w in zip(SIZES, widths):
            for folder in (before, after):
                with Image.open(folder / f"{template_id}-{label}.png") as im:
                    sheet.paste(im.convert("RGB"), (x, y + LABEL))
                x += w + GAP
        y += band
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, "PNG", optimize=True)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "render":
        render(Path(args[0]).resolve(), Path(args[1]))
    elif command == "compose":
        compose(Path(args[0]), Path(args[1]), Path(args[2]))
    else:
        raise SystemExit(f"unknown command {command!r}; use render or compose")
