"""Banner contexts for checking templates against a catalog: every suited item (lint) or a few
telling ones (preview).

A template that needs more than one item (``requires_items``) or an antecedent
(``requires_antecedent``) gets them filled here the way the pipeline would: the carousel shows
the item and the next items of the same category (catalog order), the cross-sell pair gets the
catalog's longest title as its antecedent, the worst case for text fitting.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from bannergen.templating.template import Template
from bannergen.types import BannerContext

if TYPE_CHECKING:
    import pandas as pd


def _contexts(catalog: pd.DataFrame, catalog_dir: Path, cta: str) -> list[BannerContext]:
    import pandas as pd

    from bannergen.claims import mark_claims
    from bannergen.contexts import banner_context
    from bannergen.scorers.settings import CampaignRules

    if "is_new" not in catalog:  # a catalog as loaded: claims as a render today would make them
        catalog = mark_claims(catalog, CampaignRules(), pd.Timestamp.now(tz="UTC"))
    return [banner_context(row, catalog_dir, cta) for row in catalog.to_dict("records")]


def contexts_for(template: Template, catalog: pd.DataFrame, catalog_dir: Path,
                 rows: list[int] | None = None) -> Iterator[tuple[int, BannerContext]]:
    """(catalog row, context) for every row the template suits (``catalog_mask``), or ``rows``."""
    import numpy as np

    cta = template.cta or "立即抢购"
    base = _contexts(catalog, catalog_dir, cta)
    mask = template.catalog_mask(catalog)
    chosen = [int(i) for i in np.flatnonzero(mask)] if rows is None else rows
    by_category: dict[str, list[int]] = {}
    for row in np.flatnonzero(mask):
        by_category.setdefault(base[int(row)].category, []).append(int(row))
    antecedent = None
    if template.requires_antecedent and base:
        antecedent = max(base, key=lambda c: (len(c.title), c.item_id))
    for i in chosen:
        ctx = base[i]
        changes: dict = {}
        if template.requires_items > 1:
            pool = by_category.get(ctx.category, [i])
            start = pool.index(i) if i in pool else 0
            others = [pool[(start + k) % len(pool)] for k in range(1, len(pool))][: template.requires_items - 1]
            if len(others) < template.requires_items - 1:  # a small category: fill from the catalog
                others += [j for j in range(len(base)) if j != i and j not in others][
                    : template.requires_items - 1 - len(others)
                ]
            changes["items"] = (ctx, *(base[j] for j in others))
        if antecedent is not None:
            ante = antecedent if antecedent.item_id != ctx.item_id else base[(i + 1) % len(base)]
            changes.update(antecedent=ante.title, antecedent_id=ante.item_id, antecedent_image=ante.image)
        yield i, (BannerContext(**{**_fields(ctx), **changes}) if changes else ctx)


def _fields(ctx: BannerContext) -> dict:
    from dataclasses import fields

    return {f.name: getattr(ctx, f.name) for f in fields(ctx)}


def sample_rows(template: Template, catalog: pd.DataFrame, limit: int = 6) -> list[tuple[int, str]]:
    """Up to ``limit`` telling rows the template suits, as (row, why): the shortest and the longest
    title, the most Chinese and the most English title, the highest and the lowest price."""
    import numpy as np

    idx = np.flatnonzero(template.catalog_mask(catalog))
    if len(idx) == 0:
        return []
    titles = catalog["title"].astype(str).to_numpy()[idx]
    prices = catalog["price"].to_numpy(dtype=float)[idx]
    length = np.array([len(t) for t in titles])
    cjk = np.array([sum("\u4e00" <= ch <= "\u9fff" for ch in t) / max(1, len(t)) for t in titles])
    latin = np.array([sum(ch.isascii() and ch.isalpha() for ch in t) / max(1, len(t)) for t in titles])
    picks = [
        (int(np.argmin(length)), "shortest title"),
        (int(np.argmax(length)), "longest title"),
        (int(np.argmax(cjk)), "most Chinese title"),
        (int(np.argmax(latin)), "most English title"),
        (int(np.argmax(prices)), "highest price"),
        (int(np.argmin(prices)), "lowest price"),
    ]
    out: dict[int, str] = {}
    for k, why in picks:
        row = int(idx[k])
        out[row] = f"{out[row]}, {why}" if row in out else why
    return list(out.items())[:limit]
