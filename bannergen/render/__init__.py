"""Rendering: text fitting, the Pillow image, the HTML twin, and content-addressed variant ids."""

from bannergen.render.engine import RENDERER_VERSION, Renderer

__all__ = ["RENDERER_VERSION", "Renderer"]
