"""A PostgreSQL database that goes away while Cove serves, for real: a TCP proxy of the test's own
stands between the server and the machine's PostgreSQL, and the test cuts it (listener closed, live
connections reset) and restores it. While it is cut, GraphQL answers AppSync's error shape with HTTP
200, the Cognito endpoints InternalErrorException, /ready 503 and nothing crashes; once it is back the
same process serves again (reads, writes, sign-in, subscription events), with no restart."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from authkit import PASSWORD, sign_in
from conftest import EXAMPLES, Sandbox, free_port, start_sandbox
from pg_support import fresh_postgres_url
from realtime_support import Raw

POSTGRES = ("127.0.0.1", 5432)
LIST = "{ listPosters { items { id title } } }"
CREATE = 'mutation { createPoster(input: {title: "t"}) { id title } }'


class CuttableProxy:
    """TCP from 127.0.0.1:port to PostgreSQL, on an event loop of its own thread."""

    def __init__(self, upstream: tuple[str, int] = POSTGRES) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="pg-proxy")
        self.thread.start()
        self.server: asyncio.Server | None = None
        self.transports: set[asyncio.BaseTransport] = set()
        self.connections = 0

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(15)

    def open(self) -> None:
        self._run(self._open())

    async def _open(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self.transports |= {writer.transport, up_writer.transport}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.transports -= {writer.transport, up_writer.transport}

    def cut(self) -> None:
        """Refuse new connections and reset every live one, as a database host that dies does."""
        self._run(self._cut())

    async def _cut(self) -> None:
        if self.server is not None:
            self.server.close()
        for transport in list(self.transports):
            transport.abort()   # an RST to both ends: the server's pool sees its connections die
        self.transports.clear()
        if self.server is not None:
            await self.server.wait_closed()
            self.server = None

    def close(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def proxy() -> Iterator[CuttableProxy]:
    proxy = CuttableProxy()
    proxy.open()
    yield proxy
    proxy.close()


def eventually(check: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """``check()``'s first truthy result, retried until ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (httpx.HTTPError, AssertionError, ClientError) as exc:
            last = exc
        time.sleep(0.25)
    raise AssertionError(f"{what or 'condition'} not met within {timeout}s; last: {last!r}")


def ready(box: Sandbox) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{box.port}/ready", timeout=10)


def database_error(box: Sandbox, query: str) -> dict[str, Any]:
    """The answer to ``query`` while the database is away: HTTP 200, AppSync's shape, DatabaseUnavailable."""
    response = box.post(query)
    assert response.status_code == 200, response.text
    body = response.json()
    data = body.get("data")
    assert data is None or all(value is None for value in data.values()), body
    assert body["errors"] and {e["errorType"] for e in body["errors"]} == {"DatabaseUnavailable"}, body
    assert all("127.0.0.1" in e["message"] and "Traceback" not in e["message"] for e in body["errors"]), body
    return body


def test_a_database_outage_gives_appsync_errors_and_the_server_recovers(tmp_path: Path, proxy: CuttableProxy) -> None:
    url = fresh_postgres_url("outage").replace(f"@{POSTGRES[0]}:{POSTGRES[1]}/", f"@127.0.0.1:{proxy.port}/")
    assert str(proxy.port) in url
    box = start_sandbox(tmp_path, EXAMPLES / "auth_schema.py", "--database-url", url, command="serve")
    try:
        assert any("Events            PostgreSQL LISTEN/NOTIFY" in line for line in box.lines), box.lines
        added = subprocess.run([sys.executable, "-m", "cove", "users", "add", "ann@example.com", "--password",
                                PASSWORD, "--database-url", url], capture_output=True, text=True, timeout=60)
        assert added.returncode == 0, added.stderr
        assert "IdToken" in sign_in(box, "ann@example.com")
        assert box.gql(CREATE).get("errors") is None
        assert ready(box).status_code == 200, ready(box).text

        proxy.cut()
        database_error(box, LIST)
        database_error(box, CREATE)
        with pytest.raises(ClientError) as raised:
            sign_in(box, "ann@example.com")
        error = raised.value.response
        assert error["Error"]["Code"] == "InternalErrorException", error
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 500
        unready = ready(box)
        assert unready.status_code == 503 and unready.json()["status"] == "not ready", unready.text
        assert "cannot reach" in unready.json()["checks"]["database"], unready.text
        assert httpx.get(f"http://127.0.0.1:{box.port}/health").status_code == 200
        # A few seconds without the database: still nothing but clean errors, and the process is alive.
        for _ in range(3):
            database_error(box, LIST)
            time.sleep(0.5)
        assert box.process.poll() is None

        proxy.open()
        eventually(lambda: box.post(LIST).json().get("errors") is None, what="GraphQL served again")
        assert box.gql(CREATE).get("errors") is None
        assert "IdToken" in sign_in(box, "ann@example.com")
        eventually(lambda: ready(box).status_code == 200, what="/ready")
        # The event broker reconnected too: a subscription sees a mutation made after the outage.
        def event_arrives() -> bool:
            listener = Raw(box)
            try:
                listener.init()
                listener.subscribe("s", "subscription { onCreatePoster { id title } }")
                made = box.gql(CREATE)["data"]["createPoster"]
                return bool(listener.expect("data", timeout=5)["payload"]["data"]["onCreatePoster"]["id"] == made["id"])
            finally:
                listener.close()

        eventually(event_arrives, what="a subscription event")
        assert box.process.poll() is None
        assert not any("Traceback" in line for line in box.lines), "".join(box.lines)
    finally:
        box.stop()


def test_a_database_that_is_away_at_start_up_is_one_line(tmp_path: Path, proxy: CuttableProxy) -> None:
    proxy.cut()
    url = fresh_postgres_url("away").replace(f"@{POSTGRES[0]}:{POSTGRES[1]}/", f"@127.0.0.1:{proxy.port}/")
    result = subprocess.run([sys.executable, "-m", "cove", "serve", "--port", str(free_port()),
                             "--database-url", url, "--workers", "2"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and f"127.0.0.1:{proxy.port}" in errors[0], result.stderr
    assert "Traceback" not in result.stdout + result.stderr
