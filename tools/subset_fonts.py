"""Make the committed CJK fonts under assets/fonts/ from Debian's Noto Sans CJK collections.

Why a subset: the full collections are ~20 MB each and hold five regional faces plus the Mono
faces. Banners only need Simplified Chinese, so we take the SC face and keep the characters a
Chinese shop can plausibly print: ASCII, Latin-1, general punctuation, CJK symbols and
punctuation, fullwidth forms, ¥, every GB2312 hanzi, and any extra hanzi found in the example
catalog. Hinting and vertical metrics are dropped (banners are rasterised at large sizes and set
horizontally), which keeps each file well under 5 MB.

Usage (needs `apt-get install fonts-noto-cjk`; runs offline):

    python tools/subset_fonts.py [--src-dir /usr/share/fonts/opentype/noto] [--out assets/fonts]
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

log = logging.getLogger("subset_fonts")

ROOT = Path(__file__).resolve().parent.parent
SC_FAMILY = "Noto Sans CJK SC"
FACES = {"Regular": "NotoSansCJK-Regular.ttc", "Bold": "NotoSansCJK-Bold.ttc"}
MAX_BYTES = 5 * 1024 * 1024
# Only features that change horizontal Latin/CJK setting; 'palt' proportional CJK punctuation is
# harmless to keep, the rest (vert, locl for JP/KR, ...) is dead weight for SC banners.
LAYOUT_FEATURES = ["kern", "palt", "liga", "ccmp"]

RANGES = (
    (0x0020, 0x007E),  # ASCII printable
    (0x00A0, 0x00FF),  # Latin-1 supplement (includes ¥ U+00A5)
    (0x2000, 0x206F),  # general punctuation (… — “ ” ‘ ’)
    (0x20A0, 0x20CF),  # currency symbols (€)
    (0x2100, 0x214F),  # letterlike symbols (№ ℃ ™)
    (0x2190, 0x21FF),  # arrows (→ used in CTAs)
    (0x2460, 0x24FF),  # enclosed alphanumerics (①)
    (0x25A0, 0x25FF),  # geometric shapes (■ ● ★ come from here and misc symbols)
    (0x2600, 0x26FF),  # misc symbols (★ ☆)
    (0x3000, 0x303F),  # CJK symbols and punctuation (、。「」【】)
    (0xFF00, 0xFFEF),  # halfwidth and fullwidth forms (，！（）￥)
)


def gb2312_chars() -> set[str]:
    """Every character GB2312 encodes in its double-byte area (rows 0xA1-0xF7, cells 0xA1-0xFE)."""
    chars: set[str] = set()
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(bytes((hi, lo)).decode("gb2312"))
            except UnicodeDecodeError:
                continue  # unassigned code points in the table
    return chars


def catalog_chars(catalog: Path) -> set[str]:
    """Non-ASCII characters of the text columns of the example catalog, when it exists."""
    if not catalog.is_file():
        log.info("no example catalog at %s; skipping", catalog)
        return set()
    chars: set[str] = set()
    with catalog.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            for column in ("title", "brand", "category"):
                chars.update(c for c in (row.get(column) or "") if ord(c) > 0x7F)
    return chars


def wanted_codepoints(catalog: Path) -> set[int]:
    cps = {cp for lo, hi in RANGES for cp in range(lo, hi + 1)}
    cps |= {ord(c) for c in gb2312_chars()}
    cps |= {ord(c) for c in catalog_chars(catalog)}
    return cps


def load_sc_face(ttc: Path) -> TTFont:
    """The Simplified Chinese face of a Noto Sans CJK collection (found by name, not index,
    because the face order of the collection is not a documented contract)."""
    collection = TTCollection(str(ttc))
    for font in collection.fonts:
        if font["name"].getDebugName(1) == SC_FAMILY:
            return font
    raise SystemExit(f"{ttc}: no face named {SC_FAMILY!r}")


def subset_face(ttc: Path, out: Path, codepoints: set[int]) -> int:
    font = load_sc_face(ttc)
    options = subset.Options()
    options.layout_features = LAYOUT_FEATURES
    options.hinting = False
    options.desubroutinize = False  # CFF subroutines make the CID font much smaller
    options.drop_tables += ["VORG", "vhea", "vmtx", "BASE"]
    options.name_IDs = ["*"]  # keep the copyright and licence records
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.recalc_timestamp = False  # reproducible bytes from the same input
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(codepoints))
    subsetter.subset(font)
    out.parent.mkdir(parents=True, exist_ok=True)
    font.recalcTimestamp = False  # keep head.modified from the source: same input, same bytes
    font.save(str(out))
    size = out.stat().st_size
    if size >= MAX_BYTES:
        raise SystemExit(f"{out}: {size} bytes; expected < {MAX_BYTES}")
    return size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src-dir", type=Path, default=Path("/usr/share/fonts/opentype/noto"))
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "fonts")
    parser.add_argument("--catalog", type=Path, default=ROOT / "examples" / "shop" / "catalog.csv")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # it logs every glyph name at INFO
    codepoints = wanted_codepoints(args.catalog)
    log.info("%d code points requested", len(codepoints))
    for style, name in FACES.items():
        out = args.out / f"NotoSansSC-{style}.otf"
        size = subset_face(args.src_dir / name, out, codepoints)
        log.info("%s: %.2f MB", out, size / 1e6)
    return 0


if __name__ == "__main__":
    sys.exit(main())
