"""Simulate a day of banner feedback for a rendered segment, to try `feedback ingest` and `report`.

Reads OUT/manifest.json and its assignments, then writes impressions, clicks and conversions
with a known true CTR per template (seeded), as a CMS would log them:

    python examples/simulate_feedback.py --segment camera-fans          # writes out/feedback-camera-fans.csv
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TRUE_CTR = {"category-launch": 0.06, "price-drop": 0.045, "product-spotlight": 0.03}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--segment", default="camera-fans")
    ap.add_argument("--out-root", type=Path, default=ROOT / "out")
    ap.add_argument("--impressions", type=int, default=20, help="impressions per user")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    out = args.out_root / args.segment
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    table = pd.read_csv(out / manifest["assignments"]["csv"], dtype={"user_id": str, "item_id": str})
    table = table[table["size"] == "1200x400"].reset_index(drop=True)
    rng = np.random.default_rng(args.seed)
    n = len(table) * args.impressions
    rows = table.loc[np.repeat(table.index, args.impressions)].reset_index(drop=True)
    start = pd.Timestamp("2026-11-28T08:00:00Z")  # the example shop's last day
    ts = start + pd.to_timedelta(np.sort(rng.uniform(0, 12 * 3600, n)), unit="s")
    ctr = rows["template"].map(TRUE_CTR).fillna(0.03).to_numpy()
    clicked = rng.random(n) < ctr
    converted = clicked & (rng.random(n) < 0.12)
    base = pd.DataFrame({"user_id": rows["user_id"], "variant_id": rows["variant_id"], "placement": "home_top",
                         "propensity": rows["propensity"], "policy": rows["policy"]})
    impressions = base.assign(event="impression", ts=ts, value=0.0)
    clicks = base[clicked].assign(event="click", ts=ts[clicked] + pd.Timedelta(seconds=4), value=0.0)
    sales = base[converted].assign(event="conversion", ts=ts[converted] + pd.Timedelta(minutes=3),
                                   value=rng.uniform(200, 5000, converted.sum()).round(2))
    events = pd.concat([impressions, clicks, sales]).sort_values("ts", kind="stable")
    events["event_id"] = [f"sim-{args.seed}-{k}" for k in range(len(events))]
    events["ts"] = events["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    target = args.out_root / f"feedback-{args.segment}.csv"
    events[["event_id", "ts", "user_id", "variant_id", "event", "value", "placement", "propensity", "policy"]].to_csv(
        target, index=False
    )
    print(f"wrote {len(events):,} events ({clicked.sum():,} clicks, {converted.sum():,} conversions) to {target}")


if __name__ == "__main__":
    main()
