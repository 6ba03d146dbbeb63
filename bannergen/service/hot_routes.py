"""POST /v1/decisions and POST /v1/events as plain ASGI: the two routes every page view calls.

FastAPI's per-request machinery (dependency resolution, the body parsed to a dict and then
validated, the response encoder, the routing table walk) cost more CPU than the decision itself.
These two routes are answered here, before the FastAPI app, with the same pieces it would use:
the same pydantic models validate the body (``model_validate_json``, parsed and checked in one
pass), the same key check, the same :class:`~bannergen.service.core.Service` methods, and the
same problem+json answers naming the HTTP field. The FastAPI app keeps both routes, calling the
same Service methods, so the OpenAPI document describes them and a test holds the two paths to
the same answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from email.message import Message
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from bannergen.service.core import Service
from bannergen.service.keys import require_key
from bannergen.service.problems import PROBLEM_TYPE, Problem, problem_body, validation_problem
from bannergen.service.schemas import DecisionRequest, EventBatch

JSON_HEADERS = [(b"content-type", b"application/json"), (b"cache-control", b"private, no-store")]


class ClientGone(Exception):
    """The client closed the connection before its body arrived: nobody to answer."""


def parse_body(model: type[BaseModel], body: bytes, content_type: str | None) -> Any:
    """The body as ``model``, or Problem 400/422 naming the field, as FastAPI reports a body it
    cannot read: only a JSON content type is parsed, an empty body is a missing one."""
    if not body:
        raise Problem(*validation_problem([{"loc": ("body",), "msg": "Field required", "type": "missing"}]))
    if not _is_json(content_type):
        raise Problem(*validation_problem([{"loc": ("body",), "msg": "Input should be a valid dictionary or object "
                                            "to extract fields from", "type": "model_attributes_type"}]))
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise Problem(*validation_problem(errors)) from None


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    if content_type.startswith("application/json"):
        return True
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


async def _read_body(receive) -> bytes:
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientGone
    body = message.get("body", b"")
    if not message.get("more_body", False):
        return body  # the usual case: the whole body in one message
    chunks = [body]
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


Handler = Callable[[bytes, str | None], Awaitable[tuple[int, Any]]]


class HotRoutes:
    """ASGI: the hot POST routes answered here, anything else passed to ``app`` (the FastAPI app).

    ``scope["route"]`` is set to the FastAPI route of the same path, so the metrics middleware in
    front names the route as it does for every other one."""

    def __init__(self, app, service: Service) -> None:
        self.app = app
        self.service = service
        handlers: dict[str, Handler] = {"/v1/decisions": self._decide, "/v1/events": self._events}
        routes = {getattr(r, "path", None): r for r in getattr(app, "routes", ())}
        self.routes = {path: (handler, routes.get(path)) for path, handler in handlers.items()}

    async def __call__(self, scope, receive, send) -> None:
        hot = self.routes.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if hot is None:
            await self.app(scope, receive, send)
            return
        handler, route = hot
        scope["route"] = route
        authorization = content_type = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"content-type":
                content_type = value.decode("latin-1")
        try:
            require_key(self.service.keys, authorization)
            body = await _read_body(receive)
            status, answer = await handler(body, content_type)
            await _send(send, status, orjson.dumps(answer), JSON_HEADERS)
        except ClientGone:
            return
        except Problem as p:
            headers = [(b"content-type", PROBLEM_TYPE.encode())]
            headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (p.headers or {}).items()]
            await _send(send, p.status, problem_body(p.status, p.detail, p.errors), headers)

    async def _decide(self, body: bytes, content_type: str | None) -> tuple[int, Any]:
        return 200, self.service.decide(parse_body(DecisionRequest, body, content_type))

    async def _events(self, body: bytes, content_type: str | None) -> tuple[int, Any]:
        return 202, await self.service.accept_events(parse_body(EventBatch, body, content_type))
