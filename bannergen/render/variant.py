"""Variant ids: 24 hex chars of blake2b over canonical JSON of everything that decides the bytes.

That is: the template (id, version, digest of every file in its folder), the size, every
BannerContext field (the image replaced by the sha256 of its bytes), the formats and their
encoder settings, the digests of the fonts and assets the template uses, and RENDERER_VERSION.
File digests are memoized by (path, mtime, size), so computing an id never re-reads a file that
has not changed and never renders anything.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import fields
from pathlib import Path
from typing import Any

from bannergen.templating.campaign import manifest_digest
from bannergen.templating.checks import resolve_asset
from bannergen.templating.manifest import MANIFEST
from bannergen.templating.template import Template
from bannergen.types import BannerContext

log = logging.getLogger(__name__)

ID_CHARS = 24


class Digests:
    """sha256 of files, memoized by (path, mtime_ns, size)."""

    def __init__(self) -> None:
        self._memo: dict[tuple[str, int, int], str] = {}

    def file(self, path: Path) -> str | None:
        """Hex sha256 of ``path``'s bytes, or None when it cannot be read."""
        try:
            stat = path.stat()
        except OSError:
            return None
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        digest = self._memo.get(key)
        if digest is None:
            h = hashlib.sha256()
            try:
                with path.open("rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(chunk)
            except OSError:
                return None
            digest = self._memo[key] = h.hexdigest()
        return digest

    def folder(self, folder: Path) -> dict[str, str | None]:
        """{relative posix path: sha256} of every regular file under ``folder`` (caches skipped)."""
        out: dict[str, str | None] = {}
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if path.is_file() and "__pycache__" not in rel.parts and not rel.name.startswith("."):
                out[rel.as_posix()] = self.file(path)
        return out


def context_payload(context: BannerContext, digests: Digests) -> dict[str, Any]:
    """Every field, images by the sha256 of their bytes, ``items`` recursively. Fields still at
    their default are left out, so adding an optional field never changes existing ids."""
    payload: dict[str, Any] = {}
    for f in fields(context):
        value = getattr(context, f.name)
        if f.name in _OPTIONAL and value == f.default:
            continue
        if f.name in ("image", "antecedent_image"):
            value = None if value is None else {"sha256": digests.file(Path(value)) or "unreadable"}
        elif f.name == "items":
            value = [context_payload(item, digests) for item in value]
        payload[f.name] = value
    return payload


_OPTIONAL = ("antecedent_id", "antecedent_image", "items", "list_price_value", "saving_value", "is_new", "is_sale")


def variant_id(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=ID_CHARS // 2).hexdigest()


def template_payload(template: Template, assets_dir: Path, digests: Digests) -> dict[str, Any]:
    assets = {}
    for rel in template.asset_paths():
        assets[rel] = digests.file(resolve_asset(assets_dir, rel, f"template '{template.id}'"))
    files = digests.folder(template.folder)
    if MANIFEST in files:  # publishing or pausing a template leaves its banners' ids (and feedback) as they were
        files[MANIFEST] = manifest_digest(template.folder / MANIFEST)
    return {"id": template.id, "version": template.version, "files": files, "assets": assets}
