"""Shared fixtures: real `cove sandbox` processes on real sockets.

A test module marked ``pytestmark = pytest.mark.both_backends`` runs every test whose servers come from
these fixtures (``sandbox``, ``sandbox_factory``, or ``start_sandbox(..., backend=backend)``) twice: on
SQLite in the server's data dir and on PostgreSQL, in a fresh schema per server (pg_support.py); the
test ids say which (``[sqlite]``/``[postgres]``). ``COVE_TEST_BACKENDS=sqlite`` (or ``postgres``)
narrows a run to one. Unmarked modules run on SQLite only, as before."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

EXAMPLES = Path(__file__).parent / "schemas"
BACKENDS = ("sqlite", "postgres")


def selected_backends() -> list[str]:
    """The backends a run covers: all of them, unless COVE_TEST_BACKENDS names some."""
    wanted = [name.strip() for name in os.environ.get("COVE_TEST_BACKENDS", ",".join(BACKENDS)).split(",")]
    chosen = [name for name in BACKENDS if name in wanted]
    if set(wanted) - set(BACKENDS) - {""} or not chosen:
        raise pytest.UsageError(f"COVE_TEST_BACKENDS={os.environ['COVE_TEST_BACKENDS']!r}: give one or more of "
                                f"{', '.join(BACKENDS)}, separated by commas")
    return chosen


def database_url_for(backend: str) -> str | None:
    """What `--database-url` a server on ``backend`` gets: None (SQLite in its data dir) or a new schema."""
    if backend == "sqlite":
        return None
    if backend == "postgres":
        from pg_support import fresh_postgres_url

        return fresh_postgres_url("sb")
    raise ValueError(f"unknown backend {backend!r}; give one of {BACKENDS}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Sandbox:
    """A running `cove sandbox` subprocess."""

    process: subprocess.Popen[str]
    port: int
    data_dir: Path
    outputs_path: Path
    lines: list[str] = field(default_factory=list)
    database_url: str | None = None  # None: SQLite in data_dir

    def data_args(self) -> list[str]:
        """The options that point a management command (`cove users`, `keys`, `iam`) at this server's data."""
        if self.database_url is None:
            return ["--data-dir", str(self.data_dir)]
        return ["--database-url", self.database_url]

    @property
    def outputs(self) -> dict:
        return json.loads(self.outputs_path.read_text())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    @property
    def api_key(self) -> str:
        return str(self.outputs["data"]["api_key"])

    def post(self, query: str, variables: dict | None = None, *, api_key: str | None = None,
             headers: dict | None = None, raw: bytes | None = None) -> httpx.Response:
        """POST a GraphQL request over a real socket, as the aws-amplify client does."""
        hdrs = {"content-type": "application/json; charset=UTF-8", "x-api-key": self.api_key if api_key is None else api_key}
        if headers is not None:
            hdrs = {**{k: v for k, v in hdrs.items() if k not in headers}, **headers}
            hdrs = {k: v for k, v in hdrs.items() if v is not None}
        body = raw if raw is not None else json.dumps({"query": query, "variables": variables}).encode()
        return httpx.post(self.url, content=body, headers=hdrs, timeout=30)

    def gql(self, query: str, variables: dict | None = None, **kw: object) -> dict:
        """POST and return the JSON body of a 200 response."""
        response = self.post(query, variables, **kw)  # type: ignore[arg-type]
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for_line(self, prefix: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                if self.process.poll() is not None:
                    raise RuntimeError("sandbox exited:\n" + "".join(self.lines))
                continue
            self.lines.append(line)
            if line.strip().startswith(prefix):
                return line
        raise TimeoutError(f"no line starting with {prefix!r}; got:\n" + "".join(self.lines))

    def drain(self) -> None:
        """Keep reading the server's output so a chatty server never blocks on a full pipe."""

        def pump() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.lines.append(line)

        threading.Thread(target=pump, daemon=True).start()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_sandbox(tmp: Path, schema: str | Path | None = None, *extra: str, port: int | None = None,
                  data_dir: Path | None = None, command: str = "sandbox",
                  env_extra: dict[str, str] | None = None, backend: str = "sqlite",
                  database_url: str | None = None) -> Sandbox:
    """`cove sandbox` (or ``command="serve"``) in ``tmp``, with ``env_extra`` added to the environment.

    On ``backend="postgres"`` the server gets a fresh PostgreSQL schema, unless ``database_url`` names
    one to share (several servers on one database)."""
    port = port or free_port()
    if database_url is None:
        database_url = database_url_for(backend)
    data_dir = data_dir or tmp / "data"
    outputs = tmp / "amplify_outputs.json"
    cmd = [sys.executable, "-m", "cove", command]
    if schema is not None:
        cmd.append(str(schema))
    cmd += ["--port", str(port), "--data-dir", str(data_dir), "--outputs", str(outputs), *extra]
    if database_url is not None:
        cmd += ["--database-url", database_url]
    # The backend is the test's choice, never a COVE_DATABASE_URL left in the developer's shell.
    inherited = {name: value for name, value in os.environ.items() if name != "COVE_DATABASE_URL"}
    env = dict(inherited, PYTHONUNBUFFERED="1", **(env_extra or {}))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            cwd=tmp)
    box = Sandbox(proc, port, data_dir, outputs, database_url=database_url)
    try:
        box.wait_for_line("Ready", timeout=30.0)
    except BaseException:
        box.stop()
        raise
    box.drain()
    return box


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_backends: run the module's servers on SQLite and on PostgreSQL")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """In a module marked both_backends, every test whose servers depend on ``backend`` runs once per
    backend; module-scoped, so a module's shared server is started once per backend, not per test."""
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_backends"):
        metafunc.parametrize("backend", selected_backends(), scope="module")


@pytest.fixture(scope="session")
def backend() -> str:
    """The database the fixtures' servers use: SQLite unless the module is marked both_backends."""
    return "sqlite"


@pytest.fixture
def sandbox_factory(tmp_path: Path, backend: str) -> Iterator:
    started: list[Sandbox] = []

    def factory(schema: str | Path | None = None, *extra: str, **kw: object) -> Sandbox:
        sub = tmp_path / f"sb{len(started)}"
        sub.mkdir(exist_ok=True)
        kw.setdefault("backend", backend)
        box = start_sandbox(sub, schema, *extra, **kw)  # type: ignore[arg-type]
        started.append(box)
        return box

    yield factory
    for box in started:
        box.stop()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Iterator[Sandbox]:
    """One sandbox on the bundled example schema, shared by a test module (per backend)."""
    box = start_sandbox(tmp_path_factory.mktemp("sandbox"), backend=backend)
    yield box
    box.stop()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop the PostgreSQL schemas the run's tests made (pg_support.fresh_postgres_url)."""
    from pg_support import drop_test_schemas

    drop_test_schemas()
