"""Carousel banners: several items of one category, for a user who is still comparing.

A user who interacted with ``[carousel] min_compared`` or more distinct items of a category in
the last ``within_days`` (scoring/campaign_rules.toml) has not made up their mind; for them a
candidate item of that category is shown as a carousel: the item first, then its category's most
popular other items the campaign rules allow (in stock, discount floor). The companions depend on
the item alone, so there is one carousel variant per item, rendered once and shared by every
comparing user, not one per user. The switch is made per candidate, before the policy draws (see
bannergen.selection.banners), so the feedback and propensity a decision records are those of the
carousel banner itself.

    >>> index = CarouselIndex.build(catalog, templates, codes, allowed, popularity, bonus)  # doctest: +SKIP
    >>> templates, switched, compared = carousel_templates(model, rows, items)  # doctest: +SKIP

(each of the three is per candidate, (n, k)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

if TYPE_CHECKING:
    from bannergen.model import Model


@dataclass(frozen=True)
class CarouselIndex:
    """Per item: the carousel template that would show it (-1: none) and its companions.

    template:   int64 (n_items,) index into Model.templates of the best-priority carousel template
                that suits the item, outranks the item's own template and can be filled; else -1
    companions: int64 (n_items, m) catalog rows shown after the item, most popular first; -1 pads
    """

    template: np.ndarray
    companions: np.ndarray

    @classmethod
    def empty(cls, n_items: int) -> CarouselIndex:
        return cls(np.full(n_items, -1, dtype=np.int64), np.full((n_items, 0), -1, dtype=np.int64))

    @classmethod
    def build(cls, catalog: pd.DataFrame, templates: Sequence, category_codes: np.ndarray, allowed: np.ndarray,
              popularity: np.ndarray, own_priority: np.ndarray,
              usable: Sequence[bool] | np.ndarray | None = None) -> CarouselIndex:
        """``own_priority``: the priority of each item's own best template (-inf where none suits);
        ``usable``: per template, whether it may be used (None: all; the campaign settings)."""
        n = len(catalog)
        carousels = [k for k, t in enumerate(templates) if t.requires_items > 1 and not t.requires_antecedent
                     and (usable is None or usable[k])]
        if not carousels or n == 0:
            return cls.empty(n)
        width = max(templates[k].requires_items for k in carousels) - 1
        companions = companions_of(category_codes, allowed, popularity, width, product_keys(catalog["title"]))
        filled = (companions >= 0).sum(axis=1)
        best = np.full(n, -1, dtype=np.int64)
        best_priority = np.full(n, -np.inf)
        for k in carousels:  # a handful of templates; vectorized over items
            t = templates[k]
            ok = t.catalog_mask(catalog) & allowed & (filled >= t.requires_items - 1)
            ok &= (t.priority > own_priority) & (t.priority > best_priority)
            best[ok], best_priority[ok] = k, t.priority
        return cls(best, companions)


def product_keys(titles: pd.Series) -> np.ndarray:
    """int (n_items,): one code per product name, so a product listed twice shows once in a
    carousel. The name is the title before any bracketed promotion ("… 曜石黑 【官方旗舰店 …】…"),
    whitespace collapsed, case folded."""
    def normal(text: pd.Series) -> pd.Series:
        return text.str.replace(r"\s+", " ", regex=True).str.strip().str.casefold()

    full = normal(titles.astype(str))
    names = normal(titles.astype(str).str.split(r"[【\[(（]", n=1, regex=True).str[0])
    return pd.factorize(names.where(names != "", full))[0]  # "【预售】新品" keeps its whole title


def companions_of(category_codes: np.ndarray, allowed: np.ndarray, popularity: np.ndarray, width: int,
                  title_codes: np.ndarray | None = None) -> np.ndarray:
    """(n_items, width) int64: for each item, the ``width`` most popular allowed items of its
    category (ties by catalog order); -1 where the category has too few. With ``title_codes``
    (``product_keys``), items of one product count once, and never beside their twin."""
    n = len(category_codes)
    out = np.full((n, width), -1, dtype=np.int64)
    if width == 0:
        return out
    titles = np.arange(n) if title_codes is None else np.asarray(title_codes)
    for code in np.unique(category_codes):  # tens of categories; vectorized within each
        members = np.flatnonzero(category_codes == code)
        ranked = members[allowed[members]]
        ranked = ranked[np.lexsort((ranked, -popularity[ranked]))]
        ranked = ranked[np.unique(titles[ranked], return_index=True)[1]]  # the most popular listing of each title
        ranked = ranked[np.lexsort((ranked, -popularity[ranked]))][: width + 1]
        if len(ranked) == 0:
            continue
        # titles are unique in ranked, so each member excludes at most one entry: itself or its twin
        not_self = titles[ranked][None, :] != titles[members][:, None]  # (members, width + 1)
        # a stable argsort of "is self" puts every member's other entries first, in rank order
        order = np.argsort(~not_self, axis=1, kind="stable")[:, :width]
        picked = np.take_along_axis(np.broadcast_to(ranked, not_self.shape), order, axis=1)
        picked = np.where(np.take_along_axis(not_self, order, axis=1), picked, -1)
        out[members, : picked.shape[1]] = picked
    return out


def compared_counts(seen: sp.csr_matrix, category_codes: np.ndarray) -> np.ndarray:
    """(n_users, n_categories) int64: distinct items of each category with a non-zero entry in
    ``seen`` (n_users, n_items) per user."""
    n_items = len(category_codes)
    n_categories = int(category_codes.max()) + 1 if n_items else 0
    onehot = sp.csr_matrix((np.ones(n_items, np.float32), (np.arange(n_items), category_codes)),
                           shape=(n_items, n_categories))
    seen = seen.copy().tocsr()
    seen.eliminate_zeros()
    seen.data[:] = 1.0
    return np.rint((seen @ onehot).toarray()).astype(np.int64)


def recently_seen(model: Model, rows: np.ndarray) -> sp.csr_matrix:
    """(len(rows), n_items): the items each user interacted with in the last ``within_days``
    (from the interactions' last-seen ages; the whole decayed history when there are none)."""
    if model.interactions is None:
        return model.profiles.item_mass[rows]
    ages = model.interactions.last_seen[rows].tocsr(copy=True)  # days before as_of, + 1
    ages.data = ((ages.data - 1.0) < model.settings.campaign_rules.carousel_within_days).astype(np.float32)
    return ages


def carousel_templates(model: Model, rows: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The template of each candidate (users ``rows``, candidate catalog rows ``items`` (n, k), -1
    for none): its own best template, or the carousel for a comparing user.

    Returns (templates int64 (n, k), switched bool (n, k), compared int64 (n, k): distinct items of
    the candidate's category the user interacted with)."""
    safe = np.maximum(items, 0)
    templates = model.template_choice.template[safe].astype(np.int64)
    switched = np.zeros(items.shape, dtype=bool)
    compared = np.zeros(items.shape, dtype=np.int64)
    threshold = model.settings.campaign_rules.carousel_min_compared
    index = model.carousel
    if threshold <= 0 or index is None or items.size == 0 or not (index.template >= 0).any():
        return templates, switched, compared
    codes = model.features.codes["category"]
    counts = compared_counts(recently_seen(model, rows), codes)
    compared = np.take_along_axis(counts, codes[safe], axis=1)
    switched = (items >= 0) & (index.template[safe] >= 0) & (compared >= threshold)
    templates = np.where(switched, index.template[safe], templates)
    return templates, switched, compared


def carousel_reasons(model: Model, items: np.ndarray, compared: np.ndarray) -> np.ndarray:
    """"因为你比较了 4 款相机" for each (item, count); object array of the same shape."""
    labels = np.asarray(model.features.labels["category"], dtype=object)
    category = labels[model.features.codes["category"][np.maximum(items, 0)]]
    return "因为你比较了 " + compared.astype(str).astype(object) + " 款" + category
