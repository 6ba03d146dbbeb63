"""CPU per served decision (``DecisionState.decide``, the service's per-request decision work
without HTTP), each decision followed by an impression of the banner it chose, as a CMS shows it.

    python benchmarks/served_decision_cpu.py . softmax thompson       # project root, then policies
    python benchmarks/served_decision_cpu.py . asgi                   # per request through the ASGI app

``asgi``: CPU per POST /v1/decisions through the service's ASGI app in this process (no sockets,
no HTTP parsing: what the app adds on top of the server), by the hot path in front of FastAPI
and by the same route through FastAPI alone, beside the floor app of benchmarks/serve_bench.py.

The impression counts toward the user's frequency cap and, committed, moves the feedback counts
Thompson reads. To compare releases in one sitting, run it from another checkout
(``git worktree add /tmp/old REV``; ``python benchmarks/served_decision_cpu.py /tmp/old softmax``):
the first argument is both the project and the code that runs.
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import time
from pathlib import Path


async def _requests(app, bodies: list[bytes], headers: list[tuple[bytes, bytes]]) -> int:
    """Send each body as POST /v1/decisions to ``app`` (ASGI, in process); the count of 200s."""
    ok = 0
    for body in bodies:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/v1/decisions", "raw_path": b"/v1/decisions", "query_string": b"",
                 "root_path": "", "headers": [*headers, (b"content-length", str(len(body)).encode())],
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8000), "state": {}}
        sent = []

        async def receive(body=body):
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message, sent=sent):
            sent.append(message)

        await app(scope, receive, send)
        ok += sent[0]["status"] == 200
    return ok


def asgi_cpu(root: Path) -> None:
    import asyncio
    import dataclasses
    import json
    import tempfile

    from bannergen.config import load_project
    from bannergen.service import Service, create_app
    from bannergen.service.limits import ServiceMiddleware

    sys.path.insert(0, str(root / "benchmarks"))
    from serve_bench import floor_app

    with tempfile.TemporaryDirectory() as tmp:
        project = load_project(root)
        project = dataclasses.replace(project, feedback_store=Path(tmp) / "fb.sqlite", serve=dataclasses.replace(
            project.serve, behaviour_store=Path(tmp) / "b.sqlite"))
        service = Service(project, keys=("k",))
        hot = create_app(service, close_on_shutdown=False)
        apps = {"hot path": hot, "FastAPI route": ServiceMiddleware(hot.app.app, service.metrics, 1 << 20),
                "floor": floor_app(3001)}
        users = [f"u{i:06d}" for i in range(1, 3001)]
        bodies = [json.dumps({"user_id": u, "placement": "home_top", "size": "1200x400"}).encode() for u in users]
        headers = [(b"content-type", b"application/json"), (b"authorization", b"Bearer k")]
        asyncio.run(_requests(hot, bodies, headers))  # every decision made once and kept, as in a warm server
        for name, app in apps.items():
            per_request = []
            for _ in range(3):
                start = time.process_time()
                ok = asyncio.run(_requests(app, bodies, headers))
                per_request.append((time.process_time() - start) / len(bodies))
                assert ok == len(bodies), (name, ok)
            service.flush_decisions()
            print(f"{name:<14} {statistics.median(per_request) * 1e6:6.0f} us CPU per decision "
                  f"(median of 3 passes over {len(bodies):,} users)")
        service.close()


def main() -> None:
    root = Path(sys.argv[1]).resolve()
    sys.path.insert(0, str(root))  # that checkout's bannergen
    if sys.argv[2:] == ["asgi"]:
        asgi_cpu(root)
        return
    from bannergen.config import load_project
    from bannergen.pipeline import Engine
    from bannergen.service.state import DecisionState

    engine = Engine(load_project(root))
    state = DecisionState.build(engine)
    users = list(state.users)[:300]
    view = engine.feedback
    for name in sys.argv[2:] or ["softmax"]:
        if hasattr(state, "decision_policy"):
            state.decision_policy = dataclasses.replace(state.decision_policy, name=name)
        else:  # releases before the decision kernel read the policy from here
            state.selection = type(engine.model.settings.selection)(name, 0.1, 5)
        for user in users:
            state.decide(user, "1200x400")
        per_decision = []
        for _ in range(3):
            start = time.process_time()
            for user in users:
                choice = state.decide(user, "1200x400")
                key = (user, choice.item_id, choice.template_id)  # the CMS shows it: one impression
                view.today[key] = view.today.get(key, 0) + 1
                if hasattr(view, "version"):
                    view.version += 1  # committed: the counts moved
                    view.user_today[user] = view.user_today.get(user, 0) + 1
            per_decision.append((time.process_time() - start) / len(users))
        view.today.clear()
        if hasattr(view, "user_today"):
            view.user_today.clear()
        print(f"{root.name:<12} {name:<9} {statistics.median(per_decision) * 1e6:6.0f} us CPU per decision "
              "(median of 3 passes over 300 users)")


if __name__ == "__main__":
    main()
