"""Files bannergen writes are readable by the tools around it: the umask decides their mode
(0644 under umask 022), for every writer, the published copies included."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bannergen.cache import AssetStore, atomic_write
from bannergen.data.rejects import write_rejects
from bannergen.manifest import write_manifest
from bannergen.publish import publish
from bannergen.table_files import write_table_files
from bannergen.types import Reject

VARIANT = "0123456789abcdef01234567"


def _rendered_out(root: Path) -> Path:
    """OUT/<segment>/ as a render leaves it: one asset and a manifest naming it."""
    out = root / "out"
    AssetStore(out / "shop").put(VARIANT, {"png": b"\x89PNG fake"})
    write_manifest(out / "shop", {"variants": {VARIANT: {"files": {"png": f"assets/{VARIANT}.png"}}}})
    return out


def _published(root: Path) -> list[Path]:
    out = _rendered_out(root)
    dest = root / "www"
    publish(out, str(dest))
    return [dest / "_headers", dest / "shop" / "manifest.json", dest / "shop" / "assets" / f"{VARIANT}.png"]


WRITERS: list[tuple[str, Callable[[Path], list[Path]]]] = [
    ("atomic_write bytes", lambda d: (atomic_write(d / "a.bin", b"x"), [d / "a.bin"])[1]),
    ("atomic_write streamed", lambda d: (atomic_write(d / "b.bin", lambda h: h.write(b"x")), [d / "b.bin"])[1]),
    ("asset store", lambda d: (AssetStore(d).put(VARIANT, {"png": b"x"}), [d / f"assets/{VARIANT}.png"])[1]),
    ("manifest", lambda d: [write_manifest(d, {"variants": {}})]),
    ("assignment tables", lambda d: [d / rel for rel in write_table_files(d, "assignments", _table()).values()]),
    ("rejects report", lambda d: (write_rejects(d / "rejects.txt", [Reject("c.csv", 2, "price", "bad", "'x'", "a number")]),
                                  [d / "rejects.txt"])[1]),
    ("published files", _published),
]


def _table():
    import pandas as pd

    return pd.DataFrame({"user_id": ["u1"], "size": ["300x250"]})


@pytest.fixture()
def umask() -> Iterator[Callable[[int], None]]:
    before = os.umask(0o022)
    os.umask(before)
    yield lambda mask: os.umask(mask)
    os.umask(before)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
@pytest.mark.parametrize("name, write", WRITERS, ids=[w[0] for w in WRITERS])
def test_written_files_follow_the_umask(tmp_path, umask, name, write, mask, mode):
    umask(mask)
    paths = write(tmp_path)
    assert paths
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == mode, f"{name}: {path.name} is {oct(path.stat().st_mode)}"
    assert not list(tmp_path.rglob("*.tmp")), "no temp file is left behind"


def test_a_published_manifest_is_the_rendered_one(tmp_path):
    _published(tmp_path)
    assert json.loads((tmp_path / "www/shop/manifest.json").read_text())["variants"][VARIANT]
