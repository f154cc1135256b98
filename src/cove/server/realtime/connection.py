"""One WebSocket's I/O: the ASGI receive loop, the outgoing queue, timers, driving :mod:`.protocol`.

Back-pressure: every connection has a bounded outgoing queue drained by its own writer task, so a
slow or stalled subscriber never delays a mutation or another subscriber; when the queue overflows,
the connection gets a ``connection_error`` (if it still reads) and is dropped. While nothing is queued
and the socket is writable, a frame is written at once (:mod:`.fastpath`), without a task.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from cove.wire.realtime import SUBPROTOCOL, HeaderError

from ..errors import RequestError
from .fastpath import frame_writer, transport_of
from .protocol import Action, Close, ConnectionProtocol, Send, Start, State, Stop, appsync_error, handshake_headers
from .settings import RealtimeLimits
from .subscriptions import StartError, Subscription

if TYPE_CHECKING:  # pragma: no cover
    from ..identity import Identity

log = logging.getLogger("cove.realtime")

__all__ = ["Connection", "Hub"]

_CLOSE = object()  # queue marker: close the socket after what is queued before it
_OPEN = State.OPEN
_AWAITING_INIT = State.AWAITING_INIT


class Hub(Protocol):
    """What a connection needs from the process's hub (see hub.py)."""

    limits: RealtimeLimits

    def admit(self, address: str) -> str | None: ...
    def release(self, address: str) -> None: ...
    def opened(self, conn: Connection) -> None: ...
    def closed(self, conn: Connection) -> None: ...
    def dropped_events(self, count: int) -> None: ...
    async def authenticate_connection(self, headers: dict[str, str]) -> Identity: ...
    async def subscribe(self, conn: Connection, sub_id: str, payload: Any) -> Subscription: ...
    async def listen(self, sub: Subscription) -> None: ...
    def register(self, sub: Subscription) -> None: ...
    def unregister(self, sub: Subscription) -> None: ...


class Connection:
    """One WebSocket. Its ASGI task runs :meth:`run` (the receive loop); a writer task, created when
    there is something to send and gone when the queue is empty, does the sending."""

    def __init__(self, hub: Hub, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.hub = hub
        self.limits = hub.limits
        self.scope = scope
        self.receive = receive
        self.send = send
        self.protocol = ConnectionProtocol(hub.limits)
        self.loop = asyncio.get_running_loop()
        self.queue: deque[Any] = deque()
        self.queued_bytes = 0
        self.writer: asyncio.Task[None] | None = None
        self.frames = frame_writer(send)
        self.identity: Identity | None = None   # the connection's own auth (None: it failed)
        self.headers: dict[str, str] = {}
        self.task: asyncio.Task[Any] | None = None
        self.idle_timer: asyncio.TimerHandle | None = None
        self.init_timer: asyncio.TimerHandle | None = None
        client = scope.get("client")
        self.address: str = client[0] if client else ""

    # -- lifecycle ------------------------------------------------------------------------------
    async def run(self) -> None:
        message = await self.receive()
        if message["type"] != "websocket.connect":
            return
        refusal = self.hub.admit(self.address)
        if refusal is not None:
            await self._refuse(appsync_error("LimitExceededException", refusal, errorCode=429), 1008)
            return
        try:
            await self._serve()
        finally:
            self.hub.release(self.address)

    async def _refuse(self, error: dict[str, Any], code: int) -> None:
        # Accept, then explain in a frame: a rejected upgrade tells the client nothing.
        offered = SUBPROTOCOL in (self.scope.get("subprotocols") or ())
        await self.send({"type": "websocket.accept", "subprotocol": SUBPROTOCOL if offered else None})
        frame = orjson.dumps({"type": "connection_error", "payload": {"errors": [error]}}).decode()
        await self.send({"type": "websocket.send", "text": frame})
        await self.send({"type": "websocket.close", "code": code})

    async def _serve(self) -> None:
        offered = list(self.scope.get("subprotocols") or ())
        if SUBPROTOCOL not in offered:
            await self._refuse(appsync_error("BadRequestException", "Real-time connections must offer the "
                                             "'graphql-ws' WebSocket subprotocol", errorCode=400), 1002)
            return
        await self.send({"type": "websocket.accept", "subprotocol": SUBPROTOCOL})
        self.task = asyncio.current_task()
        self.hub.opened(self)
        self._arm_idle()
        if self.limits.init_timeout > 0:
            self.init_timer = self.loop.call_later(self.limits.init_timeout, self._init_timeout)
        try:
            await self._authenticate(offered)
            while True:
                message = await self.receive()
                kind = message["type"]
                if kind == "websocket.disconnect":
                    break
                if kind != "websocket.receive":
                    continue
                text = message.get("text")
                if text is None:
                    raw = message.get("bytes") or b""
                    text = raw.decode("utf-8", "replace")
                if self.idle_timer is not None:
                    self._arm_idle()
                await self._handle(text)
        except asyncio.CancelledError:
            if self.protocol.state is not State.DROPPED:
                raise
            # Dropped (see _abort): returning lets the server close the transport.
        finally:
            self._cleanup()

    async def _authenticate(self, offered: list[str]) -> None:
        try:
            self.headers = handshake_headers(offered, self.scope.get("query_string", b""))
        except HeaderError as exc:
            self.protocol.refuse("BadRequestException", str(exc), 400)
            return
        try:
            self.identity = await self.hub.authenticate_connection(self.headers)
        except RequestError as exc:
            self.protocol.refuse(exc.error_type, exc.message, exc.status)

    def _cleanup(self) -> None:
        gone = self.protocol.closed()
        self.hub.closed(self)
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None
        if self.init_timer is not None:
            self.init_timer.cancel()
            self.init_timer = None
        for sub in gone:
            self._forget(sub)
        self.queue.clear()
        self.queued_bytes = 0
        if self.writer is not None and not self.writer.done():
            self.writer.cancel()

    # -- timers ---------------------------------------------------------------------------------
    def _arm_idle(self) -> None:
        if self.idle_timer is not None:
            self.idle_timer.cancel()
        timeout = self.limits.connection_timeout_ms / 1000
        self.idle_timer = self.loop.call_later(timeout, self._idle_timeout) if timeout > 0 else None

    def _disarm_idle(self) -> None:
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None

    def _idle_timeout(self) -> None:
        self.idle_timer = None
        self._apply(self.protocol.idle_timed_out())

    def _init_timeout(self) -> None:
        self.init_timer = None
        self._apply(self.protocol.init_timed_out())

    def keepalive(self) -> None:
        frame = self.protocol.keepalive()
        if frame is not None:
            self.enqueue(frame)

    # -- messages -------------------------------------------------------------------------------
    async def _handle(self, text: str) -> None:
        for action in self.protocol.receive(text):
            if type(action) is Start:
                await self._start(action)
            else:
                self._apply((action,))
        if self.init_timer is not None and self.protocol.state is not _AWAITING_INIT:
            self.init_timer.cancel()
            self.init_timer = None

    def _apply(self, actions: list[Action] | tuple[Action, ...]) -> None:
        for action in actions:
            if type(action) is Send:
                self._push(action.data)
            elif type(action) is Close:
                self._close(action.code, action.reason)
            elif type(action) is Stop:
                self._forget(action.subscription)

    async def _start(self, action: Start) -> None:
        try:
            sub = await self.hub.subscribe(self, action.id, action.payload)
            await self.hub.listen(sub)
        except StartError as exc:
            frame = self.protocol.start_failed(action.id, exc.errors)
            if frame is not None:
                self._push(frame)
            return
        ack = self.protocol.started(action.id, sub)
        if ack is None:   # closed, or the id was taken, while it was planned
            if sub.expiry_timer is not None:
                sub.expiry_timer.cancel()
            return
        self._push(ack)
        self.hub.register(sub)
        self._disarm_idle()

    def _forget(self, sub: Subscription) -> None:
        self.hub.unregister(sub)
        if sub.expiry_timer is not None:
            sub.expiry_timer.cancel()
            sub.expiry_timer = None
        if not self.protocol.subscriptions and self.protocol.live:
            self._arm_idle()

    def end_subscription(self, sub: Subscription, error: dict[str, Any]) -> None:
        """End one subscription with an ``error`` (its credentials expired or were revoked)."""
        frame = self.protocol.end(sub.id, sub, error)
        if frame is not None:
            self._forget(sub)
            self.enqueue(frame)

    # -- sending --------------------------------------------------------------------------------
    def enqueue(self, data: bytes) -> None:
        """Send one message (JSON, UTF-8) after those already waiting, unless the connection is closing;
        never blocks."""
        state = self.protocol.state
        if state is not _OPEN and state is not _AWAITING_INIT:
            return
        # _push, inlined: this runs once per subscriber and event.
        queue = self.queue
        if self.writer is None and not queue and self.frames is not None and self.frames.write(data):
            return
        limits = self.limits
        if len(queue) >= limits.max_queue or self.queued_bytes + len(data) > limits.max_queue_bytes:
            self._overflow()
            return
        queue.append(data)
        self.queued_bytes += len(data)
        if self.writer is None:
            self.writer = self.loop.create_task(self._drain())

    def _push(self, data: bytes) -> None:
        """Send one message even while a close is queued (the frames that precede it)."""
        queue = self.queue
        if self.writer is None and not queue and self.frames is not None and self.frames.write(data):
            return
        limits = self.limits
        if len(queue) >= limits.max_queue or self.queued_bytes + len(data) > limits.max_queue_bytes:
            self._overflow()
            return
        queue.append(data)
        self.queued_bytes += len(data)
        if self.writer is None:
            self.writer = self.loop.create_task(self._drain())

    def _close(self, code: int, reason: str) -> None:
        """Close after what is already queued."""
        self.queue.append((_CLOSE, code, reason))
        if self.writer is None:
            self.writer = self.loop.create_task(self._drain())

    async def _drain(self) -> None:
        queue = self.queue
        send = self.send
        try:
            while queue:
                item = queue.popleft()
                if type(item) is bytes:
                    self.queued_bytes -= len(item)
                    await send({"type": "websocket.send", "text": item.decode()})
                else:
                    _, code, reason = item
                    queue.clear()
                    self.queued_bytes = 0
                    await send({"type": "websocket.close", "code": code, "reason": reason[:120]})
                    return
        except asyncio.CancelledError:
            raise
        except Exception:  # the peer is gone; the receive loop sees the disconnect
            queue.clear()
            self.queued_bytes = 0
        finally:
            self.writer = None

    def _overflow(self) -> None:
        """The client does not read fast enough: drop it (never wait for it)."""
        frame = self.protocol.fell_behind()
        if frame is None:
            return
        log.warning("dropping a real-time connection whose outgoing queue is full (%d messages, %d bytes)",
                    len(self.queue), self.queued_bytes)
        self.hub.dropped_events(len(self.queue) + 1)
        self.queue.clear()
        self.queued_bytes = 0
        if self.writer is not None:
            self.writer.cancel()
            self.writer = None
        self.loop.create_task(self._abort(frame))

    async def _abort(self, frame: bytes) -> None:
        try:
            await asyncio.wait_for(self.send({"type": "websocket.send", "text": frame.decode()}), 1.0)
            await asyncio.wait_for(self.send({"type": "websocket.close", "code": 1008,
                                              "reason": "slow consumer"}), 1.0)
        except Exception:
            # A stalled peer: its transport buffer is full. Drop the TCP connection outright.
            transport = transport_of(self.send)
            if transport is not None:
                transport.abort()
        if self.task is not None and not self.task.done():
            self.task.cancel()
