"""The in-memory decision state: every known user's candidate banners, precomputed at start-up.

Per request a decision is a dictionary lookup plus the decision kernel on one user
(``bannergen.selection.kernel.decide_all``, the same call batch render makes for a segment and
explain makes for one user): no scoring and no disk reads.

    >>> state = DecisionState.build(engine)  # doctest: +SKIP
    >>> d = state.decide("zhangsan", "1200x400")  # doctest: +SKIP
    >>> d.item_id, d.template_id, d.policy, round(d.propensity, 3)  # doctest: +SKIP
    ('000103', 'category-launch', 'softmax', 0.764)

Users whose behaviour arrives in real time get their candidates recomputed by
``bannergen.service.realtime`` and swapped in with :meth:`DecisionState.update_users`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from bannergen.contexts import template_context
from bannergen.selection.candidate_set import DEFAULT_REASON, banners_of, stack, unknown_user, user_candidates
from bannergen.selection.kernel import CandidateSet, decide_all, keyed_uniforms
from bannergen.size import Size
from bannergen.types import RenderSpec

if TYPE_CHECKING:
    from bannergen.pipeline import Engine

log = logging.getLogger(__name__)

KEPT_DECISIONS = 200_000  # decisions kept for reuse until what they read changes


@dataclass(frozen=True)
class Listed:
    """One candidate of a served decision, as ``"explain": true`` shows it and the log keeps it."""

    position: int
    item: int
    template: int
    antecedent: int
    item_id: str
    template_id: str
    antecedent_id: str
    score: float  # nan for a pin or default banner
    probability: float
    reason: str


@dataclass(frozen=True)
class Choice:
    """A decision before it is tied to a variant: the banner, why and with which probability."""

    user_id: str
    item: int  # catalog row
    template: int  # template index
    item_id: str
    template_id: str
    score: float  # nan for pins and defaults
    propensity: float
    policy: str  # softmax, greedy, thompson, pin, holdout, default (or fallback for a stand-in)
    explanation: str
    known: bool  # the user has a profile
    ranked: tuple[tuple[int, int, int, str], ...] = ()  # (item, template, antecedent, reason) of the others, best first
    antecedent: int = -1  # a cross-sell banner's trigger item (catalog row)
    candidates: tuple[Listed, ...] = ()  # every listed candidate with its probability
    position: int = -1  # the chosen candidate's position in the candidate set

    @property
    def banner(self) -> tuple[int, int, int]:
        return self.item, self.template, self.antecedent


class DecisionState:
    """Candidates of every known user, variant ids per (item, template, size), the default banner.

    Thread model: the event loop reads; one writer thread replaces whole per-user entries (a dict
    assignment, atomic under the GIL) and adds variant ids.
    """

    def __init__(self, engine: Engine, users: dict[str, CandidateSet]) -> None:
        model = engine.model
        self.engine = engine
        self.model = model
        self.users = users
        self.policy_settings = engine.policy_settings
        sel = model.settings.selection
        self.decision_policy = engine.policy_settings.decision_policy(sel.policy, sel.temperature, engine.project.seed)
        self.item_ids = model.catalog["item_id"].to_numpy(dtype=object)
        self.template_ids = [t.id for t in model.templates]
        # Every size a template declares, 2x included: render.sizes limits what a batch pre-renders,
        # not what the CMS may ask for (a size not on disk yet is rendered on demand).
        self.template_sizes = [{str(Size(*size)) for size in t.sizes} for t in model.templates]
        every_size: set[str] = set().union(*self.template_sizes)
        self.sizes = sorted(every_size, key=Size.parse)
        # Per size: which template indices render it (the last entry stands for index -1: no template).
        self.renders = {size: np.asarray([size in t for t in self.template_sizes] + [False]) for size in self.sizes}
        self.width = model.settings.selection.candidates + 1
        self._unknown = unknown_user(model, "", self.width, self.policy_settings)
        self.variants: dict[tuple[int, int, int, str], str] = {}  # (item, template, antecedent, size) -> variant id
        self._ids_lock = threading.Lock()
        self.default = self._default_banner()
        self.variant_ids_for(self._all_banners())
        self.uniforms: dict[str, float] = {}
        self._remember_uniforms(list(users))
        # (user, size) -> (the candidates, the stamp, the decision) of the last decision
        self._kept: dict[tuple[str, str], tuple[CandidateSet, tuple, Choice | None]] = {}
        self.clock: Callable[[], float] = time.time  # seconds since the epoch; tests move it
        self._campaigns = [t.campaign for t in model.templates]
        self._open_second = -1
        self._open: np.ndarray | None = None  # None: every template may be chosen now

    def open_templates(self) -> np.ndarray | None:
        """Per template index (+ one entry for index -1), whether its campaign may be chosen this
        second: status live, inside its window; None when all may. Candidates are built when a
        user's profile is, so a window that closes (or a template paused) while the server runs is
        applied here, at decision time; one that opens reaches a user with their next rebuild."""
        second = int(self.clock())
        if second != self._open_second:
            now = datetime.fromtimestamp(second, UTC)
            is_open = [c.state(now) == "live" for c in self._campaigns]
            self._open = None if all(is_open) else np.asarray(is_open + [True])
            self._open_second = second
        return self._open

    @classmethod
    def build(cls, engine: Engine) -> DecisionState:
        """Score every user of the engine's model once (vectorized, in blocks)."""
        model = engine.model
        users = user_candidates(model, np.arange(model.profiles.n_users), engine.policy_settings, engine.segments)
        return cls(engine, users)

    # -- variant ids -------------------------------------------------------------------------------
    def _all_banners(self) -> set[tuple[int, int, int]]:
        banners = banners_of(stack(list(self.users.values()))) if self.users else set()
        if self.default is not None:
            banners.add((self.default[0], self.default[1], -1))
        return banners

    def variant_ids_for(self, banners: set[tuple[int, int, int]]) -> None:
        """Compute (once) the variant id of every size of these (item, template, antecedent) banners."""
        engine = self.engine
        with self._ids_lock:
            todo = [(i, t, a) for i, t, a in banners
                    if (i, t, a, next(iter(self.template_sizes[t]), "")) not in self.variants]
            for item, t, a in todo:
                template = self.model.templates[t]
                context = self.context(item, t, a)
                for size in template.sizes:
                    label = str(Size(*size))
                    if label in self.template_sizes[t]:
                        spec = RenderSpec(template.id, tuple(size), context)
                        self.variants[(item, t, a, label)] = engine.renderer.variant_id(spec)

    def context(self, item: int, template: int, antecedent: int = -1):
        """The BannerContext of a banner, as batch render builds it (carousel items, cross-sell trigger)."""
        companions = self.model.carousel.companions if self.model.carousel is not None else None
        return template_context(self.model.catalog, item, self.model.templates[template],
                                self.engine.project.catalog.parent, companions, antecedent)

    def spec(self, item: int, template: int, size: str, antecedent: int = -1):
        """The RenderSpec of a variant (for rendering on demand)."""
        return RenderSpec(self.model.templates[template].id, Size.parse(size), self.context(item, template, antecedent))

    def double(self, template: int, size: str) -> str | None:
        """The 2x size label of ``size`` when the template renders one ("2400x800" for "1200x400")."""
        label = str(Size.parse(size).double())
        return label if label in self.template_sizes[template] else None

    # -- defaults ----------------------------------------------------------------------------------
    def _default_banner(self) -> tuple[int, int] | None:
        """The default banner every candidate set ends with for users who have nothing else."""
        item, template = int(self._unknown.items[0, -1]), int(self._unknown.templates[0, -1])
        return (item, template) if item >= 0 else None

    def default_choice(self, user_id: str, policy: str, reason: str, known: bool) -> Choice | None:
        """The default banner outside the kernel: for a decision that failed or overran its budget."""
        if self.default is None:
            return None
        item, t = self.default
        return Choice(user_id, item, t, str(self.item_ids[item]), self.template_ids[t], math.nan, 1.0, policy, reason,
                      known)

    # -- deciding ----------------------------------------------------------------------------------
    def update_users(self, users: dict[str, CandidateSet]) -> None:
        """Swap in recomputed candidates (from the writer thread)."""
        self.variant_ids_for(banners_of(stack(list(users.values()))) if users else set())
        self._remember_uniforms(list(users))
        self.users.update(users)

    def _remember_uniforms(self, user_ids: list[str]) -> None:
        """Each user's selection uniform, computed for many users at once (one hash per user, not per request)."""
        if user_ids:
            values = keyed_uniforms(np.asarray(user_ids, dtype=object), self.decision_policy.seed)
            self.uniforms.update(zip(user_ids, values.tolist()))

    def candidates_of(self, user_id: str) -> tuple[CandidateSet, bool]:
        """(the user's candidate set, whether the user is known); an unknown user's holds only the default."""
        cands = self.users.get(user_id)
        if cands is None:
            return replace(self._unknown, user_ids=np.asarray([user_id], dtype=object)), False
        return cands, True

    def _stamp(self, cands: CandidateSet, user_id: str) -> tuple:
        """What a decision read besides its own candidates: the feedback counts (Thompson) and which
        candidates the cap has used up today. A kept decision is reused only while its stamp holds,
        so an impression that leaves every candidate under the cap does not cost a new decision."""
        view = self.engine.feedback
        p = self.decision_policy
        capped: tuple = ()
        if p.cap_per_day > 0 and view.user_today.get(user_id, 0):
            k = cands.k
            shown = view.shown_today(cands.user_ids, cands.item_ids[:, :k], cands.template_ids[:, :k])
            capped = tuple((shown[0] >= p.cap_per_day).tolist())
        is_open = self.open_templates()
        return (view.version if p.name == "thompson" else 0, capped,
                None if is_open is None else is_open.tobytes())

    def decide(self, user_id: str, size: str) -> Choice | None:
        """The banner for ``user_id`` at ``size`` now; None when nothing at all can be shown.

        The kernel is deterministic given the candidates, the feedback it reads and the user's
        uniform, so a decision is kept per (user, size) and recomputed only when one of those moved."""
        cands, known = self.candidates_of(user_id)
        stamp = self._stamp(cands, user_id)
        kept = self._kept.get((user_id, size)) if known else None
        if kept is not None and kept[0] is cands and kept[1] == stamp:  # the same candidates, nothing read has moved
            return kept[2]
        choice = self._decide(user_id, size, cands, known, stamp[1])
        if known:
            if len(self._kept) >= KEPT_DECISIONS:
                self._kept.clear()  # bounded memory; the busiest users are back within a second
            self._kept[(user_id, size)] = (cands, stamp, choice)
        return choice

    def _decide(self, user_id: str, size: str, cands: CandidateSet, known: bool,
                capped: tuple = ()) -> Choice | None:
        available = self.renders[size][cands.templates] if size in self.renders else None
        is_open = self.open_templates()
        if is_open is not None:  # a campaign closed since the candidates were built
            available = is_open[cands.templates] if available is None else available & is_open[cands.templates]
        uniform = self.uniforms.get(user_id)
        made = decide_all(cands, self.decision_policy, self.engine.feedback, available,
                          None if uniform is None else np.asarray([uniform]))
        pos = int(made.chosen[0])
        if pos < 0:
            return None
        probs = made.probabilities[0].tolist()
        listed = made.listed()[0]
        items, templates, antecedents = (cands.items[0].tolist(), cands.templates[0].tolist(),
                                         cands.antecedents[0].tolist())
        item_ids, template_ids = cands.item_ids[0].tolist(), cands.template_ids[0].tolist()
        antecedent_ids, scores, reasons = (cands.antecedent_ids[0].tolist(), cands.scores[0].tolist(),
                                           cands.reasons[0].tolist())
        candidates = tuple(
            Listed(c, items[c], templates[c], antecedents[c], item_ids[c], template_ids[c], antecedent_ids[c],
                   scores[c], probs[c], reasons[c])
            for c in np.flatnonzero(listed).tolist())
        # The others by score: where a chosen variant is not rendered yet, the best cached one of them stands in.
        usable = listed[:-1] & (available[0, :-1] if available is not None else True)
        if capped:  # a banner the cap has used up today does not stand in for the chosen one either
            usable[: len(capped)] &= ~np.asarray(capped, dtype=bool)
        ranked = tuple((x.item, x.template, x.antecedent, x.reason) for x in candidates
                       if x.position != pos and x.position < len(usable) and usable[x.position])
        return Choice(user_id, items[pos], templates[pos], item_ids[pos], template_ids[pos], scores[pos], probs[pos],
                      str(made.policy[0]), reasons[pos] or DEFAULT_REASON, known, ranked, antecedents[pos],
                      candidates, pos)
