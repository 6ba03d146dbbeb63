"""Decisions for a set of users: candidates -> caps -> policy -> holdout and pins -> explanation.

Every decision records the policy that made it and the probability it was chosen with (the
propensity), which is what makes unbiased off-policy evaluation of the logs possible later.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bannergen.bandits import in_holdout, thompson_choose
from bannergen.errors import ConfigError
from bannergen.explain import explain_choices
from bannergen.model import Model
from bannergen.segments import Segment
from bannergen.selection.banners import candidate_banners
from bannergen.selection.feedback_view import FeedbackView
from bannergen.selection.policy import choose
from bannergen.selection.settings import PolicySettings

HOLDOUT_REASON = "对照组：默认横幅"


def default_banner(model: Model, template_id: str) -> tuple[int, int]:
    """(catalog row, template index) of the holdout's default banner: the configured template over
    the shop's most popular item that is allowed by the rules and suits it."""
    ids = [t.id for t in model.templates]
    if template_id not in ids:
        raise ConfigError(f"scoring/policy.toml [holdout]: template '{template_id}' is not in templates/; got {ids}")
    t = ids.index(template_id)
    suits = model.templates[t].suits(model.catalog) & model.rules.allowed
    if not suits.any():
        raise ConfigError(f"scoring/policy.toml [holdout]: no in-stock item suits template '{template_id}'")
    return int(np.argmax(np.where(suits, model.profiles.popularity, -1.0))), t


def decide(
    model: Model,
    rows: np.ndarray,
    segment: Segment,
    seed: int,
    policy: PolicySettings | None = None,
    feedback: FeedbackView | None = None,
) -> pd.DataFrame:
    """One decision per user at ``rows`` (profile rows); users with no eligible banner are left out.

    Columns: user_id, item_id, template, score, propensity, policy, explanation, plus the integer
    ``item`` (catalog row) and ``row`` (profile row) for later stages.
    """
    policy = policy or PolicySettings()
    feedback = feedback or FeedbackView.empty()
    sel = model.settings.selection
    user_ids = np.asarray(model.profiles.user_ids[rows], dtype=object)
    n = len(rows)
    items, scores = model.candidates(rows)
    catalog_ids = model.catalog["item_id"].to_numpy(dtype=object)
    template_ids = np.asarray([t.id for t in model.templates], dtype=object)
    cand_items = np.where(items >= 0, catalog_ids[np.maximum(items, 0)], "")
    banners = candidate_banners(model, rows, items)
    cand_templates = np.where(items >= 0, template_ids[banners.templates], "")

    if policy.cap_per_day > 0:  # a banner seen N times today makes way for the next one (rotation)
        capped = feedback.shown_today(user_ids, cand_items, cand_templates) >= policy.cap_per_day
        scores = np.where(capped, -np.inf, scores)

    if sel.policy == "thompson":
        finite = np.isfinite(scores)
        mean = np.where(finite, scores, 0.0).sum(axis=1, keepdims=True) / np.maximum(finite.sum(axis=1, keepdims=True), 1)
        # The scorer's view as the prior: a candidate of the row's mean score expects prior_ctr, and
        # each point of score above it multiplies that by e. Much flatter than the softmax at t = 0.1
        # on purpose: the prior only orders candidates until their own feedback speaks.
        relative = np.where(finite, scores - mean, 0.0)
        prior = np.where(finite, np.clip(policy.prior_ctr * np.exp(relative), 1e-4, 0.5), np.nan)
        clicks, impressions = feedback.lookup(cand_items, cand_templates)
        index, propensity = thompson_choose(
            prior, policy.prior_strength, clicks, impressions, policy.exploration_floor, seed=seed
        )
    else:
        index, propensity, _ = choose(scores, user_ids, sel.policy, sel.temperature, seed)
    safe = np.maximum(index, 0)
    picked = np.arange(n), safe
    chosen = np.where(index >= 0, items[picked], -1)
    score = np.where(index >= 0, scores[picked], np.nan)
    template_of = np.where(index >= 0, banners.templates[picked], -1)
    antecedent = np.where(index >= 0, banners.antecedents[picked], -1)
    special = np.where(index >= 0, banners.reasons[picked], "")  # a carousel's or a cross-sell rule's reason
    used = np.full(n, sel.policy, dtype=object)

    for pin in model.settings.rules.pins:
        if pin.segment != segment.name:
            continue
        pos = np.flatnonzero(catalog_ids == pin.item_id)
        if len(pos) and model.template_choice.template[pos[0]] >= 0:
            chosen[:], propensity[:], used[:] = pos[0], 1.0, "pin"
            template_of[:], antecedent[:], special[:] = model.template_choice.template[pos[0]], -1, ""

    held = in_holdout(user_ids, policy.holdout_share, policy.holdout_salt) if policy.holdout_share > 0 else np.zeros(n, bool)
    if held.any():
        item, t = default_banner(model, policy.holdout_template)
        chosen[held], template_of[held], propensity[held], used[held] = item, t, 1.0, "holdout"
        score[held] = np.nan

    explanation = explain_choices(model, rows, chosen)
    explanation[special != ""] = special[special != ""]
    explanation[held] = HOLDOUT_REASON
    antecedent[held] = -1
    keep = chosen >= 0
    return pd.DataFrame(
        {
            "user_id": user_ids[keep],
            "item_id": catalog_ids[chosen[keep]],
            "template": template_ids[template_of[keep]],
            "score": score[keep].astype(np.float64).round(6),
            "propensity": propensity[keep].round(6),
            "policy": used[keep],
            "explanation": explanation[keep],
            "item": chosen[keep],
            "row": rows[keep],
            "antecedent": antecedent[keep],  # catalog row of a cross-sell banner's trigger item, else -1
        }
    )
