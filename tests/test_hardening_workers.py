"""Render workers end with their render, kill -9 included: a supervisor that restarts killed
renders must not pile up orphaned workers (a renderer's memory each)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):  # the task ended while we looked
            found |= {int(c) for c in (task / "children").read_text().split()}
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _project(tmp: Path) -> Path:
    for name in ("templates", "scoring"):
        shutil.copytree(ROOT / name, tmp / name)
    (tmp / "assets").symlink_to(ROOT / "assets")
    (tmp / "shop").symlink_to(ROOT / "examples/shop")
    (tmp / "bannergen.toml").write_text(
        '[data]\ncatalog = "shop/catalog.csv"\nevents = "shop/events.parquet"\n'
        '[render]\nworkers = 2\nformats = ["png", "webp", "html"]\nsizes = ["1200x400", "750x300", "300x250"]\n',
        encoding="utf-8",
    )
    return tmp


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads the process tree from /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_end_with_a_killed_render(tmp_path, sig):
    project = _project(tmp_path)
    render = subprocess.Popen(
        [sys.executable, "-m", "bannergen.cli.main", "--project", str(project), "render", "--segment", "all",
         "--quiet"],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "stderr.txt").open("wb"),
    )
    try:
        workers: set[int] = set()
        deadline = time.monotonic() + 120
        while len(workers) < 2 and render.poll() is None and time.monotonic() < deadline:
            workers = _children(render.pid)
            time.sleep(0.05)
        assert len(workers) >= 2, (f"the render never started its workers (exit {render.poll()}): "
                                   f"{(tmp_path / 'stderr.txt').read_text()[-500:]}")
        os.kill(render.pid, sig)
        render.wait(10)
        deadline = time.monotonic() + 5
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [w for w in workers if _alive(w)]
        assert not left, f"workers {left} outlived their render"
    finally:
        if render.poll() is None:
            render.kill()
            render.wait()
        for w in _children(render.pid):
            os.kill(w, signal.SIGKILL)
