"""Checks for values read from template TOML files: keys, colours, boxes, sizes, asset paths.

Every failure is a TemplateError whose message starts with ``file: `` and names the key, the
expected and the actual value, so a typo in a manifest points straight at itself.
"""

from __future__ import annotations

import difflib
import posixpath
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bannergen.errors import TemplateError
from bannergen.settings_table import reject_unknown_keys
from bannergen.size import Size

RGBA = tuple[int, int, int, int]
Box = tuple[int, int, int, int]

_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")


def check_keys(table: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """Reject unknown keys with a difflib "did you mean" hint (a typo must never be ignored)."""
    reject_unknown_keys(table, allowed, where, error=TemplateError, word="key")


def require(table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in table:
        raise TemplateError(f"{where}: missing key '{key}'")
    return typed(table, key, kind, where, None)


def typed(table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any) -> Any:
    """``table[key]`` checked against ``kind`` (bool is never accepted as a number)."""
    if key not in table:
        return default
    value = table[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if not ok:
        names = " or ".join(k.__name__ for k in kinds)
        raise TemplateError(f"{where}: '{key}' must be a {names}; got {value!r}")
    return value


def parse_size(text: str, where: str) -> Size:
    """A manifest or layout size, "1200x400", each side 10 to 99999 pixels."""
    try:
        size = Size.parse(text)
    except ValueError as exc:
        raise TemplateError(f"{where}: {exc}") from None
    if not (10 <= size.width <= 99_999 and 10 <= size.height <= 99_999):
        raise TemplateError(f"{where}: size must look like '1200x400'; got {text!r}")
    return size


def parse_colour(value: Any, colours: Mapping[str, str], where: str) -> RGBA:
    """'#rgb', '#rrggbb', '#rrggbbaa' or the name of an entry of the manifest's [colours]."""
    text = value
    if isinstance(text, str) and not text.startswith("#"):
        if text not in colours:
            close = difflib.get_close_matches(text, list(colours), n=1)
            hint = f"did you mean '{close[0]}'?" if close else "use '#rrggbb' or a name from [colours]"
            raise TemplateError(f"{where}: unknown colour {text!r}", hint=hint)
        text = colours[text]
    if not isinstance(text, str) or not _HEX.match(text):
        raise TemplateError(f"{where}: colour must be '#rrggbb' or '#rrggbbaa'; got {value!r}")
    digits = text[1:]
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    if len(digits) == 6:
        digits += "ff"
    r, g, b, a = (int(digits[i : i + 2], 16) for i in range(0, 8, 2))
    return r, g, b, a


def parse_box(value: Any, size: tuple[int, int], where: str) -> Box:
    """[x, y, w, h] in pixels, wholly inside the banner."""
    if not (
        isinstance(value, list)
        and len(value) == 4
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise TemplateError(f"{where}: box must be [x, y, w, h] integers; got {value!r}")
    x, y, w, h = value
    if w <= 0 or h <= 0:
        raise TemplateError(f"{where}: box {value} needs a width and height above 0")
    over = {"left": -x, "top": -y, "right": x + w - size[0], "bottom": y + h - size[1]}
    edges = [f"the {edge} edge by {px} px" for edge, px in over.items() if px > 0]
    if edges:
        raise TemplateError(
            f"{where}: box {value} does not lie inside the {Size(*size)} banner: it overflows {' and '.join(edges)}",
            hint="move or shrink the box; [x, y, w, h] is left, top, width, height in 1x pixels",
        )
    return x, y, w, h


def check_asset_path(rel: Any, where: str) -> str:
    """A relative POSIX path that stays under assets/ (checked again on disk with resolve())."""
    if not isinstance(rel, str) or not rel:
        raise TemplateError(f"{where}: asset path must be a non-empty string; got {rel!r}")
    norm = posixpath.normpath(rel.replace("\\", "/"))
    if rel.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", rel) or norm == ".." or norm.startswith("../"):
        raise TemplateError(
            f"{where}: asset path {rel!r} escapes assets/", hint="name a file under assets/, e.g. 'backgrounds/x.png'"
        )
    return norm


def resolve_asset(assets_dir: Path, rel: str, where: str) -> Path:
    """The file ``assets_dir/rel``, refusing anything (including a symlink) that leaves assets_dir."""
    root = assets_dir.resolve()
    path = (root / check_asset_path(rel, where)).resolve()
    if not path.is_relative_to(root):
        raise TemplateError(f"{where}: asset path {rel!r} escapes assets/ (resolves to {path})")
    return path
