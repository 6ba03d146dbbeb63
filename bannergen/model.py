"""The fitted state of one run: item features, user profiles, the scorer, compiled campaign rules,
template eligibility and segment facts. Built once from a loaded shop; read by selection,
explanations and segment sizing.

``Model.scores`` is the single place final item scores come from: the blend of scoring/blend.toml
(content interest + collaborative filtering + association rules + popularity; the content scorer
alone when there is no blend.toml), then the campaign rules, then the template bonus."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from bannergen.claims import mark_claims
from bannergen.features import ItemFeatures, build_item_features
from bannergen.profile import Profiles, build_profiles, resolve_as_of
from bannergen.scorers.base import Interactions, build_interactions
from bannergen.scorers.blend import Blend
from bannergen.scorers.campaign_rules import CompiledCampaignRules, apply_campaign_rules, compile_campaign_rules
from bannergen.scorers.content import ContentScorer
from bannergen.scorers.settings import ScoringSettings
from bannergen.segments import ProfileSummary, Segment, segment_mask
from bannergen.selection.candidates import CategoryIndex, TemplateChoice, top_candidates
from bannergen.selection.carousel import CarouselIndex

# Score blocks are (users, items) float32; this many cells keeps one block near 64 MB, so the
# several same-sized temporaries a blend makes per block stay a few hundred MB at any catalog size.
BLOCK_CELLS = 16_000_000
# Score blocks in flight at once (each costs a few BLOCK_CELLS float32 arrays at its peak).
BLOCK_THREADS = min(2, os.cpu_count() or 1)


@dataclass(frozen=True)
class Model:
    catalog: pd.DataFrame
    settings: ScoringSettings
    features: ItemFeatures
    profiles: Profiles
    scorer: ContentScorer
    campaign_rules: CompiledCampaignRules
    templates: list  # list[Template], sorted by id
    template_choice: TemplateChoice
    categories: CategoryIndex
    summary: ProfileSummary
    blend: Blend | None = None  # None: the content scorer alone (no scoring/blend.toml)
    interactions: Interactions | None = None  # the user side the blend scores, rows = profile rows
    carousel: CarouselIndex | None = None  # per item: its carousel template and companions (comparing users)
    # bool (n_templates,): the templates template_choice, carousel and cross-sell may use (None: all);
    # set by bannergen.selection.eligibility.restricted_model from the campaign settings
    template_allowed: np.ndarray | None = None

    def members(self, segment: Segment) -> np.ndarray:
        """Profile rows of the users in ``segment``, in user id order."""
        if segment.name == "all":
            return np.arange(self.profiles.n_users)
        return np.flatnonzero(segment_mask(segment, self.summary))

    def scores(self, rows: np.ndarray) -> np.ndarray:
        """Final item scores for ``rows`` (len(rows), n_items): model + campaign rules + template bonus."""
        if self.blend is not None and self.interactions is not None:
            block = self.blend.score(self.interactions, rows)
        else:
            block = self.scorer.score(rows)
        apply_campaign_rules(block, rows, self.profiles, self.campaign_rules)
        block += self.template_choice.bonus[None, :]
        return block

    def candidates(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Top candidates of ``rows`` in bounded-memory blocks: (items (n, k), scores (n, k)).

        Blocks are scored on BLOCK_THREADS threads: most of a block's time is numpy and scipy work
        that releases the GIL but runs on one core (sums, row maxima, the top-k), so two blocks
        in flight use both cores. Each block is independent and writes its own rows."""
        k = self.settings.selection.candidates
        step = max(1, BLOCK_CELLS // max(1, self.features.n_items))
        items = np.full((len(rows), min(k, len(self.categories.bounds) - 1)), -1, dtype=np.int64)
        scores = np.full(items.shape, -np.inf, dtype=np.float32)

        def block(start: int) -> None:
            part = rows[start : start + step]
            items[start : start + len(part)], scores[start : start + len(part)] = top_candidates(
                self.scores(part), self.categories, k
            )

        starts = range(0, len(rows), step)
        if len(starts) < 2 or BLOCK_THREADS < 2:
            for start in starts:
                block(start)
        else:
            with ThreadPoolExecutor(max_workers=BLOCK_THREADS, thread_name_prefix="bannergen-block") as pool:
                for _ in pool.map(block, starts):  # re-raises a block's exception here
                    pass
        return items, scores


@dataclass(frozen=True)
class ShopWide:
    """What a model of some of the shop's users takes from the whole shop (bannergen.distributed):
    the item features, the reference time, item popularity (``profile.popularity_of`` over every
    user's ``item_totals``) and whether the shop has any purchase at all."""

    features: ItemFeatures
    as_of: pd.Timestamp
    popularity: np.ndarray
    has_purchases: bool


def build_model(catalog: pd.DataFrame, events: pd.DataFrame, settings: ScoringSettings, templates: list,
                as_of: str = "",
                baskets: pd.DataFrame | None = None, blend: Blend | None = None, models: Path | None = None,
                fingerprint: str | None = None, shop: ShopWide | None = None) -> Model:
    """Fit every stage on a loaded shop. ``templates`` is the list of loaded Template objects.

    The blend is ``blend`` when given, else the saved model in ``models`` when its fingerprint
    equals ``fingerprint``, else fitted here from ``settings.blend`` (scoring/blend.toml).
    ``baskets`` (basket, item_id) are the orders for association rules (default: sessions).
    ``shop``: ``events`` are some users' events only; the shop-wide facts come from it, so each of
    those users gets exactly the scores a model of the whole shop gives them."""
    if shop is None:
        features = build_item_features(catalog, settings.weights)
        profiles = build_profiles(events, features, settings.weights, resolve_as_of(events, as_of))
    else:
        features = shop.features
        profiles = replace(build_profiles(events, features, settings.weights, shop.as_of), popularity=shop.popularity)
    scorer = ContentScorer(settings.weights).fit(profiles, features)
    suits = np.stack([t.suits(catalog) for t in templates], axis=1) if templates else np.zeros((len(catalog), 0), bool)
    choice = TemplateChoice.build(suits, [t.priority for t in templates])
    interactions = None
    if blend is not None or settings.blend is not None:
        interactions = build_interactions(
            events, features.item_ids, profiles.as_of, baskets=baskets, user_ids=profiles.user_ids,
            titles=catalog["title"],
        ).with_content(profiles, features)
        if shop is not None:
            interactions = replace(interactions, has_purchases=shop.has_purchases)
        blend = blend or load_or_fit_blend(interactions, settings, models, fingerprint)
        if "content" in blend.scorers:
            # the same fitted content model explain() reads; a copy of the blend, so a blend shared
            # by several models (partitions on one worker) keeps its own
            blend = Blend({**blend.scorers, "content": scorer}, blend.weights, blend.cold_start)
    campaign_rules = compile_campaign_rules(settings.campaign_rules, catalog)
    catalog = mark_claims(catalog, settings.campaign_rules, profiles.as_of)  # what banners may say: 新品, 优惠
    carousel = CarouselIndex.build(catalog, templates, features.codes["category"], campaign_rules.allowed,
                                   profiles.popularity, choice.bonus)
    return Model(
        catalog=catalog,
        settings=settings,
        features=features,
        profiles=profiles,
        scorer=scorer,
        campaign_rules=campaign_rules,
        templates=templates,
        template_choice=choice,
        categories=CategoryIndex.build(features.codes["category"]),
        summary=ProfileSummary.of(profiles, features),
        blend=blend,
        interactions=interactions,
        carousel=carousel,
    )


def load_or_fit_blend(interactions: Interactions, settings: ScoringSettings, models: Path | None = None,
                      fingerprint: str | None = None) -> Blend:
    """The saved blend in ``models`` when its fingerprint equals ``fingerprint``, else the blend of
    ``settings.blend`` fitted on ``interactions`` (and saved for the next run)."""
    if models is not None and fingerprint is not None:
        from bannergen.scorers.store import StaleModelError, load_blend

        try:
            return load_blend(models, fingerprint, settings.weights)
        except StaleModelError as error:
            import logging

            # the usual case before the first `bannergen fit`: fitting here takes seconds
            logging.getLogger(__name__).info("%s; refitting", error)
    assert settings.blend is not None
    blend = Blend.from_settings(settings.blend, settings.weights).fit(interactions)
    if models is not None and fingerprint is not None:
        save_fitted_blend(blend, models, fingerprint)
    return blend


def save_fitted_blend(blend: Blend, models: Path, fingerprint: str, fitted_by: str = "render") -> None:
    """Keep a blend fitted during a run, so the next run on the same data and settings loads it
    instead of refitting (EASE on 10,000 items is most of a large run's model time). ``fitted_by``
    says how, in the model's meta.json."""
    import logging

    from bannergen.errors import BannergenError
    from bannergen.scorers.store import save_blend

    try:
        save_blend(blend, models, fingerprint, meta={"fitted_by": fitted_by})
    except (OSError, BannergenError) as error:  # a read-only project still renders
        logging.getLogger(__name__).warning("could not save the fitted model to %s: %s", models, error)
