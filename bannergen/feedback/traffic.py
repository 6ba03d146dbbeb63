"""Invalid traffic: which clicks the filtered counts leave out.

A click is invalid when
  - the same user had no impression of the same variant at or before the click (a click with no
    prior impression: bots, replayed URLs, lost impression logs), or
  - the same user clicked the same variant less than one second earlier (a double click).
Impressions and conversions are never filtered.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

REPEAT_CLICK_US = 1_000_000


def invalid_clicks(frame: pd.DataFrame) -> np.ndarray:
    """bool array, shape (len(frame),): True for invalid clicks.

    frame: columns user_id, variant_id, event ("impression"/"click"/... or codes 0/1/2), ts (int64 us);
    it must hold every impression of each (user, variant) pair that has a click.
    """
    if frame.empty:
        return np.zeros(0, dtype=bool)
    event = frame["event"].to_numpy()
    is_imp = (event == "impression") | (event == 0)
    is_click = (event == "click") | (event == 1)
    pair = pd.MultiIndex.from_arrays([frame["user_id"].to_numpy(), frame["variant_id"].to_numpy()]).codes
    pair_code = pair[0].astype(np.int64) * (int(pair[1].max()) + 1 if len(pair[1]) else 1) + pair[1]
    # Impressions sort before clicks at the same instant: an impression logged in the same
    # microsecond as its click still counts as prior.
    order = np.lexsort((~is_imp, frame["ts"].to_numpy(), pair_code))
    p, ts, imp, clk = pair_code[order], frame["ts"].to_numpy()[order], is_imp[order], is_click[order]
    new_pair = np.r_[True, p[1:] != p[:-1]]
    group = np.cumsum(new_pair) - 1
    starts = np.flatnonzero(new_pair)
    imp_cum = np.cumsum(imp)
    imps_before = imp_cum - np.r_[0, imp_cum][starts][group]  # impressions so far within the pair
    no_prior = clk & (imps_before == 0)
    # Previous click's time within the pair: forward-fill click times, shifted by one click.
    click_ts = np.where(clk, ts, np.iinfo(np.int64).min)
    idx = np.where(clk, np.arange(len(ts)), -1)
    last_click = np.maximum.accumulate(idx)
    prev_idx = np.r_[-1, last_click[:-1]]
    prev_ok = (prev_idx >= 0) & (group[np.maximum(prev_idx, 0)] == group)
    prev_ts = np.where(prev_ok, click_ts[np.maximum(prev_idx, 0)], np.iinfo(np.int64).min)
    repeat = clk & prev_ok & (ts - prev_ts < REPEAT_CLICK_US)
    out = np.empty(len(frame), dtype=bool)
    out[order] = no_prior | repeat
    return out
