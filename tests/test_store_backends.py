"""Both stores, one behaviour: every test runs on SQLite files and on a real PostgreSQL database
(the throwaway cluster of tests/postgres_fixture.py), and ingest, report and evaluate give the
same answers on both."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bannergen.cli.main import app
from bannergen.config import load_project
from bannergen.errors import ConfigError, EnvironmentFailure
from bannergen.ope import ClickModel, simulate
from bannergen.selection.kernel import DecisionPolicy
from bannergen.store import open_behaviour_store, open_feedback_store
from bannergen.store.base import BehaviourEvent

NOW_US = 1_795_853_073_000_000  # 2026-11-28T05:24:33Z


@pytest.fixture(params=["sqlite", "postgres"])
def location(request, tmp_path) -> Path | str:
    """Where a store lives: a SQLite file, or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "store.sqlite"
    return request.getfixturevalue("postgres_url")


def feedback(event_ids: list[str], events: list[str], variants: list[str], users: list[str] | None = None,
             ts: list[int] | None = None) -> pd.DataFrame:
    n = len(event_ids)
    return pd.DataFrame({
        "event_id": event_ids, "ts": ts or [NOW_US + i for i in range(n)], "user_id": users or ["u1"] * n,
        "variant_id": variants, "event": events, "value": [9.5 if e == "conversion" else 0.0 for e in events],
        "cost": [0.0] * n, "placement": ["home"] * n, "propensity": [0.5 if e == "impression" else np.nan for e in events],
        "policy": ["holdout" if v == "vh" else "softmax" for v in variants], "decision_id": [""] * n})


def test_feedback_is_stored_once_by_event_id_and_counted(location):
    with open_feedback_store(location) as store:
        first = store.add(feedback(["a", "b", "b", "c", "d"], ["impression", "click", "click", "impression", "conversion"],
                                   ["v1", "v1", "v1", "v2", "v1"]), known_variants=frozenset({"v1"}))
        again = store.add(feedback(["a", "e"], ["impression", "impression"], ["v1", "vh"]))
        assert (first.accepted, first.duplicate, first.unknown_variant) == (4, 1, 1)
        assert (again.accepted, again.duplicate) == (1, 1)
        assert store.count() == 5
        counts = store.variant_counts()
        assert counts.to_dict("list") == {
            "variant_id": ["v1", "v2"], "impressions": [1, 1], "clicks": [1, 0], "conversions": [1, 0],
            "revenue": [9.5, 0.0], "cost": [0.0, 0.0], "raw_impressions": [1, 1], "raw_clicks": [1, 0]}
        by_user = store.counts_by(["user_id"]).sort_values("holdout").reset_index(drop=True)
        assert by_user[["user_id", "holdout", "impressions", "clicks"]].to_dict("list") == {
            "user_id": ["u1", "u1"], "holdout": [False, True], "impressions": [2, 1], "clicks": [1, 0]}
        frame = store.events_frame(["event_id", "event", "propensity", "unknown_variant"])
        assert frame["event_id"].tolist() == ["a", "b", "c", "d", "e"]  # commit order
        assert frame["event"].tolist() == ["impression", "click", "impression", "conversion", "impression"]
        assert frame["propensity"].isna().tolist() == [False, True, False, True, False]
        assert frame["unknown_variant"].tolist()[:4] == [0, 0, 1, 0]
        daily = store.daily_counts(["v1", "v2"]).sort_values("variant_id")
        assert daily[["variant_id", "impressions", "clicks"]].to_dict("list") == {
            "variant_id": ["v1", "v2"], "impressions": [1, 1], "clicks": [1, 0]}
        assert str(daily["day"].iloc[0]) == "2026-11-28 00:00:00+00:00"


def test_a_click_right_after_its_impression_is_not_counted(location):
    """The invalid-click filter reads the same rows on both stores (bannergen.feedback.traffic)."""
    rows = feedback(["i", "c1", "c2"], ["impression", "click", "click"], ["v1"] * 3,
                    ts=[NOW_US, NOW_US + 5_000_000, NOW_US + 5_100_000])
    with open_feedback_store(location) as store:
        store.add(rows)
        counts = store.variant_counts()
        assert (counts["raw_clicks"].iat[0], counts["clicks"].iat[0]) == (2, 1)


def test_changes_since_lists_every_commit_and_own_commits_name_this_writers(location):
    with open_feedback_store(location) as writer, open_feedback_store(location) as other:
        start = writer.last_seq()
        writer.add(feedback(["a", "b"], ["impression", "click"], ["v1", "v1"]))
        other.add(feedback(["c", "a"], ["impression", "impression"], ["v2", "v1"]))
        changes = writer.changes_since(start)
        assert changes["variant_id"].tolist() == ["v1", "v1", "v2"]
        assert changes["event"].tolist() == ["impression", "click", "impression"]
        seq = changes["seq"].to_numpy()
        (after, upto), = writer.own_commits
        assert [(after < s <= upto) for s in seq] == [True, True, False]
        assert writer.last_seq() == seq[-1]


def test_behaviour_and_the_decision_log(location, tmp_path):
    if isinstance(location, Path):
        location = tmp_path / "behaviour.sqlite"
    store = open_behaviour_store(location)
    try:
        e1, e2 = BehaviourEvent("e1", NOW_US, "u1", "view", "000103"), BehaviourEvent("e2", NOW_US, "u1", "search",
                                                                                      "", "相机")
        assert store.add([e1, e1, e2]) == [e1, e2]
        assert store.add([e2]) == []
        assert store.all() == [e1, e2]
        changes, upto = store.changes_since(0)
        assert [e for _, e in changes] == [e1, e2] and upto == store.last_seq()
        assert store.changes_since(upto) == ([], upto)
        store.log_decisions([("d1", NOW_US, "u1", "home", "1200x400", "v1", "000103", "launch", "softmax", 0.25, 1.5,
                              "because")],
                            [("d1", 0, "000103", "launch", "", 1.5, 0.25, 1), ("d1", 1, "000104", "launch", "", None,
                                                                               0.75, 0)])
        assert store.decision("d1") == ("u1", "home", "v1", "softmax", 0.25)
        assert store.decision("nope") is None
        log = store.decision_log()
        assert log["chosen"].tolist() == [True, False] and log["position"].tolist() == [0, 1]
        assert log["score"].isna().tolist() == [False, True] and log["ts"].tolist() == [NOW_US, NOW_US]
    finally:
        store.close()


def test_an_unreachable_database_is_an_environment_failure(postgres_cluster):
    url = f"postgresql://bannergen@127.0.0.1:{postgres_cluster.port + 1}/nowhere"
    from bannergen.store.postgres import PostgresDatabase

    # the pool waits for a database that is starting (10 s by default); 1 s here
    with pytest.raises(EnvironmentFailure, match=r"cannot connect to the store postgresql://bannergen@127\.0\.0\.1.* within 1s"):
        PostgresDatabase.connect(url, wait_s=1.0)


def test_the_store_url_must_be_a_postgresql_url(tmp_path, monkeypatch):
    (tmp_path / "bannergen.toml").write_text('[store]\nurl = "mysql://shop"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_project(tmp_path)
    assert str(err.value).startswith(f"{tmp_path / 'bannergen.toml'}: store.url: not a PostgreSQL URL; "
                                     "got 'mysql://shop' (hint: expected postgresql://USER[:PASSWORD]@HOST")
    monkeypatch.setenv("BANNERGEN_STORE_URL", "postgresql://me@db/shop")
    assert load_project(tmp_path).feedback_location == "postgresql://me@db/shop"


# -- the commands give the same answers on both stores ----------------------------------------------

def _served_project(root: Path, url: str | None) -> Path:
    """A project whose decisions were served (logged in the store's decision log), with the
    feedback of a simulated softmax policy in events.csv."""
    from test_ope_decisions import candidate_sets

    root.mkdir()
    (root / "bannergen.toml").write_text(f'[store]\nurl = "{url}"\n' if url else "", encoding="utf-8")
    sim = simulate(candidate_sets(400, k=3, seed=3), "softmax", DecisionPolicy("softmax", temperature=0.5),
                   ClickModel(intercept=-2.0), impressions_per_user=4, seed=5)
    sim.events.assign(ts=pd.to_datetime(sim.events["ts"], unit="us", utc=True).dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                      ).to_csv(root / "events.csv", index=False)
    log = sim.decisions
    chosen = log[log["chosen"]].merge(sim.banners, on=["item_id", "template"])
    decisions = [(r.decision_id, int(r.ts), r.user_id, r.placement, r.size, r.variant_id, r.item_id, r.template,
                  r.policy, float(r.probability), float(r.score), "") for r in chosen.itertuples()]
    candidates = [(r.decision_id, int(r.position), r.item_id, r.template, r.antecedent_id, float(r.score),
                   float(r.probability), int(r.chosen)) for r in log.itertuples()]
    store = open_behaviour_store(url or root / ".bannergen" / "behaviour.sqlite")
    store.log_decisions(decisions, candidates)
    store.close()
    return root


def _commands(project: Path) -> dict[str, str]:
    runner = CliRunner()
    out = {}
    for name, args in {
        "ingest": ["feedback", "ingest", str(project / "events.csv")],
        "ingest again": ["feedback", "ingest", str(project / "events.csv")],
        "report": ["report", "--format", "json"],
        "report by placement": ["report", "--by", "placement", "--format", "csv"],
        "evaluate": ["feedback", "evaluate", "--policy", "greedy", "--format", "json", "--boot", "30"],
    }.items():
        res = runner.invoke(app, ["--project", str(project), *args])
        assert res.exit_code == 0, (name, res.output)
        out[name] = res.stdout
    return out


def test_ingest_report_and_evaluate_answer_the_same_on_both_stores(tmp_path, postgres_url):
    sqlite = _commands(_served_project(tmp_path / "sqlite", None))
    postgres = _commands(_served_project(tmp_path / "postgres", postgres_url))
    assert sqlite["ingest"].strip().splitlines()[-1].startswith("accepted=")
    assert sqlite["ingest again"].strip().splitlines()[-1].startswith("accepted=0 duplicate=")
    body = json.loads(sqlite["evaluate"].strip().splitlines()[-1])
    assert body["unmatched"] == 0 and body["n"] == 1600  # every impression joined to a served decision
    assert postgres == sqlite



def test_reports_with_a_holdout_match_row_for_row(tmp_path, postgres_url):
    """Per-row posterior draws (P(beat control)) need the rows in one order on both stores."""
    import sys

    from bannergen.feedback import ingest_file
    from bannergen.reporting import build_report, to_json

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from feedback_bench import make_csv

    make_csv(tmp_path / "events.csv", 20_000, seed=3)
    reports = []
    for location in (tmp_path / "store.sqlite", postgres_url):
        with open_feedback_store(location) as store:
            ingest_file(tmp_path / "events.csv", store)
            reports.append([to_json(build_report(store, by)) for by in ("variant", "placement")])
    assert "p_beat_control" in reports[0][0]
    assert reports[0] == reports[1]


def test_the_render_run_key_moves_with_feedback_in_the_database(tmp_path, postgres_url):
    """A render is redone when feedback arrived (Thompson, caps), on PostgreSQL as on SQLite."""
    from bannergen.runkey import run_key

    (tmp_path / "bannergen.toml").write_text(f'[store]\nurl = "{postgres_url}"\n[privacy]\nsecret = "{"k" * 32}"\n',
                                             encoding="utf-8")
    project = load_project(tmp_path)
    before = run_key(project, "all", None, False)
    with open_feedback_store(postgres_url) as store:
        store.add(feedback(["a"], ["impression"], ["v1"]))
    assert run_key(project, "all", None, False) != before
