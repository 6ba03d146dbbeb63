"""Logged bandit feedback from the store: one record per impression with its action, reward
and propensity (zr-obp's ``bandit_feedback``), the input of off-policy evaluation.

The reward of an impression is 1 when a valid click on the same (user, variant, placement)
follows it before that pair's next impression (clicks are attributed to the latest impression),
else 0. The action set of a placement is every variant logged there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bannergen.feedback.store import FeedbackStore
from bannergen.feedback.traffic import invalid_clicks


@dataclass(frozen=True)
class LoggedFeedback:
    """n impressions over placements with k_p actions each (padded to k = max k_p).

    action      int64 (n,): index into variants[placement_index]
    reward      float64 (n,): 0/1 click
    pscore      float64 (n,): logged propensity, NaN when missing
    placement   int64 (n,): index into placements
    placements  tuple of str
    variants    tuple (per placement) of tuples of variant ids
    policy      object (n,): the logging policy of each row
    """

    action: np.ndarray
    reward: np.ndarray
    pscore: np.ndarray
    placement: np.ndarray
    placements: tuple[str, ...]
    variants: tuple[tuple[str, ...], ...]
    policy: np.ndarray

    @property
    def n(self) -> int:
        return len(self.action)

    @property
    def k(self) -> int:
        return max((len(v) for v in self.variants), default=0)

    def available(self) -> np.ndarray:
        """bool (n, k): which padded action slots exist in each row's placement."""
        sizes = np.array([len(v) for v in self.variants], np.int64)
        return np.arange(self.k)[None, :] < sizes[self.placement][:, None]

    def counts(self) -> tuple[np.ndarray, np.ndarray]:
        """(clicks, impressions), each (n_placements, k): the logged totals per action."""
        shape = (len(self.placements), self.k)
        flat = self.placement * self.k + self.action
        imps = np.bincount(flat, minlength=shape[0] * shape[1]).reshape(shape)
        clicks = np.bincount(flat, weights=self.reward, minlength=shape[0] * shape[1]).reshape(shape)
        return clicks, imps


def logged_feedback(events: pd.DataFrame, include_holdout: bool = False) -> LoggedFeedback:
    """Build the record from a feedback frame (ts, user_id, variant_id, event, placement, propensity,
    policy). Holdout rows (a fixed default banner, not a policy's choice) are left out by default."""
    ev = events[events["event"].isin(["impression", "click"])]
    if not include_holdout:
        ev = ev[ev["policy"] != "holdout"]
    ev = ev.reset_index(drop=True)
    bad = invalid_clicks(ev[["user_id", "variant_id", "event", "ts"]])
    imps = ev[ev["event"] == "impression"].copy()
    clicks = ev[(ev["event"] == "click") & ~bad]
    imps["row"] = np.arange(len(imps))
    imps = imps.sort_values("ts", kind="stable")
    # Attribute each click to the latest impression of the same (user, variant, placement) at or before it.
    matched = pd.merge_asof(clicks.sort_values("ts", kind="stable")[["ts", "user_id", "variant_id", "placement"]],
                            imps[["ts", "user_id", "variant_id", "placement", "row"]],
                            on="ts", by=["user_id", "variant_id", "placement"], direction="backward")
    reward = np.zeros(len(imps))
    hit = matched["row"].dropna().astype(np.int64).to_numpy()
    reward[hit] = 1.0
    imps = imps.sort_values("row")
    placements = tuple(sorted(imps["placement"].unique()))
    p_index = pd.Index(placements).get_indexer(imps["placement"])
    variants = tuple(tuple(sorted(imps.loc[imps["placement"] == p, "variant_id"].unique())) for p in placements)
    action = np.zeros(len(imps), np.int64)
    for j, vs in enumerate(variants):
        rows = p_index == j
        action[rows] = pd.Index(vs).get_indexer(imps["variant_id"].to_numpy()[rows])
    return LoggedFeedback(action, reward, imps["propensity"].to_numpy(np.float64), p_index.astype(np.int64),
                          placements, variants, imps["policy"].to_numpy(dtype=object))


def logged_feedback_from_store(store: FeedbackStore) -> LoggedFeedback:
    cols = ["ts", "user_id", "variant_id", "event", "placement", "propensity", "policy"]
    return logged_feedback(store.events_frame(cols, events=["impression", "click"]))
