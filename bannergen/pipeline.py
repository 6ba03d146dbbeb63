"""One object that runs the stages: load -> profile -> score -> select -> render -> write.

    >>> from bannergen.config import load_project
    >>> engine = Engine(load_project(Path(".")))
    >>> summary = engine.render("camera-fans")
    >>> summary.rendered, summary.cached

Every stage is timed (``summary.timings``). Nothing is written until the inputs have passed
validation, so a run that fails closed leaves the previous output as it was.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from bannergen.cache import AssetStore, atomic_write
from bannergen.config import Project
from bannergen.contexts import template_context
from bannergen.errors import UnknownUserError
from bannergen.manifest import (
    build_manifest, read_manifest, variant_index, write_assignments, write_candidates, write_manifest,
)
from bannergen.model import Model, build_model
from bannergen.profile import VERB_BY_RANK
from bannergen.runkey import run_key
from bannergen.scorers.fitting import project_fingerprint
from bannergen.scorers.settings import ScoringSettings, load_scoring
from bannergen.segments import Segment, get_segment, load_segments
from bannergen.selection.candidate_set import build_candidate_set, with_reasons
from bannergen.selection.kernel import Decisions, decide_all
from bannergen.selection.decide import BatchDecisions, decide
from bannergen.selection.feedback_view import FeedbackView
from bannergen.selection.settings import PolicySettings, load_policy_settings
from bannergen.types import Candidate, Reject
from bannergen.variants import Progress, RendererOptions, plan_variants, render_variants

log = logging.getLogger(__name__)

WARNINGS_FILE = "render-warnings.txt"


def release_free_memory() -> None:
    """Hand the heap that loading and fitting freed back to the operating system, so fitting starts
    from the shop's size and scoring from the live model's, not from the previous stage's peak.
    Both allocators keep freed memory otherwise: glibc's heap, and Arrow's pool (a Parquet read of
    5M events leaves ~600 MB there after its columns became pandas arrays)."""
    import ctypes
    import gc
    import sys

    gc.collect()
    arrow = sys.modules.get("pyarrow")  # only if something loaded it: no import for CSV shops
    if arrow is not None:
        arrow.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim, nothing lost
        pass


@dataclass(frozen=True)
class Shop:
    catalog: pd.DataFrame
    events: pd.DataFrame
    rejects: tuple[Reject, ...]
    rows_read: int
    baskets: pd.DataFrame | None = None  # (basket, item_id) orders for association rules, when known


@dataclass(frozen=True)
class RenderSummary:
    segment: str
    out: Path
    users: int
    assignments: int
    unique_variants: int
    rendered: int
    cached: int
    rejects: int
    warnings: tuple[str, ...]
    timings: dict[str, float]
    unchanged: bool = False  # True: OUT already held this exact render (same run key); nothing was recomputed

    @property
    def seconds(self) -> float:
        return sum(self.timings.values())

    def as_dict(self) -> dict:
        return {
            "segment": self.segment,
            "out": str(self.out),
            "users": self.users,
            "assignments": self.assignments,
            "unique_variants": self.unique_variants,
            "rendered": self.rendered,
            "cached": self.cached,
            "rejects": self.rejects,
            "warnings": len(self.warnings),
            "seconds": round(self.seconds, 3),
            "unchanged": self.unchanged,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }


@dataclass(frozen=True)
class UserExplanation:
    user_id: str
    item_weights: pd.DataFrame  # item_id, title, brand, category, price, weight (w_ij), strongest event
    searches: pd.DataFrame  # query, weight
    interests: pd.DataFrame  # feature, share (U_i), top entries
    candidates: list[Candidate]
    chosen: Candidate | None
    propensity: float
    policy: str
    explanation: str
    segments: list[str]
    temperature: float
    policy_rule: str  # how the probabilities were computed, in words
    decision_id: str = ""
    contributions: list[dict[str, float]] = field(default_factory=list)  # per candidate: scorer -> part of s
    rules: list[str] = field(default_factory=list)  # per candidate: the association rule that fired, or ""

    def as_dict(self) -> dict:
        """What ``bannergen explain --format json`` prints: the decision and its candidates."""

        def number(x: float) -> float | None:
            return None if x != x or x in (float("inf"), float("-inf")) else x

        return {
            "user_id": self.user_id,
            "segments": self.segments,
            "policy": self.policy,
            "propensity": self.propensity,
            "explanation": self.explanation,
            "chosen": None if self.chosen is None else {"position": self.chosen.position, "item_id": self.chosen.item_id,
                                                        "template": self.chosen.template_id},
            "candidates": [
                {"position": c.position, "item_id": c.item_id, "template": c.template_id, "antecedent_id": c.antecedent_id,
                 "headline": c.headline, "score": number(c.score), "probability": c.probability, "reason": c.reason}
                for c in self.candidates
            ],
            "interests": [{"feature": r.feature, "share": float(r.share)} for r in self.interests.itertuples(index=False)],
        }


def policy_rule(name: str, temperature: float, settings: PolicySettings) -> str:
    """How the kernel turns candidates into probabilities under policy ``name``, in one line."""
    if name == "softmax":
        return f"softmax P = exp(s/t) / sum exp(s/t), t = {temperature:g}"
    if name == "greedy":
        return "greedy policy: all of it on the best score"
    return (f"Thompson sampling: P(best CTR draw) from Beta posteriors (prior CTR {settings.prior_ctr:g} at the mean "
            f"score, worth {settings.prior_strength:g} impressions), floor {settings.exploration_floor:g}, "
            f"{settings.draws} draws")


@dataclass
class Engine:
    """Runs bannergen on a project. Stages are computed lazily and once per Engine."""

    project: Project
    timings: dict[str, float] = field(default_factory=dict)
    _subscribed: bool = field(default=False, repr=False)

    @contextmanager
    def _timed(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - start

    # -- stages ---------------------------------------------------------------------------------
    @cached_property
    def scoring(self) -> ScoringSettings:
        return load_scoring(self.project.scoring)

    @cached_property
    def segments(self) -> dict[str, Segment]:
        return load_segments(self.project.scoring / "segments.toml")

    @cached_property
    def policy(self) -> PolicySettings:
        return load_policy_settings(self.project.scoring / "policy.toml")

    @cached_property
    def feedback(self) -> FeedbackView:
        """Feedback on rendered banners: loaded from the project's store when it has one, and kept
        current by every later commit in this process (real time, no refit)."""
        variants = variant_index(self.project.out)
        if not self.project.feedback_store.exists():
            return FeedbackView(variants, scope=self.policy.scope)
        with self._timed("feedback"):
            view = FeedbackView.load(self.store, variants, time.time_ns() // 1000, self.policy.scope)
        self.store.subscribe(view.on_commit)
        self._subscribed = True
        return view

    @cached_property
    def store(self):
        """The project's feedback store (a FeedbackStore), opened or created on first use."""
        from bannergen.feedback import open_store

        return open_store(self.project.feedback_store)

    def record_feedback(self, events: pd.DataFrame, source: str = "<events>") -> tuple:
        """Validate and store feedback events (impression, click, conversion); the next decision
        in this process sees them. Returns (IngestCounts, rejects)."""
        from bannergen.feedback.validate import validate_frame

        view = self.feedback
        checked = validate_frame(events, source)
        store = self.store
        if not self._subscribed:  # the store was created after the view: connect them now
            store.subscribe(view.on_commit)
            self._subscribed = True
        counts = store.add(checked.frame)
        view.note_impressions(checked.frame, time.time_ns() // 1000)
        return counts, checked.rejects

    def decide_users(self, user_ids: list[str], segment: str = "all") -> pd.DataFrame:
        """Decisions for given users now (unknown users are left out), with current feedback."""
        model = self.model
        rows = model.profiles.user_ids.get_indexer(user_ids)
        rows = rows[rows >= 0]
        seg = get_segment(self.segments, segment)
        return decide(model, rows, seg, self.project.seed, self.policy, self.segments, self.feedback).chosen

    @cached_property
    def templates(self) -> dict:
        from bannergen.templating import load_templates

        return load_templates(self.project.templates)

    @cached_property
    def shop(self) -> Shop:
        from bannergen.data.mapping import load_shop

        with self._timed("load"):
            shop = load_shop(self.project, rejects_path=self.project.rejects)
            if shop.rejects:
                log.warning("%d rows rejected; see %s", len(shop.rejects), self.project.rejects)
        release_free_memory()
        return Shop(shop.catalog, shop.events, shop.rejects, shop.rows_read, shop.baskets)

    @cached_property
    def model(self) -> Model:
        shop, settings, templates = self.shop, self.scoring, list(self.templates.values())
        with self._timed("profile"):
            model = build_model(
                shop.catalog, shop.events, settings, templates, self.project.as_of,
                baskets=shop.baskets, models=self.project.models, fingerprint=project_fingerprint(self.project),
            )
            release_free_memory()
        return model

    def renderer_options(self) -> RendererOptions:
        p = self.project
        return RendererOptions(p.templates, p.assets, p.formats, p.webp_quality, p.jpg_quality, p.png_compress_level)

    @cached_property
    def renderer(self):
        return self.renderer_options().build()

    # -- public operations ------------------------------------------------------------------------
    def segment_sizes(self) -> pd.DataFrame:
        """segment, description, users: the size of every segment."""
        model = self.model
        rows = [(s.name, s.description, int(len(model.members(s)))) for s in self.segments.values()]
        return pd.DataFrame(rows, columns=["segment", "description", "users"])

    def decide_rows(self, rows: np.ndarray, explain: bool = False) -> Decisions:
        """The decision kernel's answer for users at profile ``rows`` now, with current feedback;
        ``explain`` computes every candidate's reason, not only the chosen one's."""
        model = self.model
        sel = model.settings.selection
        cands = build_candidate_set(model, rows, self.policy, self.segments)
        if explain:
            cands = with_reasons(model, cands)
        return decide_all(cands, self.policy.decision_policy(sel.policy, sel.temperature, self.project.seed), self.feedback)

    def decisions(self, segment: str, limit: int | None = None) -> BatchDecisions:
        seg = get_segment(self.segments, segment)
        model = self.model
        with self._timed("score"):
            rows = model.members(seg)
            if limit is not None:
                rows = rows[:limit]
        with self._timed("select"):
            return decide(model, rows, seg, self.project.seed, self.policy, self.segments, self.feedback)

    def render(
        self,
        segment: str,
        out: Path | None = None,
        limit: int | None = None,
        progress: Progress | None = None,
        force: bool = False,
    ) -> RenderSummary:
        """Decide and render banners for a segment; write assets, assignments and the manifest to OUT.

        When OUT already holds a complete render with the same run key (same data, rules,
        templates, assets, settings, code and feedback), nothing is recomputed; ``force`` does."""
        out = (out or self.project.out_for(segment)).resolve()
        get_segment(self.segments, segment)  # an unknown segment fails before any work
        with self._timed("check"):
            key = run_key(self.project, segment, limit, self.policy.cap_per_day > 0)
            unchanged = None if force else self._unchanged(out, key)
        if unchanged is not None:
            return unchanged
        made = self.decisions(segment, limit)
        decisions = made.chosen
        store = AssetStore(out)
        with self._timed("plan"):
            assignments, specs = plan_variants(
                decisions,
                self.model.catalog,
                self.project.catalog.parent,
                self.templates,
                self.renderer,
                self.project.sizes,
                self.model.carousel.companions if self.model.carousel is not None else None,
            )
        with self._timed("render"):
            outcome = render_variants(
                specs, store, self.renderer_options(), workers=self.project.workers, progress=progress
            )
        with self._timed("write"):
            paths = write_assignments(out, assignments)
            candidate_paths = write_candidates(out, made.candidates)
            stats = {
                "users": int(len(decisions)),
                "assignments": int(len(assignments)),
                "unique_variants": outcome.unique,
                "rendered": outcome.rendered,
                "cached": outcome.cached,
                "rejects": len(self.shop.rejects),
            }
            manifest = build_manifest(
                segment, assignments, specs, self.templates, store, self.project.formats, paths, stats, candidate_paths
            )
            manifest["run_key"] = key
            if outcome.warnings:
                atomic_write(out / WARNINGS_FILE, ("\n".join(outcome.warnings) + "\n").encode("utf-8"))
            write_manifest(out, manifest)
            if "feedback" in self.__dict__:  # this process decides again later: credit the new variants
                self.feedback.add_variants(variant_index(out.parent))
        return RenderSummary(
            segment=segment,
            out=out,
            users=int(len(decisions)),
            assignments=int(len(assignments)),
            unique_variants=outcome.unique,
            rendered=outcome.rendered,
            cached=outcome.cached,
            rejects=len(self.shop.rejects),
            warnings=outcome.warnings,
            timings=dict(self.timings),
        )

    def _unchanged(self, out: Path, key: str) -> RenderSummary | None:
        """The summary of the render already in ``out`` if it was made with ``key`` and every file it
        lists is still there; None when the render has to run."""
        try:
            manifest = read_manifest(out)
        except (OSError, ValueError):
            return None
        if manifest.get("run_key") != key:
            return None
        listed = [rel for v in manifest.get("variants", {}).values() for rel in v.get("files", {}).values()]
        listed += list(manifest.get("assignments", {}).values()) + list(manifest.get("candidates", {}).values())
        if not all((out / rel).is_file() for rel in listed):
            return None
        stats = manifest.get("stats", {})
        unique = len(manifest.get("variants", {}))
        return RenderSummary(
            segment=manifest.get("segment", ""),
            out=out,
            users=int(stats.get("users", 0)),
            assignments=int(stats.get("assignments", 0)),
            unique_variants=unique,
            rendered=0,
            cached=unique,
            rejects=int(stats.get("rejects", 0)),
            warnings=(),
            timings=dict(self.timings),
            unchanged=True,
        )

    def explain(self, user_id: str, top: int = 8) -> UserExplanation:
        """Everything behind one user's banner: weights, interests, candidates with probabilities."""
        model = self.model
        row = model.profiles.row(user_id)
        if row is None:
            raise UnknownUserError(
                f"user '{user_id}' has no events in {self.project.events}",
                hint="a user with no history gets the segment or global default banner",
            )
        rows = np.asarray([row])
        made = self.decide_rows(rows, explain=True)
        cands = made.candidates
        catalog = model.catalog
        companions = model.carousel.companions if model.carousel is not None else None
        candidates = []
        for position in np.flatnonzero(made.listed()[0]):
            item, template_index = int(cands.items[0, position]), int(cands.templates[0, position])
            template = model.templates[template_index]
            ctx = template_context(catalog, item, template, self.project.catalog.parent, companions,
                                   int(cands.antecedents[0, position]))
            candidates.append(Candidate(int(position), str(cands.item_ids[0, position]), template.id, template.headline(ctx),
                                        float(cands.scores[0, position]), float(made.probabilities[0, position]),
                                        str(cands.reasons[0, position]), str(cands.antecedent_ids[0, position])))
        contributions, rules = self._candidate_reasons(model, row, [c.item_id for c in candidates])
        chosen_position = int(made.chosen[0])
        chosen = next((c for c in candidates if c.position == chosen_position), None)
        weights = model.profiles.item_weights()[row].tocoo()
        strongest = model.profiles.strongest[row].toarray().ravel()[weights.col]
        item_table = catalog.iloc[weights.col][["item_id", "title", "brand", "category", "price"]].assign(
            weight=np.round(weights.data, 4), event=[VERB_BY_RANK.get(int(r), "") for r in strongest]
        ).sort_values("weight", ascending=False)
        mine = model.profiles.queries[model.profiles.queries["user"] == row]
        searches = pd.DataFrame({"query": mine["query"], "weight": np.round(mine["mass"] / model.profiles.mass[row], 4)})
        u = model.profiles.interest[row].tocoo()
        interests = pd.DataFrame({"feature": np.asarray(model.features.names, dtype=object)[u.col], "share": np.round(u.data, 4)})
        interests = interests.sort_values("share", ascending=False).head(top)
        in_segments = [s.name for s in self.segments.values() if row in model.members(s)]
        return UserExplanation(
            user_id=user_id,
            item_weights=item_table.head(top).reset_index(drop=True),
            searches=searches.reset_index(drop=True),
            interests=interests.reset_index(drop=True),
            candidates=candidates,
            chosen=chosen,
            propensity=float(made.propensity[0]),
            policy=str(made.policy[0]) if chosen is not None else "",
            explanation=chosen.reason if chosen is not None else "",
            segments=in_segments,
            temperature=model.settings.selection.temperature,
            policy_rule=policy_rule(model.settings.selection.policy, model.settings.selection.temperature, self.policy),
            contributions=contributions,
            rules=rules,
        )

    @staticmethod
    def _candidate_reasons(model: Model, row: int, item_ids: list[str]) -> tuple[list[dict[str, float]], list[str]]:
        """Each scorer's part of each candidate's score, and the association rule behind it, if any."""
        if model.blend is None or model.interactions is None or not item_ids:
            return [], []
        from bannergen.scorers.fitting import rule_sentence

        items = model.features.item_ids.get_indexer(item_ids)
        rows = np.full(len(items), row)
        parts = model.blend.contributions(model.interactions, rows, items)
        per_item = [{name: float(values[n]) for name, values in parts.items()} for n in range(len(items))]
        scorer = model.blend.scorers.get("rules")
        fired = scorer.best_rules(model.interactions, rows, items) if scorer is not None else [None] * len(items)
        return per_item, [rule_sentence(model.catalog, r) if r is not None else "" for r in fired]
