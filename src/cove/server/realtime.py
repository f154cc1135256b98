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
mutation that does not select a field still matches a filter on it), its ``owner`` argument, and
its authorization (``authorizer.can_read(model, record, identity)`` when the authorizer has it, else
the row filter or verdict of ``check_operation(model, "listen", identity)``). A subscription whose
credentials expire (a JWT's ``exp``, an API key's expiry or revocation) gets an ``error`` and ends.
The payload is AppSync's: the mutation's result restricted to what the mutation selected; fields the
subscriber selects that the mutation did not are null.

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
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson
from graphql import OperationType
from graphql.execution.values import VariableValues, get_variable_values

from cove.broker import Broker, BrokerError, open_broker
from cove.filters import FilterError, compile_filter
from cove.schema.model import Model
from cove.schema.naming import mutation_field, subscription_field

from .coercion import compile_variables
from .errors import RequestError, from_graphql_error
from .execution import HAS_MANY, ITEMS, NEXT_TOKEN, OBJECT, RELATED, SCALAR, TYPENAME, Context, Engine, Plan
from .limits import parse_settings

if TYPE_CHECKING:  # pragma: no cover
    from .app import CoveApp
    from .identity import Identity

log = logging.getLogger("cove.realtime")

__all__ = ["Realtime", "RealtimeLimits", "RealtimeSettings"]

SUBPROTOCOL = "graphql-ws"
KA = b'{"type":"ka"}'
_CLOSE = object()  # queue sentinel: close the socket after what is queued before it


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
# Payloads: the mutation's result (by field name) projected onto each subscriber's selection


class _Null(Exception):
    def __init__(self, message: str, path: list[Any]) -> None:
        self.message = message
        self.path = path


def unalias(value: dict[str, Any], plan: Plan) -> dict[str, Any]:
    """The mutation's rendered result keyed by field names instead of response keys (aliases)."""
    out: dict[str, Any] = {}
    for e in plan.entries:
        if e.kind == TYPENAME or e.key not in value:
            continue
        v = value[e.key]
        if v is not None and e.sub is not None:
            if e.kind in (OBJECT, RELATED):
                v = [unalias(x, e.sub) if isinstance(x, dict) else x for x in v] if isinstance(v, list) \
                    else unalias(v, e.sub) if isinstance(v, dict) else v
            elif e.kind == HAS_MANY and isinstance(v, dict):
                v = _unalias_connection(v, e.sub)
        name = "items" if e.kind == ITEMS else "nextToken" if e.kind == NEXT_TOKEN else e.name
        previous = out.get(name)
        if isinstance(previous, dict) and isinstance(v, dict):
            _merge(previous, v)
        else:
            out[name] = v
    return out


def _unalias_connection(value: dict[str, Any], plan: Plan) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for e in plan.entries:
        if e.key not in value:
            continue
        if e.kind == ITEMS and e.sub is not None and isinstance(value[e.key], list):
            out["items"] = [unalias(x, e.sub) if isinstance(x, dict) else x for x in value[e.key]]
        elif e.kind == NEXT_TOKEN:
            out["nextToken"] = value[e.key]
    return out


def _merge(target: dict[str, Any], source: dict[str, Any]) -> None:
    for k, v in source.items():
        if isinstance(target.get(k), dict) and isinstance(v, dict):
            _merge(target[k], v)
        else:
            target[k] = v


def project(tree: Any, plan: Plan, path: list[Any]) -> dict[str, Any]:
    """Render ``tree`` (field name -> value) with a subscriber's selection ``plan``."""
    out: dict[str, Any] = {}
    for e in plan.entries:
        kind = e.kind
        if kind == TYPENAME:
            out[e.key] = plan.type_name
            continue
        v = tree.get(e.name) if isinstance(tree, dict) else None
        if v is not None and e.sub is not None:
            if kind in (OBJECT, RELATED):
                if isinstance(v, list):
                    v = [project(x, e.sub, [*path, e.key, i]) if x is not None else None for i, x in enumerate(v)]
                else:
                    v = project(v, e.sub, [*path, e.key])
            elif kind == HAS_MANY:
                v = _project_connection(v, e.sub, [*path, e.key])
        if v is None and e.nonnull:
            raise _Null(f"Cannot return null for non-nullable type: '{e.type_label.rstrip('!')}' within parent "
                        f"'{plan.type_name}' (/{'/'.join(str(p) for p in [*path, e.key])})", [*path, e.key])
        out[e.key] = v
    return out


def _project_connection(tree: Any, plan: Plan, path: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for e in plan.entries:
        if e.kind == ITEMS and e.sub is not None:
            items = tree.get("items") if isinstance(tree, dict) else None
            out[e.key] = None if items is None else [
                project(x, e.sub, [*path, e.key, i]) if x is not None else None for i, x in enumerate(items)]
        elif e.kind == NEXT_TOKEN:
            out[e.key] = tree.get("nextToken") if isinstance(tree, dict) else None
        elif e.kind == TYPENAME:
            out[e.key] = plan.type_name
    return out


def render_payload(tree: Any, key: str, plan: Plan | None, denied: frozenset[str] = frozenset()) -> bytes:
    """The ``payload`` of a ``data`` message, as JSON (UTF-8). ``denied``: fields of the root object this
    subscriber may not read (field-level rules, a Lambda authorizer's deniedFields): null, with an
    ``Unauthorized`` error each, as over HTTP."""
    if plan is None:
        return orjson.dumps({"data": {key: tree}})
    if tree is None:
        return orjson.dumps({"data": {key: None}})
    errors: list[dict[str, Any]] = []
    if denied and isinstance(tree, dict):
        tree = {k: (None if k in denied else v) for k, v in tree.items()}
        for e in plan.entries:
            if e.name in denied:
                errors.append({"path": [key, e.key], "data": None, "errorType": "Unauthorized", "errorInfo": None,
                               "locations": None, "message": f"Not Authorized to access {e.name} on type "
                                                             f"{plan.type_name}"})
    try:
        body: dict[str, Any] = {"data": {key: project(tree, plan, [key])}}
    except _Null as exc:
        body = {"data": {key: None}}
        errors.append({"path": exc.path, "data": None, "errorType": None, "errorInfo": None, "locations": None,
                       "message": exc.message})
    if errors:
        body["errors"] = errors
    return orjson.dumps(body)


# ------------------------------------------------------------------------------------------------
# Subscriptions


class Event:
    """One mutation's event: the mutation field, the model, the stored record, the result tree."""

    __slots__ = ("field", "model", "record", "tree")

    def __init__(self, field: str, model: str | None, record: Any, tree: Any) -> None:
        self.field = field
        self.model = model
        self.record = record
        self.tree = tree


Predicate = Callable[[Any], bool]


class Subscription:
    __slots__ = ("id", "frame_head", "conn", "fields", "key", "plan", "render_key", "predicates", "reader",
                 "guard", "still_valid", "validity_key", "expiry_timer")

    def __init__(self, sub_id: str, conn: Connection, fields: tuple[str, ...], key: str, plan: Plan | None,
                 predicates: list[Predicate], reader: Predicate | None,
                 still_valid: Callable[[], bool] | None) -> None:
        self.id = sub_id
        self.frame_head = b'{"id":' + orjson.dumps(sub_id) + b',"type":"data","payload":'
        self.conn = conn
        self.fields = fields          # mutation fields this subscription listens to
        self.key = key                # response key of the root field (its alias, if any)
        self.plan = plan
        self.render_key = (id(plan), key)
        self.predicates = predicates  # the filter, the owner argument, custom-subscription arguments
        self.reader = reader          # per-record authorization
        self.guard: Callable[[Any], frozenset[str]] | None = None   # per-record field denials
        self.still_valid = still_valid
        self.validity_key: Any = None  # subscriptions with the same key share one check per event
        self.expiry_timer: asyncio.TimerHandle | None = None


# ------------------------------------------------------------------------------------------------
# Connections


def _decode_header(text: str) -> dict[str, str]:
    """base64 (url-safe or standard, padded or not) JSON object -> {lower-case name: value}."""
    text = text.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        value = orjson.loads(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise RequestError(400, "BadRequestException",
                           "The connection's auth header is not base64-encoded JSON") from None
    if not isinstance(value, dict):
        raise RequestError(400, "BadRequestException", "The connection's auth header must be a JSON object")
    return {str(k).lower(): v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in value.items()}


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
        self.open_sockets = 0                        # counted by Connection against RealtimeLimits
        self.sockets_by_address: dict[str, int] = {}
        self.by_field: dict[str, dict[Subscription, None]] = {}
        self._started = False
        self._start_lock: asyncio.Lock | None = None
        self._ka_task: asyncio.Task[None] | None = None
        self._tables: tuple[Engine, dict[str, tuple[Model | None, tuple[str, ...], Any]]] | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def channel(self) -> str:
        """The broker channel: derived from the store's secret, so processes sharing the data share it."""
        digest = hashlib.sha256(b"cove-events:" + self.app.store.secret()).hexdigest()[:24]
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
        prepared = await engine.prepare_async(request["query"])
        if prepared.errors is not None:
            raise StartError([{**e, "errorType": e.get("errorType") or "ValidationError"} for e in prepared.errors])
        op = prepared.operations.get(operation_name)
        if op is None and operation_name is None and len(prepared.operations) == 1:
            op = next(iter(prepared.operations.values()))
        if op is None:
            raise StartError([_error("BadRequestException", "Must provide operation name if query contains "
                                     "multiple operations." if operation_name is None else
                                     f"Unknown operation named '{operation_name}'.")])
        if op.operation != OperationType.SUBSCRIPTION:
            raise StartError([_error("UnsupportedOperation", "Only subscriptions are served over the real-time "
                                     "endpoint; send queries and mutations with POST to the GraphQL URL")])
        coerce = prepared.coercers.get(operation_name)
        if coerce is None:
            coerce = prepared.coercers[operation_name] = compile_variables(engine.graphql_schema,
                                                                           op.variable_definitions or ())
        fast = coerce(variables or {})
        if fast is not None:
            coerced: Any = VariableValues({}, fast)
        else:
            coerced = get_variable_values(engine.graphql_schema, op.variable_definitions or (), variables or {},
                                          max_errors=20)
            if isinstance(coerced, list):
                raise StartError([{**from_graphql_error(e, "Validation error: "), "errorType": "ValidationError"}
                                  for e in coerced])
        plan = prepared.plans.get(operation_name) if not prepared.variable_directives else None
        if plan is None:
            plan = engine._plan_operation(prepared, op, coerced)
            if not prepared.variable_directives:
                prepared.plans[operation_name] = plan
        if len(plan.root_fields) != 1 or plan.introspection is not None:
            raise StartError([_error("ValidationError", "A subscription selects exactly one root field")])
        rf = plan.root_fields[0]
        entry = self._subscription_table(engine).get(rf.name)
        if entry is None:
            raise StartError([_error("UnsupportedOperation", f"{rf.name} is not a subscription Cove serves")])
        model, follows, custom = entry
        ctx = Context(engine, identity, coerced)
        try:
            args = engine._args(rf, ctx)
        except Exception as exc:
            raise StartError([_error("BadRequestException", str(exc))]) from None

        # Authorization: the operation now, each record per event.
        unauthorized = StartError([_error("Unauthorized", f"Not Authorized to access {rf.name} on type "
                                                          "Subscription")])
        reader = self._reader(engine, model, custom, identity, unauthorized)

        # Filters.
        predicates: list[Predicate] = []
        if custom is None:
            assert model is not None
            list_fields = frozenset(f.name for f in model.fields.values() if f.is_array)
            flt = args.get("filter")
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
        sub = Subscription(sub_id, conn, follows, rf.key, rf.plan, predicates, reader, still_valid)
        if still_valid is not None and identity.mode == "apiKey":
            sub.validity_key = ("apiKey", headers.get("x-api-key"))
        if model is not None and rf.plan is not None:
            sub.guard = self._field_guard(engine, model, rf.plan, identity)
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

    @staticmethod
    def _field_guard(engine: Engine, model: Model, plan: Plan, identity: Identity
                     ) -> Callable[[Any], frozenset[str]] | None:
        """Fields of ``plan`` this subscriber may not read in a given record, or None if none ever."""
        authorizer = engine.authorizer
        selected = [e.name for e in plan.entries if e.kind in (SCALAR, OBJECT) and e.name in model.fields]
        has_rules = getattr(authorizer, "has_field_rules", None)
        field_rules = bool(has_rules and has_rules(model)) and hasattr(authorizer, "field_denials")
        lambda_denied = frozenset(n for n in selected if f"{model.name}.{n}" in identity.denied_fields)
        if not field_rules and not lambda_denied:
            return None

        def guard(record: Any) -> frozenset[str]:
            if not field_rules:
                return lambda_denied
            denied = authorizer.field_denials(model, "read", selected, record, identity)
            return lambda_denied.union(denied) if denied else lambda_denied

        return guard

    def _validity(self, identity: Identity, headers: dict[str, str]) -> tuple[Callable[[], bool] | None, float | None]:
        """(a cheap per-event check that the credentials still hold, when they expire)."""
        exp = identity.claims.get("exp") if identity.claims else None
        expires_at = float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None
        still_valid: Callable[[], bool] | None = None
        if identity.mode == "apiKey":
            key = headers.get("x-api-key")
            if key:
                api_keys = self.app.api_keys

                def still_valid() -> bool:
                    try:
                        api_keys.authenticate(key)
                    except RequestError:
                        return False
                    return True

                record = self.app.store.find_api_key(key)
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
    def publish(self, field: str, model: Model | None, record: Any, value: Any, plan: Plan | None) -> None:
        """The engine's mutation hook: called after a mutation succeeded, with the stored record,
        the rendered result and the selection plan it was rendered with. Never raises."""
        broker = self.broker
        try:
            if broker is None or broker.local:
                if field not in self.by_field:
                    return  # nobody listens in this process, and no other process exists
                tree = _tree(value, plan)
                event = Event(field, model.name if model is not None else None, record, tree)
                asyncio.get_running_loop().call_soon(self.dispatch, event)
                return
            tree = _tree(value, plan)
            message = orjson.dumps({"f": field, "m": model.name if model is not None else None, "r": record,
                                    "t": tree}, default=str)
            broker.publish(message)
        except Exception:
            log.exception("publishing the event of %s failed", field)

    def _deliver(self, message: bytes) -> None:
        try:
            raw = orjson.loads(message)
            event = Event(raw["f"], raw.get("m"), raw.get("r"), raw.get("t"))
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("ignoring a malformed event on the broker channel")
            return
        self.dispatch(event)

    def dispatch(self, event: Event) -> None:
        subs = self.by_field.get(event.field)
        if not subs:
            return
        record = event.record if event.record is not None else event.tree
        rendered: dict[Any, bytes] = {}
        valid: dict[Any, bool] = {}
        for sub in list(subs):
            try:
                check = sub.still_valid
                if check is not None:
                    key = sub.validity_key
                    ok = valid.get(key) if key is not None else None
                    if ok is None:
                        ok = check()
                        if key is not None:
                            valid[key] = ok
                    if not ok:
                        sub.conn.end_subscription(sub, _error("UnauthorizedException",
                                                              "The subscription's credentials are no longer valid"))
                        continue
                if sub.predicates and not all(p(record) for p in sub.predicates):
                    continue
                if sub.reader is not None and not sub.reader(record):
                    continue
                if sub.guard is None:
                    payload = rendered.get(sub.render_key)
                    if payload is None:
                        payload = rendered[sub.render_key] = render_payload(event.tree, sub.key, sub.plan)
                else:
                    denied = sub.guard(record)
                    cache_key = (sub.render_key, denied)
                    payload = rendered.get(cache_key)
                    if payload is None:
                        payload = rendered[cache_key] = render_payload(event.tree, sub.key, sub.plan, denied)
                sub.conn.enqueue(sub.frame_head + payload + b"}")
            except Exception:
                log.exception("delivering an event to subscription %s failed", sub.id)


def _tree(value: Any, plan: Plan | None) -> Any:
    if plan is None:
        return value
    if isinstance(value, dict):
        return unalias(value, plan)
    if isinstance(value, list):
        return [unalias(v, plan) if isinstance(v, dict) else v for v in value]
    return value


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
