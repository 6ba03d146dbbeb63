"""Per-group metrics: counts, CTR with a Wilson interval, CVR, ROI, lift over the holdout control.

Groups: variant, template, item, segment, placement. Counts are filtered (invalid clicks out, see
bannergen.feedback.traffic); raw ones stay beside them. Holdout rows (policy "holdout": users
kept on the default banner by a stable hash) are not counted in any group: they form the control.
The control of a variant, template or item is all holdout traffic; the control of a placement or
segment is the holdout traffic of that same placement or segment.

Metrics: ctr = clicks / impressions, cvr = conversions / clicks, roi = (revenue - cost) / cost,
lift = ctr / control_ctr - 1, p_value from the two-proportion z-test against the control,
p_beat_control = P(CTR > control CTR) under Beta(1 + clicks, 1 + impressions - clicks) posteriors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bannergen.errors import InputError
from bannergen.feedback.store import FeedbackStore
from bannergen.ope.decision_log import banner_index
from bannergen.reporting.meta import user_segments
from bannergen.reporting.stats import prob_beat_control, two_proportion_pvalue, wilson_interval

BY = {"variant": "variant_id", "template": "template", "item": "item_id", "segment": "segment",
      "placement": "placement"}
# What a row counts, named beside its key: a variant is a template over an item.
LABELS = {"variant": ("template", "item_id", "title"), "item": ("title",)}
COUNT_COLUMNS = ["impressions", "clicks", "conversions", "revenue", "cost", "raw_impressions", "raw_clicks"]
REPORT_COLUMNS = ["impressions", "clicks", "ctr", "ctr_low", "ctr_high", "conversions", "cvr", "revenue", "cost",
                  "roi", "raw_impressions", "raw_clicks", "control_ctr", "lift", "p_value", "p_beat_control"]
UNKNOWN = "(unknown)"


@dataclass(frozen=True)
class Report:
    """by: the grouping; key: its column name; rows: one per group (key, labels, REPORT_COLUMNS),
    by impressions descending; control: holdout totals (impressions, clicks, ctr); labels: the
    columns that say what a group is (a variant's template, item id and item title)."""

    by: str
    key: str
    rows: pd.DataFrame
    control: dict[str, float]
    labels: tuple[str, ...] = ()


def _sum(counts: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return counts.groupby(keys, as_index=False, sort=False)[COUNT_COLUMNS].sum()


def _banners(out_root: Path | None, behaviour_store: Path | str | None) -> pd.DataFrame:
    """variant_id, item_id, template of every rendered or served banner."""
    return banner_index(out_root, behaviour_store)


def group_counts(store: FeedbackStore, by: str, out_root: Path | None = None,
                 behaviour_store: Path | str | None = None) -> pd.DataFrame:
    """Counts per group and holdout flag: key, holdout, COUNT_COLUMNS."""
    if by not in BY:
        raise InputError(f"unknown report grouping '{by}'", hint=f"expected one of {', '.join(BY)}")
    key = BY[by]
    if by in ("variant", "placement"):
        return store.counts_by([key])
    if by in ("template", "item"):
        counts = store.counts_by(["variant_id"])
        meta = _banners(out_root, behaviour_store)
        counts = counts.merge(meta[["variant_id", key]], on="variant_id", how="left")
        counts[key] = counts[key].fillna(UNKNOWN)
        return _sum(counts, [key, "holdout"])
    counts = store.counts_by(["user_id", "variant_id"])
    seg = user_segments(out_root) if out_root else pd.DataFrame(columns=["user_id", "variant_id", "segment"])
    counts = counts.merge(seg, on=["user_id", "variant_id"], how="left")
    counts["segment"] = counts["segment"].fillna(UNKNOWN)
    return _sum(counts, ["segment", "holdout"])


def metrics(counts: pd.DataFrame, control: pd.DataFrame | None = None, seed: int = 0) -> pd.DataFrame:
    """REPORT_COLUMNS from COUNT_COLUMNS (g rows); ``control`` (g rows of impressions, clicks, aligned)."""
    out = counts.copy()
    imp, clk = out["impressions"].to_numpy(np.float64), out["clicks"].to_numpy(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["ctr"] = np.where(imp > 0, clk / imp, np.nan)
        out["ctr_low"], out["ctr_high"] = wilson_interval(clk, imp)
        conv, cost = out["conversions"].to_numpy(np.float64), out["cost"].to_numpy(np.float64)
        out["cvr"] = np.where(clk > 0, conv / clk, np.nan)
        out["roi"] = np.where(cost > 0, (out["revenue"].to_numpy(np.float64) - cost) / cost, np.nan)
        if control is None:
            c0 = n0 = np.zeros(len(out))
        else:
            c0, n0 = control["clicks"].to_numpy(np.float64), control["impressions"].to_numpy(np.float64)
        ctr0 = np.where(n0 > 0, c0 / n0, np.nan)
        out["control_ctr"] = ctr0
        out["lift"] = np.where(ctr0 > 0, out["ctr"] / ctr0 - 1, np.nan)
    out["p_value"] = two_proportion_pvalue(clk, imp, c0, n0)
    out["p_beat_control"] = prob_beat_control(clk, imp, c0, n0, seed=seed)
    return out


def _labels(rows: pd.DataFrame, by: str, banners: pd.DataFrame, items: pd.DataFrame | None) -> pd.DataFrame:
    """``rows`` with the LABELS of ``by`` ("" where unknown)."""
    if by == "variant":
        rows = rows.merge(banners[["variant_id", "template", "item_id"]], on="variant_id", how="left")
    titles = items[["item_id", "title"]].drop_duplicates("item_id") if items is not None else None
    rows = rows.merge(titles, on="item_id", how="left") if titles is not None else rows.assign(title="")
    for column in LABELS[by]:
        rows[column] = rows[column].fillna("").astype(object)
    return rows


def build_report(store: FeedbackStore, by: str = "variant", out_root: Path | None = None, seed: int = 0,
                 behaviour_store: Path | str | None = None, items: pd.DataFrame | None = None) -> Report:
    """The report grouped ``by`` variant | template | item | segment | placement.

    ``out_root`` (the project's OUT folder) supplies manifests for template/item/segment and
    ``behaviour_store`` the banners serve rendered; without them those groups are all
    "(unknown)". ``items`` (item_id, title) name the items of variant and item rows.
    """
    if by not in BY:
        raise InputError(f"--by: unknown grouping '{by}'", hint=f"expected one of {', '.join(BY)}")
    key = BY[by]
    counts = group_counts(store, by, out_root, behaviour_store)
    treat = counts[~counts["holdout"]].drop(columns="holdout")
    hold = counts[counts["holdout"]].drop(columns="holdout")
    total = {"impressions": float(hold["impressions"].sum()), "clicks": float(hold["clicks"].sum())}
    total["ctr"] = total["clicks"] / total["impressions"] if total["impressions"] else float("nan")
    if by in ("placement", "segment"):
        control = treat[[key]].merge(hold[[key, "impressions", "clicks"]], on=key, how="left").fillna(0)
    else:
        control = pd.DataFrame({"impressions": np.full(len(treat), total["impressions"]),
                                "clicks": np.full(len(treat), total["clicks"])})
    rows = metrics(treat.reset_index(drop=True), control.reset_index(drop=True), seed=seed)
    labels = LABELS.get(by, ())
    if labels:
        rows = _labels(rows, by, _banners(out_root, behaviour_store), items)
    rows = rows[[key, *labels, *REPORT_COLUMNS]].sort_values(["impressions", key], ascending=[False, True],
                                                              kind="stable")
    return Report(by, key, rows.reset_index(drop=True), total, labels)
