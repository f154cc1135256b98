"""Running a Cove server: `cove sandbox` (one process, watches the schema) and `cove serve`.

The listening socket is bound by this process before anything else, so the first request can
arrive (and wait in the backlog) while the app finishes starting.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cove.outputs import build_outputs, write_outputs
from cove.schema.dsl import SchemaError
from cove.schema.loader import SchemaSource
from cove.schema.model import Schema
from cove.store.base import DestructiveChange
from cove.store.sqlite import SQLiteStore

from .app import CoveApp
from .execution import Limits

DAY = 86400.0


@dataclass
class ServerOptions:
    schema: str | None
    host: str = "127.0.0.1"
    port: int = 20002
    outputs: Path = Path("amplify_outputs.json")
    data_dir: Path = Path(".cove")
    allow_destructive: bool = False
    watch: bool = True
    workers: int = 1
    public_url: str | None = None
    synchronous: str = "NORMAL"
    region: str = "us-east-1"


def open_store(data_dir: Path, synchronous: str = "NORMAL") -> SQLiteStore:
    return SQLiteStore(Path(data_dir) / "data.sqlite", synchronous=synchronous)


def ensure_api_key(store: SQLiteStore, schema: Schema) -> str:
    """Reuse a key that is valid for at least another day, so the outputs file stays stable."""
    now = time.time()
    for key in reversed(store.api_keys()):
        if not key.revoked and key.expires_at > now + DAY:
            return key.key
    days = schema.authorization_modes.api_key_expires_in_days
    return store.create_api_key(expires_at=now + days * DAY,
                                description=schema.authorization_modes.api_key_description or "sandbox").key


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
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class Sandbox:
    """Owns the store, the app, the outputs file and the schema watcher of one server process."""

    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        self.source = SchemaSource(options.schema)
        if self.source.outputs_file is not None and self.source.outputs_file == Path(options.outputs).resolve():
            raise SchemaError(f"{options.schema} is both the schema source and the outputs file; "
                              f"write the outputs elsewhere with --outputs")
        self.store = open_store(options.data_dir, options.synchronous)
        definition = self.source.load()
        self.schema = definition.schema
        report = self.store.apply_schema(self.schema, allow_destructive=options.allow_destructive)
        self.migration = report
        self.api_key = ensure_api_key(self.store, self.schema)
        self.store.start_background_checkpoints()
        self.app = CoveApp(self.schema, self.store, Limits())
        self.url = options.public_url or self._url()
        self.write_outputs()

    def _url(self) -> str:
        host = self.options.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.options.port}/graphql"

    def write_outputs(self) -> None:
        custom = {"cove": {"version": _version(), "data_dir": str(Path(self.options.data_dir).resolve())}}
        outputs = build_outputs(self.schema, url=self.url, api_key=self.api_key, region=self.options.region,
                                custom=custom)
        write_outputs(self.options.outputs, outputs)

    def reload(self) -> None:
        """Re-import the schema; migrate, swap and rewrite outputs, or keep serving the old one."""
        started = time.perf_counter()
        try:
            schema = self.source.load().schema
            report = self.store.apply_schema(schema, allow_destructive=self.options.allow_destructive)
        except (SchemaError, DestructiveChange) as exc:
            _say(f"Schema not reloaded, still serving the previous one:\n{exc}")
            return
        except Exception as exc:  # a user's schema module raising anything must not kill the sandbox
            _say(f"Schema not reloaded ({type(exc).__name__}: {exc}); still serving the previous one")
            return
        self.schema = schema
        self.app.replace_schema(schema)
        self.write_outputs()
        changes = []
        if report.created_models:
            changes.append("new models " + ", ".join(report.created_models))
        if report.added_fields:
            changes.append("new fields " + ", ".join(report.added_fields))
        if report.dropped:
            changes.append("dropped " + ", ".join(report.dropped))
        _say(f"Reloaded schema in {time.perf_counter() - started:.2f}s"
             + (f" ({'; '.join(changes)})" if changes else "") + f"; rewrote {self.options.outputs}")


def _version() -> str:
    from cove import __version__

    return __version__


def _say(message: str) -> None:
    print(message, flush=True)


class _Watcher(threading.Thread):
    """Polls the schema's files; polling is dependency-free and cheap for a handful of files."""

    def __init__(self, files: Any, on_change: Any, interval: float = 0.3) -> None:
        super().__init__(daemon=True, name="cove-schema-watcher")
        self.files = files
        self.on_change = on_change
        self.interval = interval
        self.stopped = threading.Event()

    def _snapshot(self) -> dict[Path, float]:
        out = {}
        for p in self.files():
            try:
                out[p] = p.stat().st_mtime_ns
            except OSError:
                continue
        return out

    def run(self) -> None:
        last = self._snapshot()
        while not self.stopped.wait(self.interval):
            now = self._snapshot()
            if now != last:
                last = now
                self.on_change()


def _uvicorn_server(app: Any, options: ServerOptions) -> Any:
    import uvicorn

    # Everything built so far (schema, plans, modules) lives for the whole process: move it out of
    # the collector's sight, and collect the young generation less often, so that full collections
    # (which pause the loop) are rare and short.
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)

    config = uvicorn.Config(app, loop="uvloop", http="httptools", ws="none", lifespan="off", proxy_headers=False,
                            log_level="warning", access_log=False, server_header=False, date_header=True)
    return uvicorn.Server(config)


def _run_loop(main: Any) -> None:
    """Run on uvloop when it is installed (uvicorn's loop setting only applies to uvicorn.run)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        asyncio.run(main)
        return
    uvloop.run(main)


def run_sandbox(options: ServerOptions) -> int:
    started = time.perf_counter()
    sock = _bind(options.host, options.port)
    try:
        sandbox = Sandbox(options)
    except (SchemaError, DestructiveChange) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    server = _uvicorn_server(sandbox.app, options)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                await task
                return
            await asyncio.sleep(0.005)
        _say(f"Cove sandbox serving {sandbox.source.spec}")
        _say(f"  GraphQL endpoint  {sandbox.url}")
        _say(f"  API key           {sandbox.api_key}")
        _say(f"  Outputs           {options.outputs}")
        _say(f"  Data              {Path(options.data_dir) / 'data.sqlite'}")
        watcher = None
        if options.watch:
            watcher = _Watcher(sandbox.source.watched_files, lambda: loop.call_soon_threadsafe(sandbox.reload))
            watcher.start()
        _say(f"Ready in {time.perf_counter() - started:.2f}s"
             + (" - watching the schema for changes" if watcher else "") + "; Ctrl-C to stop")
        try:
            await task
        finally:
            if watcher:
                watcher.stopped.set()

    try:
        _run_loop(main())
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.store.close()
    _say("Stopped.")
    return 0


def run_serve(options: ServerOptions) -> int:
    """Production server: no watcher; `--workers N` forks N processes sharing the socket."""
    if options.workers <= 1:
        options.watch = False
        return run_sandbox(options)
    started = time.perf_counter()
    sockets = [_bind(options.host, options.port, reuse_port=True) for _ in range(options.workers)]
    if options.port == 0:
        options.port = sockets[0].getsockname()[1]
    try:
        sandbox = Sandbox(options)  # migrate once, write outputs, ensure a key
    except (SchemaError, DestructiveChange) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sandbox.store.close()
    children: list[int] = []
    for i in range(options.workers):
        pid = os.fork()
        if pid == 0:
            for j, other in enumerate(sockets):
                if j != i:
                    other.close()
            _worker(options, sockets[i])
            os._exit(0)
        children.append(pid)
    for sock in sockets:
        sock.close()
    _say(f"Cove serving {sandbox.source.spec} with {options.workers} workers")
    _say(f"  GraphQL endpoint  {sandbox.url}")
    _say(f"  API key           {sandbox.api_key}")
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


def _worker(options: ServerOptions, sock: socket.socket) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent turns Ctrl-C into SIGTERM
    store = open_store(options.data_dir, options.synchronous)
    source = SchemaSource(options.schema)
    schema = source.load().schema
    store.apply_schema(schema, allow_destructive=False)
    store.start_background_checkpoints()
    app = CoveApp(schema, store, Limits())
    server = _uvicorn_server(app, options)
    try:
        _run_loop(server.serve(sockets=[sock]))
    finally:
        store.close()
