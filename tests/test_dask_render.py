"""Rendering on Dask gives the local executor's output, byte for byte, and fails cleanly.

Real runs on a copy of the example project (PNG at one size, to keep the renders short) on a
LocalCluster of two worker processes, with the users cut into four partitions, so every segment is
split."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest

pytest.importorskip("distributed")

# each test starts a Dask cluster
pytestmark = pytest.mark.slow

from bannergen.config import load_project  # noqa: E402
from bannergen.pipeline import Engine  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
QUICK = {"render.formats": ["png"], "render.sizes": ["300x250"], "dask.workers": 2, "dask.partitions": 4}


def _engine(project: Path, folder: Path, events: str) -> Engine:
    """An engine on ``project`` writing to ``folder``, with ``events`` as [dask] events; the fitted
    blend is the project's (saved by the first render), as it is for a shop's daily renders: a
    refit with another number of BLAS threads may differ in the last bits of a float."""
    return Engine(load_project(project, {**QUICK, "dask.events": events, "paths.out": str(folder / "out"),
                                         "paths.rejects": str(folder / "rejects.txt"),
                                         "feedback.store": str(folder / "no-feedback.sqlite")}))


def _files(out: Path) -> dict[str, bytes]:
    """Every file of a render but the manifest (which holds its time), hidden temp files included."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != "manifest.json"}


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def _copy_project(root: Path) -> Path:
    """A copy of the example project (settings, templates, assets, rules, shop) in ``root``: the
    workers read it as a shared folder, and nothing the tests write lands in the working tree."""
    for name in ("templates", "assets", "scoring", "examples/shop"):
        shutil.copytree(REPO / name, root / name)
    shutil.copyfile(REPO / "bannergen.toml", root / "bannergen.toml")
    return root


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _copy_project(tmp_path_factory.mktemp("project"))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The example shop's events as a Parquet dataset of six pieces, read by the workers ([dask] events)."""
    return _as_dataset(REPO / "examples/shop/events.parquet", tmp_path_factory.mktemp("dataset") / "events")


@pytest.fixture(scope="module")
def local_render(project: Path, dataset: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _engine(project, tmp_path_factory.mktemp("local"), dataset).render("all").out


def _assert_same_render(local: Path, dask: Path) -> None:
    manifests = [_manifest(local), _manifest(dask)]
    for key in ("variants", "assignments", "candidates", "stats"):
        assert manifests[0][key] == manifests[1][key], key
    local_files, dask_files = _files(local), _files(dask)
    assert local_files.keys() == dask_files.keys()  # no partition, temp or partial file left behind
    for name in ("assignments", "candidates"):
        for kind in ("csv", "parquet"):
            path = manifests[0][name][kind]
            assert local_files[path] == dask_files[path], path


def _as_dataset(events: Path, folder: Path) -> str:
    """The events file as a Parquet dataset of three files of two row groups each; its file:// URL."""
    import pyarrow.parquet as pq

    table = pq.read_table(events)
    folder.mkdir()
    third = -(-table.num_rows // 3)
    for n in range(3):
        part = table.slice(n * third, third)
        pq.write_table(part, folder / f"events-{n}.parquet", row_group_size=-(-part.num_rows // 2))
    return folder.resolve().as_uri()


def test_dask_render_writes_the_local_executors_files(local_render: Path, project: Path, dataset: str,
                                                     tmp_path: Path) -> None:
    dask = _engine(project, tmp_path, dataset).render("all", executor="dask")
    _assert_same_render(local_render, dask.out)
    assert dask.users == 3001 and dask.rendered == dask.unique_variants > 0


def _dense(m: object) -> np.ndarray:
    return m.toarray() if hasattr(m, "toarray") else np.asarray(m)


def test_a_first_render_on_dask_fits_the_blend_from_partition_sums(local_render: Path, project: Path, dataset: str,
                                                                   tmp_path: Path) -> None:
    """No saved model: the partitions' sums fit the blend (no worker loads the whole shop). It is the
    model the local executor fitted, up to the order floats were added in, so every decision is the
    same and the scores agree to float32 precision."""
    from bannergen.scorers.settings import load_scoring
    from bannergen.scorers.store import load_blend, read_meta

    fresh = _copy_project(tmp_path / "project")
    engine = _engine(fresh, tmp_path, dataset)
    assert read_meta(engine.project.models) is None
    dask = engine.render("all", executor="dask")
    meta = read_meta(engine.project.models)
    assert meta is not None and meta["fitted_by"] == "render on dask, from the sums of 4 partitions"
    local_models = load_project(project).models
    assert meta["fingerprint"] == read_meta(local_models)["fingerprint"]  # the same data and settings
    interest = load_scoring(fresh / "scoring").weights
    ours, theirs = load_blend(engine.project.models, None, interest), load_blend(local_models, None, interest)
    assert ours.scorers.keys() == theirs.scorers.keys()
    for name, scorer in ours.scorers.items():
        for key, value in scorer.state().items():
            other = theirs.scorers[name].state()[key]
            np.testing.assert_allclose(_dense(value), _dense(other), rtol=1e-5, atol=1e-6, err_msg=f"{name}.{key}")
    local, ours_out = _manifest(local_render), _manifest(dask.out)
    assert local["variants"] == ours_out["variants"] and local["stats"] == ours_out["stats"]
    for table in ("assignments", "candidates"):
        a = pd.read_parquet(local_render / local[table]["parquet"])
        b = pd.read_parquet(dask.out / ours_out[table]["parquet"])
        numbers = [c for c in ("score", "propensity", "probability") if c in a.columns]
        pd.testing.assert_frame_equal(a.drop(columns=numbers), b.drop(columns=numbers))
        np.testing.assert_allclose(a[numbers].to_numpy(float), b[numbers].to_numpy(float), rtol=1e-5, atol=1e-9)


def _kill_a_worker_once_rendering(out: Path, done: threading.Event, killed: list[int]) -> None:
    """SIGKILL one Dask worker process of this test's local cluster once the first asset exists."""
    while not done.is_set():
        if any((out / "assets").glob("*.png")):
            for child in psutil.Process().children(recursive=True):
                if "spawn_main" in " ".join(child.cmdline()):
                    child.send_signal(signal.SIGKILL)
                    killed.append(child.pid)
                    return
        time.sleep(0.05)


def test_a_worker_killed_mid_render_changes_nothing(local_render: Path, project: Path, dataset: str,
                                                   tmp_path: Path) -> None:
    out, done, killed = tmp_path / "out" / "all", threading.Event(), []
    killer = threading.Thread(target=_kill_a_worker_once_rendering, args=(out, done, killed), daemon=True)
    killer.start()
    try:
        summary = _engine(project, tmp_path, dataset).render("all", executor="dask")
    finally:
        done.set()
        killer.join()
    assert killed, "no worker was killed: the test did not test anything"
    _assert_same_render(local_render, summary.out)


def test_unreachable_scheduler_exits_3_naming_the_address(project: Path, tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    run = subprocess.run(
        [sys.executable, "-m", "bannergen.cli.main", "--project", str(project), "render", "--segment", "all",
         "--out", str(tmp_path / "out"), "--quiet", "--scheduler", address],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 3
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and address in lines[0], run.stderr
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_a_scorer_not_fitted_from_sums_is_fitted_on_the_whole_shop(dataset: str, tmp_path: Path) -> None:
    """svd factorises every user's rows at once: one worker loads the whole shop to fit the blend."""
    from bannergen.scorers.store import read_meta

    fresh = _copy_project(tmp_path / "project")
    blend = fresh / "scoring" / "blend.toml"
    blend.write_text(blend.read_text(encoding="utf-8").replace("[weights]\n", "[weights]\nsvd = 0.02\n", 1),
                     encoding="utf-8")
    engine = _engine(fresh, tmp_path, dataset)
    summary = engine.render("all", executor="dask")
    meta = read_meta(engine.project.models)
    assert meta is not None and meta["fitted_by"] == "render on dask, the whole shop on one worker"
    assert "svd" in meta["scorers"] and summary.users == 3001
