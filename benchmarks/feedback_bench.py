"""Feedback benchmarks: CSV ingest rate, per-variant report over 1M events, HTML report time.

Run: python benchmarks/feedback_bench.py [--events 1000000] [--store-url postgresql://.../empty_db]
Prints a table (the same steps on SQLite, and on PostgreSQL when --store-url names an empty
database); the figures are recorded in benchmarks/RESULTS.md.
Targets: ingest >= 200,000 events/s; report <= 2 s; HTML <= 5 s.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def make_csv(path: Path, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-10-01T00:00:00Z").value // 1000
    event = rng.choice(np.array(["impression", "click", "conversion"], dtype=object), n, p=[0.9, 0.08, 0.02])
    pd.DataFrame({
        "event_id": np.char.add("e", np.arange(n).astype(str)),
        "ts": pd.to_datetime(start + np.sort(rng.integers(0, 86_400_000_000 * 30, n)), unit="us", utc=True)
        .strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "user_id": np.char.add("u", rng.integers(0, 100_000, n).astype(str)),
        "variant_id": np.char.add("v", rng.integers(0, 50, n).astype(str)),
        "event": event, "value": np.where(event == "conversion", 99.0, 0.0), "cost": 0.01, "placement": "home",
        "propensity": 0.2, "policy": np.where(rng.random(n) < 0.05, "holdout", "thompson"),
    }).to_csv(path, index=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--store-url", help="also measure the PostgreSQL store in this (empty) database")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "events.csv"
        make_csv(csv, args.events)
        rows += measure("SQLite", Path(tmp) / "feedback.sqlite", csv, Path(tmp))
        if args.store_url:
            rows += measure("PostgreSQL", args.store_url, csv, Path(tmp))
    print(f"feedback benchmark, {args.events:,} events")
    print(f"{'step':<34} {'time':>9} {'rate/size':>22} {'target':>14}")
    for r in rows:
        print(f"{r[0]:<34} {r[1]:>9} {r[2]:>22} {r[3]:>14}")


def measure(name: str, location: Path | str, csv: Path, tmp: Path) -> list[tuple[str, str, str, str]]:
    """Ingest, re-ingest, the per-variant report and the HTML report on one store."""
    from bannergen.feedback import ingest_file
    from bannergen.reporting import build_report, to_json, write_html
    from bannergen.store import open_feedback_store

    rows = []
    with open_feedback_store(location) as store:
        t = time.perf_counter()
        counts = ingest_file(csv, store).counts
        dt = time.perf_counter() - t
        rows.append((f"ingest CSV -> {name}", f"{dt:.2f} s", f"{counts.accepted / dt:,.0f} events/s", ">= 200,000/s"))
        t = time.perf_counter()
        ingest_file(csv, store)
        rows.append((f"re-ingest (all duplicates), {name}", f"{time.perf_counter() - t:.2f} s", "", ""))
    with open_feedback_store(location) as store:  # a fresh process-like open: no warm caches of ours
        t = time.perf_counter()
        text = to_json(build_report(store, "variant"))
        rows.append((f"report --by variant, {name}", f"{time.perf_counter() - t:.2f} s", f"{len(text):,} bytes",
                     "<= 2 s"))
        t = time.perf_counter()
        write_html(build_report(store, "variant"), tmp / f"r-{name}.html", store)
        rows.append((f"report --format html, {name}", f"{time.perf_counter() - t:.2f} s", "", "<= 5 s"))
    return rows


if __name__ == "__main__":
    main()
