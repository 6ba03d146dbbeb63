"""The render stage: decisions -> unique variants -> files in the content-addressed store.

Each unique (template, item, size) is rendered once however many users share it, and only if
its files are not in the store already. Rendering runs in worker processes that write their
own files (only ids and warnings travel back), with one Renderer per worker so its caches of
backgrounds, fonts and resized product images are reused across variants.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bannergen.cache import AssetStore
from bannergen.parent_death import die_with_parent
from bannergen.size import Size
from bannergen.types import RenderSpec

if TYPE_CHECKING:
    from bannergen.model import Model
    from bannergen.selection.decide import BatchDecisions

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RendererOptions:
    """What a worker needs to build its own Renderer (picklable, unlike the Renderer's caches)."""

    templates_dir: Path
    assets_dir: Path
    formats: tuple[str, ...]
    webp_quality: int
    jpg_quality: int
    png_compress_level: int

    def build(self, templates: dict | None = None):  # -> Renderer
        """The Renderer of these options, over ``templates`` when the caller has them loaded (a
        worker process loads its own)."""
        from bannergen.render.engine import Renderer
        from bannergen.templating.manifest import load_usable_templates

        if templates is None:
            templates = load_usable_templates(self.templates_dir, quiet=True)  # the parent already warned
        return Renderer(
            templates,
            self.assets_dir,
            formats=self.formats,
            webp_quality=self.webp_quality,
            jpg_quality=self.jpg_quality,
            png_compress_level=self.png_compress_level,
        )


@dataclass(frozen=True)
class RenderOutcome:
    unique: int
    rendered: int
    cached: int
    warnings: tuple[str, ...]


_worker: tuple | None = None  # (renderer, store) in a worker process


def _init_worker(options: RendererOptions, out: Path) -> None:
    global _worker
    _worker = (options.build(), AssetStore(out))


def _init_pool_worker(parent_pid: int, options: RendererOptions, out: Path) -> None:
    """A pool worker's start: it ends with the render (kill -9 included), then builds its Renderer."""
    die_with_parent(parent_pid)
    _init_worker(options, out)


def _render_batch(batch: list[tuple[str, RenderSpec]]) -> list[tuple[str, tuple[str, ...]]]:
    renderer, store = _worker  # type: ignore[misc]
    return render_batch_with(renderer, store, batch)


def render_batch_with(renderer, store: AssetStore,
                      batch: list[tuple[str, RenderSpec]]) -> list[tuple[str, tuple[str, ...]]]:
    """Render ``batch`` (variant id, spec) with ``renderer`` into ``store``: (variant id, its
    text-fitting warnings) per variant. Each file is written once, atomically."""
    done = []
    for variant_id, spec in batch:
        result = renderer.render(spec)
        store.put(variant_id, result.files, result.sidecars)
        done.append(
            (variant_id, tuple(f"{variant_id} {spec.template_id} {spec.context.item_id}: {w}" for w in result.warnings))
        )
    return done


def _batches(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def render_variants(
    specs: dict[str, RenderSpec],
    store: AssetStore,
    options: RendererOptions,
    *,
    workers: int = 0,
    progress: Progress | None = None,
) -> RenderOutcome:
    """Render every spec (keyed by variant id) whose files are not in ``store`` yet."""
    todo = [(vid, spec) for vid, spec in specs.items() if not store.has(vid, options.formats)]
    cached = len(specs) - len(todo)
    warnings: list[str] = []
    done = 0
    if progress:
        progress(0, len(todo))
    workers = workers or (os.cpu_count() or 1)
    if len(todo) < 16 or workers == 1:
        _init_worker(options, store.out)
        for batch in _batches(todo, 8):
            for _, warns in _render_batch(batch):
                warnings.extend(warns)
            done += len(batch)
            if progress:
                progress(done, len(todo))
    else:
        # Small batches keep both cores busy to the end and the progress bar moving.
        size = max(1, min(32, len(todo) // (workers * 8) or 1))
        # fork, not forkserver/spawn: those re-run the caller's __main__ in each worker, which breaks
        # scripts and notebooks without a main guard. The parent's pages are shared copy-on-write;
        # workers only touch their own Renderer, so little of it is ever copied.
        context = multiprocessing.get_context("fork")
        pool = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_init_pool_worker, initargs=(os.getpid(), options, store.out))
        try:
            for result in pool.map(_render_batch, _batches(todo, size)):
                for _, warns in result:
                    warnings.extend(warns)
                done += len(result)
                if progress:
                    progress(done, len(todo))
        except BaseException:
            # Ctrl-C or a failure: drop the batches not started instead of rendering them all first
            # (what leaving a `with` block would do); the banners already written are kept.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
    for w in warnings:
        log.info("%s", w)  # the caller reports them (the CLI's summary, OUT/render-warnings.txt)
    return RenderOutcome(unique=len(specs), rendered=len(todo), cached=cached, warnings=tuple(warnings))


def plan_variants(
    decisions: pd.DataFrame,
    catalog: pd.DataFrame,
    catalog_dir: Path,
    templates: dict,
    renderer,
    sizes: tuple[str, ...] = (),
    companions: np.ndarray | None = None,
) -> tuple[pd.DataFrame, dict[str, RenderSpec]]:
    """Expand decisions to one row per (user, size) with a variant id; the specs of unique variants.

    ``sizes`` ("1200x400", ...) restricts the 1x sizes rendered, each with the 2x (3x) versions the
    template's ``scales`` declare; empty means every size of the template.
    ``companions`` (Model.carousel.companions) fills the items of multi-item templates.
    """
    from bannergen.contexts import template_context

    if "antecedent" not in decisions:
        decisions = decisions.assign(antecedent=-1)
    pairs = decisions[["item", "template", "antecedent"]].drop_duplicates()
    rows = []
    specs: dict[str, RenderSpec] = {}
    for item, template_id, antecedent in pairs.itertuples(index=False):  # per unique banner, not per user
        template = templates[template_id]
        context = template_context(catalog, int(item), template, catalog_dir, companions, int(antecedent))
        for size in template.sizes:
            label = str(Size(*size))
            # render.sizes names 1x sizes; the template's own scales (template.toml) add its 2x
            if sizes and label not in sizes and str(Size(*template.scale_of(size)[0])) not in sizes:
                continue
            spec = RenderSpec(template_id, tuple(size), context)
            variant_id = renderer.variant_id(spec)
            specs[variant_id] = spec
            rows.append((item, template_id, antecedent, label, variant_id))
    variants = pd.DataFrame(rows, columns=["item", "template", "antecedent", "size", "variant_id"])
    expanded = decisions.merge(variants, on=["item", "template", "antecedent"], how="inner")
    return expanded, specs


def plan_batch(made: BatchDecisions, model: Model, catalog_dir: Path, templates: dict, renderer,
               sizes: tuple[str, ...], holdout_template: str) -> tuple[pd.DataFrame, dict[str, RenderSpec]]:
    """A batch's assignments (``plan_variants`` of the drawn banners) and the specs of every variant
    it renders: the drawn banners and every banner a policy may draw for these users, with the
    default banner. Serve never renders in a request's path, so what it may show must be on disk."""
    companions = model.carousel.companions if model.carousel is not None else None
    plan = (model.catalog, catalog_dir, templates, renderer, sizes, companions)
    assignments, specs = plan_variants(made.chosen, *plan)
    _, drawable = plan_variants(made.drawable(model, holdout_template), *plan)
    return assignments, {**drawable, **specs}
