"""The names a template may use, derived from the one documented record (BannerContext).

* CONTEXT_NAMES: BannerContext.as_template_vars(), what the pipeline fills per banner.
* TEXT_NAMES: what layout text, ``when`` conditions and the headline see (the renderer adds the
  size, the rendered headline and the manifest's colours).
* HTML_NAMES: what banner.html.j2 sees (the renderer also adds sidecar URLs and the fitted boxes).
* CATALOG_FIELDS: names whose values come from the shop's catalog, i.e. untrusted text that must
  never be marked ``|safe``.
"""

from __future__ import annotations

from bannergen.types import BannerContext

CONTEXT_NAMES: tuple[str, ...] = tuple(
    BannerContext(item_id="", title="", brand="", category="", price="", price_value=0.0).as_template_vars())
SLOT_NAMES: tuple[str, ...] = CONTEXT_NAMES + ("image", "antecedent_image")
TEXT_NAMES: frozenset[str] = frozenset(CONTEXT_NAMES) | {"size", "width", "height", "scale", "headline", "colours"}
HTML_NAMES: frozenset[str] = TEXT_NAMES | {"image_url", "images", "background_url", "fitted", "boxes", "fonts"}
CATALOG_FIELDS: frozenset[str] = frozenset({
    "item_id", "title", "brand", "category", "price", "list_price", "discount_text", "cta", "url",
    "antecedent", "antecedent_id", "items", "headline", "fitted",
})
