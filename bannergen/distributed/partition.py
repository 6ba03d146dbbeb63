"""What runs on a worker: shop-wide sums of a partition, one partition's decisions, and renders.

Every function takes the run's ``RunInputs`` (scattered to every worker once) and works on one
partition of users or one batch of variants; the stages are the library's own
(``build_model``, ``selection.decide.decide``, ``variants.plan_variants``, ``Renderer``).
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from bannergen.cache import AssetStore, atomic_write
from bannergen.config import Project
from bannergen.distributed.events import partition_folder, read_partition
from bannergen.features import ItemFeatures
from bannergen.manifest import assignment_table, candidate_table, for_the_cms
from bannergen.model import ShopWide, build_model
from bannergen.privacy.guard import PrivacyGuard
from bannergen.profile import event_items, item_totals
from bannergen.scorers.blend import Blend
from bannergen.scorers.settings import ScoringSettings
from bannergen.segments import Segment, get_segment
from bannergen.selection.decide import decide
from bannergen.selection.feedback_view import FeedbackView
from bannergen.selection.settings import PolicySettings
from bannergen.types import RenderSpec
from bannergen.variants import RendererOptions, plan_batch, render_batch_with

TABLE_ROW_GROUP = 8192  # rows of a partition's table per Parquet row group


@dataclass(frozen=True)
class RunInputs:
    """Everything a partition needs that is the same for every partition (shared once per run)."""

    project: Project
    segment: str
    settings: ScoringSettings
    policy: PolicySettings
    segments: dict[str, Segment]
    catalog: pd.DataFrame
    features: ItemFeatures
    options: RendererOptions
    scratch: Path
    out: Path
    run_key: str  # the run's key (runkey.run_key): a worker's cached templates and renderer are this run's
    feedback: dict | None = None  # the fields of a FeedbackView (its lock does not travel): feedback_view()
    shop: ShopWide | None = None  # None until the shop-wide facts are summed

    def feedback_view(self) -> FeedbackView | None:
        return None if self.feedback is None else FeedbackView(**self.feedback)


def feedback_fields(view: FeedbackView) -> dict:
    """What a FeedbackView knows, to rebuild it in another process (not the stores it follows)."""
    return {name: getattr(view, name) for name in ("variants", "counts", "today", "day", "version", "user_today",
                                                     "scope")}


@dataclass(frozen=True)
class PartitionOutcome:
    """A decided partition: its users and assignment rows, the specs of the variants it needs, and
    its sorted tables (Parquet files in the scratch folder) for the driver to append in order."""

    partition: int
    users: int
    assignments: int
    specs: dict[str, RenderSpec]
    assignments_file: Path
    candidates_file: Path


@lru_cache(maxsize=4)
def _templates(folder: Path, run_key: str) -> dict:
    """The templates of ``folder`` as they were when the run with ``run_key`` started (a worker of a
    long-running cluster serves many runs: an edited template makes a new key). A broken template is
    skipped, as on one machine; the driver has said so once already, so workers say it quietly."""
    from bannergen.templating.manifest import load_usable_templates

    return load_usable_templates(folder, quiet=True)


_local = threading.local()


def _renderer(options: RendererOptions, run_key: str):
    """This thread's Renderer for the run with ``run_key`` (its caches of fonts and images are
    reused by every batch of the run)."""
    cached = getattr(_local, "renderer", None)
    if cached is None or cached[0] != (options, run_key):
        cached = ((options, run_key), options.build())
        _local.renderer = cached
    return cached[1]


def protected_events(inputs: RunInputs, partition: int) -> tuple[pd.DataFrame, pd.Series]:
    """The partition's events as the local loader gives them (``load_shop``): pseudonyms for user
    ids, forgotten and opted-out users' rows skipped (bannergen.privacy.guard); and each
    pseudonym's raw id. A user's events are all in one partition, so consent is judged on all of them."""
    kept = PrivacyGuard.of(inputs.project).protect(read_partition(inputs.scratch, partition))
    return kept.frame, kept.raw_ids


def partition_totals(inputs: RunInputs, partition: int, as_of: pd.Timestamp) -> np.ndarray:
    """The partition's users' decayed mass per item (``profile.item_totals``); summed over the
    partitions it is the whole shop's, exactly."""
    events, _ = protected_events(inputs, partition)
    codes, mass = event_items(events, inputs.features, inputs.settings.weights, as_of)
    return item_totals(codes, mass, inputs.features.n_items)


def decide_partition(inputs: RunInputs, blend: Blend | None, partition: int) -> PartitionOutcome:
    """Model, decisions and variant plan of one partition's users; the tables go to scratch."""
    project = inputs.project
    templates = _templates(project.templates, inputs.run_key)
    events, raw_ids = protected_events(inputs, partition)
    model = build_model(inputs.catalog, events, inputs.settings, list(templates.values()), blend=blend,
                        shop=inputs.shop)
    segment = get_segment(inputs.segments, inputs.segment)
    made = decide(model, model.members(segment), segment, project.seed, inputs.policy, inputs.segments,
                  inputs.feedback_view())
    assignments, specs = plan_batch(made, model, project.catalog.parent, templates,
                                    _renderer(inputs.options, inputs.run_key), project.sizes,
                                    inputs.policy.holdout_template)
    folder = partition_folder(inputs.scratch, partition)
    files = folder / "assignments.parquet", folder / "candidates.parquet"
    cms = for_the_cms(assignments, raw_ids, project.privacy.hashed_assignments)
    for path, table in zip(files, (assignment_table(cms), candidate_table(made.candidates))):
        buffer = io.BytesIO()
        # small row groups: the driver merges every partition's table at once, and a reader holds one
        # decoded row group per table, so its buffers stay the same whatever the number of partitions
        table.to_parquet(buffer, index=False, row_group_size=TABLE_ROW_GROUP)
        atomic_write(path, buffer.getvalue())
    return PartitionOutcome(partition, len(made.chosen), len(assignments), specs, *files)


def render_batch(inputs: RunInputs, batch: list[tuple[str, RenderSpec]]) -> list[str]:
    """Render a batch of variants into the shared destination; returns their warnings."""
    store = AssetStore(inputs.out)
    return [w for _, warns in render_batch_with(_renderer(inputs.options, inputs.run_key), store, batch) for w in warns]
