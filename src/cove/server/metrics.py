"""Prometheus metrics of one server process (`--metrics-port`): requests by operation, auth mode and
outcome, latency histograms, WebSocket connections and subscriptions, events published and dropped,
database connections. Served on a port of their own by prometheus_client's HTTP server."""

from __future__ import annotations

import bisect
from typing import Any

# Request latencies: mostly sub-millisecond cached reads, up to slow Lambda authorizers.
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The server's Prometheus metrics, in a registry of its own (one per server process).

    Requests are counted in plain integers and turned into Prometheus families when scraped:
    prometheus_client's own counters and histograms take a lock per update, which costs several times
    more than the rest of this bookkeeping."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Gauge

        self.registry = CollectorRegistry(auto_describe=True)
        self.realtime: Any = None  # the app's Realtime hub, read at scrape time
        # (operation, auth_mode, outcome) -> count; operation -> [bucket counts..., count, sum]
        self.counts: dict[tuple[str, str, str], int] = {}
        self.latencies: dict[str, list[float]] = {}
        self.registry.register(_RequestCollector(self))
        self.registry.register(_RealtimeCollector(self))
        self.db_pool = Gauge("cove_db_pool_connections", "Database connections of this process, by state",
                             ["state"], registry=self.registry)

    def observe(self, operation: str, auth_mode: str, outcome: str, seconds: float) -> None:
        key = (operation, auth_mode, outcome)
        counts = self.counts
        counts[key] = counts.get(key, 0) + 1
        series = self.latencies.get(operation)
        if series is None:
            series = self.latencies[operation] = [0.0] * (len(_LATENCY_BUCKETS) + 3)
        series[bisect.bisect_left(_LATENCY_BUCKETS, seconds)] += 1
        series[-2] += 1
        series[-1] += seconds

    def watch(self, app: Any) -> None:
        """Read the app's real-time hub and store when scraped (nothing on the request path)."""
        self.realtime = app.realtime
        self.watch_store(app.backend)

    def watch_store(self, store: Any) -> None:
        """Report the store's connection pool (``pool_stats() -> {"size", "in_use"}``); a store without a
        pool (SQLite: one connection, used only on the event loop's thread) reports 1 idle connection."""
        def stats() -> dict[str, int]:
            pool_stats = getattr(store, "pool_stats", None)
            return pool_stats() if pool_stats is not None else {"size": 1, "in_use": 0}

        self.db_pool.labels("in_use").set_function(lambda: stats()["in_use"])
        self.db_pool.labels("idle").set_function(lambda: stats()["size"] - stats()["in_use"])

    def serve(self, host: str, port: int) -> Any:
        """Serve ``/metrics`` on a port of its own, from a thread (prometheus_client's server)."""
        from prometheus_client import start_http_server

        return start_http_server(port, addr=host, registry=self.registry)


class _RequestCollector:
    """``cove_requests_total`` and ``cove_request_duration_seconds`` from the plain counts."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        requests = CounterMetricFamily("cove_requests", "HTTP requests by operation (GraphQL root field or "
                                       "identity service), auth mode and outcome",
                                       labels=["operation", "auth_mode", "outcome"])
        for key, count in list(self.metrics.counts.items()):
            requests.add_metric(list(key), count)
        yield requests
        latency = HistogramMetricFamily("cove_request_duration_seconds", "Time from request to response, by "
                                        "operation", labels=["operation"])
        bounds = [*map(str, _LATENCY_BUCKETS), "+Inf"]
        for operation, series in list(self.metrics.latencies.items()):
            series = list(series)
            cumulative, total = [], 0.0
            for bound, n in zip(bounds, series[:len(bounds)], strict=True):
                total += n
                cumulative.append((bound, total))
            latency.add_metric([operation], cumulative, series[-1])
        yield latency


class _RealtimeCollector:
    """Real-time figures, read from the hub when Prometheus scrapes (from the metrics thread: plain
    reads of counters and sizes, which the GIL keeps consistent)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        hub = self.metrics.realtime
        yield GaugeMetricFamily("cove_websocket_connections", "Open real-time WebSocket connections",
                                value=len(hub.connections) if hub is not None else 0)
        yield GaugeMetricFamily("cove_subscriptions", "Active subscriptions",
                                value=hub.subscription_count() if hub is not None else 0)
        yield CounterMetricFamily("cove_events_published", "Subscription events published by mutations",
                                  value=hub.events_published if hub is not None else 0)
        yield CounterMetricFamily("cove_events_unsent",
                                  "Subscription events not sent to other processes: nobody listened to their field",
                                  value=hub.events_unsent if hub is not None else 0)
        dropped = CounterMetricFamily("cove_events_dropped", "Subscription events not delivered, by reason",
                                      labels=["reason"])
        broker = hub.broker if hub is not None else None
        dropped.add_metric(["slow_consumer"], hub.events_dropped if hub is not None else 0)
        dropped.add_metric(["broker_backlog"], getattr(broker, "dropped", 0))
        yield dropped
