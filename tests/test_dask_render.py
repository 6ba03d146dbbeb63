"""Rendering on Dask gives the local executor's output, byte for byte, and fails cleanly.

Real runs on the example shop (PNG at one size, to keep the renders short) on a LocalCluster of two
worker processes, with the users cut into four partitions, so every segment is split."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from bannergen.config import load_project  # noqa: E402
from bannergen.pipeline import Engine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUICK = {"render.formats": ["png"], "render.sizes": ["300x250"], "dask.workers": 2, "dask.partitions": 4}


def _engine(tmp_path: Path, name: str) -> Engine:
    return Engine(load_project(ROOT, {**QUICK, "paths.out": str(tmp_path / name),
                                      "paths.rejects": str(tmp_path / name / "rejects.txt"),
                                      "feedback.store": str(tmp_path / "no-feedback.sqlite")}))


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != "manifest.json"}


@pytest.mark.slow
def test_dask_render_writes_the_local_executors_files(tmp_path: Path) -> None:
    local = _engine(tmp_path, "local").render("all")
    dask = _engine(tmp_path, "dask").render("all", executor="dask")
    manifests = [json.loads((s.out / "manifest.json").read_text(encoding="utf-8")) for s in (local, dask)]
    assert manifests[0]["variants"] == manifests[1]["variants"]
    assert manifests[0]["assignments"] == manifests[1]["assignments"]
    assert manifests[0]["candidates"] == manifests[1]["candidates"]
    assert manifests[0]["stats"] == manifests[1]["stats"]
    local_files, dask_files = _files(local.out), _files(dask.out)
    assert local_files.keys() == dask_files.keys()  # no partition or temp file left behind
    for name in ("assignments", "candidates"):
        for kind in ("csv", "parquet"):
            path = manifests[0][name][kind]
            assert local_files[path] == dask_files[path], path
    assert dask.users == local.users == 3001 and dask.rendered == local.rendered > 0


def test_unreachable_scheduler_exits_3_naming_the_address(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    run = subprocess.run(
        [sys.executable, "-m", "bannergen.cli.main", "--project", str(ROOT), "render", "--segment", "all",
         "--out", str(tmp_path / "out"), "--quiet", "--scheduler", address],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 3
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and address in lines[0], run.stderr
    assert not (tmp_path / "out" / "manifest.json").exists()
