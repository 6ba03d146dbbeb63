"""Deadlines for clients that send a request too slowly: the HTTP protocol the server runs.

uvicorn closes an idle keep-alive connection (``timeout_keep_alive``) but sets no deadline on a
request in flight: a connection that sends nothing after connecting, or a header byte every few
seconds, or a body that never completes, stays open for good, each holding a socket and (for the
body) a request task; a few hundred of them exhaust the server. This protocol is uvicorn's
httptools one plus two deadlines:

- headers: from the connection's opening (or the request's first byte on a kept-alive
  connection) until the blank line ending the headers, ``header_timeout_s``;
- body: from the end of the headers until the last byte of the body, ``body_timeout_s``.

Either one expiring answers 408 (problem+json) when no response has started, then closes the
connection; the request task sees a disconnect. The values are class attributes set once per
process by :func:`configure` (uvicorn builds one protocol per connection and takes the class
by import path, so server processes it starts find it by name).

A deadline is a time stamp on the connection, not a timer: arming and disarming one per request
phase costs an attribute write, where a timer per phase (created, cancelled, heaped) was a
measurable share of a decision's CPU. One sweep per event loop, every SWEEP_S while connections
are open, cuts off those past their deadline, so a deadline holds to within SWEEP_S.
"""

from __future__ import annotations

import asyncio
import math
import weakref

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bannergen.service.problems import PROBLEM_TYPE, problem_body

IMPORT_PATH = "bannergen.service.slow_clients:DeadlineProtocol"
SWEEP_S = 0.5


class _Sweep:
    """The open connections of one event loop, checked every SWEEP_S while there are any."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.open: set[DeadlineProtocol] = set()
        self.timer: asyncio.TimerHandle | None = None

    def add(self, protocol: DeadlineProtocol) -> None:
        self.open.add(protocol)
        if self.timer is None:
            self.timer = self.loop.call_later(SWEEP_S, self.run)

    def run(self) -> None:
        now = self.loop.time()
        for protocol in [p for p in self.open if p._due <= now]:
            protocol._expired(protocol._phase)
        self.timer = self.loop.call_later(SWEEP_S, self.run) if self.open else None


_sweeps: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Sweep] = weakref.WeakKeyDictionary()


class DeadlineProtocol(HttpToolsProtocol):
    header_timeout_s: float = 5.0
    body_timeout_s: float = 10.0

    _due: float = math.inf  # the loop time the current phase must end by
    _phase: str = "headers"
    _sweep: _Sweep | None = None

    def _arm(self, seconds: float, what: str) -> None:
        self._due, self._phase = self.loop.time() + seconds, what

    def _disarm(self) -> None:
        self._due = math.inf

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        sweep = _sweeps.get(self.loop)
        if sweep is None:
            sweep = _sweeps[self.loop] = _Sweep(self.loop)
        self._sweep = sweep
        sweep.add(self)
        self._arm(self.header_timeout_s, "headers")  # a client that connects and says nothing

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._due == math.inf:  # the next request on a kept-alive connection
            self._arm(self.header_timeout_s, "headers")

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self.body_timeout_s, "body")

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._sweep is not None:
            self._sweep.open.discard(self)
        super().connection_lost(exc)

    def _expired(self, what: str) -> None:
        self._disarm()
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is None or cycle.response_complete or not cycle.response_started:
            seconds = self.header_timeout_s if what == "headers" else self.body_timeout_s
            body = problem_body(408, f"the request {what} did not arrive within {seconds:g} s")
            self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-type: " + PROBLEM_TYPE.encode()
                                 + b"\r\ncontent-length: " + str(len(body)).encode()
                                 + b"\r\nconnection: close\r\n\r\n" + body)
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # what the app sends now goes nowhere, not after the 408
            cycle.message_event.set()  # a task waiting for the body wakes to a disconnect
        self.transport.close()


def configure(header_timeout_s: float, body_timeout_s: float) -> str:
    """Set this process's deadlines; returns the protocol's import path for uvicorn's ``http``."""
    DeadlineProtocol.header_timeout_s = header_timeout_s
    DeadlineProtocol.body_timeout_s = body_timeout_s
    return IMPORT_PATH
