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
        self._coalescing = _CoalescingTransport(transport)
        super().connection_made(self._coalescing)  # type: ignore[arg-type]
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
        elif self.cycle is None or self.cycle.response_complete:
            self._coalescing.hold_header = True   # no response of this connection is under way
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        # A WebSocket writes its frames to the socket itself (fan-out: one write per subscriber and
        # event): it gets the transport, not the response-coalescing wrapper.
        self.transport = self._coalescing.unwrap()
        super().handle_websocket_upgrade()

    def on_response_complete(self) -> None:
        self._coalescing.flush()   # a response with no body write (HEAD) sends its headers now
        super().on_response_complete()

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


_LARGE_BODY = 65_536   # past this, copying the body to join it costs more than the second write


class _CoalescingTransport:
    """The connection's transport, keeping a response's status line and headers until its first body
    write, so that both leave in one write: one system call and one packet instead of two for a
    small response (uvicorn writes them separately). Anything else passes straight through; closing
    sends what is kept first. Only a header block starting a response is kept, never ``100 Continue``
    (the client may wait for it), and only when no other response of the connection is under way."""

    __slots__ = ("_transport", "_kept", "hold_header")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._kept: bytes | None = None
        self.hold_header = False

    def write(self, data: bytes) -> None:
        kept = self._kept
        if kept is not None:
            self._kept = None
            if len(data) > _LARGE_BODY:
                self._transport.write(kept)
                self._transport.write(data)
            else:
                self._transport.write(kept + data)
        elif self.hold_header and data.startswith(b"HTTP/") and not data.startswith(b"HTTP/1.1 100 "):
            self.hold_header = False
            self._kept = data
        else:
            self._transport.write(data)

    def flush(self) -> None:
        kept, self._kept = self._kept, None
        if kept is not None:
            self._transport.write(kept)

    def unwrap(self) -> asyncio.Transport:
        """The transport itself, after sending what is kept."""
        self.flush()
        return self._transport

    def writelines(self, chunks: Any) -> None:
        self.flush()
        self._transport.writelines(chunks)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def __getattr__(self, name: str) -> Any:   # everything else is the transport's own
        return getattr(self._transport, name)
