"""One real-time connection's protocol, without I/O: text frames in, frames and actions out.

AppSync's protocol, server side (the handshake and the ``header-`` subprotocol are in
:mod:`cove.wire.realtime`; the socket's I/O is in :mod:`.connection`):

- ``connection_init`` -> ``connection_ack`` with ``connectionTimeoutMs``, then ``ka`` at once and
  every ``keepalive_interval`` seconds; when the connection's own auth failed, ``connection_error``
  and the socket is closed.
- ``start`` -> ``start_ack`` or ``error``. Each ``start`` is authenticated on its own
  (``payload.extensions.authorization``; body = the ``payload.data`` string), so every subscription on
  a socket may use its own auth mode; without an ``authorization`` object it uses the connection's.
- ``data`` per event, ``stop`` -> ``complete``; ``connection_terminate`` closes the socket.

Everything that decides what is sent lives here, as :class:`ConnectionProtocol` and its :class:`State`
(the way h11's ``_state.py`` holds its state machine): the caller feeds it what the peer sent and what
happened (a subscription was planned, a timer fired, the queue overflowed) and carries out the
:data:`Action` values it returns. Planning a subscription needs the engine and awaits the
authenticator, so a ``start`` comes back as a :class:`Start` action and the caller reports the outcome
with :meth:`ConnectionProtocol.started` or :meth:`ConnectionProtocol.start_failed`.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson

from cove.wire.realtime import HEADER_SUBPROTOCOL_PREFIX, KA, decode_header

from .settings import RealtimeLimits

__all__ = ["Action", "Close", "ConnectionProtocol", "Send", "Start", "State", "Stop", "appsync_error",
           "handshake_headers"]


class State(enum.Enum):
    AWAITING_INIT = "awaiting_init"   # accepted; connection_init not answered with an ack yet
    OPEN = "open"                     # connection_ack sent: starts are served, keep-alives flow
    CLOSING = "closing"               # a close is queued after what was sent before it; nothing more
    DROPPED = "dropped"               # fell behind: dropped without waiting for what is queued
    CLOSED = "closed"                 # the socket is gone


@dataclass(frozen=True, slots=True)
class Send:
    data: bytes            # one text frame (JSON, UTF-8)


@dataclass(frozen=True, slots=True)
class Close:
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Start:
    """Plan subscription `id` from `payload`, then report with started() or start_failed()."""
    id: str
    payload: Any


@dataclass(frozen=True, slots=True)
class Stop:
    """Forget this subscription (the handle given to started())."""
    subscription: Any


Action = Send | Close | Start | Stop

# An oversized message is not parsed; its id, when it has a short one, is echoed from its first bytes.
_ID_RE = re.compile(r'"id"\s*:\s*"([^"\\]{1,200})"')


def handshake_headers(subprotocols: list[str], query_string: bytes) -> dict[str, str]:
    """The connection's auth headers: a ``header-<base64url JSON>`` subprotocol (aws-amplify >= 6.6) or
    ``?header=<base64 JSON>&payload=e30=`` (gql, older clients); other query parameters are extra
    headers. Raises HeaderError (from cove.wire.realtime) for a header that does not decode."""
    prefix = HEADER_SUBPROTOCOL_PREFIX
    encoded = next((p[len(prefix):] for p in subprotocols if p.startswith(prefix)), None)
    extra: dict[str, str] = {}
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name == "header":
            encoded = encoded or value
        elif name != "payload":
            extra[name.lower()] = value
    headers = decode_header(encoded) if encoded is not None else {}
    for name, value in extra.items():
        headers.setdefault(name, value)
    return headers


def appsync_error(error_type: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"errorType": error_type, "message": message, **extra}


def _error_frame(sub_id: str | None, errors: list[dict[str, Any]]) -> bytes:
    if sub_id is None:
        return orjson.dumps({"type": "error", "payload": {"errors": errors}})
    return orjson.dumps({"id": sub_id, "type": "error", "payload": {"errors": errors}})


def _connection_error(error: dict[str, Any]) -> bytes:
    return orjson.dumps({"type": "connection_error", "payload": {"errors": [error]}})


class ConnectionProtocol:
    """The state of one connection and what to answer to each message."""

    def __init__(self, limits: RealtimeLimits) -> None:
        self.limits = limits
        self.state = State.AWAITING_INIT
        self.subscriptions: dict[str, Any] = {}   # id -> the caller's handle, once started
        self.pending: set[str] = set()             # ids handed out as Start, not yet reported
        self._refusal: tuple[dict[str, Any], int] | None = None

    @property
    def live(self) -> bool:
        """Frames may still be sent (no close is queued and the socket is not gone)."""
        return self.state is State.OPEN or self.state is State.AWAITING_INIT

    # -- what happened --------------------------------------------------------------------------
    def refuse(self, error_type: str, message: str, status: int) -> None:
        """The connection's own auth failed: answer connection_init with this error and close."""
        code = status if status in (400, 401, 403) else 401
        self._refusal = (appsync_error(error_type, message, errorCode=code), 1008 if code != 400 else 1002)

    def receive(self, text: str) -> list[Action]:
        """What to do about one text message from the peer."""
        if not self.live:
            return []   # closing or gone: nothing more is answered
        limit = self.limits.max_message_bytes
        if len(text) > limit or len(text.encode()) > limit:
            found = _ID_RE.search(text[:300])
            error = appsync_error("LimitExceededException", f"The message is {len(text.encode())} bytes; "
                                  f"the limit is {limit} bytes")
            return [Send(_error_frame(found.group(1) if found else None, [error]))]
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError:
            return [Send(_error_frame(None, [appsync_error("BadRequestException", "The message is not valid JSON")]))]
        if not isinstance(message, dict):
            return [Send(_error_frame(None, [appsync_error("BadRequestException",
                                                           "A message must be a JSON object with a 'type'")]))]
        kind = message.get("type")
        if kind == "connection_init":
            return self._connection_init()
        if kind == "start":
            return self._start(message)
        if kind == "stop":
            return self._stop(message)
        if kind == "connection_terminate":
            return self._close(1000, "connection_terminate")
        sub_id = message.get("id")
        return [Send(_error_frame(sub_id if isinstance(sub_id, str) else None,
                                  [appsync_error("UnsupportedOperation", f"Unknown message type {kind!r}")]))]

    def started(self, sub_id: str, subscription: Any) -> bytes | None:
        """A Start was planned: the start_ack to send, or None when the caller must discard it (the
        connection is closing, or the id was taken meanwhile)."""
        self.pending.discard(sub_id)
        if self.state is not State.OPEN or sub_id in self.subscriptions:
            return None
        self.subscriptions[sub_id] = subscription
        return orjson.dumps({"id": sub_id, "type": "start_ack"})

    def start_failed(self, sub_id: str, errors: list[dict[str, Any]]) -> bytes | None:
        self.pending.discard(sub_id)
        return _error_frame(sub_id, errors) if self.state is State.OPEN else None

    def end(self, sub_id: str, subscription: Any, error: dict[str, Any]) -> bytes | None:
        """End one subscription with an error (its credentials expired or were revoked): the frame to
        send, or None when it had already ended."""
        if self.subscriptions.get(sub_id) is not subscription:
            return None
        del self.subscriptions[sub_id]
        return _error_frame(sub_id, [error])

    def keepalive(self) -> bytes | None:
        return KA if self.state is State.OPEN else None

    def init_timed_out(self) -> list[Action]:
        if self.state is not State.AWAITING_INIT:
            return []
        error = appsync_error("BadRequestException", f"No connection_init within {self.limits.init_timeout:g} s",
                              errorCode=408)
        return [Send(_connection_error(error)), *self._close(1008, "connection_init timeout")]

    def idle_timed_out(self) -> list[Action]:
        if self.subscriptions or not self.live:
            return []
        return self._close(1000, f"no message for connectionTimeoutMs ({self.limits.connection_timeout_ms} ms)")

    def fell_behind(self) -> bytes | None:
        """The peer does not read fast enough: the connection_error to try to send before dropping it,
        or None when it is already closing."""
        if not self.live:
            return None
        self.state = State.DROPPED
        limits = self.limits
        return _connection_error(appsync_error(
            "LimitExceededException", f"The connection fell behind by more than {limits.max_queue} messages or "
            f"{limits.max_queue_bytes} bytes and was closed; reconnect and re-sync", errorCode=429))

    def closed(self) -> list[Any]:
        """The socket is gone: the subscriptions to forget."""
        self.state = State.CLOSED
        gone = list(self.subscriptions.values())
        self.subscriptions.clear()
        self.pending.clear()
        return gone

    # -- messages -------------------------------------------------------------------------------
    def _close(self, code: int, reason: str) -> list[Action]:
        self.state = State.CLOSING
        return [Close(code, reason)]

    def _connection_init(self) -> list[Action]:
        if self._refusal is not None:
            error, code = self._refusal
            return [Send(_connection_error(error)), *self._close(code, error["errorType"])]
        ack = Send(orjson.dumps({"type": "connection_ack",
                                 "payload": {"connectionTimeoutMs": self.limits.connection_timeout_ms}}))
        if self.state is State.OPEN:
            return [ack]
        self.state = State.OPEN
        return [ack, Send(KA)]

    def _start(self, message: dict[str, Any]) -> list[Action]:
        sub_id = message.get("id")
        if not isinstance(sub_id, str) or not sub_id:
            return [Send(_error_frame(None, [appsync_error("BadRequestException",
                                                           "A start message needs a string 'id'")]))]
        if self.state is not State.OPEN:
            return [Send(_error_frame(sub_id, [appsync_error(
                "BadRequestException", "Send connection_init and wait for connection_ack before start")]))]
        if sub_id in self.subscriptions or sub_id in self.pending:
            return [Send(_error_frame(sub_id, [appsync_error("DuplicatedOperationError",
                                                             f"Duplicated operation with id {sub_id}")]))]
        limit = self.limits.max_subscriptions
        if len(self.subscriptions) + len(self.pending) >= limit:
            return [Send(_error_frame(sub_id, [appsync_error("MaxSubscriptionsReachedError",
                                                             f"Max number of {limit} subscriptions reached")]))]
        self.pending.add(sub_id)
        return [Start(sub_id, message.get("payload"))]

    def _stop(self, message: dict[str, Any]) -> list[Action]:
        sub_id = message.get("id")
        if not isinstance(sub_id, str):
            return [Send(_error_frame(None, [appsync_error("BadRequestException",
                                                           "A stop message needs a string 'id'")]))]
        actions: list[Action] = []
        subscription = self.subscriptions.pop(sub_id, None)
        if subscription is not None:
            actions.append(Stop(subscription))
        actions.append(Send(orjson.dumps({"id": sub_id, "type": "complete"})))
        return actions
