"""Forget and consent through the real server (`bannergen serve` on a loopback port): ids in the
body, the server's own state and the stores it holds open are cleared, and the next decision for a
forgotten or opted-out user is the non-personalized default."""

from __future__ import annotations

import os
import time

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

# each test starts the real server over a rendered project
pytestmark = pytest.mark.slow

from conftest_service import start_serve, stop_serve  # noqa: E402
from privacy_project import files_holding, make_project, populate  # noqa: E402

from bannergen.config import load_project  # noqa: E402
from bannergen.privacy.pseudonyms import project_pseudonymizer  # noqa: E402

KEY = "privacy-key"
AUTH = {"authorization": f"Bearer {KEY}"}


def _serve(tmp_path_factory, *extra: str, workers: int = 1):
    project = make_project(tmp_path_factory.mktemp("served"))
    users = populate(project)
    proc, base = start_serve(project, *extra, env={**os.environ, "BANNERGEN_API_KEY": KEY}, workers=workers)
    yield project, users, base
    stop_serve(proc)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from _serve(tmp_path_factory)


def _decide(base: str, user: str) -> dict:
    r = httpx.post(f"{base}/v1/decisions", json={"user_id": user, "placement": "home_top", "size": "300x250"},
                   headers=AUTH, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_forget_over_http_clears_the_server_and_the_files(server):
    project, users, base = server
    user = users[0]
    assert _decide(base, user)["fallback"] in (None, "not-rendered")  # a known user: a personal decision
    events = [{"type": "view", "user_id": user, "item_id": "000101"}]
    assert httpx.post(f"{base}/v1/events", json={"events": events}, headers=AUTH, timeout=10).status_code == 202
    time.sleep(1.0)  # the decision log is flushed every half second
    assert httpx.post(f"{base}/v1/forget", json={"user_ids": [user]}, timeout=10).status_code == 401
    r = httpx.post(f"{base}/v1/forget", json={"user_ids": [user, "never-seen"]}, headers=AUTH, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["users"] == 2 and r.json()["records"] > 0
    answer = _decide(base, user)
    assert answer["fallback"] == "unknown-user" and answer["policy"] in ("default", "fallback")
    time.sleep(1.0)
    # the decision just made is logged again under the pseudonym (the user is back as a new visitor);
    # what was there before the forget is gone
    pseudonym = project_pseudonymizer(load_project(project)).one(user)
    forgotten = project / ".bannergen" / "forgotten.txt"
    assert pseudonym in forgotten.read_text(encoding="utf-8")
    assert files_holding(project, user) == []
    assert all(path.startswith(".bannergen/behaviour.sqlite") for path in
               files_holding(project, pseudonym, skip=(forgotten,)))


def test_an_opted_out_user_gets_the_default_and_is_not_stored(server):
    project, users, base = server
    user = users[1]
    r = httpx.post(f"{base}/v1/consent", json={"user_id": user, "consent": "out"}, headers=AUTH, timeout=10)
    assert r.status_code == 200, r.text
    assert _decide(base, user)["fallback"] == "unknown-user"
    events = [{"type": "view", "user_id": user, "item_id": "000101", "event_id": "opted-out-view"}]
    r = httpx.post(f"{base}/v1/events", json={"events": events}, headers=AUTH, timeout=10)
    assert r.status_code == 202 and r.json()["accepted"] == 0, r.text
    assert files_holding(project, "opted-out-view") == []
    r = httpx.post(f"{base}/v1/consent", json={"user_id": user, "consent": "in"}, headers=AUTH, timeout=10)
    assert r.status_code == 200
    events = [{"type": "view", "user_id": user, "item_id": "000101", "event_id": "fresh-view"}]
    r = httpx.post(f"{base}/v1/events", json={"events": events}, headers=AUTH, timeout=10)
    assert r.json()["accepted"] == 1
    assert _decide(base, user)["fallback"] != "unknown-user"  # starts fresh from the new event


def test_a_forget_taken_by_one_worker_reaches_every_worker(tmp_path_factory):
    """Two worker processes: the one that takes POST /v1/forget clears its memory; the other sees
    the forgotten list change and clears its own within a second."""
    served = _serve(tmp_path_factory, "--workers", "2", workers=2)
    project, users, base = next(served)
    try:
        user = users[1]
        before = [_decide(base, user)["fallback"] for _ in range(10)]
        assert "unknown-user" not in before  # both workers know the user
        r = httpx.post(f"{base}/v1/forget", json={"user_ids": [user]}, headers=AUTH, timeout=30)
        assert r.status_code == 200, r.text
        time.sleep(1.0)
        after = [_decide(base, user) for _ in range(20)]
        assert all(a["fallback"] == "unknown-user" for a in after), after
    finally:
        next(served, None)
