"""Campaign settings of templates on a copy of the example shop: a draft is never chosen, a
segment-restricted template reaches only its segment (batch, explain and serve's candidates
alike), a window keeps a template out before and after it, max_share caps who may get it,
forecast predicts the render after publish, and every bad value is rejected at file:line."""

from __future__ import annotations

import re
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bannergen.cli.main import app
from bannergen.config import load_project
from bannergen.errors import TemplateError
from bannergen.pipeline import Engine
from bannergen.runkey import run_key
from bannergen.selection.candidate_set import user_candidates
from bannergen.selection.decide import decide_rows
from bannergen.selection.eligibility import template_access
from bannergen.selection.forecast import forecast_template
from bannergen.templating.campaign import (
    Campaign,
    campaign_states,
    parse_campaign,
    set_status,
    without_campaign_keys,
)
from bannergen.templating.scaffold import new_template

ROOT = Path(__file__).resolve().parents[1]
NEW = "xin-ke"
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def make_project(tmp: Path) -> Path:
    for name in ("templates", "scoring"):
        shutil.copytree(ROOT / name, tmp / name)
    (tmp / "assets").symlink_to(ROOT / "assets")
    (tmp / "shop").symlink_to(ROOT / "examples/shop")
    (tmp / "bannergen.toml").write_text(
        '[data]\ncatalog = "shop/catalog.csv"\nevents = "shop/events.parquet"\n[render]\nsizes = ["300x250"]\n'
        'formats = ["png"]\n', encoding="utf-8")
    return tmp


def add_template(project: Path, extra: str, status: str = "draft") -> Path:
    """templates/xin-ke/: price-drop copied by `templates new`, with a high priority and ``extra`` keys."""
    folder = new_template(project / "templates", NEW, "price-drop")
    manifest = folder / "template.toml"
    text = manifest.read_text(encoding="utf-8").replace("priority = 0.1", "priority = 0.4")
    manifest.write_text(text.replace('status = "draft"\n', f'status = "{status}"\n{extra}'), encoding="utf-8")
    return manifest


def chosen(engine: Engine, now: datetime = NOW) -> pd.Series:
    """The template each user is given at ``now``, by user id."""
    model = engine.model
    made = decide_rows(model, np.arange(model.profiles.n_users), engine.project.seed, engine.policy_settings,
                       engine.segments, engine.feedback, now=now)
    ids = np.asarray([t.id for t in model.templates] + [""], dtype=object)
    return pd.Series(ids[np.where(made.chosen >= 0, made.template, -1)], index=model.profiles.user_ids)


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("shop"))


@pytest.fixture(scope="module")
def restricted(tmp_path_factory) -> Engine:
    """A live template for the new-customers segment only, priority above every shipped one."""
    project = make_project(tmp_path_factory.mktemp("restricted"))
    add_template(project, 'segments = ["new-customers"]\n', status="live")
    return Engine(load_project(project))


def test_new_makes_a_draft_that_nothing_chooses_until_published(tmp_path):
    project = make_project(tmp_path)
    manifest = add_template(project, "")
    assert 'status = "draft"' in manifest.read_text(encoding="utf-8")
    draft = chosen(Engine(load_project(project)))
    assert NEW not in set(draft)
    assert set_status(manifest, "live") == "draft"
    live = chosen(Engine(load_project(project)))
    assert (live == NEW).sum() > 100  # priority 0.4 wins most discounted items
    # Users it does not reach keep their banner, but for the odd one whose softmax draw lands elsewhere
    # because a candidate it did not win still moved the probabilities.
    assert (live[live != NEW] == draft[live != NEW]).mean() > 0.95
    set_status(manifest, "paused")
    assert NEW not in set(chosen(Engine(load_project(project))))


def test_a_segment_template_reaches_only_members(restricted):
    model = restricted.model
    members = model.members(restricted.segments["new-customers"])
    picks = chosen(restricted)
    got = np.flatnonzero((picks == NEW).to_numpy())
    assert len(got) > 100 and np.isin(got, members).all()
    assert 0.5 < len(got) / len(members) <= 1


def test_batch_explain_and_serve_candidates_agree_for_a_segment_template(restricted):
    model = restricted.model
    batch = restricted.decisions("all").candidates
    members = model.members(restricted.segments["new-customers"])
    rows = np.concatenate([members[:15], np.arange(0, model.profiles.n_users, 211)])
    served = user_candidates(model, rows, restricted.policy_settings, restricted.segments)
    for row in rows:
        user = str(model.profiles.user_ids[row])
        mine = batch[batch["user_id"] == user].set_index("position")
        explained = restricted.explain(restricted.shop.raw_ids[user])  # explain takes the raw id
        assert [c.template_id for c in explained.candidates] == mine["template"].tolist(), user
        np.testing.assert_allclose([c.probability for c in explained.candidates], mine["probability"], atol=1e-9)
        cands = served[user]  # what serve decides over: the same candidates, the fixed banner last
        policy_columns = cands.items[0, :-1] >= 0
        assert cands.template_ids[0, :-1][policy_columns].tolist() == mine["template"].tolist()[:policy_columns.sum()]
        member = row in members
        assert (NEW in mine["template"].tolist()) <= member
        verdict = next(v for v in explained.campaign if v.template_id == NEW)
        assert verdict.allowed == member
        assert "segments new-customers: " + ("a member" if member else "not a member") in verdict.setting


def test_a_window_keeps_a_template_out_before_and_after_it(tmp_path):
    project = make_project(tmp_path)
    add_template(project, "start = 2026-11-29T08:00:00+08:00\nend = 2026-11-30T08:00:00+08:00\n", status="live")
    engine = Engine(load_project(project))
    open_at = chosen(engine, datetime(2026, 11, 29, 1, 0, tzinfo=UTC))  # 09:00 in Beijing
    assert (open_at == NEW).sum() > 100
    for outside in (datetime(2026, 11, 28, 23, 59, tzinfo=UTC), datetime(2026, 11, 30, 0, 0, tzinfo=UTC)):
        assert NEW not in set(chosen(engine, outside))
    states = [campaign_states(project / "templates", t)[NEW] for t in
              (datetime(2026, 11, 28, tzinfo=UTC), datetime(2026, 11, 29, 6, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))]
    assert states == ["scheduled", "live", "ended"]


def test_the_run_key_changes_when_a_window_opens(tmp_path):
    project = make_project(tmp_path)
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
    add_template(project, f"start = {soon.isoformat(timespec='seconds')}\n", status="live")
    proj = load_project(project)
    before = run_key(proj, "all", None, False)
    assert run_key(proj, "all", None, False) == before
    time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.5)
    assert run_key(proj, "all", None, False) != before


def test_max_share_lets_in_that_share_of_users(tmp_path):
    project = make_project(tmp_path)
    add_template(project, "max_share = 0.2\n", status="live")
    engine = Engine(load_project(project))
    model = engine.model
    access = template_access(model, np.arange(model.profiles.n_users), engine.segments, NOW)
    k = [t.id for t in model.templates].index(NEW)
    assert 0.17 < access[:, k].mean() < 0.23
    assert np.array_equal(access, template_access(model, np.arange(model.profiles.n_users), engine.segments, NOW))
    picks = chosen(engine)
    assert ((picks == NEW).to_numpy() <= access[:, k]).all() and (picks == NEW).sum() > 50


def test_forecast_predicts_the_decisions_after_publish(tmp_path):
    project = make_project(tmp_path)
    manifest = add_template(project, 'segments = ["new-customers"]\n')
    engine = Engine(load_project(project))
    before = chosen(engine)
    result = forecast_template(engine.model, NEW, engine.project.seed, engine.policy_settings, engine.segments,
                               engine.feedback, now=NOW)
    set_status(manifest, "live")
    after = chosen(Engine(load_project(project)))
    gets = after == NEW
    assert result.state == "draft" and result.before == 0 and result.would_get == gets.sum() > 0
    by_segment = result.by_segment.set_index("segment")
    assert by_segment.loc["new-customers", "would_get"] == gets.sum()
    assert by_segment.loc["big-spenders", "would_get"] == 0
    expected = before[gets].value_counts()
    assert dict(zip(result.displaced["template"], result.displaced["users"])) == expected.to_dict()


WHERE = "templates/x/template.toml"


@pytest.mark.parametrize(("raw", "message"), [
    ({"status": "liev"}, "'status' must be one of 'draft', 'live', 'paused'; got 'liev' (hint: did you mean 'live'?)"),
    ({"start": datetime(2026, 11, 12, tzinfo=UTC), "end": datetime(2026, 11, 11, tzinfo=UTC)},
     "'end' must be after 'start'; got end 2026-11-11T00:00:00+00:00 <= start 2026-11-12T00:00:00+00:00"),
    ({"start": datetime(2026, 11, 11)}, "'start' must be a date and time with a time zone; got "
                                        "2026-11-11T00:00:00 without one"),
    ({"end": "2026-11-11"}, "'end' must be a date and time with a time zone; got 2026-11-11T00:00:00 without one"),
    ({"end": "next week"}, "'end' must be a date and time with a time zone; got 'next week'"),
    ({"segments": [1]}, "'segments' must be a list of segment names; got [1]"),
    ({"max_share": 0}, "'max_share' must be a number within 0..1 (above 0); got 0"),
    ({"max_share": 1.5}, "'max_share' must be a number within 0..1 (above 0); got 1.5"),
])
def test_bad_campaign_values(raw, message):
    with pytest.raises(TemplateError) as caught:
        parse_campaign(raw, WHERE)
    assert str(caught.value).startswith(f"{WHERE}: {message}")


def test_good_campaign_values():
    tz = datetime.fromisoformat("2026-11-11T00:00:00+08:00").tzinfo
    c = parse_campaign({"status": "paused", "start": "2026-11-11T00:00:00+08:00", "segments": "lapsed",
                        "max_share": 1}, WHERE)
    assert c == Campaign("paused", datetime(2026, 11, 11, tzinfo=tz), None, ("lapsed",), 1.0)
    assert parse_campaign({}, WHERE).is_default


def test_validate_rejects_bad_campaign_settings_at_their_line(shop, monkeypatch):
    project = shop
    manifest = project / "templates" / "price-drop" / "template.toml"
    original = manifest.read_text(encoding="utf-8")
    monkeypatch.chdir(project)
    runner = CliRunner()
    try:
        for extra, line_key, problem in [
            ('segments = ["new-customer"]\n', "segments",
             "'segments' must name segments of scoring/segments.toml; 'new-customer' is not one "
             "(hint: did you mean 'new-customers'?)"),
            ('status = "on"\n', "status", "'status' must be one of 'draft', 'live', 'paused'; got 'on'"),
            ("start = 2026-11-11T00:00:00\n", "start", "'start' must be a date and time with a time zone"),
        ]:
            manifest.write_text(extra + original, encoding="utf-8")
            res = runner.invoke(app, ["templates", "validate", "price-drop"])
            assert res.exit_code == 2, res.output
            assert f"templates/price-drop/template.toml:1: {problem}" in res.output, (line_key, res.output)
    finally:
        manifest.write_text(original, encoding="utf-8")


def test_list_reports_an_ended_template(shop, monkeypatch):
    manifest = add_template(shop, "start = 2025-11-11T00:00:00+08:00\nend = 2025-11-12T00:00:00+08:00\n",
                            status="live")
    monkeypatch.chdir(shop)
    try:
        res = CliRunner().invoke(app, ["templates", "list"])
        assert res.exit_code == 0, res.output
        assert ("campaign: ended: its window has passed; window 2025-11-11 00:00+08:00 .. 2025-11-12 00:00+08:00"
                in res.output)
    finally:
        shutil.rmtree(manifest.parent)


def test_publish_and_pause_edit_in_place_keeping_comments(tmp_path):
    manifest = tmp_path / "template.toml"
    manifest.write_text('# the team\'s note\nid = "x"  # = folder\nversion = "1"\n\n[suits]\n'
                        'categories = "*"  # status = "x" here is not the key\n', encoding="utf-8")
    assert set_status(manifest, "live") == "live"  # no key: live, for compatibility
    assert manifest.read_text(encoding="utf-8").splitlines()[:4] == [
        "# the team's note", 'id = "x"  # = folder', 'version = "1"', 'status = "live"']
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('status = "live"', 'status = "live"  # go!'))
    assert set_status(manifest, "paused") == "live"
    text = manifest.read_text(encoding="utf-8")
    assert 'status = "paused"  # go!' in text and text.count("status =") == 2  # the comment in [suits] untouched
    assert not list(tmp_path.glob(".*.tmp"))  # written through a temp file and a rename


def test_variant_ids_do_not_change_with_campaign_keys():
    text = 'id = "x"\nversion = "1"\nsegments = [\n  "a",  # new\n  "b",\n]\nstatus = "live"\n[suits]\nstatus = 1\n'
    assert without_campaign_keys(text) == 'id = "x"\nversion = "1"\n[suits]\nstatus = 1\n'
    shipped = (ROOT / "templates/price-drop/template.toml").read_text(encoding="utf-8")
    assert without_campaign_keys(shipped) == shipped  # shipped ids stay as they were


def test_forecast_command_prints_segments_and_displaced_templates(shop, monkeypatch):
    manifest = add_template(shop, 'segments = ["new-customers"]\n')
    monkeypatch.chdir(shop)
    try:
        res = CliRunner().invoke(app, ["templates", "forecast", NEW])
        assert res.exit_code == 0, res.output
        head = res.output.splitlines()[0]
        assert re.match(r"xin-ke \(draft now\): live now it would go to \d+ of 3,001 users \(now 0\)", head), head
        assert re.search(r"^big-spenders\s+278\s+0\s+0%$", res.output, re.M), res.output
        assert "they would no longer get:" in res.output
    finally:
        shutil.rmtree(manifest.parent)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # starlette's test client on httpx
def test_serve_over_http_agrees_with_batch_for_a_segment_template(restricted):
    """The same candidates and probabilities from POST /v1/decisions ("explain": true) as in the
    batch decision log, for members (who may get xin-ke) and others (who may not)."""
    pytest.importorskip("fastapi")
    from conftest_service import decide_rendered
    from starlette.testclient import TestClient

    from bannergen.service import Service, create_app

    model = restricted.model
    batch = restricted.decisions("all").candidates
    members = model.members(restricted.segments["new-customers"])
    rows = [int(members[0]), int(members[1]), 0, 1]
    service = Service(restricted.project, keys=("campaign-key",))
    served = []
    with TestClient(create_app(service)) as client:
        for row in rows:
            user = str(model.profiles.user_ids[row])
            mine = batch[batch["user_id"] == user].set_index("position")
            answer = decide_rendered(client, service, {"user_id": restricted.shop.raw_ids[user],
                                                       "placement": "home_top", "size": "300x250", "explain": True},
                                     {"authorization": "Bearer campaign-key"})
            assert [c["template"] for c in answer["candidates"]] == mine["template"].tolist(), user
            np.testing.assert_allclose([c["probability"] for c in answer["candidates"]], mine["probability"],
                                       atol=1e-9)
            assert (answer["template"] == NEW) <= (row in members)
            served.append(answer["template"])
    assert NEW in served[:2] and NEW not in served[2:], served


def test_serve_stops_choosing_a_template_when_its_window_closes(tmp_path):
    """Serve builds candidates at start-up; a window that closes while it runs is applied at
    decision time, without a restart or an event."""
    from bannergen.service import Service

    project = make_project(tmp_path)
    end = datetime.now(UTC) + timedelta(hours=1)
    add_template(project, f"end = {end.isoformat(timespec='seconds')}\n", status="live")
    engine = Engine(load_project(project))
    users = chosen(engine, datetime.now(UTC))
    getting = [engine.shop.raw_ids[u] for u in users.index[users == NEW][:20]]
    assert getting
    service = Service(engine.project, keys=("campaign-key",))
    try:
        state = service.state
        before = [state.decide(service.privacy.pseudonym(u), "300x250") for u in getting]
        assert sum(state.template_ids[c.template] == NEW for c in before) > len(getting) // 2
        state.clock = lambda: end.timestamp() + 1  # an hour and a second later
        after = [state.decide(service.privacy.pseudonym(u), "300x250") for u in getting]
        assert all(c is not None and state.template_ids[c.template] != NEW for c in after)
    finally:
        service.close()
