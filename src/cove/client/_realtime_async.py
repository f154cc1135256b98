"""Real-time for the async client: each socket runs in a task (websockets' asyncio client).

The twin of ``_realtime_sync.py``: the same protocol (``_realtime_protocol.SocketProtocol``), driven
by a task instead of a thread, with ``asyncio`` queues and events.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

from ._realtime import (
    CONNECTION_INIT,
    Prepared,
    RealtimeBase,
    SubscriptionClosed,
    SubscriptionError,
    SubscriptionRequest,
    auth_requests,
    begin,
    new_id,
    prepared,
    start_frame,
    stop_frame,
    websocket_ssl,
)
from ._realtime_protocol import SocketProtocol

if TYPE_CHECKING:  # pragma: no cover
    pass

T = TypeVar("T")
log = logging.getLogger("cove.client.realtime")

_POLL = 0.2  # seconds: the reader wakes this often to check linger and keep-alive deadlines


class AsyncSubscription(Generic[T]):
    """A subscription on the async client: awaitable, an async context manager and an async iterator.

    ``sub = await aclient.models.Todo.on_create()`` or ``async with aclient.models.Todo.on_create()
    as sub:`` return once the server acknowledged it; ``async for todo in sub`` waits for events;
    :meth:`receive` takes a ``timeout``; leaving the block (or :meth:`unsubscribe`) sends ``stop``.
    """

    def __init__(self, hub: AsyncRealtime, request: SubscriptionRequest[T], *,
                 sink: asyncio.Queue[Any] | None = None, tag: Any = None) -> None:
        self.id = new_id()
        self._hub = hub
        self._request = request
        self._sink = sink
        self._tag = tag
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._socket: _Socket | None = None
        self._prepare: Callable[[], Awaitable[Prepared]] | None = None
        self._prepared: Prepared | None = None
        self._fresh = True
        self._acked = asyncio.Event()
        self._errors: list[Mapping[str, Any]] | None = None
        self._ended = False
        self._starting: asyncio.Task[None] | None = None

    # -- starting -------------------------------------------------------------------------------
    async def start(self) -> Self:
        """Subscribe (once) and wait for the server's acknowledgement."""
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._hub._start(self))
        await asyncio.shield(self._starting)
        return self

    def __await__(self) -> Generator[Any, None, Self]:
        return self.start().__await__()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.unsubscribe()

    # -- events ---------------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self._starting is not None and not self._ended

    async def receive(self, timeout: float | None = None) -> T:
        """The next event (see :meth:`Subscription.receive <cove.client.Subscription.receive>`)."""
        if self._starting is None:
            await self.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._ended and self._queue.empty():
                raise SubscriptionClosed("the subscription is closed")
            try:
                if deadline is None:
                    kind, value = await self._queue.get()
                else:
                    kind, value = await asyncio.wait_for(self._queue.get(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                raise TimeoutError(f"no event within {timeout} s") from None
            if kind == "data":
                return self._request.shape(value)
            if kind == "error":
                raise SubscriptionError("the server ended the subscription", value)
            if kind == "end":
                raise SubscriptionClosed("the subscription is closed")

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.receive()
        except SubscriptionClosed:
            raise StopAsyncIteration from None

    async def unsubscribe(self) -> None:
        """Send ``stop``; the iterator ends. Idempotent."""
        if self._ended:
            return
        self._ended = True
        if self._socket is not None:
            await self._socket.remove(self)
        self._put("end", None)

    close = unsubscribe

    def __repr__(self) -> str:
        return f"<AsyncSubscription {self.id} {'active' if self.active else 'not active'}>"

    # -- the socket's side ----------------------------------------------------------------------
    def _put(self, kind: str, value: Any) -> None:
        if self._sink is not None:
            self._sink.put_nowait((self._tag, kind, value))
        else:
            self._queue.put_nowait((kind, value))

    def _fail(self, errors: list[Mapping[str, Any]]) -> None:
        self._errors = errors
        self._ended = True
        self._acked.set()
        self._put("error", errors)

    async def _handshake(self) -> Prepared:
        """What opens a connection: the first handshake as prepared, later ones with fresh credentials."""
        assert self._prepare is not None
        if self._fresh and self._prepared is not None:
            return self._prepared
        return await self._prepare()

    async def _start_payload(self) -> Mapping[str, Any]:
        assert self._prepare is not None
        if self._fresh and self._prepared is not None:
            self._fresh = False
        else:
            self._prepared = await self._prepare()  # fresh credentials (and signature date) per start
        return self._prepared.start_payload


class _Socket:
    """One real-time endpoint's socket and its task: the I/O around a SocketProtocol."""

    def __init__(self, hub: AsyncRealtime, url: str) -> None:
        self.hub = hub
        self.url = url
        self.protocol: SocketProtocol[AsyncSubscription[Any]] = SocketProtocol(
            hub.options, lambda state: hub._notify(state, url))
        self.ws: Any = None
        self.task: asyncio.Task[None] | None = None
        self.wake = asyncio.Event()

    # -- app side -------------------------------------------------------------------------------
    async def add(self, sub: AsyncSubscription[Any]) -> None:
        if self.protocol.add(sub) and self.ws is not None:
            try:
                await self.ws.send(start_frame(sub.id, await sub._start_payload()))
            except Exception as exc:  # the reader notices the broken socket and reconnects
                log.debug("sending start failed: %s", exc)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run(), name=f"cove-realtime {self.url}")
        else:
            self.wake.set()

    async def remove(self, sub: AsyncSubscription[Any]) -> None:
        if self.protocol.remove(sub, time.monotonic()) and self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.send(stop_frame(sub.id))

    async def close(self) -> None:
        subs = self.protocol.shut()
        ws = self.ws
        self.wake.set()
        for sub in subs:
            sub._ended = True
            sub._put("end", None)
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        task = self.task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    # -- the task -------------------------------------------------------------------------------
    async def _run(self) -> None:
        try:
            while True:
                first = self.protocol.next_connection()
                if first is None:
                    return
                try:
                    handshake = await first._handshake()
                except Exception as exc:  # credentials gone: that subscription fails, others go on
                    self.protocol.drop(first, exc, time.monotonic())
                    continue
                self.protocol.connecting()
                error: Exception | None = None
                try:
                    await self._session(handshake)
                except Exception as exc:
                    error = exc
                delay = self.protocol.ended(error)
                if delay:
                    self.wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.wake.wait(), delay)
        finally:
            self.ws = None
            self.protocol.stopped()

    async def _session(self, handshake: Prepared) -> None:
        from websockets.asyncio.client import connect
        from websockets.typing import Subprotocol

        options = self.hub.options
        ws = await connect(handshake.url, subprotocols=[Subprotocol(p) for p in handshake.subprotocols],
                           ssl=websocket_ssl(handshake.url, self.hub.verify), open_timeout=options.ack_timeout,
                           close_timeout=1, compression=None, max_size=None)
        try:
            await ws.send(CONNECTION_INIT)
            async with asyncio.timeout(options.ack_timeout):
                while not self.protocol.handshake(await ws.recv()):
                    pass
            self.ws = ws
            for sub in self.protocol.opened(time.monotonic()):
                try:
                    payload = await sub._start_payload()
                except Exception as exc:  # a provider failed for this one subscription
                    self.protocol.drop(sub, exc, time.monotonic())
                    continue
                await ws.send(start_frame(sub.id, payload))
            self.protocol.connected()
            await self._read(ws)
        finally:
            if self.ws is ws:
                self.ws = None
            self.protocol.disconnected()
            with contextlib.suppress(Exception):
                await ws.close()

    async def _read(self, ws: Any) -> None:
        while True:
            if not self.protocol.tick(time.monotonic()):
                return
            try:
                text = await asyncio.wait_for(ws.recv(), _POLL)
            except TimeoutError:
                continue
            self.protocol.receive(text, time.monotonic())


class AsyncRealtime(RealtimeBase["_Socket"]):
    """``aclient.realtime``: the sockets of an async client, their state, and the options."""

    def subscription(self, request: SubscriptionRequest[T], *, sink: asyncio.Queue[Any] | None = None,
                     tag: Any = None) -> AsyncSubscription[T]:
        """A subscription, started when first awaited (or entered, or iterated)."""
        return AsyncSubscription(self, request, sink=sink, tag=tag)

    async def _start(self, sub: AsyncSubscription[Any]) -> None:
        client = self._client
        call = begin(client, sub._request)

        async def prepare() -> Prepared:
            custom = client._headers_result(call)  # type: ignore[arg-type]
            if inspect.isawaitable(custom):
                custom = await custom
            connect_request, start_request = auth_requests(client, call, custom)
            provider = client._provider(call.resolved.mode)
            return prepared(call, await provider.async_auth_headers(connect_request),
                            await provider.async_auth_headers(start_request), custom)

        sub._prepare = prepare
        sub._prepared = await prepare()  # a missing credential raises here, before anything is sent
        socket = self._sockets.get(call.url)
        if socket is None:
            socket = self._sockets[call.url] = _Socket(self, call.url)
        sub._socket = socket
        await socket.add(sub)
        try:
            await asyncio.wait_for(sub._acked.wait(), self.options.ack_timeout)
        except TimeoutError:
            await sub.unsubscribe()
            raise self._unacknowledged(socket) from None
        if sub._errors is not None:
            raise SubscriptionError("the server refused the subscription", sub._errors)

    async def aclose(self) -> None:
        sockets = list(self._sockets.values())
        self._sockets.clear()
        for socket in sockets:
            await socket.close()
