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
        discount_pct   whole percent off list price (0 when not discounted), e.g. 17
        discount_text  e.g. "省¥1,000" or "" when not discounted
        image          absolute path of the product image, or None (templates draw a placeholder)
        cta            call-to-action text, e.g. "立即抢购"
        url            the product page, http(s) or ""
        antecedent     for cross-sell banners: the title of the item that triggers the rule, else ""
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
    cta: str = "立即抢购"
    url: str = ""
    antecedent: str = ""

    def as_template_vars(self) -> dict[str, Any]:
        """The names a Jinja template sees (image as a string path, never a Path object)."""
        return {
            "item_id": self.item_id,
            "title": self.title,
            "brand": self.brand,
            "category": self.category,
            "price": self.price,
            "price_value": self.price_value,
            "list_price": self.list_price,
            "discount_pct": self.discount_pct,
            "discount_text": self.discount_text,
            "has_discount": bool(self.list_price),
            "cta": self.cta,
            "url": self.url,
            "antecedent": self.antecedent,
        }


@dataclass(frozen=True)
class RenderSpec:
    """What to render: one template at one size over one banner context."""

    template_id: str
    size: tuple[int, int]  # (width, height) in pixels
    context: BannerContext

    @property
    def size_label(self) -> str:
        return f"{self.size[0]}x{self.size[1]}"


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
    """One (item, template) option for a user, with its score and softmax probability."""

    item_id: str
    template_id: str
    headline: str
    score: float
    probability: float


@dataclass(frozen=True)
class Decision:
    """The banner chosen for one user (per size), as logged for feedback and off-policy evaluation."""

    user_id: str
    item_id: str
    template_id: str
    score: float
    propensity: float
    policy: str
    explanation: str
