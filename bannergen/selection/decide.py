"""Batch decisions for a set of users: candidate banners -> the decision kernel -> explanations.

Every decision records its id, the policy that made it and the probability it was chosen with
(the propensity), and lists every candidate with its probability (``BatchDecisions.candidates``,
written beside the assignments): what unbiased off-policy evaluation over each decision's own
candidate set needs later.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import pandas as pd

from bannergen.model import Model
from bannergen.segments import Segment
from bannergen.selection.candidate_set import build_candidate_set, default_banner, with_reasons
from bannergen.selection.feedback_view import FeedbackView
from bannergen.selection.kernel import CANDIDATE_COLUMNS, Decisions, decide_all
from bannergen.selection.settings import PolicySettings


@dataclass(frozen=True)
class BatchDecisions:
    """chosen: one row per user with a banner (user_id, decision_id, item_id, template, score,
    propensity, policy, explanation; the integer catalog ``item``, profile ``row`` and cross-sell
    ``antecedent`` for later stages). candidates: the decision log (CANDIDATE_COLUMNS)."""

    chosen: pd.DataFrame
    candidates: pd.DataFrame

    def drawable(self, model: Model, holdout_template: str) -> pd.DataFrame:
        """item, template, antecedent (catalog rows, template ids, -1 for none) of every banner these
        decisions may draw (probability > 0 in the log), and the default banner an unknown user
        gets, once each. Batch renders all of them, not only the banners drawn: a decision served
        later (another draw, a cap used up, Thompson's posteriors moved) then finds its banner on disk."""
        may = self.candidates[self.candidates["probability"] > 0]
        item_ids = pd.Index(model.catalog["item_id"])
        banners = pd.DataFrame({"item": item_ids.get_indexer(may["item_id"]),
                                "template": may["template"].to_numpy(dtype=object),
                                "antecedent": item_ids.get_indexer(may["antecedent_id"])})
        item, template = default_banner(model, holdout_template)
        if item >= 0:
            banners.loc[len(banners)] = (item, model.templates[template].id, -1)
        return banners.drop_duplicates(ignore_index=True)


def batch_decision_ids(user_ids: np.ndarray, segment: str, as_of: object, seed: int) -> np.ndarray:
    """Decision ids of a batch: a hash of (segment, as-of time, seed, user), so a rerun on the same
    data gives the same ids (byte-identical output) and the user id cannot be read back from one."""
    prefix = f"{segment}\x1f{as_of}\x1f{seed}\x1f".encode()
    return np.asarray(["b" + hashlib.blake2b(prefix + str(u).encode(), digest_size=10).hexdigest() for u in user_ids],
                      dtype=object)


def decide_rows(model: Model, rows: np.ndarray, seed: int, policy: PolicySettings,
                segments: dict[str, Segment], feedback: FeedbackView | None = None,
                explain: bool = False, now: datetime | None = None) -> Decisions:
    """The kernel's decisions for the users at profile ``rows``, with every chosen banner's reason;
    ``explain`` gives every candidate its reason too (what ``bannergen explain`` prints); ``now``
    is the time the templates' campaign windows are checked at (default: the clock)."""
    sel = model.settings.selection
    cands = build_candidate_set(model, np.asarray(rows, dtype=np.int64), policy, segments, now)
    if explain:
        cands = with_reasons(model, cands)
    made = decide_all(cands, policy.decision_policy(sel.policy, sel.temperature, seed), feedback)
    chosen_cell = np.zeros(cands.items.shape, bool)
    chosen_cell[np.flatnonzero(made.chosen >= 0), made.chosen[made.chosen >= 0]] = True
    return replace(made, candidates=with_reasons(model, cands, chosen_cell))


def decide(
    model: Model,
    rows: np.ndarray,
    segment: Segment,
    seed: int,
    policy: PolicySettings,
    segments: dict[str, Segment],
    feedback: FeedbackView | None = None,
) -> BatchDecisions:
    """One decision per user at ``rows`` (profile rows) of a render of ``segment``; users with
    nothing to show are left out of ``chosen`` (and of the log)."""
    made = decide_rows(model, rows, seed, policy, segments, feedback)
    cands = made.candidates
    ids = batch_decision_ids(cands.user_ids, segment.name, model.profiles.as_of, seed)
    keep = made.chosen >= 0
    item = made.item
    template_ids = np.asarray([t.id for t in model.templates], dtype=object)
    chosen = pd.DataFrame(
        {
            "user_id": cands.user_ids[keep],
            "decision_id": ids[keep],
            "item_id": model.catalog["item_id"].to_numpy(dtype=object)[item[keep]],
            "template": template_ids[made.template[keep]],
            "score": np.round(made.score[keep], 6),
            "propensity": made.propensity[keep],
            "policy": made.policy[keep],
            "explanation": made.reason[keep],
            "item": item[keep],
            "row": cands.rows[keep],
            "antecedent": made.antecedent[keep],  # catalog row of a cross-sell banner's trigger item, else -1
        }
    )
    candidates = made.candidate_frame(ids) if len(cands.user_ids) else pd.DataFrame(columns=list(CANDIDATE_COLUMNS))
    return BatchDecisions(chosen, candidates)
