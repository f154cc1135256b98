"""AppSync's real-time protocol at ``<graphql path>/realtime`` (reference section 7).

One :class:`Realtime` hub per server process owns the WebSocket connections and the subscriptions,
and receives every mutation event from the :mod:`broker <cove.broker>` (in-process by default;
Redis or PostgreSQL when several processes serve the same data).

The protocol, server side:

- Handshake: the client offers the ``graphql-ws`` subprotocol and passes its connection auth either
  as a ``header-<base64url JSON>`` subprotocol (aws-amplify >= 6.6) or as ``?header=<base64 JSON>
  &payload=e30=`` (gql, older clients); other query parameters are extra headers. The connection is
  authenticated with the app's ``authenticate`` (for IAM the signature covers ``POST <graphql
  path>/connect`` with body ``{}``); a failure is answered to ``connection_init`` with
  ``connection_error`` and the socket is closed.
- ``connection_init`` -> ``connection_ack`` with ``connectionTimeoutMs``, then ``ka`` at once and
  every ``keepalive_interval`` seconds.
- ``start`` -> ``start_ack`` or ``error``. Each ``start`` is authenticated on its own
  (``payload.extensions.authorization``; body = the ``payload.data`` string), so every subscription on
  a socket may use its own auth mode; without an ``authorization`` object it uses the connection's.
- ``data`` per event, ``stop`` -> ``complete``.

Events are filtered per subscriber: by its ``filter`` (evaluated on the whole stored record, so a
mutation that does not select a field still matches a filter on it; a filter may not test a field the
subscriber may not read, see ``Authorizer.blind_filter``), its ``owner`` argument, and its
authorization (``authorizer.can_read(model, record, identity)``). A subscription whose credentials
expire (a JWT's ``exp``, an API key's expiry or revocation) gets an ``error`` and ends.
The payload is AppSync's: the subscriber's selection restricted to what the mutation selected (fields
the mutation did not select are null), rendered from the stored record by the engine with the
subscriber's own rights at every depth (``Engine.render_event``), so no subscriber receives a value its
own query could not read. Fan-out runs in its own task, event after event, yielding to the event loop
every few milliseconds, so a mutation's response never waits for its subscribers.

Back-pressure: every connection has a bounded outgoing queue drained by its own writer task, so a
slow or stalled subscriber never delays a mutation or another subscriber; when the queue overflows,
the connection gets a ``connection_error`` (if it still reads) and is dropped.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import inspect
import logging
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson
from graphql import OperationType

from cove.broker import Broker, BrokerError, open_broker
from cove.wire.filters import FilterError, compile_filter
from cove.wire.realtime import KA, SUBPROTOCOL, HeaderError, decode_header
from cove.schema.model import Model
from cove.schema.naming import mutation_field, subscription_field
from cove.settings import parse_settings

from .authorization import HiddenField
from .errors import FieldError, RequestError
from .engine import Engine, Plan, PlanError, RestrictedPlans
from .events import Mask, MutationEvent

if TYPE_CHECKING:  # pragma: no cover
    from .app import CoveApp
    from .identity import Identity

log = logging.getLogger("cove.realtime")

__all__ = ["Realtime", "RealtimeLimits", "RealtimeSettings"]

_CLOSE = object()  # queue sentinel: close the socket after what is queued before it
FANOUT_SLICE = 0.0005  # seconds of fan-out work between yields to the event loop


@dataclass
class RealtimeLimits:
    """Real-time limits; ``cove serve --realtime-limit NAME=VALUE`` sets any of them."""

    #: Sent in ``connection_ack``; a connection with no subscription that sends nothing for this
    #: long is closed (connections with subscriptions are kept while they answer WebSocket pings).
    connection_timeout_ms: int = 300_000
    #: Seconds between ``ka`` messages (AppSync sends one a minute).
    keepalive_interval: float = 60.0
    #: Subscriptions per connection.
    max_subscriptions: int = 100
    #: Largest client message accepted (bytes); larger ones get an error.
    max_message_bytes: int = 131_072
    #: Outgoing messages, and their bytes, waiting per connection before it is dropped as too slow.
    max_queue: int = 1_000
    max_queue_bytes: int = 8_388_608
    #: Open WebSockets per client address, and in all, on this server process.
    max_connections_per_address: int = 256
    max_connections: int = 10_000
    #: Seconds a new socket has to complete connection_init (sending other messages does not extend it).
    init_timeout: float = 10.0
    #: Seconds between WebSocket pings to detect dead peers (0 disables); a peer that does not answer
    #: within the same time is dropped.
    ping_interval: float = 20.0

    @classmethod
    def parse(cls, items: list[str] | None) -> RealtimeLimits:
        return parse_settings(cls(), items, "--realtime-limit")


@dataclass
class RealtimeSettings:
    limits: RealtimeLimits
    broker_url: str | None = None


# ------------------------------------------------------------------------------------------------
# Subscriptions


class Event:
    """One mutation's event: the mutation field, the model, the stored record (a custom mutation's
    result) and the mask of what the mutation selected (see engine/payload.py)."""

    __slots__ = ("field", "model", "record", "mask", "mask_key")

    def __init__(self, field: str, model: str | None, record: Any, mask: Mask | None) -> None:
        self.field = field
        self.model = model
        self.record = record
        self.mask = mask
        self.mask_key = orjson.dumps(mask, option=orjson.OPT_SORT_KEYS)


Predicate = Callable[[Any], bool]


def viewer_key(identity: Identity) -> tuple[Any, ...]:
    """Identities with equal keys get equal renderings of any record, so subscribers share them: every
    input of an authorization decision (mode, IAM kind, deniedFields, claims) is in the key."""
    claims = orjson.dumps(identity.claims, option=orjson.OPT_SORT_KEYS, default=str) if identity.claims else b""
    return (identity.mode, identity.iam_kind, identity.denied_fields, claims)


class Subscription:
    __slots__ = ("id", "frame_head", "conn", "fields", "key", "plan", "variables", "identity", "viewer",
                 "predicates", "reader", "still_valid", "validity_key", "expiry_timer")

    def __init__(self, sub_id: str, conn: Connection, fields: tuple[str, ...], key: str, plan: Plan | None,
                 variables: Any, identity: Identity, predicates: list[Predicate], reader: Predicate | None,
                 still_valid: Callable[[], Awaitable[bool]] | None) -> None:
        self.id = sub_id
        self.frame_head = b'{"id":' + orjson.dumps(sub_id) + b',"type":"data","payload":'
        self.conn = conn
        self.fields = fields          # mutation fields this subscription listens to
        self.key = key                # response key of the root field (its alias, if any)
        self.plan = plan              # the subscriber's selection; each event is rendered with it
        self.variables = variables    # coerced, for arguments inside the selection
        self.identity = identity      # each event is rendered with the subscriber's rights
        self.viewer = viewer_key(identity)
        self.predicates = predicates  # the filter, the owner argument, custom-subscription arguments
        self.reader = reader          # per-record authorization
        self.still_valid = still_valid
        self.validity_key: Any = None  # subscriptions with the same key share one check per event
        self.expiry_timer: asyncio.TimerHandle | None = None


# ------------------------------------------------------------------------------------------------
# Connections


def _decode_header(text: str) -> dict[str, str]:
    try:
        return decode_header(text)
    except HeaderError as exc:
        raise RequestError(400, "BadRequestException", str(exc)) from None


def _error(error_type: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"errorType": error_type, "message": message, **extra}


_ID_RE = re.compile(r'"id"\s*:\s*"([^"\\]{1,200})"')


class Connection:
    """One WebSocket. Its ASGI task runs :meth:`run` (the receive loop); a writer task, created when
    there is something to send and gone when the queue is empty, does the sending."""

    def __init__(self, hub: Realtime, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.hub = hub
        self.scope = scope
        self.receive = receive
        self.send = send
        self.loop = asyncio.get_running_loop()
        self.queue: deque[Any] = deque()
        self.queued_bytes = 0
        self.writer: asyncio.Task[None] | None = None
        self.subs: dict[str, Subscription] = {}
        self.identity: Identity | None = None
        self.auth_error: RequestError | None = None
        self.headers: dict[str, str] = {}
        self.acked = False
        self.closing = False
        self.aborting = False
        self.task: asyncio.Task[Any] | None = None
        self.idle_timer: asyncio.TimerHandle | None = None
        self.init_timer: asyncio.TimerHandle | None = None
        client = scope.get("client")
        self.address: str = client[0] if client else ""
        # uvicorn's sans-I/O WebSocket protocol, when that is what serves us: its send() completes
        # without suspending while the transport is writable, so a frame can go out without a task.
        proto = getattr(send, "__self__", None)
        usable = (type(proto).__name__ == "WebSocketsSansIOProtocol"
                  and all(hasattr(proto, a) for a in ("writable", "disconnected", "close_sent", "transport"))
                  and getattr(getattr(proto, "conn", None), "extensions", None) == [])
        self.proto = proto if usable else None

    # -- lifecycle ------------------------------------------------------------------------------
    async def run(self) -> None:
        message = await self.receive()
        if message["type"] != "websocket.connect":
            return
        refusal = self._admit()
        if refusal is not None:
            await self._refuse(_error("LimitExceededException", refusal, errorCode=429), 1008)
            return
        try:
            await self._serve()
        finally:
            self._release()

    def _admit(self) -> str | None:
        """Count this socket against the per-address and total limits; the reason if it is over."""
        hub, limits = self.hub, self.hub.limits
        if hub.open_sockets >= limits.max_connections:
            return f"The server has reached its limit of {limits.max_connections} real-time connections"
        if hub.sockets_by_address.get(self.address, 0) >= limits.max_connections_per_address:
            return (f"Too many real-time connections from this address (the limit is "
                    f"{limits.max_connections_per_address})")
        hub.open_sockets += 1
        hub.sockets_by_address[self.address] = hub.sockets_by_address.get(self.address, 0) + 1
        return None

    def _release(self) -> None:
        hub = self.hub
        hub.open_sockets -= 1
        left = hub.sockets_by_address.get(self.address, 1) - 1
        if left > 0:
            hub.sockets_by_address[self.address] = left
        else:
            hub.sockets_by_address.pop(self.address, None)

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
            await self._refuse(_error("BadRequestException", "Real-time connections must offer the 'graphql-ws' "
                                      "WebSocket subprotocol", errorCode=400), 1002)
            return
        await self.send({"type": "websocket.accept", "subprotocol": SUBPROTOCOL})
        self.task = asyncio.current_task()
        self.hub.connections.add(self)
        self._arm_idle()
        if self.hub.limits.init_timeout > 0:
            self.init_timer = self.loop.call_later(self.hub.limits.init_timeout, self._init_timeout)
        try:
            await self._authenticate_connection(offered)
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
            if not self.aborting:
                raise
            # abort(): returning lets the server close the transport.
        finally:
            self._cleanup()

    def _cleanup(self) -> None:
        self.closing = True
        self.hub.connections.discard(self)
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None
        if self.init_timer is not None:
            self.init_timer.cancel()
            self.init_timer = None
        for sub in list(self.subs.values()):
            self._remove(sub)
        self.queue.clear()
        self.queued_bytes = 0
        if self.writer is not None and not self.writer.done():
            self.writer.cancel()

    def _arm_idle(self) -> None:
        if self.idle_timer is not None:
            self.idle_timer.cancel()
        timeout = self.hub.limits.connection_timeout_ms / 1000
        self.idle_timer = self.loop.call_later(timeout, self._idle_timeout) if timeout > 0 else None

    def _disarm_idle(self) -> None:
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None

    def _idle_timeout(self) -> None:
        self.idle_timer = None
        if self.subs or self.closing:
            return
        self.close(1000, f"no message for connectionTimeoutMs ({self.hub.limits.connection_timeout_ms} ms)")

    def _init_timeout(self) -> None:
        self.init_timer = None
        if self.acked or self.closing:
            return
        self.send_json({"type": "connection_error", "payload": {"errors": [_error(
            "BadRequestException", f"No connection_init within {self.hub.limits.init_timeout:g} s",
            errorCode=408)]}})
        self.close(1008, "connection_init timeout")

    # -- sending --------------------------------------------------------------------------------
    def enqueue(self, data: bytes) -> None:
        """Send one message (JSON, UTF-8) after those already waiting; never blocks."""
        if self.closing:
            return
        queue = self.queue
        if self.writer is None and not queue and self._send_now(data):
            return
        limits = self.hub.limits
        if len(queue) >= limits.max_queue or self.queued_bytes + len(data) > limits.max_queue_bytes:
            self.overflow()
            return
        queue.append(data)
        self.queued_bytes += len(data)
        if self.writer is None:
            self.writer = self.loop.create_task(self._drain())

    def _send_now(self, data: bytes) -> bool:
        """Write a text frame straight to the socket when it can take it (the common case: no task,
        no scheduling, no per-frame protocol object). False: queue it; the writer task waits.

        This writes through uvicorn's sans-I/O WebSocket protocol's transport: a whole, unmasked,
        uncompressed text frame is what its own send() would write (per-message deflate is off and
        checked; frames are never fragmented), and closing still goes through the protocol."""
        proto = self.proto
        if proto is None or proto.disconnected or proto.close_sent or not proto.writable.is_set():
            return False
        n = len(data)
        if n < 126:
            head = bytes((0x81, n))
        elif n < 65536:
            head = b"\x81\x7e" + n.to_bytes(2, "big")
        else:
            head = b"\x81\x7f" + n.to_bytes(8, "big")
        proto.transport.write(head + data)
        return True

    def send_json(self, obj: Any) -> None:
        self.enqueue(orjson.dumps(obj))

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close after what is already queued."""
        if self.closing:
            return
        self.queue.append((_CLOSE, code, reason))
        self.closing = True
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

    def overflow(self) -> None:
        """The client does not read fast enough: drop it (never wait for it)."""
        if self.closing:
            return
        limits = self.hub.limits
        log.warning("dropping a real-time connection whose outgoing queue is full (%d messages, %d bytes)",
                    len(self.queue), self.queued_bytes)
        self.hub.events_dropped += len(self.queue) + 1
        self.closing = True
        self.queue.clear()
        self.queued_bytes = 0
        if self.writer is not None:
            self.writer.cancel()
            self.writer = None
        self.loop.create_task(self._abort(
            _error("LimitExceededException", f"The connection fell behind by more than "
                   f"{limits.max_queue} messages or {limits.max_queue_bytes} bytes and was closed; "
                   f"reconnect and re-sync", errorCode=429)))

    async def _abort(self, error: dict[str, Any]) -> None:
        frame = orjson.dumps({"type": "connection_error", "payload": {"errors": [error]}}).decode()
        try:
            await asyncio.wait_for(self.send({"type": "websocket.send", "text": frame}), 1.0)
            await asyncio.wait_for(self.send({"type": "websocket.close", "code": 1008,
                                              "reason": "slow consumer"}), 1.0)
        except Exception:
            # A stalled peer: its transport buffer is full. Drop the TCP connection outright.
            transport = getattr(getattr(self.send, "__self__", None), "transport", None)
            if transport is not None:
                transport.abort()
        if self.task is not None and not self.task.done():
            self.aborting = True
            self.task.cancel()

    # -- messages -------------------------------------------------------------------------------
    async def _authenticate_connection(self, offered: list[str]) -> None:
        headers: dict[str, str] = {}
        encoded = next((p[len("header-"):] for p in offered if p.startswith("header-")), None)
        query = parse_qsl(self.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        extra: dict[str, str] = {}
        for name, value in query:
            if name == "header":
                encoded = encoded or value
            elif name != "payload":
                extra[name.lower()] = value
        try:
            if encoded is not None:
                headers = _decode_header(encoded)
            for name, value in extra.items():
                headers.setdefault(name, value)
            self.headers = headers
            self.identity = await self.hub.authenticate(headers, b"{}", self.hub.app.graphql_path + "/connect")
        except RequestError as exc:
            self.auth_error = exc

    async def _handle(self, text: str) -> None:
        limits = self.hub.limits
        if len(text) > limits.max_message_bytes or len(text.encode()) > limits.max_message_bytes:
            found = _ID_RE.search(text[:300])
            self.send_json({**({"id": found.group(1)} if found else {}), "type": "error", "payload": {"errors": [
                _error("LimitExceededException", f"The message is {len(text.encode())} bytes; the limit is "
                       f"{limits.max_message_bytes} bytes")]}})
            return
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError:
            self.send_json({"type": "error", "payload": {"errors": [
                _error("BadRequestException", "The message is not valid JSON")]}})
            return
        if not isinstance(message, dict):
            self.send_json({"type": "error", "payload": {"errors": [
                _error("BadRequestException", "A message must be a JSON object with a 'type'")]}})
            return
        kind = message.get("type")
        if kind == "connection_init":
            self._connection_init()
        elif kind == "start":
            await self._start(message)
        elif kind == "stop":
            self._stop(message)
        elif kind == "connection_terminate":
            self.close(1000, "connection_terminate")
        else:
            sub_id = message.get("id")
            self.send_json({**({"id": sub_id} if isinstance(sub_id, str) else {}), "type": "error",
                            "payload": {"errors": [_error("UnsupportedOperation",
                                                          f"Unknown message type {kind!r}")]}})

    def _connection_init(self) -> None:
        if self.auth_error is not None:
            exc = self.auth_error
            code = exc.status if exc.status in (400, 401, 403) else 401
            self.send_json({"type": "connection_error", "payload": {"errors": [
                _error(exc.error_type, exc.message, errorCode=code)]}})
            self.close(1008 if code != 400 else 1002, exc.error_type)
            return
        self.send_json({"type": "connection_ack",
                        "payload": {"connectionTimeoutMs": self.hub.limits.connection_timeout_ms}})
        if not self.acked:
            self.acked = True
            if self.init_timer is not None:
                self.init_timer.cancel()
                self.init_timer = None
            self.enqueue(KA)

    def _start_error(self, sub_id: str | None, errors: list[dict[str, Any]]) -> None:
        self.send_json({**({"id": sub_id} if sub_id is not None else {}), "type": "error",
                        "payload": {"errors": errors}})

    async def _start(self, message: dict[str, Any]) -> None:
        sub_id = message.get("id")
        if not isinstance(sub_id, str) or not sub_id:
            self._start_error(None, [_error("BadRequestException", "A start message needs a string 'id'")])
            return
        if not self.acked:
            self._start_error(sub_id, [_error("BadRequestException",
                                              "Send connection_init and wait for connection_ack before start")])
            return
        if sub_id in self.subs:
            self._start_error(sub_id, [_error("DuplicatedOperationError",
                                              f"Duplicated operation with id {sub_id}")])
            return
        if len(self.subs) >= self.hub.limits.max_subscriptions:
            self._start_error(sub_id, [_error("MaxSubscriptionsReachedError",
                                              f"Max number of {self.hub.limits.max_subscriptions} "
                                              "subscriptions reached")])
            return
        try:
            sub = await self.hub.subscribe(self, sub_id, message.get("payload"))
        except StartError as exc:
            self._start_error(sub_id, exc.errors)
            return
        if self.closing or sub_id in self.subs:
            if sub.expiry_timer is not None:
                sub.expiry_timer.cancel()
            return
        self.send_json({"id": sub_id, "type": "start_ack"})
        self.subs[sub_id] = sub
        self.hub.register(sub)
        self._disarm_idle()

    def _stop(self, message: dict[str, Any]) -> None:
        sub_id = message.get("id")
        if not isinstance(sub_id, str):
            self._start_error(None, [_error("BadRequestException", "A stop message needs a string 'id'")])
            return
        sub = self.subs.get(sub_id)
        if sub is not None:
            self._remove(sub)
        self.send_json({"id": sub_id, "type": "complete"})

    def _remove(self, sub: Subscription) -> None:
        self.subs.pop(sub.id, None)
        self.hub.unregister(sub)
        if sub.expiry_timer is not None:
            sub.expiry_timer.cancel()
            sub.expiry_timer = None
        if not self.subs and not self.closing:
            self._arm_idle()

    def end_subscription(self, sub: Subscription, error: dict[str, Any]) -> None:
        """End one subscription with an ``error`` (its credentials expired or were revoked)."""
        if self.subs.get(sub.id) is not sub:
            return
        self._remove(sub)
        self._start_error(sub.id, [error])


class StartError(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0].get("message") if errors else "start failed")
        self.errors = errors


# ------------------------------------------------------------------------------------------------
# The hub


class Realtime:
    """Connections, subscriptions and event fan-out for one server process."""

    def __init__(self, app: CoveApp, settings: RealtimeSettings | None = None) -> None:
        self.app = app
        settings = settings or RealtimeSettings(RealtimeLimits())
        self.limits = settings.limits
        self.broker_url = settings.broker_url
        self.broker: Broker | None = None
        self.connections: set[Connection] = set()
        self.events_published = 0   # mutations' events handed to the broker or dispatched (for metrics)
        self.events_dropped = 0     # events thrown away with a connection that fell behind
        self.open_sockets = 0                        # counted by Connection against RealtimeLimits
        self.sockets_by_address: dict[str, int] = {}
        self.by_field: dict[str, dict[Subscription, None]] = {}
        self._started = False
        self._start_lock: asyncio.Lock | None = None
        self._ka_task: asyncio.Task[None] | None = None
        self._tables: tuple[Engine, dict[str, tuple[Model | None, tuple[str, ...], Any]]] | None = None
        self._events: deque[Event] = deque()
        self._fanout: asyncio.Task[None] | None = None
        self._plans = RestrictedPlans()

    # -- lifecycle ------------------------------------------------------------------------------
    def channel(self) -> str:
        """The broker channel: derived from the store's secret, so processes sharing the data share it."""
        digest = hashlib.sha256(b"cove-events:" + self.app.backend.secret()).hexdigest()[:24]
        return f"cove_events_{digest}"

    async def start(self) -> None:
        if self._started:
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._started:
                return
            broker = open_broker(self.broker_url, self.channel() if self.broker_url else "local")
            await broker.start(self._deliver)
            self.broker = broker
            self._ka_task = asyncio.create_task(self._keepalive(), name="cove-realtime-ka")
            self._started = True

    async def close(self) -> None:
        if self._fanout is not None:
            self._fanout.cancel()
            with contextlib.suppress(BaseException):
                await self._fanout
            self._fanout = None
        if self._ka_task is not None:
            self._ka_task.cancel()
            with contextlib.suppress(BaseException):
                await self._ka_task
            self._ka_task = None
        if self.broker is not None:
            await self.broker.close()
            self.broker = None
        self._started = False

    async def serve(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if not self._started:
            try:
                await self.start()
            except BrokerError as exc:
                log.error("real-time is unavailable: %s", exc)
                await send({"type": "websocket.close", "code": 1011})
                return
        await Connection(self, scope, receive, send).run()

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(max(self.limits.keepalive_interval, 0.05))
            for conn in list(self.connections):
                if conn.acked and not conn.closing:
                    conn.enqueue(KA)

    async def authenticate(self, headers: dict[str, str], body: bytes, path: str) -> Identity:
        result: Any = self.app.authenticate(headers, body=body, path=path)
        if inspect.isawaitable(result):
            result = await result
        return result  # type: ignore[no-any-return]

    # -- subscribing ----------------------------------------------------------------------------
    def _subscription_table(self, engine: Engine) -> dict[str, tuple[Model | None, tuple[str, ...], Any]]:
        """Subscription field -> (model, mutation fields it follows, custom operation or None)."""
        if self._tables is not None and self._tables[0] is engine:
            return self._tables[1]
        table: dict[str, tuple[Model | None, tuple[str, ...], Any]] = {}
        schema = engine.schema
        for model in schema.models.values():
            for op in ("create", "update", "delete"):
                table[subscription_field(op, model)] = (model, (mutation_field(op, model),), None)
        for custom in schema.subscriptions.values():
            returns = custom.returns
            target = schema.models.get(returns.type.name) if returns is not None and returns.type.kind == "model" \
                else None
            table[custom.name] = (target, tuple(custom.subscribes_to), custom)
        self._tables = (engine, table)
        return table

    async def subscribe(self, conn: Connection, sub_id: str, payload: Any) -> Subscription:
        if not isinstance(payload, dict):
            raise StartError([_error("BadRequestException", "A start message needs a 'payload' object")])
        data = payload.get("data")
        if isinstance(data, str):
            body = data.encode()
            try:
                request = orjson.loads(data)
            except orjson.JSONDecodeError:
                raise StartError([_error("BadRequestException", "payload.data is not valid JSON")]) from None
        elif isinstance(data, dict):
            request, body = data, orjson.dumps(data)
        else:
            raise StartError([_error("BadRequestException",
                                     "payload.data must be a JSON string of {query, variables}")])
        if not isinstance(request, dict) or not isinstance(request.get("query"), str):
            raise StartError([_error("BadRequestException", "payload.data has no 'query' string")])
        variables = request.get("variables")
        if variables is not None and not isinstance(variables, dict):
            raise StartError([_error("BadRequestException", "'variables' must be a JSON object")])
        operation_name = request.get("operationName")

        # Authentication: the start's own headers, else the connection's identity.
        extensions = payload.get("extensions")
        auth_headers = extensions.get("authorization") if isinstance(extensions, dict) else None
        if isinstance(auth_headers, dict) and auth_headers:
            headers = {str(k).lower(): v if isinstance(v, str) else orjson.dumps(v).decode()
                       for k, v in auth_headers.items()}
            try:
                identity = await self.authenticate(headers, body, self.app.graphql_path)
            except RequestError as exc:
                raise StartError([_error(exc.error_type, exc.message)]) from None
        else:
            headers = conn.headers
            identity = conn.identity  # type: ignore[assignment]
            if identity is None:
                raise StartError([_error("UnauthorizedException", "The connection is not authorized")])

        engine = self.app.engine
        prepared = await engine.prepare_async(request["query"])  # a new document is validated off the loop
        try:
            planned = engine.plan_request(request["query"], variables, operation_name, prepared)
        except PlanError as exc:
            raise StartError([{**e, "errorType": e.get("errorType") or "ValidationError"} for e in exc.errors]) \
                from None
        plan = planned.plan
        if plan.kind != OperationType.SUBSCRIPTION:
            raise StartError([_error("UnsupportedOperation", "Only subscriptions are served over the real-time "
                                     "endpoint; send queries and mutations with POST to the GraphQL URL")])
        if len(plan.root_fields) != 1 or plan.introspection is not None:
            raise StartError([_error("ValidationError", "A subscription selects exactly one root field")])
        rf = plan.root_fields[0]
        entry = self._subscription_table(engine).get(rf.name)
        if entry is None:
            raise StartError([_error("UnsupportedOperation", f"{rf.name} is not a subscription Cove serves")])
        model, follows, custom = entry
        try:
            args = engine.arguments(rf, planned.variables, identity)
        except FieldError as exc:
            raise StartError([_error("BadRequestException", exc.message)]) from None

        # Authorization: the operation now, each record per event.
        unauthorized = StartError([_error("Unauthorized", f"Not Authorized to access {rf.name} on type "
                                                          "Subscription")])
        if engine.authorizer.operation_denied("Subscription", rf.name, identity):
            raise unauthorized
        reader = self._reader(engine, model, custom, identity, unauthorized)

        # Filters.
        predicates: list[Predicate] = []
        if custom is None:
            assert model is not None
            list_fields = frozenset(f.name for f in model.fields.values() if f.is_array)
            try:
                flt = engine.authorizer.blind_filter(model, args.get("filter"), identity)
            except HiddenField as exc:  # a filter must not test what the subscriber may not read
                raise StartError([_error("Unauthorized", str(exc))]) from None
            if flt:
                try:
                    predicates.append(compile_filter(flt, list_fields))
                except FilterError as exc:
                    raise StartError([_error("InvalidFilterInput", str(exc))]) from None
            owner_fields = {r.owner_field for r in model.rules if r.strategy == "owner" and r.owner_field}
            for name in owner_fields:
                value = args.get(name)
                if value is not None:
                    predicates.append(_owner_predicate(name, value))
        else:
            # AppSync's basic filtering: each argument given must equal the payload's field.
            for name, value in args.items():
                if value is not None:
                    predicates.append(_equals_predicate(name, value))

        still_valid, expires_at = self._validity(identity, headers)
        sub = Subscription(sub_id, conn, follows, rf.key, rf.plan, planned.variables, identity, predicates, reader,
                           still_valid)
        if still_valid is not None and identity.mode == "apiKey":
            sub.validity_key = ("apiKey", headers.get("x-api-key"))
        if expires_at is not None:
            delay = expires_at - time.time()
            if delay <= 0:
                raise StartError([_error("UnauthorizedException", "Token has expired.")])
            sub.expiry_timer = conn.loop.call_later(delay, self._expire, sub)
        return sub

    @staticmethod
    def _reader(engine: Engine, model: Model | None, custom: Any, identity: Identity,
                unauthorized: StartError) -> Predicate | None:
        """Raise ``unauthorized`` when ``identity`` may not subscribe at all; else return the
        per-record check (None: every record is readable)."""
        authorizer = engine.authorizer
        can_read = getattr(authorizer, "can_read", None)
        if custom is not None:
            if not authorizer.check_rules(custom.rules, "read", identity):
                raise unauthorized
            if model is None or can_read is None:
                return None
            return lambda record: bool(can_read(model, record, identity))
        assert model is not None
        decision = authorizer.check_operation(model, "listen", identity)
        if not decision.allowed:
            raise unauthorized
        if decision.row_filter is None:
            return None  # a static rule allows every record: nothing to check per event
        if can_read is not None:
            return lambda record: bool(can_read(model, record, identity))
        list_fields = frozenset(f.name for f in model.fields.values() if f.is_array)
        return compile_filter(decision.row_filter, list_fields)

    def _validity(self, identity: Identity, headers: dict[str, str]
                  ) -> tuple[Callable[[], Awaitable[bool]] | None, float | None]:
        """(a cheap per-event check that the credentials still hold, when they expire)."""
        exp = identity.claims.get("exp") if identity.claims else None
        expires_at = float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None
        still_valid: Callable[[], Awaitable[bool]] | None = None
        if identity.mode == "apiKey":
            key = headers.get("x-api-key")
            if key:
                api_keys = self.app.api_keys

                async def still_valid() -> bool:   # a cached answer for 5 s: usually no wait
                    try:
                        await api_keys.authenticate(key)
                    except RequestError:
                        return False
                    return True

                record = api_keys.cached_record(key)   # read when the start was authenticated
                if record is not None:
                    expires_at = record.expires_at if expires_at is None else min(expires_at, record.expires_at)
        return still_valid, expires_at

    def _expire(self, sub: Subscription) -> None:
        sub.expiry_timer = None
        sub.conn.end_subscription(sub, _error("UnauthorizedException", "Token has expired."))

    def register(self, sub: Subscription) -> None:
        for f in sub.fields:
            self.by_field.setdefault(f, {})[sub] = None

    def unregister(self, sub: Subscription) -> None:
        for f in sub.fields:
            subs = self.by_field.get(f)
            if subs is not None:
                subs.pop(sub, None)
                if not subs:
                    del self.by_field[f]

    # -- events ---------------------------------------------------------------------------------
    def publish(self, event: MutationEvent) -> None:
        """The engine's publisher: called after a mutation succeeded, with the stored record (a custom
        mutation's result) and what the mutation selected. Each subscriber's payload is rendered later,
        for that subscriber and off the mutation's path. Never raises."""
        broker = self.broker
        self.events_published += 1
        field = event.field
        try:
            if broker is None or broker.local:
                if field in self.by_field:  # else nobody listens in this process, and no other process exists
                    self._queue(Event(field, event.model, event.record, event.selection))
                return
            broker.publish(orjson.dumps({"f": field, "m": event.model, "r": event.record, "s": event.selection},
                                        default=str))
        except Exception:
            log.exception("publishing the event of %s failed", field)

    def _deliver(self, message: bytes) -> None:
        try:
            raw = orjson.loads(message)
            event = Event(raw["f"], raw.get("m"), raw.get("r"), raw.get("s"))
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("ignoring a malformed event on the broker channel")
            return
        self._queue(event)

    def _queue(self, event: Event) -> None:
        """Fan-out runs in its own task, one event after the other (so each subscription gets its events
        in order), yielding to the event loop every FANOUT_SLICE seconds: a mutation's response never
        waits for its subscribers."""
        self._events.append(event)
        if self._fanout is None or self._fanout.done():
            self._fanout = asyncio.get_running_loop().create_task(self._fan_out(), name="cove-realtime-fanout")

    async def _fan_out(self) -> None:
        events = self._events
        while events:
            event = events.popleft()
            try:
                await self.dispatch(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("fanning out the event of %s failed", event.field)

    async def dispatch(self, event: Event) -> None:
        subs = self.by_field.get(event.field)
        if not subs:
            return
        engine = self.app.engine
        rendered: dict[Any, bytes] = {}
        valid: dict[Any, bool] = {}
        slice_end = time.perf_counter() + FANOUT_SLICE
        for sub in list(subs):
            if time.perf_counter() > slice_end:
                await asyncio.sleep(0)
                slice_end = time.perf_counter() + FANOUT_SLICE
                if sub not in subs:
                    continue  # stopped while we yielded
            try:
                payload = await self._payload(engine, event, sub, rendered, valid)
                if payload is not None:
                    sub.conn.enqueue(sub.frame_head + payload + b"}")
            except Exception:
                log.exception("delivering an event to subscription %s failed", sub.id)

    async def _payload(self, engine: Engine, event: Event, sub: Subscription, rendered: dict[Any, bytes],
                 valid: dict[Any, bool]) -> bytes | None:
        """This subscriber's ``payload`` for `event` (None: not for them). Subscribers with the same
        selection and equal rights share one rendering."""
        check = sub.still_valid
        if check is not None:
            key = sub.validity_key
            ok = valid.get(key) if key is not None else None
            if ok is None:
                ok = await check()
                if key is not None:
                    valid[key] = ok
            if not ok:
                sub.conn.end_subscription(sub, _error("UnauthorizedException",
                                                      "The subscription's credentials are no longer valid"))
                return None
        record = event.record
        if sub.predicates and not all(p(record) for p in sub.predicates):
            return None
        if sub.reader is not None and not sub.reader(record):
            return None
        plan = sub.plan
        if plan is not None and event.mask is not None:
            plan = self._plans.get(plan, event.mask, event.mask_key)
        cache_key = (id(plan), sub.key, sub.viewer)
        payload = rendered.get(cache_key)
        if payload is None:
            body = await engine.render_event(plan, sub.key, record, sub.variables, sub.identity)
            payload = rendered[cache_key] = orjson.dumps(body)
        return payload


def _owner_predicate(name: str, value: Any) -> Predicate:
    """AppSync's ``owner`` argument: the record's owner field holds ``value`` (a stored owner may be
    ``sub::username``; either part matches; list owner fields match on any element)."""
    wanted = str(value)

    def one(v: Any) -> bool:
        return isinstance(v, str) and (v == wanted or wanted in v.split("::"))

    def test(record: Any) -> bool:
        v = record.get(name) if isinstance(record, dict) else None
        if isinstance(v, list):
            return any(one(x) for x in v)
        return one(v)

    return test


def _equals_predicate(name: str, value: Any) -> Predicate:
    return lambda tree: isinstance(tree, dict) and tree.get(name) == value
