"""Pixel layers that do not depend on the text: backgrounds, shapes, product and asset images.

Everything here is memoized, because composition must stay small next to encoding: the
background of a (template, size) is drawn once; a product image is decoded and resized once per
(file, mtime, box, fit, radius); shape masks are drawn once per geometry.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageOps, UnidentifiedImageError

from bannergen.errors import TemplateError
from bannergen.templating.checks import RGBA
from bannergen.templating.layout import Background

log = logging.getLogger(__name__)

MAX_ASSET_PIXELS = 4096 * 4096  # the same limit `templates validate` enforces
SUPERSAMPLE = 4  # masks are drawn 4x and reduced, for anti-aliased rounded corners
PLACEHOLDER_FILL = (233, 236, 239, 255)
PLACEHOLDER_MARK = (173, 181, 189, 255)


def gradient(size: tuple[int, int], start: RGBA, end: RGBA, direction: str) -> Image.Image:
    """RGB linear gradient from ``start`` to ``end`` (computed with numpy, exact and fast)."""
    w, h = size
    xs = np.linspace(0.0, 1.0, w, dtype=np.float64)[None, :]
    ys = np.linspace(0.0, 1.0, h, dtype=np.float64)[:, None]
    t = {"horizontal": np.broadcast_to(xs, (h, w)), "vertical": np.broadcast_to(ys, (h, w)),
         "diagonal": (xs * w + ys * h) / (w + h)}[direction]
    a = np.array(start[:3], dtype=np.float64)
    b = np.array(end[:3], dtype=np.float64)
    pixels = a + (b - a) * t[..., None]
    return Image.fromarray(np.rint(pixels).astype(np.uint8), "RGB")


@lru_cache(maxsize=256)
def shape_mask(kind: str, w: int, h: int, radius: int, outline_width: int = 0, ring: bool = False) -> Image.Image:
    """Anti-aliased "L" mask of a rect (rounded by ``radius``) or ellipse filling a w x h box;
    ``ring`` gives only the outline of width ``outline_width``."""
    s = SUPERSAMPLE
    big = Image.new("L", (w * s, h * s), 0)
    draw = ImageDraw.Draw(big)
    box = (0, 0, w * s - 1, h * s - 1)
    if kind == "ellipse":
        draw.ellipse(box, fill=None if ring else 255, outline=255 if ring else None, width=outline_width * s)
    else:
        draw.rounded_rectangle(box, radius=radius * s, fill=None if ring else 255,
                               outline=255 if ring else None, width=outline_width * s)
    return big.reduce(s)


@lru_cache(maxsize=256)
def dash_mask(kind: str, w: int, h: int, outline_width: int, style: str) -> Image.Image:
    """"L" mask, 255 where a ``dashed`` or ``dotted`` outline of a w x h shape is drawn: dashes
    of 3 widths with gaps of 2 widths, or dots of 1 width with gaps of 1 width, laid along the
    perimeter (arc length along a rect's edges; the angle scaled by the mean radius on an ellipse)."""
    on, off = (3, 2) if style == "dashed" else (1, 1)
    width = max(1, outline_width)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    if kind == "ellipse":
        angle = np.arctan2((ys - h / 2) / (h / 2), (xs - w / 2) / (w / 2)) + np.pi
        along = angle * (w + h) / 4
    else:
        # the distance of each pixel to the four edges decides which edge it belongs to
        near = np.argmin(np.stack([ys, w - xs, h - ys, xs]), axis=0)
        along = np.choose(near, [xs, w + ys, w + h + (w - xs), 2 * w + h + (h - ys)])
    drawn = np.mod(along, (on + off) * width) < on * width
    return Image.fromarray(np.where(drawn, 255, 0).astype(np.uint8), "L")


def paint(image: Image.Image, box: tuple[int, int, int, int], colour: RGBA, mask: Image.Image) -> None:
    """Fill ``colour`` through ``mask`` (scaled by the colour's alpha) at ``box``."""
    if colour[3] == 0:
        return
    if colour[3] < 255:
        alpha = colour[3]
        mask = mask.point(lambda v: v * alpha // 255)
    x, y, w, h = box
    image.paste(colour[:3], (x, y, x + w, y + h), mask)


def draw_shape(image: Image.Image, kind: str, box: tuple[int, int, int, int], fill: RGBA | None,
               radius: int, outline: RGBA | None, outline_width: int, outline_style: str = "solid") -> None:
    _, _, w, h = box
    if fill is not None:
        paint(image, box, fill, shape_mask(kind, w, h, radius))
    if outline is not None and outline_width > 0:
        ring = shape_mask(kind, w, h, radius, outline_width, ring=True)
        if outline_style != "solid":
            ring = ImageChops.multiply(ring, dash_mask(kind, w, h, outline_width, outline_style))
        paint(image, box, outline, ring)


def _fit_image(img: Image.Image, w: int, h: int, fit: str) -> Image.Image:
    """Fit ``img`` into w x h (RGBA out). Resampling runs on the source mode (RGB for photos:
    a third less work than RGBA) with a reducing gap, which is several times faster than plain
    LANCZOS on a large source and indistinguishable at banner sizes."""
    if fit == "cover":
        scaled = ImageOps.fit(img, (w, h), Image.Resampling.LANCZOS)
        return scaled.convert("RGBA")
    ratio = min(w / img.width, h / img.height)
    target = (max(1, round(img.width * ratio)), max(1, round(img.height * ratio)))
    scaled = img.resize(target, Image.Resampling.LANCZOS, reducing_gap=2.0)
    canvas = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    canvas.paste(scaled.convert("RGBA"), ((w - scaled.width) // 2, (h - scaled.height) // 2))
    return canvas


def _round(img: Image.Image, radius: int) -> Image.Image:
    if radius <= 0:
        return img
    alpha = img.getchannel("A")
    corner = shape_mask("rect", img.width, img.height, radius)
    img = img.copy()
    img.putalpha(Image.fromarray(np.minimum(np.asarray(alpha), np.asarray(corner))))
    return img


@lru_cache(maxsize=64)
def _decoded(path: str, mtime_ns: int, nbytes: int, w: int, h: int) -> Image.Image:
    """The decoded source, shared by every size and template that shows this product.
    mtime_ns and nbytes are part of the key only: a changed file is a new cache entry."""
    with Image.open(path) as source:
        source.draft("RGB", (w, h))  # JPEG: decode at a reduced scale when every box is small
        img = ImageOps.exif_transpose(source)
        return img.convert("RGBA" if img.mode in ("RGBA", "LA", "P", "PA") else "RGB")


@lru_cache(maxsize=128)
def _product(path: str, mtime_ns: int, nbytes: int, w: int, h: int, fit: str, radius: int) -> Image.Image:
    # Decode at the largest box any shipped size uses (draft only ever scales by 1/2, 1/4, 1/8).
    img = _decoded(path, mtime_ns, nbytes, 600, 600)
    return _round(_fit_image(img, w, h, fit), radius)


def product_image(path: Path | None, w: int, h: int, fit: str, radius: int) -> tuple[Image.Image, str | None]:
    """The product image fitted into w x h (RGBA), or a placeholder and a warning."""
    if path is None:
        return placeholder(w, h, radius), None
    try:
        stat = Path(path).stat()
        return _product(str(path), stat.st_mtime_ns, stat.st_size, w, h, fit, radius), None
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
        log.warning("product image %s: %s", path, exc)
        return placeholder(w, h, radius), f"image: cannot use {path}: {type(exc).__name__}: {exc}"


@lru_cache(maxsize=64)
def placeholder(w: int, h: int, radius: int) -> Image.Image:
    """A neutral grey card with a simple picture mark, for items without a usable image."""
    img = Image.new("RGBA", (w, h), PLACEHOLDER_FILL)
    draw = ImageDraw.Draw(img)
    unit = max(4, min(w, h) // 6)
    cx, cy = w // 2, h // 2
    draw.polygon([(cx - 2 * unit, cy + unit), (cx - unit // 2, cy - unit // 2), (cx + unit // 2, cy + unit // 2),
                  (cx + unit, cy), (cx + 2 * unit, cy + unit)], fill=PLACEHOLDER_MARK)
    draw.ellipse((cx + unit // 2, cy - 2 * unit, cx + unit + unit // 2, cy - unit), fill=PLACEHOLDER_MARK)
    if radius:
        img = _round(img, radius)
    return img


@lru_cache(maxsize=64)
def asset_image(path: str, mtime_ns: int, w: int, h: int, fit: str, radius: int) -> Image.Image:
    try:
        with Image.open(path) as source:
            if source.width * source.height > MAX_ASSET_PIXELS:  # refuse a decompression bomb before decoding it
                raise Image.DecompressionBombError(
                    f"{source.width}x{source.height} pixels is above the limit of {MAX_ASSET_PIXELS:,}"
                )
            img = source.convert("RGBA")
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise TemplateError(
            f"{path}: cannot read asset image: {exc}", hint="run: bannergen templates validate"
        ) from exc
    return _round(_fit_image(img, w, h, fit), radius)


def background(size: tuple[int, int], spec: Background, image_path: Path | None) -> Image.Image:
    """The RGB background of a banner (not memoized here: the compositor caches per template)."""
    if spec.kind == "gradient" and spec.colour_to is not None:
        return gradient(size, spec.colour, spec.colour_to, spec.direction)
    base = Image.new("RGB", size, spec.colour[:3])
    if spec.kind == "image" and image_path is not None:
        img = asset_image(str(image_path), image_path.stat().st_mtime_ns, size[0], size[1], "cover", 0)
        base.paste(img, (0, 0), img)
    return base
