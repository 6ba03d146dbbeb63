"""The hot routes (POST /v1/decisions, POST /v1/events) answered as plain ASGI in front of FastAPI:
still in the OpenAPI document with their schemas, and answering exactly as the FastAPI routes
that describe them (the same status, problem+json and fields named) for a table of requests."""

from __future__ import annotations

import warnings

import pytest
from conftest_service import service_project
from tree_guard import example_project

pytest.importorskip("fastapi")
warnings.filterwarnings("ignore", message=".*httpx.*", category=DeprecationWarning)
from starlette.testclient import TestClient  # noqa: E402

from bannergen.service import Service, create_app  # noqa: E402
from bannergen.service.hot_routes import HotRoutes  # noqa: E402
from bannergen.service.limits import ServiceMiddleware  # noqa: E402

ROOT = example_project()  # the example project; what tests write stays out of the working tree
KEY = "speed-key"
AUTH = {"authorization": f"Bearer {KEY}"}
JSON = {**AUTH, "content-type": "application/json"}
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def clients(tmp_path_factory):
    """(the service's app, the same routes through FastAPI alone, the service)."""
    tmp = tmp_path_factory.mktemp("speed")
    project = service_project(ROOT, tmp, max_events=3)
    service = Service(project, keys=(KEY,))
    app = create_app(service, close_on_shutdown=False)
    assert isinstance(app, ServiceMiddleware) and isinstance(app.app, HotRoutes)
    fastapi_only = ServiceMiddleware(app.app.app, service.metrics, service.settings.max_body_bytes)
    with TestClient(app) as hot, TestClient(fastapi_only) as reference:
        yield hot, reference, service
    service.close()


def test_the_hot_routes_are_in_the_openapi_document_with_their_schemas(clients):
    spec = clients[0].get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for path, request, status, response in (("/v1/decisions", "DecisionRequest", "200", "DecisionResponse"),
                                            ("/v1/events", "EventBatch", "202", "EventsAccepted")):
        post = spec["paths"][path]["post"]
        body = post["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{request}"}
        assert post["responses"][status]["content"]["application/json"]["schema"] == {
            "$ref": f"#/components/schemas/{response}"}
        assert {"401", "403", "422"} <= set(post["responses"])
        assert post["responses"]["422"]["content"]["application/problem+json"]
        assert request in schemas and response in schemas
    assert "fallback" in schemas["DecisionResponse"]["properties"]
    assert "not-rendered" in schemas["DecisionResponse"]["properties"]["fallback"]["description"]


EVENT = {"type": "view", "user_id": "zhangsan", "item_id": "000103"}
REQUESTS = [
    # (path, content, headers); every one is sent to both apps
    ("/v1/decisions", b'{"user_id": "zhangsan", "placement": "home_top", "size": "1200x400"}', JSON),
    ("/v1/decisions", b'{"user_id": "zhangsan", "explain": true}', JSON),
    ("/v1/decisions", b'{"user_id": "someone-new"}', JSON),
    ("/v1/decisions", b'{"user_id": "zhangsan"}', {"authorization": f"Bearer {KEY}",
                                                   "content-type": "application/vnd.api+json"}),
    ("/v1/decisions", b"{not json", JSON),
    ("/v1/decisions", b"", JSON),
    ("/v1/decisions", b"[1, 2]", JSON),
    ("/v1/decisions", b'"zhangsan"', JSON),
    ("/v1/decisions", b'{"user_id": "zhangsan"}', {**AUTH, "content-type": "text/plain"}),
    ("/v1/decisions", b'{"user_id": "zhangsan"}', AUTH),
    ("/v1/decisions", b'{"user_id": 7}', JSON),
    ("/v1/decisions", b'{"user_id": ""}', JSON),
    ("/v1/decisions", b'{"user_id": "a", "size": "big"}', JSON),
    ("/v1/decisions", b'{"user_id": "a", "size": "999x999"}', JSON),
    ("/v1/decisions", b'{"user_id": "a", "userid": "b", "explain": "maybe"}', JSON),
    ("/v1/decisions", b'{"user_id": "a"}', {"content-type": "application/json"}),
    ("/v1/decisions", b'{"user_id": "a"}', {"authorization": "Bearer wrong", "content-type": "application/json"}),
    ("/v1/decisions", b'{"user_id": "a"}', {"authorization": "Basic abc", "content-type": "application/json"}),
    ("/v1/decisions", b"x" * 2_000_000, JSON),
    ("/v1/events", b'{"events": [{"type": "view", "user_id": "a", "item_id": "nope"}]}', JSON),
    ("/v1/events", b'{"events": [{"type": "view", "user_id": "a", "item_id": "000103", "ts": "yesterday"}]}', JSON),
    ("/v1/events", b'{"events": [{"type": "click", "user_id": "a"}]}', JSON),
    ("/v1/events", b'{"events": [{"type": "wink", "user_id": "a"}, {"user_id": 3}]}', JSON),
    ("/v1/events", b'{"events": []}', JSON),
    ("/v1/events", b'{"events": ' + str([EVENT] * 4).replace("'", '"').encode() + b"}", JSON),
    ("/v1/events", b'{"events": [{"type": "search", "user_id": "a", "query": " "}]}', JSON),
    ("/v1/events", b"{}", JSON),
    ("/v1/events", b'{"events": [{"type": "view", "user_id": "a", "item_id": "000103"}]}', {}),
]


def comparable(r) -> tuple:
    """What must agree: status, content type, and for a problem its title and the fields it names;
    for a decision every field but its fresh id."""
    body = r.json()
    if r.headers["content-type"] == "application/problem+json":
        fields = [e["field"] for e in body.get("errors", [])]
        return r.status_code, r.headers["content-type"], body["title"], body["status"], fields
    body.pop("decision_id", None)
    return r.status_code, r.headers["content-type"], r.headers.get("cache-control"), body


@pytest.mark.parametrize("path,content,headers", REQUESTS, ids=[f"{p}-{i}" for i, (p, _c, _h) in enumerate(REQUESTS)])
def test_the_hot_path_answers_as_the_fastapi_route(clients, path, content, headers):
    hot, reference, _ = clients
    got, expected = hot.post(path, content=content, headers=headers), reference.post(path, content=content,
                                                                                     headers=headers)
    assert comparable(got) == comparable(expected), (got.text, expected.text)
    assert got.headers.get("www-authenticate") == expected.headers.get("www-authenticate")


def test_a_valid_event_batch_is_accepted_once_through_the_hot_path(clients):
    hot, _, _ = clients
    events = {"events": [{**EVENT, "event_id": "speed-1"}]}
    first = hot.post("/v1/events", json=events, headers=AUTH)
    assert first.status_code == 202 and first.json()["accepted"] == 1, first.text
    assert first.headers["cache-control"] == "private, no-store"
    assert hot.post("/v1/events", json=events, headers=AUTH).json()["duplicate"] == 1


def test_metrics_name_the_hot_routes_as_the_others(clients):
    hot, _, _ = clients
    hot.post("/v1/decisions", json={"user_id": "zhangsan"}, headers=AUTH)
    hot.post("/v1/decisions", json={"user_id": 1}, headers=AUTH)
    text = hot.get("/metrics").text
    assert 'bannergen_http_requests_total{method="POST",route="/v1/decisions",status="200"}' in text
    assert 'bannergen_http_requests_total{method="POST",route="/v1/decisions",status="422"}' in text
    assert 'bannergen_http_request_seconds_count{route="/v1/decisions"}' in text
