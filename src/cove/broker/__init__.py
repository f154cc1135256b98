"""Event brokers: how a mutation made in one server process reaches subscribers in every process.

A broker carries opaque messages (bytes, a JSON document per mutation event) on one channel. Every
server process publishes the events of its own mutations and receives every event published on the
channel, its own included, and hands each to its real-time hub, which filters it per subscriber.

- :class:`LocalBroker` (the default): in-process only; one server process.
- :class:`~cove.broker.redis.RedisBroker`: Redis pub/sub (``--broker-url redis://host:6379/0``).
- :class:`~cove.broker.postgres.PostgresBroker`: PostgreSQL ``LISTEN``/``NOTIFY``
  (``--broker-url postgresql://user@host/db``); it carries events only, whichever store holds the data.

Publishing never blocks and never raises: the mutation has already been committed, and a slow or
broken broker must not slow down or fail it. A broker that loses its connection reconnects by
itself; events published while it is down are logged and dropped (subscribers that must not miss a
change re-list on reconnect, as ``observe_query`` does).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

__all__ = ["Broker", "BrokerError", "Deliver", "LocalBroker", "open_broker"]

log = logging.getLogger("cove.broker")

#: Called with every message received on the channel (on the event loop thread).
Deliver = Callable[[bytes], None]


class BrokerError(Exception):
    """The broker URL is unusable, or the broker cannot be reached at start-up."""


class Broker(Protocol):
    #: True when messages never leave this process (the hub may then skip serialization).
    local: bool
    #: A description for logs and start-up messages (never includes a password).
    description: str

    async def start(self, deliver: Deliver) -> None:
        """Connect and start delivering messages received on the channel to ``deliver``."""

    def publish(self, message: bytes) -> None:
        """Queue ``message`` for every subscriber of the channel; never blocks, never raises."""

    async def close(self) -> None:
        """Stop delivering, flush what can be flushed, disconnect."""


class LocalBroker:
    """In-process delivery: ``publish`` schedules ``deliver`` on the event loop (after the current
    request's response is on its way, so fan-out never delays the mutation)."""

    local = True
    description = "in-process"

    def __init__(self) -> None:
        self._deliver: Deliver | None = None

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver

    def publish(self, message: bytes) -> None:
        if self._deliver is not None:
            asyncio.get_running_loop().call_soon(self._deliver, message)

    async def close(self) -> None:
        self._deliver = None


def redact(url: str) -> str:
    """``url`` without its password."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def open_broker(url: str | None, channel: str) -> Broker:
    """The broker for ``--broker-url`` (None: in-process). ``channel`` names the API's event stream;
    processes serving the same data must use the same channel."""
    if not url:
        return LocalBroker()
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("redis", "rediss", "unix"):
        from .redis import RedisBroker

        return RedisBroker(url, channel)
    if scheme in ("postgres", "postgresql"):
        from .postgres import PostgresBroker

        return PostgresBroker(url, channel)
    raise BrokerError(f"unsupported --broker-url {redact(url)!r}: use redis://..., rediss://... or "
                      "postgresql://...")
