"""uvicorn's httptools protocol with a deadline per request, against slow ("slowloris") clients.

uvicorn times out idle keep-alive connections, but not a request that arrives a byte at a time: its
headers and body may take forever, each such connection holding a socket and a task. Here every
request must arrive whole (headers and body) within ``Limits.request_timeout`` of its first byte,
and its headers may not pass ``Limits.max_header_bytes``; a WebSocket upgrade stops the clock when
its headers are complete. The timer costs nothing per request beyond arming and cancelling it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .limits import Limits


def deadline_protocol(limits: Limits) -> type[asyncio.Protocol]:
    class DeadlineHttpToolsProtocol(_Deadline):
        request_timeout = limits.request_timeout
        max_header_bytes = limits.max_header_bytes

    return DeadlineHttpToolsProtocol


class _Deadline(HttpToolsProtocol):
    request_timeout: float
    max_header_bytes: int

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._deadline: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._headers_done = False
        super().connection_made(transport)
        self._arm()  # a connection that never sends a byte is closed too

    def data_received(self, data: bytes) -> None:
        counting = self._deadline is not None and not self._headers_done
        super().data_received(data)
        if counting and not self._headers_done:  # checked after parsing: a chunk may end the headers
            self._header_bytes += len(data)
            if self._header_bytes > self.max_header_bytes:
                self._fail(b"431 Request Header Fields Too Large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._headers_done = True
        if self.parser.should_upgrade():
            self._disarm()  # a WebSocket: the real-time layer has its own timeouts
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._header_bytes = 0
        self._headers_done = False
        if self.request_timeout > 0:
            self._deadline = self.loop.call_later(self.request_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        self._fail(b"408 Request Timeout")

    def _fail(self, status: bytes) -> None:
        self._disarm()
        transport: Any = self.transport
        if transport.is_closing():
            return
        if not self._headers_done:  # no response can have started: say why before closing
            transport.write(b"HTTP/1.1 " + status + b"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        transport.close()
