"""Variants nobody rendered yet, drawn by worker processes while the server keeps answering.

Batch render draws every banner a policy may show its segment's users; a decision that still
lands on a missing variant (a user outside the rendered segments, a size not pre-rendered, a
banner new since the render) is answered at once with the best rendered candidate, and the
missing variant is queued here. Rendering is CPU-bound Pillow work: in a thread of the serving
process it would hold the GIL against the event loop (half the samples of a profile of the old
in-process renderer were Pillow), so it runs in separate processes, at a lower scheduling
priority, each with its own Renderer and writing its own files (atomically, to OUT/_live/assets).
Only the variant id and the spec travel over the pipe.

    >>> pool = RenderPool(engine.renderer_options(), out, workers=1, on_done=assets.note)  # doctest: +SKIP
    >>> pool.submit(variant_id, spec)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from bannergen.cache import AssetStore
from bannergen.parent_death import die_with_parent
from bannergen.types import RenderSpec
from bannergen.variants import RendererOptions

log = logging.getLogger(__name__)

NICENESS = 10  # below the serving process: renders take the CPU the event loop leaves

_worker: tuple | None = None  # (renderer, store) in a worker process


def _start_worker(server_pid: int, options: RendererOptions, out: Path) -> None:
    global _worker
    die_with_parent(server_pid)  # a server that stops, kill -9 included, leaves no renderer behind
    with contextlib.suppress(OSError):  # not allowed here: render at the same priority
        os.nice(NICENESS)
    _worker = (options.build(), AssetStore(out))


def _render(variant_id: str, spec: RenderSpec) -> str:
    renderer, store = _worker  # type: ignore[misc]
    result = renderer.render(spec)
    store.put(variant_id, result.files, result.sidecars)
    return variant_id


def _ready() -> int:
    return os.getpid()


class RenderPool:
    """Worker processes that render missing variants, each variant once however often it is asked for.

    ``on_done(variant_id)`` runs when a variant's files are on disk; ``on_error(variant_id, exc)``
    when rendering failed (both on the pool's result thread, never the event loop's)."""

    def __init__(self, options: RendererOptions, out: Path, *, workers: int = 1,
                 on_done: Callable[[str], None] = lambda _vid: None,
                 on_error: Callable[[str, BaseException], None] = lambda _vid, _exc: None) -> None:
        self.out = out
        self.on_done = on_done
        self.on_error = on_error
        self.pending: dict[str, Future] = {}
        self._options, self._workers = options, max(1, workers)
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn, not fork: the serving process has threads (the writer, the event loop) and holds
        # gigabytes of state a fork would share for no use; a spawned worker imports only the renderer.
        return ProcessPoolExecutor(self._workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(os.getpid(), self._options, self.out))

    def start(self) -> Future:
        """Start the workers now (a spawned worker takes a second or two to import the renderer),
        so the first missing variant does not wait for them; the future completes when one is up."""
        return self._pool.submit(_ready)

    def submit(self, variant_id: str, spec: RenderSpec) -> Future:
        fut = self.pending.get(variant_id)
        if fut is None:
            try:
                fut = self._pool.submit(_render, variant_id, spec)
            except BrokenProcessPool:  # a worker died (killed, out of memory): start a fresh pool
                log.warning("render pool broken; starting a new one")
                self._pool = self._new_pool()
                fut = self._pool.submit(_render, variant_id, spec)
            self.pending[variant_id] = fut
            fut.add_done_callback(lambda f: self._finished(variant_id, f))
        return fut

    def _finished(self, variant_id: str, fut: Future) -> None:
        self.pending.pop(variant_id, None)
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is None:
            self.on_done(variant_id)
        else:
            self.on_error(variant_id, exc)

    def __len__(self) -> int:
        return len(self.pending)

    def close(self) -> None:
        """Drop what is queued, let a render in progress finish (its file is written atomically), stop."""
        self._pool.shutdown(wait=True, cancel_futures=True)
