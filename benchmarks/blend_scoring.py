"""Scoring 100,000 users x 10,000 items through the real blend to a top-10, against dense numpy
products in the same run.

Uses the scale shop of benchmarks/scale.py (generated if missing) and the project's blend
(content + item kNN + EASE + association rules + popularity, scoring/blend.toml), fitted or loaded as render
would. Then, in the model's own blocks (BLOCK_CELLS / items users): the final scores (blend,
campaign rules, template bonus) and each user's top-10. Baselines, timed in the same process:
  - items: the dense product of the shapes the blend multiplies, (users x items) @ (items x items),
    i.e. what EASE and item kNN would cost without sparsity; timed on one block and scaled up;
  - rank-256: a dense factor product (users x 256) @ (256 x items), all blocks;
  - top-10 alone: np.argpartition over blocks of random scores of the same shape, the floor any
    scorer that ends in a top-10 pays.
Also one user at a time (what `serve` does per decision): the median of 200 single-user scores.
Peak RSS of the process is sampled every 50 ms.

    python benchmarks/blend_scoring.py [--workdir /tmp/bannergen-scale]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
BLOCK = 4096


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bannergen-scale"))
    args = ap.parse_args()
    shop = args.workdir / "shop"
    if not (shop / "catalog.csv").exists():
        subprocess.run([sys.executable, "examples/generate_shop.py", "--users", "100000", "--items", "10000",
                        "--events", "5000000", "--images", "shared", "--out", str(shop)], check=True, cwd=ROOT)
    toml = args.workdir / "bannergen.toml"
    if not toml.exists():
        toml.write_text(
            f'[data]\ncatalog = "shop/catalog.csv"\nevents = "shop/events.parquet"\n'
            f'[paths]\ntemplates = "{ROOT / "templates"}"\nassets = "{ROOT / "assets"}"\n'
            f'scoring = "{ROOT / "scoring"}"\n'
            f'out = "out"\nrejects = "out/rejects.txt"\nmodels = "models"\n[feedback]\nstore = "feedback.sqlite"\n',
            encoding="utf-8",
        )
    from bannergen.config import load_project
    from bannergen.model import BLOCK_CELLS
    from bannergen.pipeline import Engine

    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        me = psutil.Process()
        while not stop.is_set():
            peak = max(peak, me.memory_info().rss)
            time.sleep(0.05)

    threading.Thread(target=sample, daemon=True).start()
    start = time.perf_counter()
    model = Engine(load_project(args.workdir)).model
    fit = time.perf_counter() - start
    peak_build, peak = peak, 0  # scoring's own peak from here on (the model stays resident)
    n_users, n_items = model.profiles.n_users, model.features.n_items
    rows = np.arange(n_users)

    step = max(1, BLOCK_CELLS // n_items)  # the block size render and serve use
    start = time.perf_counter()
    for lo in range(0, n_users, step):
        block = model.scores(rows[lo : lo + step])
        np.argpartition(-block, 10, axis=1)[:, :10]
    blend = time.perf_counter() - start
    peak_scoring = peak

    rng = np.random.default_rng(0)
    dense_users = rng.random((BLOCK, n_items), dtype=np.float32)
    item_item = rng.random((n_items, n_items), dtype=np.float32)
    start = time.perf_counter()
    dense_users @ item_item
    dense = (time.perf_counter() - start) * n_users / BLOCK
    del item_item, dense_users
    factors_u = rng.random((n_users, 256), dtype=np.float32)
    factors_i = rng.random((256, n_items), dtype=np.float32)
    start = time.perf_counter()
    for lo in range(0, n_users, BLOCK):
        factors_u[lo : lo + BLOCK] @ factors_i
    factor = time.perf_counter() - start
    del factors_u, factors_i
    noise = rng.random((step, n_items), dtype=np.float32)
    start = time.perf_counter()
    for lo in range(0, n_users, step):
        np.argpartition(-noise[: min(step, n_users - lo)], 10, axis=1)[:, :10]
    top_only = time.perf_counter() - start
    one_user = []
    for row in rng.choice(n_users, size=200, replace=False):
        start = time.perf_counter()
        model.scores(np.array([row]))
        one_user.append(time.perf_counter() - start)
    stop.set()

    print(
        f"{n_users:,} users x {n_items:,} items; blend: {', '.join(model.blend.scorers) if model.blend else 'content'}"
    )
    print(f"model built (fit or loaded) in {fit:.1f}s\n")
    print(f"{'what':<52}{'seconds':>10}{'blend / it':>12}")
    print(f"{f'blend + campaign rules + template bonus -> top-10 ({step:,}-user blocks)':<52}{blend:>10.1f}{'':>12}")
    print(f"{'dense (users x items) @ (items x items), scaled':<52}{dense:>10.1f}{blend / dense:>11.2f}x")
    print(f"{'dense rank-256 factor product (users x 256) @ (256 x items)':<52}{factor:>10.1f}{blend / factor:>11.2f}x")
    print(f"{'top-10 alone (argpartition of same-shaped blocks)':<52}{top_only:>10.1f}{blend / top_only:>11.2f}x")
    print(f"\none user through the blend (median of 200): {np.median(one_user) * 1000:.2f} ms")
    print(f"\npeak RSS while building the model: {peak_build / 2**20:,.0f} MB; "
          f"while scoring: {peak_scoring / 2**20:,.0f} MB (the resident model included)")


if __name__ == "__main__":
    main()
