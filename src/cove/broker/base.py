"""What every broker shares: the Broker protocol, its error, the in-process LocalBroker, and redact()
for URLs in messages. The transports (redis.py, postgres.py) import this, never the package, so
opening one from ``open_broker`` is no import cycle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

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

    def publish(self, message: bytes, topic: str) -> None:
        """Queue ``message`` (about ``topic``: a mutation field) for every process listening to
        ``topic``; never blocks, never raises."""

    def unheard(self, topic: str) -> bool:
        """True only when no process can be listening to ``topic`` for an event whose data a write of
        this process's store just made (the hub then neither serialises nor publishes it). A broker that
        cannot know says False."""

    async def listen(self, topic: str) -> None:
        """Make sure messages about ``topic`` published from now on reach this process's ``deliver``.
        The first subscription of a topic in a process awaits it before its ``start_ack``. A broker
        that carries every topic to every process does nothing here."""

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

    def publish(self, message: bytes, topic: str) -> None:
        if self._deliver is not None:
            asyncio.get_running_loop().call_soon(self._deliver, message)

    def unheard(self, topic: str) -> bool:
        return False   # the hub asks only brokers that are not local

    async def listen(self, topic: str) -> None:
        pass

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
