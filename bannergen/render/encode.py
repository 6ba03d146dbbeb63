"""Encode a composed RGB image to PNG, WebP or JPEG bytes, deterministically.

No timestamps or metadata are written, and settings are fixed per format, so the same pixels
give the same bytes in every process (the variant id relies on it).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from bannergen.errors import EnvironmentFailure

IMAGE_FORMATS = ("png", "webp", "jpg")


@dataclass(frozen=True)
class EncodeSettings:
    webp_quality: int = 85
    jpg_quality: int = 88
    png_compress_level: int = 6

    def for_format(self, fmt: str) -> dict[str, int]:
        """The settings that decide the bytes of ``fmt`` (part of the variant id)."""
        return {
            "png": {"compress_level": self.png_compress_level},
            "webp": {"quality": self.webp_quality, "method": 4},
            "jpg": {"quality": self.jpg_quality},
        }.get(fmt, {})


def encode(image: Image.Image, fmt: str, settings: EncodeSettings) -> bytes:
    """``image`` (RGB) as ``fmt`` bytes; ``fmt`` is one of IMAGE_FORMATS."""
    buf = io.BytesIO()
    try:
        if fmt == "png":
            image.save(buf, "PNG", compress_level=settings.png_compress_level, optimize=False)
        elif fmt == "webp":
            image.save(buf, "WEBP", quality=settings.webp_quality, method=4)
        elif fmt == "jpg":
            image.save(buf, "JPEG", quality=settings.jpg_quality, optimize=False, progressive=False)
        else:
            raise ValueError(f"unknown image format {fmt!r}; expected one of {IMAGE_FORMATS}")
    except (OSError, KeyError) as exc:  # KeyError: Pillow built without this codec
        raise EnvironmentFailure(f"cannot encode {fmt}: {exc}", hint="install Pillow with WebP/JPEG support") from exc
    return buf.getvalue()


def encode_sidecar(image: Image.Image, settings: EncodeSettings) -> bytes:
    """A WebP for the HTML (keeps alpha, e.g. the rounded product image)."""
    buf = io.BytesIO()
    try:
        image.save(buf, "WEBP", quality=settings.webp_quality, method=4)
    except (OSError, KeyError) as exc:
        raise EnvironmentFailure(f"cannot encode webp sidecar: {exc}", hint="install Pillow with WebP support") from exc
    return buf.getvalue()
