"""One decision path: for the same users and feedback state, batch render, the service (in
process and over HTTP with "explain": true) and `explain` show the same candidates with the same
probabilities, and the chosen candidate's probability is the propensity logged with it. Run under
every policy with a pin, boosts, filters, a frequency cap that binds and a holdout."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("fastapi")
warnings.filterwarnings("ignore", message=".*httpx.*", category=DeprecationWarning)
from conftest_service import decide_rendered  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from bannergen.config import load_project  # noqa: E402
from bannergen.pipeline import Engine  # noqa: E402
from bannergen.service import Service, create_app  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KEY = "parity-key"
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
PIN = '\n[[pin]]\nsegment = "camera-fans"\nitem_id = "000101"\n'
POLICY = "[thompson]\nprior_strength = 20\nexploration_floor = 0.02\n[frequency_cap]\nper_user_per_day = 1\n[holdout]\nshare = 0.1\n"


def make_engine(tmp: Path, policy: str) -> Engine:
    for name in ("templates", "scoring"):
        shutil.copytree(ROOT / name, tmp / name)
    (tmp / "assets").symlink_to(ROOT / "assets")
    (tmp / "shop").symlink_to(ROOT / "examples/shop")
    rules = tmp / "scoring/campaign_rules.toml"
    rules.write_text(rules.read_text(encoding="utf-8") + PIN, encoding="utf-8")
    (tmp / "scoring/policy.toml").write_text(f'[selection]\npolicy = "{policy}"\n{POLICY}', encoding="utf-8")
    (tmp / "bannergen.toml").write_text(
        '[data]\ncatalog = "shop/catalog.csv"\nevents = "shop/events.parquet"\n'
        '[render]\nsizes = ["1200x400"]\n[serve]\nbehaviour_store = "behaviour.sqlite"\n', encoding="utf-8")
    return Engine(load_project(tmp))


def feedback_today(variant_ids: list[str], users: list[str], clicks: int) -> pd.DataFrame:
    """An impression today of each (user, variant), the first ``clicks`` of them clicked."""
    now = pd.Timestamp.now(tz="UTC").floor("s") - pd.Timedelta(minutes=2)
    n = len(users)
    frame = pd.DataFrame({"event_id": [f"i{j}" for j in range(n)], "user_id": users, "variant_id": variant_ids,
                          "event": "impression", "placement": "home_top",
                          "ts": [(now + pd.Timedelta(milliseconds=j)).isoformat() for j in range(n)]})
    clicked = frame.head(clicks).assign(event="click", event_id=[f"c{j}" for j in range(clicks)],
                                        ts=[(now + pd.Timedelta(seconds=5, milliseconds=j)).isoformat() for j in range(clicks)])
    return pd.concat([frame, clicked], ignore_index=True)


@pytest.fixture(scope="module", params=["softmax", "greedy", "thompson"])
def world(request, tmp_path_factory):
    """A project under one policy whose feedback store holds today's impressions (so the cap binds
    for some users) and clicks (so Thompson's posteriors differ by banner); then a fresh batch
    engine and a fresh service over the same state."""
    tmp = tmp_path_factory.mktemp(request.param)
    first = make_engine(tmp, request.param)
    summary = first.render("camera-fans", limit=120)
    table = pd.read_csv(summary.out / pd.read_json(summary.out / "manifest.json", typ="series")["assignments"]["csv"],
                        dtype=str)
    shown = table.drop_duplicates("user_id").head(60)
    first.record_feedback(feedback_today(shown["variant_id"].tolist(), shown["user_id"].tolist(), clicks=25))
    engine = Engine(load_project(tmp))
    service = Service(engine.project, keys=(KEY,))
    with TestClient(create_app(service)) as client:  # the assignments table holds raw ids, the engine pseudonyms
        yield request.param, engine, service, client, engine.pseudonyms.many(shown["user_id"].tolist())


def users_to_check(engine: Engine, capped: list[str]) -> list[str]:
    members = engine.model.members(engine.segments["camera-fans"])
    fans = [str(u) for u in engine.model.profiles.user_ids[members[:40]]]
    others = [str(u) for u in engine.model.profiles.user_ids[::37][:80]]
    return list(dict.fromkeys(capped[:40] + fans + others + [engine.pseudonyms.one("zhangsan")]))


@pytest.mark.slow
def test_batch_serve_and_explain_give_the_same_probabilities(world):
    policy, engine, service, client, capped = world
    users = users_to_check(engine, capped)
    rows = engine.model.profiles.user_ids.get_indexer(users)
    batch = engine.decisions("all")
    log = batch.candidates[batch.candidates["user_id"].isin(users)]
    chosen = batch.chosen.set_index("user_id")
    kinds = set()
    for user, row in zip(users, rows):
        assert row >= 0
        mine = log[log["user_id"] == user].set_index("position")
        served = service.state.decide(user, "1200x400")
        kinds.add(served.policy)
        assert [c.position for c in served.candidates] == mine.index.tolist(), user
        np.testing.assert_allclose([c.probability for c in served.candidates], mine["probability"], atol=1e-9, rtol=0)
        assert served.position == int(mine.index[mine["chosen"]][0]), user
        assert served.propensity == pytest.approx(chosen.loc[user, "propensity"], abs=1e-9)
        assert (served.item_id, served.template_id, served.policy) == tuple(chosen.loc[user, ["item_id", "template", "policy"]])
        assert served.explanation == chosen.loc[user, "explanation"], user
        score = chosen.loc[user, "score"]
        assert (np.isnan(served.score) and np.isnan(score)) or served.score == pytest.approx(score, abs=1e-6)
    assert {"holdout", "pin", policy} <= kinds, kinds  # every path of the kernel was exercised
    if policy != "greedy":
        assert (log.groupby("decision_id")["probability"].apply(lambda p: ((p > 0) & (p < 1)).sum()) > 1).any()


@pytest.mark.slow
def test_explain_and_http_explain_match_the_batch_log(world):
    policy, engine, service, client, capped = world
    batch = engine.decisions("all")
    for user in users_to_check(engine, capped)[::9]:
        mine = batch.candidates[batch.candidates["user_id"] == user].set_index("position")
        raw = engine.shop.raw_ids[user]  # explain and the API take the raw id
        explained = engine.explain(raw).as_dict()
        assert [c["position"] for c in explained["candidates"]] == mine.index.tolist()
        np.testing.assert_allclose([c["probability"] for c in explained["candidates"]], mine["probability"], atol=1e-9, rtol=0)
        assert explained["propensity"] == pytest.approx(float(mine.loc[mine["chosen"], "probability"].iloc[0]), abs=1e-9)
        d = decide_rendered(client, service, {"user_id": raw, "placement": "home_top", "size": "1200x400",
                                              "explain": True}, {"authorization": f"Bearer {KEY}"})
        assert [c["position"] for c in d["candidates"]] == mine.index.tolist()
        np.testing.assert_allclose([c["probability"] for c in d["candidates"]], mine["probability"], atol=1e-9, rtol=0)
        assert d["propensity"] == pytest.approx(float(mine.loc[mine["chosen"], "probability"].iloc[0]), abs=1e-6)
        assert d["policy"] == explained["policy"] and d["item_id"] == explained["chosen"]["item_id"]


@pytest.mark.slow
def test_the_service_logs_each_decision_with_its_candidates(world):
    policy, engine, service, client, capped = world
    user = capped[0]
    r = client.post("/v1/decisions", json={"user_id": engine.shop.raw_ids[user], "placement": "home_top",
                                           "size": "1200x400"},
                    headers={"authorization": f"Bearer {KEY}"})
    decision_id = r.json()["decision_id"]
    service.flush_decisions()  # None when the service's own periodic flush got there first
    service.writer.submit(lambda: None).result()  # the writer thread has written everything before it
    log = service.behaviour.decision_log()
    mine = log[log["decision_id"] == decision_id]
    assert len(mine) >= 1 and mine["user_id"].eq(user).all()
    assert mine["probability"].sum() == pytest.approx(1.0, abs=1e-9)
    assert float(mine.loc[mine["chosen"], "probability"].iloc[0]) == pytest.approx(r.json()["propensity"], abs=1e-6)


@pytest.mark.slow
def test_a_kept_served_decision_is_redone_when_the_cap_uses_its_banner_up(world):
    """Serve keeps a decision until something it read changes: an impression that uses up the
    chosen banner's cap (1 a day here) makes the next decision rotate to another banner."""
    policy, engine, service, client, capped = world
    state = service.state
    user = next(u for u in users_to_check(engine, capped)
                if u not in capped and state.decide(u, "1200x400").policy == policy
                and (state.users[u].items[0, :-1] >= 0).sum() > 1)
    first = state.decide(user, "1200x400")
    assert state.decide(user, "1200x400") is first  # nothing moved: the kept decision
    variant = state.variants[(*first.banner, "1200x400")]
    r = client.post("/v1/events", headers={"authorization": f"Bearer {KEY}"}, json={"events": [
        {"type": "impression", "user_id": engine.shop.raw_ids[user], "variant_id": variant, "placement": "home_top",
         "event_id": "kept-1"}]})
    assert r.status_code == 202 and r.json()["accepted"] == 1, r.text
    second = state.decide(user, "1200x400")
    assert second.banner != first.banner and second.propensity > 0


def test_a_pin_for_an_undefined_segment_names_the_file_and_segment(tmp_path):
    from bannergen.errors import ConfigError

    make_engine(tmp_path, "softmax")
    rules = tmp_path / "scoring/campaign_rules.toml"
    rules.write_text(rules.read_text(encoding="utf-8") + '\n[[pin]]\nsegment = "nobody"\nitem_id = "000101"\n',
                     encoding="utf-8")
    with pytest.raises(ConfigError, match=r"campaign_rules\.toml \[\[pin\]\]: segment 'nobody' is not defined"):
        Engine(load_project(tmp_path)).decisions("all", limit=5)
