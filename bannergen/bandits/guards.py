"""Frequency caps and the holdout control group.

Frequency cap: a user sees a variant at most ``cap`` times per day; capped candidates are masked
out, so the policy rotates to the next candidate (and a user capped on everything gets none).
Holdout: a configured share of users, chosen by a keyed hash of the user id (stable across
processes and runs, independent of the selection draw), always gets the default banner and is
logged with policy "holdout" - the control group of the reports.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DAY_US = 86_400 * 1_000_000


def _hash_key(salt: str) -> str:
    # pd.util.hash_array wants exactly 16 characters of key.
    return (salt.encode()[:16].ljust(16, b"0")).decode("latin-1")


def in_holdout(user_ids: np.ndarray | pd.Index, share: float, salt: str = "holdout") -> np.ndarray:
    """bool array (n,): True for users in the holdout. The same id, share and salt always give
    the same answer; raising ``share`` only adds users (the hash uniform is compared to share)."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"holdout share must be within 0..1; got {share}")
    hashed = pd.util.hash_array(np.asarray(user_ids, dtype=object), hash_key=_hash_key(salt), categorize=False)
    uniform = (hashed >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    return uniform < share


def impressions_today(events: pd.DataFrame, user_ids: np.ndarray, variant_ids: np.ndarray, now_us: int) -> np.ndarray:
    """Impressions per (user, candidate) since the start of the UTC day holding ``now_us``.

    events: feedback frame (user_id, variant_id, event, ts in us); user_ids: (n,);
    variant_ids: (n, k) object array of candidate variant ids. Returns int64 (n, k).
    """
    day_start = now_us - now_us % DAY_US
    today = events[(events["event"] == "impression") & (events["ts"] >= day_start) & (events["ts"] <= now_us)]
    seen = today.groupby(["user_id", "variant_id"]).size()
    n, k = variant_ids.shape
    index = pd.MultiIndex.from_arrays([np.repeat(np.asarray(user_ids, dtype=object), k),
                                       np.asarray(variant_ids, dtype=object).reshape(-1)])
    return seen.reindex(index, fill_value=0).to_numpy(dtype=np.int64).reshape(n, k)


def cap_mask(impressions: np.ndarray, cap: int | None) -> np.ndarray:
    """bool (n, k): True where the candidate is still below the daily cap (None = no cap)."""
    impressions = np.asarray(impressions)
    return np.ones(impressions.shape, bool) if cap is None else impressions < cap
