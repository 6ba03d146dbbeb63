"""Records passed between stages. Frozen dataclasses, not dicts of arrays.

Tabular stage outputs stay pandas DataFrames (vectorized work needs them); their schemas are
documented here once and checked by the loaders:

Catalog frame (one row per item, index is a RangeIndex):
    item_id     str     never coerced to a number ("000123" stays "000123")
    title       str
    brand       str
    category    str
    price       float64 CNY, > 0
    list_price  float64 CNY, >= price, NaN when the item is not discounted
    image       str     path relative to the catalog's folder, "" when absent
    stock       int64   >= 0
    url         str     http(s) URL or ""
    launched    datetime64[ns, UTC]  when the item went on sale (optional column), NaT when unknown
    is_new      bool    (added by the model) launched within [claims] new_days of the reference time
    is_sale     bool    (added by the model) a discount of at least [claims] sale_min_discount_pct

Events frame (one row per behaviour event):
    user_id     str
    item_id     str     "" for a search with no item
    event       str     one of EVENT_TYPES
    ts          datetime64[ns, UTC]
    query       str     the search text, "" for non-search events
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bannergen.size import Size

EVENT_TYPES: tuple[str, ...] = ("view", "search", "cart", "purchase")


@dataclass(frozen=True)
class Reject:
    """One skipped input row: rendered as ``file:line:field: problem; got X; expected Y``."""

    file: str
    line: int
    field: str
    problem: str
    got: str
    expected: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.field}: {self.problem}; got {self.got}; expected {self.expected}"


@dataclass(frozen=True)
class BannerContext:
    """Everything a template can show. The one documented record templates see.

    Fields (all text already formatted for display):
        item_id        catalog id (never shown by the shipped templates, kept for tracking)
        title          product title, e.g. "佳能 EOS R50 微单相机"
        brand          e.g. "佳能"
        category       e.g. "相机"
        price          formatted price with currency, e.g. "¥4,999"
        price_value    the price as a number (CNY)
        list_price     formatted list price, e.g. "¥5,999", or "" when not discounted
        list_price_value  the list price as a number (CNY), 0.0 when not discounted
        discount_pct   whole percent off list price (0 when not discounted), e.g. 17
        discount_text  e.g. "省¥1,000" or "" when not discounted
        saving_value   list price minus price as a number (CNY), e.g. 1000.0; 0.0 when not discounted
        is_new         the catalog marks the item new (its ``launched`` date is within
                       scoring/campaign_rules.toml [claims] new_days): only then may a banner
                       say 新品 or 首发
        is_sale        the discount is at least [claims] sale_min_discount_pct (default 10%):
                       only then may a banner shout 优惠
        image          absolute path of the product image, or None (templates draw a placeholder)
        cta            call-to-action text, e.g. "立即抢购"
        url            the product page, http(s) or ""
        antecedent     for cross-sell banners: the title of the item that triggers the rule, else ""
        antecedent_id  for cross-sell banners: the catalog id of that item, else ""
        antecedent_image  for cross-sell banners: absolute path of that item's image, or None
        items          for multi-item banners (the carousel): the items to show, in order, each a
                       BannerContext (their own ``items`` are ignored); () for single-item banners,
                       which templates then treat as the one item ``(self,)``

    ``items`` and ``antecedent*`` are optional: a template that needs them says so in its manifest
    (``[suits] requires_items = 3`` / ``requires_antecedent = true``, see docs/templates.md) and is
    only paired with an item when the pipeline fills them.
    """

    item_id: str
    title: str
    brand: str
    category: str
    price: str
    price_value: float
    list_price: str = ""
    discount_pct: int = 0
    discount_text: str = ""
    image: Path | None = None
    list_price_value: float = 0.0
    saving_value: float = 0.0
    is_new: bool = False
    is_sale: bool = False
    cta: str = "立即抢购"
    url: str = ""
    antecedent: str = ""
    antecedent_id: str = ""
    antecedent_image: Path | None = None
    items: tuple[BannerContext, ...] = ()

    def as_template_vars(self) -> dict[str, Any]:
        """The names a Jinja template sees (no image paths: images are layout elements).

        ``items`` is a list of dicts of these same names (without ``items``), one per item shown:
        ``context.items`` when given, else ``[the item itself]``, so ``items[0].title`` always works."""
        names = self._own_vars()
        names["items"] = [i._own_vars() for i in self.items] if self.items else [self._own_vars()]
        return names

    def _own_vars(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "title": self.title,
            "brand": self.brand,
            "category": self.category,
            "price": self.price,
            "price_value": self.price_value,
            "list_price": self.list_price,
            "list_price_value": self.list_price_value,
            "discount_pct": self.discount_pct,
            "discount_text": self.discount_text,
            "saving_value": self.saving_value,
            "is_new": self.is_new,
            "is_sale": self.is_sale,
            "has_discount": bool(self.list_price),
            "cta": self.cta,
            "url": self.url,
            "antecedent": self.antecedent,
            "antecedent_id": self.antecedent_id,
        }


@dataclass(frozen=True)
class RenderSpec:
    """What to render: one template at one size over one banner context."""

    template_id: str
    size: tuple[int, int]  # (width, height) in pixels
    context: BannerContext

    @property
    def size_label(self) -> str:
        return str(Size(*self.size))


@dataclass(frozen=True)
class RenderedVariant:
    """The bytes of one variant. ``files`` maps format ("png", "webp", "jpg", "html") to bytes;
    ``sidecars`` maps content-addressed relative names (e.g. "img/3fa1c2….webp") that the HTML
    refers to, to their bytes. ``warnings`` lists text-fitting problems (missing glyphs, ellipsis)."""

    variant_id: str
    files: dict[str, bytes]
    sidecars: dict[str, bytes] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """One candidate banner of a decision: its position in the candidate set, the banner, its score
    (NaN for a pin or default banner), the probability the policy gives it and why it is shown."""

    position: int
    item_id: str
    template_id: str
    headline: str
    score: float
    probability: float
    reason: str = ""
    antecedent_id: str = ""
