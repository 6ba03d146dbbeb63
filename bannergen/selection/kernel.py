"""The decision kernel: candidate banners in, one probability per candidate and a chosen one out.

Batch ``render`` calls it for every user of a segment, ``serve`` for one user per request and
``explain`` prints what it returns, so the three can never disagree. Vectorized over users:

    >>> scores = np.array([[1.0, 0.9, -np.inf]])   # 1 user x 3 candidates; -inf: no candidate
    >>> none = np.zeros((1, 3))                       # no feedback yet
    >>> p = policy_probabilities("softmax", scores, np.ones((1, 3), bool), none, none, DecisionPolicy(temperature=0.1))
    >>> p.round(3).tolist()
    [[0.731, 0.269, 0.0]]

Each row is (n users x k candidates). The policies:

softmax   the design article's P(A | U, C) = exp(s / t) / sum exp(s / t) over available candidates.
greedy    all mass on the best available score (first on ties).
thompson  P(candidate wins a draw from the Beta posteriors of its CTR), mixed with an exploration
          floor: P = eps / k_avail + (1 - eps) * P_win with eps = min(floor * k_avail, 1), so every
          available candidate keeps at least ``floor`` (what bounded IPW weights need).
uniform   1 / k_avail (a reference policy for off-policy evaluation).

Thompson's prior is the scorer's view: a candidate of the row's mean score expects ``prior_ctr``
and each point of score above it multiplies that by e, worth ``prior_strength`` impressions; the
feedback counts of the banner (clicks, impressions) update it. P_win has no closed form for k > 2;
it is estimated from ``draws`` draws per candidate of a logit-normal with the exact mean and
variance of logit(Beta(a, b)) (digamma and trigamma): comparing logits is comparing CTRs, and the
logit of a Beta is close to normal even for the skewed posteriors of rare clicks. The draws are
common random numbers: one standard-normal table per (seed, k), so a user's probabilities depend
only on the seed, their candidates and the feedback state, never on who else is in the batch.

The chosen candidate is then sampled from the probabilities with a uniform from a keyed hash of
(seed, user id): drawing with probability P_win is exactly Thompson sampling's probability
matching, and the logged propensity is the probability the choice was really made with.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.special import digamma

from bannergen.selection.policy_table import POLICIES, POLICY

# The decision log: one row per (decision, listed candidate), in batch (OUT/candidates.*) and serve.
CANDIDATE_COLUMNS: tuple[str, ...] = ("decision_id", "user_id", "position", "item_id", "template", "antecedent_id",
                                      "score", "probability", "chosen", "policy")
REFERENCE_POLICIES: tuple[str, ...] = ("uniform", *POLICIES)

# Users per block of the Thompson Monte Carlo: a block's (users, draws, k) float32 sample stays
# near 8 MB whatever the shop's size.
_THOMPSON_BLOCK_CELLS = 2_000_000
_THREADS = min(2, os.cpu_count() or 1)


@dataclass(frozen=True)
class DecisionPolicy:
    """How one candidate is drawn per user: the policy, its settings and the seed of every draw.

    name: softmax, greedy or thompson; temperature: softmax's t (score units); prior_ctr,
    prior_strength, exploration_floor, draws: Thompson sampling's (see the module docstring);
    cap_per_day: impressions of one banner per user per UTC day before it makes way (0: no cap).
    """

    name: str = POLICY["selection.policy"]
    temperature: float = POLICY["selection.temperature"]
    prior_ctr: float = POLICY["thompson.prior_ctr"]
    prior_strength: float = POLICY["thompson.prior_strength"]
    exploration_floor: float = POLICY["thompson.exploration_floor"]
    draws: int = POLICY["thompson.draws"]
    cap_per_day: int = POLICY["frequency_cap.per_user_per_day"]
    seed: int = 0  # the project's select.seed (bannergen.toml) in every real run


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Row-wise softmax of ``scores / temperature`` (n, k); -inf entries get probability 0.
    A row with no finite score gets all zeros.

    >>> softmax(np.array([[0.0, np.log(3.0) * 0.1, -np.inf]]), 0.1).round(3).tolist()
    [[0.25, 0.75, 0.0]]
    """
    finite = np.isfinite(scores)
    top = np.where(finite.any(axis=1), np.where(finite, scores, -np.inf).max(axis=1), 0.0)
    z = np.where(finite, np.exp((np.where(finite, scores, 0.0) - top[:, None]) / temperature), 0.0)
    total = z.sum(axis=1, keepdims=True)
    return np.divide(z, total, out=np.zeros_like(z), where=total > 0)


def keyed_uniforms(keys: np.ndarray | pd.Index, seed: int, salt: str = "select") -> np.ndarray:
    """A uniform in [0, 1) per key (user id) from a keyed hash: stable across processes and batches.

    >>> one = keyed_uniforms(np.array(["zhangsan"], dtype=object), 7)
    >>> two = keyed_uniforms(np.array(["zhangsan", "lisi"], dtype=object), 7)
    >>> bool(one[0] == two[0])
    True
    """
    key = f"{seed:x}{salt}".encode()[:16].ljust(16, b"0").decode()
    hashed = pd.util.hash_array(np.asarray(keys, dtype=object), hash_key=key, categorize=False)
    return (hashed >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def sample(probabilities: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Index of the candidate whose cumulative probability first exceeds the row's uniform (n,);
    -1 for rows with no probability mass. A candidate of probability 0 is never picked."""
    if probabilities.shape[1] == 0:
        return np.full(len(probabilities), -1, dtype=np.int64)
    cumulative = np.cumsum(probabilities, axis=1)
    total = cumulative[:, -1]
    # u is scaled by the row's total, so rounding (a total of 0.9999999) never picks past the end.
    pick = (cumulative > (uniforms * total)[:, None]).argmax(axis=1)
    return np.where(total > 0, pick, -1)


def uniform_probabilities(available: np.ndarray) -> np.ndarray:
    """1 / k_avail on each available candidate, (n, k)."""
    avail = np.asarray(available, bool)
    k_avail = avail.sum(axis=1, keepdims=True)
    return np.divide(avail, k_avail, out=np.zeros(avail.shape), where=k_avail > 0)


def greedy_probabilities(scores: np.ndarray, available: np.ndarray) -> np.ndarray:
    """One-hot on the best available score (first on ties), (n, k); zeros where nothing is available."""
    masked = np.where(available, scores, -np.inf)
    out = np.zeros(masked.shape)
    has_any = available.any(axis=1)
    out[np.flatnonzero(has_any), masked.argmax(axis=1)[has_any]] = 1.0
    return out


def thompson_prior(scores: np.ndarray, prior_ctr: float) -> np.ndarray:
    """Prior mean CTR per candidate (n, k) from scores: prior_ctr at the row's mean finite score,
    times e per point above it, within [1e-4, 0.5]; NaN where the score is not finite. The mean is
    over all the row's candidates, so masking one (a cap, a size) leaves the others' priors alone."""
    finite = np.isfinite(scores)
    count = np.maximum(finite.sum(axis=1, keepdims=True), 1)
    mean = np.where(finite, scores, 0.0).sum(axis=1, keepdims=True) / count
    relative = np.where(finite, scores - mean, 0.0)
    return np.where(finite, np.clip(prior_ctr * np.exp(relative), 1e-4, 0.5), np.nan)


def beta_posterior(prior_mean: np.ndarray, prior_strength: float, clicks: np.ndarray,
                   impressions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(alpha, beta) of each candidate's Beta posterior, (n, k); clicks are capped at impressions."""
    prior_mean = np.asarray(prior_mean, np.float64)
    m = np.clip(np.where(np.isnan(prior_mean), 0.5, prior_mean), 1e-6, 1 - 1e-6)
    c = np.asarray(clicks, np.float64)
    i = np.maximum(np.asarray(impressions, np.float64), c)
    return m * prior_strength + c, (1 - m) * prior_strength + (i - c)


def _trigamma(x: np.ndarray) -> np.ndarray:
    """psi'(x) for x > 0: six steps of the recurrence psi'(x) = psi'(x + 1) + 1 / x^2, then the
    asymptotic series (error below 1e-9 from x + 6 on); scipy's polygamma is ten times slower."""
    acc = (1.0 / (x[..., None] + _SHIFTS) ** 2).sum(axis=-1)
    y = x + 6.0
    inv2 = 1.0 / (y * y)
    return acc + 1.0 / y + inv2 / 2 + inv2 / y * (1 / 6 - inv2 * (1 / 30 - inv2 * (1 / 42 - inv2 / 30)))


_SHIFTS = np.arange(6.0)


@lru_cache(maxsize=64)
def normal_table(seed: int, draws: int, k: int) -> np.ndarray:
    """The common standard-normal draws (draws, k) float32 of one seed and candidate count (read-only)."""
    table = np.random.default_rng([seed, k, draws]).standard_normal((draws, k)).astype(np.float32)
    table.setflags(write=False)
    return table


def thompson_win_rates(alpha: np.ndarray, beta: np.ndarray, available: np.ndarray, draws: int, seed: int) -> np.ndarray:
    """P(candidate has the highest CTR draw) (n, k), estimated from ``draws`` common draws of the
    logit-normal approximation of each Beta posterior; 0 where not available."""
    n, k = alpha.shape
    wins = np.zeros((n, k))
    if n == 0 or k == 0:
        return wins
    ok = available & (alpha > 0) & (beta > 0)
    a, b = np.where(ok, alpha, 1.0), np.where(ok, beta, 1.0)
    mu = np.where(ok, digamma(a) - digamma(b), -np.inf).astype(np.float32)
    sd = np.sqrt(_trigamma(a) + _trigamma(b)).astype(np.float32)
    z = normal_table(seed, draws, k)
    step = max(1, _THOMPSON_BLOCK_CELLS // (draws * k))

    def block(lo: int) -> None:  # vectorized within a block of users, bounded memory across blocks
        hi = min(n, lo + step)
        logits = mu[lo:hi, None, :] + sd[lo:hi, None, :] * z[None, :, :]  # (users, draws, k)
        best = logits.argmax(axis=2)
        flat = (np.arange(hi - lo)[:, None] * k + best).ravel()
        wins[lo:hi] = np.bincount(flat, minlength=(hi - lo) * k).reshape(hi - lo, k)

    starts = range(0, n, step)
    if len(starts) < 2 or _THREADS < 2:
        for lo in starts:
            block(lo)
    else:  # numpy releases the GIL in these kernels: blocks on both cores
        with ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="bannergen-thompson") as pool:
            for _ in pool.map(block, starts):
                pass
    wins /= draws
    wins[~ok] = 0.0
    return wins


def thompson_probabilities(scores: np.ndarray, available: np.ndarray, clicks: np.ndarray, impressions: np.ndarray,
                           policy: DecisionPolicy) -> np.ndarray:
    """Thompson sampling's distribution over candidates (n, k), exploration floor included."""
    prior = thompson_prior(scores, policy.prior_ctr)
    alpha, beta = beta_posterior(prior, policy.prior_strength, clicks, impressions)
    avail = available & np.isfinite(prior)
    p_win = thompson_win_rates(alpha, beta, avail, policy.draws, policy.seed)
    k_avail = avail.sum(axis=1, keepdims=True)
    eps = np.minimum(policy.exploration_floor * k_avail, 1.0)
    return eps * uniform_probabilities(avail) + (1.0 - eps) * p_win


def policy_probabilities(name: str, scores: np.ndarray, available: np.ndarray, clicks: np.ndarray,
                         impressions: np.ndarray, policy: DecisionPolicy) -> np.ndarray:
    """The distribution (n, k) of policy ``name`` over each row's available candidates.

    scores: float (n, k), -inf for no candidate; available: bool (n, k) (caps, sizes, filters);
    clicks, impressions: the feedback counts of each candidate's banner (n, k). Rows with nothing
    available are all zeros."""
    available = np.asarray(available, bool) & np.isfinite(scores)
    if name == "softmax":
        return softmax(np.where(available, scores, -np.inf), policy.temperature)
    if name == "greedy":
        return greedy_probabilities(scores, available)
    if name == "thompson":
        return thompson_probabilities(scores, available, clicks, impressions, policy)
    if name == "uniform":
        return uniform_probabilities(available)
    raise ValueError(f"unknown policy '{name}'; expected one of {', '.join(REFERENCE_POLICIES)}")


@dataclass(frozen=True)
class CandidateSet:
    """The candidate banners of n users, (n, k + 1): k policy candidates, best score first, then
    one fixed banner (a campaign pin, the holdout's default, or the default for a user with nothing
    else to show). Built by ``bannergen.selection.candidate_set.build_candidate_set``.

    user_ids     object (n,)
    rows         int64 (n,): profile rows in the model that built the set (for explanations)
    items        int64 (n, k + 1): catalog rows, -1 for no candidate
    templates    int64 (n, k + 1): template indices, -1 for none
    antecedents  int64 (n, k + 1): a cross-sell banner's trigger item (catalog row), else -1
    scores       float64 (n, k + 1): final scores; -inf for no candidate, NaN in the fixed column
    item_ids, template_ids, antecedent_ids  object (n, k + 1): the same by id ("" for none)
    reasons      object (n, k + 1): why each banner is shown; "" where not computed yet
    fixed        object (n,): "pin", "holdout" or "" (the fixed column is only a fallback)
    """

    user_ids: np.ndarray
    rows: np.ndarray
    items: np.ndarray
    templates: np.ndarray
    antecedents: np.ndarray
    scores: np.ndarray
    item_ids: np.ndarray
    template_ids: np.ndarray
    antecedent_ids: np.ndarray
    reasons: np.ndarray
    fixed: np.ndarray

    @property
    def n(self) -> int:
        return len(self.user_ids)

    @property
    def k(self) -> int:
        """Policy candidates per user (the fixed column not counted)."""
        return self.items.shape[1] - 1

    def take(self, index: np.ndarray | slice) -> CandidateSet:
        """The users at ``index`` (positions or a boolean mask), as a new set."""
        return CandidateSet(*(getattr(self, f)[index] for f in self.__dataclass_fields__))


@dataclass(frozen=True)
class Decisions:
    """What the kernel returns for n users.

    probabilities  float64 (n, k + 1): each candidate's probability (rows sum to 1, or 0 when
                   nothing at all can be shown)
    chosen         int64 (n,): the column drawn, -1 for nothing
    policy         object (n,): softmax, greedy or thompson; pin, holdout, or default when the
                   fixed column was shown
    """

    candidates: CandidateSet
    probabilities: np.ndarray
    chosen: np.ndarray
    policy: np.ndarray

    def _at_chosen(self, values: np.ndarray, missing: float | int | str) -> np.ndarray:
        ok = self.chosen >= 0
        picked = values[np.arange(len(self.chosen)), np.maximum(self.chosen, 0)]
        return np.where(ok, picked, np.asarray(missing, dtype=values.dtype))

    @property
    def propensity(self) -> np.ndarray:
        """The probability the shown banner was chosen with, (n,); 0 where nothing is shown."""
        return self._at_chosen(self.probabilities, 0.0).astype(np.float64)

    @property
    def item(self) -> np.ndarray:
        return self._at_chosen(self.candidates.items, -1).astype(np.int64)

    @property
    def template(self) -> np.ndarray:
        return self._at_chosen(self.candidates.templates, -1).astype(np.int64)

    @property
    def antecedent(self) -> np.ndarray:
        return self._at_chosen(self.candidates.antecedents, -1).astype(np.int64)

    @property
    def score(self) -> np.ndarray:
        return self._at_chosen(self.candidates.scores, np.nan).astype(np.float64)

    @property
    def reason(self) -> np.ndarray:
        return self._at_chosen(self.candidates.reasons, "").astype(object)

    def listed(self) -> np.ndarray:
        """bool (n, k + 1): the candidates a decision log lists: every real policy candidate, and
        the fixed banner where it carries probability."""
        c = self.candidates
        listed = c.items >= 0
        listed[:, -1] &= self.probabilities[:, -1] > 0
        return listed

    def candidate_frame(self, decision_ids: np.ndarray) -> pd.DataFrame:
        """The decision log's candidate rows (CANDIDATE_COLUMNS), one per listed candidate."""
        c = self.candidates
        users, positions = np.nonzero(self.listed())
        return pd.DataFrame({
            "decision_id": np.asarray(decision_ids, dtype=object)[users],
            "user_id": c.user_ids[users],
            "position": positions.astype(np.int64),
            "item_id": c.item_ids[users, positions],
            "template": c.template_ids[users, positions],
            "antecedent_id": c.antecedent_ids[users, positions],
            "score": np.where(np.isfinite(c.scores[users, positions]), c.scores[users, positions], np.nan).round(6),
            "probability": self.probabilities[users, positions],
            "chosen": self.chosen[users] == positions,
            "policy": self.policy[users],
        }, columns=list(CANDIDATE_COLUMNS))


def banner_counts(feedback, candidates: CandidateSet, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(clicks, impressions) (len(rows), k) of the policy candidates' banners at ``rows``: looked
    up once per distinct (item, template) banner, not once per user (100,000 users share ~10,000)."""
    c, k = candidates, candidates.k
    if len(rows) * k <= 64:  # a served decision: a few dictionary gets beat hashing the keys
        return feedback.lookup(c.item_ids[rows, :k], c.template_ids[rows, :k])
    items, templates = c.items[rows, :k], c.templates[rows, :k]
    key = items.astype(np.int64) * (int(templates.max(initial=0)) + 2) + (templates + 1)
    codes, unique = pd.factorize(key.ravel())  # hashing, not sorting: 1.2M keys in ~20 ms
    first = np.empty(len(unique), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)  # the first cell holding each banner
    clicks, impressions = feedback.lookup(c.item_ids[rows, :k].ravel()[first], c.template_ids[rows, :k].ravel()[first])
    return clicks[codes].reshape(items.shape), impressions[codes].reshape(items.shape)


def decide_all(candidates: CandidateSet, policy: DecisionPolicy, feedback=None,
               available: np.ndarray | None = None, uniforms: np.ndarray | None = None) -> Decisions:
    """The kernel: probabilities and a choice for every user of ``candidates``.

    feedback: a FeedbackView (per-banner click and impression counts, today's impressions per user
    for the cap) or None for no feedback; available: bool (n, k + 1) of candidates that may be
    shown at all here (e.g. the size a CMS asked for), None for all; uniforms: the users'
    ``keyed_uniforms(user_ids, policy.seed)`` when the caller keeps them (serve), else computed.

    Order of precedence per user: the holdout gets its default banner; else a pin; else the policy
    over the available candidates (not capped, not masked); else the default banner."""
    c = candidates
    n, k = c.n, c.k
    policy_scores = c.scores[:, :k]
    avail = (c.items[:, :k] >= 0) & np.isfinite(policy_scores)
    if available is not None:
        avail &= np.asarray(available, bool)[:, :k]
    if feedback is not None and policy.cap_per_day > 0:
        # A banner seen N times today makes way for the next one (rotation).
        shown = feedback.shown_today(c.user_ids, c.item_ids[:, :k], c.template_ids[:, :k])
        avail &= shown < policy.cap_per_day
    free = c.fixed == ""  # users the policy decides for; the others get their fixed banner
    probabilities = np.zeros(c.items.shape)
    rows = np.flatnonzero(free)
    if len(rows):
        if policy.name == "thompson" and feedback is not None:
            clicks, impressions = banner_counts(feedback, c, rows)
        else:
            clicks = impressions = np.zeros((len(rows), k))
        probabilities[rows, :k] = policy_probabilities(policy.name, policy_scores[rows], avail[rows], clicks,
                                                       impressions, policy)
    nothing = free & ~avail.any(axis=1)
    use_fixed = ~free | nothing
    names = np.full(n, policy.name, dtype=object)
    if use_fixed.any():
        probabilities[use_fixed, :] = 0.0
        probabilities[use_fixed & (c.items[:, k] >= 0), k] = 1.0
        names[nothing] = "default"
        names[~free] = c.fixed[~free]
    if uniforms is None:
        uniforms = keyed_uniforms(c.user_ids, policy.seed)
    chosen = sample(probabilities, uniforms) if n else np.zeros(0, np.int64)
    return Decisions(c, probabilities, chosen.astype(np.int64, copy=False), names)
