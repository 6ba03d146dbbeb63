"""The content-addressed, write-once asset store under OUT/assets/.

A file is named by its variant id (a hash of everything that decides its bytes), so a name that
exists already holds the right bytes: it is never rewritten. Every write goes to a temp file in
the same folder and is renamed into place, so a reader (or a CDN pulling the folder) sees the
whole file or nothing, and a crash leaves no half-written asset.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from bannergen.errors import EnvironmentFailure

VARIANT_ID = re.compile(r"^[0-9a-f]{24}$")
FORMAT_SUFFIX = {"png": ".png", "webp": ".webp", "jpg": ".jpg", "html": ".html"}


def umask_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give a new file: 0o666 less the process umask
    (0o644 under the usual umask 022)."""
    return 0o666 & ~_umask()


def _umask() -> int:
    # Linux reports it without changing it; os.umask can only read it by setting it, which for an
    # instant gives files that other threads create a umask of 0.
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: bytes | Callable[[BinaryIO], object]) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and os.replace, so a reader
    sees the old file or the whole new one. ``data`` is the bytes, or a function that writes them
    to the binary file it is given (for output too large to hold twice in memory). Parent folders
    are created; an OSError becomes EnvironmentFailure naming the path.

    The file gets the umask's permissions, like any file the user's tools write: mkstemp makes
    its temp files 0600, which a web server or CDN agent running as another user cannot read.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                if callable(data):
                    data(handle)
                else:
                    handle.write(data)
                os.fchmod(handle.fileno(), umask_mode())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise EnvironmentFailure(f"{path}: cannot write: {exc.strerror or exc}") from exc


class AssetStore:
    """Files of rendered variants, keyed by variant id and format, relative to an output folder."""

    def __init__(self, out: Path, folder: str = "assets") -> None:
        self.out = out
        self.folder = folder
        self.root = out / folder

    def relative(self, variant_id: str, fmt: str) -> str:
        """Path of a variant's file relative to the output folder, as written in the manifest."""
        if not VARIANT_ID.match(variant_id):
            raise ValueError(f"not a variant id: {variant_id!r}")
        return f"{self.folder}/{variant_id}{FORMAT_SUFFIX[fmt]}"

    def files(self, variant_id: str, formats: tuple[str, ...]) -> dict[str, str]:
        return {fmt: self.relative(variant_id, fmt) for fmt in formats}

    def has(self, variant_id: str, formats: tuple[str, ...]) -> bool:
        return all((self.out / rel).is_file() for rel in self.files(variant_id, formats).values())

    def put(self, variant_id: str, files: dict[str, bytes], sidecars: dict[str, bytes] | None = None) -> None:
        """Store a variant's files (and the sidecars its HTML refers to), each written once."""
        for name, data in (sidecars or {}).items():
            target = (self.root / name).resolve()
            if not target.is_relative_to(self.root.resolve()):
                raise ValueError(f"sidecar name escapes the asset folder: {name!r}")
            if not target.exists():
                atomic_write(target, data)
        for fmt, data in files.items():
            target = self.out / self.relative(variant_id, fmt)
            if not target.exists():
                atomic_write(target, data)
