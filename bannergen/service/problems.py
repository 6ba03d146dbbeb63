"""One error shape for every answer that is not a success: RFC 9457 problem details.

    {"type": "https://bannergen.dev/problems/invalid-field", "title": "Invalid field",
     "status": 422, "detail": "body.size: ...", "errors": [{"field": "body.size", "message": "..."}]}

``Content-Type: application/problem+json``. Every handler, the routing 404/405, the body limit
middleware and the last-resort 500 build their body with :func:`problem_body`.
"""

from __future__ import annotations

import json
from typing import Any

PROBLEM_TYPE = "application/problem+json"
BASE = "https://bannergen.dev/problems/"

TITLES = {
    400: ("malformed-request", "Malformed request"),
    401: ("unauthorized", "Missing API key"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    408: ("request-timeout", "Request timeout"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("invalid-field", "Invalid field"),
    500: ("internal", "Internal error"),
    503: ("unavailable", "Service unavailable"),
}


class Problem(Exception):
    """Raised by handlers; rendered as problem+json with ``status``."""

    def __init__(self, status: int, detail: str, errors: list[dict[str, str]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors, self.headers = status, detail, errors, headers


def problem_body(status: int, detail: str, errors: list[dict[str, str]] | None = None) -> bytes:
    slug, title = TITLES.get(status, ("error", "Error"))
    body: dict[str, Any] = {"type": BASE + slug, "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def problem_response(status: int, detail: str, errors: list[dict[str, str]] | None = None,
                     headers: dict[str, str] | None = None):
    from starlette.responses import Response

    return Response(problem_body(status, detail, errors), status_code=status, media_type=PROBLEM_TYPE, headers=headers)


# pydantic's error types for a body that is JSON but not an object (a list, a number, bytes)
NOT_AN_OBJECT = ("model_type", "model_attributes_type", "dict_type")


def field_name(loc: tuple | list) -> str:
    """A pydantic error location as a dotted field name: ("body", "events", 3, "ts") -> body.events.3.ts"""
    return ".".join(str(p) for p in loc) or "body"


def validation_problem(errors: list[dict]) -> tuple[int, str, list[dict[str, str]]]:
    """(status, detail, errors) for pydantic/FastAPI validation errors: 400 when the body is not
    JSON at all, else 422 naming every offending field."""
    for e in errors:
        if e.get("type") == "json_invalid":
            ctx = e.get("ctx") or {}
            return 400, f"the body is not valid JSON: {ctx.get('error', e.get('msg', ''))}", [
                {"field": "body", "message": str(ctx.get("error", e.get("msg", "")))}]
    out = []
    not_an_object = False
    for e in errors:
        loc = [p for p in e.get("loc", ()) if p not in ("function-after",)]
        out.append({"field": field_name(loc), "message": str(e.get("msg", "invalid"))})
        not_an_object |= out[-1]["field"] == "body" and e.get("type") in NOT_AN_OBJECT
    if not_an_object:
        return 400, "the body must be one JSON object", out
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in out[:5])
    return 422, detail, out
