"""The real-time endpoint's limits and settings (``cove serve --realtime-limit NAME=VALUE``)."""

from __future__ import annotations

from dataclasses import dataclass

from cove.settings import parse_settings

__all__ = ["RealtimeLimits", "RealtimeSettings"]


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
    broker_url: str | None = None   # None: events stay in this process
    broker_is_database: bool = False   # the broker is the data's PostgreSQL (no --broker-url)
