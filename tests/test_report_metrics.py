"""Reports: Wilson intervals, recovery of known CTRs, holdout lift, the CLI contracts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bannergen.cli.main import app
from bannergen.feedback import open_store
from bannergen.reporting import build_report, prob_beat_control, two_proportion_pvalue, wilson_interval

CTR = (0.02, 0.05, 0.1)
START_US = 1_795_852_800 * 1_000_000  # 2026-11-28T08:00:00Z


def uniform_log(ctr: tuple[float, ...], n: int, seed: int, prefix: str = "e") -> pd.DataFrame:
    """A feedback frame of ``n`` impressions spread uniformly over variants v0.. with true ``ctr``,
    each click two seconds after its impression."""
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, len(ctr), n)
    ts = START_US + np.arange(n, dtype=np.int64) * 10_000_000
    imp = pd.DataFrame({"event_id": [f"{prefix}{seed}-i{j}" for j in range(n)], "ts": ts,
                        "user_id": np.char.add("u", rng.integers(0, 10_000, n).astype(str)).astype(object),
                        "variant_id": np.char.add("v", arm.astype(str)).astype(object), "event": "impression",
                        "value": 0.0, "cost": 0.0, "placement": "home", "propensity": 1.0 / len(ctr),
                        "policy": "uniform", "decision_id": ""})
    hit = np.flatnonzero(rng.random(n) < np.asarray(ctr)[arm])
    clk = imp.iloc[hit].assign(event_id=[f"{prefix}{seed}-c{j}" for j in hit], ts=ts[hit] + 2_000_000, event="click",
                               propensity=np.nan)
    return pd.concat([imp, clk], ignore_index=True).sort_values("ts", kind="stable").reset_index(drop=True)


def test_wilson_interval_known_values() -> None:
    low, high = wilson_interval(np.array([10, 0]), np.array([100, 0]))
    assert low[0] == pytest.approx(0.05522, abs=1e-4) and high[0] == pytest.approx(0.17436, abs=1e-4)
    assert np.isnan(low[1])
    # 0 of n and n of n: the interval starts (ends) exactly at the observed rate, never beside it
    low, high = wilson_interval(np.array([0, 40, 0]), np.array([40, 40, 7]))
    assert low[0] == 0.0 and high[1] == 1.0 and low[2] == 0.0
    assert high[0] == pytest.approx(0.0876, abs=1e-4) and low[1] == pytest.approx(1 - 0.0876, abs=1e-4)
    assert two_proportion_pvalue(50, 1000, 50, 1000) == pytest.approx(1.0)
    assert prob_beat_control(np.array([200]), np.array([1000]), 100, 1000)[0] > 0.99


@pytest.fixture(scope="module")
def store_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "s.sqlite"
    events = uniform_log(CTR, 30_000, seed=5)
    hold = uniform_log((0.05,), 10_000, seed=6, prefix="h").assign(variant_id="v1", policy="holdout")
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


def _cli(tmp_path: Path, *args: str):
    """``bannergen --project P ARGS`` in process, in an empty project (nothing rendered yet)."""
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "bannergen.toml").write_text("", encoding="utf-8")
    return CliRunner().invoke(app, ["--project", str(project), *args])


def test_report_json_contract(store_path: Path, tmp_path: Path) -> None:
    res = _cli(tmp_path, "report", "--by", "variant", "--format", "json", "--store", str(store_path))
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [r["variant_id"] for r in rows] and all(
        {"variant_id", "impressions", "clicks", "ctr", "ctr_low", "ctr_high", "conversions", "cvr", "revenue",
         "cost", "roi", "raw_impressions", "raw_clicks"} <= set(r) for r in rows)


def test_html_report_contract(store_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    res = _cli(tmp_path, "report", "--format", "html", "--out", str(out), "--store", str(store_path))
    assert res.exit_code == 0, res.output
    assert out.read_text().count("data:image/png;base64,") == 2


def test_ingest_cli_line_and_exit_codes(tmp_path: Path) -> None:
    f = tmp_path / "e.csv"
    f.write_text("event_id,ts,user_id,variant_id,event\n1,2026-01-29T08:00:00Z,u,v,impression\n"
                 "2,2026-01-29T08:00:00Z,u,v,wink\n", encoding="utf-8")
    store = tmp_path / "s.sqlite"
    res = _cli(tmp_path, "feedback", "ingest", str(f), "--store", str(store))
    assert res.exit_code == 0 and res.stdout.strip().splitlines()[-1] == "accepted=1 duplicate=0 rejected=1"
    res = _cli(tmp_path, "feedback", "ingest", str(f), "--store", str(store), "--format", "json")
    assert json.loads(res.stdout)["duplicate"] == 1
    res = _cli(tmp_path, "feedback", "ingest", str(tmp_path / "nope.csv"), "--store", str(store))
    assert res.exit_code == 2 and "file not found" in res.output


def test_variant_rows_name_their_template_item_and_title_in_every_format(store_path: Path, tmp_path: Path) -> None:
    from bannergen.reporting import render_html, to_csv, to_json, to_table

    seg = tmp_path / "out" / "seg"
    seg.mkdir(parents=True)
    variants = {f"v{j}": {"template": "price-drop", "item_ids": [f"00010{j}"], "size": "1200x400"} for j in range(3)}
    (seg / "manifest.json").write_text(json.dumps({"variants": variants}), encoding="utf-8")
    items = pd.DataFrame({"item_id": ["000100", "000101", "000102"], "title": ["佳能 相机", "苹果 手机", "索尼 耳机"]})
    with open_store(store_path) as store:
        rep = build_report(store, "variant", tmp_path / "out", items=items)
    row = {"variant_id": "v1", "template": "price-drop", "item_id": "000101", "title": "苹果 手机"}
    labels = rep.rows.set_index("variant_id").loc["v1", ["template", "item_id", "title"]]
    assert labels.tolist() == list(row.values())[1:]
    assert row.items() <= next(r for r in json.loads(to_json(rep)) if r["variant_id"] == "v1").items()
    assert to_csv(rep).splitlines()[0].startswith("variant_id,template,item_id,title,impressions")
    table = to_table(rep).splitlines()
    assert table[0].split()[:5] == ["variant_id", "template", "item_id", "title", "impressions"]
    assert any(line.split()[:4] == ["v1", "price-drop", "000101", "苹果"] for line in table)
    assert "<td>苹果 手机</td>" in render_html(rep)


def test_html_report_draws_variants_that_never_got_a_click(tmp_path: Path) -> None:
    """A variant with impressions and no click has a CTR of 0 and an interval starting at 0: the
    plot's error bars must take it (a bound a rounding error above 0 made matplotlib refuse)."""
    from bannergen.reporting import write_html

    never = uniform_log((0.0,), 35, seed=9)  # 35 impressions, no click: a count where rounding bites
    other = uniform_log((0.3,), 300, seed=10, prefix="x").assign(variant_id="v1")
    events = pd.concat([never, other], ignore_index=True)
    with open_store(tmp_path / "s.sqlite") as store:
        store.add(events)
        report = build_report(store, "variant")
        assert report.rows.loc[report.rows["variant_id"] == "v0", "clicks"].iat[0] == 0
        path = write_html(report, tmp_path / "r.html", store)
    assert "<img" in path.read_text(encoding="utf-8")
