"""The one scorer interface, and the interaction data every scorer learns from.

Conventions (scikit-learn / benfred/implicit): hyperparameters only in ``__init__``, ``fit``
returns self, fitted state ends in ``_``, the same ``random_state`` gives the same output.
A scorer learns item-side state in ``fit``; ``score`` reads the user side (their interactions)
from the data it is given, so a saved model scores today's users without refitting::

    data = build_interactions(events, catalog["item_id"], as_of)
    scorer = EASEScorer(l2=300.0).fit(data)
    block = scorer.score(data, np.arange(100))     # ndarray (100, n_items) float32

Fitted state is a dict of numpy arrays (``state()``), saved to .npz by bannergen.scorers.store;
hyperparameters are ``get_params()`` (JSON). No pickle anywhere.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from bannergen.scorers.sums import Sums

if TYPE_CHECKING:
    from bannergen.features import ItemFeatures
    from bannergen.profile import Profiles

# Event strengths for the implicit matrix (a purchase says more than a view).
DEFAULT_EVENT_WEIGHTS = {"view": 1.0, "cart": 3.0, "purchase": 5.0}


@dataclass(frozen=True)
class Interactions:
    """What the shop's users did, as sparse matrices over one user index and one item index.

    user_ids:      pd.Index (n_users,), sorted; the profile row order of the pipeline
    item_ids:      pd.Index (n_items,), catalog order
    weights:       csr (n_users, n_items) float32, sum of event weights (view 1, cart 3, purchase 5)
    purchases:     csr (n_users, n_items) float32, number of purchase events
    last_seen:     csr (n_users, n_items) float32, days before ``as_of`` of the last interaction, + 1
    last_purchase: csr (n_users, n_items) float32, days before ``as_of`` of the last purchase, + 1
                   (the + 1 keeps "just now" apart from the sparse zero of "never")
    baskets:       csr (n_baskets, n_items) float32 binary, orders (or sessions) for rule mining
    basket_ids:    ndarray (n_baskets,) str
    as_of:         the reference time, UTC
    profiles, features: the content model's inputs, when the pipeline has them (else None)
    titles:        item titles in item order, when known (the title scorer learns from them)
    """

    user_ids: pd.Index
    item_ids: pd.Index
    weights: sp.csr_matrix
    purchases: sp.csr_matrix
    last_seen: sp.csr_matrix
    last_purchase: sp.csr_matrix
    baskets: sp.csr_matrix
    basket_ids: np.ndarray
    as_of: pd.Timestamp
    profiles: Profiles | None = None
    features: ItemFeatures | None = None
    titles: np.ndarray | None = None  # (n_items,) str item titles, for the title scorer (else None)
    # Whether the shop has purchase events, when these are some of its users only (a partition):
    # scorers read purchases, or every interaction in a shop without any, the same for every user.
    has_purchases: bool | None = None

    def uses_purchases(self) -> bool:
        """True: scorers learn from purchases; False: the shop has none, so from every interaction."""
        return bool(self.purchases.nnz) if self.has_purchases is None else self.has_purchases

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def bought(self) -> sp.csr_matrix:
        """Binary (n_users, n_items): what each user purchased (any interaction when the shop
        has no purchase events at all)."""
        m = self.purchases if self.uses_purchases() else self.weights
        out = m.copy().astype(np.float32)
        out.data[:] = 1.0
        return out

    def with_content(self, profiles: Profiles, features: ItemFeatures) -> Interactions:
        from dataclasses import replace

        return replace(self, profiles=profiles, features=features)


def _title_array(titles: pd.Series | np.ndarray) -> np.ndarray:
    return np.asarray(pd.Series(titles).fillna("").astype(str).to_numpy(), dtype=object)


def item_side(item_ids: pd.Index, as_of: pd.Timestamp, titles: np.ndarray | pd.Series | None = None,
              has_purchases: bool | None = None) -> Interactions:
    """Interactions with no user: the item side a scorer fitted from sums reads (``fit_sums``)."""
    empty = sp.csr_matrix((0, len(item_ids)), dtype=np.float32)
    return Interactions(
        user_ids=pd.Index([], dtype=object, name="user_id"), item_ids=pd.Index(item_ids), weights=empty,
        purchases=empty, last_seen=empty, last_purchase=empty, baskets=empty,
        basket_ids=np.asarray([], dtype=object), as_of=as_of,
        titles=None if titles is None else _title_array(titles),
        has_purchases=has_purchases,
    )


def _per_cell(
    rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int], how: str
) -> sp.csr_matrix:
    if len(rows) == 0:
        return sp.csr_matrix(shape, dtype=np.float32)
    frame = pd.DataFrame({"r": rows, "c": cols, "v": values}).groupby(["r", "c"], sort=False)["v"].agg(how)
    r, c = frame.index.get_level_values(0), frame.index.get_level_values(1)
    return sp.csr_matrix((frame.to_numpy(dtype=np.float32), (r, c)), shape=shape, dtype=np.float32)


def session_ids(events: pd.DataFrame, gap_minutes: float = 30.0) -> np.ndarray:
    """A session id per event row: a user's events with less than ``gap_minutes`` between them."""
    order = np.lexsort((events["ts"].to_numpy(), events["user_id"].to_numpy()))
    users = events["user_id"].to_numpy()[order]
    ts = events["ts"].to_numpy()[order]
    new = np.ones(len(order), dtype=bool)
    if len(order) > 1:
        gap = (ts[1:] - ts[:-1]) > np.timedelta64(int(gap_minutes * 60), "s")
        new[1:] = (users[1:] != users[:-1]) | gap
    sid = np.empty(len(order), dtype=np.int64)
    sid[order] = np.cumsum(new) - 1
    return np.asarray(["s" + str(i) for i in sid], dtype=object) if len(sid) else np.asarray([], dtype=object)


def build_interactions(
    events: pd.DataFrame,
    item_ids: pd.Index | pd.Series,
    as_of: pd.Timestamp,
    *,
    baskets: pd.DataFrame | None = None,
    event_weights: dict[str, float] | None = None,
    user_ids: pd.Index | None = None,
    titles: pd.Series | np.ndarray | None = None,
) -> Interactions:
    """Interactions from an events frame (schema in bannergen.types) over ``item_ids``.

    ``baskets`` (columns basket, item_id) are the orders to mine rules from; without it, the
    purchase and cart events are grouped into sessions (30-minute gaps). ``user_ids`` fixes the
    user index (default: every user in ``events``, sorted, which is the profile order).
    ``titles`` (one per item of ``item_ids``) feed the title scorer.
    Events on unknown items, searches and events after ``as_of`` are ignored.
    """
    item_index = pd.Index(item_ids)
    weights = {**DEFAULT_EVENT_WEIGHTS, **(event_weights or {})}
    if user_ids is None:
        user_ids = (
            pd.Index(pd.unique(events["user_id"].to_numpy())).sort_values() if len(events) else pd.Index([], dtype=str)
        )
    user_ids = pd.Index(user_ids, name="user_id")
    shape = (len(user_ids), len(item_index))
    ev = events[(events["event"] != "search") & (events["ts"] <= as_of)]
    u = user_ids.get_indexer(ev["user_id"].to_numpy())
    j = item_index.get_indexer(ev["item_id"].to_numpy())
    ok = (u >= 0) & (j >= 0)
    ev, u, j = ev[ok], u[ok], j[ok]
    w = ev["event"].map(weights).fillna(0.0).to_numpy(dtype=np.float32)
    age = ((as_of - ev["ts"]).dt.total_seconds().to_numpy() / 86400.0).clip(min=0.0).astype(np.float32) + 1.0
    buy = (ev["event"] == "purchase").to_numpy()
    weight_m = sp.csr_matrix((w, (u, j)), shape=shape, dtype=np.float32)
    weight_m.sum_duplicates()
    weight_m.eliminate_zeros()
    purchases = sp.csr_matrix((np.ones(buy.sum(), np.float32), (u[buy], j[buy])), shape=shape, dtype=np.float32)
    purchases.sum_duplicates()

    if baskets is None:
        src = ev[ev["event"].isin(["purchase", "cart"])]
        baskets = pd.DataFrame({"basket": session_ids(src), "item_id": src["item_id"].to_numpy()})
    bj = item_index.get_indexer(baskets["item_id"].to_numpy())
    keep = bj >= 0
    b_codes, b_ids = pd.factorize(baskets["basket"].to_numpy()[keep], sort=True)
    bmat = sp.csr_matrix(
        (np.ones(keep.sum(), np.float32), (b_codes, bj[keep])), shape=(len(b_ids), len(item_index)), dtype=np.float32
    )
    bmat.sum_duplicates()
    bmat.data[:] = 1.0
    return Interactions(
        user_ids=user_ids,
        item_ids=item_index,
        weights=weight_m,
        purchases=purchases,
        last_seen=_per_cell(u, j, age, shape, "min"),
        last_purchase=_per_cell(u[buy], j[buy], age[buy], shape, "min"),
        baskets=bmat,
        basket_ids=np.asarray(b_ids, dtype=object),
        as_of=as_of,
        titles=None if titles is None else _title_array(titles),
    )


def implicit_matrix(data: Interactions, transform: str, rows: np.ndarray | None = None) -> sp.csr_matrix:
    """The user x item matrix a collaborative scorer learns from: ``binary`` (bought or not),
    ``log`` (log1p of the event weights) or ``raw`` (the event weights). ``rows``: those users only."""
    m = (data.weights if rows is None else data.weights[rows]).astype(np.float32, copy=True)
    if transform == "binary":
        m.data[:] = 1.0
    elif transform == "log":
        m.data = np.log1p(m.data)
    elif transform != "raw":
        raise ValueError(f"transform must be binary, log or raw; got {transform!r}")
    return m.tocsr()


def recency_weights(data: Interactions, half_life_days: float, rows: np.ndarray | None = None) -> sp.csr_matrix:
    """(n_users, n_items) float32: 0.5 ** (days since the user's last purchase of the item / half-life)
    (last interaction when the shop has no purchases); 1 for every interaction when half-life <= 0.
    ``rows``: those users only."""
    age = data.last_purchase if data.uses_purchases() else data.last_seen
    age = (age if rows is None else age[rows]).astype(np.float32).tocsr(copy=True)
    if half_life_days > 0:
        age.data = np.power(0.5, (age.data - 1.0) / half_life_days).astype(np.float32)
    else:
        age.data[:] = 1.0
    return age


class Scorer(ABC):
    """Base class of every scorer. Subclasses set ``name`` and implement fit/score/_state_keys.

    ``normalize``: the blend divides each user's row by its maximum before weighting (True for
    scorers whose scale means nothing across users). ``explains`` names what a contribution is.
    """

    name: ClassVar[str]
    normalize: ClassVar[bool] = True

    def additive(self) -> bool:
        """True when the fit reads users only through sums over them (bannergen.scorers.sums):
        ``fit(data)`` is ``fit_sums`` of ``sums(data)``, so partitions of users can each add up
        their own and one process fits from the total. Scorers that need every user's rows at once
        (a matrix factorisation, long association rules) say False and override ``fit``."""
        return False

    def sums(self, data: Interactions, into: Sums) -> None:
        """Add the sums over ``data``'s users this scorer is fitted from to ``into`` (a key already
        there, computed for another scorer, is left as it is)."""
        raise NotImplementedError(f"the {self.name} scorer is fitted from every user's rows, not from sums")

    def sum_keys(self) -> tuple[str, ...]:
        """The keys of the sums ``fit_sums`` reads."""
        return ()

    def fit_sums(self, sums: Sums, shop: Interactions) -> Scorer:
        """Fit from sums over every user of the shop. ``shop`` carries the item side (item ids,
        titles, the reference time, whether the shop has purchases); its user rows may be any.
        ``sums`` is the caller's to give away: a scorer may remove what it has read, so a large
        sum is freed as soon as it is no longer needed."""
        raise NotImplementedError(f"the {self.name} scorer is fitted from every user's rows, not from sums")

    def fit(self, data: Interactions) -> Scorer:
        sums: Sums = {}
        self.sums(data, sums)
        return self.fit_sums(sums, data)

    @abstractmethod
    def score(self, data: Interactions, rows: np.ndarray) -> np.ndarray:
        """Scores of the users at ``rows`` of ``data``: ndarray (len(rows), n_items) float32."""

    # -- parameters and state (scikit-learn style) ------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self) -> dict[str, Any]:
        return {p: getattr(self, p) for p in self._param_names()}

    def is_fitted(self) -> bool:
        return any(k.endswith("_") and not k.startswith("_") for k in vars(self))

    def state(self) -> dict[str, Any]:
        """Fitted state: attribute name -> ndarray or csr matrix (saved to .npz)."""
        return {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_")}

    def load_state(self, state: dict[str, Any]) -> Scorer:
        for k, v in state.items():
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


def check_rows(data: Interactions, rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.int64)
    if rows.ndim != 1 or (len(rows) and (rows.min() < 0 or rows.max() >= data.n_users)):
        raise IndexError(f"rows must be user positions within 0..{data.n_users - 1}")
    return rows
