"""Why a user gets a banner: the event, search or campaign that contributed most to the chosen
item's score, as one short sentence ("因为你浏览了 佳能 相机"). Vectorized over all chosen users."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bannergen.model import Model
from bannergen.profile import VERB_BY_RANK, match_queries

POPULAR = "热门推荐"


def _item_contributions(model: Model, rows: np.ndarray, chosen: np.ndarray) -> pd.DataFrame:
    """Per user: the event item contributing most to the chosen item's score (pos, item, value)."""
    w = model.profiles.item_share()[rows].tocoo()
    ch = chosen[w.row]
    codes, weights = model.features.codes, model.settings.weights
    similarity = weights.item * (w.col == ch)
    for block in ("category", "brand", "price_band"):
        similarity = similarity + getattr(weights, block) * (codes[block][w.col] == codes[block][ch])
    frame = pd.DataFrame({"pos": w.row, "item": w.col, "value": w.data * similarity})
    return frame.sort_values(["pos", "value"], kind="stable").drop_duplicates("pos", keep="last")


def _query_contributions(model: Model, rows: np.ndarray, chosen: np.ndarray) -> pd.DataFrame:
    """Per user: the search query contributing most to the chosen item's score (pos, query, value)."""
    queries = model.profiles.queries
    pos_of_row = pd.Series(np.arange(len(rows)), index=rows)
    mine = queries[queries["user"].isin(rows)]
    if mine.empty:
        return pd.DataFrame(columns=["pos", "query", "value"])
    matched = mine.merge(match_queries(mine["query"], model.features, model.settings.weights), on="query")
    matched["pos"] = pos_of_row.reindex(matched["user"]).to_numpy()
    item_features = model.features.matrix[chosen[matched["pos"].to_numpy()]]
    beta = model.features.block_weights(model.settings.weights)
    hits = np.asarray(item_features[np.arange(len(matched)), matched["feature"].to_numpy()]).ravel()
    mass = model.profiles.mass[matched["user"].to_numpy()]
    matched["value"] = matched["mass"] / np.where(mass > 0, mass, 1) * beta[matched["feature"]] * hits
    best = matched.groupby(["pos", "query"], as_index=False)["value"].sum()
    return best.sort_values(["pos", "value"], kind="stable").drop_duplicates("pos", keep="last")


def explain_choices(model: Model, rows: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """One sentence per (row, chosen item); ``chosen`` -1 means no banner ("")."""
    out = np.full(len(rows), POPULAR, dtype=object)
    ok = chosen >= 0
    safe = np.where(ok, chosen, 0)
    item_best = _item_contributions(model, rows, safe).set_index("pos")
    query_best = _query_contributions(model, rows, safe).set_index("pos")
    pos = np.arange(len(rows))
    item_value = item_best["value"].reindex(pos).fillna(0.0).to_numpy()
    query_value = query_best["value"].reindex(pos).fillna(0.0).to_numpy()
    boost_name = model.campaign_rules.boost_name[safe]

    by_item = (item_value > 0) & (item_value >= query_value)
    if by_item.any():
        src = item_best["item"].reindex(pos[by_item]).to_numpy().astype(np.int64)
        rank = np.asarray(model.profiles.strongest[rows[by_item], src]).ravel()
        verbs = pd.Series(rank).map(VERB_BY_RANK).fillna("浏览了").to_numpy()
        brand = np.asarray(model.features.labels["brand"], dtype=object)[model.features.codes["brand"][src]]
        cat = np.asarray(model.features.labels["category"], dtype=object)[model.features.codes["category"][src]]
        out[by_item] = "因为你" + verbs + " " + brand + " " + cat
    by_query = (query_value > 0) & ~by_item
    if by_query.any():
        out[by_query] = "因为你搜索了“" + query_best["query"].reindex(pos[by_query]).to_numpy().astype(object) + "”"
    by_boost = ~by_item & ~by_query & (boost_name != "")
    out[by_boost] = "活动推荐：" + boost_name[by_boost]
    out[~ok] = ""
    return out
