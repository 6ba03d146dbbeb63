"""Reports: Wilson intervals, recovery of known CTRs, holdout lift, the CLI contracts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from bannergen.bandits import Simulator
from bannergen.cli.feedback import register
from bannergen.feedback import open_store
from bannergen.reporting import build_report, prob_beat_control, two_proportion_pvalue, wilson_interval

CTR = (0.02, 0.05, 0.1)


def test_wilson_interval_known_values() -> None:
    low, high = wilson_interval(np.array([10, 0]), np.array([100, 0]))
    assert low[0] == pytest.approx(0.05522, abs=1e-4) and high[0] == pytest.approx(0.17436, abs=1e-4)
    assert np.isnan(low[1])
    assert two_proportion_pvalue(50, 1000, 50, 1000) == pytest.approx(1.0)
    assert prob_beat_control(np.array([200]), np.array([1000]), 100, 1000)[0] > 0.99


@pytest.fixture(scope="module")
def store_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "s.sqlite"
    events = Simulator(CTR, seed=5).run("uniform", 30_000).events
    hold = Simulator((0.05,), seed=6, variant_ids=("v1",)).run("uniform", 10_000).events
    hold["policy"] = "holdout"
    hold["event_id"] = "h" + hold["event_id"]
    junk = events[events["event"] == "click"].head(50).copy()  # double clicks half a second later
    junk["event_id"] = "dbl" + junk["event_id"]
    junk["ts"] += 500_000
    with open_store(path) as store:
        store.add(pd.concat([events, hold, junk], ignore_index=True))
    return path


def test_report_recovers_true_ctrs_within_their_intervals(store_path: Path) -> None:
    with open_store(store_path) as store:
        rows = build_report(store, "variant").rows.set_index("variant_id")
    for j, ctr in enumerate(CTR):
        r = rows.loc[f"v{j}"]
        assert r.ctr_low <= ctr <= r.ctr_high
    assert (rows["raw_clicks"] - rows["clicks"]).sum() == 50
    assert rows.loc["v2", "p_beat_control"] > 0.99 and rows.loc["v2", "p_value"] < 1e-6
    assert rows.loc["v0", "lift"] < 0


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        pass

    register(app)
    return app


def test_report_json_contract(store_path: Path) -> None:
    res = CliRunner().invoke(_app(), ["report", "--by", "variant", "--format", "json", "--store", str(store_path)])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [r["variant_id"] for r in rows] and all(
        {"variant_id", "impressions", "clicks", "ctr", "ctr_low", "ctr_high", "conversions", "cvr", "revenue",
         "cost", "roi", "raw_impressions", "raw_clicks"} <= set(r) for r in rows)


def test_html_report_and_evaluate_contract(store_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    res = CliRunner().invoke(_app(), ["report", "--format", "html", "--out", str(out), "--store", str(store_path)])
    assert res.exit_code == 0, res.output
    assert out.read_text().count("data:image/png;base64,") == 2
    res = CliRunner().invoke(_app(), ["feedback", "evaluate", "--policy", "greedy", "--format", "json",
                                      "--store", str(store_path)])
    assert res.exit_code == 0, res.output
    body = json.loads(res.stdout.strip().splitlines()[-1])
    assert body["policy"] == "greedy" and body["n"] == 30_000
    assert set(body["dr"]) == {"estimate", "ci_low", "ci_high"} and "ess" in body


def test_ingest_cli_line_and_exit_codes(tmp_path: Path) -> None:
    f = tmp_path / "e.csv"
    f.write_text("event_id,ts,user_id,variant_id,event\n1,2026-01-29T08:00:00Z,u,v,impression\n"
                 "2,2026-01-29T08:00:00Z,u,v,wink\n", encoding="utf-8")
    store = tmp_path / "s.sqlite"
    res = CliRunner().invoke(_app(), ["feedback", "ingest", str(f), "--store", str(store)])
    assert res.exit_code == 0 and res.stdout.strip().splitlines()[-1] == "accepted=1 duplicate=0 rejected=1"
    res = CliRunner().invoke(_app(), ["feedback", "ingest", str(f), "--store", str(store), "--format", "json"])
    assert json.loads(res.stdout)["duplicate"] == 1
    res = CliRunner().invoke(_app(), ["feedback", "ingest", str(tmp_path / "nope.csv"), "--store", str(store)])
    assert res.exit_code == 2 and "file not found" in res.output
