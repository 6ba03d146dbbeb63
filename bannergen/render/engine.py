"""The rendering facade the pipeline calls.

    renderer = Renderer(load_templates(Path("templates")), Path("assets"))
    spec = RenderSpec("category-launch", (1200, 400), context)
    renderer.variant_id(spec)          # '3fa1c2…' (24 hex), cheap: no rendering
    variant = renderer.render(spec)    # RenderedVariant(files={"webp": b"…", "png": b"…", "html": b"…"}, …)
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from PIL import Image

from bannergen.config import FORMATS
from bannergen.errors import TemplateError
from bannergen.render.encode import IMAGE_FORMATS, EncodeSettings, encode, encode_sidecar
from bannergen.render.html import render_html
from bannergen.render.image import Compositor, image_sources
from bannergen.render.variant import Digests, context_payload, template_payload, variant_id
from bannergen.templating.limits import render_budget
from bannergen.templating.template import Template
from bannergen.types import RenderedVariant, RenderSpec

log = logging.getLogger(__name__)

RENDERER_VERSION = "1"  # bump when the drawing code changes output bytes

SIDECAR_DIR = "img"


def sidecar_name(data: bytes) -> str:
    return f"{SIDECAR_DIR}/{hashlib.sha256(data).hexdigest()[:20]}.webp"


class Renderer:
    """Renders RenderSpecs to bytes. Holds caches (template digests, backgrounds, sidecars);
    one instance per process is meant to live for a whole batch."""

    def __init__(
        self,
        templates: dict[str, Template],
        assets_dir: Path,
        *,
        formats: tuple[str, ...] = ("webp", "png", "html"),
        webp_quality: int = 85,
        jpg_quality: int = 88,
        png_compress_level: int = 6,
        font_base_url: str | None = None,
    ) -> None:
        """``font_base_url``: when set (e.g. "fonts/" or "file:///…/assets/fonts/"), the HTML gets
        ``fonts`` = {"regular": URL, "bold": URL} of the template's font files under it, for an
        @font-face, so a browser without Noto Sans SC draws the same glyphs as the image. Off by
        default: the CMS page is expected to load the web font itself."""
        bad = [f for f in formats if f not in FORMATS]
        if bad or not formats:
            raise TemplateError(f"renderer formats {list(formats)}: expected some of {list(FORMATS)}")
        self.templates = templates
        self.assets_dir = Path(assets_dir)
        self.formats = tuple(formats)
        self.font_base_url = font_base_url
        self.settings = EncodeSettings(webp_quality, jpg_quality, png_compress_level)
        self._digests = Digests()
        self._template_payloads: dict[str, dict[str, Any]] = {}
        self._compositor = Compositor(self.assets_dir)
        self._sidecars: dict[int, tuple[str, bytes]] = {}  # id(image) of a cached layer -> sidecar
        self._sidecar_refs: dict[int, Image.Image] = {}  # keeps those layers alive so ids stay unique

    def template(self, template_id: str) -> Template:
        try:
            return self.templates[template_id]
        except KeyError:
            raise TemplateError(
                f"unknown template '{template_id}'", hint=f"templates: {sorted(self.templates)}"
            ) from None

    def formats_for(self, template: Template) -> tuple[str, ...]:
        """The configured formats this template allows (its manifest may restrict them)."""
        return tuple(f for f in self.formats if template.formats is None or f in template.formats)

    def variant_id(self, spec: RenderSpec) -> str:
        """24 hex chars identifying the bytes ``render(spec)`` produces (see render/variant.py)."""
        template = self.template(spec.template_id)
        template.layout(spec.size)  # an unknown size is an error here too, not a silent id
        payload = self._template_payloads.get(template.id)
        if payload is None:
            payload = self._template_payloads[template.id] = template_payload(template, self.assets_dir, self._digests)
        formats = self.formats_for(template)
        extra = {"font_base_url": self.font_base_url} if self.font_base_url and "html" in formats else {}
        return variant_id({
            **extra,
            "template": payload,
            "size": list(spec.size),
            "context": context_payload(spec.context, self._digests),
            "formats": {f: self.settings.for_format(f) for f in formats},
            "renderer": RENDERER_VERSION,
        })

    def _sidecar(self, image: Image.Image) -> tuple[str, bytes]:
        """Encode a cached layer (background, fitted product image) once as a content-addressed WebP."""
        key = id(image)
        hit = self._sidecars.get(key)
        if hit is None:
            data = encode_sidecar(image, self.settings)
            hit = self._sidecars[key] = (sidecar_name(data), data)
            self._sidecar_refs[key] = image
            if len(self._sidecars) > 512:  # bound memory over a long batch: drop the oldest
                oldest = next(iter(self._sidecars))
                del self._sidecars[oldest], self._sidecar_refs[oldest]
        return hit

    def compose(self, spec: RenderSpec) -> tuple[dict[str, Any], Any]:
        """The template variables and the composed image of ``spec``, before any encoding
        (benchmarks time encoding on its own against it)."""
        template = self.template(spec.template_id)
        size = (int(spec.size[0]), int(spec.size[1]))
        variables = template.variables(spec.context, size)
        variables["headline"] = template.headline(spec.context)
        return variables, self._compositor.compose(template, size, variables, image_sources(spec.context))

    def render(self, spec: RenderSpec) -> RenderedVariant:
        """Compose and encode ``spec`` in the configured formats. Text problems and unusable product
        images become ``warnings``; template errors raise TemplateError."""
        template = self.template(spec.template_id)
        size = (int(spec.size[0]), int(spec.size[1]))
        with render_budget(f"template '{template.id}' at {template.size_label(size)}"):
            return self._render(template, size, spec)

    def _render(self, template: Template, size: tuple[int, int], spec: RenderSpec) -> RenderedVariant:
        variables, composition = self.compose(spec)
        files: dict[str, bytes] = {}
        sidecars: dict[str, bytes] = {}
        for fmt in self.formats_for(template):
            if fmt in IMAGE_FORMATS:
                files[fmt] = encode(composition.image, fmt, self.settings)
        if "html" in self.formats_for(template):
            image_url = background_url = ""
            images: dict[str, str] = {}
            for name, product in composition.products.items():
                images[name], data = self._sidecar(product)
                sidecars[images[name]] = data
                if product is composition.product:
                    image_url = images[name]
            background_url, data = self._sidecar(self._compositor.background(template, size))
            sidecars[background_url] = data
            chains = {style: self._compositor.chain(template, style) for style in ("regular", "bold")}
            fonts = {}
            if self.font_base_url:
                base = self.font_base_url.rstrip("/")
                fonts = {"regular": f"{base}/{template.fonts.regular}", "bold": f"{base}/{template.fonts.bold}"}
            files["html"] = render_html(template, size, variables, composition, chains, image_url, background_url,
                                        images=images, fonts=fonts)
        return RenderedVariant(
            variant_id=self.variant_id(spec),
            files=files,
            sidecars=sidecars,
            warnings=tuple(dict.fromkeys(composition.warnings)),
        )
