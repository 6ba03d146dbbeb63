"""Candidate banners per user, as the decision kernel takes them: the model's top candidates shown
as their banners (own template, carousel or cross-sell), then one fixed banner per user: the
first campaign pin (scoring/campaign_rules.toml [[pin]]) whose segment holds the user, the holdout's
default banner for the control group, else the default banner as a fallback.

Batch render, serve (at start-up and when a user's behaviour arrives) and explain all build
their candidates here, so all three see the same banners:

    >>> cands = build_candidate_set(model, rows, policy_settings, segments)  # doctest: +SKIP
    >>> decisions = decide_all(cands, decision_policy, feedback)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bannergen.errors import ConfigError
from bannergen.explain import explain_choices
from bannergen.segments import ALL, Segment, segment_mask
from bannergen.selection.banners import candidate_banners
from bannergen.selection.eligibility import hashed_share, restricted_model, template_access
from bannergen.selection.kernel import CandidateSet
from bannergen.selection.settings import PolicySettings

if TYPE_CHECKING:
    from bannergen.model import Model

log = logging.getLogger(__name__)

HOLDOUT_REASON = "对照组：默认横幅"
PIN_REASON = "活动推荐"
DEFAULT_REASON = "热门推荐"


def in_holdout(user_ids: np.ndarray | pd.Index, share: float, salt: str = "holdout") -> np.ndarray:
    """bool (n,): True for users in the holdout: a hashed share of users, drawn like a template's
    ``max_share`` (``eligibility.hashed_share``)."""
    return hashed_share(user_ids, share, salt)


def default_banner(model: Model, template_id: str) -> tuple[int, int]:
    """(catalog row, template index) of the default banner: the holdout template over the shop's
    most popular item the rules allow and the template suits; when none suits, the most popular
    allowed item under its own best template; (-1, -1) when the rules allow nothing at all."""
    ids = [t.id for t in model.templates]
    if template_id not in ids:
        raise ConfigError(f"scoring/policy.toml [holdout]: template '{template_id}' is not in templates/; got {ids}")
    t = ids.index(template_id)
    popularity = model.profiles.popularity
    suits = model.templates[t].suits(model.catalog) & model.campaign_rules.allowed
    if suits.any():
        return int(np.argmax(np.where(suits, popularity, -1.0))), t
    log.warning("no allowed item suits the default template '%s'; using the most popular allowed item", template_id)
    own = model.template_choice.template
    ok = (own >= 0) & model.campaign_rules.allowed
    if not ok.any():
        return -1, -1
    item = int(np.argmax(np.where(ok, popularity, -1.0)))
    return item, int(own[item])


def pinned_items(model: Model, rows: np.ndarray, segments: dict[str, Segment]) -> np.ndarray:
    """Catalog row of the pin each user at ``rows`` gets (-1: none): the first [[pin]] of
    campaign_rules.toml whose segment holds the user and whose item some template suits."""
    pinned = np.full(len(rows), -1, dtype=np.int64)
    catalog_ids = model.catalog["item_id"].to_numpy(dtype=object)
    rules = model.settings.campaign_rules
    for pin in rules.pins:
        if pin.segment not in segments:
            raise ConfigError(f"{rules.source} [[pin]]: segment '{pin.segment}' is not defined; "
                              f"known: {', '.join(segments)}", hint="define it in scoring/segments.toml")
        pos = np.flatnonzero(catalog_ids == pin.item_id)
        if not len(pos) or model.template_choice.template[pos[0]] < 0:
            continue
        if pin.segment == ALL:
            members = np.ones(len(rows), bool)
        else:
            members = segment_mask(segments[pin.segment], model.summary)[rows]
        pinned[(pinned < 0) & members] = pos[0]
    return pinned


def build_candidate_set(model: Model, rows: np.ndarray, settings: PolicySettings,
                        segments: dict[str, Segment], now: datetime | None = None) -> CandidateSet:
    """The CandidateSet of the users at profile ``rows`` of ``model`` (vectorized, in blocks), with
    only the templates each user may get at ``now`` (default: the clock; ``eligibility``): users
    are grouped by the templates open to them and each group is built from the model restricted
    to those, so a draft, a closed window or another segment's template never reaches a user."""
    rows = np.asarray(rows, dtype=np.int64)
    access = template_access(model, rows, segments, now)
    if len(rows) == 0 or access.all():  # no campaign keeps anything out: the usual case, no grouping
        return _candidate_set(restricted_model(model, np.all(access, axis=0)), rows, settings, segments)
    patterns, group = np.unique(access, axis=0, return_inverse=True)
    group = group.reshape(-1)
    if len(patterns) == 1:
        return _candidate_set(restricted_model(model, patterns[0]), rows, settings, segments)
    parts = [_candidate_set(restricted_model(model, pattern), rows[group == g], settings, segments)
             for g, pattern in enumerate(patterns)]  # a handful of groups, vectorized within each
    order = np.argsort(group, kind="stable")  # stacked parts hold the users group by group
    position = np.empty(len(rows), dtype=np.int64)
    position[order] = np.arange(len(rows))
    return stack(parts).take(position)


def _candidate_set(model: Model, rows: np.ndarray, settings: PolicySettings,
                   segments: dict[str, Segment]) -> CandidateSet:
    user_ids = np.asarray(model.profiles.user_ids[rows], dtype=object)
    items, scores = model.candidates(rows)
    banners = candidate_banners(model, rows, items)
    n, k = items.shape
    held = np.zeros(n, bool)
    if settings.holdout_share > 0:
        held = in_holdout(user_ids, settings.holdout_share, settings.holdout_salt)
    pinned = pinned_items(model, rows, segments)
    default_item, default_template = default_banner(model, settings.holdout_template)
    use_pin = (pinned >= 0) & ~held
    fixed_item = np.where(use_pin, pinned, default_item)
    fixed_template = np.where(use_pin, model.template_choice.template[np.maximum(pinned, 0)], default_template)
    fixed = np.where(held, "holdout", np.where(use_pin, "pin", "")).astype(object)
    fixed_reason = np.where(held, HOLDOUT_REASON, np.where(use_pin, PIN_REASON, DEFAULT_REASON)).astype(object)

    all_items = np.concatenate([items, fixed_item[:, None]], axis=1).astype(np.int64)
    real = items >= 0

    def with_fixed(policy_part: np.ndarray, fixed_part: np.ndarray) -> np.ndarray:
        return np.concatenate([policy_part, fixed_part[:, None]], axis=1)

    all_templates = with_fixed(np.where(real, banners.templates, -1), fixed_template).astype(np.int64)
    antecedents = with_fixed(np.where(real, banners.antecedents, -1), np.full(n, -1)).astype(np.int64)
    all_scores = with_fixed(np.where(real, scores.astype(np.float64), -np.inf), np.full(n, np.nan))
    catalog_ids = model.catalog["item_id"].to_numpy(dtype=object)
    template_ids = np.asarray([t.id for t in model.templates] + [""], dtype=object)  # index -1 -> ""
    item_ids = np.where(all_items >= 0, catalog_ids[np.maximum(all_items, 0)], "").astype(object)
    reasons = np.concatenate([np.where(items >= 0, banners.reasons, ""), fixed_reason[:, None]], axis=1).astype(object)
    reasons[all_items < 0] = ""
    antecedent_ids = np.where(antecedents >= 0, catalog_ids[np.maximum(antecedents, 0)], "").astype(object)
    return CandidateSet(user_ids, rows, all_items, all_templates, antecedents, all_scores, item_ids,
                        template_ids[all_templates], antecedent_ids, reasons, fixed)


def with_reasons(model: Model, candidates: CandidateSet, where: np.ndarray | None = None) -> CandidateSet:
    """``candidates`` with the explanation of every banner at ``where`` (bool (n, k + 1); all when
    None) that has none yet: the event or search that contributed most to its item's score
    ("因为你浏览了 佳能 相机"). Batch explains the chosen banners only, serve and explain all."""
    reasons = candidates.reasons.copy()
    todo = (reasons == "") & (candidates.items >= 0)
    if where is not None:
        todo &= where
    for c in np.flatnonzero(todo.any(axis=0)):  # explain_choices wants distinct rows: one call per column
        users = np.flatnonzero(todo[:, c])
        reasons[users, c] = explain_choices(model, candidates.rows[users], candidates.items[users, c])
    return replace(candidates, reasons=reasons)


def unknown_user(model: Model, user_id: str, width: int, settings: PolicySettings) -> CandidateSet:
    """The CandidateSet of a user with no history: only the default banner (``width`` = k + 1)."""
    item, template = default_banner(model, settings.holdout_template)
    items = np.full((1, width), -1, dtype=np.int64)
    templates = np.full((1, width), -1, dtype=np.int64)
    items[0, -1], templates[0, -1] = item, template
    scores = np.full((1, width), -np.inf)
    scores[0, -1] = np.nan
    item_ids = np.full((1, width), "", dtype=object)
    template_ids = np.full((1, width), "", dtype=object)
    reasons = np.full((1, width), "", dtype=object)
    if item >= 0:
        item_ids[0, -1] = model.catalog["item_id"].iat[item]
        template_ids[0, -1] = model.templates[template].id
        reasons[0, -1] = DEFAULT_REASON
    return CandidateSet(np.asarray([user_id], dtype=object), np.asarray([-1]), items, templates,
                        np.full((1, width), -1, dtype=np.int64), scores, item_ids, template_ids,
                        np.full((1, width), "", dtype=object), reasons, np.asarray([""], dtype=object))


def banners_of(cands: CandidateSet) -> set[tuple[int, int, int]]:
    """(item, template, antecedent) of every candidate banner of a set (fixed column included)."""
    ok = cands.items >= 0
    triples = np.stack([cands.items[ok], cands.templates[ok], cands.antecedents[ok]], axis=1)
    return {tuple(t) for t in np.unique(triples, axis=0).tolist()}


def stack(sets: list[CandidateSet]) -> CandidateSet:
    """One CandidateSet of the users of ``sets`` (all of the same width), in order."""
    return CandidateSet(*(np.concatenate([getattr(c, f) for c in sets]) for f in CandidateSet.__dataclass_fields__))


def user_candidates(model: Model, rows: np.ndarray, settings: PolicySettings,
                    segments: dict[str, Segment]) -> dict[str, CandidateSet]:
    """Each user's CandidateSet (one row, every reason computed) for the users at profile ``rows``."""
    if len(rows) == 0:
        return {}
    cands = with_reasons(model, build_candidate_set(model, np.asarray(rows), settings, segments))
    return {str(user): cands.take(slice(i, i + 1)) for i, user in enumerate(cands.user_ids)}
