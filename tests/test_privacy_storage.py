"""Pseudonyms at rest, consent and retention, on small real files: the events file's consent column,
the guard's rules (an opt-out drops a user, an opt-in after it starts fresh), feedback ingest storing
pseudonyms, hashed assignments for the CMS, and `compact` dropping old rows on a real store."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import pandas as pd
import pytest
from privacy_project import SEGMENT, cli, make_project

from bannergen.config import load_project
from bannergen.data.mapping import load_shop
from bannergen.errors import EnvironmentFailure
from bannergen.pipeline import Engine
from bannergen.privacy.guard import PrivacyGuard
from bannergen.privacy.pseudonyms import Pseudonymizer, project_pseudonymizer
from bannergen.privacy.retention import DAY_US, compact_project
from bannergen.store import open_behaviour_store
from bannergen.store.base import BehaviourEvent

T0 = pd.Timestamp("2026-11-01T00:00:00Z")


def _events(rows: list[tuple[str, int, str]]) -> pd.DataFrame:
    """(user, day, consent) rows: a view of item 000101 on day ``day``."""
    return pd.DataFrame({"user_id": [r[0] for r in rows], "item_id": "000101", "event": "view",
                         "ts": [T0 + pd.Timedelta(days=r[1]) for r in rows], "query": "",
                         "consent": [r[2] for r in rows]})


def test_consent_drops_an_opted_out_user_and_an_opt_in_starts_fresh():
    p = Pseudonymizer.from_secret("s")
    guard = PrivacyGuard(p, forgotten=frozenset({p.one("gone")}))
    kept = guard.protect(_events([
        ("a", 0, ""), ("a", 1, ""),                                  # never said anything: kept
        ("b", 0, ""), ("b", 1, "out"), ("b", 2, ""),                 # opted out: nothing of b
        ("c", 0, ""), ("c", 1, "out"), ("c", 2, ""), ("c", 3, "in"), ("c", 4, ""),  # back in on day 3
        ("gone", 0, ""),                                              # forgotten
    ]))
    f = kept.frame
    assert "consent" not in f.columns and f["user_id"].str.match(r"^p[0-9a-f]{24}$").all()
    days = {kept.raw_ids[u]: sorted((g["ts"] - T0).dt.days.tolist()) for u, g in f.groupby("user_id")}
    assert days == {"a": [0, 1], "c": [3, 4]}
    assert kept.skipped == 7 and set(kept.raw_ids) == {"a", "c"}


def test_a_consent_record_from_http_counts_like_the_column():
    p = Pseudonymizer.from_secret("s")
    records = pd.DataFrame({"user_id": [p.one("a")], "ts_us": [int((T0 + pd.Timedelta(days=1)).timestamp() * 1e6)],
                            "consent": ["out"]})
    kept = PrivacyGuard(p, consent=records).protect(_events([("a", 0, ""), ("a", 2, ""), ("b", 0, "")]).drop(
        columns="consent"))
    assert kept.raw_ids.tolist() == ["b"]


def test_the_events_file_consent_column_is_read_and_checked(tmp_path):
    project = make_project(tmp_path)
    events = pd.read_parquet(project / "shop/events.parquet")
    events["consent"] = ""
    events.loc[events["user_id"] == "zhangsan", "consent"] = "no"
    events.loc[events.index[:2], "consent"] = "maybe"
    events.to_parquet(project / "shop/events.parquet", index=False)
    shop = load_shop(load_project(project), rejects_path=tmp_path / "rejects.txt")
    assert project_pseudonymizer(load_project(project)).one("zhangsan") not in set(shop.events["user_id"])
    rejects = (tmp_path / "rejects.txt").read_text(encoding="utf-8")
    assert "consent: not a consent value; got 'maybe'; expected out or in" in rejects
    done = cli(project, "explain", "zhangsan")
    assert done.returncode == 0 and "cold-start user: gets the default banner" in done.stdout


def test_feedback_ingest_stores_pseudonyms(tmp_path):
    project = make_project(tmp_path)
    feedback = tmp_path / "feedback.csv"
    feedback.write_text("event_id,ts,user_id,variant_id,event\ne1,2026-11-28T10:00:00Z,zhangsan,v1,impression\n",
                        encoding="utf-8")
    done = cli(project, "feedback", "ingest", str(feedback))
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(project / ".bannergen/feedback.sqlite") as db:
        users = [r[0] for r in db.execute("SELECT user_id FROM events")]
    assert users == [project_pseudonymizer(load_project(project)).one("zhangsan")]


def test_hashed_assignments_write_the_pseudonym_for_the_cms(tmp_path):
    project = make_project(tmp_path)
    with open(project / "bannergen.toml", "a", encoding="utf-8") as fh:
        fh.write("[privacy]\nhashed_assignments = true\n")
    engine = Engine(load_project(project))
    summary = engine.render(SEGMENT, limit=10)
    manifest = json.loads((summary.out / "manifest.json").read_text(encoding="utf-8"))
    users = pd.read_parquet(summary.out / manifest["assignments"]["parquet"])["user_id"]
    assert users.str.match(r"^p[0-9a-f]{24}$").all()
    assert set(users) <= set(engine.model.profiles.user_ids)


def test_compact_drops_rows_past_the_retention(tmp_path):
    project = make_project(tmp_path)
    with open(project / "bannergen.toml", "a", encoding="utf-8") as fh:
        fh.write("[privacy]\nretention_days = 30\n")
    now = time.time_ns() // 1000 - DAY_US // 2  # rows n days and a half old: none near the cut
    store = open_behaviour_store(load_project(project).behaviour_location)
    store.add([BehaviourEvent(f"e{n}", now - n * DAY_US, "p" + "0" * 24, "view", "000101") for n in range(40)])
    store.log_decisions([(f"d{n}", now - n * DAY_US, "p" + "0" * 24, "home", "300x250", "v", "000101", "price-drop",
                          "softmax", 0.5, 1.0, "") for n in range(40)],
                        [(f"d{n}", 0, "000101", "price-drop", "", 1.0, 0.5, 1) for n in range(40)])
    store.close()
    done = compact_project(load_project(project))
    assert (done.erased.behaviour, done.erased.decisions, done.erased.candidates) == (10, 10, 10)
    assert "behaviour 10, decisions 10, decision candidates 10" in done.line()
    again = cli(project, "compact")
    assert again.returncode == 0 and "behaviour 0" in again.stdout


def test_no_secret_is_an_environment_failure(tmp_path, monkeypatch):
    project = make_project(tmp_path)
    monkeypatch.delenv("BANNERGEN_SECRET")
    with pytest.raises(EnvironmentFailure, match="no project secret"):
        project_pseudonymizer(load_project(project))
    assert os.environ.get("BANNERGEN_SECRET") is None
    assert Path(project / "bannergen.toml").read_text(encoding="utf-8").count("secret") == 0


def test_rekey_moves_every_pseudonym_to_the_new_secret(tmp_path):
    project = make_project(tmp_path)
    engine = Engine(load_project(project))
    engine.render(SEGMENT, limit=10)
    old = engine.pseudonyms
    engine.record_feedback(pd.DataFrame({"event_id": ["i1"], "user_id": ["zhangsan"], "variant_id": ["v"],
                                         "event": ["impression"], "ts": [pd.Timestamp.now(tz="UTC").isoformat()]}))
    engine.store.close()
    assert cli(project, "forget", "u000007").returncode == 0
    new_env = {**os.environ, "BANNERGEN_SECRET": "rotated", "OLD": os.environ["BANNERGEN_SECRET"]}
    done = cli(project, "privacy", "rekey", "--old-secret-env", "OLD", env=new_env)
    assert done.returncode == 0, done.stderr
    assert "re-keyed 3,001 user ids: 1 store rows" in done.stdout
    new = Pseudonymizer.from_secret("rotated")
    with sqlite3.connect(project / ".bannergen/feedback.sqlite") as db:
        assert [r[0] for r in db.execute("SELECT user_id FROM events")] == [new.one("zhangsan")]
    assert (project / ".bannergen/forgotten.txt").read_text(encoding="utf-8").split() == [new.one("u000007")]
    out = project / "out" / SEGMENT
    candidates = pd.concat(pd.read_parquet(p) for p in (out / "candidates").glob("*.parquet"))
    raw = pd.concat(pd.read_parquet(p) for p in (out / "assignments").glob("*.parquet"))["user_id"].unique().tolist()
    assert set(candidates["user_id"]) == set(new.many(raw))  # every decision log row under the new secret
    assert not candidates["user_id"].isin(old.many(raw)).any()
    again = cli(project, "explain", "u000007", env=new_env)
    assert "cold-start user" in again.stdout  # still forgotten under the new secret
