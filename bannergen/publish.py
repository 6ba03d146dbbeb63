"""Copy rendered output to a CDN origin: a folder, or any fsspec URL (s3://, gs://, memory://, ...).

    >>> summary = publish(Path("out"), "/var/www/banners")  # doctest: +SKIP
    >>> summary.copied, summary.skipped  # doctest: +SKIP

For each OUT/<segment>/ with a manifest: the asset files not yet at DEST are copied first (a
content-addressed name that exists already holds the right bytes), then a ``_headers`` file for
static hosts (Netlify, Cloudflare Pages), then every manifest last, each atomically where the
destination allows (a folder: temp file + rename; an object store: one PUT), so a reader sees the
old or the new manifest and every file it names is already there.

The assignment tables (they hold user ids) stay behind unless ``with_assignments`` is set: a CDN
origin is public, and user ids never belong in a public file.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from bannergen.cache import atomic_write
from bannergen.errors import EnvironmentFailure, InputError

log = logging.getLogger(__name__)

IMMUTABLE = "public, max-age=31536000, immutable"
MANIFEST_CACHE = "public, max-age=60, must-revalidate"
CONTENT_TYPES = {".webp": "image/webp", ".png": "image/png", ".jpg": "image/jpeg", ".html": "text/html; charset=utf-8",
                 ".json": "application/json", ".csv": "text/csv; charset=utf-8", ".parquet": "application/octet-stream"}


@dataclass
class PublishSummary:
    dest: str
    segments: list[str] = field(default_factory=list)
    copied: int = 0
    skipped: int = 0
    bytes: int = 0
    manifests: int = 0

    def line(self) -> str:
        return (f"published {', '.join(self.segments)} to {self.dest}: {self.copied} files copied "
                f"({self.bytes / 1e6:.1f} MB), {self.skipped} already there, {self.manifests} manifest(s) written last")


def headers_file(segments: list[str]) -> str:
    """The ``_headers`` file of static hosts: immutable assets, short-lived manifests."""
    lines = []
    for seg in segments:
        lines += [f"/{seg}/assets/*", f"  Cache-Control: {IMMUTABLE}", f"/{seg}/manifest.json",
                  f"  Cache-Control: {MANIFEST_CACHE}"]
    return "\n".join(lines) + "\n"


def _segment_files(out: Path, seg: str, manifest: dict, with_assignments: bool) -> list[str]:
    """Paths relative to OUT of what a segment publishes (the manifest excluded)."""
    files = [
        str(p.relative_to(out))
        for p in sorted((out / seg / "assets").rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    ]
    if with_assignments:
        files += [f"{seg}/{rel}" for rel in manifest.get("assignments", {}).values()]
    return files


class _Folder:
    def __init__(self, root: Path) -> None:
        self.root = root

    def existing(self, prefix: str) -> set[str]:
        base = self.root / prefix
        if not base.is_dir():
            return set()
        return {str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file()}

    def copy(self, src: Path, rel: str) -> None:
        def copy_from_src(handle: BinaryIO) -> None:
            with src.open("rb") as source:
                shutil.copyfileobj(source, handle)

        atomic_write(self.root / rel, copy_from_src)

    def write(self, rel: str, data: bytes, cache_control: str) -> None:
        atomic_write(self.root / rel, data)


class _Fsspec:
    def __init__(self, url: str) -> None:
        try:
            import fsspec
        except ImportError:
            raise InputError(
                f"publishing to {url} needs fsspec", hint="pip install fsspec (and s3fs for s3://)"
            ) from None
        try:
            self.fs, self.root = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as exc:
            raise InputError(f"cannot publish to {url}: {exc}") from exc
        self.protocol = self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]
        self.root = self.root.rstrip("/")

    def _path(self, rel: str) -> str:
        if not rel:
            return self.root
        return f"{self.root}/{rel}" if self.root else rel

    def _options(self, rel: str, cache_control: str) -> dict:
        ctype = CONTENT_TYPES.get(Path(rel).suffix, "application/octet-stream")
        if self.protocol in ("s3", "s3a"):
            return {"CacheControl": cache_control, "ContentType": ctype}
        if self.protocol in ("gs", "gcs"):
            return {"content_type": ctype, "fixed_key_metadata": {"cache_control": cache_control}}
        return {}

    def existing(self, prefix: str) -> set[str]:
        base = self._path(prefix)
        try:
            found = self.fs.find(base)
        except (FileNotFoundError, OSError):
            return set()
        return {_rel(p, self.root) for p in found}

    def copy(self, src: Path, rel: str) -> None:
        self.write(rel, src.read_bytes(), IMMUTABLE)

    def write(self, rel: str, data: bytes, cache_control: str) -> None:
        try:
            # One PUT per object: object stores make it visible whole or not at all.
            self.fs.pipe_file(self._path(rel), data, **self._options(rel, cache_control))
        except OSError as exc:
            raise EnvironmentFailure(f"{self._path(rel)}: cannot write: {exc}") from exc


def _rel(path: str, root: str) -> str:
    p, r = path.strip("/"), root.strip("/")
    return p[len(r) + 1:] if r and p.startswith(r + "/") else p


def is_url(dest: str) -> bool:
    return "://" in dest and not dest.startswith("file://")


def publish(out: Path, dest: str, segments: list[str] | None = None, with_assignments: bool = False) -> PublishSummary:
    """Publish OUT/<segment>/ (every segment with a manifest, or ``segments``) to ``dest``."""
    out = Path(out)
    found = sorted(p.parent.name for p in out.glob("*/manifest.json")) if out.is_dir() else []
    chosen = segments or found
    missing = [s for s in chosen if s not in found]
    if missing or not chosen:
        raise InputError(f"no manifest for segment(s) {missing or '(any)'} under {out}",
                         hint=f"run bannergen render --segment NAME first; rendered: {found or 'none'}")
    target = _Fsspec(dest) if is_url(dest) else _Folder(Path(dest.removeprefix("file://")).resolve())
    summary = PublishSummary(dest=dest, segments=list(chosen))
    manifests = {}
    for seg in chosen:
        raw = (out / seg / "manifest.json").read_bytes()
        manifest = json.loads(raw)
        if not with_assignments:
            manifest.pop("assignments", None)
        manifests[seg] = manifest
        there = target.existing(seg)
        for rel in _segment_files(out, seg, manifest, with_assignments):
            if rel in there:
                summary.skipped += 1
                continue
            src = out / rel
            target.copy(src, rel)
            summary.copied += 1
            summary.bytes += src.stat().st_size
    target.write("_headers", headers_file(sorted(set(chosen) | _published_segments(target))).encode(), MANIFEST_CACHE)
    for seg, manifest in manifests.items():  # last: every file a manifest names is there already
        data = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
        target.write(f"{seg}/manifest.json", data, MANIFEST_CACHE)
        summary.manifests += 1
    log.info("%s", summary.line())
    return summary


def _published_segments(target) -> set[str]:
    """Segments published earlier (so the headers file keeps covering them)."""
    try:
        return {
            rel.split("/")[0] for rel in target.existing("") if rel.endswith("/manifest.json") and rel.count("/") == 1
        }
    except Exception:  # listing is best effort; the headers file then covers this run's segments
        return set()
