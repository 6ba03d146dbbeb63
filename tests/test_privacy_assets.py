"""Assets carry no personal data: a render for many users writes no file whose name, URL or bytes
hold a user id or its pseudonym (a banner's reason is per interest, not per person), and an HTML
banner loads nothing from a third party."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from privacy_project import make_project

from bannergen.config import load_project
from bannergen.pipeline import Engine

# renders hundreds of users' banners and reads every byte
pytestmark = pytest.mark.slow

# What a page loads by itself: src=, url(...), @import, <link href=>. A link the shopper may click (<a href>) is
# not loaded and goes to the shop.
EXTERNAL = re.compile(rb"""(?:\bsrc\s*=|url\(|@import|<link[^>]*\bhref\s*=)\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//""",
                      re.IGNORECASE)


def test_no_asset_name_url_or_bytes_hold_a_user_id(tmp_path):
    project = make_project(tmp_path)
    engine = Engine(load_project(project))
    summary = engine.render("all", limit=400)
    manifest = json.loads((summary.out / "manifest.json").read_text(encoding="utf-8"))
    table = pd.read_parquet(summary.out / manifest["assignments"]["parquet"])
    users = sorted(table["user_id"].unique())
    assert len(users) >= 300
    ids = [u.encode() for u in users] + [p.encode() for p in engine.pseudonyms.many(users)]
    assets = [p for p in (summary.out / "assets").rglob("*") if p.is_file()]
    assert len(assets) > 50
    names = "\n".join(str(p.relative_to(summary.out)) for p in assets).encode()
    urls = json.dumps(manifest["variants"]).encode()
    for needle in ids:
        assert needle not in names and needle not in urls, needle
    for path in assets:
        data = path.read_bytes()
        hits = [n for n in ids if n in data]
        assert not hits, (path.name, hits[:3])
        if path.suffix == ".html":
            assert not EXTERNAL.search(data), (path.name, EXTERNAL.search(data))


def test_html_banners_load_only_their_own_files(tmp_path):
    project = make_project(tmp_path)
    summary = Engine(load_project(project)).render("camera-fans", limit=20)
    pages = list((summary.out / "assets").rglob("*.html"))
    assert pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        loaded = re.findall(r"""\bsrc\s*=\s*["']([^"']+)["']""", text) + re.findall(r"""url\(\s*["']?([^"')]+)""", text)
        assert loaded, page.name  # the product image at least
        for ref in loaded:
            assert ref.startswith("data:") or not re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", ref, re.IGNORECASE), ref
            assert ref.startswith("data:") or not Path(ref).is_absolute(), ref
