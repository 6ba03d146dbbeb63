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
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bannergen.service.problems import PROBLEM_TYPE, problem_body

IMPORT_PATH = "bannergen.service.slow_clients:DeadlineProtocol"


class DeadlineProtocol(HttpToolsProtocol):
    header_timeout_s: float = 5.0
    body_timeout_s: float = 10.0

    _deadline: asyncio.TimerHandle | None = None

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, what)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm(self.header_timeout_s, "headers")  # a client that connects and says nothing

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # the next request on a kept-alive connection
            self._arm(self.header_timeout_s, "headers")

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self.body_timeout_s, "body")

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _expired(self, what: str) -> None:
        self._deadline = None
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
