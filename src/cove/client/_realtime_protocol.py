"""One real-time socket's protocol, without I/O: the :class:`SocketProtocol` state machine.

Everything that decides something lives here (as h11's ``_state.py`` keeps every state change in
one place): waiting for ``connection_ack``, ``connection_error`` triage (final or retried),
``start_ack`` bookkeeping and re-subscription after a reconnect, the once-per-subscription
reconnect on expired credentials, dispatching ``data``/``error`` frames to subscriptions, the
keep-alive watchdog, the idle linger and the reconnect backoff. ``_realtime_sync.py`` (a thread)
and ``_realtime_async.py`` (a task) only open sockets, pump frames into :meth:`SocketProtocol.receive`,
sleep and wake; the sync twin calls the protocol under its lock, since app threads add and remove
subscriptions concurrently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, Protocol, TypeVar

from ._realtime import (
    ConnectionState,
    RealtimeOptions,
    backoff,
    frame_errors,
    is_auth_error,
    is_fatal,
    parse_frame,
)

log = logging.getLogger("cove.client.realtime")

#: Seconds the server may stay silent when its ``connection_ack`` names no ``connectionTimeoutMs``.
DEFAULT_CONNECTION_TIMEOUT = 300.0


class Phase(Enum):
    """Where one socket is in its life."""

    CLOSED = "closed"            # no socket: before the first connection, between attempts
    CONNECTING = "connecting"    # connection_init sent, waiting for connection_ack
    OPEN = "open"                # acknowledged: starts go out, frames are dispatched
    SHUT = "shut"                # closed by the app: no reconnecting, ever


class Reconnect(Exception):
    """Drop this socket and connect again at once (a subscription's credentials need refreshing)."""


class ConnectionRefused(Exception):
    """A final ``connection_error`` (400/401/403 or BadRequest/Unauthorized): every subscription fails."""

    def __init__(self, errors: list[Mapping[str, Any]]) -> None:
        super().__init__(f"connection_error: {errors}")
        self.errors = errors


class Flag(Protocol):
    """A subscription's "acknowledged" event (``threading.Event`` or ``asyncio.Event``)."""

    def set(self) -> None: ...

    def clear(self) -> None: ...


class Subscriber(Protocol):
    """What the protocol needs from a subscription of either twin (none of it blocks)."""

    @property
    def id(self) -> str: ...

    @property
    def _acked(self) -> Flag: ...

    def _put(self, kind: str, value: Any) -> None: ...

    def _fail(self, errors: list[Mapping[str, Any]]) -> None: ...


S = TypeVar("S", bound=Subscriber)


@dataclass
class _Track:
    """A subscription's acknowledgement history on this socket."""

    ever_acked: bool = False
    acked_generation: int = -1      # the connection (generation) that acknowledged it last
    auth_retry: bool = False        # it already caused one reconnect for expired credentials


def error_of(exc: BaseException) -> list[Mapping[str, Any]]:
    """An exception raised while preparing a subscription (e.g. credentials gone), as its errors."""
    return [{"errorType": type(exc).__name__, "message": str(exc)}]


class SocketProtocol(Generic[S]):
    """The protocol state of one real-time endpoint's socket and of the subscriptions on it.

    ``notify(state)`` is called on every :class:`ConnectionState` change. Times are passed in
    (``time.monotonic()`` values), so the machine is driven, and tested, without a clock.
    """

    def __init__(self, options: RealtimeOptions, notify: Callable[[ConnectionState], None]) -> None:
        self.options = options
        self._notify = notify
        self.phase = Phase.CLOSED
        self.state = ConnectionState.DISCONNECTED
        self.subs: dict[str, S] = {}
        self._tracks: dict[str, _Track] = {}
        self.generation = 0             # counts acknowledged connections
        self.timeout = DEFAULT_CONNECTION_TIMEOUT
        self.idle_since: float | None = None
        self.last_frame = 0.0
        self.attempt = 0                # failed connection attempts in a row (for the backoff)
        self.last_error: str | None = None

    # -- the app's side -------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self.phase is Phase.OPEN

    def add(self, sub: S) -> bool:
        """Register ``sub``; True when the socket is open, so its ``start`` goes out now."""
        self.subs[sub.id] = sub
        self._tracks[sub.id] = _Track()
        self.idle_since = None
        if self.phase is Phase.SHUT:
            self.phase = Phase.CLOSED   # a new subscription on a closed socket opens it again
        return self.is_open

    def remove(self, sub: S, now: float) -> bool:
        """Unregister ``sub``; True when it was live on an open socket, so a ``stop`` goes out."""
        if not self._forget(sub.id, now):
            return False
        return self.is_open

    def shut(self) -> list[S]:
        """The app closes the socket: no reconnect; returns the subscriptions to end."""
        self.phase = Phase.SHUT
        return self._take_all()

    def _forget(self, sub_id: str, now: float) -> bool:
        if self.subs.pop(sub_id, None) is None:
            return False
        self._tracks.pop(sub_id, None)
        if not self.subs:
            self.idle_since = now
        return True

    # -- connecting -----------------------------------------------------------------------------
    def next_connection(self) -> S | None:
        """The subscription whose handshake opens the next connection, or None: stop (the app shut
        the socket, or nothing is subscribed)."""
        if self.phase is Phase.SHUT or not self.subs:
            return None
        return next(iter(self.subs.values()))

    def drop(self, sub: S, exc: Exception, now: float) -> None:
        """Preparing ``sub``'s handshake or start failed (its credentials are gone): it fails alone."""
        self._forget(sub.id, now)
        sub._fail(error_of(exc))

    def connecting(self) -> None:
        """A socket is being opened and ``connection_init`` sent."""
        self.phase = Phase.CONNECTING
        self._set_state(ConnectionState.CONNECTING if self.attempt == 0 else ConnectionState.CONNECTION_DISRUPTED)

    def handshake(self, text: str | bytes) -> bool:
        """A frame while waiting for ``connection_ack``: True once acknowledged. A ``connection_error``
        raises :class:`ConnectionRefused` (final) or ``ConnectionError`` (retried)."""
        frame = parse_frame(text)
        if frame is None:
            return False
        kind = frame.get("type")
        if kind == "connection_ack":
            payload = frame.get("payload")
            ms = payload.get("connectionTimeoutMs") if isinstance(payload, Mapping) else None
            self.timeout = DEFAULT_CONNECTION_TIMEOUT
            if isinstance(ms, (int, float)) and ms > 0:
                self.timeout = ms / 1000
            return True
        if kind == "connection_error":
            self._connection_error(frame)
        return False

    def opened(self, now: float) -> list[S]:
        """``connection_ack`` arrived: a new generation; returns the subscriptions to start."""
        self.phase = Phase.OPEN
        self.generation += 1
        self.last_frame = now
        return list(self.subs.values())

    def connected(self) -> None:
        """Every start went out."""
        self._set_state(ConnectionState.CONNECTED)

    # -- an open socket -------------------------------------------------------------------------
    def tick(self, now: float) -> bool:
        """Before each read: False when the socket should close now (the app shut it, or it idled
        ``linger`` seconds with no subscription). Raises ``TimeoutError`` when the server has been
        silent past its ``connectionTimeoutMs`` (the connection is dead)."""
        if self.phase is Phase.SHUT:
            return False
        if not self.subs:
            idle = self.idle_since or now
            if now - idle >= self.options.linger:
                self._set_state(ConnectionState.CONNECTED_PENDING_DISCONNECT)
                return False
        silent = now - self.last_frame
        if silent > self.timeout:
            raise TimeoutError(f"no keep-alive for {self.timeout:.0f} s")
        if silent > self.options.keepalive_warning:
            self._set_state(ConnectionState.CONNECTED_PENDING_KEEP_ALIVE)
        return True

    def receive(self, text: str | bytes, now: float) -> None:
        """A frame on the open socket: hand it to its subscription. Raises :class:`Reconnect`,
        :class:`ConnectionRefused` or ``ConnectionError`` when the connection must go."""
        self.last_frame = now
        if self.state == ConnectionState.CONNECTED_PENDING_KEEP_ALIVE:
            self._set_state(ConnectionState.CONNECTED)
        frame = parse_frame(text)
        if frame is None:
            return
        kind = frame.get("type")
        sub_id = frame.get("id")
        sub = self.subs.get(sub_id) if isinstance(sub_id, str) else None
        if kind == "data":
            if sub is not None:
                payload = frame.get("payload")
                sub._put("data", payload if isinstance(payload, Mapping) else {})
        elif kind == "start_ack":
            if sub is not None:
                self._acknowledged(sub)
        elif kind == "error":
            self._error(sub, frame_errors(frame), now)
        elif kind == "connection_error":
            self._connection_error(frame)

    def _acknowledged(self, sub: S) -> None:
        track = self._tracks[sub.id]
        if track.ever_acked and track.acked_generation != self.generation:
            sub._put("resubscribed", self.generation)
        track.ever_acked = True
        track.acked_generation = self.generation
        track.auth_retry = False
        sub._acked.set()

    def _error(self, sub: S | None, errors: list[Mapping[str, Any]], now: float) -> None:
        if sub is None:
            log.warning("real-time error: %s", errors)
            return
        track = self._tracks[sub.id]
        if track.acked_generation == self.generation and is_auth_error(errors) and not track.auth_retry:
            # Its credentials expired: reconnect with fresh ones (aws-amplify does the same).
            track.auth_retry = True
            raise Reconnect()
        self._forget(sub.id, now)
        sub._fail(errors)

    @staticmethod
    def _connection_error(frame: Mapping[str, Any]) -> None:
        errors = frame_errors(frame)
        if is_fatal(errors):
            raise ConnectionRefused(errors)
        raise ConnectionError(f"connection_error: {errors}")

    # -- after a connection ---------------------------------------------------------------------
    def disconnected(self) -> None:
        """The socket is gone: every subscription waits for a new ``start_ack``."""
        if self.phase is not Phase.SHUT:
            self.phase = Phase.CLOSED
        for sub in self.subs.values():
            sub._acked.clear()

    def ended(self, error: Exception | None) -> float:
        """How a connection ended (None: closed on purpose) → seconds to wait before the next one."""
        if error is None or isinstance(error, Reconnect):
            self.attempt = 0
            return 0.0
        if isinstance(error, ConnectionRefused):
            for sub in self._take_all():
                sub._fail(error.errors)
            return 0.0
        self.last_error = f"{type(error).__name__}: {error}"
        log.debug("real-time connection failed: %s", self.last_error)
        if self.phase is Phase.SHUT or not self.subs:
            return 0.0
        self._set_state(ConnectionState.CONNECTION_DISRUPTED)
        delay = backoff(self.attempt, self.options)
        self.attempt += 1
        return delay

    def _take_all(self) -> list[S]:
        subs = list(self.subs.values())
        self.subs.clear()
        self._tracks.clear()
        return subs

    def stopped(self) -> None:
        """The socket's thread or task is done."""
        self._set_state(ConnectionState.DISCONNECTED)

    def _set_state(self, state: ConnectionState) -> None:
        if state != self.state:
            self.state = state
            self._notify(state)
