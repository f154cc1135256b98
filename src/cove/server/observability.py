"""What a running server tells its operator: logs (`--log-format`, `--log-level`), request ids, and
Prometheus metrics (`--metrics-port`).

Error logs go through the standard `logging` tree (logger ``cove`` and below, plus uvicorn's). The
access log does not: building a `LogRecord` per request costs more than the rest of a cached read, so
access lines are formatted here and written in batches, once per event-loop turn. Everything that is
written passes :func:`redact` first, so an API key, a JWT, a SigV4 signature or a password that ends up
in a message or a traceback is never written out.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import logging
import os
import re
import sys
import time
import traceback
from typing import IO, Any

import orjson

LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")

# Secrets by shape: API keys, JWTs (three base64url parts, the first starting with '{"'), SigV4 signatures
# and access key ids, and anything after a name that says it holds a secret.
_SECRET_SHAPES = re.compile(
    r"da2-[a-z0-9]{8,}"
    r"|eyJ[\w-]{4,}\.[\w-]{4,}(?:\.[\w-]*)?"
    r"|(?<=Signature=)[0-9a-fA-F]{16,}"
    r"|(?<=Credential=)[A-Z0-9]{12,}"
    r"|\bAS?IA[A-Z0-9]{12,}\b",
)
_SECRET_NAMES = re.compile(
    r"""(?ix)
    (["']?\b[\w-]*(?:password|passwd|secret|token|api[_-]?key|authorization|cookie)[\w-]*["']?
     \s*[:=]\s*(?:(?:Bearer|Basic|AWS4-HMAC-SHA256)\s+)?)
    ("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;}&]+)
    """,
)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """``text`` with every secret-looking value replaced by ``[redacted]``."""
    text = _SECRET_SHAPES.sub(REDACTED, text)
    return _SECRET_NAMES.sub(_redact_value, text)


def _redact_value(match: re.Match[str]) -> str:
    value = match.group(2)
    quote = value[0] if value[:1] in ("'", '"') else ""
    return match.group(1) + quote + REDACTED + quote


# -- request ids ----------------------------------------------------------------------------------

_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_LOOKS_SECRET = re.compile(rb"da2-|eyJ|A[SK]IA|[Ss]ignature")
# Made ids: a random per-process prefix and a counter (unique, and far cheaper than 16 random bytes).
_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count(1)


def request_id(headers: list[tuple[bytes, bytes]]) -> bytes:
    """The caller's ``x-request-id`` when it is a plain token that does not look like a credential (so it
    can be logged and echoed safely), otherwise a new one."""
    for name, value in headers:
        if name == b"x-request-id":
            if _REQUEST_ID.fullmatch(value) and _LOOKS_SECRET.search(value) is None:
                return value
            break
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}".encode()


# -- log formatting -------------------------------------------------------------------------------

_second: list[Any] = [-1, ""]  # the last second formatted, reused by every line within it


def _timestamp(created: float) -> str:
    whole = int(created)
    if whole != _second[0]:
        _second[:] = [whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))]
    return f"{_second[1]}.{int((created - whole) * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, any ``extra`` fields, and the traceback."""

    _STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"time": _timestamp(record.created), "level": record.levelname.lower(),
                                 "logger": record.name, "message": redact(record.getMessage())}
        for key, value in vars(record).items():
            if key not in self._STANDARD and not key.startswith("_"):
                entry[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["traceback"] = redact("".join(traceback.format_exception(*record.exc_info)))
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message`` and the traceback below it, for a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record.created)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return redact(line)


def configure_logging(log_format: str = "text", level: str = "info", stream: IO[str] | None = None) -> None:
    """Send Cove's and uvicorn's logs to ``stream`` (stderr) in the chosen format, at ``level``."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    numeric = getattr(logging, level.upper())
    for name in ("cove", "uvicorn", "uvicorn.error", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        # uvicorn's INFO lines repeat what Cove's banner says; its warnings and errors matter.
        logger.setLevel(numeric if name == "cove" or numeric <= logging.DEBUG else max(numeric, logging.WARNING))
        logger.propagate = False
    logging.getLogger("uvicorn.access").disabled = True  # the access log is ours
    _settings.update(format=log_format, level=numeric)
    if log_format == "json":
        sys.excepthook = _log_crash  # even a crash (say, in the schema module) is a JSON line


def _log_crash(kind: type[BaseException], error: BaseException, tb: Any) -> None:
    logging.getLogger("cove").critical("the server stopped: %s: %s", kind.__name__, error,
                                       exc_info=(kind, error, tb))


_settings: dict[str, Any] = {"format": "text", "level": logging.INFO}


def say(message: str, *, error: bool = False) -> None:
    """A start-up or shutdown message: plain on stdout (an error: ``error: ...`` on stderr), or a JSON
    log line when logs are JSON (so a log shipper reading the process's output sees nothing but JSON)."""
    if _settings["format"] == "json":
        logging.getLogger("cove.server").log(logging.ERROR if error else logging.INFO, message)
    elif error:
        print(f"error: {message}", file=sys.stderr, flush=True)
    else:
        print(message, flush=True)


_PLAIN_PATHS = frozenset(("/graphql", "/graphql/", "/", "/health", "/ready", "/cognito-idp/", "/cognito-identity/"))


def _printable(text: str) -> str:
    """A client-chosen value as one line of printable text (no forged log lines)."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


# -- the access log -------------------------------------------------------------------------------

class AccessLog:
    """Access lines, batched: buffered and written every ``interval`` seconds (or sooner when many are
    waiting), so a busy server makes a few writes a second, not one per request. The runner flushes
    what is left when the server stops."""

    def __init__(self, log_format: str = "text", stream: IO[bytes] | None = None, interval: float = 0.05,
                 batch: int = 512) -> None:
        self.json = log_format == "json"
        self.stream = stream if stream is not None else sys.stderr.buffer
        self.interval = interval
        self.batch = batch
        self.pending: list[bytes] = []

    @classmethod
    def from_settings(cls) -> AccessLog | None:
        """The access log the configured level asks for (None below INFO)."""
        if _settings["level"] > logging.INFO:
            return None
        return cls(_settings["format"])

    def write(self, method: str, path: str, operation: str | None, operation_name: str | None, status: int,
              seconds: float, auth_mode: str | None, rid: bytes, client: Any, scheme: str) -> None:
        """One request. Only values the server chose or validated are written (never headers or bodies)."""
        address = client[0] if client else None
        if path not in _PLAIN_PATHS:
            path = _printable(redact(path))[:300]
        if self.json:
            line = orjson.dumps({
                "time": _timestamp(time.time()), "level": "info", "logger": "cove.access", "method": method,
                "path": path, "operation": operation, "operation_name": operation_name, "status": status,
                "duration_ms": int(seconds * 1e6) / 1000, "auth_mode": auth_mode, "request_id": rid.decode(),
                "client": address, "scheme": scheme,
            }) + b"\n"
        else:
            shown = f"{operation}({operation_name})" if operation_name else operation or "-"
            line = (f"{_timestamp(time.time())} INFO    cove.access: {address or '-'} {method} {path} {shown} "
                    f"{status} {seconds * 1000:.1f}ms {auth_mode or '-'} request_id={rid.decode()}\n").encode()
        pending = self.pending
        if not pending:
            try:
                asyncio.get_running_loop().call_later(self.interval, self.flush)
            except RuntimeError:  # no loop: write at once
                pending.append(line)
                self.flush()
                return
        pending.append(line)
        if len(pending) >= self.batch:
            self.flush()  # the timer set for this batch then finds nothing, or starts the next one early

    def flush(self) -> None:
        if not self.pending:
            return
        data = b"".join(self.pending)
        self.pending.clear()
        try:
            self.stream.write(data)
            self.stream.flush()
        except (OSError, ValueError):  # the log's reader went away; serving goes on
            pass


# -- metrics --------------------------------------------------------------------------------------

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
        self.watch_store(app.store)

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
        connections = list(hub.connections) if hub is not None else []
        yield GaugeMetricFamily("cove_websocket_connections", "Open real-time WebSocket connections",
                                value=len(connections))
        yield GaugeMetricFamily("cove_subscriptions", "Active subscriptions",
                                value=sum(len(conn.subs) for conn in connections))
        yield CounterMetricFamily("cove_events_published", "Subscription events published by mutations",
                                  value=hub.events_published if hub is not None else 0)
        dropped = CounterMetricFamily("cove_events_dropped", "Subscription events not delivered, by reason",
                                      labels=["reason"])
        broker = hub.broker if hub is not None else None
        dropped.add_metric(["slow_consumer"], hub.events_dropped if hub is not None else 0)
        dropped.add_metric(["broker_backlog"], getattr(broker, "dropped", 0))
        yield dropped
