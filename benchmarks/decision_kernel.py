"""The decision kernel at batch scale: 100,000 users x 12 candidates, every policy.

Each user has 12 candidate banners drawn from 10,000 (item, template) banners with feedback
counts and a frequency cap that binds for some of today's impressions; the kernel returns each
candidate's probability and the chosen one (``decide_all``, what render calls for a segment and
serve for one user). Baseline, under the same protocol (same arrays, same process): plain
one-draw Thompson sampling (numpy's Beta sampler, argmax of one posterior draw per candidate),
the least work any Thompson policy can do, though it cannot say with which probability it chose.

    python benchmarks/decision_kernel.py            # prints a table; medians of --repeat runs
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import numpy as np

from bannergen.selection.feedback_view import FeedbackView
from bannergen.selection.kernel import (
    CandidateSet,
    DecisionPolicy,
    banner_counts,
    beta_posterior,
    decide_all,
    thompson_prior,
)


def shop(n: int, k: int, banners: int, seed: int = 0) -> tuple[CandidateSet, FeedbackView]:
    rng = np.random.default_rng(seed)
    items = rng.integers(0, banners, (n, k + 1))
    scores = np.sort(rng.normal(1.0, 0.25, (n, k + 1)), axis=1)[:, ::-1].copy()
    scores[:, -1] = np.nan
    item_ids = np.char.add("i", items.astype(str)).astype(object)
    template_ids = np.full((n, k + 1), "price-drop", dtype=object)
    user_ids = np.char.add("u", np.arange(n).astype(str)).astype(object)
    fixed = np.where(rng.random(n) < 0.05, "holdout", "").astype(object)
    cands = CandidateSet(user_ids, np.arange(n), items, np.zeros((n, k + 1), np.int64), np.full((n, k + 1), -1),
                         scores, item_ids, template_ids, np.full((n, k + 1), "", dtype=object),
                         np.full((n, k + 1), "", dtype=object), fixed)
    view = FeedbackView.empty()
    shown = rng.integers(0, 5000, banners)
    view.counts = {(f"i{b}", "price-drop"): [int(s), int(rng.binomial(s, 0.03))] for b, s in enumerate(shown)}
    today = rng.integers(0, n, n // 10)
    view.today = {(f"u{u}", item_ids[u, 0], "price-drop"): 3 for u in today}
    return cands, view


def plain_thompson(cands: CandidateSet, view: FeedbackView, policy: DecisionPolicy) -> np.ndarray:
    k = cands.k
    clicks, impressions = banner_counts(view, cands, np.arange(cands.n))
    alpha, beta = beta_posterior(thompson_prior(cands.scores[:, :k], policy.prior_ctr), policy.prior_strength,
                                 clicks, impressions)
    return np.random.default_rng(policy.seed).beta(alpha, beta).argmax(axis=1)


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def cold(n: int, k: int) -> float:
    """Seconds for the first Thompson call in a fresh process (imports excluded, data built first)."""
    code = (f"import time, benchmarks.decision_kernel as b; c, v = b.shop({n}, {k}, 10000); "
            "from bannergen.selection.kernel import DecisionPolicy, decide_all; t = time.perf_counter(); "
            "decide_all(c, DecisionPolicy('thompson', seed=1), v); print(time.perf_counter() - t)")
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--candidates", type=int, default=12)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    cands, view = shop(args.users, args.candidates, 10_000)
    rows = []
    thompson = DecisionPolicy("thompson", seed=1)
    base = statistics.median(timed(lambda: plain_thompson(cands, view, thompson), args.repeat))
    rows.append(("baseline: one-draw Thompson (no propensities)", base))
    for name in ("thompson", "softmax", "greedy"):
        policy = DecisionPolicy(name, 0.1, seed=1)
        seconds = timed(lambda policy=policy: decide_all(cands, policy, view), args.repeat)
        rows.append((f"decide_all, {name}", statistics.median(seconds)))
    one = cands.take(slice(0, 1))
    single = statistics.median(timed(lambda: decide_all(one, DecisionPolicy("thompson", seed=1), view), 200))
    print(f"{args.users:,} users x {args.candidates} candidates, medians of {args.repeat} runs")
    print(f"{'what':<48}{'seconds':>9}{'x baseline':>12}")
    for what, seconds in rows:
        print(f"{what:<48}{seconds:>9.3f}{seconds / base:>12.2f}")
    print(f"{'decide_all, thompson, first call in a new process':<48}{cold(args.users, args.candidates):>9.3f}")
    print(f"{'decide_all, thompson, one user (serve)':<48}{single * 1e3:>7.3f}ms")


if __name__ == "__main__":
    main()
