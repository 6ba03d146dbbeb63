"""The ASGI app (FastAPI): routes over a :class:`~bannergen.service.core.Service`.

    POST /v1/decisions   which banner a user sees now (key)          -> DecisionResponse
    POST /v1/events      behaviour and feedback events (key)         -> 202 EventsAccepted
    POST /v1/forget      remove every record of some users (key)     -> Forgotten
    POST /v1/consent     a user opts out, or in again (key)          -> ConsentRecorded
    GET  /v1/manifest    the manifests under the out folder
    GET  /assets/{id}.{webp,jpg,png,html}, /assets/img/{digest}.webp  immutable, ETag, 304
    GET  /healthz        ok or degraded, with the checks
    GET  /metrics        Prometheus text
    GET  /openapi.json   the OpenAPI document

Every error is problem+json (bannergen.service.problems). The two POST routes are answered by
bannergen.service.hot_routes in front of FastAPI (the routes here describe them in the OpenAPI
document and give the same answers); the protocol under it cuts off slow clients
(bannergen.service.slow_clients).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from bannergen.service.assets import CONTENT_TYPES, IMMUTABLE, SIDECAR_FILE, VARIANT_FILE, etag_matches
from bannergen.service.core import Service
from bannergen.service.hot_routes import HotRoutes
from bannergen.service.keys import require_key as check_key
from bannergen.service.limits import ServiceMiddleware
from bannergen.service.privacy import ConsentRecorded, ConsentRequest, ForgetRequest, Forgotten
from bannergen.service.problems import Problem, problem_response, validation_problem
from bannergen.service.schemas import DecisionRequest, DecisionResponse, EventBatch, EventsAccepted, Health
from bannergen.service.schemas import Problem as ProblemModel

log = logging.getLogger(__name__)

PRIVATE = {"Cache-Control": "private, no-store"}
PROBLEM_SCHEMA = {"schema": {"$ref": "#/components/schemas/Problem"}}
PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": ProblemModel, "content": {"application/problem+json": PROBLEM_SCHEMA}}
    for code in (400, 401, 403, 413, 422)}


def _json(data, status: int = 200, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json", headers=headers)


def create_app(service: Service, *, close_on_shutdown: bool = True) -> FastAPI:
    """The app over a started ``service``; ``close_on_shutdown`` closes it when the app stops."""

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        async def flush_forever():
            while True:
                await asyncio.sleep(0.5)
                service.flush_decisions()
                if service.privacy.compaction_due():  # [privacy] retention_days, once a day
                    service.privacy.last_compaction = time.time()
                    service.writer.submit(service.privacy.compact)

        task = asyncio.create_task(flush_forever())
        try:
            yield
        finally:
            task.cancel()
            if close_on_shutdown:
                service.close()
            else:
                service.flush_decisions()

    app = FastAPI(title="bannergen", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  redirect_slashes=False,
                  description="Personalized banners for the CMS: decisions, real-time events, immutable assets.")
    bearer = HTTPBearer(auto_error=False, description="BANNERGEN_API_KEY")

    # async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a thread hop on
    # every decision for a check that takes microseconds.
    async def require_key(request: Request, _credentials=Depends(bearer)) -> None:  # noqa: B008 (FastAPI's idiom)
        check_key(service.keys, request.headers.get("authorization"))

    @app.exception_handler(Problem)
    async def _problem(_request, exc: Problem):
        return problem_response(exc.status, exc.detail, exc.errors, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request, exc: RequestValidationError):
        status, detail, errors = validation_problem(list(exc.errors()))
        return problem_response(status, detail, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404:
            detail = "no such resource"
        return problem_response(exc.status_code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _crash(_request, exc: Exception):
        log.exception("unhandled error", exc_info=exc)
        return problem_response(500, "internal error; see the server log")

    @app.post("/v1/decisions", response_model=DecisionResponse, dependencies=[Depends(require_key)],
              responses=PROBLEMS, summary="Which banner a user sees now")
    async def decisions(body: DecisionRequest):
        return _json(service.decide(body), headers=PRIVATE)

    @app.post("/v1/events", status_code=202, response_model=EventsAccepted, dependencies=[Depends(require_key)],
              responses=PROBLEMS, summary="Behaviour and feedback events; 202 once committed")
    async def events(batch: EventBatch):
        return _json(await service.accept_events(batch), status=202, headers=PRIVATE)

    @app.post("/v1/forget", response_model=Forgotten, dependencies=[Depends(require_key)], responses=PROBLEMS,
              summary="Remove every record of some users (ids in the body)")
    async def forget(body: ForgetRequest):
        return _json(await service.privacy.forget(body), headers=PRIVATE)

    @app.post("/v1/consent", response_model=ConsentRecorded, dependencies=[Depends(require_key)],
              responses=PROBLEMS, summary="A user opts out of personalization, or in again")
    async def consent(body: ConsentRequest):
        return _json(await service.privacy.set_consent(body), headers=PRIVATE)

    @app.get("/v1/manifest", summary="The manifests under the out folder, by segment")
    async def manifest():
        out = {}
        root: Path = service.project.out
        for path in sorted(root.glob("*/manifest.json")) if root.is_dir() else []:
            try:
                out[path.parent.name] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # being replaced; the next request sees the new one
        return _json({"segments": out}, headers={"Cache-Control": "no-cache"})

    def _asset(request: Request, relative: str, etag: str, fmt: str, signed: bool) -> Response:
        if signed and service.signer is not None:
            reason = service.signer.verify(f"/assets/{relative}", request.query_params.get("exp"),
                                           request.query_params.get("sig"))
            if reason:
                raise Problem(403, reason)
        headers = {"ETag": etag, "Cache-Control": IMMUTABLE}
        if etag_matches(request.headers.get("if-none-match"), etag) and service.assets.get(relative) is not None:
            return Response(status_code=304, headers=headers)
        data = service.assets.get(relative)
        if data is None:
            raise Problem(404, "no such asset")
        return Response(data, media_type=CONTENT_TYPES[fmt], headers=headers)

    @app.get("/assets/img/{name}", summary="An image the HTML variant refers to", response_class=Response,
             responses={200: {"content": {"image/webp": {}}}, 304: {"description": "not modified"}})
    async def sidecar(name: str, request: Request):
        if not SIDECAR_FILE.match(name):
            raise Problem(404, "no such asset")
        return _asset(request, f"img/{name}", f'"{name[:20]}"', "webp", signed=False)

    @app.get("/assets/{name}", summary="A rendered variant, by id", response_class=Response,
             responses={200: {"content": {t.split(";")[0]: {} for t in CONTENT_TYPES.values()}},
                        304: {"description": "not modified"}, 403: PROBLEMS[403]})
    async def asset(name: str, request: Request):
        if not VARIANT_FILE.match(name):
            raise Problem(404, "no such asset")
        return _asset(request, name, f'"{name.replace(".", "-")}"', name.rsplit(".", 1)[1], signed=True)

    # HEAD as well: CDNs and caches check an asset before they fetch it (the server sends no body)
    for path, endpoint in (("/assets/img/{name}", sidecar), ("/assets/{name}", asset)):
        app.add_api_route(path, endpoint, methods=["HEAD"], response_class=Response, summary="The headers of the GET",
                          operation_id=f"{endpoint.__name__}_head")

    @app.get("/healthz", response_model=Health, summary="ok, or degraded with the reasons")
    async def healthz():
        return _json(service.health(), headers={"Cache-Control": "no-store"})

    @app.get("/metrics", response_class=Response, summary="Prometheus text format",
             responses={200: {"content": {"text/plain": {}}}})
    async def metrics():
        service.metrics.gauges["render_queue"] = len(service.render_pool)
        service.metrics.gauges["users"] = len(service.state.users)
        return Response(service.metrics.render(), media_type="text/plain; version=0.0.4")

    return ServiceMiddleware(HotRoutes(app, service), service.metrics,  # type: ignore[return-value]
                             service.settings.max_body_bytes)
