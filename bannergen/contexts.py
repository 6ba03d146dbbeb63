"""Catalog rows -> BannerContext: the formatted values a template shows."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from bannergen.scorers.settings import CAMPAIGN_RULES
from bannergen.templating.filters import format_cny
from bannergen.types import BannerContext

__all__ = ["banner_context", "format_cny", "template_context"]

# Without the model's claim columns (a raw catalog in lint or preview) the default threshold holds.
_SALE_MIN_PCT = float(CAMPAIGN_RULES["claims.sale_min_discount_pct"])




def banner_context(row: pd.Series | dict, catalog_dir: Path, cta: str = "立即抢购") -> BannerContext:
    """The context for one catalog row (schema in bannergen.types)."""
    price = float(row["price"])
    listed = row.get("list_price")
    listed = float(listed) if listed is not None and pd.notna(listed) else math.nan
    discounted = math.isfinite(listed) and listed > price
    pct = int(math.floor((1 - price / listed) * 100 + 1e-9)) if discounted else 0
    image = str(row.get("image") or "")
    is_sale = row.get("is_sale")
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
        list_price_value=listed if discounted else 0.0,
        saving_value=round(listed - price, 2) if discounted else 0.0,
        is_new=bool(row.get("is_new", False)),
        is_sale=bool(is_sale) if is_sale is not None else pct >= _SALE_MIN_PCT,
        image=(catalog_dir / image).resolve() if image else None,
        cta=cta,
        url=str(row.get("url") or ""),
    )


def template_context(catalog: pd.DataFrame, item: int, template, catalog_dir: Path,
                     companions: np.ndarray | None = None, antecedent: int = -1) -> BannerContext:
    """The context of catalog row ``item`` shown by ``template``: the template's CTA; for a
    multi-item template (the carousel) ``items`` = the item, then its companions (rows of
    ``companions[item]``); for a cross-sell banner (``antecedent`` >= 0) the trigger item."""
    context = banner_context(catalog.iloc[int(item)], catalog_dir, getattr(template, "cta", "") or "立即抢购")
    need = getattr(template, "requires_items", 1)
    if need > 1 and companions is not None and companions.shape[1]:
        rows = [int(item)] + [int(c) for c in companions[int(item)][: need - 1] if c >= 0]
        context = replace(context, items=tuple(banner_context(catalog.iloc[r], catalog_dir) for r in rows))
    if antecedent >= 0:  # a cross-sell banner: "买了 <antecedent> 的人也买了 <item>"
        trigger = banner_context(catalog.iloc[int(antecedent)], catalog_dir)
        context = replace(
            context, antecedent=trigger.title, antecedent_id=trigger.item_id, antecedent_image=trigger.image
        )
    return context
