"""Running a Cove server: `cove sandbox` (one process, watches the schema) and `cove serve`.

The listening socket is bound by this process before anything else, so the first request can
arrive (and wait in the backlog) while the app finishes starting.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cove.identity.delivery import DeliveryConfigError
from cove.console import attach_console
from cove.outputs import build_outputs, write_outputs
from cove.schema.model import SchemaError
from cove.schema.loader import SchemaSource
from cove.schema.model import Schema
from cove.store.base import Backend, DatabaseUnavailable, DestructiveChange, MigrationReport
from cove.store.postgres.parameters import libpq_url

from .api_key_lifetime import ensure_api_key
from .app import CoveApp
from .database import DatabaseError, connect, open_database, uses_postgres
from .http_protocol import http_protocol
from .limits import Limits
from .metrics import Metrics
from .observability import AccessLog, configure_logging, say
from .realtime.settings import RealtimeLimits, RealtimeSettings
from .startup_notes import served_notes
from .watcher import SchemaWatcher

_Watcher = SchemaWatcher   # its old name, which tests/test_watcher.py uses


@dataclass
class ServerOptions:
    schema: str | None
    host: str = "127.0.0.1"
    port: int = 20002
    outputs: Path = Path("amplify_outputs.json")
    data_dir: Path = Path(".cove")
    database_url: str | None = None            # postgresql://... or sqlite:///...; None: SQLite in data_dir
    allow_destructive: bool = False
    watch: bool = True
    workers: int = 1
    public_url: str | None = None
    synchronous: str = "NORMAL"
    region: str = "us-east-1"
    tls: bool = False                          # HTTPS + WSS with a local CA (see tls.py)
    broker_url: str | None = None              # redis://... or postgresql://...; None: in-process
    realtime_limits: list[str] = field(default_factory=list)   # ["connection_timeout_ms=1000", ...]
    auth_limits: list[str] = field(default_factory=list)       # ["sign_in_per_minute=0", ...]
    limits: list[str] = field(default_factory=list)            # request limits: ["max_cost=10000", ...]
    print_codes: bool = False                  # sign-ups need a confirmation code, printed here
    typed_client: Path | None = None           # sandbox: rewrite this typed client module with the outputs
    reset: str | None = None                   # sandbox: "data" deletes every record, "all" the whole data dir
    console: str | None = None                 # "local" (sandbox), "admin" (serve --console) or None
    handlers: str | None = None                # module with Python handlers for custom operations
    log_format: str = "text"                   # or "json": one JSON object per line
    log_level: str = "info"                    # info includes the access log
    metrics_port: int | None = None            # Prometheus /metrics on this port (worker i: port + i)
    metrics_host: str = "127.0.0.1"
    forwarded_allow_ips: str | None = None     # proxies whose X-Forwarded-For/-Proto are believed
    shutdown_timeout: float = 30.0             # seconds to finish requests in flight after SIGTERM

    def request_limits(self) -> Limits:
        return Limits.parse(self.limits)
    command: str = "sandbox"                   # the CLI command, named in the start-up banner

    @property
    def production(self) -> bool:
        """`cove serve`: sign-ups need a code unless define_auth says not, and the API key is not printed."""
        return self.command == "serve"

    def events_url(self) -> str | None:
        """The event broker: --broker-url, else the --database-url's PostgreSQL (LISTEN/NOTIFY on a
        plain connection: Cove's own query parameters are not libpq's), else None (in-process)."""
        if self.broker_url:
            return self.broker_url
        if self.database_url and uses_postgres(self.database_url):
            return libpq_url(self.database_url)
        return None

    def open_backend(self) -> Backend:
        """This process's backend (no I/O yet: ``connect`` it in the loop that uses it)."""
        return open_database(self.data_dir, self.database_url, synchronous=self.synchronous)

    def data_option(self) -> str:
        """How a data command (`cove users ...`) names this server's data, for start-up hints."""
        return "--database-url URL" if self.database_url else f"--data-dir {self.data_dir}"

    async def connect(self, backend: Backend) -> None:
        await connect(backend, self.database_url)

    def realtime(self) -> RealtimeSettings:
        events = self.events_url()
        return RealtimeSettings(RealtimeLimits.parse(self.realtime_limits), events,
                                broker_is_database=not self.broker_url and events is not None)

    def tls_files(self) -> Any:
        if not self.tls:
            return None
        from urllib.parse import urlsplit

        from .tls import ensure_certificates

        # The certificate names the host clients use: the public URL's, or this machine's address on 0.0.0.0.
        return ensure_certificates(self.data_dir, self.host, [urlsplit(graphql_url(self)).hostname or ""])


def _bind(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        # One listening socket per worker: the kernel spreads connections evenly across them. With
        # one shared socket, whichever worker wakes first takes most keep-alive connections.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    # Accepted sockets inherit this: without it, headers and body written separately meet
    # Nagle's algorithm and delayed ACKs, and every response waits ~40 ms.
    if family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            # The CLI prints this as is: say which port and what to do.
            raise OSError(f"port {port} on {host} is already in use (another cove sandbox?); stop it or "
                          f"choose another port with --port") from None
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class Sandbox:
    """Owns the backend, the app, the outputs file and the schema watcher of one server process."""

    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        self.source = SchemaSource(options.schema, options.handlers)
        if self.source.outputs_file is not None and self.source.outputs_file == Path(options.outputs).resolve():
            raise SchemaError(f"{options.schema} is both the schema source and the outputs file; "
                              f"write the outputs elsewhere with --outputs")
        if options.reset == "all" and not options.database_url:
            _remove_database(options.data_dir)
        self.backend: Backend = options.open_backend()
        definition = self.source.load()
        self.schema = definition.schema
        self.warned: set[str] = set()
        self.last_refusal: str | None = None
        self.reloads: set[asyncio.Task[None]] = set()
        self.warn_about(self.schema)
        self.migration, self.api_key = asyncio.run(self._prepare(options))   # before the server's loop starts
        self.backend.start_background_work()
        self.tls = options.tls_files()
        self.url = graphql_url(options)
        self.identity = open_identity(options, self.schema, self.url, self.backend)
        self.app = CoveApp(self.schema, self.backend, options.request_limits(), realtime=options.realtime(),
                           identity=self.identity)
        attach_console(self.app, options.console)
        self.write_outputs()

    async def _prepare(self, options: ServerOptions) -> tuple[MigrationReport, str]:
        await options.connect(self.backend)
        if options.reset == "all" and options.database_url:
            await self.backend.transfer.drop_all()
            await options.connect(self.backend)   # Cove's own tables and a new secret, made again
            _say(f"Reset: dropped every table of {self.backend.description} (records, users, keys)")
        report = await self.backend.migrator.apply_schema(self.schema, allow_destructive=options.allow_destructive)
        if options.reset == "data":
            deleted = await self.backend.transfer.delete_all_records()
            _say(f"Reset: deleted {deleted} records; users, groups and keys kept")
        return report, await ensure_api_key(self.backend.keys, self.schema)

    def write_outputs(self) -> list[Path]:
        """Write the outputs file (and the typed client); the files whose content changed. Only what
        clients need: the outputs file is handed to apps, so it names no server path."""
        custom: dict[str, Any] = {"cove": {"version": _version()}}
        if self.tls is not None:
            custom["cove"]["ca_file"] = str(Path(self.tls.ca_cert).resolve())  # Cove's client trusts it
        custom["cove"].update(self.identity.outputs_custom())
        outputs = build_outputs(self.schema, url=self.url, api_key=self.api_key, region=self.options.region,
                                custom=custom, auth=self.identity.outputs_auth())
        written = [Path(self.options.outputs)] if write_outputs(self.options.outputs, outputs) else []
        if self.options.typed_client is not None and self.write_typed_client(self.options.typed_client, outputs):
            written.append(Path(self.options.typed_client))
        return written

    def write_typed_client(self, path: Path, outputs: Any) -> bool:
        """Regenerate the typed client module from the outputs' model introspection; True if it changed."""
        from cove.codegen import GenerationError, write_python_client

        try:
            return write_python_client(path, outputs["data"]["model_introspection"], source=self.source.spec)
        except GenerationError as exc:
            _say(f"Typed client not written: {exc}")
            return False

    def warn_about(self, schema: Schema) -> None:
        """Print each likely mistake in the schema once (see cove.schema.checks)."""
        from cove.schema.checks import schema_warnings

        for warning in schema_warnings(schema):
            if warning not in self.warned:
                self.warned.add(warning)
                _say(f"Warning: {warning}")

    def reload_soon(self) -> None:
        """Called on the loop: reload in a task of its own."""
        task = asyncio.get_running_loop().create_task(self.reload())
        self.reloads.add(task)
        task.add_done_callback(self.reloads.discard)

    async def reload(self) -> None:
        """Re-import the schema; migrate, swap and rewrite outputs, or keep serving the old one."""
        started = time.perf_counter()
        try:
            schema = self.source.load().schema
            report = await self.backend.migrator.apply_schema(schema, allow_destructive=self.options.allow_destructive)
            self.app.replace_schema(schema)  # refuses unusable auth settings (OIDC, Lambda authorizer)
        except (SchemaError, DestructiveChange) as exc:
            self._refused(f"Schema not reloaded, still serving the previous one:\n{exc}")
            return
        except Exception as exc:  # a user's schema module raising anything must not kill the sandbox
            self._refused(f"Schema not reloaded ({type(exc).__name__}: {exc}); still serving the previous one")
            return
        self.last_refusal = None
        self.schema = schema
        self.warn_about(schema)
        self.api_key = await ensure_api_key(self.backend.keys, schema)  # `cove keys rotate`'s goes in the outputs
        written = self.write_outputs()
        changes = []
        if report.created_models:
            changes.append("new models " + ", ".join(report.created_models))
        if report.added_fields:
            changes.append("new fields " + ", ".join(report.added_fields))
        if report.dropped:
            changes.append("dropped " + ", ".join(report.dropped))
        _say(f"Reloaded schema in {time.perf_counter() - started:.2f}s"
             + (f" ({'; '.join(changes)})" if changes else "")
             + (f"; rewrote {' and '.join(str(p) for p in written)}" if written else "; outputs unchanged"))

    def _refused(self, message: str) -> None:
        """Say why a reload was refused, once: the same refusal again (another save) adds nothing."""
        if message != self.last_refusal:
            self.last_refusal = message
            _say(message)


def _remove_database(data_dir: Path) -> None:
    """`--reset-all`: the database (records, users, keys) and the signing keys; the TLS CA stays trusted."""
    database = Path(data_dir) / "data.sqlite"
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        path.unlink(missing_ok=True)
    for pem in (Path(data_dir) / "keys").glob("*.pem"):
        pem.unlink()
    _say(f"Reset: removed {database} and the signing keys")


def open_identity(options: ServerOptions, schema: Schema, url: str, backend: Backend) -> Any:
    """The identity services (user pool, identity pool, IAM keys, OIDC, Lambda authorizer), on the
    backend's identity store."""
    from urllib.parse import urlsplit

    from cove.identity.delivery import CodeEvent, SmtpSender
    from cove.identity.guard import AuthLimits
    from cove.identity.services import REGION_META, IdentityServices

    parts = urlsplit(url)
    smtp = SmtpSender.from_env()   # raises DeliveryConfigError before the state is first touched

    def print_code(event: CodeEvent) -> None:
        label = {"forgot_password": "Password reset code", "admin_create_user": "Temporary password"}.get(
            event.trigger, "Confirmation code")
        _say(f"{label} for {event.destination}: {event.code}")

    store = backend.identity

    async def open_services() -> IdentityServices:
        await options.connect(backend)   # this loop's connections
        await store.set_meta(REGION_META, options.region)  # so `cove users` finds this pool without --region
        # Codes are secrets: the sandbox prints them, `cove serve` only with --print-codes (else: a hook or SMTP).
        return await IdentityServices.open(
            store, schema, region=options.region, base_url=f"{parts.scheme}://{parts.netloc}",
            auto_confirm=not (options.print_codes or options.production),
            on_send_code=print_code if options.print_codes or not options.production else None,
            smtp=smtp, limits=AuthLimits.parse(options.auth_limits))

    return asyncio.run(open_services())  # before the server's loop starts


def graphql_url(options: ServerOptions) -> str:
    """The URL clients use: ``--public-url``, else built from the interface and port. On all interfaces
    (0.0.0.0, ::) that is this machine's address on its default route, which other machines can reach,
    never 127.0.0.1."""
    if options.public_url:
        return options.public_url
    host = options.host
    if host in ("0.0.0.0", "::", ""):
        host = _machine_address(ipv6=host == "::")
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if options.tls else 'http'}://{host}:{options.port}/graphql"


def _machine_address(*, ipv6: bool = False) -> str:
    """The local address of the default route (a UDP 'connect' sends nothing), else the host name."""
    family, probe = (socket.AF_INET6, "2001:db8::1") if ipv6 else (socket.AF_INET, "192.0.2.1")
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((probe, 9))
            address = str(sock.getsockname()[0])
    except OSError:
        return socket.gethostname()
    return address if not address.startswith(("127.", "::1")) else socket.gethostname()


def instrument(app: CoveApp, options: ServerOptions, worker: int = 0) -> None:
    """Attach the access log, the readiness check and (with ``--metrics-port``) the metrics to an app."""
    from .health import readiness_check

    app.access_log = AccessLog.from_settings()
    app.readiness = readiness_check(app)
    if options.metrics_port is None:
        return
    metrics = Metrics()
    metrics.watch(app)
    port = options.metrics_port + worker if options.metrics_port else 0
    try:
        metrics.serve(options.metrics_host, port)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot serve metrics on {options.metrics_host}:{port}: {exc.strerror}") from None
    app.metrics = metrics


def _version() -> str:
    from cove._version import __version__

    return __version__


def _say(message: str) -> None:
    say(message)


def _fail(message: str) -> None:
    say(message, error=True)


def _uvicorn_server(app: Any, options: ServerOptions, tls: Any = None) -> Any:
    import uvicorn

    # Everything built so far (schema, plans, modules) lives for the whole process: move it out of
    # the collector's sight, and collect the young generation less often, so that full collections
    # (which pause the loop) are rare and short.
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    # Heavy reads and handlers run in worker threads (workers.py). A thread holding the GIL keeps
    # the loop waiting up to this interval each time the loop needs it (default 5 ms), and a small
    # request needs it several times. bench/load.py next to the heaviest request: getTodo p50/p99
    # 6.9/17.0 ms at 1 ms, 3.7/11.3 ms at 0.2 ms (alone 2.6/3.4), the heavy request no slower; 0.1 ms
    # gained nothing more. It costs nothing while one thread runs.
    sys.setswitchinterval(0.0002)

    limits = app.realtime.limits
    ping = limits.ping_interval or None
    ssl: dict[str, Any] = {}
    if tls is not None:
        ssl = {"ssl_certfile": str(tls.cert), "ssl_keyfile": str(tls.key)}
    # Real-time: websockets' sans-I/O protocol (the lightest per connection), no per-message deflate
    # (its zlib state costs ~100 KiB a connection), and a hard frame limit well above the app's own
    # message limit (the app answers an oversized message with a clear error instead).
    # Logging is configured by configure_logging (log_config=None keeps uvicorn's hands off it). On
    # SIGTERM uvicorn stops accepting, lets requests in flight finish (up to timeout_graceful_shutdown)
    # and closes WebSockets with a 1012 close frame. X-Forwarded-* only count from --forwarded-allow-ips.
    config = uvicorn.Config(app, loop="uvloop", http=http_protocol(app.limits), ws="websockets-sansio", lifespan="on",
                            ws_per_message_deflate=False, ws_max_size=max(4 * limits.max_message_bytes, 1 << 20),
                            ws_ping_interval=ping, ws_ping_timeout=ping,
                            proxy_headers=bool(options.forwarded_allow_ips),
                            forwarded_allow_ips=options.forwarded_allow_ips or "",
                            # uvicorn hints int, but hands the value to asyncio.wait_for: fractions work.
                            timeout_graceful_shutdown=options.shutdown_timeout,  # type: ignore[arg-type]
                            log_config=None,
                            log_level=None, access_log=False, server_header=False, date_header=True, **ssl)
    return uvicorn.Server(config)


async def _connect_serving(backend: Backend, options: ServerOptions) -> bool:
    """Connect the backend in the serving loop (its pool belongs to that loop); False (with a
    message) if the database cannot be reached."""
    try:
        await options.connect(backend)
    except DatabaseError as exc:
        _fail(str(exc))
        return False
    return True


def _events_description(url: str | None) -> str:
    from cove.broker import redact

    if not url:
        return "in-process (one server process)"
    kind = "PostgreSQL LISTEN/NOTIFY" if url.split(":", 1)[0].lower() in ("postgres", "postgresql") else "Redis pub/sub"
    return f"{kind} {redact(url)}"


async def _start_realtime(app: CoveApp) -> bool:
    """Connect the event broker before taking requests; False (with a message) if it is unreachable."""
    from cove.broker import BrokerError

    try:
        await app.realtime.start()
    except BrokerError as exc:
        _fail(str(exc))
        return False
    return True


def _broker_reachable(url: str) -> bool:
    """Connect to the broker once and let go (with a message if it cannot be reached)."""
    from cove.broker import BrokerError, open_broker

    async def probe() -> None:
        broker = open_broker(url, "cove-probe")
        await broker.start(lambda message: None)
        await broker.close()

    try:
        asyncio.run(probe())
    except BrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return False
    return True


def _realtime_url(url: str) -> str:
    return ("wss://" + url[len("https://"):] if url.startswith("https://") else
            "ws://" + url[len("http://"):] if url.startswith("http://") else url) + "/realtime"


def _flush_access_log(app: CoveApp) -> None:
    if app.access_log is not None:
        app.access_log.flush()


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _stop_on_sigterm() -> None:
    """SIGTERM stops the server as Ctrl-C does. While uvicorn serves, its own handler runs instead (stop
    accepting, finish requests, close WebSockets) and then re-raises the signal into this one, so the
    process still closes the store, says "Stopped." and exits 0 instead of dying by the signal."""
    signal.signal(signal.SIGTERM, _interrupt)


def _run_loop(main: Any) -> None:
    """Run on uvloop when it is installed (uvicorn's loop setting only applies to uvicorn.run)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        asyncio.run(main)
        return
    uvloop.run(main)


def run_sandbox(options: ServerOptions) -> int:
    """One server process: `cove sandbox`, and `cove serve` with one worker (``options.production``: no
    schema watcher, and the API key is not printed: it is in the outputs file and `cove keys list`)."""
    production = options.production
    started = time.perf_counter()
    configure_logging(options.log_format, options.log_level)
    sock = _bind(options.host, options.port)
    if options.port == 0:
        options.port = sock.getsockname()[1]
    try:
        sandbox = Sandbox(options)
        instrument(sandbox.app, options)
    except (SchemaError, DestructiveChange, DeliveryConfigError) as exc:
        _fail(str(exc))
        return 2
    except (OSError, DatabaseError, DatabaseUnavailable) as exc:  # the metrics port is taken, the database is down
        _fail(str(exc))
        return 1
    server = _uvicorn_server(sandbox.app, options, sandbox.tls)
    failed = False

    async def main() -> None:
        nonlocal failed
        loop = asyncio.get_running_loop()
        if not await _connect_serving(sandbox.backend, options) or not await _start_realtime(sandbox.app):
            failed = True
            return
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                await task
                failed = True  # start-up failed (e.g. the broker is unreachable); uvicorn said why
                return
            await asyncio.sleep(0.005)
        _say(f"Cove {'sandbox ' if options.command == 'sandbox' else ''}serving {sandbox.source.spec}")
        _say(f"  GraphQL endpoint  {sandbox.url}")
        _say(f"  Real-time         {_realtime_url(sandbox.url)}")
        _say(_api_key_line(sandbox.api_key, options, production))
        if sandbox.identity.user_pool is not None:
            _say(f"  User pool         {sandbox.identity.user_pool_id} at {sandbox.identity.outputs_custom()['user_pool_endpoint']}"
                 + (" (sign-ups print a confirmation code)" if options.print_codes else ""))
        if sandbox.identity.code_delivery_missing():
            _say("  Warning: sign-ups and password resets need a code but none can be delivered; set "
                 "define_auth(on_send_code=...) or COVE_SMTP_HOST")
        if options.console is not None:
            _say(f"  Console           {sandbox.url.removesuffix('/graphql')}/console"
                 + (" (administrators only)" if options.console == "admin" else ""))
        for line in served_notes(sandbox.schema, options.data_option(), options.region):
            _say(line)
        _say(f"  Outputs           {options.outputs}")
        if options.typed_client is not None:
            _say(f"  Typed client      {options.typed_client}")
        _say(f"  Data              {sandbox.backend.description}")
        if options.metrics_port is not None:
            _say(f"  Metrics           http://{options.metrics_host}:{options.metrics_port}/metrics")
        if sandbox.app.realtime.broker is not None and not sandbox.app.realtime.broker.local:
            _say(f"  Events            {sandbox.app.realtime.broker.description}")
        if sandbox.tls is not None:
            from .tls import trust_hint

            for line in trust_hint(sandbox.tls.ca_cert):
                _say("  " + line)
        key_watch = asyncio.create_task(sandbox.app.api_key_watch.run())
        watcher = None
        if options.watch:
            watcher = SchemaWatcher(sandbox.source.watched_files, lambda: loop.call_soon_threadsafe(sandbox.reload_soon))
            watcher.start()
        _say(f"Ready in {time.perf_counter() - started:.2f}s"
             + (" - watching the schema for changes" if watcher else "") + "; Ctrl-C to stop")
        try:
            await task
        finally:
            key_watch.cancel()
            if watcher:
                watcher.stopped.set()

    _stop_on_sigterm()
    try:
        _run_loop(main())
    except KeyboardInterrupt:
        pass
    finally:
        _flush_access_log(sandbox.app)
        asyncio.run(sandbox.backend.close())
    if failed:  # the broker or uvicorn has already said why, once
        return 1
    _say("Stopped.")
    return 0


def _api_key_line(key: str, options: ServerOptions, production: bool) -> str:
    if production:  # a production log must not carry a credential
        return f"  API key           in {options.outputs} (and `cove keys list`)"
    return f"  API key           {key}"


def run_serve(options: ServerOptions) -> int:
    """Production server: no watcher; `--workers N` forks N processes sharing the socket."""
    if options.workers <= 1:
        options.watch = False
        return run_sandbox(options)
    started = time.perf_counter()
    configure_logging(options.log_format, options.log_level)
    sockets = [_bind(options.host, options.port, reuse_port=True) for _ in range(options.workers)]
    if options.port == 0:
        options.port = sockets[0].getsockname()[1]
    try:
        sandbox = Sandbox(options)  # migrate once, write outputs, ensure a key
    except (SchemaError, DestructiveChange, DeliveryConfigError) as exc:
        _fail(str(exc))
        return 2
    except (DatabaseError, DatabaseUnavailable) as exc:
        _fail(str(exc))
        return 1
    asyncio.run(sandbox.backend.close())
    events = options.events_url()
    if events and not _broker_reachable(events):
        return 1  # said once here, rather than once by every worker
    children: list[int] = []
    for i in range(options.workers):
        pid = os.fork()
        if pid == 0:
            for j, other in enumerate(sockets):
                if j != i:
                    other.close()
            os._exit(_worker(options, sockets[i], i))
        children.append(pid)
    for sock in sockets:
        sock.close()
    _say(f"Cove serving {sandbox.source.spec} with {options.workers} workers")
    _say(f"  GraphQL endpoint  {sandbox.url}")
    _say(f"  Data              {sandbox.backend.description}")
    _say(f"  Events            {_events_description(events)}")
    if not events:
        _say("  Warning: without --broker-url, a subscription only sees mutations made through the same "
             "worker process; use --broker-url redis://... or postgresql://... with --workers")
    if options.console is not None:
        _say(f"  Console           {sandbox.url.removesuffix('/graphql')}/console (administrators only)")
    _say(_api_key_line(sandbox.api_key, options, True))
    if options.metrics_port is not None:
        _say(f"  Metrics           http://{options.metrics_host}:{options.metrics_port}/metrics ... "
             f":{options.metrics_port + options.workers - 1}/metrics (one port per worker)")
    _say(f"Ready in {time.perf_counter() - started:.2f}s")

    def forward(signum: int, _frame: Any) -> None:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = 0
    for pid in children:
        while True:
            try:
                _, code = os.waitpid(pid, 0)
                status = status or (code >> 8)
                break
            except InterruptedError:
                continue
    _say("Stopped.")
    return status


def _worker(options: ServerOptions, sock: socket.socket, index: int) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent turns Ctrl-C into SIGTERM
    backend = options.open_backend()
    schema = SchemaSource(options.schema, options.handlers).load().schema

    async def migrate() -> None:
        await options.connect(backend)
        await backend.migrator.apply_schema(schema, allow_destructive=False)

    try:
        asyncio.run(migrate())
        identity = open_identity(options, schema, graphql_url(options), backend)
    except (DatabaseError, DatabaseUnavailable) as exc:
        _fail(f"worker {index}: {exc}")
        return 1
    backend.start_background_work()
    app = CoveApp(schema, backend, options.request_limits(), realtime=options.realtime(), identity=identity)
    attach_console(app, options.console)
    instrument(app, options, index)
    server = _uvicorn_server(app, options, options.tls_files())

    status = 0

    async def main() -> None:
        nonlocal status
        if not await _connect_serving(backend, options) or not await _start_realtime(app):
            status = 1
            return
        key_watch = asyncio.create_task(app.api_key_watch.run())
        try:
            await server.serve(sockets=[sock])
        finally:
            key_watch.cancel()

    _stop_on_sigterm()
    try:
        _run_loop(main())
    except KeyboardInterrupt:
        pass
    finally:
        _flush_access_log(app)
        asyncio.run(backend.close())
    return status
