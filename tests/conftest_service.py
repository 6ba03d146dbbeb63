"""A decision whose own banner is on disk: ask, let the render pool draw what was missing, ask again."""

from __future__ import annotations

import time


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
