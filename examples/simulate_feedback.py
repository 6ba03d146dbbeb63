"""Simulate a day of banner feedback for a rendered segment, with known true click rates.

Each impression is a fresh decision of --policy over the user's candidates from the render's
decision log (OUT/<segment>/manifest.json -> candidates); the decisions go to the serve decision
log (the project's serve.behaviour_store) and the events, with decision_id, variant_id,
placement, propensity and policy, to a CSV as a CMS would report them. The true click rates
depend on user and banner (bannergen.ope.simulator.ClickModel); --truth prints the true CTR
of every reference policy, to compare with `bannergen feedback evaluate`:

    python examples/simulate_feedback.py --segment camera-fans --policy softmax --truth
    bannergen feedback ingest out/feedback-camera-fans.csv
    bannergen feedback evaluate --policy greedy
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from bannergen.config import load_project
from bannergen.manifest import variant_index
from bannergen.ope.inputs import item_table, project_policy
from bannergen.ope.simulator import ClickModel, simulate
from bannergen.ope.targets import TARGET_POLICIES
from bannergen.store import open_behaviour_store
from bannergen.store.postgres import shown_url

ROOT = Path(__file__).resolve().parents[1]
DECISION_COLUMNS = ["decision_id", "ts", "user_id", "placement", "size", "variant_id", "item_id", "template",
                    "policy", "propensity", "score", "explanation"]
CANDIDATE_COLUMNS = ["decision_id", "position", "item_id", "template", "antecedent_id", "score", "probability",
                     "chosen"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--project", type=Path, default=ROOT)
    ap.add_argument("--segment", default="camera-fans")
    ap.add_argument("--policy", default="softmax", choices=TARGET_POLICIES, help="the logging policy")
    ap.add_argument("--temperature", type=float, help="softmax temperature (default: scoring/weights.toml)")
    ap.add_argument("--impressions", type=int, default=20, help="impressions per user")
    ap.add_argument("--placement", default="home_top")
    ap.add_argument("--size", default="1200x400")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", type=Path, help="events file (default: OUT/feedback-<segment>.csv)")
    ap.add_argument("--decision-log", type=Path,
                    help="SQLite decision log (default: the project's store: [store] url or serve.behaviour_store)")
    ap.add_argument("--truth", action="store_true", help="print the true CTR of every reference policy")
    args = ap.parse_args()

    project = load_project(args.project.resolve())
    out = project.out / args.segment
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    candidates = pd.read_parquet(out / manifest["candidates"]["parquet"])
    items = item_table(project.catalog, project.scoring)
    policy = project_policy(project.scoring, args.policy, args.temperature, seed=args.seed)
    sim = simulate(candidates, args.policy, policy, ClickModel(seed=args.seed), args.impressions, categories=items,
                   variants=variant_index(project.out), placement=args.placement, size=args.size, seed=args.seed)

    decisions = sim.decisions[sim.decisions["chosen"]].merge(
        sim.events[sim.events["event"] == "impression"][["decision_id", "variant_id", "propensity"]], on="decision_id")
    decisions["ts"] = decisions["ts"].astype(int)
    decisions["score"] = decisions["score"].astype(object).where(decisions["score"].notna(), None)
    decisions["explanation"] = ""
    cands = sim.decisions.assign(chosen=sim.decisions["chosen"].astype(int))
    cands["score"] = cands["score"].astype(object).where(cands["score"].notna(), None)
    log_path = args.decision_log or project.behaviour_location
    behaviour = open_behaviour_store(log_path)
    behaviour.log_decisions(list(decisions[DECISION_COLUMNS].itertuples(index=False, name=None)),
                            list(cands[CANDIDATE_COLUMNS].itertuples(index=False, name=None)))
    behaviour.close()

    events = sim.events.copy()
    events["ts"] = pd.to_datetime(events["ts"], unit="us", utc=True).dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    target = args.out or project.out / f"feedback-{args.segment}.csv"
    events.to_csv(target, index=False)
    counts = sim.events["event"].value_counts()
    shown = {path: shown_url(path) if isinstance(path, str) else
             path.relative_to(project.root) if path.is_relative_to(project.root) else path
             for path in (target, log_path)}
    print(f"wrote {len(events):,} events ({counts.get('impression', 0):,} impressions, "
          f"{counts.get('click', 0):,} clicks, {counts.get('conversion', 0):,} conversions) to {shown[target]}; "
          f"{len(decisions):,} decisions to {shown[log_path]}")
    if args.truth:
        for name in TARGET_POLICIES:
            value = sim.true_value(name, project_policy(project.scoring, name))  # as `feedback evaluate` sees it
            print(f"true ctr {name:<9} {value:.4f}")


if __name__ == "__main__":
    main()
