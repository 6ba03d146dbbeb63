"""Scoring benchmarks: fit time on full Online Retail, association-rules mining times, and the
quality table. Prints tables; the figures go to benchmarks/RESULTS.md. Scoring speed and memory
at 100,000 users x 10,000 items, through the real blend, is benchmarks/blend_scoring.py.

    python benchmarks/scoring_bench.py            # needs ../shared/data beside the clone
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
CLI = [
    sys.executable,
    "-c",
    "from bannergen.cli.main import app; from bannergen.cli.scoring import register; register(app); app()",
]


def timed(args: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    r = subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=ROOT)
    if r.returncode:
        raise SystemExit(r.stderr)
    return time.perf_counter() - start, r.stdout


def main() -> None:
    retail = DATA / "online-retail/online_retail.csv.gz"
    groceries = DATA / "groceries/groceries.csv"
    t, _ = timed(["association-rules", "mine", "--baskets", str(groceries), "--min-support", "0.006",
                  "--min-confidence", "0.25"])
    print(f"association-rules mine groceries @0.006: {t:.1f}s (process, imports included)")
    t, _ = timed(["association-rules", "mine", "--baskets", str(retail), "--basket-col", "InvoiceNo",
                  "--item-col", "StockCode", "--min-support", "0.01", "--min-confidence", "0.3"])
    print(f"association-rules mine online retail @0.01: {t:.1f}s")
    t, out = timed(["--project", "examples/online-retail", "fit", "--no-tune"])
    print(f"fit online retail (541,909 lines, no tuning): {t:.1f}s\n{out}")
    t, out = timed(["--project", "examples/online-retail", "fit", "--tune"])
    print(f"fit online retail with tuning: {t:.1f}s")
    for project in ("examples/online-retail", "."):
        for protocol in ("new-items", "repeat"):
            t, out = timed(["--project", project, "evaluate", "--k", "10", "--protocol", protocol, "--format", "json"])
            doc = json.loads(out)
            print(f"\n{project} {protocol}: split {doc['split_date']}, {doc['users']} users, {t:.0f}s")
            for r in doc["results"]:
                print(
                    f"  {r['scorer']:<18} HR {r['hr']:.4f}  NDCG {r['ndcg']:.4f}  P {r['precision']:.4f}  "
                    f"R {r['recall']:.4f}  cov {r['coverage']:.4f}"
                )
            for r in doc["ratios"]:
                print(f"  NDCG ratio blend / {r['blend_vs']}: {r['ratio']:.3f} [{r['low']:.3f}, {r['high']:.3f}]")


if __name__ == "__main__":
    main()
