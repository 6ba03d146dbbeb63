"""Files of the content-addressed cache, served by name.

Only names matching the id patterns are looked up (a variant ``[0-9a-f]{24}.(webp|jpg|png|html)``
or a sidecar ``img/[0-9a-f]{20}.webp``); anything else is 404 before the disk is touched, so no
``..`` or encoded trick can reach another file. A name is looked for in every OUT/<segment>/assets
folder (and the service's own render folder); bytes are kept in a bounded memory cache, which is
safe because a content-addressed file never changes.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from pathlib import Path

VARIANT_FILE = re.compile(r"^[0-9a-f]{24}\.(webp|jpg|png|html)$")
SIDECAR_FILE = re.compile(r"^[0-9a-f]{20}\.webp$")
CONTENT_TYPES = {"webp": "image/webp", "jpg": "image/jpeg", "png": "image/png", "html": "text/html; charset=utf-8"}
IMMUTABLE = "public, max-age=31536000, immutable"


class AssetFiles:
    def __init__(self, out_root: Path, extra: tuple[Path, ...] = (), cache_bytes: int = 256 << 20) -> None:
        self.out_root = Path(out_root)
        self.extra = tuple(Path(p) for p in extra)
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.known: set[str] = set()  # variant ids with files on disk
        self.rescan()

    def folders(self) -> list[Path]:
        found = sorted(p for p in self.out_root.glob("*/assets") if p.is_dir()) if self.out_root.is_dir() else []
        return found + [p for p in self.extra if p.is_dir() and p not in found]

    def rescan(self) -> None:
        """Note every variant id present on disk (cheap: one listdir per folder)."""
        ids = set()
        for folder in self.folders():
            for path in folder.iterdir():
                if VARIANT_FILE.match(path.name):
                    ids.add(path.name[:24])
        self.known = ids

    def has(self, variant_id: str) -> bool:
        return variant_id in self.known

    def note(self, variant_id: str) -> None:
        self.known.add(variant_id)

    def get(self, relative: str) -> bytes | None:
        """Bytes of ``relative`` ("ID.webp" or "img/DIGEST.webp"), or None. Callers check the pattern."""
        data = self._cache.get(relative)
        if data is not None:
            return data
        for folder in self.folders():
            path = folder / relative
            try:
                data = path.read_bytes()
            except OSError:
                continue
            self._remember(relative, data)
            return data
        return None

    def _remember(self, key: str, data: bytes) -> None:
        if len(data) > self.cache_bytes // 8:
            return
        with self._lock:
            self._cache[key] = data
            self._size += len(data)
            while self._size > self.cache_bytes and self._cache:
                _, old = self._cache.popitem(last=False)
                self._size -= len(old)


def etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match against a strong ETag (weak comparison, as RFC 9110 says for this header)."""
    if not header:
        return False
    for part in header.split(","):
        tag = part.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False
