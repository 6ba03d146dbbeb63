"""`bannergen publish`: assets first, the manifest last, nothing copied twice, no user ids by default."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from tree_guard import example_project

from bannergen.config import load_project
from bannergen.errors import InputError
from bannergen.pipeline import Engine
from bannergen.publish import IMMUTABLE, publish

ROOT = example_project()  # the example project; what tests write stays out of the working tree
# renders the example shop, then publishes it
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("publish")
    project = dataclasses.replace(load_project(ROOT), out=tmp / "out", workers=1)
    Engine(project).render("camera-fans", limit=2)
    return project.out


def test_folder_publish_copies_assets_then_manifest_and_is_incremental(out, tmp_path, monkeypatch):
    import bannergen.publish as pub

    order = []
    real_copy, real_write = pub._Folder.copy, pub._Folder.write
    monkeypatch.setattr(pub._Folder, "copy", lambda self, src, rel: (order.append(rel), real_copy(self, src, rel)))
    monkeypatch.setattr(
        pub._Folder, "write", lambda self, rel, data, cc: (order.append(rel), real_write(self, rel, data, cc))
    )
    dest = tmp_path / "www"
    first = publish(out, str(dest))
    assert order[-1] == "camera-fans/manifest.json" and order[-2] == "_headers"
    assets = sorted(p.relative_to(out) for p in (out / "camera-fans" / "assets").rglob("*") if p.is_file())
    assert first.copied == len(assets) and first.skipped == 0
    for rel in assets:
        assert (dest / rel).read_bytes() == (out / rel).read_bytes()
    manifest = json.loads((dest / "camera-fans" / "manifest.json").read_text())
    assert "assignments" not in manifest and not (dest / "camera-fans" / "assignments").exists()
    for entry in manifest["variants"].values():
        for rel in entry["files"].values():
            assert (dest / "camera-fans" / rel).is_file()
    assert f"Cache-Control: {IMMUTABLE}" in (dest / "_headers").read_text()
    assert "/camera-fans/manifest.json" in (dest / "_headers").read_text()
    again = publish(out, str(dest))
    assert (again.copied, again.skipped) == (0, len(assets))
    assert not list(dest.rglob(".*.part")) and not list(dest.rglob(".*.tmp"))


def test_assignments_only_when_asked(out, tmp_path):
    dest = tmp_path / "www"
    publish(out, str(dest), with_assignments=True)
    manifest = json.loads((dest / "camera-fans" / "manifest.json").read_text())
    for rel in manifest["assignments"].values():
        assert (dest / "camera-fans" / rel).is_file()


def test_unknown_segment_is_an_input_error(out, tmp_path):
    with pytest.raises(InputError, match="no manifest for segment"):
        publish(out, str(tmp_path / "www"), ["nope"])


def test_fsspec_memory_destination(out):
    fsspec = pytest.importorskip("fsspec")
    summary = publish(out, "memory://cdn/banners")
    fs = fsspec.filesystem("memory")
    manifest = json.loads(fs.cat_file("/cdn/banners/camera-fans/manifest.json"))
    vid, entry = next(iter(manifest["variants"].items()))
    assert (
        fs.cat_file(f"/cdn/banners/camera-fans/{entry['files']['webp']}")
        == (out / "camera-fans" / entry["files"]["webp"]).read_bytes()
    )
    assert fs.exists("/cdn/banners/_headers")
    assert publish(out, "memory://cdn/banners").copied == 0 and summary.copied > 0


def test_publish_cli(out, tmp_path):
    from typer.testing import CliRunner

    from bannergen.cli.main import app
    from bannergen.cli.serve import register

    if "publish" not in {c.name for c in app.registered_commands}:
        register(app)
    result = CliRunner().invoke(
        app, ["--project", str(ROOT), "publish", "--to", str(tmp_path / "www"), "--segment", "nope"]
    )
    assert result.exit_code == 2 and "no manifest for segment" in result.output
