"""Campaign rules from scoring/campaign_rules.toml, applied to a block of scores after the interest model.

Filters set a score to -inf (the item can never be chosen); boosts add to matching items.
Everything is column vectors over the catalog plus one sparse mask per block; no per-user loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bannergen.profile import Profiles
from bannergen.scorers.settings import CampaignRules


@dataclass(frozen=True)
class CompiledCampaignRules:
    """Campaign rules turned into catalog-wide vectors, computed once per run.

    allowed:   bool (n_items,), False for items filtered for everyone (out of stock, too small a discount)
    boost:     float32 (n_items,), total boost per item
    boost_name: object (n_items,), the name of the largest boost on the item ("" if none), for explanations
    """

    allowed: np.ndarray
    boost: np.ndarray
    boost_name: np.ndarray
    suppress_purchased_days: float


def discount_pct(catalog: pd.DataFrame) -> np.ndarray:
    """Whole percent below list price per item, 0 where there is no list price."""
    price = catalog["price"].to_numpy(dtype=np.float64)
    listed = catalog["list_price"].to_numpy(dtype=np.float64)
    pct = np.where(np.isfinite(listed) & (listed > price), (1.0 - price / np.where(listed > 0, listed, 1.0)) * 100, 0.0)
    return np.floor(pct + 1e-9)


def compile_campaign_rules(rules: CampaignRules, catalog: pd.DataFrame) -> CompiledCampaignRules:
    n = len(catalog)
    allowed = np.ones(n, dtype=bool)
    if rules.exclude_out_of_stock:
        allowed &= catalog["stock"].to_numpy() > 0
    if rules.min_discount_pct > 0:
        allowed &= discount_pct(catalog) >= rules.min_discount_pct
    boost = np.zeros(n, dtype=np.float32)
    best = np.zeros(n, dtype=np.float32)
    name = np.full(n, "", dtype=object)
    for b in rules.boosts:
        hit = np.zeros(n, dtype=bool)
        if b.brands:
            hit |= catalog["brand"].isin(b.brands).to_numpy()
        if b.categories:
            hit |= catalog["category"].isin(b.categories).to_numpy()
        if b.item_ids:
            hit |= catalog["item_id"].isin(b.item_ids).to_numpy()
        boost[hit] += b.add
        stronger = hit & (b.add > best)
        best[stronger], name[stronger] = b.add, b.name
    return CompiledCampaignRules(allowed, boost, name, rules.suppress_purchased_days)


def apply_campaign_rules(scores: np.ndarray, rows: np.ndarray, profiles: Profiles,
                         compiled: CompiledCampaignRules) -> np.ndarray:
    """Apply filters and boosts in place to ``scores`` (len(rows), n_items); returns it."""
    scores += compiled.boost[None, :]
    scores[:, ~compiled.allowed] = -np.inf
    if compiled.suppress_purchased_days > 0:
        recent = profiles.recent_purchase_age[rows].tocoo()
        # stored as age + 1 so a purchase made right now is still a non-zero entry
        keep = recent.data <= compiled.suppress_purchased_days + 1.0
        scores[recent.row[keep], recent.col[keep]] = -np.inf
    return scores
