"""The HTTP service in-process: decisions, events, assets, errors (one problem+json shape), keys."""

from __future__ import annotations

import dataclasses
import io
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tree_guard import example_project

pytest.importorskip("fastapi")
warnings.filterwarnings("ignore", message=".*httpx.*", category=DeprecationWarning)
from conftest_service import decide_rendered, raw_user_id  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from bannergen.config import load_project  # noqa: E402
from bannergen.errors import ConfigError  # noqa: E402
from bannergen.pipeline import Engine  # noqa: E402
from bannergen.service import Service, create_app  # noqa: E402
from bannergen.service.keys import Signer, check_exposure  # noqa: E402

ROOT = example_project()  # the example project; what tests write stays out of the working tree
KEY = "test-key-1"
AUTH = {"authorization": f"Bearer {KEY}"}
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def make_project(tmp: Path, **serve):
    project = load_project(ROOT)
    return dataclasses.replace(
        project, out=tmp / "out", feedback_store=tmp / "feedback.sqlite", workers=1,
        serve=dataclasses.replace(project.serve, behaviour_store=tmp / "behaviour.sqlite", **serve))


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("service")
    project = make_project(tmp)
    Engine(project).render("camera-fans", limit=3)  # a manifest and some assets on disk
    service = Service(project, keys=(KEY,))
    with TestClient(create_app(service)) as client:
        yield project, service, client


def decide(client, user="zhangsan", size="1200x400", **extra):
    r = client.post("/v1/decisions", json={"user_id": user, "placement": "home_top", "size": size, **extra}, headers=AUTH)
    assert r.status_code == 200, r.text
    return r.json()


def test_decision_matches_batch_selection(env):
    project, service, client = env
    r = client.post("/v1/decisions", json={"user_id": "zhangsan", "placement": "home_top", "size": "1200x400"}, headers=AUTH)
    assert r.headers["cache-control"] == "private, no-store"
    d = decide_rendered(client, service, {"user_id": "zhangsan", "placement": "home_top", "size": "1200x400"}, AUTH)
    batch = Engine(project).decide_users(["zhangsan"]).iloc[0]
    assert (d["item_id"], d["template"], d["policy"]) == (batch["item_id"], batch["template"], "softmax")
    assert d["propensity"] == pytest.approx(batch["propensity"], abs=1e-5)
    assert d["explanation"] == "因为你浏览了 佳能 相机"
    assert d["assets"]["webp"] == f"/assets/{d['variant_id']}.webp"
    assert d["html"] == f"/assets/{d['variant_id']}.html"
    assert d["assets_2x"] and d["assets_2x"]["webp"] != d["assets"]["webp"]  # 2400x800 exists
    assert d["decision_id"].startswith("d") and len(d["decision_id"]) == 21


def test_unknown_user_gets_the_default(env):
    d = decide(env[2], user="someone-new")
    assert d["policy"] == "default" and d["fallback"] == "unknown-user" and d["propensity"] == 1.0


def test_scoring_fault_returns_the_default(env, monkeypatch):
    _, service, client = env

    def broken(*_a):
        raise RuntimeError("boom")

    monkeypatch.setattr(service.state, "decide", broken)
    d = decide(client)
    assert d["policy"] == "default"
    assert service.metrics.fallbacks["error"] >= 1


def problem(r, status):
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert set(body) <= {"type", "title", "status", "detail", "errors"}
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status and body["type"].startswith("https://bannergen.dev/problems/")
    return body


ERRORS = [
    # (method, path, kwargs, status, field named in errors or None)
    ("post", "/v1/decisions", {"content": b"{not json", "headers": {**AUTH, "content-type": "application/json"}}, 400, "body"),
    ("post", "/v1/decisions", {"json": [1, 2], "headers": AUTH}, 400, "body"),
    ("post", "/v1/decisions", {"json": {"user_id": 7}, "headers": AUTH}, 422, "body.user_id"),
    ("post", "/v1/decisions", {"json": {"user_id": "a", "size": "big"}, "headers": AUTH}, 422, "body.size"),
    ("post", "/v1/decisions", {"json": {"user_id": "a", "size": "999x999"}, "headers": AUTH}, 422, "body.size"),
    ("post", "/v1/decisions", {"json": {"user_id": "a", "userid": "b"}, "headers": AUTH}, 422, "body.userid"),
    ("post", "/v1/decisions", {"json": {"user_id": "a"}}, 401, None),
    ("post", "/v1/decisions", {"json": {"user_id": "a"}, "headers": {"authorization": "Bearer wrong"}}, 403, None),
    ("post", "/v1/events", {"json": {"events": [{"type": "view", "user_id": "a", "item_id": "nope"}]}, "headers": AUTH},
     422, "body.events.0.item_id"),
    ("post", "/v1/events", {"json": {"events": [{"type": "view", "user_id": "a", "item_id": "000103", "ts": "yesterday"}]},
                            "headers": AUTH}, 422, "body.events.0.ts"),
    ("post", "/v1/events", {"json": {"events": [{"type": "click", "user_id": "a"}]}, "headers": AUTH}, 422,
     "body.events.0.variant_id"),
    ("post", "/v1/events", {"json": {"events": [{"type": "wink", "user_id": "a"}]}, "headers": AUTH}, 422, "body.events.0.type"),
    ("post", "/v1/events", {"json": {"events": [{"type": "view", "user_id": "a", "item_id": "000103"}] * 501},
                            "headers": AUTH}, 413, "body.events"),
    ("post", "/v1/decisions", {"content": b"x" * 2_000_000, "headers": {**AUTH, "content-type": "application/json"}}, 413, None),
    ("get", "/nowhere", {}, 404, None),
    ("get", "/assets/abc.webp", {}, 404, None),
    ("get", "/v1/decisions", {}, 405, None),
]


@pytest.mark.parametrize("method,path,kwargs,status,field", ERRORS, ids=[f"{e[3]}-{e[1]}-{i}" for i, e in enumerate(ERRORS)])
def test_every_error_is_one_problem_shape(env, method, path, kwargs, status, field):
    body = problem(getattr(env[2], method)(path, **kwargs), status)
    if field:
        assert field in [e["field"] for e in body.get("errors", [])], body
        if status == 422:
            assert field in body["detail"]


def test_streamed_body_over_the_limit_is_413_without_reading_it_all(env):
    _, service, client = env
    sent = []

    def chunks():
        for _ in range(64):
            sent.append(1)
            yield b" " * 65536

    r = client.post("/v1/events", content=chunks(), headers={**AUTH, "content-type": "application/json"})
    problem(r, 413)


def test_missing_key_says_bearer(env):
    r = env[2].post("/v1/events", json={"events": []})
    assert problem(r, 401) and r.headers["www-authenticate"] == "Bearer"


def test_assets_are_immutable_with_etag_and_304(env):
    project, service, client = env
    manifest = json.loads((project.out / "camera-fans" / "manifest.json").read_text())
    vid, entry = next(iter(manifest["variants"].items()))
    for fmt, ctype in (("webp", "image/webp"), ("png", "image/png"), ("html", "text/html; charset=utf-8")):
        r = client.get(f"/assets/{vid}.{fmt}")
        assert r.status_code == 200
        assert r.headers["content-type"] == ctype
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.content == (project.out / "camera-fans" / entry["files"][fmt]).read_bytes()
        etag = r.headers["etag"]
        assert etag.startswith('"') and not etag.startswith("W/")
        again = client.get(f"/assets/{vid}.{fmt}", headers={"if-none-match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        head = client.head(f"/assets/{vid}.{fmt}")  # what a CDN asks before it fetches
        assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == etag
        assert int(head.headers["content-length"]) == len(r.content)
    html = client.get(f"/assets/{vid}.html").text
    sidecar = html.split('img/', 1)[1].split('"', 1)[0].split("'", 1)[0].split(")", 1)[0]
    r = client.get(f"/assets/img/{sidecar}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/webp"


TRAVERSAL = [
    "/assets/../bannergen.toml", "/assets/..%2Fbannergen.toml", "/assets/%2e%2e/bannergen.toml",
    "/assets/..%2F..%2Fetc%2Fpasswd", "/assets/%252e%252e%252fetc%252fpasswd", "/assets/....//bannergen.toml",
    "/assets/img/../../bannergen.toml", "/assets/img/..%2F..%2Fmanifest.json", "/assets/manifest.json",
    "/assets/0087fa7bac5330ad995a0b4e.webp%00.png", "/assets/0087FA7BAC5330AD995A0B4E.webp",
    "/assets/0087fa7bac5330ad995a0b4e.webp.", "/assets/0087fa7bac5330ad995a0b4e.svg", "/assets/%30087fa7bac5330ad995a0b4e",
    "/assets/0087fa7bac5330ad995a0b4e.webp/", "/assets/ 0087fa7bac5330ad995a0b4e.webp", "/assets/img/x.webp",
    "/assets/img/0123456789abcdef0123.png", "/assets/camera-fans/manifest.json", "/assets/%5c..%5cbannergen.toml",
    "/assets/..\\bannergen.toml", "/assets/img/%2e%2e%2f%2e%2e%2fbannergen.toml", "/assets//etc/passwd",
]


@pytest.mark.parametrize("path", TRAVERSAL)
def test_traversal_and_encoding_tricks_are_404_before_the_disk(env, path, monkeypatch):
    _, service, client = env
    touched = []
    monkeypatch.setattr(service.assets, "get", lambda rel: touched.append(rel))
    problem(client.get(path), 404)
    assert touched == []


def test_feedback_by_decision_id_updates_the_policy_state(env):
    _, service, client = env
    d = decide(client)
    key = (d["item_id"], d["template"])
    before = list(service.engine.feedback.counts.get(key, [0, 0]))
    events = [{"type": "impression", "user_id": "zhangsan", "decision_id": d["decision_id"], "event_id": "imp-1"},
              {"type": "click", "user_id": "zhangsan", "decision_id": d["decision_id"], "event_id": "clk-1"}]
    r = client.post("/v1/events", json={"events": events}, headers=AUTH)
    assert r.status_code == 202 and r.json()["accepted"] == 2, r.text
    assert service.engine.feedback.counts[key] == [before[0] + 1, before[1] + 1]
    columns = ["event_id", "variant_id", "propensity", "policy", "placement"]
    stored = service.writer.submit(service.engine.store.events_frame, columns).result()  # the writer owns the store
    row = stored[stored["event_id"] == "imp-1"].iloc[0]
    assert (row["variant_id"], row["policy"], row["placement"]) == (d["variant_id"], "softmax", "home_top")
    assert row["propensity"] == pytest.approx(d["propensity"])
    again = client.post("/v1/events", json={"events": events}, headers=AUTH).json()
    assert (again["accepted"], again["duplicate"]) == (0, 2)
    assert service.engine.feedback.counts[key] == [before[0] + 1, before[1] + 1]


def test_behaviour_is_durable_idempotent_and_replayed(env, tmp_path):
    project, service, client = env
    user = "brand-new-user"
    events = [{"type": "view", "user_id": user, "item_id": "000103", "event_id": f"bv-{i}"} for i in range(3)]
    r = client.post("/v1/events", json={"events": events}, headers=AUTH).json()
    assert (r["accepted"], r["users_updated"]) == (3, 1)
    assert client.post("/v1/events", json={"events": events}, headers=AUTH).json()["duplicate"] == 3
    d = decide(client, user=user)
    kept = service.privacy.pseudonym(user)  # user ids are kept as pseudonyms
    assert d["fallback"] != "unknown-user" and service.state.decide(kept, "1200x400").policy == "softmax"
    service.flush_decisions()  # None when the service's own periodic flush got there first
    service.writer.submit(lambda: None).result()  # everything queued before it is written
    restarted = Service(project, keys=(KEY,))
    try:
        assert kept in restarted.state.users
        assert restarted.state.decide(kept, "1200x400") == service.state.decide(kept, "1200x400")
        assert restarted.behaviour.decision(d["decision_id"])[2] == d["variant_id"]
    finally:
        restarted.close()


def test_phone_lover_who_views_five_cameras_gets_a_camera_banner(env):
    """The real-time case end to end, through HTTP, on a user of the example shop whose top
    category is 手机 and whose banner is a phone: five camera views now make a session whose
    short-term interest (scoring/weights.toml [session]) outweighs the phone habit."""
    _, service, client = env
    model = service.state.model
    catalog = model.catalog
    from bannergen.segments import get_segment

    rows = model.members(get_segment(service.engine.segments, "phone-shoppers"))
    user = None
    for row in rows:
        uid = str(model.profiles.user_ids[row])
        choice = service.state.decide(uid, "1200x400")
        if choice.policy == "softmax" and catalog["category"].iat[choice.item] == "手机":
            user = uid
            break
    assert user is not None and model.summary.top_category[model.profiles.row(user)] == "手机"
    user = raw_user_id(service, user)
    body = {"user_id": user, "placement": "home_top", "size": "1200x400"}
    assert catalog["category"].to_numpy()[catalog["item_id"] == decide_rendered(client, service, body, AUTH)["item_id"]][0] == "手机"
    cameras = catalog[catalog["category"] == "相机"]
    popular = cameras.iloc[np.argsort(-model.profiles.popularity[cameras.index.to_numpy()])[:5]]["item_id"]
    events = [{"type": "view", "user_id": user, "item_id": item, "event_id": f"{user}-cam-{i}"} for i, item in enumerate(popular)]
    assert client.post("/v1/events", json={"events": events}, headers=AUTH).json()["users_updated"] == 1
    after = decide_rendered(client, service, body, AUTH)
    assert catalog["category"].to_numpy()[catalog["item_id"] == after["item_id"]][0] == "相机", after
    assert "相机" in after["explanation"]


def test_real_time_views_raise_the_camera_score_for_every_phone_shopper(env):
    """Across the whole segment, five camera views raise the best camera candidate's share."""
    _, service, _ = env
    from bannergen.segments import get_segment
    from bannergen.service.realtime import BehaviourEvent, UserRescorer

    model = service.state.model
    rows = model.members(get_segment(service.engine.segments, "phone-shoppers"))[:60]
    users = [str(u) for u in model.profiles.user_ids[rows]]
    rescorer = UserRescorer(model, service.engine.shop.events, service.engine.policy_settings, service.engine.segments)
    before = rescorer.rescore(users)
    cams = np.flatnonzero((model.catalog["category"] == "相机").to_numpy() & model.campaign_rules.allowed)
    camera = cams[np.argmax(model.profiles.popularity[cams])]
    now = time.time_ns() // 1000
    rescorer.add_live(BehaviourEvent(f"{u}-{i}", now, u, "view", model.catalog["item_id"].iat[camera]) for u in users for i in range(5))
    after = rescorer.rescore(users)
    is_cam = model.catalog["category"].to_numpy() == "相机"
    for u in users:
        b = before[u].scores[0, :-1][is_cam[before[u].items[0, :-1]]].max(initial=-np.inf)
        a = after[u].scores[0, :-1][is_cam[after[u].items[0, :-1]]].max(initial=-np.inf)
        assert a > b, u


def test_a_missing_variant_is_answered_at_once_with_a_rendered_candidate(env):
    """The chosen variant is not on disk: the answer does not wait for it. A rendered candidate of
    the same decision stands in (flagged, counted in /metrics), the render pool (another process)
    draws the missing one, and the next decision serves it."""
    import os

    _, service, client = env
    size = "300x250"

    def vid(item, template, antecedent):
        return service.state.variants[(int(item), int(template), int(antecedent), size)]

    user = next(u for u, c in service.state.users.items()
                if u in service.engine.shop.raw_ids.index and c.fixed[0] == "" and not service.assets.has(vid(c.items[0, 0], c.templates[0, 0], c.antecedents[0, 0]))
                and (c.items[0, 1:-1] >= 0).any() and service.state.decide(u, size).position == 0)
    cands = service.state.users[user]
    user = raw_user_id(service, user)
    chosen = vid(cands.items[0, 0], cands.templates[0, 0], cands.antecedents[0, 0])
    others = [vid(i, t, a) for i, t, a in zip(cands.items[0, 1:-1], cands.templates[0, 1:-1], cands.antecedents[0, 1:-1])
              if i >= 0]
    engine = service.engine
    spec = service.state.spec(int(cands.items[0, 1]), int(cands.templates[0, 1]), size, int(cands.antecedents[0, 1]))
    result = engine.renderer.render(spec)  # a rendered candidate the decision can fall back to
    from bannergen.cache import AssetStore

    AssetStore(service.live_out).put(others[0], result.files, result.sidecars)
    service.assets.note(others[0])
    before = service.metrics.fallbacks["not-rendered"]
    started = time.perf_counter()
    d = decide(client, user=user, size=size)
    assert time.perf_counter() - started < 1.0  # no render in the request's path
    assert (d["fallback"], d["policy"], d["propensity"], d["rendered"]) == ("not-rendered", "fallback", 1.0, True)
    assert d["variant_id"] in others and d["variant_id"] != chosen
    assert service.metrics.fallbacks["not-rendered"] == before + 1
    assert 'bannergen_fallbacks_total{reason="not-rendered"}' in client.get("/metrics").text
    workers = {p.pid for p in service.render_pool._pool._processes.values()}
    assert workers and os.getpid() not in workers  # the pool renders in other processes
    again = decide_rendered(client, service, {"user_id": user, "placement": "home_top", "size": size}, AUTH)
    assert (again["variant_id"], again["fallback"], again["rendered"]) == (chosen, None, True)
    assert client.get(again["assets"]["webp"]).status_code == 200


def test_manifest_health_metrics_openapi(env):
    _, service, client = env
    assert "camera-fans" in client.get("/v1/manifest").json()["segments"]
    health = client.get("/healthz").json()
    assert health["status"] in ("ok", "degraded") and health["users"] == len(service.state.users)
    text = client.get("/metrics").text
    assert "bannergen_http_requests_total{" in text and 'bannergen_decisions_total{policy="softmax"}' in text
    assert "bannergen_http_request_seconds_bucket{" in text and "bannergen_fallbacks_total" in text
    spec = client.get("/openapi.json").json()
    assert {"/v1/decisions", "/v1/events", "/v1/manifest", "/healthz", "/assets/{name}"} <= set(spec["paths"])


def test_signed_asset_urls(env):
    project, service, client = env
    manifest = json.loads((project.out / "camera-fans" / "manifest.json").read_text())
    vid = next(iter(manifest["variants"]))
    signer = Signer("s3cret", 60)
    service.signer = signer
    try:
        d = decide(client)
        assert "?exp=" in d["assets"]["webp"] and "&sig=" in d["assets"]["webp"]
        path = f"/assets/{vid}.webp"
        assert client.get(signer.sign(path)).status_code == 200
        problem(client.get(path), 403)
        problem(client.get(signer.sign(path).replace("sig=", "sig=0")), 403)
        problem(client.get(signer.sign(path, now=time.time() - 3600)), 403)
        problem(client.get(signer.sign(f"/assets/{vid}.png").replace(".png", ".webp")), 403)
    finally:
        service.signer = None


@pytest.mark.parametrize("host,keys,allow_open,ok", [
    ("127.0.0.1", ("k",), False, True), ("0.0.0.0", ("k",), False, True), ("127.0.0.1", (), True, True),
    ("::1", (), True, True), ("localhost", (), True, True), ("127.0.0.1", (), False, False),
    ("0.0.0.0", (), True, False), ("10.1.2.3", (), True, False),
])
def test_no_key_no_start_unless_open_on_loopback(host, keys, allow_open, ok):
    if ok:
        check_exposure(host, keys, allow_open)
    else:
        with pytest.raises(ConfigError):
            check_exposure(host, keys, allow_open)


def test_rescoring_an_unchanged_user_reproduces_the_precomputed_candidates(env):
    _, service, _ = env
    for user in map(service.privacy.pseudonym, ("zhangsan", "u000012", "u000500")):
        fresh = service.rescorer.rescore([user])[user] if user not in service.rescorer.live else None
        if fresh is None:
            continue
        cached = service.state.users[user]
        assert fresh.items.tolist() == cached.items.tolist()
        np.testing.assert_allclose(fresh.scores, cached.scores, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("template,reason", [("carousel", "因为你比较了"), ("cross-sell", "买了 ")])
def test_special_banners_are_the_same_from_the_service_as_from_batch(env, template, reason):
    """A comparing user's carousel and a rule's cross-sell banner: same template, reason and
    variant id (so the same items and trigger) from POST /v1/decisions as from batch render."""
    project, service, client = env
    from bannergen.variants import plan_variants

    engine = Engine(project)
    batch = engine.decisions("all").chosen
    special = batch[(batch["template"] == template) & (batch["policy"] == "softmax")].head(3)
    assert len(special) > 0
    planned, _ = plan_variants(special, engine.model.catalog, project.catalog.parent, engine.templates, engine.renderer,
                               ("1200x400",), engine.model.carousel.companions)
    planned = planned[planned["size"] == "1200x400"]  # the 1x the decisions ask for, not its 2x
    for user, variant_id, explanation in zip(planned["user_id"].map(lambda u: raw_user_id(service, u)),
                                             planned["variant_id"], planned["explanation"]):
        d = decide_rendered(client, service, {"user_id": user, "placement": "home_top", "size": "1200x400"}, AUTH)
        assert (d["template"], d["variant_id"], d["explanation"]) == (template, variant_id, explanation)
        assert d["explanation"].startswith(reason)
    r = client.get(d["assets"]["png"])
    assert r.status_code == 200
    with Image.open(io.BytesIO(r.content)) as im:
        assert im.size == (1200, 400)
