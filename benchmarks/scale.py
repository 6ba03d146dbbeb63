"""Scale run: a generated shop of 100,000 users, 10,000 items and 5 million events.

Runs `bannergen render --segment all` on it in a subprocess, samples the resident memory of the
whole process tree (main process + render workers), prints each stage's time, then reruns with
unchanged inputs and prints the rerun's share of the first run.

    python benchmarks/scale.py                       # the full size (about 10-20 minutes on 2 cores)
    python benchmarks/scale.py --users 10000 --items 2000 --events 500000   # a quick look
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


def run_measured(cmd: list[str]) -> tuple[dict, float, float]:
    """Run ``cmd``; return (its JSON output, wall seconds, peak PSS of its process tree in MB)."""
    peak = 0
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        parent = psutil.Process(proc.pid)
        while not stop.is_set():
            try:
                procs = [parent, *parent.children(recursive=True)]
                # PSS: pages shared by the forked render workers count once, split between them
                peak = max(peak, sum(p.memory_full_info().pss for p in procs if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    stop.set()
    sampler.join()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {err.strip()[-2000:]}")
    return json.loads(out.strip().splitlines()[-1]), wall, peak / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--events", type=int, default=5_000_000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bannergen-scale"))
    ap.add_argument("--keep-shop", action="store_true", help="reuse a shop already generated in --workdir")
    args = ap.parse_args()

    shop = args.workdir / "shop"
    if not (args.keep_shop and (shop / "catalog.csv").exists()):
        shutil.rmtree(args.workdir, ignore_errors=True)
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "examples/generate_shop.py", "--users", str(args.users), "--items", str(args.items),
             "--events", str(args.events), "--images", "shared", "--out", str(shop)],
            check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
        )
        print(f"generated {args.users:,} users, {args.items:,} items, {args.events:,} events in {time.perf_counter() - t:.0f}s")
    out = args.workdir / "out"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "bannergen.cli.main", "--catalog", str(shop / "catalog.csv"),
           "--events", str(shop / "events.parquet"), "render", "--segment", "all", "--out", str(out), "--quiet", "--json"]
    first, first_wall, first_peak = run_measured(cmd)
    again, again_wall, again_peak = run_measured(cmd)

    print(f"\nrender --segment all on {args.users:,} users / {args.items:,} items / {args.events:,} events")
    print(f"{'stage':<10}{'first run s':>14}{'rerun s':>10}")
    for stage in ("check", "load", "profile", "feedback", "select", "plan", "render", "write"):
        print(f"{stage:<10}{first['timings'].get(stage, 0):>14.2f}{again['timings'].get(stage, 0):>10.2f}")
    print(f"{'wall':<10}{first_wall:>14.2f}{again_wall:>10.2f}")
    print(f"\nusers {first['users']:,}, unique variants {first['unique_variants']:,}, rendered {first['rendered']:,} "
          f"then {again['rendered']:,} (cache hits {again['cached']:,})")
    print(f"peak memory (PSS) of the process tree: first {first_peak:,.0f} MB, rerun {again_peak:,.0f} MB")
    print(f"rerun / first run: {again_wall / first_wall:.1%}")


if __name__ == "__main__":
    main()
