"""The driver of a render on Dask: stage the events, share the shop-wide facts, decide partitions,
render each unique variant once, and write the tables and the manifest last.

The driver holds the catalog, the item features, the variant specs and one partition's tables at a
time; every user's events, profiles and scores stay on the workers.
"""

from __future__ import annotations

import logging
import math
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bannergen.cache import AssetStore, atomic_write
from bannergen.config import DaskSettings, Project
from bannergen.data.rejects import LoadResult, check_reject_rate, write_rejects
from bannergen.data.sources import dask_events
from bannergen.distributed.cluster import dask_client
from bannergen.distributed.events import Piece, StagedPiece, boundaries, list_pieces, sample_users, stage_piece
from bannergen.distributed.fit import fit_on_cluster, saved_blend
from bannergen.distributed.partition import (
    PartitionOutcome,
    RunInputs,
    decide_partition,
    feedback_fields,
    partition_totals,
    render_batch,
)
from bannergen.errors import ConfigError
from bannergen.features import build_item_features
from bannergen.manifest import ASSIGNMENT_ORDER, CANDIDATE_ORDER, build_manifest, write_manifest
from bannergen.model import ShopWide
from bannergen.profile import popularity_of, resolve_as_of
from bannergen.scorers.fitting import project_fingerprint
from bannergen.scorers.settings import ScoringSettings
from bannergen.segments import Segment
from bannergen.selection.feedback_view import FeedbackView
from bannergen.selection.settings import PolicySettings
from bannergen.table_files import TableFiles, merge_sorted
from bannergen.types import RenderSpec
from bannergen.variants import RendererOptions

log = logging.getLogger(__name__)

EVENTS_PER_PARTITION = 500_000  # with [dask] partitions = 0: about this many events per partition
MERGE_ROWS = 131_072  # rows of all partitions' tables held at a time while merging them
RENDER_BATCH = 16  # variants per render task: small enough to spread over every worker to the end
WARNINGS_FILE = "render-warnings.txt"


@dataclass(frozen=True)
class DaskRender:
    """What a render on Dask did: ``stats`` as the manifest has them (users, assignments,
    unique_variants, rendered, cached, rejects), the text-fitting warnings, partitions and workers."""

    stats: dict[str, int]
    warnings: tuple[str, ...]
    partitions: int
    workers: int


Timed = Callable[[str], AbstractContextManager[None]]


def render_on_dask(inputs: RunInputs, catalog: LoadResult, templates: dict, key: str, dask: DaskSettings,
                   timed: Timed, progress: Callable[[int, int], None] | None = None) -> DaskRender:
    """Render ``inputs.segment`` to ``inputs.out`` on the cluster of ``dask`` (see the package);
    ``catalog`` is the checked catalog ``inputs`` was made from (its rejects are reported)."""
    project = inputs.project
    if project.mapping_table is not None:
        raise ConfigError("--executor dask reads the native catalog and events; a [mapping] table is read "
                          "by the local executor only", hint="render without --executor dask")
    shutil.rmtree(inputs.scratch, ignore_errors=True)
    try:
        with dask_client(dask.scheduler, dask.workers) as client:
            workers = max(1, len(client.scheduler_info()["workers"]))
            return _run(client, workers, inputs, catalog, templates, key, dask, timed, progress)
    finally:
        shutil.rmtree(inputs.scratch, ignore_errors=True)


def _run(client: Any, workers: int, inputs: RunInputs, catalog: LoadResult, templates: dict, key: str,
         dask: DaskSettings, timed: Timed, progress: Callable[[int, int], None] | None) -> DaskRender:
    project = inputs.project
    # The saved blend is loaded on a worker while the others stage the events; when it is stale it
    # is fitted from the partitions' sums. Either way it is copied to every worker before the
    # partitions need it, never refitted per partition.
    # The fingerprint hashes the events file: once, here, for the load and the save alike.
    fingerprint = "" if inputs.settings.blend is None else project_fingerprint(project)
    saved = None if inputs.settings.blend is None else client.submit(saved_blend, project, inputs.settings,
                                                                      fingerprint, pure=False)
    with timed("load"):
        pieces = list_pieces(dask_events(project) or str(project.events))
        count = dask.partitions or max(2 * workers, math.ceil(sum(p.rows for p in pieces) / EVENTS_PER_PARTITION))
        cuts = boundaries(client.gather(client.map(sample_users, pieces, pure=False)), count)
        count = len(cuts) + 1
        n = len(pieces)
        shared_cuts, known = client.scatter([cuts, pd.Index(inputs.catalog["item_id"])], broadcast=True)
        staged: list[StagedPiece] = client.gather(client.map(
            stage_piece, pieces, [shared_cuts] * n, [inputs.scratch] * n, [known] * n, pure=False))
        rejects = _check_rejects(project, catalog, pieces, staged)
    with timed("profile"):
        newest = [s.newest for s in staged if s.newest is not None]
        as_of = resolve_as_of(pd.DataFrame({"ts": [max(newest)] if newest else []}), project.as_of)
        shared = client.scatter(inputs, broadcast=True)
        totals = client.gather(client.map(partition_totals, [shared] * count, range(count), [as_of] * count,
                                           pure=False))
        shop = ShopWide(inputs.features, as_of, popularity_of(np.sum(totals, axis=0)),
                        any(s.has_purchases for s in staged))
        shared = client.scatter(replace(inputs, shop=shop), broadcast=True)
    blend = None
    if saved is not None:
        with timed("fit"):
            blend = fit_on_cluster(client, saved, fingerprint, shared, inputs, count, workers)
            client.replicate([blend])
    from distributed import as_completed  # an optional dependency: imported once a cluster is up

    renders = _UniqueRenders(client, shared, inputs, progress)
    with timed("select"):  # renders start as partitions come in: the select stage holds some of them
        decided = client.map(decide_partition, [shared] * count, [blend] * count, range(count), pure=False)
        outcomes: list[PartitionOutcome] = []
        for future in as_completed(decided, loop=client.loop):
            outcome: PartitionOutcome = future.result()
            future.release()
            renders.add(outcome.specs)
            outcomes.append(replace(outcome, specs={}))  # the driver keeps each variant's spec once
        outcomes.sort(key=lambda o: o.partition)
    with timed("render"):
        specs, rendered, cached, warnings = renders.finish()
    with timed("write"):
        assignment_paths = _merge_tables(inputs.out, "assignments", [o.assignments_file for o in outcomes],
                                         ASSIGNMENT_ORDER)
        candidate_paths = _merge_tables(inputs.out, "candidates", [o.candidates_file for o in outcomes],
                                        CANDIDATE_ORDER)
        users = sum(o.users for o in outcomes)
        assignments = sum(o.assignments for o in outcomes)
        stats = {"users": users, "assignments": assignments, "unique_variants": len(specs), "rendered": rendered,
                 "cached": cached, "rejects": rejects}
        store = AssetStore(inputs.out)
        manifest = build_manifest(inputs.segment, pd.DataFrame(), specs, templates, store, project.formats,
                                  assignment_paths, stats, candidate_paths)
        manifest["run_key"] = key
        if warnings:
            atomic_write(inputs.out / WARNINGS_FILE, ("\n".join(warnings) + "\n").encode("utf-8"))
        write_manifest(inputs.out, manifest)
    return DaskRender(stats, tuple(warnings), count, workers)


def _check_rejects(project: Project, catalog: LoadResult, pieces: list[Piece], staged: list[StagedPiece]) -> int:
    """Write the rejected rows (catalog, then events in file order) and fail closed above the limit,
    as the local loader does; returns how many rows were rejected."""
    events = LoadResult(pd.DataFrame(), tuple(r for s in staged for r in s.rejects),
                        sum(s.rows_read for s in staged))
    write_rejects(project.rejects, catalog.rejects + events.rejects)
    check_reject_rate(catalog, project.catalog, project.max_reject_rate, rejects_path=project.rejects)
    source = pieces[0].url if len({p.url for p in pieces}) == 1 else str(project.events)
    check_reject_rate(events, Path(source), project.max_reject_rate, rejects_path=project.rejects)
    return len(catalog.rejects) + len(events.rejects)


class _UniqueRenders:
    """Each variant some partition needs and the store lacks is rendered once, on the workers:
    variant ids are known before rendering, so the driver drops repeats across partitions and
    submits the rest as each partition comes in."""

    def __init__(self, client: Any, shared: Any, inputs: RunInputs,
                 progress: Callable[[int, int], None] | None) -> None:
        self.client, self.shared, self.progress = client, shared, progress
        self.store, self.formats = AssetStore(inputs.out), inputs.options.formats
        self.specs: dict[str, RenderSpec] = {}
        self.futures: list[Any] = []
        self.sizes: dict[str, int] = {}
        self.todo = 0

    def add(self, specs: dict[str, RenderSpec]) -> None:
        new = sorted((vid, spec) for vid, spec in specs.items() if vid not in self.specs)
        self.specs.update(new)
        todo = [(vid, spec) for vid, spec in new if not self.store.has(vid, self.formats)]
        batches = [todo[i: i + RENDER_BATCH] for i in range(0, len(todo), RENDER_BATCH)]
        futures = self.client.map(render_batch, [self.shared] * len(batches), batches, pure=False)
        self.sizes.update({f.key: len(b) for f, b in zip(futures, batches)})
        self.futures += futures
        self.todo += len(todo)

    def finish(self) -> tuple[dict[str, RenderSpec], int, int, list[str]]:
        """Wait for every render: (specs by variant id, rendered, cached, warnings)."""
        from distributed import as_completed

        warnings: list[str] = []
        done = 0
        if self.progress:
            self.progress(0, self.todo)
        for future in as_completed(self.futures, loop=self.client.loop):
            warnings.extend(future.result())
            done += self.sizes[future.key]
            if self.progress:
                self.progress(done, self.todo)
        _remove_partial_files(self.store.root)
        for w in warnings:
            log.info("%s", w)
        return self.specs, self.todo, len(self.specs) - self.todo, sorted(warnings)


def _remove_partial_files(folder: Path) -> None:
    """Remove the temp files of writes a killed worker never finished (Dask ran those renders again
    elsewhere; every render of this run is over, so no temp file here is still being written)."""
    for temp in folder.glob(".*.tmp"):
        temp.unlink(missing_ok=True)


def _merge_tables(out: Path, folder: str, files: list[Path], keys: list[str]) -> dict[str, str]:
    """One content-addressed table from the partitions' sorted tables, merged in order of ``keys``
    a batch of rows per partition at a time (table_files.merge_sorted): the driver never holds
    every user's rows, and the bytes are those of the whole table sorted at once."""
    table = TableFiles(out, folder)
    try:
        batch = max(1_024, MERGE_ROWS // max(1, len(files)))  # the same whatever the number of partitions
        for frame in merge_sorted([_batches(path, batch) for path in files], keys):
            table.add(frame)
    except BaseException:
        table.abort()
        raise
    return table.close()


def _batches(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    for batch in parquet.iter_batches(batch_size=rows):
        yield batch.to_pandas()


def run_inputs(project: Project, segment: str, out: Path, catalog: pd.DataFrame, settings: ScoringSettings,
               policy: PolicySettings, segments: dict[str, Segment], options: RendererOptions,
               feedback: FeedbackView | None, key: str) -> RunInputs:
    """The run's shared inputs on the driver (the shop-wide facts are added once summed)."""
    features = build_item_features(catalog, settings.weights)
    return RunInputs(project, segment, settings, policy, segments, catalog, features, options, out / ".partitions",
                     out, key, None if feedback is None else feedback_fields(feedback))
