"""User interest profiles: U_i = sum_j w_ij * C_j (design article, section 4.1.1), for all users at once.

a_ij is the decayed event mass of user i on item j,
    a_ij = sum over i's events on j of event_weight[type] * 0.5 ** (age_days / half_life_days)
and w_ij = a_ij / sum_j a_ij. Searches add their mass straight onto the category and brand
features their query names ("佳能 相机" counts toward brand:佳能 and category:相机), as a
pseudo-item with only those features; U_i is normalised by the user's total mass, items and
searches together, so each feature block of U_i is a share of the user's interest.
Short-term intent is mixed in: with S_i the same shares over the user's session (events within
session_minutes of their latest one) and a_i = session_weight * 0.5 ** (session age / half-life),
U_i = (1 - a_i) * long-term shares . C + a_i * S_i . C.
Everything is sparse matrix algebra over all users; there is no per-user Python loop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from bannergen.features import ItemFeatures

if TYPE_CHECKING:  # annotations only: settings imports the scorers, which import this module
    from bannergen.scorers.settings import InterestWeights

# Strength of an event type for "because you <verb> ..." (the strongest event on an item wins).
EVENT_RANK = {"view": 1, "search": 0, "cart": 2, "purchase": 3}
VERB_BY_RANK = {1: "浏览了", 2: "加购了", 3: "购买了"}


@dataclass(frozen=True)
class Profiles:
    """Interest state of every user seen in the events.

    user_ids:        pd.Index (n_users,), sorted
    item_mass:       csr (n_users, n_items)   a_ij, decayed event mass per item
    query_mass:      csr (n_users, n_features) decayed search mass on the features queries name
    mass:            ndarray (n_users,) total mass: row sums of both, the normaliser of w and U
    interest:        csr (n_users, n_features) U_i, each block sums to at most 1
    strongest:       csr (n_users, n_items) int8, EVENT_RANK of the strongest event on the item
    recent_purchase_age: csr (n_users, n_items) float32, days since the last purchase + 1 (0 = never)
    purchases:       ndarray (n_users,) purchase events
    idle_days:       ndarray (n_users,) days since the user's last event
    activity:        DataFrame (n_users rows) of counts segments test: events (searches included),
                     views, carts, purchases; first_seen_days (days since the first event); spend
                     (CNY, the catalog price of every purchase event)
    queries:         DataFrame user (code), query, mass: one row per user and distinct query
    popularity:      ndarray (n_items,) in [0, 1], log of shop-wide decayed mass over its maximum
    as_of:           the reference time of the decay
    """

    user_ids: pd.Index
    item_mass: sp.csr_matrix
    query_mass: sp.csr_matrix
    mass: np.ndarray
    interest: sp.csr_matrix
    strongest: sp.csr_matrix
    recent_purchase_age: sp.csr_matrix
    purchases: np.ndarray
    idle_days: np.ndarray
    activity: pd.DataFrame
    queries: pd.DataFrame
    popularity: np.ndarray
    as_of: pd.Timestamp

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    def item_weights(self) -> sp.csr_matrix:
        """w_ij = a_ij / sum_j a_ij: the article's interest weights over items (zhangsan: 0.3 / 0.2 / 0.5)."""
        total = np.asarray(self.item_mass.sum(axis=1)).ravel()
        inv = np.divide(1.0, total, out=np.zeros_like(total), where=total > 0)
        return (sp.diags(inv) @ self.item_mass).tocsr()

    def item_share(self) -> sp.csr_matrix:
        """a_ij / mass_i: item j's share of all of user i's activity, searches included; with the
        search share lambda_i, U_i = (1 - lambda_i) * sum_j w_ij C_j + lambda_i * q_i."""
        inv = np.divide(1.0, self.mass, out=np.zeros_like(self.mass), where=self.mass > 0)
        return (sp.diags(inv) @ self.item_mass).tocsr()

    def row(self, user_id: str) -> int | None:
        pos = self.user_ids.get_indexer([user_id])[0]
        return None if pos < 0 else int(pos)


def resolve_as_of(events: pd.DataFrame, as_of: str = "") -> pd.Timestamp:
    """The decay reference: the configured time, else the newest event (so reruns are reproducible)."""
    if as_of:
        ts = pd.Timestamp(as_of)
        return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if len(events) == 0:
        return pd.Timestamp("1970-01-01", tz="UTC")
    return events["ts"].max()


# Decayed masses are summed per item on a grid of 2**-20: sums of multiples of it are exact in
# float64, so the shop-wide totals do not depend on how the users were split into partitions
# (bannergen.distributed adds up the totals of each partition's users).
_MASS_GRID = float(2**20)


def item_totals(item_codes: np.ndarray, mass: np.ndarray, n_items: int) -> np.ndarray:
    """Shop-wide decayed mass per item (n_items,) from each event's item code and mass; the
    totals of disjoint sets of users add up to the totals of their union, exactly."""
    return np.bincount(item_codes, weights=np.round(mass * _MASS_GRID), minlength=n_items) / _MASS_GRID


def popularity_of(totals: np.ndarray) -> np.ndarray:
    """Profiles.popularity from ``item_totals``: log1p of each item's total over the largest, in [0, 1]."""
    logged = np.log1p(totals)
    top = logged.max() if len(logged) else 0.0
    return logged / top if top > 0 else np.zeros(len(logged))


def event_items(events: pd.DataFrame, features: ItemFeatures, weights: InterestWeights,
                as_of: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
    """(item codes, decayed masses) of the events on catalog items: what ``item_totals`` sums."""
    event = events["event"].to_numpy()
    _, _, mass = event_mass(events, weights, as_of)
    on_item = (event != "search") & (events["item_id"].to_numpy() != "")
    codes = features.item_ids.get_indexer(events["item_id"].to_numpy()[on_item])
    known = codes >= 0
    return codes[known], mass[on_item][known]


def event_mass(events: pd.DataFrame, weights: InterestWeights,
               as_of: pd.Timestamp) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(age in days, event type weight, decayed mass a = weight * 0.5 ** (age / half-life)) per event row."""
    age_days = ((as_of - events["ts"]).dt.total_seconds().to_numpy() / 86400.0).clip(min=0.0)
    type_weight = pd.Series(events["event"].to_numpy()).map(weights.event_weights).to_numpy(dtype=np.float64)
    return age_days, type_weight, type_weight * np.power(0.5, age_days / weights.half_life_days)


def match_queries(queries: pd.Series, features: ItemFeatures, weights: InterestWeights) -> pd.DataFrame:
    """Which category/brand features each distinct query names: DataFrame (query, feature).

    Matching is by substring on the lower-cased query (Chinese has no spaces to split on), plus the
    aliases in scoring/weights.toml for words in other languages. Runs once per distinct query.
    """
    index = features.feature_index()
    names = {
        label.lower(): f"{block}:{label}" for block in ("category", "brand") for label in features.labels[block]
    }
    pairs: list[tuple[str, int]] = []
    for query in pd.unique(queries):
        q = str(query).lower()
        hit = {feat for name, feat in names.items() if name and name in q}
        for word in re.findall(r"[a-z0-9]+", q):
            target = weights.aliases.get(word)
            for block in ("category", "brand"):
                if target is not None and f"{block}:{target}" in index:
                    hit.add(f"{block}:{target}")
        pairs.extend((query, index[f]) for f in sorted(hit))
    return pd.DataFrame(pairs, columns=["query", "feature"]).astype({"feature": np.int64})


def build_profiles(
    events: pd.DataFrame, features: ItemFeatures, weights: InterestWeights, as_of: pd.Timestamp
) -> Profiles:
    """Profiles for every user in ``events`` (schema in bannergen.types), decayed to ``as_of``."""
    user_codes, user_ids = pd.factorize(events["user_id"], sort=True)
    n_users, n_items, n_feats = len(user_ids), features.n_items, len(features.names)
    age_days, type_weight, mass = event_mass(events, weights, as_of)
    event = events["event"].to_numpy()

    is_search = event == "search"
    on_item = ~is_search & (events["item_id"].to_numpy() != "")
    item_codes = features.item_ids.get_indexer(events["item_id"].to_numpy()[on_item])
    known = item_codes >= 0  # loaders reject unknown items; this guards library callers
    u, j, m = user_codes[on_item][known], item_codes[known], mass[on_item][known]
    shape = (n_users, n_items)
    item_mass = sp.csr_matrix((m, (u, j)), shape=shape)  # duplicates are summed
    item_mass.sum_duplicates()

    rank = pd.Series(event[on_item][known]).map(EVENT_RANK).to_numpy(dtype=np.int8)
    strongest = _max_per_cell(u, j, rank, shape).astype(np.int8)
    bought = rank == EVENT_RANK["purchase"]
    # Store age + 1 so that "bought just now" is not confused with the sparse zero of "never".
    recent_purchase_age = _min_per_cell(
        u[bought], j[bought], age_days[on_item][known][bought].astype(np.float32) + 1.0, shape
    )

    searches = pd.DataFrame(
        {"user": user_codes[is_search], "query": events["query"].to_numpy()[is_search], "mass": mass[is_search]}
    )
    queries = searches.groupby(["user", "query"], as_index=False, sort=True)["mass"].sum()
    query_features = match_queries(queries["query"], features, weights)
    query_mass, query_total = _query_matrix(queries, query_features, (n_users, n_feats))
    total = np.asarray(item_mass.sum(axis=1)).ravel() + query_total
    long_term = _normalise(item_mass @ features.matrix + query_mass, total)

    # Short-term intent: the user's session (events within session_minutes of their latest one),
    # undecayed inside the window, mixed in with a weight that decays with the session's age. A
    # phone lover who views five cameras right now is shopping for a camera right now.
    idle_days = pd.Series(age_days).groupby(user_codes).min().reindex(range(n_users)).to_numpy()
    in_session = age_days <= idle_days[user_codes] + weights.session_minutes / 1440.0
    s_item = in_session[on_item][known]
    session_items = sp.csr_matrix((type_weight[on_item][known][s_item], (u[s_item], j[s_item])), shape=shape)
    session_searches = pd.DataFrame(
        {"user": user_codes[is_search & in_session], "query": events["query"].to_numpy()[is_search & in_session],
         "mass": type_weight[is_search & in_session]}
    ).groupby(["user", "query"], as_index=False, sort=True)["mass"].sum()
    session_query, session_query_total = _query_matrix(session_searches, query_features, (n_users, n_feats))
    session_total = np.asarray(session_items.sum(axis=1)).ravel() + session_query_total
    session = _normalise(session_items @ features.matrix + session_query, session_total)
    alpha = np.where(
        session_total > 0, weights.session_weight * np.power(0.5, idle_days / weights.half_life_days), 0.0
    )
    interest = (sp.diags(1.0 - alpha) @ long_term + sp.diags(alpha) @ session).tocsr()

    popularity = popularity_of(item_totals(j, m, n_items))

    purchases = np.bincount(user_codes[event == "purchase"], minlength=n_users)
    bought_here = event[on_item][known] == "purchase"
    activity = pd.DataFrame({
        "events": np.bincount(user_codes, minlength=n_users),
        "views": np.bincount(user_codes[event == "view"], minlength=n_users),
        "carts": np.bincount(user_codes[event == "cart"], minlength=n_users),
        "purchases": purchases,
        "first_seen_days": pd.Series(age_days).groupby(user_codes).max().reindex(range(n_users)).to_numpy(),
        "spend": np.bincount(u[bought_here], weights=features.prices[j[bought_here]], minlength=n_users),
    })
    return Profiles(
        user_ids=pd.Index(user_ids, name="user_id"),
        item_mass=item_mass,
        query_mass=query_mass,
        mass=total,
        interest=interest,
        strongest=strongest,
        recent_purchase_age=recent_purchase_age,
        purchases=purchases,
        idle_days=idle_days,
        activity=activity,
        queries=queries,
        popularity=popularity,
        as_of=as_of,
    )


def _query_matrix(
    queries: pd.DataFrame, query_features: pd.DataFrame, shape: tuple[int, int]
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Search mass on the features each query names: (csr (n_users, n_features), mass per user).
    ``queries`` has user, query, mass; a query counts once toward the user's mass, however many
    features it names, and a query naming nothing counts not at all."""
    matched = queries.merge(query_features, on="query")
    matrix = sp.csr_matrix(
        (matched["mass"].to_numpy(), (matched["user"].to_numpy(), matched["feature"].to_numpy())), shape=shape
    )
    matrix.sum_duplicates()
    once = matched.drop_duplicates(["user", "query"])
    return matrix, np.bincount(once["user"], weights=once["mass"], minlength=shape[0])


def _normalise(matrix: sp.spmatrix, total: np.ndarray) -> sp.csr_matrix:
    inv = np.divide(1.0, total, out=np.zeros_like(total), where=total > 0)
    return (sp.diags(inv) @ matrix).tocsr()


def _max_per_cell(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """Sparse matrix holding the max of ``values`` per (row, col) (values must be > 0)."""
    frame = pd.DataFrame({"r": rows, "c": cols, "v": values}).groupby(["r", "c"], sort=False)["v"].max()
    r, c = frame.index.get_level_values(0), frame.index.get_level_values(1)
    return sp.csr_matrix((frame.to_numpy(), (r, c)), shape=shape)


def _min_per_cell(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    frame = pd.DataFrame({"r": rows, "c": cols, "v": values}).groupby(["r", "c"], sort=False)["v"].min()
    r, c = frame.index.get_level_values(0), frame.index.get_level_values(1)
    return sp.csr_matrix((frame.to_numpy(), (r, c)), shape=shape, dtype=np.float32)
