"""A pure ASGI middleware in front of the app: request metrics, and the body size limit.

A body above ``max_body_bytes`` gets 413 before it is read: at once when Content-Length says so,
else as soon as the streamed bytes pass the limit. Anything the app lets escape becomes a 500
problem (logged), never a bare traceback page.
"""

from __future__ import annotations

import logging
import time

from bannergen.service.metrics import Metrics
from bannergen.service.problems import PROBLEM_TYPE, problem_body

log = logging.getLogger(__name__)


class BodyTooLarge(Exception):
    pass


class ServiceMiddleware:
    def __init__(self, app, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        started = False
        too_large = False

        async def send_wrapper(message) -> None:
            nonlocal status, started
            if too_large:  # the app caught BodyTooLarge as a parse error: answer 413 instead, once
                if message["type"] == "http.response.start" and not started:
                    await reject(413, f"the body is above the limit of {limit} bytes")
                return
            if message["type"] == "http.response.start":
                status, started = message["status"], True
            await send(message)

        async def reject(code: int, detail: str) -> None:
            nonlocal status, started
            status, started = code, True
            body = problem_body(code, detail)
            await send({"type": "http.response.start", "status": code, "headers": [
                (b"content-type", PROBLEM_TYPE.encode()), (b"content-length", str(len(body)).encode()),
                (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": body})

        limit = self.max_body_bytes
        declared = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
        try:
            if declared is not None and (declared < 0):
                await reject(400, "Content-Length is not a number")
            elif declared is not None and declared > limit:
                await reject(413, f"the body has {declared} bytes; the limit is {limit}")
            else:
                seen = 0

                async def receive_limited():
                    nonlocal seen, too_large
                    message = await receive()
                    if message["type"] == "http.request":
                        seen += len(message.get("body", b""))
                        if seen > limit:
                            too_large = True
                            raise BodyTooLarge
                    return message

                await self.app(scope, receive_limited, send_wrapper)
        except BodyTooLarge:
            if not started:
                await reject(413, f"the body is above the limit of {limit} bytes")
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await reject(500, "internal error; see the server log")
        finally:
            route = scope.get("route")
            fallback = "/assets/*" if scope.get("path", "").startswith("/assets/") else "other"
            name = getattr(route, "path", None) or fallback
            self.metrics.observe(scope.get("method", ""), name, status, time.perf_counter() - start)
