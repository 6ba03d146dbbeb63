"""Why a user gets their banner, for ``bannergen explain``: the interest behind it, every
candidate with the probability the decision kernel gives it now, and the campaign setting that
let each campaign template in or kept it out.

    >>> ex = explain_user(engine, "zhangsan")  # doctest: +SKIP
    >>> ex.chosen.template_id, round(ex.propensity, 3)  # doctest: +SKIP
    ('category-launch', 0.764)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bannergen.association.scorer import AssociationRuleScorer
from bannergen.contexts import template_context
from bannergen.model import Model
from bannergen.profile import VERB_BY_RANK
from bannergen.selection.candidate_set import DEFAULT_REASON, default_banner
from bannergen.selection.eligibility import Verdict, verdicts
from bannergen.selection.settings import PolicySettings
from bannergen.types import Candidate

if TYPE_CHECKING:
    from bannergen.pipeline import Engine


@dataclass(frozen=True)
class UserExplanation:
    user_id: str
    item_weights: pd.DataFrame  # item_id, title, brand, category, price, weight (w_ij), strongest event
    searches: pd.DataFrame  # query, weight
    interests: pd.DataFrame  # feature, share (U_i), top entries
    candidates: list[Candidate]
    chosen: Candidate | None
    propensity: float
    policy: str
    explanation: str
    segments: list[str]
    temperature: float
    policy_rule: str  # how the probabilities were computed, in words
    decision_id: str = ""
    contributions: list[dict[str, float]] = field(default_factory=list)  # per candidate: scorer -> part of s
    association_rules: list[str] = field(default_factory=list)  # per candidate: the association rule that fired, or ""
    campaign: list[Verdict] = field(default_factory=list)  # per template with campaign settings: in or out, and why
    known: bool = True  # False: a user with no events (cold start), who gets the default banner

    def as_dict(self) -> dict:
        """What ``bannergen explain --format json`` prints: the decision and its candidates."""

        def number(x: float) -> float | None:
            return None if x != x or x in (float("inf"), float("-inf")) else x

        chosen = self.chosen
        return {
            "user_id": self.user_id,
            "known": self.known,
            "segments": self.segments,
            "policy": self.policy,
            "propensity": self.propensity,
            "explanation": self.explanation,
            "chosen": None if chosen is None else {"position": chosen.position, "item_id": chosen.item_id,
                                                   "template": chosen.template_id},
            "candidates": [
                {"position": c.position, "item_id": c.item_id, "template": c.template_id,
                 "antecedent_id": c.antecedent_id, "headline": c.headline, "score": number(c.score),
                 "probability": c.probability, "reason": c.reason}
                for c in self.candidates
            ],
            "interests": [{"feature": r.feature, "share": float(r.share)}
                          for r in self.interests.itertuples(index=False)],
            "campaign": [{"template": v.template_id, "allowed": v.allowed, "setting": v.setting}
                         for v in self.campaign],
        }


def policy_rule(name: str, temperature: float, settings: PolicySettings) -> str:
    """How the kernel turns candidates into probabilities under policy ``name``, in one line."""
    if name == "softmax":
        return f"softmax P = exp(s/t) / sum exp(s/t), t = {temperature:g}"
    if name == "greedy":
        return "greedy policy: all of it on the best score"
    return (f"Thompson sampling: P(best CTR draw) from Beta posteriors (prior CTR {settings.prior_ctr:g} at the mean "
            f"score, worth {settings.prior_strength:g} impressions), floor {settings.exploration_floor:g}, "
            f"{settings.draws} draws")


def explain_user(engine: Engine, user_id: str, top: int = 8) -> UserExplanation:
    """Everything behind one user's banner now: interest weights and vector, every candidate
    with the probability the decision kernel gives it (the numbers render and serve use),
    each scorer's part of its score, the chosen banner, its propensity and reason."""
    model = engine.model
    row = model.profiles.row(user_id)
    if row is None:
        return _cold_start(engine, user_id)
    rows = np.asarray([row])
    made = engine.decide_rows(rows, explain=True)
    cands = made.candidates
    catalog = model.catalog
    companions = model.carousel.companions if model.carousel is not None else None
    candidates = []
    for position in np.flatnonzero(made.listed()[0]):
        item, template_index = int(cands.items[0, position]), int(cands.templates[0, position])
        template = model.templates[template_index]
        ctx = template_context(catalog, item, template, engine.project.catalog.parent, companions,
                               int(cands.antecedents[0, position]))
        candidates.append(Candidate(
            int(position), str(cands.item_ids[0, position]), template.id, template.headline(ctx),
            float(cands.scores[0, position]), float(made.probabilities[0, position]),
            str(cands.reasons[0, position]), str(cands.antecedent_ids[0, position])))
    contributions, rules = _candidate_reasons(model, row, [c.item_id for c in candidates])
    chosen_position = int(made.chosen[0])
    chosen = next((c for c in candidates if c.position == chosen_position), None)
    weights = model.profiles.item_weights()[row].tocoo()
    strongest = model.profiles.strongest[row].toarray().ravel()[weights.col]
    item_table = catalog.iloc[weights.col][["item_id", "title", "brand", "category", "price"]].assign(
        weight=np.round(weights.data, 4), event=[VERB_BY_RANK.get(int(r), "") for r in strongest]
    ).sort_values("weight", ascending=False)
    mine = model.profiles.queries[model.profiles.queries["user"] == row]
    searches = pd.DataFrame({"query": mine["query"], "weight": np.round(mine["mass"] / model.profiles.mass[row], 4)})
    u = model.profiles.interest[row].tocoo()
    features = np.asarray(model.features.names, dtype=object)
    interests = pd.DataFrame({"feature": features[u.col], "share": np.round(u.data, 4)})
    interests = interests.sort_values("share", ascending=False).head(top)
    in_segments = [s.name for s in engine.segments.values() if row in model.members(s)]
    selection = model.settings.selection
    return UserExplanation(
        user_id=user_id,
        item_weights=item_table.head(top).reset_index(drop=True),
        searches=searches.reset_index(drop=True),
        interests=interests.reset_index(drop=True),
        candidates=candidates,
        chosen=chosen,
        propensity=float(made.propensity[0]),
        policy=str(made.policy[0]) if chosen is not None else "",
        explanation=chosen.reason if chosen is not None else "",
        segments=in_segments,
        temperature=selection.temperature,
        policy_rule=policy_rule(selection.policy, selection.temperature, engine.policy_settings),
        contributions=contributions,
        association_rules=rules,
        campaign=verdicts(model, row, engine.segments),
    )

def _cold_start(engine: Engine, user_id: str) -> UserExplanation:
    """A user with no events: a normal case (a new visitor), who gets the default banner, as
    serve answers them and recommend lists the cold-start scorer's items."""
    model = engine.model
    item, t = default_banner(model, engine.policy_settings.holdout_template)
    candidates = []
    if item >= 0:
        template = model.templates[t]
        ctx = template_context(model.catalog, item, template, engine.project.catalog.parent, None, -1)
        candidates.append(Candidate(0, str(model.catalog["item_id"].iat[item]), template.id, template.headline(ctx),
                                    float("nan"), 1.0, DEFAULT_REASON))
    empty = pd.DataFrame()
    return UserExplanation(
        user_id=user_id, item_weights=empty, searches=empty, interests=pd.DataFrame(columns=["feature", "share"]),
        candidates=candidates, chosen=candidates[0] if candidates else None, propensity=1.0,
        policy="default" if candidates else "", explanation=DEFAULT_REASON if candidates else "", segments=[],
        temperature=model.settings.selection.temperature,
        policy_rule=f"cold start: no events in {engine.project.events}, so the default banner",
        known=False,
    )


def _candidate_reasons(model: Model, row: int, item_ids: list[str]) -> tuple[list[dict[str, float]], list[str]]:
    """Each scorer's part of each candidate's score, and the association rule behind it, if any."""
    if model.blend is None or model.interactions is None or not item_ids:
        return [], []
    from bannergen.scorers.fitting import rule_sentence

    items = model.features.item_ids.get_indexer(item_ids)
    rows = np.full(len(items), row)
    parts = model.blend.contributions(model.interactions, rows, items)
    per_item = [{name: float(values[n]) for name, values in parts.items()} for n in range(len(items))]
    scorer = model.blend.scorers.get("association_rules")
    fired: list = [None] * len(items)
    if isinstance(scorer, AssociationRuleScorer):
        fired = scorer.best_rules(model.interactions, rows, items)
    return per_item, [rule_sentence(model.catalog, r) if r is not None else "" for r in fired]
