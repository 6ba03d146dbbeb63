"""Decisions for a set of users: candidates -> policy -> pins -> explanation, as one DataFrame."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bannergen.explain import explain_choices
from bannergen.model import Model
from bannergen.segments import Segment
from bannergen.selection.policy import choose

DECISION_COLUMNS = ["user_id", "item_id", "template", "score", "propensity", "policy", "explanation"]


def decide(model: Model, rows: np.ndarray, segment: Segment, seed: int) -> pd.DataFrame:
    """One decision per user at ``rows`` (profile rows); users with no eligible banner are left out.

    Columns: user_id, item_id, template, score, propensity, policy, explanation, plus the integer
    ``item`` (catalog row) and ``row`` (profile row) for later stages.
    """
    sel = model.settings.selection
    user_ids = model.profiles.user_ids[rows]
    items, scores = model.candidates(rows)
    index, propensity, _ = choose(scores, user_ids, sel.policy, sel.temperature, seed)
    safe = np.maximum(index, 0)
    chosen = np.where(index >= 0, items[np.arange(len(rows)), safe], -1)
    score = np.where(index >= 0, scores[np.arange(len(rows)), safe], np.nan)
    policy = np.full(len(rows), sel.policy, dtype=object)

    catalog_ids = model.catalog["item_id"].to_numpy()
    for pin in model.settings.rules.pins:
        if pin.segment != segment.name:
            continue
        pos = np.flatnonzero(catalog_ids == pin.item_id)
        if len(pos) and model.template_choice.template[pos[0]] >= 0:
            chosen[:], propensity[:], policy[:] = pos[0], 1.0, "pin"

    explanation = explain_choices(model, rows, chosen)
    keep = chosen >= 0
    chosen_k = chosen[keep]
    template_ids = np.asarray([t.id for t in model.templates], dtype=object)
    return pd.DataFrame(
        {
            "user_id": np.asarray(user_ids)[keep],
            "item_id": catalog_ids[chosen_k],
            "template": template_ids[model.template_choice.template[chosen_k]] if len(chosen_k) else [],
            "score": score[keep].astype(np.float64).round(6),
            "propensity": propensity[keep].round(6),
            "policy": policy[keep],
            "explanation": explanation[keep],
            "item": chosen_k,
            "row": rows[keep],
        }
    )
