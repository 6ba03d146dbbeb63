"""What evaluation reads from a project: the logged feedback joined to the decision logs, the
items' category and price band, and the settings of the reference policies.

    >>> logged, banners = logged_from_store(store, project.out, project.behaviour_location)  # doctest: +SKIP
    >>> items = item_table(project.catalog, project.scoring)  # doctest: +SKIP
    >>> policy = project_policy(project.scoring, "softmax")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from bannergen.errors import BannergenError
from bannergen.feedback.store import FeedbackStore
from bannergen.ope.decision_log import banner_index, load_decision_log
from bannergen.ope.logged import FEEDBACK_COLUMNS, LoggedDecisions, join_decisions
from bannergen.selection.kernel import DecisionPolicy

log = logging.getLogger(__name__)


def item_table(catalog: Path, scoring: Path | None = None) -> pd.DataFrame | None:
    """item_id, title, category, price_band (labels of scoring/weights.toml's price bands) of the
    project's catalog; None (with a warning) when the catalog cannot be loaded."""
    from bannergen.data.catalog import load_catalog
    from bannergen.features import price_band_codes
    from bannergen.scorers.settings import load_weights

    try:
        frame = load_catalog(Path(catalog)).frame
        weights = load_weights(Path(scoring) / "weights.toml")[0] if scoring else None
    except BannergenError as exc:
        log.warning("item features unavailable (%s); the reward model uses template, placement and score only", exc)
        return None
    bands = np.full(len(frame), "", dtype=object)
    if weights is not None:
        codes = price_band_codes(frame["price"].to_numpy(np.float64), weights)
        bands = np.asarray(weights.band_labels(), dtype=object)[codes]
    return pd.DataFrame({"item_id": frame["item_id"].astype(object), "title": frame["title"].astype(object),
                         "category": frame["category"].astype(object), "price_band": bands})


def project_policy(scoring: Path | None, name: str, temperature: float | None = None, floor: float | None = None,
                   seed: int = 0) -> DecisionPolicy:
    """The kernel's settings for reference policy ``name``: the project's softmax temperature
    (weights.toml [selection]) and Thompson settings (policy.toml), unless given; the kernel's
    defaults without a project (``scoring`` None)."""
    from bannergen.scorers.settings import load_weights
    from bannergen.selection.settings import PolicySettings, load_policy_settings

    weights = Path(scoring) / "weights.toml" if scoring else None
    t = load_weights(weights)[1].temperature if weights and weights.exists() else DecisionPolicy.temperature
    settings = load_policy_settings(Path(scoring) / "policy.toml") if scoring else PolicySettings()
    policy = settings.decision_policy(name, t if temperature is None else temperature, seed)
    return policy if floor is None else replace(policy, exploration_floor=floor)


def logged_from_store(store: FeedbackStore, out_root: Path | None,
                      behaviour_store: Path | str | None) -> tuple[LoggedDecisions, pd.DataFrame]:
    """The store's impressions joined to the batch and serve decision logs, and the banner index
    (variant_id, item_id, template) used for the join."""
    events = store.events_frame(FEEDBACK_COLUMNS, events=["impression", "click"])
    banners = banner_index(out_root, behaviour_store)
    return join_decisions(events, load_decision_log(out_root, behaviour_store), banners), banners
