"""Candidate banners per user: the best item of each of the user's top categories, each item
paired with its best-suited template.

One candidate per category keeps the choice meaningful: the softmax then weighs "相机新品上市"
against "手机优惠活动" (the design article's two ads), not five near-identical Canon cameras.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TemplateChoice:
    """Per item: the index of its best-suited template (-1: none suits) and that template's priority."""

    template: np.ndarray  # int (n_items,)
    bonus: np.ndarray  # float32 (n_items,), -inf where no template suits

    @classmethod
    def build(cls, suits: np.ndarray, priorities: Sequence[float]) -> TemplateChoice:
        """``suits``: bool (n_items, n_templates); ties go to the earlier template (sorted by id)."""
        prio = np.asarray(priorities, dtype=np.float32)
        masked = np.where(suits, prio[None, :], -np.inf)
        best = masked.argmax(axis=1) if suits.shape[1] else np.zeros(len(suits), dtype=int)
        any_suits = suits.any(axis=1)
        bonus = np.where(any_suits, masked.max(axis=1) if suits.shape[1] else 0.0, -np.inf).astype(np.float32)
        return cls(np.where(any_suits, best, -1), bonus)


@dataclass(frozen=True)
class CategoryIndex:
    """Items grouped by category, for per-category maxima over a score block."""

    order: np.ndarray  # item indices sorted by category
    bounds: np.ndarray  # (n_categories + 1,) offsets into order

    @classmethod
    def build(cls, category_codes: np.ndarray) -> CategoryIndex:
        order = np.argsort(category_codes, kind="stable")
        counts = np.bincount(category_codes)
        return cls(order, np.concatenate([[0], np.cumsum(counts)]))


def top_candidates(
    scores: np.ndarray, categories: CategoryIndex, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """From a score block (n_users, n_items) (template bonus and rules already applied), the top ``k``
    categories' best items per user: (items int (n_users, k), scores float32 (n_users, k)), best first;
    missing candidates have item -1 and score -inf."""
    n_users = scores.shape[0]
    n_cat = len(categories.bounds) - 1
    best_item = np.full((n_users, n_cat), -1, dtype=np.int64)
    best_score = np.full((n_users, n_cat), -np.inf, dtype=np.float32)
    for c in range(n_cat):  # loops over categories (tens), vectorized over users and items
        members = categories.order[categories.bounds[c] : categories.bounds[c + 1]]
        if len(members) == 0:
            continue
        part = scores[:, members]
        arg = part.argmax(axis=1)
        best_item[:, c] = members[arg]
        best_score[:, c] = part[np.arange(n_users), arg]
    k = min(k, n_cat)
    if k < n_cat:
        top = np.argpartition(-best_score, k - 1, axis=1)[:, :k]
    else:
        top = np.broadcast_to(np.arange(n_cat), (n_users, n_cat))
    top_scores = np.take_along_axis(best_score, top, axis=1)
    rank = np.argsort(-top_scores, axis=1, kind="stable")
    top = np.take_along_axis(top, rank, axis=1)
    items = np.take_along_axis(best_item, top, axis=1)
    cand_scores = np.take_along_axis(best_score, top, axis=1)
    items[~np.isfinite(cand_scores)] = -1
    return items, cand_scores
