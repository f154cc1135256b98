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

from typing import TYPE_CHECKING

from .base import Broker, BrokerError, Deliver, LocalBroker, redact

if TYPE_CHECKING:
    from cove.store.postgres.listeners import EventListeners

__all__ = ["Broker", "BrokerError", "Deliver", "LocalBroker", "open_broker", "redact"]


def open_broker(url: str | None, channel: str, listeners: EventListeners | None = None) -> Broker:
    """The broker for ``--broker-url`` (None: in-process). ``channel`` names the API's event stream;
    processes serving the same data must use the same channel. ``listeners``: for a PostgreSQL broker
    on the data's own database, the store's record of who listens (mutations nobody hears send nothing)."""
    if not url:
        return LocalBroker()
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("redis", "rediss", "unix"):
        from .redis import RedisBroker

        return RedisBroker(url, channel)
    if scheme in ("postgres", "postgresql"):
        from .postgres import PostgresBroker

        return PostgresBroker(url, channel, listeners)
    raise BrokerError(f"unsupported --broker-url {redact(url)!r}: use redis://..., rediss://... or "
                      "postgresql://...")
