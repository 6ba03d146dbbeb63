"""Scale run: a generated shop of 100,000 users, 10,000 items and 5 million events.

Runs `bannergen render --segment all` on it in a subprocess, samples the resident memory of the
whole process tree (main process + render workers), prints each stage's time, then reruns with
unchanged inputs and prints the rerun's share of the first run.

    python benchmarks/scale.py                       # the full size (about 10-20 minutes on 2 cores)
    python benchmarks/scale.py --users 10000 --items 2000 --events 500000   # a quick look
    python benchmarks/scale.py --executor dask       # on a local Dask cluster: peak memory per process

With ``--executor dask`` the events are also written as a Parquet dataset (files of 250,000 rows,
``[dask] events``) that the workers read piece by piece, and the one run is measured per process:
the driver (the CLI process, which also hosts the local cluster's scheduler) and each worker.
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


def split_events(events: Path, folder: Path, rows: int = 250_000) -> None:
    """The events file as a Parquet dataset: files of ``rows`` rows, named in order."""
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    table = pq.read_table(events)
    for n, start in enumerate(range(0, table.num_rows, rows)):
        pq.write_table(table.slice(start, rows), folder / f"part-{n:04d}.parquet")


def run_sampled(cmd: list[str]) -> tuple[dict, float, float, dict[int, tuple[str, float]]]:
    """Run ``cmd`` while sampling its process tree every 0.1 s; return (its JSON output, wall seconds,
    the tree's peak PSS in MB, pid -> (role, peak RSS in MB)) for it and every process it starts
    (render workers, Dask nannies and workers). PSS counts pages the forked render workers share
    with the main process once, split between them; RSS per process is what each one holds."""
    tree_peak = 0
    peaks: dict[int, tuple[str, float]] = {}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    stop = threading.Event()

    def role(p: psutil.Process) -> str:
        if p.pid == proc.pid:
            return "driver"
        line = " ".join(p.cmdline())
        return "worker" if "spawn_main" in line or "multiprocessing" in line else "other"

    def sample() -> None:
        nonlocal tree_peak
        parent = psutil.Process(proc.pid)
        while not stop.is_set():
            try:
                pss = 0
                for p in [parent, *parent.children(recursive=True)]:
                    memory = p.memory_full_info()
                    pss += memory.pss
                    if memory.rss / 2**20 > peaks.get(p.pid, ("", 0.0))[1]:
                        peaks[p.pid] = (role(p), memory.rss / 2**20)
                tree_peak = max(tree_peak, pss)
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
    return json.loads(out.strip().splitlines()[-1]), wall, tree_peak / 2**20, peaks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--events", type=int, default=5_000_000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bannergen-scale"))
    ap.add_argument("--keep-shop", action="store_true", help="reuse a shop already generated in --workdir")
    ap.add_argument("--executor", choices=["local", "dask"], default="local")
    ap.add_argument("--users-per-partition", type=int, default=0,
                    help="with --executor dask: partitions of this many users (0: [dask] partitions' default)")
    ap.add_argument("--formats", default="webp,png,html", help="formats rendered, comma-separated")
    ap.add_argument("--sizes", default="1200x400,750x300,300x250", help="sizes rendered, comma-separated")
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
        print(
            f"generated {args.users:,} users, {args.items:,} items, {args.events:,} events "
            f"in {time.perf_counter() - t:.0f}s"
        )
    # A project of its own beside the shop (the repository's templates, assets and rules), so its
    # output, fitted model and feedback never mix with the example shop's.
    out = args.workdir / "out"
    for stale in (out, args.workdir / "models"):
        shutil.rmtree(stale, ignore_errors=True)
    (args.workdir / "bannergen.toml").write_text(
        f'[data]\ncatalog = "shop/catalog.csv"\nevents = "shop/events.parquet"\n'
        f'[paths]\ntemplates = "{ROOT / "templates"}"\nassets = "{ROOT / "assets"}"\nscoring = "{ROOT / "scoring"}"\n'
        f'out = "out"\nrejects = "out/rejects.txt"\nmodels = "models"\n'
        f'[render]\nsizes = {args.sizes.split(",")!r}\nformats = {args.formats.split(",")!r}\n'
        f'[feedback]\nstore = "feedback.sqlite"\n'
        f'[privacy]\nsecret = "scale-benchmark-secret"\n',  # a generated shop: its pseudonyms protect nobody
        encoding="utf-8",
    )
    cmd = [sys.executable, "-m", "bannergen.cli.main", "--project", str(args.workdir),
           "render", "--segment", "all", "--quiet", "--json"]
    if args.executor == "dask":
        dataset = shop / "events-dataset"
        if not dataset.exists():
            split_events(shop / "events.parquet", dataset)
        with (args.workdir / "bannergen.toml").open("a", encoding="utf-8") as toml:
            toml.write('[dask]\nevents = "shop/events-dataset"\n')
        per = args.users_per_partition
        partitions = ["--partitions", str(-(-args.users // per))] if per else []
        report_dask(args, [*cmd, "--executor", "dask", *partitions])
        return
    first, first_wall, first_peak, _ = run_sampled(cmd)
    again, again_wall, again_peak, _ = run_sampled(cmd)
    forced, forced_wall, forced_peak, _ = run_sampled([*cmd, "--force"])

    print(f"\nrender --segment all on {args.users:,} users / {args.items:,} items / {args.events:,} events")
    print("rerun: the same command again (same run key: nothing recomputed);")
    print("forced: the same with --force (model loaded from disk, decisions recomputed, every variant cached)")
    print(f"{'stage':<10}{'first run s':>14}{'rerun s':>10}{'forced s':>10}")
    for stage in ("check", "load", "profile", "feedback", "select", "plan", "render", "write"):
        row = [r["timings"].get(stage, 0) for r in (first, again, forced)]
        print(f"{stage:<10}{row[0]:>14.2f}{row[1]:>10.2f}{row[2]:>10.2f}")
    print(f"{'wall':<10}{first_wall:>14.2f}{again_wall:>10.2f}{forced_wall:>10.2f}")
    print(f"\nusers {first['users']:,}, unique variants {first['unique_variants']:,}, rendered {first['rendered']:,} "
          f"then {again['rendered']:,} (cache hits {again['cached']:,})")
    print(f"peak memory (PSS) of the process tree: first {first_peak:,.0f} MB, rerun {again_peak:,.0f} MB, "
          f"forced {forced_peak:,.0f} MB")
    print(f"rerun / first run: {again_wall / first_wall:.1%}; forced / first run: {forced_wall / first_wall:.1%}")


def report_dask(args: argparse.Namespace, cmd: list[str]) -> None:
    """The first run (the blend fitted once from the partitions' sums) and a --force rerun (the fitted blend
    loaded, decisions recomputed, every variant cached: a daily run on unchanged models)."""
    runs = {"first": run_sampled(cmd), "forced": run_sampled([*cmd, "--force"])}
    print(f"\nrender --segment all --executor dask on {args.users:,} users / {args.items:,} items / "
          f"{args.events:,} events")
    print(f"{'stage':<10}{'first s':>10}{'forced s':>10}")
    for stage in ("check", "load", "profile", "fit", "select", "render", "write"):
        print(f"{stage:<10}" + "".join(f"{r[0]['timings'].get(stage, 0):>10.2f}" for r in runs.values()))
    print(f"{'wall':<10}" + "".join(f"{r[1]:>10.2f}" for r in runs.values()))
    first = runs["first"][0]
    print(f"users {first['users']:,}, unique variants {first['unique_variants']:,}, rendered {first['rendered']:,}")
    for name, (_, _, _, peaks) in runs.items():
        shown = sorted(((role, mb) for role, mb in peaks.values() if mb >= 50), key=lambda r: (r[0], -r[1]))
        print(f"peak RSS per process, {name} run (MB): " + ", ".join(f"{role} {mb:,.0f}" for role, mb in shown))


if __name__ == "__main__":
    main()
