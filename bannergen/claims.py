"""What a banner may claim about an item, decided once per run over the whole catalog.

    catalog = mark_claims(catalog, rules, as_of)   # adds is_new and is_sale (bool columns)

* ``is_new``: the catalog's optional ``launched`` date lies within ``[claims] new_days`` before
  ``as_of`` (the model's reference time), so 新品 / 首发 is said only of items that are new; an
  item without a date, or launched after ``as_of``, is not new.
* ``is_sale``: the discount is at least ``[claims] sale_min_discount_pct`` percent, so 优惠 is
  not shouted for a 9% cut.

Both are vectorized over the catalog; BannerContext.is_new / is_sale carry them to templates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bannergen.scorers.campaign_rules import discount_pct

if TYPE_CHECKING:
    import pandas as pd

    from bannergen.scorers.settings import CampaignRules


def mark_claims(catalog: pd.DataFrame, rules: CampaignRules, as_of: pd.Timestamp) -> pd.DataFrame:
    """``catalog`` with the bool columns ``is_new`` and ``is_sale`` (a new frame; the input is kept)."""
    import pandas as pd

    if "launched" in catalog:
        launched = pd.to_datetime(catalog["launched"], utc=True)
        age_days = (pd.Timestamp(as_of) - launched).dt.total_seconds().to_numpy() / 86400.0
        with np.errstate(invalid="ignore"):
            is_new = np.nan_to_num(age_days, nan=-1.0) >= 0
            is_new &= np.nan_to_num(age_days, nan=np.inf) <= rules.new_days
    else:
        is_new = np.zeros(len(catalog), dtype=bool)
    is_sale = discount_pct(catalog) >= rules.sale_min_discount_pct
    return catalog.assign(is_new=is_new, is_sale=is_sale)
