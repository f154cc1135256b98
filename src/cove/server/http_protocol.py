"""uvicorn's httptools protocol with a deadline per request, against slow ("slowloris") clients, and a
direct path for the request nearly every client sends.

Deadlines. uvicorn times out idle keep-alive connections, but not a request that arrives a byte at a time: its
headers and body may take forever, each such connection holding a socket and a task. Here every
request must arrive whole (headers and body) within ``Limits.request_timeout`` of its first byte,
and its headers may not pass ``Limits.max_header_bytes``; a WebSocket upgrade stops the clock when
its headers are complete. The timer costs nothing per request beyond arming and cancelling it.

The direct path. A plain ``POST /graphql`` (HTTP/1.1, keep-alive, a ``content-length`` within the
body limit and 64 KiB, no ``expect``, no query string) is answered by
``CoveApp.answer_graphql_post`` once its body is in, and its response written in one piece: no
ASGI scope, cycle, messages or per-header checks: 13 to 20 µs of server CPU less per request
(bench/results.md). Every other request, and every request while another response of the
connection is under way (pipelining), takes uvicorn's own path, which stays the reference: the
direct path must answer exactly as it would. It is off when the app is wrapped (``--forwarded-allow-ips``
puts uvicorn's proxy-headers middleware in front) or uvicorn's concurrency limit is set.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from .limits import Limits

log = logging.getLogger("cove.server")

GRAPHQL_PATH = b"/graphql"


def http_protocol(limits: Limits) -> type[asyncio.Protocol]:
    class CoveHttpProtocol(_CoveHttp):
        request_timeout = limits.request_timeout
        max_header_bytes = limits.max_header_bytes
        # A larger body takes uvicorn's path, which reads it under flow control (and refuses one
        # past the limit with the app's 413).
        direct_body_bytes = min(limits.max_body_bytes, HIGH_WATER_LIMIT)

    return CoveHttpProtocol


class _DirectExchange:
    """A request on the direct path, standing where uvicorn's protocol keeps its ``cycle``: it reads
    and sets these same attributes (body, disconnection, keep-alive on shutdown, completion)."""

    __slots__ = ("headers", "body", "more_body", "response_complete", "disconnected", "keep_alive")

    def __init__(self, headers: list[tuple[bytes, bytes]]) -> None:
        self.headers = headers      # this request's own list: the next request starts a new one
        self.body = bytearray()
        self.more_body = True
        self.response_complete = False
        self.disconnected = False
        self.keep_alive = True      # uvicorn's shutdown() sets False: the response then closes

    class _NoEvent:
        """uvicorn sets the cycle's event when body arrives; nothing waits on it here."""

        @staticmethod
        def set() -> None:
            pass

    message_event = _NoEvent()


class _CoveHttp(HttpToolsProtocol):
    request_timeout: float
    max_header_bytes: int
    direct_body_bytes: int

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._deadline: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._headers_done = False
        self._coalescing = _CoalescingTransport(transport)
        super().connection_made(self._coalescing)  # type: ignore[arg-type]
        # Only the app itself, unwrapped, answers directly (see the module's doc).
        answer = getattr(self.app, "answer_graphql_post", None)
        self._answer = answer if self.limit_concurrency is None and not self.root_path else None
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
        elif self.cycle is None or self.cycle.response_complete:   # no response of this connection is under way
            if self._answer is not None and self._is_direct():
                self.cycle = _DirectExchange(self.headers)  # type: ignore[assignment]
                return
            self._coalescing.hold_header = True
        super().on_headers_complete()

    def _is_direct(self) -> bool:
        parser = self.parser
        if (self.url != GRAPHQL_PATH or parser.get_method() != b"POST" or parser.get_http_version() != "1.1"
                or not parser.should_keep_alive()):
            return False
        length = b""
        for name, value in self.headers:
            if name == b"content-length":
                length = value
            elif name == b"expect" or name == b"transfer-encoding":
                return False
        # (A length padded with thousands of zeros is valid HTTP, and past what int() will read.)
        return 0 < len(length) <= 12 and length.isdigit() and int(length) <= self.direct_body_bytes

    def on_message_complete(self) -> None:
        self._disarm()
        exchange: Any = self.cycle
        if type(exchange) is _DirectExchange:
            if exchange.more_body and not exchange.response_complete:
                exchange.more_body = False
                task = self.loop.create_task(self._answer_directly(exchange))
                task.add_done_callback(self.tasks.discard)
                self.tasks.add(task)
            return
        super().on_message_complete()

    async def _answer_directly(self, exchange: _DirectExchange) -> None:
        assert self._answer is not None
        try:
            status, headers, body = await self._answer(exchange.headers, bytes(exchange.body), self.client,
                                                       self.scheme)
            if self.flow.write_paused and not exchange.disconnected:
                await self.flow.drain()   # the client reads slowly: as uvicorn's send waits
            if exchange.disconnected or self.transport.is_closing():
                return
            head = [STATUS_LINE[status], _default_headers(self.server_state.default_headers)]
            for name, value in headers:
                head += (name, b": ", value, b"\r\n")
            if not exchange.keep_alive:
                head.append(b"connection: close\r\n")
            head.append(b"\r\n")
            exchange.response_complete = True
            if len(body) > _LARGE_BODY:   # not copied to join it: two writes
                self.transport.write(b"".join(head))
                self.transport.write(body)
            else:
                head.append(body)
                self.transport.write(b"".join(head))
            if not exchange.keep_alive:
                self.transport.close()
            self.on_response_complete()
        except asyncio.CancelledError:   # the server stops without waiting for this request
            self.transport.close()
            raise
        except Exception:   # a fault of this path itself (the app answers its own failures)
            log.exception("POST /graphql failed while answering")
            self.transport.close()

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


_rendered_defaults: tuple[Any, bytes] = (None, b"")   # uvicorn's default headers (the date), and their bytes


def _default_headers(defaults: list[tuple[bytes, bytes]]) -> bytes:
    """uvicorn's default headers, rendered once per list (uvicorn makes a new one each second)."""
    global _rendered_defaults
    if defaults is not _rendered_defaults[0]:
        _rendered_defaults = (defaults, b"".join(name + b": " + value + b"\r\n" for name, value in defaults))
    return _rendered_defaults[1]


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
