"""A seeded simulator with known true click rates: a policy logged on-policy over real candidate sets.

Input is a decision log of candidate sets (a render's ``candidates`` table: one decision per user).
Every impression is a fresh decision over its user's candidates, drawn by the policy under test
with the kernel's probabilities, and logged as serve would log it (a decision id, every candidate
with its probability) and as a CMS would report it (impression, click and conversion events with
decision_id, variant_id, placement, propensity and policy).

The true click rate of a banner for a user is a logistic of its score plus a template effect, a
category effect and a per-user effect (``ClickModel``): it depends on user and banner, so a policy
that ranks better really clicks more. ``SimulatedLog.true_value`` gives the exact on-policy CTR of
any reference policy over the same candidate sets, the ground truth off-policy estimates are
checked against.

    >>> policy = DecisionPolicy(temperature=0.5)  # doctest: +SKIP
    >>> sim = simulate(candidates, "softmax", policy, impressions_per_user=20)  # doctest: +SKIP
    >>> sim.true_value("greedy", DecisionPolicy())  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, ndtri

from bannergen.ope.decision_log import DECISION_LOG_COLUMNS
from bannergen.ope.targets import FIXED_POLICIES, banner_counts, reference_probabilities
from bannergen.selection.kernel import DecisionPolicy, keyed_uniforms, sample

START_US = 1_795_852_800 * 1_000_000  # 2026-11-28T08:00:00Z, a fixed clock: same seed, same events
SPAN_US = 12 * 3600 * 1_000_000       # impressions spread over twelve hours
CLICK_DELAY_US = 4_000_000
CONVERSION_DELAY_US = 180_000_000
DECISION_LEAD_US = 50_000             # the decision is made just before its impression
CONVERSION_RATE = 0.12                # of clicks


def _effects(names: np.ndarray, sd: float, seed: int, salt: str) -> np.ndarray:
    """A N(0, sd) effect per name, from a keyed hash of the name: stable whatever else is simulated."""
    uniforms = keyed_uniforms(np.asarray(names, dtype=object).ravel(), seed, salt)
    return (sd * ndtri(np.clip(uniforms, 1e-9, 1 - 1e-9))).reshape(np.shape(names))


@dataclass(frozen=True)
class ClickModel:
    """P(click) = expit(intercept + score_weight * score + template + category + user effects);
    the effects are N(0, sd) per template, category and user; a fixed banner's missing score counts 0."""

    intercept: float = -4.3
    score_weight: float = 1.0
    template_sd: float = 0.4
    category_sd: float = 0.3
    user_sd: float = 0.3
    seed: int = 0

    def ctr(self, user_ids: np.ndarray, templates: np.ndarray, categories: np.ndarray,
            scores: np.ndarray) -> np.ndarray:
        """True click rates (u, k) of users (u,) on their candidates (u, k)."""
        logit = (self.intercept + self.score_weight * np.nan_to_num(scores, nan=0.0)
                 + _effects(templates, self.template_sd, self.seed, "template")
                 + _effects(categories, self.category_sd, self.seed, "category")
                 + _effects(user_ids, self.user_sd, self.seed, "user")[:, None])
        return expit(logit)


@dataclass(frozen=True)
class CandidateSets:
    """u users' candidate sets as (u, k) arrays, one decision per user (see SimulatedLog)."""

    user_ids: np.ndarray
    policy: np.ndarray
    item_ids: np.ndarray
    templates: np.ndarray
    antecedent_ids: np.ndarray
    categories: np.ndarray
    scores: np.ndarray
    logged: np.ndarray
    listed: np.ndarray

    @classmethod
    def from_log(cls, candidates: pd.DataFrame, categories: pd.DataFrame | None = None) -> CandidateSets:
        """From a candidates table (kernel.CANDIDATE_COLUMNS); ``categories``: item_id, category."""
        codes, users = pd.factorize(candidates["decision_id"], sort=False)
        u = len(users)
        k = int(candidates["position"].max()) + 1
        pos = candidates["position"].to_numpy(np.int64)

        def grid(column: str, fill: Any, dtype: Any) -> np.ndarray:
            out = np.full((u, k), fill, dtype=dtype)
            out[codes, pos] = candidates[column].to_numpy(dtype=dtype)
            return out

        category = (candidates["item_id"].map(categories.set_index("item_id")["category"]) if categories is not None
                    else pd.Series("", index=candidates.index)).fillna("")
        first = np.unique(codes, return_index=True)[1]
        listed = np.zeros((u, k), bool)
        listed[codes, pos] = True
        cats = np.full((u, k), "", dtype=object)
        cats[codes, pos] = category.to_numpy(dtype=object)
        return cls(candidates["user_id"].to_numpy(dtype=object)[first],
                   candidates["policy"].to_numpy(dtype=object)[first], grid("item_id", "", object),
                   grid("template", "", object), grid("antecedent_id", "", object), cats,
                   grid("score", np.nan, np.float64), grid("probability", 0.0, np.float64), listed)

    @property
    def fixed(self) -> np.ndarray:
        return pd.Series(self.policy).isin(FIXED_POLICIES).to_numpy()

    def probabilities(self, name: str, policy: DecisionPolicy, clicks: np.ndarray | None = None,
                      impressions: np.ndarray | None = None) -> np.ndarray:
        """Policy ``name``'s distribution (u, k), exactly as off-policy evaluation computes it."""
        zeros = np.zeros(self.listed.shape)
        clicks = zeros if clicks is None else clicks
        impressions = zeros if impressions is None else impressions
        return reference_probabilities(name, self.scores, self.listed, self.logged, self.fixed, clicks, impressions,
                                       policy)


@dataclass(frozen=True)
class SimulatedLog:
    """events: feedback frame (ts int64 us; FEEDBACK columns incl. decision_id); decisions: the
    decision log of every impression's decision (DECISION_LOG_COLUMNS, one decision per impression);
    banners: variant_id, item_id, template of every banner shown; sets, ctr (u, k): the candidate
    sets and true click rates; user (n,), action (n,), clicked (n,): who saw what and clicked;
    name, policy: the logging policy."""

    name: str
    policy: DecisionPolicy
    events: pd.DataFrame
    decisions: pd.DataFrame
    banners: pd.DataFrame
    sets: CandidateSets
    ctr: np.ndarray
    user: np.ndarray
    action: np.ndarray
    clicked: np.ndarray

    def true_value(self, name: str, policy: DecisionPolicy) -> float:
        """The true CTR of reference policy ``name`` on these users' impressions (Thompson with
        the feedback counts of this log, as off-policy evaluation sees them; ``logged``: the
        policy this log was drawn from)."""
        if name == "logged":
            name, policy = self.name, self.policy
        s = self.sets
        clicks = imps = None
        if name == "thompson":
            rows = self.user, self.action
            clicks, imps = banner_counts(s.item_ids[rows], s.templates[rows], self.clicked.astype(np.float64),
                                         s.item_ids, s.templates)
        per_user = (s.probabilities(name, policy, clicks, imps) * self.ctr).sum(axis=1)
        return float(per_user[self.user].mean())


def _variant_ids(items: np.ndarray, templates: np.ndarray, size: str, variants: pd.DataFrame | None) -> np.ndarray:
    """The rendered variant of each (item, template) at ``size`` from ``variants`` (variant_id,
    item_id, template, size), else a stable made-up id: serve renders such banners on demand."""
    frame = pd.DataFrame({"item_id": items, "template": templates})
    if variants is not None and len(variants):
        known = variants[variants["size"] == size].drop_duplicates(["item_id", "template"])
        frame = frame.merge(known[["item_id", "template", "variant_id"]], how="left", on=["item_id", "template"])
    else:
        frame["variant_id"] = np.nan
    minted = pd.util.hash_array((frame["item_id"] + "|" + frame["template"] + "|" + size).to_numpy(dtype=object),
                                hash_key="bannergen-sim-v1", categorize=True)
    made = "sim-" + pd.Series(minted).map("{:016x}".format)
    return frame["variant_id"].astype(object).fillna(made.astype(object)).to_numpy(dtype=object)


def simulate(candidates: pd.DataFrame, name: str, policy: DecisionPolicy, clicks: ClickModel = ClickModel(),
             impressions_per_user: int = 20, categories: pd.DataFrame | None = None,
             variants: pd.DataFrame | None = None, placement: str = "home_top", size: str = "1200x400",
             seed: int = 0) -> SimulatedLog:
    """Log reference policy ``name`` on-policy over the candidate sets of ``candidates`` (a decision
    log, kernel.CANDIDATE_COLUMNS); ``categories`` (item_id, category) feed the click model,
    ``variants`` (variant_id, item_id, template, size) name the banners."""
    sets = CandidateSets.from_log(candidates, categories)
    ctr = clicks.ctr(sets.user_ids, sets.templates, sets.categories, sets.scores)
    probs = sets.probabilities(name, policy)
    rng = np.random.default_rng(seed)
    users = np.flatnonzero(probs.sum(axis=1) > 0)
    user = rng.permutation(np.repeat(users, impressions_per_user))
    n = len(user)
    action = sample(probs[user], rng.random(n))
    clicked = rng.random(n) < ctr[user, action]
    converted = clicked & (rng.random(n) < CONVERSION_RATE)
    ts = START_US + np.sort(rng.integers(0, SPAN_US, n))
    ids = np.char.add(f"sim{seed}-", np.arange(n).astype(str)).astype(object)
    item, template = sets.item_ids[user, action], sets.templates[user, action]
    variant = _variant_ids(item, template, size, variants)
    logged_policy = np.where(sets.fixed[user], sets.policy[user], name).astype(object)
    propensity = probs[user, action]
    base = pd.DataFrame({"ts": ts, "user_id": sets.user_ids[user], "variant_id": variant, "value": 0.0, "cost": 0.0,
                         "placement": placement, "propensity": propensity, "policy": logged_policy, "decision_id": ids})
    events = pd.concat([
        base.assign(event="impression"),
        base[clicked].assign(event="click", ts=ts[clicked] + CLICK_DELAY_US, propensity=np.nan),
        base[converted].assign(event="conversion", ts=ts[converted] + CONVERSION_DELAY_US, propensity=np.nan,
                               value=rng.uniform(200, 5000, int(converted.sum())).round(2)),
    ], ignore_index=True).sort_values("ts", kind="stable").reset_index(drop=True)
    events.insert(0, "event_id", np.char.add(f"sim{seed}-e", np.arange(len(events)).astype(str)).astype(object))
    events = events[["event_id", "ts", "user_id", "variant_id", "event", "value", "cost", "placement", "propensity",
                     "policy", "decision_id"]]
    rows, pos = np.nonzero(sets.listed[user])
    u = user[rows]
    decisions = pd.DataFrame({
        "decision_id": ids[rows], "user_id": sets.user_ids[u], "position": pos.astype(np.int64),
        "item_id": sets.item_ids[u, pos], "template": sets.templates[u, pos],
        "antecedent_id": sets.antecedent_ids[u, pos],
        "score": sets.scores[u, pos], "probability": probs[u, pos], "chosen": action[rows] == pos,
        "policy": logged_policy[rows], "ts": ts[rows] - DECISION_LEAD_US, "placement": placement, "size": size,
    }, columns=list(DECISION_LOG_COLUMNS))
    banners = pd.DataFrame({"variant_id": variant, "item_id": item, "template": template}).drop_duplicates("variant_id")
    return SimulatedLog(name, policy, events, decisions, banners.reset_index(drop=True), sets, ctr, user, action,
                        clicked)
