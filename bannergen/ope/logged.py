"""Logged bandit feedback: each impression joined to the decision it was shown for (zr-obp's
``bandit_feedback`` with a per-round action set), the input of off-policy evaluation.

An impression joins its decision by ``decision_id`` when it carries a known one; else the user's
latest decision at or before the impression whose candidates include the impression's banner
(variant_id -> item_id, template through the banner index). The action is the position of that
banner among the decision's candidates; the logged propensity is the impression's, or the
candidate's logged probability when the impression has none. Impressions that match no decision,
or have no propensity, are left out and counted.

The reward of an impression is 1 when a valid click on the same (user, variant, placement)
follows it before that pair's next impression (clicks go to the latest impression), else 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bannergen.feedback.traffic import invalid_clicks

FEEDBACK_COLUMNS = ["ts", "user_id", "variant_id", "event", "placement", "propensity", "policy", "decision_id"]


@dataclass(frozen=True)
class LoggedDecisions:
    """n impressions over d decisions of at most k candidates each.

    decision    int64 (n,): each impression's decision (row of the (d, k) arrays)
    action      int64 (n,): the position shown, a column of the (d, k) arrays
    reward      float64 (n,): 0/1 click
    pscore      float64 (n,): the logging policy's probability of the action (> 0)
    placement   object (n,)
    decision_ids, policy   object (d,): the decision's id and logging policy
    item_ids, templates    object (d, k): each candidate's banner ("" where no candidate)
    scores      float64 (d, k): candidate score; NaN for a fixed banner or no candidate
    logged      float64 (d, k): the logging policy's probability of each candidate (0 where none)
    listed      bool (d, k): a candidate exists at this position
    unmatched   impressions that match no decision (left out)
    no_propensity  impressions with no propensity at all (left out)
    """

    decision: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    pscore: np.ndarray
    placement: np.ndarray
    decision_ids: np.ndarray
    policy: np.ndarray
    item_ids: np.ndarray
    templates: np.ndarray
    scores: np.ndarray
    logged: np.ndarray
    listed: np.ndarray
    unmatched: int = 0
    no_propensity: int = 0

    @property
    def n(self) -> int:
        return len(self.action)

    @property
    def k(self) -> int:
        return self.listed.shape[1]

    def shown(self) -> tuple[np.ndarray, np.ndarray]:
        """(item_ids, templates), each object (n,): the banner of each impression."""
        return self.item_ids[self.decision, self.action], self.templates[self.decision, self.action]


def _as_object(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``frame`` with ``columns`` as object dtype: merge_asof wants identical key dtypes, and pandas
    infers text columns as str or object depending on where they came from."""
    return frame.astype({c: object for c in columns})


def attribute_clicks(events: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The impressions of a feedback frame (in input order) and their 0/1 rewards (n,)."""
    ev = events[events["event"].isin(["impression", "click"])].reset_index(drop=True)
    bad = invalid_clicks(ev[["user_id", "variant_id", "event", "ts"]])
    imps = ev[ev["event"] == "impression"].reset_index(drop=True)
    clicks = ev[(ev["event"] == "click") & ~bad]
    keys = ["user_id", "variant_id", "placement"]
    order = imps.assign(row=np.arange(len(imps))).sort_values("ts", kind="stable")
    matched = pd.merge_asof(_as_object(clicks.sort_values("ts", kind="stable")[["ts", *keys]], keys),
                            _as_object(order[["ts", *keys, "row"]], keys), on="ts", by=keys, direction="backward")
    reward = np.zeros(len(imps))
    reward[matched["row"].dropna().astype(np.int64).to_numpy()] = 1.0
    return imps, reward


def _decision_arrays(log: pd.DataFrame) -> dict[str, np.ndarray]:
    """The decision log as (d, k) arrays, one row per decision id."""
    codes, ids = pd.factorize(log["decision_id"], sort=False)
    d = len(ids)
    k = int(log["position"].max()) + 1 if len(log) else 1
    pos = log["position"].to_numpy(np.int64)
    out = {"decision_ids": np.asarray(ids, dtype=object), "item_ids": np.full((d, k), "", dtype=object),
           "templates": np.full((d, k), "", dtype=object), "scores": np.full((d, k), np.nan),
           "logged": np.zeros((d, k)), "listed": np.zeros((d, k), bool), "policy": np.full(d, "", dtype=object),
           "chosen": np.full(d, -1, np.int64)}
    out["item_ids"][codes, pos] = log["item_id"].to_numpy(dtype=object)
    out["templates"][codes, pos] = log["template"].to_numpy(dtype=object)
    out["scores"][codes, pos] = log["score"].to_numpy(np.float64)
    out["logged"][codes, pos] = log["probability"].to_numpy(np.float64)
    out["listed"][codes, pos] = True
    out["policy"][codes] = log["policy"].to_numpy(dtype=object)
    chosen = log["chosen"].to_numpy(bool)
    out["chosen"][codes[chosen]] = pos[chosen]
    return out


def join_decisions(events: pd.DataFrame, log: pd.DataFrame, banners: pd.DataFrame) -> LoggedDecisions:
    """Join the impressions of ``events`` (feedback frame) to the decision ``log``
    (ope.decision_log.DECISION_LOG_COLUMNS) through ``banners`` (variant_id, item_id, template)."""
    if "decision_id" not in events:
        events = events.assign(decision_id="")
    imps, reward = attribute_clicks(events)
    arrays = _decision_arrays(log)
    n = len(imps)
    # The banner each impression showed; "" where the variant is in no manifest or serve log.
    banner = imps[["variant_id"]].merge(banners.drop_duplicates("variant_id"), on="variant_id", how="left")
    item = banner["item_id"].fillna("").to_numpy(dtype=object)
    template = banner["template"].fillna("").to_numpy(dtype=object)
    # Where a banner appears twice in one decision (a pin that is also a candidate), the chosen copy wins.
    cands = pd.DataFrame({"decision": pd.factorize(log["decision_id"], sort=False)[0], "item_id": log["item_id"],
                          "template": log["template"], "position": log["position"], "chosen": log["chosen"],
                          "user_id": log["user_id"], "ts": log["ts"]})
    cands = cands.sort_values(["chosen", "position"], ascending=[False, True], kind="stable")
    cands = cands.drop_duplicates(["decision", "item_id", "template"])

    decision = pd.Index(arrays["decision_ids"]).get_indexer(imps["decision_id"].to_numpy(dtype=object))
    decision[imps["decision_id"].to_numpy(dtype=object) == ""] = -1
    action = np.full(n, -1, np.int64)
    by_id = np.flatnonzero(decision >= 0)
    if len(by_id):
        keyed = pd.DataFrame({"decision": decision[by_id], "item_id": item[by_id], "template": template[by_id]})
        pos = keyed.merge(cands[["decision", "item_id", "template", "position"]], how="left",
                          on=["decision", "item_id", "template"])["position"].to_numpy(np.float64)
        # A variant no manifest knows (rendered on demand) is the decision's chosen banner.
        unknown_banner = item[by_id] == ""
        pos[unknown_banner] = arrays["chosen"][decision[by_id][unknown_banner]]
        action[by_id] = np.where(np.isnan(pos) | (pos < 0), -1, pos).astype(np.int64)
    by_time = np.flatnonzero((decision < 0) & (item != ""))
    if len(by_time):
        left = pd.DataFrame({"ts": imps["ts"].to_numpy(np.int64)[by_time],
                             "user_id": imps["user_id"].to_numpy(dtype=object)[by_time],
                             "item_id": item[by_time], "template": template[by_time], "row": by_time})
        right = cands[["ts", "user_id", "item_id", "template", "decision", "position"]]
        by = ["user_id", "item_id", "template"]
        found = pd.merge_asof(_as_object(left.sort_values("ts", kind="stable"), by),
                              _as_object(right.sort_values("ts", kind="stable"), by), on="ts", by=by,
                              direction="backward")
        ok = found["decision"].notna().to_numpy()
        rows = found["row"].to_numpy(np.int64)[ok]
        decision[rows] = found["decision"].to_numpy(np.float64)[ok].astype(np.int64)
        action[rows] = found["position"].to_numpy(np.float64)[ok].astype(np.int64)
    matched = (decision >= 0) & (action >= 0)
    pscore = imps["propensity"].to_numpy(np.float64).copy()
    fallback = matched & ~(pscore > 0)
    pscore[fallback] = arrays["logged"][decision[fallback], action[fallback]]
    keep = matched & (pscore > 0)
    arrays.pop("chosen")
    return LoggedDecisions(
        decision=decision[keep], action=action[keep], reward=reward[keep], pscore=pscore[keep],
        placement=imps["placement"].to_numpy(dtype=object)[keep], unmatched=int((~matched).sum()),
        no_propensity=int((matched & ~keep).sum()), **arrays)
