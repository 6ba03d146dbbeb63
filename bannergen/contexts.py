"""Catalog rows -> BannerContext: the formatted values a template shows."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from bannergen.types import BannerContext


def format_cny(value: float) -> str:
    """¥4,999 for whole yuan, ¥4,999.50 otherwise."""
    if math.isclose(value, round(value), abs_tol=0.005):
        return f"¥{round(value):,}"
    return f"¥{value:,.2f}"


def banner_context(row: pd.Series | dict, catalog_dir: Path, cta: str = "立即抢购") -> BannerContext:
    """The context for one catalog row (schema in bannergen.types)."""
    price = float(row["price"])
    listed = row.get("list_price")
    listed = float(listed) if listed is not None and pd.notna(listed) else math.nan
    discounted = math.isfinite(listed) and listed > price
    pct = int(math.floor((1 - price / listed) * 100 + 1e-9)) if discounted else 0
    image = str(row.get("image") or "")
    return BannerContext(
        item_id=str(row["item_id"]),
        title=str(row["title"]),
        brand=str(row["brand"]),
        category=str(row["category"]),
        price=format_cny(price),
        price_value=price,
        list_price=format_cny(listed) if discounted else "",
        discount_pct=pct,
        discount_text=f"省{format_cny(listed - price)}" if discounted else "",
        image=(catalog_dir / image).resolve() if image else None,
        cta=cta,
        url=str(row.get("url") or ""),
    )
