"""`bannergen serve --workers 2` on loopback, on both stores: what one worker is told reaches the
other within a second, the frequency cap counts impressions served by both, no acknowledged event
is lost to kill -9, workers die with their parent; on PostgreSQL, the database going away under
traffic (decisions go on from memory, flagged; event posts get 503; it reconnects by itself)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")

from conftest_service import start_serve, stop_serve  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
USER = "zhangsan"  # in the rendered camera-fans segment: every candidate of theirs is on disk
CAP = 3  # scoring/policy.toml: frequency_cap.per_user_per_day
SETTLE_S = 1.0  # a commit to one worker reaches every worker within this


@pytest.fixture(scope="module")
def rendered_out(tmp_path_factory) -> Path:
    """An out folder with the camera-fans segment rendered (a manifest and every candidate of three users)."""
    from bannergen.config import load_project
    from bannergen.pipeline import Engine

    out = tmp_path_factory.mktemp("rendered")
    project = _write_project(tmp_path_factory.mktemp("render-project"), out, None)
    Engine(load_project(project)).render("camera-fans", limit=3)
    return out


def _write_project(folder: Path, out: Path, url: str | None) -> Path:
    """The repository's shop in ``folder``, its out folder ``out``, its store SQLite (.bannergen/) or ``url``."""
    from test_service_server import project_copy

    project_copy(folder)
    (folder / "out").symlink_to(out, target_is_directory=True)
    if url:
        with (folder / "bannergen.toml").open("a", encoding="utf-8") as toml:
            toml.write(f'[store]\nurl = "{url}"\n')
    return folder


@dataclass
class Server:
    proc: subprocess.Popen
    base: str
    project: Path

    def probe(self, user: str = USER, **extra) -> tuple[int, dict]:
        """(the worker's pid, its decision for ``user``): /healthz then the decision on one connection."""
        with httpx.Client(base_url=self.base, timeout=10) as c:
            pid = c.get("/healthz").json()["worker"]
            r = c.post("/v1/decisions", json={"user_id": user, "size": "1200x400", "placement": "home", **extra})
            assert r.status_code == 200, r.text
            return pid, r.json()

    def each_worker(self, user: str = USER, workers: int = 2, tries: int = 60) -> dict[int, dict]:
        """A decision for ``user`` from every worker (fresh connections until each has answered)."""
        seen: dict[int, dict] = {}
        for _ in range(tries):
            pid, d = self.probe(user)
            seen.setdefault(pid, d)
            if len(seen) == workers:
                return seen
        raise AssertionError(f"only workers {sorted(seen)} answered in {tries} connections")

    def settled(self, user: str = USER, within_s: float = 120) -> dict:
        """The decision every worker gives ``user`` once its variant is rendered (the first
        decisions queue it for the render pool and answer with a stand-in meanwhile)."""
        deadline = time.time() + within_s
        while True:
            answers = self.each_worker(user)
            banners = {(d["item_id"], d["template"]) for d in answers.values()}
            if len(banners) == 1 and all(d["fallback"] is None for d in answers.values()):
                return next(iter(answers.values()))
            assert time.time() < deadline, answers
            time.sleep(0.5)

    def post(self, *events: dict) -> httpx.Response:
        with httpx.Client(base_url=self.base, timeout=30) as c:
            return c.post("/v1/events", json={"events": list(events)})


@pytest.fixture
def server(request, tmp_path, rendered_out) -> Iterator[Server]:
    """``bannergen serve --workers 2`` over the rendered shop on the store named by the test's parameter."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    project = _write_project(tmp_path, rendered_out, url)
    env = {k: v for k, v in os.environ.items() if k not in ("BANNERGEN_API_KEY", "BANNERGEN_STORE_URL")}
    proc, base = start_serve(project, "--open", "--workers", "2", env=env, workers=2, timeout_s=240)
    try:
        yield Server(proc, base, project)
    finally:
        print(stop_serve(proc)[1][-4000:])  # the server's log, shown when the test fails


def impression(decision: dict, user: str = USER) -> dict:
    return {"type": "impression", "user_id": user, "variant_id": decision["variant_id"], "placement": "home",
            "policy": decision["policy"], "propensity": decision["propensity"], "event_id": uuid.uuid4().hex}


def _children(pid: int) -> set[int]:
    """The processes ``pid`` started (Linux's /proc)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(c) for c in (task / "children").read_text().split())
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize("server", ["sqlite", "postgres"], indirect=True)
def test_workers_share_one_state_through_the_store(server: Server) -> None:
    shown = server.settled()
    # The cap: impressions posted to whichever worker count for every worker's next decision.
    for _ in range(CAP):
        assert server.post(impression(shown)).status_code == 202
    time.sleep(SETTLE_S)
    after = server.each_worker()
    assert all((d["item_id"], d["template"]) != (shown["item_id"], shown["template"]) for d in after.values()), after

    # A view from a user no worker has heard of: every worker knows them within a second.
    newcomer = "new-" + uuid.uuid4().hex[:8]
    assert server.post({"type": "view", "user_id": newcomer, "item_id": shown["item_id"]}).status_code == 202
    time.sleep(SETTLE_S)
    assert all(d["fallback"] != "unknown-user" for d in server.each_worker(newcomer).values())

    # kill -9 of a worker loses no acknowledged event: each was committed before its 202.
    acknowledged = []
    for n in range(20):
        event = impression(shown, user=f"buyer-{n}")
        r = server.post(event)
        assert r.status_code == 202 and r.json()["accepted"] == 1
        acknowledged.append(event["event_id"])
    victim = next(iter(server.each_worker()))
    os.kill(victim, signal.SIGKILL)
    from bannergen.config import load_project
    from bannergen.store import open_feedback_store

    with open_feedback_store(load_project(server.project).feedback_location) as store:
        stored = set(store.events_frame(["event_id"])["event_id"])
    assert set(acknowledged) <= stored
    assert server.post(impression(shown, user="after-the-kill")).status_code == 202  # the other worker answers

    # The workers end with the supervisor, even when it is killed outright.
    workers = _children(server.proc.pid)
    assert len(workers) >= 2
    server.proc.kill()
    deadline = time.time() + 10
    while any(_alive(pid) for pid in workers) and time.time() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers)


@pytest.mark.slow
@pytest.mark.parametrize("server", ["postgres"], indirect=True)
def test_the_database_going_away_under_traffic(server: Server, postgres_cluster) -> None:
    before = server.settled()  # the user's own banner, rendered, from every worker (not a stand-in)
    assert before["degraded"] is False
    postgres_cluster.stop("immediate")
    try:
        r = server.post(impression(before))
        assert r.status_code == 503 and r.headers["retry-after"] == "2", r.text
        assert r.json()["detail"].startswith("events not stored, send them again: cannot write to the store")
        deadline = time.time() + 15
        while not server.probe()[1]["degraded"]:  # every worker notices at its next poll
            assert time.time() < deadline
            time.sleep(0.2)
        _, during = server.probe()
        assert (during["item_id"], during["template"]) == (before["item_id"], before["template"])  # from memory
        health = httpx.get(f"{server.base}/healthz", timeout=5).json()
        assert health["status"] == "degraded" and health["checks"]["store"].startswith("degraded: ")
    finally:
        postgres_cluster.start()
    event = impression(before)
    deadline = time.time() + 30
    while (r := server.post(event)).status_code == 503:  # the pool reconnects by itself
        assert time.time() < deadline, r.text
        time.sleep(0.5)
    assert r.status_code == 202 and r.json()["accepted"] == 1
    deadline = time.time() + 15
    while any(d["degraded"] for d in server.each_worker().values()):
        assert time.time() < deadline
        time.sleep(0.2)
