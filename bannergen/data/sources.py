"""Where a render on Dask reads its events, and what that source is now.

``[dask] events`` may name a Parquet dataset (a folder, or an fsspec URL) instead of
``[data] events``. The run key and the fitted model's fingerprint must change when it does, yet
it may be too large (or too remote) to hash byte by byte: its state is each file's name, size and
modification time (or the store's ETag), read from the listing alone.
"""

from __future__ import annotations

from typing import Any

from bannergen.config import Project


def dask_events(project: Project) -> str | None:
    """The ``[dask] events`` source as a URL or an absolute path, or None when it is not set."""
    source = project.dask.events
    if not source:
        return None
    return source if "://" in source else str((project.root / source).resolve())


def source_state(source: str) -> list[list[Any]]:
    """[name, size, version] of every file of ``source`` (a file, a folder, or an fsspec URL of
    either), in name order; an absent source is ``[["<absent>", source]]``."""
    import fsspec.core

    fs, path = fsspec.core.url_to_fs(source)
    if not fs.exists(path):
        return [["<absent>", source]]
    files = sorted(fs.find(path, detail=True).items()) if fs.isdir(path) else [(path, fs.info(path))]
    state: list[list[Any]] = []
    for name, info in files:
        version = next((info[k] for k in ("mtime", "LastModified", "ETag", "etag", "md5Hash", "updated", "created")
                        if info.get(k) is not None), None)
        state.append([str(name), int(info.get("size") or 0), str(version)])
    return state
