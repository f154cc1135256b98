"""PostgreSQL ``LISTEN``/``NOTIFY`` broker (``--broker-url postgresql://user@host/db``; needs asyncpg).

It carries events only; the data may live anywhere. Each topic (a mutation field) has a channel of
its own, and a process LISTENs to a topic's channel once one of its subscriptions needs it (before
that subscription's start_ack) and from then on: a process without subscribers to a field is not
woken for its events, which would otherwise cost every process a notification per mutation made
anywhere. A ``NOTIFY`` payload is limited to 8,000 bytes, so a larger event is sent as numbered
chunks (``~<message id>:<index>:<count>:<text>``) that the receivers reassemble; notifications from
one session arrive in order.

On the data's own database (no ``--broker-url``), each LISTEN is also registered in the data's schema
(``cove.store.postgres.listeners``), and the event of a mutation no process listens to is not sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
from typing import TYPE_CHECKING, Any

from .base import BrokerError, Deliver, redact

if TYPE_CHECKING:
    from cove.store.postgres.listeners import EventListeners

log = logging.getLogger("cove.broker")

_MAX_PENDING = 100_000
_MAX_BATCH = 200            # events per NOTIFY statement
_MAX_NOTIFY = 7_800          # bytes per NOTIFY payload, under PostgreSQL's 8,000
_CHUNK_CHARS_NON_ASCII = 1_900   # a character is at most 4 UTF-8 bytes
_SWEEP_SECONDS = 60          # how often rows of listening sessions that ended are looked for


class PostgresBroker:
    local = False

    def __init__(self, url: str, channel: str, listeners: EventListeners | None = None) -> None:
        self.url = url
        self._listeners = listeners     # None: every event is sent (the data is elsewhere)
        self._read_wanted = asyncio.Event()   # a write saw a newer listener generation
        self.channel = channel
        self.description = f"PostgreSQL LISTEN/NOTIFY {redact(url)} channel {channel}"
        self._listen_conn: Any = None
        self._notify_conn: Any = None
        self._pending: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._topics: dict[str, str] = {}       # topic -> its channel, for each topic listened to
        self._channels: dict[str, str] = {}     # topic -> its channel, as computed (few: one per mutation field)
        # One operation at a time on the listening session (asyncpg refuses a second one): LISTEN,
        # the watcher's health check and its reconnect take turns.
        self._listen_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._deliver: Deliver | None = None
        self._partial: dict[str, tuple[float, list[str | None]]] = {}
        self._dropped = 0
        self._closing = False

    @property
    def connected(self) -> bool:
        """The listening session is open (``/ready`` reports it; a dead one is noticed within a second)."""
        return self._listen_conn is not None and not self._listen_conn.is_closed()

    @property
    def dropped(self) -> int:
        """Events dropped because PostgreSQL did not keep up (the metrics report it)."""
        return self._dropped

    async def start(self, deliver: Deliver) -> None:
        try:
            import asyncpg  # type: ignore[import-untyped]  # noqa: F401
        except ImportError:
            raise BrokerError("--broker-url postgresql://... needs the asyncpg package: "
                              "install Cove's postgres extra the way you installed Cove, e.g. "
                              "pip install 'cove[postgres]' (from a checkout: pip install -e '.[postgres]')") from None
        self._deliver = deliver
        try:
            await self._connect_listener()
            self._notify_conn = await self._connect()
        except Exception as exc:
            await self.close()
            raise BrokerError(f"cannot reach the broker at {redact(self.url)}: {exc}") from None
        self._tasks = [asyncio.create_task(self._publish_loop(), name="cove-pg-publish"),
                       asyncio.create_task(self._watch_listener(), name="cove-pg-listen")]
        if self._listeners is not None:
            self._read_wanted.set()   # the first read, and the first sweep, right away
            self._tasks.append(asyncio.create_task(self._read_listeners(), name="cove-pg-listeners"))

    async def _connect(self) -> Any:
        import asyncpg

        # A NOTIFY commits a transaction; events are not data (a lost one is like a dropped socket), so
        # its commit need not wait for the WAL's flush to disk: one fsync less per published batch.
        return await asyncio.wait_for(asyncpg.connect(self.url, server_settings={"synchronous_commit": "off"}), 10)

    async def _connect_listener(self) -> None:
        conn = await self._connect()
        channels = list(self._topics.values())
        for channel in channels:
            await conn.add_listener(channel, self._on_notify)
        if channels and self._listeners is not None:   # a new session: its pid is new
            await self._listeners.register(conn, channels)
        self._listen_conn = conn

    def channel_of(self, topic: str) -> str:
        """``topic``'s channel: readable, and within PostgreSQL's 63-byte identifiers (which the
        server would otherwise cut, or refuse in pg_notify)."""
        channel = self._channels.get(topic)
        if channel is None:
            digest = hashlib.sha256(f"{self.channel}\0{topic}".encode()).hexdigest()[:24]
            channel = self._channels[topic] = f"cove_{topic[:32]}_{digest}"
        return channel

    async def listen(self, topic: str) -> None:
        if topic in self._topics:
            return
        async with self._listen_lock:   # a second caller for the topic waits until it is listened to
            if topic in self._topics:
                return
            channel = self.channel_of(topic)
            conn = self._listen_conn
            if conn is not None and not conn.is_closed():
                try:
                    # Bounded like the health check: a stalled database must not hold every start.
                    await asyncio.wait_for(conn.add_listener(channel, self._on_notify), 5)
                    if self._listeners is not None:   # after the LISTEN, before the start_ack
                        await asyncio.wait_for(self._listeners.register(conn, [channel]), 5)
                except Exception as exc:  # noqa: BLE001 - a new session listens to every topic
                    log.warning("listening to the events of %s failed (%s); reconnecting", topic, exc)
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=1)   # the watcher reconnects within a second
            self._topics[topic] = channel   # (without a session, the watcher's reconnect listens to it)

    def unheard(self, topic: str) -> bool:
        listeners = self._listeners
        if listeners is None:
            return False
        if listeners.stale:
            self._read_wanted.set()
        return listeners.unheard(self.channel_of(topic))

    def publish(self, message: bytes, topic: str) -> None:
        if self._pending.qsize() >= _MAX_PENDING:
            self._dropped += 1
            if self._dropped % 1000 == 1:
                log.warning("PostgreSQL broker is not keeping up; dropped %d events", self._dropped)
            return
        self._pending.put_nowait((self.channel_of(topic), message))

    # -- receiving ------------------------------------------------------------------------------
    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload.startswith("~"):
            whole = self._reassemble(payload)
            if whole is None:
                return
            payload = whole
        if self._deliver is not None:
            try:
                self._deliver(payload.encode())
            except Exception:
                log.exception("delivering a broker event failed")

    def _reassemble(self, chunk: str) -> str | None:
        try:
            message_id, index, count, text = chunk[1:].split(":", 3)
            i, n = int(index), int(count)
        except ValueError:
            log.warning("ignoring a malformed chunk on the broker channel")
            return None
        now = time.monotonic()
        entry = self._partial.get(message_id)
        if entry is None:
            if len(self._partial) > 1000:  # drop stale partial messages (a publisher died mid-way)
                for key, (started, _) in list(self._partial.items()):
                    if now - started > 30:
                        del self._partial[key]
            entry = self._partial[message_id] = (now, [None] * n)
        parts = entry[1]
        if not 0 <= i < len(parts):
            return None
        parts[i] = text
        if any(p is None for p in parts):
            return None
        del self._partial[message_id]
        return "".join(p for p in parts if p is not None)

    async def _read_listeners(self) -> None:
        """Read who listens when a write saw a newer generation; sweep rows of ended sessions now and
        then. On the listening session, between its other uses (a failure leaves the set as it was:
        events are then sent, never lost)."""
        swept = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._read_wanted.wait(), _SWEEP_SECONDS)
            self._read_wanted.clear()
            conn = self._listen_conn
            if conn is None or conn.is_closed() or self._listeners is None:
                await asyncio.sleep(0.1)
                continue
            try:
                async with self._listen_lock:
                    if time.monotonic() - swept >= _SWEEP_SECONDS:
                        swept = time.monotonic()
                        await asyncio.wait_for(self._listeners.sweep(conn), 5)
                    await asyncio.wait_for(self._listeners.read(conn), 5)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the watcher reconnects a broken session
                log.warning("reading the event listeners failed (%s)", exc)
                await asyncio.sleep(1.0)

    async def _watch_listener(self) -> None:
        """Reconnect the listening session when it drops (asyncpg only reports it on use)."""
        delay = 0.1
        while True:
            await asyncio.sleep(1.0)
            conn = self._listen_conn
            if conn is not None and not conn.is_closed():
                try:
                    async with self._listen_lock:
                        await asyncio.wait_for(conn.execute("SELECT 1"), 5)
                    delay = 0.1
                    continue
                except asyncio.CancelledError:
                    raise
                except Exception:
                    pass
            log.warning("PostgreSQL broker listener lost; reconnecting")
            with contextlib.suppress(Exception):
                if conn is not None:
                    await conn.close(timeout=1)
            try:
                async with self._listen_lock:
                    await self._connect_listener()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("PostgreSQL broker reconnect failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    # -- sending --------------------------------------------------------------------------------
    @staticmethod
    def chunks(message: bytes) -> list[str]:
        text = message.decode()
        if len(message) <= _MAX_NOTIFY and not text.startswith("~"):
            return [text]
        step = _MAX_NOTIFY - 64 if text.isascii() else _CHUNK_CHARS_NON_ASCII
        pieces = [text[i:i + step] for i in range(0, len(text), step)]
        message_id = os.urandom(8).hex()
        return [f"~{message_id}:{i}:{len(pieces)}:{p}" for i, p in enumerate(pieces)]

    @staticmethod
    def batches(notifications: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
        """Consecutive runs of (channel, payload) without a repeat: PostgreSQL delivers identical
        notifications of one transaction once, and each run is sent by one statement."""
        runs: list[list[tuple[str, str]]] = [[]]
        seen: set[tuple[str, str]] = set()
        for notification in notifications:
            if notification in seen:
                runs.append([])
                seen = set()
            runs[-1].append(notification)
            seen.add(notification)
        return runs

    async def _publish_loop(self) -> None:
        delay = 0.1
        while True:
            # Everything queued meanwhile goes in one statement (one round trip, one commit): under
            # load the events of many mutations share it. Order is kept: unnest yields in array order.
            messages = [await self._pending.get()]
            while not self._pending.empty() and len(messages) < _MAX_BATCH:
                messages.append(self._pending.get_nowait())
            notifications = [(channel, chunk) for channel, message in messages for chunk in self.chunks(message)]
            for attempt in range(2):
                try:
                    if self._notify_conn is None or self._notify_conn.is_closed():
                        self._notify_conn = await self._connect()
                    for batch in self.batches(notifications):
                        await self._notify_conn.execute(
                            "SELECT pg_notify(channel, payload) FROM unnest($1::text[], $2::text[]) AS t(channel, payload)",
                            [c for c, _ in batch], [p for _, p in batch])
                    delay = 0.1
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    with contextlib.suppress(Exception):
                        if self._notify_conn is not None:
                            await self._notify_conn.close(timeout=1)
                    self._notify_conn = None
                    if attempt:
                        log.warning("publishing an event to PostgreSQL failed (%s); it is dropped", exc)
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, 5.0)

    async def close(self) -> None:
        self._closing = True
        for _ in range(50):
            if self._pending.empty():
                break
            await asyncio.sleep(0.01)
        conn = self._listen_conn
        if self._listeners is not None and conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):   # others need not send this process events any more
                async with self._listen_lock:
                    await asyncio.wait_for(self._listeners.forget_own(conn), 2)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks = []
        for conn in (self._listen_conn, self._notify_conn):
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)
        self._listen_conn = self._notify_conn = None
