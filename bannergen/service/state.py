"""The in-memory decision state: every known user's candidate banners, precomputed at start-up.

Per request a decision is a dictionary lookup plus a k-arm draw (k = [selection] candidates, 5):
no DataFrame work and no disk reads. The per-row logic of ``bannergen.selection.decide`` is
mirrored here for one user at a time (the banners of bannergen.selection.banners: carousels and
cross-sell; frequency cap, softmax / greedy / Thompson, pins, holdout,
explanation), so a served decision equals the batch one for the same state:

    >>> state = DecisionState.build(engine)
    >>> d = state.decide("zhangsan", "1200x400")
    >>> d.item_id, d.template_id, d.policy, round(d.propensity, 3)
    ('000103', 'category-launch', 'softmax', 0.779)

Users whose behaviour arrives in real time get their candidates recomputed by
``bannergen.service.realtime`` and swapped in with :meth:`DecisionState.update_users`.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bannergen.selection.decide import HOLDOUT_REASON

if TYPE_CHECKING:
    from bannergen.model import Model
    from bannergen.pipeline import Engine

log = logging.getLogger(__name__)

DEFAULT_REASON = "热门推荐"


@dataclass(frozen=True)
class UserCandidates:
    """One user's candidate banners, best score first (missing candidates removed).

    items:     int64 (k,) catalog rows
    templates: int64 (k,) template indices (into Model.templates)
    antecedents: int64 (k,) a cross-sell banner's trigger item (catalog row), -1 for others
    scores:    float64 (k,) final scores (model + rules + template bonus)
    reasons:   the explanation of each candidate ("因为你浏览了 佳能 相机")
    uniform:   the user's softmax uniform (a keyed hash of seed and user id, as in batch decide)
    holdout:   the user is in the control group (always the default banner)
    """

    items: np.ndarray
    templates: np.ndarray
    antecedents: np.ndarray
    scores: np.ndarray
    reasons: tuple[str, ...]
    uniform: float
    holdout: bool

    def banners(self) -> set[tuple[int, int, int]]:
        """(item, template, antecedent) of every candidate."""
        return set(zip(self.items.tolist(), self.templates.tolist(), self.antecedents.tolist()))


@dataclass(frozen=True)
class Choice:
    """A decision before it is tied to a variant: the banner, why and with which probability."""

    user_id: str
    item: int  # catalog row
    template: int  # template index
    item_id: str
    template_id: str
    score: float  # nan for defaults
    propensity: float
    policy: str  # softmax, greedy, thompson, pin, holdout, default
    explanation: str
    known: bool  # the user has a profile
    ranked: tuple[tuple[int, int, int, str], ...] = ()  # (item, template, antecedent, reason) of the others, best first
    antecedent: int = -1  # a cross-sell banner's trigger item (catalog row)

    @property
    def banner(self) -> tuple[int, int, int]:
        return self.item, self.template, self.antecedent


def candidate_block(model: Model, rows: np.ndarray, user_ids: np.ndarray, seed: int, policy) -> dict[str, UserCandidates]:
    """UserCandidates of the users at profile ``rows`` of ``model`` (ids ``user_ids``), vectorized."""
    from bannergen.bandits import in_holdout
    from bannergen.explain import explain_choices
    from bannergen.selection.banners import candidate_banners
    from bannergen.selection.policy import user_uniforms

    if len(rows) == 0:
        return {}
    items, scores = model.candidates(rows)
    banners = candidate_banners(model, rows, items)
    templates, antecedents = banners.templates, banners.antecedents
    reasons = np.empty(items.shape, dtype=object)
    for c in range(items.shape[1]):  # explain_choices wants distinct rows: one call per candidate rank
        reasons[:, c] = explain_choices(model, rows, np.where(items[:, c] >= 0, items[:, c], 0))
    special = banners.reasons != ""
    reasons[special] = banners.reasons[special]
    uniforms = user_uniforms(user_ids, seed)
    held = in_holdout(user_ids, policy.holdout_share, policy.holdout_salt) if policy.holdout_share > 0 else np.zeros(len(rows), bool)
    out = {}
    for i, user in enumerate(user_ids):
        keep = (items[i] >= 0) & np.isfinite(scores[i])
        out[str(user)] = UserCandidates(
            items=items[i][keep].astype(np.int64),
            templates=templates[i][keep].astype(np.int64),
            antecedents=antecedents[i][keep].astype(np.int64),
            scores=scores[i][keep].astype(np.float64),
            reasons=tuple(str(r) for r in reasons[i][keep]),
            uniform=float(uniforms[i]),
            holdout=bool(held[i]),
        )
    return out


class DecisionState:
    """Candidates of every known user, variant ids per (item, template, size), the default banner.

    Thread model: the event loop reads; one writer thread replaces whole UserCandidates entries
    (a dict assignment, atomic under the GIL) and adds variant ids.
    """

    def __init__(self, engine: Engine, users: dict[str, UserCandidates]) -> None:
        model = engine.model
        self.engine = engine
        self.model = model
        self.users = users
        self.policy = engine.policy
        self.selection = model.settings.selection
        self.seed = engine.project.seed
        self.item_ids = model.catalog["item_id"].to_numpy(dtype=object)
        self.template_ids = [t.id for t in model.templates]
        # Every size a template declares, 2x included: render.sizes limits what a batch pre-renders,
        # not what the CMS may ask for (a size not on disk yet is rendered on demand).
        self.template_sizes = [{f"{w}x{h}" for w, h in t.sizes} for t in model.templates]
        self.sizes = sorted(set().union(*self.template_sizes), key=lambda s: [int(x) for x in s.split("x")]) if self.template_sizes else []
        self.variants: dict[tuple[int, int, int, str], str] = {}  # (item, template, antecedent, size) -> variant id
        self._ids_lock = threading.Lock()
        self.pin = self._pin_for_all()
        self.default = self._default_banner()
        self.rng = np.random.default_rng(self.seed)  # Thompson draws per request
        self.explore_rng = np.random.default_rng(self.seed + 1)
        self.variant_ids_for(self._all_banners())

    @classmethod
    def build(cls, engine: Engine) -> DecisionState:
        """Score every user of the engine's model once (vectorized, in blocks)."""
        model = engine.model
        rows = np.arange(model.profiles.n_users)
        users = candidate_block(model, rows, np.asarray(model.profiles.user_ids, dtype=object), engine.project.seed, engine.policy)
        return cls(engine, users)

    # -- variant ids -------------------------------------------------------------------------------
    def _all_banners(self) -> set[tuple[int, int, int]]:
        banners = set().union(*(c.banners() for c in self.users.values())) if self.users else set()
        if self.default is not None:
            banners.add((self.default[0], self.default[1], -1))
        return banners

    def variant_ids_for(self, banners: set[tuple[int, int, int]]) -> None:
        """Compute (once) the variant id of every size of these (item, template, antecedent) banners."""
        from bannergen.types import RenderSpec

        engine = self.engine
        with self._ids_lock:
            todo = [(i, t, a) for i, t, a in banners if (i, t, a, next(iter(self.template_sizes[t]), "")) not in self.variants]
            for item, t, a in todo:
                template = self.model.templates[t]
                context = self.context(item, t, a)
                for w, h in template.sizes:
                    label = f"{w}x{h}"
                    if label in self.template_sizes[t]:
                        self.variants[(item, t, a, label)] = engine.renderer.variant_id(RenderSpec(template.id, (w, h), context))

    def context(self, item: int, template: int, antecedent: int = -1):
        """The BannerContext of a banner, as batch render builds it (carousel items, cross-sell trigger)."""
        from bannergen.contexts import template_context

        companions = self.model.carousel.companions if self.model.carousel is not None else None
        return template_context(self.model.catalog, item, self.model.templates[template],
                                self.engine.project.catalog.parent, companions, antecedent)

    def spec(self, item: int, template: int, size: str, antecedent: int = -1):
        """The RenderSpec of a variant (for rendering on demand)."""
        from bannergen.types import RenderSpec

        w, h = (int(x) for x in size.split("x"))
        return RenderSpec(self.model.templates[template].id, (w, h), self.context(item, template, antecedent))

    def double(self, template: int, size: str) -> str | None:
        """The 2x size label of ``size`` when the template renders one ("2400x800" for "1200x400")."""
        w, h = (int(x) for x in size.split("x"))
        label = f"{2 * w}x{2 * h}"
        return label if label in self.template_sizes[template] else None

    # -- defaults ----------------------------------------------------------------------------------
    def _pin_for_all(self) -> int | None:
        for pin in self.model.settings.rules.pins:
            if pin.segment == "all":
                pos = np.flatnonzero(self.item_ids == pin.item_id)
                if len(pos) and self.model.template_choice.template[pos[0]] >= 0:
                    return int(pos[0])
        return None

    def _default_banner(self) -> tuple[int, int] | None:
        """The global default: the holdout's default banner (the most popular allowed item under the
        holdout template), else the most popular item under its own best template."""
        from bannergen.selection.decide import default_banner

        try:
            return default_banner(self.model, self.policy.holdout_template)
        except Exception as exc:  # a misconfigured default must not stop the service: fall back further
            log.warning("default banner: %s; using the most popular allowed item", exc)
        choice = self.model.template_choice.template
        ok = (choice >= 0) & self.model.rules.allowed
        if not ok.any():
            return None
        item = int(np.argmax(np.where(ok, self.model.profiles.popularity, -1.0)))
        return item, int(choice[item])

    def default_choice(self, user_id: str, policy: str, reason: str, known: bool) -> Choice | None:
        if self.default is None:
            return None
        item, t = self.default
        return Choice(user_id, item, t, str(self.item_ids[item]), self.template_ids[t], math.nan, 1.0, policy, reason, known)

    # -- deciding ----------------------------------------------------------------------------------
    def update_users(self, users: dict[str, UserCandidates]) -> None:
        """Swap in recomputed candidates (from the writer thread)."""
        self.variant_ids_for(set().union(*(c.banners() for c in users.values())) if users else set())
        self.users.update(users)

    def decide(self, user_id: str, size: str) -> Choice | None:
        """The banner for ``user_id`` at ``size`` now; None when nothing at all can be shown."""
        cands = self.users.get(user_id)
        if cands is None:
            return self.default_choice(user_id, "default", DEFAULT_REASON, known=False)
        if cands.holdout:
            return self.default_choice(user_id, "holdout", HOLDOUT_REASON, known=True)
        if self.pin is not None:
            t = int(self.model.template_choice.template[self.pin])
            return Choice(user_id, self.pin, t, str(self.item_ids[self.pin]), self.template_ids[t], math.nan, 1.0, "pin",
                          "活动推荐", True)
        scores = cands.scores.copy()
        for c, t in enumerate(cands.templates):
            if size not in self.template_sizes[t]:
                scores[c] = -np.inf
        view = self.engine.feedback
        cap = self.policy.cap_per_day
        if cap > 0 and view.today:
            for c in range(len(scores)):
                key = (user_id, self.item_ids[cands.items[c]], self.template_ids[cands.templates[c]])
                if view.today.get(key, 0) >= cap:
                    scores[c] = -np.inf
        finite = np.isfinite(scores)
        if not finite.any():
            return self.default_choice(user_id, "default", DEFAULT_REASON, known=True)
        name = self.selection.policy
        if name == "thompson":
            index, probs = self._thompson(cands, scores, finite)
        else:
            z = np.where(finite, np.exp((np.where(finite, scores, 0.0) - scores[finite].max()) / self.selection.temperature), 0.0)
            probs = z / z.sum()
            if name == "greedy":
                index = int(np.argmax(np.where(finite, scores, -np.inf)))
                probs = np.zeros_like(probs)
                probs[index] = 1.0
            else:
                cumulative = np.cumsum(probs)
                index = int(np.argmax(cumulative > cands.uniform * cumulative[-1]))
        # The others by score: where a chosen variant is not rendered yet, the best cached one of them stands in.
        ranked = tuple((int(cands.items[c]), int(cands.templates[c]), int(cands.antecedents[c]), cands.reasons[c])
                       for c in np.flatnonzero(finite) if c != index)
        item, t = int(cands.items[index]), int(cands.templates[index])
        return Choice(user_id, item, t, str(self.item_ids[item]), self.template_ids[t], float(scores[index]),
                      float(probs[index]), name, cands.reasons[index], True, ranked, int(cands.antecedents[index]))

    def _thompson(self, cands: UserCandidates, scores: np.ndarray, finite: np.ndarray) -> tuple[int, np.ndarray]:
        """Thompson sampling as in batch decide: the scorer's view as the Beta prior, feedback counts
        from the FeedbackView, the exploration floor; the propensity by Monte Carlo."""
        from bannergen.bandits import thompson_choose

        p = self.policy
        mean = scores[finite].mean()
        prior = np.where(finite, np.clip(p.prior_ctr * np.exp(np.where(finite, scores - mean, 0.0)), 1e-4, 0.5), np.nan)
        counts = self.engine.feedback.counts
        clicks = np.zeros(len(scores))
        shown = np.zeros(len(scores))
        for c in range(len(scores)):
            slot = counts.get((self.item_ids[cands.items[c]], self.template_ids[cands.templates[c]]))
            if slot:
                shown[c], clicks[c] = slot[0], slot[1]
        index, propensity = thompson_choose(prior[None, :], p.prior_strength, clicks[None, :], shown[None, :],
                                            p.exploration_floor, seed=self.rng, draws=64)
        probs = np.zeros(len(scores))
        probs[int(index[0])] = float(propensity[0])
        return int(index[0]), probs
