"""Project-level operations behind ``bannergen fit`` and ``bannergen recommend``: load the shop
(native files or the ``[mapping]`` table), fit the blend (tuning its weights on a validation
window when ``[tune] enabled``), save it with a fingerprint, and recommend with each scorer's share.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bannergen.association.scorer import AssociationRuleScorer, FiredRule
from bannergen.config import Project
from bannergen.data.sources import dask_events, source_state
from bannergen.errors import UnknownUserError
from bannergen.scorers.blend import Blend
from bannergen.scorers.collaborative import PopularityScorer
from bannergen.scorers.settings import DEFAULT_BLEND, BlendSettings, load_scoring


def project_fingerprint(project: Project) -> str:
    """What a saved model was fitted from: the data and scoring files, and which users a load
    keeps (the secret's fingerprint, the forgotten list and the consent records), so a model fitted
    with a forgotten user's events is never reused."""
    from bannergen.privacy.fingerprint import privacy_fingerprint
    from bannergen.scorers.store import fingerprint

    mapping: Path | None = getattr(project, "mapping_table", None)
    files = [mapping] if mapping else [project.catalog, project.events]
    scoring = [project.scoring / n for n in ("weights.toml", "blend.toml")]
    dataset = dask_events(project)  # what a render on Dask fits from instead of [data] events
    return fingerprint(files, scoring, {"mapping": list(getattr(project, "mapping", ())), "as_of": project.as_of,
                                        "privacy": privacy_fingerprint(project),
                                        **({} if dataset is None else {"dask_events": source_state(dataset)})})


@dataclass
class FitSummary:
    folder: Path
    fingerprint: str
    users: int
    items: int
    scorers: list[str]
    weights: dict[str, float]
    timings: dict[str, float] = field(default_factory=dict)
    tuned: bool = False


def shop_interactions(project: Project, shop, settings, content: bool):
    """The interactions of every user of a loaded shop (with profiles and item features when
    ``content``): what a blend is fitted on."""
    from bannergen.features import build_item_features
    from bannergen.profile import build_profiles, resolve_as_of
    from bannergen.scorers.base import build_interactions

    as_of = resolve_as_of(shop.events, project.as_of)
    titles = shop.catalog.get("title")
    data = build_interactions(shop.events, shop.catalog["item_id"], as_of, baskets=shop.baskets, titles=titles)
    if content:
        features = build_item_features(shop.catalog, settings.weights)
        profiles = build_profiles(shop.events, features, settings.weights, as_of)
        data = data.with_content(profiles, features)
    return data


def fit_project(project: Project, tune: bool | None = None) -> FitSummary:
    """Fit the project's blend on all its data and save it to ``project.models``."""
    from bannergen.data.mapping import load_shop
    from bannergen.scorers.store import save_blend

    t = {}
    start = time.perf_counter()
    shop = load_shop(project)
    settings = load_scoring(project.scoring)
    blend_settings: BlendSettings = settings.blend or DEFAULT_BLEND
    t["load"] = time.perf_counter() - start
    content = blend_settings.weights.get("content", 0.0) != 0.0 or getattr(project, "mapping_table", None) is None
    weights = dict(blend_settings.weights)
    tuned = bool(blend_settings.tune if tune is None else tune)
    if tuned:
        from bannergen.evaluation.offline import _parts, make_fold, tune_weights

        start = time.perf_counter()
        cut = shop.events["ts"].max().normalize() - pd.Timedelta(days=blend_settings.validation_days)
        interest = settings.weights if content else None
        names = [n for n in ("content", "popularity", "popularity_recent", "popularity_now", "item_knn", "svd", "ease",
                             "association_rules", "title")
                 if n != "content" or interest is not None]
        fold = make_fold(shop.events, shop.catalog, shop.baskets, cut, None, "new-items", interest)
        if len(fold.rows):
            val_blend = Blend.from_settings(blend_settings, interest, weights={n: 1.0 for n in names}).fit(fold.data)
            weights = tune_weights(_parts(val_blend, fold, names), fold, blend_settings.k)
        t["tune"] = time.perf_counter() - start
    start = time.perf_counter()
    data = shop_interactions(project, shop, settings, content)
    t["prepare"] = time.perf_counter() - start
    start = time.perf_counter()
    blend = Blend.from_settings(blend_settings, settings.weights if content else None, weights=weights).fit(data)
    t["fit"] = time.perf_counter() - start
    fp = project_fingerprint(project)
    save_blend(blend, project.models, fp, {"users": data.n_users, "items": data.n_items,
                                           "fitted_at": pd.Timestamp.now(tz="UTC").isoformat(), "tuned": tuned})
    return FitSummary(project.models, fp, data.n_users, data.n_items, list(blend.scorers), blend.weights, t, tuned)


@dataclass(frozen=True)
class Recommendation:
    item_id: str
    title: str
    score: float
    shares: dict[str, float]  # scorer -> contribution to score
    rule: str  # "买了 A 的人 62% 也买了 B, lift 3.1" or ""


def recommend(project: Project, user_id: str, k: int = 5) -> tuple[list[Recommendation], str]:
    """Top ``k`` items for ``user_id`` through the saved blend (fitted here when absent or stale):
    items the user bought are left out; an unknown user gets the cold-start scorer."""
    from bannergen.data.mapping import load_shop
    from bannergen.privacy.pseudonyms import project_pseudonymizer
    from bannergen.scorers.store import StaleModelError, load_blend

    shop = load_shop(project)
    settings = load_scoring(project.scoring)
    blend_settings = settings.blend or DEFAULT_BLEND
    content = getattr(project, "mapping_table", None) is None
    data = shop_interactions(project, shop, settings, content)
    note = "saved model"
    try:
        blend = load_blend(project.models, project_fingerprint(project), settings.weights if content else None)
    except StaleModelError as error:
        note = f"fitted now ({error.message.split(': ', 1)[-1]})"
        blend = Blend.from_settings(blend_settings, settings.weights if content else None).fit(data)
    row = data.user_ids.get_indexer([project_pseudonymizer(project).one(user_id)])[0]  # raw id in, hashed once
    catalog = shop.catalog
    if row < 0:
        if blend.cold_start not in blend.scorers:
            raise UnknownUserError(f"user '{user_id}' has no events", hint="check the id against the events file")
        cold = blend.scorers[blend.cold_start]
        if data.n_users:
            scores = cold.score(data, np.asarray([0]))[0]  # the cold-start scores are the same for every user
        elif isinstance(cold, PopularityScorer):
            scores = np.asarray(cold.item_scores_)
        else:
            raise UnknownUserError(f"user '{user_id}' has no events and the shop has no users")
        top = np.argsort(-scores, kind="stable")[:k]
        recs = [Recommendation(catalog["item_id"].iat[j], catalog["title"].iat[j], float(scores[j]),
                               {blend.cold_start: float(scores[j])}, "") for j in top]
        return recs, f"cold start: user '{user_id}' has no history, {blend.cold_start}"
    rows = np.asarray([row])
    scores = blend.score(data, rows)[0]
    scores[data.bought()[row].indices] = -np.inf
    top = np.argsort(-scores, kind="stable")[:k]
    shares = blend.contributions(data, np.repeat(row, len(top)), top)
    rules = blend.scorers.get("association_rules")
    fired: list[FiredRule | None] = [None] * len(top)
    if isinstance(rules, AssociationRuleScorer):
        fired = rules.best_rules(data, np.repeat(row, len(top)), top)
    recs = []
    for pos, j in enumerate(top):
        rule = fired[pos]
        text = rule_sentence(catalog, rule) if rule is not None else ""
        recs.append(Recommendation(catalog["item_id"].iat[j], catalog["title"].iat[j], float(scores[j]),
                                   {n: float(v[pos]) for n, v in shares.items()}, text))
    return recs, note


def rule_sentence(catalog: pd.DataFrame, rule: FiredRule) -> str:
    """"买了 A 的人 62% 也买了 B, lift 3.1" for a FiredRule over catalog rows."""
    titles = catalog["title"].to_numpy()

    def short(title: object, limit: int = 24) -> str:  # keyword-stuffed titles would drown the sentence
        text = str(title)
        return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"

    ante = " + ".join(short(titles[a]) for a in rule.antecedent)
    return f"买了 {ante} 的人 {rule.confidence:.0%} 也买了 {short(titles[rule.consequent])}, lift {rule.lift:.1f}"
