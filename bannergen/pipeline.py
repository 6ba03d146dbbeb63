"""One object that runs the stages: load -> profile -> score -> select -> render -> write.

    >>> from bannergen.config import load_project  # doctest: +SKIP
    >>> engine = Engine(load_project(Path(".")))  # doctest: +SKIP
    >>> summary = engine.render("camera-fans")  # doctest: +SKIP
    >>> summary.rendered, summary.cached  # doctest: +SKIP

Every stage is timed (``summary.timings``). Nothing is written until the inputs have passed
validation, so a run that fails closed leaves the previous output as it was.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from bannergen.cache import AssetStore, atomic_write
from bannergen.config import Project
from bannergen.errors import InputError
from bannergen.manifest import (
    build_manifest,
    for_the_cms,
    variant_index,
    write_assignments,
    write_candidates,
    write_manifest,
)
from bannergen.memory import release_free_memory
from bannergen.model import Model, build_model
from bannergen.runkey import finished_render, run_key
from bannergen.scorers.fitting import project_fingerprint
from bannergen.scorers.settings import ScoringSettings, load_scoring
from bannergen.segments import Segment, get_segment, load_segments
from bannergen.selection.decide import BatchDecisions, decide, decide_rows
from bannergen.selection.feedback_view import FeedbackView
from bannergen.selection.kernel import Decisions
from bannergen.selection.settings import PolicySettings, load_policy_settings
from bannergen.types import Reject
from bannergen.user_explanation import UserExplanation, explain_user
from bannergen.variants import Progress, RendererOptions, plan_batch, render_variants

log = logging.getLogger(__name__)

WARNINGS_FILE = "render-warnings.txt"


@dataclass(frozen=True)
class Shop:
    catalog: pd.DataFrame
    events: pd.DataFrame
    rejects: tuple[Reject, ...]
    rows_read: int
    baskets: pd.DataFrame | None = None  # (basket, item_id) orders for association rules, when known
    raw_ids: pd.Series | None = None  # pseudonym -> raw user id, in memory only (the CMS's assignments tables)


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


@dataclass
class Engine:
    """Runs bannergen on a project. Stages are computed lazily and once per Engine."""

    project: Project
    timings: dict[str, float] = field(default_factory=dict)

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
    def policy_settings(self) -> PolicySettings:
        return load_policy_settings(self.project.scoring / "policy.toml")

    @cached_property
    def feedback(self) -> FeedbackView:
        """Feedback on rendered banners: loaded from the project's store when it has one, and kept
        current by every later commit in this process (real time, no refit)."""
        view = self.feedback_now()
        return view.attach(self.store) if self._has_feedback_store() else view

    def _has_feedback_store(self) -> bool:
        return bool(self.project.store_url) or self.project.feedback_store.exists()

    def feedback_now(self) -> FeedbackView:
        """The feedback view as the store holds it now, not following the store (it can be copied
        to other processes, as a render on Dask does)."""
        variants = variant_index(self.project.out)
        if not self._has_feedback_store():
            return FeedbackView(variants, scope=self.policy_settings.scope)
        with self._timed("feedback"):
            return FeedbackView.load(self.store, variants, time.time_ns() // 1000, self.policy_settings.scope)

    @cached_property
    def store(self):
        """The project's feedback store (a FeedbackStore: the SQLite file or the [store] url's
        database), opened or created on first use."""
        from bannergen.store import open_feedback_store

        return open_feedback_store(self.project.feedback_location)

    @cached_property
    def pseudonyms(self):
        """The keyed hash raw user ids are replaced by on entry (bannergen.privacy.pseudonyms)."""
        from bannergen.privacy.pseudonyms import project_pseudonymizer

        return project_pseudonymizer(self.project)

    def record_feedback(self, events: pd.DataFrame, source: str = "<events>") -> tuple:
        """Validate and store feedback events (raw user ids: stored as pseudonyms); the next
        decision in this process sees them (FeedbackView.record). Returns (IngestCounts, rejects)."""
        if "user_id" in events.columns:
            events = events.assign(user_id=self.pseudonyms.series(events["user_id"].fillna("").astype(str)))
        return self.feedback.record(self.store, events, source)

    def decide_users(self, user_ids: list[str], segment: str = "all") -> pd.DataFrame:
        """Decisions for given (raw) user ids now (unknown users are left out), with current feedback."""
        model = self.model
        rows = model.profiles.user_ids.get_indexer(self.pseudonyms.many(user_ids))
        rows = rows[rows >= 0]
        seg = get_segment(self.segments, segment)
        return decide(model, rows, seg, self.project.seed, self.policy_settings, self.segments, self.feedback).chosen

    @cached_property
    def templates(self) -> dict:
        from bannergen.templating.manifest import load_usable_templates

        # a broken template is skipped with a one-line warning; exit 2 only when none is left
        return load_usable_templates(self.project.templates)

    @cached_property
    def shop(self) -> Shop:
        from bannergen.data.mapping import load_shop

        with self._timed("load"):
            shop = load_shop(self.project, rejects_path=self.project.rejects)
            if shop.rejects:
                log.warning("%d rows rejected; see %s", len(shop.rejects), self.project.rejects)
        release_free_memory()
        return Shop(shop.catalog, shop.events, shop.rejects, shop.rows_read, shop.baskets, shop.raw_ids)

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
        return self.renderer_options().build(self.templates)  # the templates this engine decided with

    # -- public operations ------------------------------------------------------------------------
    def segment_sizes(self) -> pd.DataFrame:
        """segment, description, users: the size of every segment."""
        model = self.model
        rows = [(s.name, s.description, int(len(model.members(s)))) for s in self.segments.values()]
        return pd.DataFrame(rows, columns=["segment", "description", "users"])

    def decide_rows(self, rows: np.ndarray, explain: bool = False) -> Decisions:
        """The decision kernel's answer for users at profile ``rows`` now, with current feedback
        (``selection.decide.decide_rows``)."""
        return decide_rows(self.model, rows, self.project.seed, self.policy_settings, self.segments, self.feedback,
                            explain)

    def decisions(self, segment: str, limit: int | None = None) -> BatchDecisions:
        seg = get_segment(self.segments, segment)
        model = self.model
        with self._timed("score"):
            rows = model.members(seg)
            if limit is not None:
                rows = rows[:limit]
        with self._timed("select"):
            return decide(model, rows, seg, self.project.seed, self.policy_settings, self.segments, self.feedback)

    def render(
        self,
        segment: str,
        out: Path | None = None,
        limit: int | None = None,
        progress: Progress | None = None,
        force: bool = False,
        executor: str = "local",
    ) -> RenderSummary:
        """Decide and render banners for a segment; write assets, assignments and the manifest to OUT.

        When OUT already holds a complete render with the same run key (same data, rules,
        templates, assets, settings, code and feedback), nothing is recomputed; ``force`` does.
        ``executor``: "local" (this process and its render workers) or "dask" (the cluster of the
        project's [dask] settings; bannergen.distributed), which writes the same files."""
        out = (out or self.project.out_for(segment)).resolve()
        started = dict(self.timings)
        get_segment(self.segments, segment)  # an unknown segment fails before any work
        with self._timed("check"):
            key = run_key(self.project, segment, limit, self.policy_settings.cap_per_day > 0)
            done = None if force else finished_render(out, key)
        if done is not None:
            stats = done.get("stats", {})
            unique = len(done.get("variants", {}))
            return RenderSummary(
                segment=done.get("segment", ""), out=out, users=int(stats.get("users", 0)),
                assignments=int(stats.get("assignments", 0)), unique_variants=unique, rendered=0, cached=unique,
                rejects=int(stats.get("rejects", 0)), warnings=(), timings=self._since(started), unchanged=True,
            )
        if executor == "dask":
            return self._render_on_dask(segment, out, limit, key, progress, started)
        made = self.decisions(segment, limit)
        decisions = made.chosen
        store = AssetStore(out)
        with self._timed("plan"):
            assignments, specs = plan_batch(made, self.model, self.project.catalog.parent, self.templates,
                                            self.renderer, self.project.sizes, self.policy_settings.holdout_template)
        with self._timed("render"):
            outcome = render_variants(
                specs, store, self.renderer_options(), workers=self.project.workers, progress=progress
            )
        with self._timed("write"):
            paths = write_assignments(out, self.for_the_cms(assignments))
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
            timings=self._since(started),
        )

    def _render_on_dask(self, segment: str, out: Path, limit: int | None, key: str, progress: Progress | None,
                        started: dict[str, float]) -> RenderSummary:
        from bannergen.data.catalog import load_catalog
        from bannergen.distributed import render_on_dask, run_inputs

        if limit is not None:
            raise InputError("--limit takes the first users of the whole segment, which the local executor "
                             "alone knows", hint="render without --limit, or without --executor dask")
        with self._timed("load"):
            catalog = load_catalog(self.project.catalog)
            inputs = run_inputs(self.project, segment, out, catalog.frame, self.scoring, self.policy_settings,
                                self.segments, self.renderer_options(), self.feedback_now(), key)
        done = render_on_dask(inputs, catalog, self.templates, key, self.project.dask, self._timed, progress)
        if "feedback" in self.__dict__:  # this process decides again later: credit the new variants
            self.feedback.add_variants(variant_index(out.parent))
        n = done.stats
        return RenderSummary(segment, out, n["users"], n["assignments"], n["unique_variants"], n["rendered"],
                             n["cached"], n["rejects"], done.warnings, self._since(started))

    def _since(self, started: dict[str, float]) -> dict[str, float]:
        """Seconds per stage spent since ``started`` (a copy of ``timings``): one call's own figures,
        every stage listed (0 for one done by an earlier call)."""
        return {stage: seconds - started.get(stage, 0.0) for stage, seconds in self.timings.items()}

    def for_the_cms(self, assignments: pd.DataFrame) -> pd.DataFrame:
        """The assignments table as the CMS gets it: raw user ids (mapped back from this run's
        pseudonyms, in memory), or the pseudonyms with ``[privacy] hashed_assignments``."""
        return for_the_cms(assignments, self.shop.raw_ids, self.project.privacy.hashed_assignments)

    def explain(self, user_id: str, top: int = 8) -> UserExplanation:
        """Everything behind one user's banner (see bannergen.user_explanation); ``user_id`` is the
        raw id, hashed here, and shown as given."""
        from dataclasses import replace

        return replace(explain_user(self, self.pseudonyms.one(user_id), top), user_id=user_id)
