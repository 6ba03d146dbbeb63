"""A seeded simulator with known true CTRs: impressions and clicks under any policy.

Each round one user sees one variant chosen by the policy from the posteriors it has learnt so
far (updated every ``batch`` rounds: serving reads counts that lag a little); the user clicks
with the variant's true CTR, two seconds later. The output is a feedback frame ready for the
store (impressions carry the propensity and policy), the chosen arms and the cumulative regret.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bannergen.bandits.policies import (
    choose_from, greedy_probabilities, posterior_mean, softmax_probabilities, thompson_choose, uniform_probabilities,
)

START_US = 1_790_000_000 * 1_000_000  # 2026-09-21, a fixed clock: same seed, same events


@dataclass(frozen=True)
class SimResult:
    """events: feedback frame; chosen: int64 (rounds,); propensity (rounds,); regret: cumulative (rounds,)."""

    events: pd.DataFrame
    chosen: np.ndarray
    propensity: np.ndarray
    regret: np.ndarray


@dataclass(frozen=True)
class Simulator:
    """true_ctr: (k,) click probabilities of variants ``v0..v{k-1}`` (or ``variant_ids``)."""

    true_ctr: tuple[float, ...]
    seed: int = 0
    n_users: int = 10_000
    placement: str = "home"
    variant_ids: tuple[str, ...] | None = None

    @property
    def ids(self) -> np.ndarray:
        return np.asarray(self.variant_ids or [f"v{j}" for j in range(len(self.true_ctr))], dtype=object)

    def value(self, probabilities: np.ndarray) -> float:
        """True CTR of a policy with these probabilities over the variants, (k,) or (n, k)."""
        return float(np.mean(np.atleast_2d(probabilities) @ np.asarray(self.true_ctr)))

    def run(self, policy: str, rounds: int, batch: int = 100, prior_mean: float = 0.05,
            prior_strength: float = 2.0, floor: float = 0.0, temperature: float = 0.02) -> SimResult:
        """Play ``rounds`` rounds of ``policy`` (uniform, greedy, thompson, softmax)."""
        rng = np.random.default_rng(self.seed)
        ctr = np.asarray(self.true_ctr, np.float64)
        k = len(ctr)
        clicks, imps = np.zeros(k), np.zeros(k)
        chosen = np.empty(rounds, np.int64)
        prop = np.empty(rounds)
        clicked = np.empty(rounds, bool)
        avail = np.ones((1, k), bool)
        for lo in range(0, rounds, batch):
            b = min(batch, rounds - lo)
            prior = np.full((b, k), prior_mean)
            c, i = np.broadcast_to(clicks, (b, k)), np.broadcast_to(imps, (b, k))
            if policy == "thompson":
                idx, p = thompson_choose(prior, prior_strength, c, i, floor=floor, seed=rng)
            else:
                if policy == "uniform":
                    probs = uniform_probabilities(np.ones((b, k), bool))
                else:
                    means = posterior_mean(prior, prior_strength, c, i)
                    probs = greedy_probabilities(means) if policy == "greedy" else \
                        softmax_probabilities(means, temperature, avail.repeat(b, 0))
                    if floor:
                        probs = floor + (1 - floor * k) * probs
                idx, p = choose_from(probs, rng)
            hit = rng.random(b) < ctr[idx]
            chosen[lo:lo + b], prop[lo:lo + b], clicked[lo:lo + b] = idx, p, hit
            np.add.at(imps, idx, 1)
            np.add.at(clicks, idx[hit], 1)
        regret = np.cumsum(ctr.max() - ctr[chosen])
        return SimResult(self._events(policy, chosen, prop, clicked, rng), chosen, prop, regret)

    def _events(self, policy: str, chosen: np.ndarray, prop: np.ndarray, clicked: np.ndarray,
                rng: np.random.Generator) -> pd.DataFrame:
        n = len(chosen)
        users = np.char.add("u", rng.integers(0, self.n_users, n).astype(str)).astype(object)
        ts = START_US + np.arange(n, dtype=np.int64) * 10_000_000  # one impression every 10 s
        ids = self.ids
        imp = pd.DataFrame({"event_id": [f"{policy}-{self.seed}-i{j}" for j in range(n)], "ts": ts,
                            "user_id": users, "variant_id": ids[chosen], "event": "impression",
                            "value": 0.0, "cost": 0.0, "placement": self.placement, "propensity": prop,
                            "policy": policy})
        rows = np.flatnonzero(clicked)
        clk = imp.iloc[rows].copy()
        clk["event_id"] = [f"{policy}-{self.seed}-c{j}" for j in rows]
        clk["ts"] = ts[rows] + 2_000_000
        clk["event"] = "click"
        clk["propensity"] = np.nan
        out = pd.concat([imp, clk], ignore_index=True).sort_values("ts", kind="stable").reset_index(drop=True)
        for col in ("event_id", "user_id", "variant_id", "event", "placement", "policy"):
            out[col] = out[col].astype(object)
        return out
