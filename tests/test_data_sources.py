"""The events a render on Dask reads ([dask] events) are part of the run key and of the fitted
model's fingerprint: a changed dataset is never taken for an unchanged run or a current model."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bannergen.config import load_project
from bannergen.data.sources import dask_events, source_state
from bannergen.runkey import run_key
from bannergen.scorers.fitting import project_fingerprint


def _write(folder: Path, name: str, rows: int) -> None:
    folder.mkdir(exist_ok=True)
    pd.DataFrame({"user_id": [f"u{i}" for i in range(rows)]}).to_parquet(folder / name)


def test_dask_events_resolves_a_path_against_the_project_and_keeps_a_url(repo_root: Path) -> None:
    assert dask_events(load_project(repo_root)) is None
    assert dask_events(load_project(repo_root, {"dask.events": "shop/ds"})) == str((repo_root / "shop/ds").resolve())
    assert dask_events(load_project(repo_root, {"dask.events": "s3://bucket/events"})) == "s3://bucket/events"


def test_source_state_follows_the_files_of_a_dataset(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    assert source_state(str(folder)) == [["<absent>", str(folder)]]
    _write(folder, "part-0.parquet", 10)
    first = source_state(str(folder))
    assert [row[0].endswith("part-0.parquet") for row in first] == [True]
    assert source_state(folder.as_uri()) == source_state(str(folder))  # a file:// URL is the same source
    _write(folder, "part-1.parquet", 10)
    second = source_state(str(folder))
    assert len(second) == 2 and second[0] == first[0]
    _write(folder, "part-1.parquet", 500)
    assert source_state(str(folder))[1][1] != second[1][1]


def test_a_changed_dataset_changes_the_run_key_and_the_model_fingerprint(repo_root: Path, tmp_path: Path) -> None:
    folder = tmp_path / "events"
    _write(folder, "part-0.parquet", 10)
    project = load_project(repo_root, {"dask.events": str(folder)})
    keys = run_key(project, "all", None, False), project_fingerprint(project)
    assert keys == (run_key(project, "all", None, False), project_fingerprint(project))  # stable
    _write(folder, "part-1.parquet", 10)
    changed = run_key(project, "all", None, False), project_fingerprint(project)
    assert changed[0] != keys[0] and changed[1] != keys[1]
    assert project_fingerprint(load_project(repo_root)) != keys[1]
