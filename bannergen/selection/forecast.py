"""`templates forecast`: what a template would change if it went live now.

The decision kernel runs twice over every user, with the same seed, feedback and clock: as the
templates are, and with the one template's status set to live (its window, segments and share
as written). Comparing the chosen template per user says how many users of each segment would
get it, and which templates those users would no longer get.

    >>> f = forecast_template(model, "xin-ke", seed, policy, segments, feedback)  # doctest: +SKIP
    >>> f.by_segment, f.displaced  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import pandas as pd

from bannergen.errors import InputError
from bannergen.model import Model
from bannergen.segments import Segment, segment_mask
from bannergen.selection.decide import decide_rows
from bannergen.selection.feedback_view import FeedbackView
from bannergen.selection.settings import PolicySettings
from bannergen.templating.campaign import now_utc


@dataclass(frozen=True)
class Forecast:
    """by_segment: segment, users (members), would_get (members who would get the template),
    share (would_get / users). displaced: template, users: what the users who would get it
    get now (``""``: nothing). before: users who get the template as things are."""

    template_id: str
    state: str  # the template's campaign state now: draft, paused, scheduled, ended or live
    users: int
    would_get: int
    before: int
    by_segment: pd.DataFrame
    displaced: pd.DataFrame


def _chosen_templates(model: Model, rows: np.ndarray, seed: int, policy: PolicySettings,
                      segments: dict[str, Segment], feedback: FeedbackView | None, now: datetime) -> np.ndarray:
    made = decide_rows(model, rows, seed, policy, segments, feedback, now=now)
    ids = np.asarray([t.id for t in model.templates] + [""], dtype=object)  # -1 (nothing chosen) -> ""
    return ids[np.where(made.chosen >= 0, made.template, -1)]


def forecast_template(model: Model, template_id: str, seed: int, policy: PolicySettings,
                      segments: dict[str, Segment], feedback: FeedbackView | None = None,
                      now: datetime | None = None) -> Forecast:
    """What ``template_id`` would change if it went live at ``now`` (default: the clock)."""
    now = now or now_utc()
    ids = [t.id for t in model.templates]
    if template_id not in ids:
        raise InputError(f"unknown template '{template_id}'", hint=f"templates: {ids}")
    target = model.templates[ids.index(template_id)]
    live = replace(target, campaign=replace(target.campaign, status="live"))
    live_model = replace(model, templates=[live if t.id == template_id else t for t in model.templates])
    rows = np.arange(model.profiles.n_users)
    before = _chosen_templates(model, rows, seed, policy, segments, feedback, now)
    after = _chosen_templates(live_model, rows, seed, policy, segments, feedback, now)
    gets = after == template_id
    table = []
    for segment in segments.values():
        members = segment_mask(segment, model.summary) if segment.name != "all" else np.ones(len(rows), bool)
        n, got = int(members.sum()), int((gets & members).sum())
        table.append((segment.name, n, got, got / n if n else 0.0))
    by_segment = pd.DataFrame(table, columns=["segment", "users", "would_get", "share"])
    lost = pd.Series(before[gets & (before != template_id)], dtype=object)
    displaced = lost.value_counts().rename_axis("template").reset_index(name="users")
    return Forecast(template_id, target.campaign.state(now), len(rows), int(gets.sum()),
                    int((before == template_id).sum()), by_segment, displaced)
