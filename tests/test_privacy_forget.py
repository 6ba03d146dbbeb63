"""Forgetting users: nothing of them is left under out/, .bannergen/ or in the stores (byte search
for the raw id and its pseudonym, outside the forgotten list), nothing of anyone else changes, a
rerun does not bring them back, and a forget killed half-way is finished by running it again."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from privacy_project import CLI, SEGMENT, cli, files_holding, make_project, populate

from bannergen.config import load_project
from bannergen.pipeline import Engine
from bannergen.privacy.forget import forget_users
from bannergen.privacy.pseudonyms import project_pseudonymizer


@pytest.fixture(scope="module")
def populated(tmp_path_factory) -> tuple[Path, list[str]]:
    project = make_project(tmp_path_factory.mktemp("populated"))
    return project, populate(project)


def _tables(project: Path) -> dict[str, pd.DataFrame]:
    out = project / "out" / SEGMENT
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return {name: pd.read_parquet(out / manifest[name]["parquet"]) for name in ("assignments", "candidates")}


def _store_rows(project: Path) -> dict[str, pd.DataFrame]:
    rows = {}
    for name, tables in (("behaviour.sqlite", ("behaviour", "decisions")), ("feedback.sqlite", ("events",))):
        with sqlite3.connect(project / ".bannergen" / name) as db:
            for table in tables:
                rows[table] = pd.read_sql_query(f"SELECT * FROM {table} ORDER BY 1", db)
    return rows


@pytest.mark.slow  # a forced render of the project per example
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_forgotten_users_leave_no_trace_and_others_are_unchanged(populated, tmp_path_factory, data):
    source, users = populated
    project = tmp_path_factory.mktemp("forget")
    shutil.rmtree(project)
    shutil.copytree(source, project, symlinks=True)
    gone = data.draw(st.lists(st.sampled_from(users), min_size=1, max_size=5, unique=True))
    extra = data.draw(st.lists(st.sampled_from(["nobody", "u999999", "张三丰"]), max_size=2, unique=True))
    p = project_pseudonymizer(load_project(project))
    hashed = {u: p.one(u) for u in gone}
    tables, stores = _tables(project), _store_rows(project)

    report = forget_users(load_project(project), gone + extra)

    assert report.users == len(gone) + len(extra) and report.records > 0
    forgotten = project / ".bannergen" / "forgotten.txt"
    assert set(hashed.values()) <= set(forgotten.read_text(encoding="utf-8").split())
    for user, pseudonym in hashed.items():
        assert files_holding(project, user) == [], user
        assert files_holding(project, pseudonym, skip=(forgotten,)) == [], user
    after_tables, after_stores = _tables(project), _store_rows(project)
    for name, before in tables.items():
        kept = before[~before["user_id"].isin([*gone, *hashed.values()])].reset_index(drop=True)
        pd.testing.assert_frame_equal(after_tables[name], kept)
    for name, before in stores.items():
        if "user_id" in before.columns:
            kept = before[~before["user_id"].isin(hashed.values())].reset_index(drop=True)
            pd.testing.assert_frame_equal(after_stores[name], kept)
    # the manifest still describes a complete render: every file it names is there
    manifest = json.loads((project / "out" / SEGMENT / "manifest.json").read_text(encoding="utf-8"))
    for name in ("assignments", "candidates"):
        assert all((project / "out" / SEGMENT / path).is_file() for path in manifest[name].values())
    # a forced rerun assigns them nothing, and their next decision is the default banner
    engine = Engine(load_project(project))
    rerun = engine.render(SEGMENT, force=True)
    assigned = pd.read_parquet(rerun.out / json.loads((rerun.out / "manifest.json").read_text())["assignments"]["parquet"])
    assert not assigned["user_id"].isin(gone).any()
    assert engine.decide_users(gone).empty
    assert not engine.explain(gone[0]).known


def test_forgetting_an_unknown_id_is_not_an_error(populated, tmp_path):
    project = tmp_path / "p"
    shutil.copytree(populated[0], project, symlinks=True)
    done = cli(project, "forget", "no-such-user")
    assert done.returncode == 0, done.stderr
    assert "forgot 1 user: 0 records" in done.stdout


def test_a_missing_secret_is_exit_3_with_a_hint(populated, tmp_path):
    project = tmp_path / "p"
    shutil.copytree(populated[0], project, symlinks=True)
    env = {k: v for k, v in os.environ.items() if k != "BANNERGEN_SECRET"}
    for args in (["forget", "u000007"], ["explain", "u000007"], ["render", "--segment", SEGMENT]):
        done = cli(project, *args, env=env)
        assert done.returncode == 3, (args, done.stdout, done.stderr)
        assert "no project secret" in done.stderr and "BANNERGEN_SECRET" in done.stderr


def test_a_forget_killed_half_way_is_finished_by_running_it_again(populated, tmp_path):
    project = tmp_path / "p"
    shutil.copytree(populated[0], project, symlinks=True)
    users = populated[1][:6]
    forgotten = project / ".bannergen" / "forgotten.txt"
    proc = subprocess.Popen([sys.executable, "-c", CLI, "--project", str(project), "forget", *users],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not forgotten.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.001)
    os.kill(proc.pid, signal.SIGKILL)  # somewhere after the list was written: the stores may be half done
    proc.wait()
    assert forgotten.exists()
    for name in ("behaviour.sqlite", "feedback.sqlite"):
        with sqlite3.connect(project / ".bannergen" / name) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    manifest = json.loads((project / "out" / SEGMENT / "manifest.json").read_text(encoding="utf-8"))
    assert all((project / "out" / SEGMENT / p).is_file() for name in ("assignments", "candidates")
               for p in manifest[name].values())
    assert not Engine(load_project(project)).shop.events["user_id"].isin(
        project_pseudonymizer(load_project(project)).many(users)).any()  # skipped on load already
    again = cli(project, "forget", *users)
    assert again.returncode == 0, again.stderr
    p = project_pseudonymizer(load_project(project))
    for user in users:
        assert files_holding(project, user) == []
        assert files_holding(project, p.one(user), skip=(forgotten,)) == []
