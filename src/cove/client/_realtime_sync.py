"""Real-time for the sync client: each socket runs in a background thread (websockets' sync client).

The thread owns the socket: it connects, sends ``connection_init`` and every live subscription's
``start``, and pumps frames into the socket's ``SocketProtocol`` (``_realtime_protocol.py``), which
decides everything else (dispatch, keep-alive, linger, reconnecting with backoff). The app's
threads only add and remove subscriptions (``start``/``stop`` are sent from the calling thread;
websockets allows one reader and concurrent writers) and read their queues.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import queue
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
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
from .errors import ConfigurationError

if TYPE_CHECKING:  # pragma: no cover
    from ._base import BaseClient

T = TypeVar("T")
log = logging.getLogger("cove.client.realtime")

_POLL = 0.2  # seconds: the reader wakes this often to check linger and keep-alive deadlines


class Subscription(Generic[T]):
    """A live subscription on the sync client: a context manager and an iterator.

    ``for todo in sub`` blocks for the next event; :meth:`receive` takes a ``timeout``. Leaving the
    ``with`` block (or :meth:`unsubscribe`) sends ``stop``. A subscription the server ends with an
    ``error`` raises :class:`~cove.client.SubscriptionError` from the iterator.
    """

    def __init__(self, socket: _Socket, request: SubscriptionRequest[T], prepare: Callable[[], Prepared],
                 first: Prepared, sink: queue.Queue[Any] | None = None, tag: Any = None) -> None:
        self.id = new_id()
        self._socket = socket
        self._request = request
        self._prepare = prepare
        self._prepared = first
        self._fresh = True              # _prepared not sent yet
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._sink = sink
        self._tag = tag
        self._acked = threading.Event()
        self._errors: list[Mapping[str, Any]] | None = None
        self._ended = False

    # -- public ---------------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        """Whether the subscription still receives events."""
        return not self._ended

    def receive(self, timeout: float | None = None) -> T:
        """The next event; ``TimeoutError`` after ``timeout`` seconds without one,
        :class:`SubscriptionClosed` once unsubscribed, :class:`SubscriptionError` if the server
        ended the subscription."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._ended and self._queue.empty():
                raise SubscriptionClosed("the subscription is closed")
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                kind, value = self._queue.get(timeout=remaining)
            except queue.Empty:
                raise TimeoutError(f"no event within {timeout} s") from None
            if kind == "data":
                return self._request.shape(value)
            if kind == "error":
                raise SubscriptionError("the server ended the subscription", value)
            if kind == "end":
                raise SubscriptionClosed("the subscription is closed")
            # "resubscribed": only observe_query cares

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        try:
            return self.receive()
        except SubscriptionClosed:
            raise StopIteration from None

    def unsubscribe(self) -> None:
        """Send ``stop``; the iterator ends. Idempotent."""
        if self._ended:
            return
        self._ended = True
        self._socket.remove(self)
        self._put("end", None)

    close = unsubscribe

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.unsubscribe()

    def __repr__(self) -> str:
        return f"<Subscription {self.id} {'active' if self.active else 'closed'}>"

    # -- the socket's side ----------------------------------------------------------------------
    def _put(self, kind: str, value: Any) -> None:
        if self._sink is not None:
            self._sink.put((self._tag, kind, value))
        else:
            self._queue.put((kind, value))

    def _fail(self, errors: list[Mapping[str, Any]]) -> None:
        self._errors = errors
        self._ended = True
        self._acked.set()
        self._put("error", errors)

    def _handshake(self) -> Prepared:
        """What opens a connection: the first handshake as prepared, later ones with fresh credentials."""
        return self._prepared if self._fresh else self._prepare()

    def _start_payload(self) -> Mapping[str, Any]:
        if self._fresh:
            self._fresh = False
        else:
            self._prepared = self._prepare()  # fresh credentials (and signature date) per start
        return self._prepared.start_payload


class _Socket:
    """One real-time endpoint's socket and its background thread: the I/O around a SocketProtocol."""

    def __init__(self, hub: SyncRealtime, url: str) -> None:
        self.hub = hub
        self.url = url
        self.lock = threading.RLock()
        self.protocol: SocketProtocol[Subscription[Any]] = SocketProtocol(
            hub.options, lambda state: hub._notify(state, url))
        self.ws: Any = None
        self.thread: threading.Thread | None = None
        self.running = False            # a thread owns this socket (set and cleared under the lock)
        self.wake = threading.Event()

    # -- app side -------------------------------------------------------------------------------
    def add(self, sub: Subscription[Any]) -> None:
        with self.lock:
            if self.protocol.add(sub) and self.ws is not None:
                try:
                    self.ws.send(start_frame(sub.id, sub._start_payload()))
                except Exception as exc:  # the reader notices the broken socket and reconnects
                    log.debug("sending start failed: %s", exc)
            if not self.running:
                self.running = True
                self.thread = threading.Thread(target=self._run, daemon=True, name=f"cove-realtime {self.url}")
                self.thread.start()
            else:
                self.wake.set()

    def remove(self, sub: Subscription[Any]) -> None:
        with self.lock:
            if self.protocol.remove(sub, time.monotonic()) and self.ws is not None:
                with contextlib.suppress(Exception):
                    self.ws.send(stop_frame(sub.id))

    def close(self) -> None:
        with self.lock:
            subs = self.protocol.shut()
            ws = self.ws
        self.wake.set()
        for sub in subs:
            sub._ended = True
            sub._put("end", None)
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.close()
        thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)

    # -- the thread -----------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self.lock:
                first = self.protocol.next_connection()
                if first is None:
                    # Decided under the lock: add() starts a new thread from now on.
                    self.running = False
                    self.ws = None
                    self.protocol.stopped()
                    return
            try:
                handshake = first._handshake()
            except Exception as exc:  # credentials gone: that subscription fails, others go on
                with self.lock:
                    self.protocol.drop(first, exc, time.monotonic())
                continue
            self.protocol.connecting()
            error: Exception | None = None
            try:
                self._session(handshake)
            except Exception as exc:
                error = exc
            with self.lock:
                delay = self.protocol.ended(error)
            if delay:
                self.wake.wait(delay)
                self.wake.clear()

    def _session(self, handshake: Prepared) -> None:
        from websockets.sync.client import connect
        from websockets.typing import Subprotocol

        options = self.hub.options
        ws = connect(handshake.url, subprotocols=[Subprotocol(p) for p in handshake.subprotocols],
                     ssl=websocket_ssl(handshake.url, self.hub.verify), open_timeout=options.ack_timeout,
                     close_timeout=1, compression=None, max_size=None, legacy=True)
        try:
            ws.send(CONNECTION_INIT)
            deadline = time.monotonic() + options.ack_timeout
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no connection_ack within {options.ack_timeout} s")
                if self.protocol.handshake(ws.recv(timeout=remaining)):
                    break
            with self.lock:
                self.ws = ws
                for sub in self.protocol.opened(time.monotonic()):
                    try:
                        payload = sub._start_payload()
                    except Exception as exc:  # a provider failed for this one subscription
                        self.protocol.drop(sub, exc, time.monotonic())
                        continue
                    ws.send(start_frame(sub.id, payload))
            self.protocol.connected()
            self._read(ws)
        finally:
            with self.lock:
                if self.ws is ws:
                    self.ws = None
                self.protocol.disconnected()
            with contextlib.suppress(Exception):
                ws.close()

    def _read(self, ws: Any) -> None:
        while True:
            with self.lock:
                if not self.protocol.tick(time.monotonic()):
                    return
            try:
                text = ws.recv(timeout=_POLL)
            except TimeoutError:
                continue
            with self.lock:
                self.protocol.receive(text, time.monotonic())


class SyncRealtime(RealtimeBase["_Socket"]):
    """``client.realtime``: the sockets of a sync client, their state, and the options."""

    def __init__(self, client: BaseClient, verify: ssl.SSLContext | str | bool) -> None:
        super().__init__(client, verify)
        self._lock = threading.Lock()

    def subscribe(self, request: SubscriptionRequest[T], *, sink: queue.Queue[Any] | None = None,
                  tag: Any = None) -> Subscription[T]:
        """Start a subscription and return once the server acknowledged it."""
        client = self._client
        call = begin(client, request)

        def prepare() -> Prepared:
            custom = client._headers_result(call)  # type: ignore[arg-type]
            if inspect.isawaitable(custom):
                if inspect.iscoroutine(custom):
                    custom.close()
                raise ConfigurationError("the headers function is async: use it with "
                                         "cove.generate_async_client(), or pass a sync function")
            connect_request, start_request = auth_requests(client, call, custom)
            provider = client._provider(call.resolved.mode)
            return prepared(call, provider.auth_headers(connect_request), provider.auth_headers(start_request),
                            custom)

        first = prepare()  # a missing credential raises here, before anything is sent
        with self._lock:
            socket = self._sockets.get(call.url)
            if socket is None:
                socket = self._sockets[call.url] = _Socket(self, call.url)
        sub: Subscription[T] = Subscription(socket, request, prepare, first, sink, tag)
        socket.add(sub)
        if not sub._acked.wait(self.options.ack_timeout):
            sub.unsubscribe()
            raise self._unacknowledged(socket)
        if sub._errors is not None:
            raise SubscriptionError("the server refused the subscription", sub._errors)
        return sub

    def close(self) -> None:
        """Stop every subscription and close every socket."""
        with self._lock:
            sockets = list(self._sockets.values())
            self._sockets.clear()
        for socket in sockets:
            socket.close()
