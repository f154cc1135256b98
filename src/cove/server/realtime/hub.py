"""The real-time hub of one server process: its connections, its subscriptions, and event fan-out.

Every mutation's event reaches the hub through :meth:`Realtime.publish` (the engine's publisher) and
the :mod:`broker <cove.broker>` (in-process by default; Redis or PostgreSQL when several processes
serve the same data), then each subscriber that may see it gets its own payload: AppSync's, the
subscriber's selection restricted to what the mutation selected (fields the mutation did not select
are null), rendered from the stored record by the engine with the subscriber's own rights at every
depth (``Engine.render_event``), so no subscriber receives a value its own query could not read.
Subscribers with the same selection and equal rights share one rendering. Fan-out runs in its own
task, event after event, yielding to the event loop every few milliseconds, so a mutation's response
never waits for its subscribers. A subscription whose credentials expire (a JWT's ``exp``, an API
key's expiry or revocation) gets an ``error`` and ends.

The hub is built with what it uses (the engine and authenticator of the moment, the GraphQL path, the
channel secret, the broker URL, the limits) and never sees the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from cove.broker import Broker, BrokerError, open_broker

from ..errors import RequestError
from ..events import Mask, MutationEvent
from ..engine import RestrictedPlans
from .connection import Connection
from .protocol import appsync_error
from .settings import RealtimeLimits
from .subscriptions import StartError, Subscription, SubscriptionTargets, plan_subscription, read_start

if TYPE_CHECKING:  # pragma: no cover
    from cove.store.postgres.listeners import EventListeners

    from ..authn import Authenticator
    from ..engine import Engine
    from ..identity import Identity

log = logging.getLogger("cove.realtime")

__all__ = ["Realtime"]

FANOUT_SLICE = 0.0005  # seconds of fan-out work between yields to the event loop


class Event:
    """One mutation's event as fan-out uses it: a :class:`MutationEvent`'s fields, and its selection
    serialised once (a key of the restricted-plan cache)."""

    __slots__ = ("field", "model", "record", "mask", "mask_key")

    def __init__(self, field: str, model: str | None, record: Any, mask: Mask | None) -> None:
        self.field = field
        self.model = model
        self.record = record
        self.mask = mask
        self.mask_key = orjson.dumps(mask, option=orjson.OPT_SORT_KEYS)


class Realtime:
    """Connections, subscriptions and event fan-out for one server process.

    `engine` and `authenticator` return the current ones (a sandbox replaces both when its schema
    is reloaded); `channel_secret` names the broker channel, so processes sharing data share it."""

    def __init__(self, *, engine: Callable[[], Engine], authenticator: Callable[[], Authenticator],
                 graphql_path: str, channel_secret: bytes, limits: RealtimeLimits | None = None,
                 broker_url: str | None = None, listeners: EventListeners | None = None) -> None:
        self.engine = engine
        self.authenticator = authenticator
        self.graphql_path = graphql_path
        self.channel_secret = channel_secret
        self.limits = limits or RealtimeLimits()
        self.broker_url = broker_url
        self.listeners = listeners   # the store's record of who listens, when the broker is its database
        self.broker: Broker | None = None
        self.connections: set[Connection] = set()
        self.events_published = 0   # mutations' events handed to the broker or dispatched (for metrics)
        self.events_dropped = 0     # events thrown away with a connection that fell behind
        self.events_unsent = 0      # events not sent: no process listened to their field
        self.open_sockets = 0                        # counted against RealtimeLimits
        self.sockets_by_address: dict[str, int] = {}
        self.by_field: dict[str, dict[Subscription, None]] = {}
        self._started = False
        self._start_lock: asyncio.Lock | None = None
        self._ka_task: asyncio.Task[None] | None = None
        self._targets = SubscriptionTargets()
        self._events: deque[Event] = deque()
        self._fanout: asyncio.Task[None] | None = None
        self._plans = RestrictedPlans()

    # -- lifecycle ------------------------------------------------------------------------------
    def channel(self) -> str:
        """The broker channel: derived from the store's secret, so processes sharing the data share it."""
        digest = hashlib.sha256(b"cove-events:" + self.channel_secret).hexdigest()[:24]
        return f"cove_events_{digest}"

    async def start(self) -> None:
        if self._started:
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._started:
                return
            broker = open_broker(self.broker_url, self.channel() if self.broker_url else "local", self.listeners)
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
        """Serve one WebSocket at ``<graphql path>/realtime`` until it closes."""
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
                conn.keepalive()

    def subscription_count(self) -> int:
        return sum(len(conn.protocol.subscriptions) for conn in self.connections)

    # -- what connections ask of the hub (connection.Hub) ---------------------------------------
    def admit(self, address: str) -> str | None:
        """Count a new socket against the per-address and total limits; the reason if it is over."""
        limits = self.limits
        if self.open_sockets >= limits.max_connections:
            return f"The server has reached its limit of {limits.max_connections} real-time connections"
        if self.sockets_by_address.get(address, 0) >= limits.max_connections_per_address:
            return (f"Too many real-time connections from this address (the limit is "
                    f"{limits.max_connections_per_address})")
        self.open_sockets += 1
        self.sockets_by_address[address] = self.sockets_by_address.get(address, 0) + 1
        return None

    def release(self, address: str) -> None:
        self.open_sockets -= 1
        left = self.sockets_by_address.get(address, 1) - 1
        if left > 0:
            self.sockets_by_address[address] = left
        else:
            self.sockets_by_address.pop(address, None)

    def opened(self, conn: Connection) -> None:
        self.connections.add(conn)

    def closed(self, conn: Connection) -> None:
        self.connections.discard(conn)

    def dropped_events(self, count: int) -> None:
        self.events_dropped += count

    async def authenticate_connection(self, headers: dict[str, str]) -> Identity:
        """The connection's own identity (for IAM the signature covers ``POST <graphql path>/connect``
        with body ``{}``); raises RequestError."""
        return await self.authenticator().authenticate(headers, body=b"{}", path=self.graphql_path + "/connect")

    async def subscribe(self, conn: Connection, sub_id: str, payload: Any) -> Subscription:
        """A start message's subscription (raise StartError): authenticated with the start's own
        headers, else the connection's identity; planned by the engine."""
        start = read_start(payload)
        authenticator = self.authenticator()
        if start.auth_headers is not None:
            headers = start.auth_headers
            try:
                identity = await authenticator.authenticate(headers, body=start.body, path=self.graphql_path)
            except RequestError as exc:
                raise StartError([appsync_error(exc.error_type, exc.message)]) from None
        else:
            headers = conn.headers
            if conn.identity is None:
                raise StartError([appsync_error("UnauthorizedException", "The connection is not authorized")])
            identity = conn.identity
        planned = await plan_subscription(self.engine(), self._targets, start.request, identity)
        expires_at = await authenticator.expiry(identity, headers)
        sub = Subscription(sub_id, conn, planned, identity, authenticator.revocable_credential(identity, headers))
        if expires_at is not None:
            delay = expires_at - time.time()
            if delay <= 0:
                raise StartError([appsync_error("UnauthorizedException", "Token has expired.")])
            sub.expiry_timer = conn.loop.call_later(delay, self._expire, sub)
        return sub

    def _expire(self, sub: Subscription) -> None:
        sub.expiry_timer = None
        sub.conn.end_subscription(sub, appsync_error("UnauthorizedException", "Token has expired."))

    async def listen(self, sub: Subscription) -> None:
        """Before a subscription's start_ack: the broker brings this process the events of its fields
        (a broker with a channel per topic only carries a field's events to the processes that
        listen to it)."""
        broker = self.broker
        if broker is None or broker.local:
            return
        for f in sub.fields:
            if f not in self.by_field:
                await broker.listen(f)

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
        """The engine's publisher: called after a mutation succeeded. Each subscriber's payload is
        rendered later, for that subscriber and off the mutation's path. Never raises."""
        broker = self.broker
        self.events_published += 1
        try:
            if broker is None or broker.local:
                if event.field in self.by_field:  # else nobody listens in this process, and no other process exists
                    self._queue(Event(event.field, event.model, event.record, event.selection))
                return
            if event.model is not None and broker.unheard(event.field):
                # A model's event: its write told the store who listened (see the broker); nobody did.
                self.events_unsent += 1
                return
            broker.publish(orjson.dumps({"f": event.field, "m": event.model, "r": event.record,
                                         "s": event.selection}, default=str), event.field)
        except Exception:
            log.exception("publishing the event of %s failed", event.field)

    def _deliver(self, message: bytes) -> None:
        # Every process receives every event: read only the field name (the message's first key, a
        # GraphQL name without quotes) when no subscriber of this process listens to it.
        if message.startswith(b'{"f":"'):
            end = message.find(b'"', 6)
            if end > 0 and message[6:end].decode("ascii", "replace") not in self.by_field:
                return
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
        """Send `event` to each subscriber that may see it. Subscribers with the same selection and equal
        rights share one rendering; subscriptions made with the same revocable credential share one
        check of it."""
        subs = self.by_field.get(event.field)
        if not subs:
            return
        engine = self.engine()
        record, mask, plans = event.record, event.mask, self._plans
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
                credential = sub.credential
                if credential is not None:
                    ok = valid.get(credential)
                    if ok is None:   # the one check per event and credential
                        ok = valid[credential] = await self.authenticator().still_valid(credential)
                    if not ok:
                        sub.conn.end_subscription(sub, appsync_error(
                            "UnauthorizedException", "The subscription's credentials are no longer valid"))
                        continue
                if sub.predicates and not all(p(record) for p in sub.predicates):
                    continue
                if sub.reader is not None and not sub.reader(record):
                    continue
                plan = sub.plan
                # Within one event (one mask), a subscriber plan restricts to one plan: key by it.
                cache_key = (id(plan), sub.key, sub.viewer)
                payload = rendered.get(cache_key)
                if payload is None:
                    if plan is not None and mask is not None:
                        plan = plans.get(plan, mask, event.mask_key)
                    body = await engine.render_event(plan, sub.key, record, sub.variables, sub.identity)
                    payload = rendered[cache_key] = orjson.dumps(body)
                sub.conn.enqueue(sub.frame_head + payload + b"}")
            except Exception:
                log.exception("delivering an event to subscription %s failed", sub.id)
