"""The fitted state of one run: item features, user profiles, the scorer, compiled rules,
template eligibility and segment facts. Built once from a loaded shop; read by selection,
explanations and segment sizing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bannergen.features import ItemFeatures, build_item_features
from bannergen.profile import Profiles, build_profiles, resolve_as_of
from bannergen.scorers.content import ContentScorer
from bannergen.scorers.rules import CompiledRules, apply_rules, compile_rules
from bannergen.scorers.settings import ScoringSettings
from bannergen.segments import ProfileSummary, Segment, segment_mask
from bannergen.selection.candidates import CategoryIndex, TemplateChoice, top_candidates

# Score blocks are (users, items) float32; this many cells keeps one block near 128 MB.
BLOCK_CELLS = 32_000_000


@dataclass(frozen=True)
class Model:
    catalog: pd.DataFrame
    settings: ScoringSettings
    features: ItemFeatures
    profiles: Profiles
    scorer: ContentScorer
    rules: CompiledRules
    templates: list  # list[Template], sorted by id
    template_choice: TemplateChoice
    categories: CategoryIndex
    summary: ProfileSummary

    def members(self, segment: Segment) -> np.ndarray:
        """Profile rows of the users in ``segment``, in user id order."""
        if segment.name == "all":
            return np.arange(self.profiles.n_users)
        return np.flatnonzero(segment_mask(segment, self.summary))

    def scores(self, rows: np.ndarray) -> np.ndarray:
        """Final item scores for ``rows`` (len(rows), n_items): model + rules + template bonus."""
        block = self.scorer.score(rows)
        apply_rules(block, rows, self.profiles, self.rules)
        block += self.template_choice.bonus[None, :]
        return block

    def candidates(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Top candidates of ``rows`` in bounded-memory blocks: (items (n, k), scores (n, k))."""
        k = self.settings.selection.candidates
        step = max(1, BLOCK_CELLS // max(1, self.features.n_items))
        items = np.full((len(rows), min(k, len(self.categories.bounds) - 1)), -1, dtype=np.int64)
        scores = np.full(items.shape, -np.inf, dtype=np.float32)
        for start in range(0, len(rows), step):
            part = rows[start : start + step]
            items[start : start + len(part)], scores[start : start + len(part)] = top_candidates(
                self.scores(part), self.categories, k
            )
        return items, scores


def build_model(catalog: pd.DataFrame, events: pd.DataFrame, settings: ScoringSettings, templates: list, as_of: str = "") -> Model:
    """Fit every stage on a loaded shop. ``templates`` is the list of loaded Template objects."""
    features = build_item_features(catalog, settings.weights)
    profiles = build_profiles(events, features, settings.weights, resolve_as_of(events, as_of))
    scorer = ContentScorer(settings.weights).fit(profiles, features)
    suits = np.stack([t.suits(catalog) for t in templates], axis=1) if templates else np.zeros((len(catalog), 0), bool)
    choice = TemplateChoice.build(suits, [t.priority for t in templates])
    return Model(
        catalog=catalog,
        settings=settings,
        features=features,
        profiles=profiles,
        scorer=scorer,
        rules=compile_rules(settings.rules, catalog),
        templates=templates,
        template_choice=choice,
        categories=CategoryIndex.build(features.codes["category"]),
        summary=ProfileSummary.of(profiles, features),
    )
