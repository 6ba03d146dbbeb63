"""Scorers that learn from the whole shop's user x item matrix.

- ``PopularityScorer``        distinct buyers per item: the baseline and cold-start fallback
- ``RecentPopularityScorer``  buyers in the last ``days`` before the reference time
- ``HistoryScorer``           "buy again": the user's own purchases, more and more recent first
- ``ItemKNNScorer``           item-item collaborative filtering (cosine or BM25, top-k neighbours)
- ``SVDScorer``               matrix factorisation: truncated SVD of the implicit matrix (PureSVD)
- ``EASEScorer``              Steck (2019), "Embarrassingly Shallow Autoencoders": closed-form
                              item-item weights B = I - P diagMat(1 / diag(P)), P = (X'X + l2 I)^-1

All follow bannergen.scorers.base: fit(data) -> self, score(data, rows) -> (len(rows), n_items).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from bannergen.scorers.base import Interactions, Scorer, check_rows, implicit_matrix, recency_weights
from bannergen.scorers.sums import Sums, column_sums, gram
from bannergen.scorers.tiled import TiledWeights


def _dense(block) -> np.ndarray:
    return np.asarray(block.toarray() if sp.issparse(block) else block, dtype=np.float32)


class PopularityScorer(Scorer):
    """Items ranked by how many distinct users bought them (all time, or decayed with a
    ``half_life_days`` > 0). The same row for every user."""

    name = "popularity"
    normalize = False

    def __init__(self, half_life_days: float = 0.0) -> None:
        self.half_life_days = half_life_days

    def additive(self) -> bool:
        return True

    def _key(self) -> str:
        return f"decayed/{self.half_life_days:g}" if self.half_life_days > 0 else "bought"

    def sums(self, data: Interactions, into: Sums) -> None:
        _add_bought(data, into)
        key = self._key()
        if key not in into:
            age = (data.last_purchase if data.uses_purchases() else data.last_seen).copy()
            age.data = np.power(0.5, (age.data - 1.0) / self.half_life_days)
            into[key] = column_sums(age)

    def sum_keys(self) -> tuple[str, ...]:
        return (self._key(),)

    def fit_sums(self, sums: Sums, shop: Interactions) -> PopularityScorer:
        counts = np.asarray(sums[self._key()], dtype=np.float64)
        top = counts.max() if len(counts) else 0.0
        self.item_scores_ = (counts / top if top > 0 else counts).astype(np.float32)
        return self

    def score(self, data: Interactions, rows: np.ndarray) -> np.ndarray:
        rows = check_rows(data, rows)
        return np.broadcast_to(self.item_scores_, (len(rows), len(self.item_scores_))).copy()


class RecentPopularityScorer(PopularityScorer):
    """Distinct buyers in the last ``days`` days before the reference time (seasonal shops:
    what sells now). Items nobody bought recently keep a tiny all-time share to break ties."""

    name = "popularity_recent"

    def __init__(self, days: float = 30.0) -> None:
        self.days = days

    def _key(self) -> str:
        return f"recent/{self.days:g}"

    def sums(self, data: Interactions, into: Sums) -> None:
        _add_bought(data, into)
        key = self._key()
        if key not in into:
            recent = (data.last_purchase if data.uses_purchases() else data.last_seen).copy()
            recent.data = (recent.data <= self.days + 1.0).astype(np.float32)
            into[key] = column_sums(recent)

    def sum_keys(self) -> tuple[str, ...]:
        return (self._key(), "bought")

    def fit_sums(self, sums: Sums, shop: Interactions) -> RecentPopularityScorer:
        counts = np.asarray(sums[self._key()], dtype=np.float64)
        ever = np.asarray(sums["bought"], dtype=np.float64)
        mix = counts + 1e-3 * ever / max(ever.max(), 1.0) if len(ever) else counts
        top = mix.max() if len(mix) else 0.0
        self.item_scores_ = (mix / top if top > 0 else mix).astype(np.float32)
        return self


class NowPopularityScorer(RecentPopularityScorer):
    """Recent popularity over a short window (default the last 7 days): in a seasonal shop what
    sells this week differs from what sold this month. A blend component beside
    ``popularity_recent`` (30 days, the baseline); with a negative weight on all-time popularity
    the blend learns "rising" items."""

    name = "popularity_now"

    def __init__(self, days: float = 7.0) -> None:
        self.days = days


class HistoryScorer(Scorer):
    """Buy again: s_ij = log1p(purchases_ij) * 0.5 ** (days since the last purchase / half-life).
    Items the user never bought score 0. Only useful when repeat purchases are allowed."""

    name = "history"

    def __init__(self, half_life_days: float = 60.0) -> None:
        self.half_life_days = half_life_days

    def additive(self) -> bool:
        return True

    def sums(self, data: Interactions, into: Sums) -> None:
        pass  # nothing item-side to learn

    def fit_sums(self, sums: Sums, shop: Interactions) -> HistoryScorer:
        self.n_items_ = np.int64(shop.n_items)
        return self

    def score(self, data: Interactions, rows: np.ndarray) -> np.ndarray:
        rows = check_rows(data, rows)
        use_buys = data.uses_purchases()
        count = (data.purchases if use_buys else data.weights)[rows].tocsr()
        age = (data.last_purchase if use_buys else data.last_seen)[rows].tocsr()
        decay = age.copy()
        decay.data = np.power(0.5, (decay.data - 1.0) / self.half_life_days).astype(np.float32)
        return _dense(count.log1p().multiply(decay))


class ItemKNNScorer(Scorer):
    """Item-item collaborative filtering: s_i = x_i S, with S the item-item cosine similarity of
    the (optionally BM25-weighted) implicit matrix, keeping each item's ``neighbours`` nearest.

    Computed in column chunks so memory stays O(n_items x chunk) while fitting.
    """

    name = "item_knn"

    def __init__(self, neighbours: int = 100, weighting: str = "cosine", transform: str = "binary",
                 shrink: float = 10.0, k1: float = 1.2, b: float = 0.75) -> None:
        self.neighbours = neighbours
        self.weighting = weighting
        self.transform = transform
        self.shrink = shrink
        self.k1 = k1
        self.b = b

    def _weighted(self, x: sp.csr_matrix) -> sp.csr_matrix:
        if self.weighting == "cosine":
            return x
        if self.weighting != "bm25":
            raise ValueError(f"weighting must be cosine or bm25; got {self.weighting!r}")
        # BM25 over items as documents and users as terms (as in benfred/implicit)
        x = x.tocoo()
        n_items = x.shape[1]
        item_df = np.bincount(x.row, minlength=x.shape[0]).astype(np.float64)
        idf = np.log(n_items) - np.log1p(item_df)
        length = np.asarray(sp.csr_matrix(x).sum(axis=0)).ravel()
        avg = length.mean() if length.size else 1.0
        norm = (1.0 - self.b) + self.b * length / max(avg, 1e-9)
        data = x.data * (self.k1 + 1.0) / (self.k1 * norm[x.col] + x.data) * idf[x.row]
        return sp.csr_matrix((data.astype(np.float32), (x.row, x.col)), shape=x.shape)

    def additive(self) -> bool:
        return self.weighting == "cosine"  # BM25 weights each cell by its item's share of all users

    def sums(self, data: Interactions, into: Sums) -> None:
        _add_gram(data, self.transform, 0.0, into)

    def sum_keys(self) -> tuple[str, ...]:
        return (_gram_key(self.transform, 0.0),)

    def fit_sums(self, sums: Sums, shop: Interactions) -> ItemKNNScorer:
        return self._fit_gram(sums[_gram_key(self.transform, 0.0)], shop.n_items)

    def fit(self, data: Interactions) -> ItemKNNScorer:
        if self.additive():
            return super().fit(data)  # type: ignore[return-value]
        return self._fit_gram(gram(self._weighted(implicit_matrix(data, self.transform))), data.n_items)

    def _fit_gram(self, xtx: Any, n: int) -> ItemKNNScorer:
        """Keep each item's nearest neighbours by cosine over ``xtx`` = X'X (float64, csr or dense)."""
        norms = np.sqrt(xtx.diagonal())
        k = max(1, min(self.neighbours, n - 1)) if n > 1 else 1
        chunk = max(1, min(n, 8_000_000 // max(n, 1)))
        rows, cols, vals = [], [], []
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            sim = _block(xtx, np.arange(start, stop)).T  # (n, stop-start) co-occurrence dot products
            denom = np.outer(norms, norms[start:stop]) + self.shrink
            sim = np.divide(sim, denom, out=np.zeros_like(sim), where=denom > 0)
            sim[np.arange(start, stop), np.arange(stop - start)] = 0.0
            if n > k:
                top = np.argpartition(-sim, k - 1, axis=0)[:k]
            else:
                top = np.broadcast_to(np.arange(n)[:, None], (n, stop - start))
            v = np.take_along_axis(sim, top, axis=0).astype(np.float32)
            c = np.broadcast_to(np.arange(start, stop)[None, :], top.shape)
            keep = v > 0
            rows.append(top[keep])
            cols.append(c[keep])
            vals.append(v[keep])
        r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
        v = np.concatenate(vals) if vals else np.zeros(0, np.float32)
        self.similarity_ = sp.csr_matrix((v.astype(np.float32), (r, c)), shape=(n, n))
        return self

    def score(self, data: Interactions, rows: np.ndarray) -> np.ndarray:
        rows = check_rows(data, rows)
        return _dense(implicit_matrix(data, self.transform, rows) @ self.similarity_)


class SVDScorer(Scorer):
    """PureSVD (Cremonesi et al., 2010): s_i = x_i V V', V the top ``factors`` right singular
    vectors of the implicit matrix (randomized SVD with ``random_state``)."""

    name = "svd"

    def __init__(self, factors: int = 64, transform: str = "binary", random_state: int = 0) -> None:
        self.factors = factors
        self.transform = transform
        self.random_state = random_state

    def fit(self, data: Interactions) -> SVDScorer:
        from sklearn.utils.extmath import randomized_svd

        x = implicit_matrix(data, self.transform).astype(np.float64)
        k = max(1, min(self.factors, min(x.shape) - 1)) if min(x.shape) > 1 else 1
        if x.nnz == 0:
            self.item_factors_ = np.zeros((data.n_items, k), dtype=np.float32)
            return self
        _, _, vt = randomized_svd(x, n_components=k, n_iter=5, random_state=self.random_state)
        # randomized_svd fixes signs deterministically (svd_flip); keep float32 for scoring speed
        self.item_factors_ = np.ascontiguousarray(vt.T, dtype=np.float32)
        return self

    def score(self, data: Interactions, rows: np.ndarray) -> np.ndarray:
        rows = check_rows(data, rows)
        x = implicit_matrix(data, self.transform, rows)
        return _dense((x @ self.item_factors_) @ self.item_factors_.T)


def _decayed(
    data: Interactions, transform: str, half_life_days: float, rows: np.ndarray | None = None
) -> sp.csr_matrix:
    """The implicit matrix with each cell times 0.5 ** (days since its last purchase / half-life)
    (unchanged when half-life <= 0): recent purchases count more (seasonal shops).
    ``rows``: only those users (scoring a block need not transform every user)."""
    x = implicit_matrix(data, transform, rows)
    if half_life_days <= 0:
        return x
    return x.multiply(recency_weights(data, half_life_days, rows)).tocsr().astype(np.float32)


def _block(xtx: Any, rows: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
    """Dense float64 rows (and columns) of a Gram matrix kept as csr or as a dense array."""
    if sp.issparse(xtx):
        part = sp.csr_matrix(xtx)[rows]
        return (part if columns is None else part[:, columns]).toarray()
    part = np.asarray(xtx)[rows]
    return np.array(part if columns is None else part[:, columns], dtype=np.float64)


def _gram_key(transform: str, half_life_days: float) -> str:
    return f"gram/{transform}/{half_life_days:g}"


def _add_gram(data: Interactions, transform: str, half_life_days: float, into: Sums) -> None:
    """X'X of the (decayed) implicit matrix, and each item's number of users, unless ``into`` has them."""
    key = _gram_key(transform, half_life_days)
    if key not in into:
        x = _decayed(data, transform, half_life_days)
        into[key] = gram(x)
        into["users/" + key] = column_sums(x > 0)


def _add_bought(data: Interactions, into: Sums) -> None:
    if "bought" not in into:
        into["bought"] = column_sums(data.bought())


# Above this bound on the condition number of X'X + l2 I, EASE inverts in float64. Below it float32
# keeps the inverse's relative error under ~1e-3 and halves the fit's memory and time: on Online
# Retail (bound 97) and the example shop (164) every NDCG is the same to five decimals.
FLOAT32_CONDITION_LIMIT = 1e4


def condition_bound(xtx: np.ndarray | sp.spmatrix, l2: float, keep: np.ndarray | None = None) -> float:
    """An upper bound of cond(X'X + l2 I) for X >= 0, from ``xtx`` = X'X: every eigenvalue is at
    least l2 (X'X is positive semi-definite) and at most l2 plus the largest row sum of X'X
    (Gershgorin; the entries are non-negative). ``keep``: of the rows and columns ``keep`` only."""
    if l2 <= 0:
        return math.inf
    mask = np.ones(xtx.shape[1]) if keep is None else np.bincount(keep, minlength=xtx.shape[1]).astype(np.float64)
    sums = np.asarray(xtx @ mask).ravel()  # row sums over the kept columns, without a copy of them
    if keep is not None:
        sums = sums[keep]
    return (float(sums.max()) + l2) / l2 if len(sums) else 1.0


class EASEScorer(Scorer):
    """EASE (Steck, 2019): s_i = x_i B with B = I - P / diag(P), P = (X'X + l2 I)^-1, diag(B) = 0.

    Dense in items: fitting costs O(n_items^3), about a second for 4,000 items. Items outside
    the ``max_items`` most popular get no weights (they still score 0, never NaN).
    ``half_life_days`` > 0 decays each interaction in X by its age before B is learned (item
    relations of this season count more); ``user_half_life_days`` > 0 decays the user's own row
    x_i when scoring (what they bought lately says more about what they buy next).
    """

    name = "ease"

    def __init__(self, l2: float = 250.0, transform: str = "binary", max_items: int = 12_000,
                 half_life_days: float = 0.0, user_half_life_days: float = 0.0) -> None:
        self.l2 = l2
        self.transform = transform
        self.max_items = max_items
        self.half_life_days = half_life_days
        self.user_half_life_days = user_half_life_days

    def additive(self) -> bool:
        return True

    def sums(self, data: Interactions, into: Sums) -> None:
        _add_gram(data, self.transform, self.half_life_days, into)

    def sum_keys(self) -> tuple[str, ...]:
        key = _gram_key(self.transform, self.half_life_days)
        return (key, "users/" + key)

    def fit_sums(self, sums: Sums, shop: Interactions) -> EASEScorer:
        key = _gram_key(self.transform, self.half_life_days)
        counts = np.asarray(sums["users/" + key], dtype=np.float64)
        keep = np.flatnonzero(counts > 0)
        if len(keep) > self.max_items:
            keep = np.sort(keep[np.argsort(-counts[keep], kind="stable")[: self.max_items]])
        xtx = sums.pop(key)  # read once below: freed with the float32 copy made (the largest sum there is)
        # float32 halves the inverse's memory and time; a tiny l2 needs float64 for its precision
        wide = bool(len(keep)) and condition_bound(xtx, self.l2, keep) > FLOAT32_CONDITION_LIMIT
        gram = np.empty((len(keep), len(keep)), dtype=np.float64 if wide else np.float32)
        for lo in range(0, len(keep), 1024):  # a band of rows at a time: no float64 copy of the whole
            gram[lo : lo + 1024] = _block(xtx, keep[lo : lo + 1024], keep)
        del xtx
        gram[np.diag_indices_from(gram)] += self.l2
        if len(keep):
            # In place, one n_items^2 buffer throughout: at 10,000 items each float32 copy is 400 MB,
            # and np.linalg.inv plus -P / diag(P) would hold three of them at once. LAPACK works in
            # Fortran order; the Gram matrix is symmetric, so its transpose is the same matrix
            # already in that order and is inverted without a copy.
            p = scipy.linalg.inv(gram.T, overwrite_a=True, check_finite=False)
            p /= -np.diag(p).copy()[None, :]
            p[np.diag_indices_from(p)] = 0.0
            gram = p
        self.items_ = keep.astype(np.int64)
        # column tiles, not the matrix: scoring is ~10x faster (bannergen.scorers.tiled)
        self.weights_ = TiledWeights.from_dense(gram).tiles
        del gram
        return self

    def score(self, data: Interactions, rows: np.ndarray) -> np.ndarray:
        rows = check_rows(data, rows)
        out = np.zeros((len(rows), data.n_items), dtype=np.float32)
        if len(self.items_):
            x = _decayed(data, self.transform, self.user_half_life_days, rows)
            every_item = len(self.items_) == data.n_items  # items_ is sorted, so it is arange
            weights = TiledWeights(self.weights_, len(self.items_))
            weights.product(x if every_item else x[:, self.items_], out, None if every_item else self.items_)
        return out


class TitleScorer(Scorer):
    """Content similarity of item titles: s_i = d_i S, S the cosine similarity of TF-IDF vectors of
    the titles' words (sublinear tf, words in at least ``min_df`` titles), keeping each item's
    ``neighbours`` nearest, and d_i the user's items decayed by ``half_life_days`` since their last
    purchase. Finds "the same line in another colour" that co-purchase data is too thin for (new
    items). Without titles (``data.titles`` None) it learns nothing and scores 0.
    """

    name = "title"

    def __init__(self, neighbours: int = 200, min_df: int = 2, half_life_days: float = 30.0) -> None:
        self.neighbours = neighbours
        self.min_df = min_df
        self.half_life_days = half_life_days

    def additive(self) -> bool:
        return True

    def sums(self, data: Interactions, into: Sums) -> None:
        pass  # learns from the catalog's titles only

    def fit_sums(self, sums: Sums, shop: Interactions) -> TitleScorer:
        return self.fit(shop)

    def fit(self, data: Interactions) -> TitleScorer:
        n = data.n_items
        sim = sp.csr_matrix((n, n), dtype=np.float32)
        if data.titles is not None and n > 1:
            from sklearn.feature_extraction.text import TfidfVectorizer

            try:
                tfidf = TfidfVectorizer(min_df=min(self.min_df, n), token_pattern=r"(?u)\b[^\W\d_]{3,}\b",
                                        sublinear_tf=True, dtype=np.float32).fit_transform(list(data.titles))
            except ValueError:  # no word at all
                tfidf = None
            if tfidf is not None:
                sim = (tfidf @ tfidf.T).tocsr().astype(np.float32)
                sim.setdiag(0.0)
                sim.eliminate_zeros()
                sim = _top_per_column(sim, self.neighbours)
        self.similarity_ = sim
        return self

    def score(self, data: Interactions, rows: np.ndarray) -> np.ndarray:
        rows = check_rows(data, rows)
        return _dense(recency_weights(data, self.half_life_days, rows) @ self.similarity_)


def _top_per_column(m: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of each column (ties toward the lower row)."""
    c = m.tocsc()
    rows, cols, vals = [], [], []
    for j in range(c.shape[1]):
        lo, hi = c.indptr[j], c.indptr[j + 1]
        part = lo + np.argsort(-c.data[lo:hi], kind="stable")[:k] if hi - lo > k else np.arange(lo, hi)
        rows.append(c.indices[part])
        cols.append(np.full(len(part), j))
        vals.append(c.data[part])
    if not rows:
        return sp.csr_matrix(m.shape, dtype=np.float32)
    return sp.csr_matrix((np.concatenate(vals).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
                         shape=m.shape)
