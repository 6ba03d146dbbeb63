"""The run key: a fingerprint of everything a render's output depends on.

A render writes it into OUT/manifest.json. A later render with the same key has nothing new to
compute (the same data, rules, templates, assets, settings, code and feedback give the same
decisions and bytes; the campaign state of every template, which a window opening or closing
changes, is part of it), so it checks that the files are still there and stops: an unchanged
rerun costs a few file hashes instead of a model fit and a scoring pass. `--force` recomputes.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Protocol

from bannergen import __version__
from bannergen.config import Project
from bannergen.data.sources import dask_events, source_state
from bannergen.manifest import read_manifest
from bannergen.templating.campaign import campaign_states, now_utc


class _Hasher(Protocol):
    """What the run key needs of a hashlib object (blake2b and sha256 alike)."""

    def update(self, data: bytes, /) -> None: ...


def _hash_tree(h: _Hasher, root: Path, contents: bool) -> None:
    """Fold every file under ``root`` into ``h``: its relative path and either its bytes
    (``contents``) or its size and modification time (cheap, for large image folders)."""
    if not root.exists():
        h.update(f"<absent {root.name}>".encode())
        return
    for folder, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            h.update(str(path.relative_to(root)).encode())
            if contents:
                with open(path, "rb") as handle:
                    for chunk in iter(lambda: handle.read(1 << 20), b""):
                        h.update(chunk)
            else:
                st = path.stat()
                h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())


def run_key(project: Project, segment: str, limit: int | None, caps_active: bool) -> str:
    """Hex key of a render of ``segment`` (first ``limit`` users) on ``project``."""
    from bannergen.privacy.fingerprint import privacy_fingerprint
    from bannergen.render.engine import RENDERER_VERSION

    h = hashlib.blake2b(digest_size=16)
    settings = {
        "version": __version__,
        "renderer": RENDERER_VERSION,
        "segment": segment,
        "limit": limit,
        "formats": project.formats,
        "quality": [project.webp_quality, project.jpg_quality, project.png_compress_level],
        "sizes": project.sizes,
        "seed": project.seed,
        "as_of": project.as_of,
        "max_reject_rate": project.max_reject_rate,
        "mapping": [str(getattr(project, "mapping_table", "")), list(getattr(project, "mapping", ()))],
        "privacy": privacy_fingerprint(project),  # the secret, forgotten users, consent: who is in the tables
    }
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    for data in (project.catalog, project.events, getattr(project, "mapping_table", None)):
        if data is not None:
            _hash_tree(h, Path(data), contents=True) if Path(data).is_dir() else _hash_file(h, Path(data))
    dataset = dask_events(project)
    if dataset is not None:  # read instead of [data] events by a render on Dask
        h.update(json.dumps(source_state(dataset)).encode())
    _hash_tree(h, project.catalog.parent, contents=False)  # product images: size and mtime
    for folder in (project.scoring, project.templates, project.assets):
        _hash_tree(h, folder, contents=True)
    # A campaign window opening or closing changes which templates may be chosen, with no file changed.
    h.update(json.dumps(campaign_states(project.templates, now_utc()), sort_keys=True).encode())
    # Feedback moves Thompson posteriors and frequency caps; caps also reset every UTC day. The
    # store only grows (events are idempotent by id), so its event count says whether it changed;
    # file times would not do: merely reading a WAL database touches its files.
    if project.store_url or Path(project.feedback_store).exists():
        from bannergen.store import open_feedback_store

        store = open_feedback_store(project.feedback_location)
        try:
            h.update(f"feedback:{store.count()}".encode())
        finally:
            store.close()
        if caps_active:
            h.update(time.strftime("%Y-%m-%d", time.gmtime()).encode())
    return h.hexdigest()


def _hash_file(h: _Hasher, path: Path) -> None:
    h.update(path.name.encode())
    if not path.is_file():
        h.update(b"<absent>")
        return
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)


def finished_render(out: Path, key: str) -> dict | None:
    """The manifest of the render already in ``out`` if it was made with ``key`` and every file it
    lists is still there; None when the render has to run."""
    try:
        manifest = read_manifest(out)
    except (OSError, ValueError):
        return None
    if manifest.get("run_key") != key or not manifest.get("candidates"):
        return None  # another key, or a render from before decision logs were written beside it
    listed = [rel for v in manifest.get("variants", {}).values() for rel in v.get("files", {}).values()]
    listed += list(manifest.get("assignments", {}).values()) + list(manifest.get("candidates", {}).values())
    return manifest if all((out / rel).is_file() for rel in listed) else None
