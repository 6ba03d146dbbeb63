"""Helpers of the service tests: the real server on a loopback port (started as the installed
command runs, stopped with Ctrl-C), a decision whose own banner is on disk, and an isolated project."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

# The bannergen command line, run as the installed entry point runs it.
CLI = "import sys\nfrom bannergen.cli.main import main\nsys.argv[0] = 'bannergen'\nmain()\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(project: Path, *args: str, env: dict | None = None, workers: int = 1,
                timeout_s: float = 180) -> tuple[subprocess.Popen, str]:
    """`bannergen serve` for ``project`` on a free loopback port; returns (process, base URL) once
    /healthz has answered 200 from ``workers`` distinct worker processes."""
    import httpx

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", CLI, "--project", str(project), "serve", "--port", str(port), *args],
                            env=os.environ if env is None else env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout_s
    seen: set = set()
    while len(seen) < workers:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited ({proc.returncode}): {proc.communicate()[1][-3000:]}")
        if time.time() > deadline:
            stop_serve(proc)
            raise AssertionError(f"the server did not come up in {timeout_s:g} s")
        try:  # each request on a new connection, so a second worker can take it
            r = httpx.get(f"{base}/healthz", timeout=2)
            if r.status_code == 200:
                seen.add(r.json().get("worker"))
                continue
        except (httpx.TransportError, ValueError):
            pass
        time.sleep(0.2)
    return proc, base


def stop_serve(proc: subprocess.Popen) -> tuple[str, str]:
    """Ctrl-C, as in a terminal (killed after 30 s); returns the server's (stdout, stderr)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.communicate()


def decide_rendered(client, service, body: dict, headers: dict, timeout_s: float = 60.0) -> dict:
    """POST /v1/decisions until the answer is the policy's own banner, rendered (not a stand-in).

    A decision whose variant is not on disk is answered at once with a rendered candidate and the
    variant is queued for the render pool; the service keeps the decision, so once the pool has
    drawn it the same request gets the policy's own banner."""
    deadline = time.time() + timeout_s
    while True:
        r = client.post("/v1/decisions", json=body, headers=headers)
        assert r.status_code == 200, r.text
        answer = r.json()
        if answer["fallback"] != "not-rendered":
            return answer
        while len(service.render_pool) and time.time() < deadline:
            time.sleep(0.05)
        assert time.time() < deadline, "the render pool did not draw the missing variant"


def raw_user_id(service, pseudonym: str) -> str:
    """The shop's own id of a user the service keeps under a pseudonym: what a CMS sends."""
    return str(service.engine.shop.raw_ids[pseudonym])


def service_project(root, tmp, **serve):
    """The project at ``root`` with everything a service writes in ``tmp``: render output, both
    stores, and the forgotten list and consent records (forget and consent posts, which the fuzzer
    sends too, must not reach a project other tests share). ``serve`` overrides [serve] fields."""
    import dataclasses

    from bannergen.config import load_project

    project = load_project(root, {"privacy.forgotten": str(tmp / "forgotten.txt"),
                                  "privacy.consent": str(tmp / "consent.tsv")})
    return dataclasses.replace(project, out=tmp / "out", feedback_store=tmp / "fb.sqlite",
                               serve=dataclasses.replace(project.serve, behaviour_store=tmp / "b.sqlite", **serve))
