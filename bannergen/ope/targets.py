"""Target policies of off-policy evaluation, as probabilities over each decision's own candidates.

Reference policies (uniform, softmax, greedy, thompson) come from the decision kernel
(bannergen.selection.kernel.policy_probabilities) on the logged candidate scores, with Thompson's
click and impression counts per banner (item, template) taken from the log itself. ``logged`` is
the logging policy: the decision log's probabilities. A decision the policy did not make (a pin,
the holdout's default banner, a default for a user with nothing to show) keeps its logged banner
under every target: no policy changes it.

A target computed elsewhere comes as a CSV file (``read_target_file``) of
``placement, variant_id, probability`` (the same distribution for every decision at a
placement) or ``decision_id, variant_id, probability``; each decision's target is the file's
mass on its candidates, renormalised over them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bannergen.errors import InputError
from bannergen.ope.logged import LoggedDecisions
from bannergen.selection.kernel import REFERENCE_POLICIES, DecisionPolicy, policy_probabilities

FIXED_POLICIES = frozenset({"pin", "holdout", "default"})
TARGET_POLICIES: tuple[str, ...] = ("logged", *REFERENCE_POLICIES)
SUM_TOLERANCE = 1e-6
TARGET_KEYS = ("placement", "decision_id")


def reference_probabilities(name: str, scores: np.ndarray, listed: np.ndarray, logged: np.ndarray, fixed: np.ndarray,
                            clicks: np.ndarray, impressions: np.ndarray, policy: DecisionPolicy) -> np.ndarray:
    """Policy ``name``'s distribution (d, k) over d decisions' candidates.

    scores (d, k): NaN for a fixed banner or no candidate; listed bool (d, k); logged (d, k): the
    logging probabilities; fixed bool (d,): decisions no policy makes (they keep ``logged``);
    clicks, impressions (d, k): feedback counts of each candidate's banner (Thompson)."""
    if name not in TARGET_POLICIES:
        raise InputError(f"unknown policy '{name}'", hint=f"expected one of {', '.join(TARGET_POLICIES)}")
    logged = np.where(listed, np.nan_to_num(logged), 0.0)
    if name == "logged":
        return logged
    finite = listed & np.isfinite(scores)
    target = policy_probabilities(name, np.where(finite, scores, -np.inf), finite, clicks, impressions, policy)
    # A decision whose candidates carry no score (a single fixed banner) keeps its logged banner.
    keep = np.asarray(fixed, bool) | ~(target.sum(axis=1) > 0)
    target[keep] = logged[keep]
    return target


def banner_counts(shown_items: np.ndarray, shown_templates: np.ndarray, reward: np.ndarray, item_ids: np.ndarray,
                  templates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(clicks, impressions), each shaped like ``item_ids`` (d, k): the totals of each candidate's
    banner (item, template) over the impressions that showed it (shown_*, reward: (n,))."""
    stats = (pd.DataFrame({"item_id": shown_items, "template": shown_templates, "reward": reward})
             .groupby(["item_id", "template"], sort=False)["reward"].agg(["sum", "size"]))
    cells = pd.MultiIndex.from_arrays([np.ravel(item_ids), np.ravel(templates)])
    at = stats.index.get_indexer(cells)
    found = at >= 0
    clicks = np.where(found, stats["sum"].to_numpy(np.float64)[np.maximum(at, 0)], 0.0)
    imps = np.where(found, stats["size"].to_numpy(np.float64)[np.maximum(at, 0)], 0.0)
    return clicks.reshape(np.shape(item_ids)), imps.reshape(np.shape(item_ids))


def fixed_decisions(logged: LoggedDecisions) -> np.ndarray:
    """bool (d,): decisions no policy made (pin, holdout, default)."""
    return pd.Series(logged.policy).isin(FIXED_POLICIES).to_numpy()


def reference_target(logged: LoggedDecisions, name: str, policy: DecisionPolicy) -> np.ndarray:
    """Policy ``name``'s probabilities per impression, (n, k), over each impression's decision."""
    if name == "thompson":
        clicks, imps = banner_counts(*logged.shown(), logged.reward, logged.item_ids, logged.templates)
    else:
        clicks = imps = np.zeros(logged.listed.shape)
    per_decision = reference_probabilities(name, logged.scores, logged.listed, logged.logged, fixed_decisions(logged),
                                           clicks, imps, policy)
    return per_decision[logged.decision]


@dataclass(frozen=True)
class TargetFile:
    """A target read from a file: key ("placement" or "decision_id"); rows: key value, variant_id,
    probability, line (the file's line number)."""

    path: Path
    key: str
    rows: pd.DataFrame


def read_target_file(path: Path) -> TargetFile:
    """Read and check a target file; InputError (exit 2) naming the file, row and field otherwise."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: target file not found")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            records = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the target file ({exc})") from exc
    header = [h.strip() for h in records[0]] if records else []
    keys = [k for k in TARGET_KEYS if k in header]
    if len(keys) != 1 or "variant_id" not in header or "probability" not in header:
        raise InputError(f"{path}: columns {', '.join(header) or 'none'}; expected placement, variant_id, probability "
                         f"or decision_id, variant_id, probability")
    key = keys[0]
    body = records[1:]
    width = len(header)
    frame = pd.DataFrame([(r + [""] * width)[:width] for r in body], columns=header, dtype=object)
    frame["line"] = np.arange(2, len(body) + 2)
    frame = frame[frame[header].apply(lambda c: c.str.strip()).ne("").any(axis=1)]  # blank lines
    text = frame["probability"].str.strip()
    prob = pd.to_numeric(text, errors="coerce").to_numpy(np.float64)
    bad = ~((prob >= 0) & (prob <= 1))
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"{path}:{frame['line'].iat[i]}:probability: not a probability; got {text.iat[i]!r}; "
                         f"expected a number within 0..1")
    missing = (frame["variant_id"].str.strip() == "") | (frame[key].str.strip() == "")
    if missing.any():
        i = int(np.argmax(missing.to_numpy()))
        field = "variant_id" if frame["variant_id"].iat[i].strip() == "" else key
        raise InputError(f"{path}:{frame['line'].iat[i]}:{field}: empty; got ''; expected a {field.replace('_', ' ')}")
    rows = pd.DataFrame({key: frame[key].str.strip().to_numpy(dtype=object),
                         "variant_id": frame["variant_id"].str.strip().to_numpy(dtype=object),
                         "probability": prob, "line": frame["line"].to_numpy(np.int64)})
    totals = rows.groupby(key, sort=False).agg(total=("probability", "sum"), line=("line", "min"))
    off = (totals["total"] - 1.0).abs() > SUM_TOLERANCE
    if off.any():
        value, row = totals.index[off.to_numpy()][0], totals[off].iloc[0]
        raise InputError(f"{path}:{int(row['line'])}:probability: the probabilities of {key} '{value}' "
                         f"do not sum to 1; got {row['total']:.6g}; expected 1 (within {SUM_TOLERANCE:g})")
    return TargetFile(path, key, rows)


@dataclass(frozen=True)
class FileTarget:
    """probabilities (n, k) per impression; off_log: mean target mass (over impressions) the file
    puts on banners the log never shows; no_mass: impressions whose decision got no target mass on
    any candidate (they keep the logged banner)."""

    probabilities: np.ndarray
    off_log: float
    no_mass: int


def file_target(logged: LoggedDecisions, target: TargetFile, banners: pd.DataFrame) -> FileTarget:
    """The target file's distribution over each impression's candidates (see the module docstring)."""
    rows = target.rows.merge(banners.drop_duplicates("variant_id"), on="variant_id", how="left")
    item_shown, template_shown = logged.shown()
    shown = pd.MultiIndex.from_arrays([item_shown, template_shown])
    rows["in_log"] = pd.MultiIndex.from_arrays([rows["item_id"].fillna(""), rows["template"].fillna("")]).isin(shown)
    per_banner = rows[rows["item_id"].notna()].groupby([target.key, "item_id", "template"])["probability"].sum()
    off_log = rows[~rows["in_log"]].groupby(target.key)["probability"].sum()
    key = logged.placement if target.key == "placement" else logged.decision_ids[logged.decision]
    n, k = logged.n, logged.k
    cells = pd.MultiIndex.from_arrays([np.repeat(key, k), logged.item_ids[logged.decision].ravel(),
                                       logged.templates[logged.decision].ravel()])
    at = per_banner.index.get_indexer(cells)
    prob = np.where(at >= 0, per_banner.to_numpy(np.float64)[np.maximum(at, 0)], 0.0).reshape(n, k)
    prob = np.where(logged.listed[logged.decision], prob, 0.0)
    total = prob.sum(axis=1, keepdims=True)
    prob = np.divide(prob, total, out=np.zeros_like(prob), where=total > 0)
    keep = fixed_decisions(logged)[logged.decision] | (total[:, 0] <= 0)
    prob[keep] = logged.logged[logged.decision[keep]]
    off = pd.Series(key).map(off_log).fillna(0.0).to_numpy(np.float64)
    return FileTarget(prob, float(off.mean()) if n else 0.0, int((total[:, 0] <= 0).sum()))
