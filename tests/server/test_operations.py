"""Running `cove serve` for real: logs, request ids, /health and /ready, metrics, COVE_* variables,
proxy headers, the public URL and graceful shutdown. Every test drives a real server process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Sandbox, database_url_for, free_port
from prometheus_client.parser import text_string_to_metric_families
from realtime_support import Raw, on_create

pytestmark = pytest.mark.both_backends

NOTE_SCHEMA = """
from cove import a, define_data

schema = a.schema({
    "Note": a.model({"title": a.string().required(), "body": a.string()}),
}).authorization(lambda allow: [allow.public_api_key()])
data = define_data(schema=schema)
"""

# A user pool, API keys and a Lambda authorizer that is slow for "slow-..." tokens and, for a JWT it
# does not know, raises an error whose message (and so traceback) carries the token.
SECRETS_SCHEMA = """
from cove import a, define_auth, define_data

schema = a.schema({
    "Note": a.model({"body": a.string()}).authorization(
        lambda allow: [allow.authenticated(), allow.public_api_key(), allow.custom()]),
})
auth = define_auth(login_with={"email": True}, require_confirmation=False)  # serve would require a code
data = define_data(schema=schema, authorization_modes={
    "default_authorization_mode": "user_pool",
    "lambda_authorization_mode": {"function": "gatekeeper:check", "time_to_live_in_seconds": 0},
})
"""
GATEKEEPER = """
import asyncio

async def check(event):
    token = event["authorizationToken"]
    if token.startswith("slow-"):
        await asyncio.sleep(float(token[5:]))
        return {"isAuthorized": True}
    raise RuntimeError(f"cannot check the token {token} (password=Hunter2-Secret!)")
"""
PASSWORD = "Hunter2-Secret!"
FOREIGN_JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJtYWxsb3J5IiwiZXhwIjo0MTAyNDQ0ODAwfQ."
               "c2lnbmF0dXJlLW5vdC12YWxpZC1hdC1hbGwtc2VjcmV0")


class Server(Sandbox):
    """A `cove serve` process (the conftest Sandbox's helpers, with output read line by line)."""

    def wait_for(self, words: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if words in line:
                    return line
            if self.process.poll() is not None:
                raise RuntimeError("server exited:\n" + "".join(self.lines))
            time.sleep(0.02)
        raise TimeoutError(f"no {words!r} in:\n" + "".join(self.lines))

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines if line.strip()]

    def access(self) -> list[dict[str, Any]]:
        return [entry for entry in self.json_lines() if entry.get("logger") == "cove.access"]


def write_schema(folder: Path, text: str, **modules: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in modules.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
    path = folder / "schema.py"
    path.write_text(textwrap.dedent(text))
    return path


def serve(tmp: Path, schema: Path | None, *args: str, env: dict[str, str] | None = None, port: int | None = None,
          command: str = "serve", wait: bool = True, database_url: str | None = None) -> Server:
    """`cove serve` in ``tmp``; with ``database_url`` (unless the arguments or ``env`` give one) on PostgreSQL."""
    port = port or free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "cove", command]
    if schema is not None:
        cmd.append(str(schema))
    if "--port" not in args and not (env and "COVE_PORT" in env):
        cmd += ["--port", str(port)]
    if "--data-dir" not in args and not (env and "COVE_DATA_DIR" in env):
        cmd += ["--data-dir", str(tmp / "data")]
    if "--outputs" not in args and not (env and "COVE_OUTPUTS" in env):
        cmd += ["--outputs", str(tmp / "amplify_outputs.json")]
    if database_url is not None and "--database-url" not in args and not (env and "COVE_DATABASE_URL" in env):
        cmd += ["--database-url", database_url]
    cmd += list(args)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("COVE_")}
    full_env.update(PYTHONUNBUFFERED="1", **(env or {}))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=full_env, cwd=tmp)
    box = Server(proc, port, tmp / "data", tmp / "amplify_outputs.json", database_url=database_url)
    box.drain()
    if wait:
        try:
            box.wait_for("Ready in")
        except BaseException:
            box.stop()
            raise
    return box


def _servers(backend: str) -> Any:
    started: list[Server] = []

    def start(*args: Any, **kw: Any) -> Server:
        if "database_url" not in kw:
            kw["database_url"] = database_url_for(backend)  # a fresh schema per server on PostgreSQL
        box = serve(*args, **kw)
        started.append(box)
        return box

    yield start
    for box in started:
        box.stop()


@pytest.fixture
def servers(backend: str) -> Any:
    """Starts `cove serve` processes on the test's backend (both, in this module) and stops them."""
    yield from _servers(backend)


@pytest.fixture
def sqlite_servers() -> Any:
    """The same, for tests about the SQLite file itself."""
    yield from _servers("sqlite")


def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


# -- logs -------------------------------------------------------------------------------------------

def test_json_logs_carry_no_secret_sent_anywhere(tmp_path: Path, servers: Any) -> None:
    from authkit import idp

    schema = write_schema(tmp_path / "app", SECRETS_SCHEMA, gatekeeper=GATEKEEPER)
    box = servers(tmp_path, schema, "--log-format", "json")
    api_key = box.api_key
    client_id = box.outputs["auth"]["user_pool_client_id"]
    pool = idp(box)
    pool.sign_up(ClientId=client_id, Username="ada@example.com", Password=PASSWORD)
    tokens = pool.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                AuthParameters={"USERNAME": "ada@example.com", "PASSWORD": PASSWORD})
    result = tokens["AuthenticationResult"]
    secrets = [api_key, PASSWORD, result["AccessToken"], result["IdToken"], result["RefreshToken"], FOREIGN_JWT]

    query = "mutation M { createNote(input: {body: \"x\"}) { id } }"
    assert box.post(query, headers={"x-api-key": None, "authorization": result["AccessToken"]}).json()["data"]
    assert box.post(query).status_code == 200
    # Secrets where they do not belong: as the request id, in the path, in a broken body, in a token
    # the Lambda authorizer chokes on (its traceback quotes it).
    echoed = box.post(query, headers={"x-request-id": api_key})
    assert echoed.headers["x-request-id"] != api_key
    httpx.get(f"http://127.0.0.1:{box.port}/{api_key}/{result['IdToken']}")
    box.post("", raw=b'{"query": "' + PASSWORD.encode() + b'", "password": ' + api_key.encode())
    crashed = box.post(query, headers={"x-api-key": None, "authorization": FOREIGN_JWT})
    assert crashed.status_code == 401
    httpx.post(box.outputs["custom"]["cove"]["user_pool_endpoint"], content=b'{"Password": "' + PASSWORD.encode(),
               headers={"x-amz-target": "AWSCognitoIdentityProviderService.InitiateAuth",
                        "content-type": "application/x-amz-json-1.1"})
    pool.initiate_auth(ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                       AuthParameters={"REFRESH_TOKEN": result["RefreshToken"]})

    wait_until(lambda: any("traceback" in entry for entry in box.json_lines()))
    wait_until(lambda: len(box.access()) >= 8)
    entries = box.json_lines()  # every line of the process's output is a JSON object
    text = "".join(box.lines)
    for secret in secrets:
        assert secret not in text, f"a secret ({secret[:8]}...) is in the log"
    failure = next(entry for entry in entries if "traceback" in entry)
    assert failure["level"] == "error" and "RuntimeError" in failure["traceback"]
    assert "[redacted]" in failure["traceback"]
    statuses = [(e["method"], e["path"], e["status"], e["auth_mode"]) for e in box.access()]
    assert ("POST", "/graphql", 200, "user_pool") in statuses and ("POST", "/graphql", 200, "api_key") in statuses
    assert ("POST", "/graphql", 401, None) in statuses
    first = box.access()[0]
    assert set(first) >= {"time", "method", "path", "operation", "status", "duration_ms", "auth_mode", "request_id"}


def test_text_access_log_and_request_ids(tmp_path: Path, servers: Any) -> None:
    schema = write_schema(tmp_path / "app", NOTE_SCHEMA)
    box = servers(tmp_path, schema)
    mine = box.post("query Mine { listNotes { items { id } } }", headers={"x-request-id": "trace-42.a:b"})
    assert mine.headers["x-request-id"] == "trace-42.a:b" == mine.headers["x-amzn-requestid"]
    made = box.post("{ listNotes { items { id } } }")
    assert len(made.headers["x-request-id"]) == 32
    forged = box.post("{ listNotes { items { id } } }", headers={"x-request-id": "a b\tINFO forged"})
    assert len(forged.headers["x-request-id"]) == 32
    too_long = box.post("{ listNotes { items { id } } }", headers={"x-request-id": "x" * 129})
    assert len(too_long.headers["x-request-id"]) == 32
    assert box.post("{ listNotes { items { id } } }", api_key="da2-wrong").status_code == 401
    line = box.wait_for("request_id=trace-42.a:b")
    assert " POST /graphql listNotes(Mine) 200 " in line and " api_key " in line and "ms " in line
    box.wait_for(f"request_id={forged.headers['x-request-id']}")
    assert not any("forged" in entry for entry in box.lines)
    box.wait_for(" POST /graphql - 401 ")
    # `cove serve` does not print the API key (the sandbox does; see test_sandbox)
    assert box.api_key not in "".join(box.lines)
    assert any("API key" in entry and "amplify_outputs.json" in entry for entry in box.lines)


def test_log_level_warning_hides_the_access_log(tmp_path: Path, servers: Any) -> None:
    schema = write_schema(tmp_path / "app", NOTE_SCHEMA)
    box = servers(tmp_path, schema, "--log-level", "warning")
    assert box.post("{ listNotes { items { id } } }").status_code == 200
    time.sleep(0.3)
    assert not any("cove.access" in line for line in box.lines)


# -- health, readiness, metrics ------------------------------------------------------------------

def test_health_and_ready(tmp_path: Path, servers: Any) -> None:
    schema = write_schema(tmp_path / "app", NOTE_SCHEMA)
    box = servers(tmp_path, schema)
    base = f"http://127.0.0.1:{box.port}"
    assert httpx.get(base + "/health").json() == {"status": "ok"}
    ready = httpx.get(base + "/ready")
    assert ready.status_code == 200
    checks = {"database": "ok", "migrations": "ok", "api_key": "ok"}
    if box.database_url is not None:
        checks["broker"] = "ok"  # with a database URL, events cross processes through its LISTEN/NOTIFY
    assert ready.json() == {"status": "ready", "checks": checks}


def test_ready_fails_when_the_database_file_is_removed_or_replaced(tmp_path: Path, sqlite_servers: Any) -> None:
    schema = write_schema(tmp_path / "app", NOTE_SCHEMA)
    box = sqlite_servers(tmp_path, schema)
    base = f"http://127.0.0.1:{box.port}"
    database = box.data_dir / "data.sqlite"
    moved = database.with_suffix(".moved")
    database.rename(moved)
    gone = httpx.get(base + "/ready")
    assert gone.status_code == 503 and gone.json()["status"] == "not ready"
    assert "is gone" in gone.json()["checks"]["database"]
    assert httpx.get(base + "/health").status_code == 200  # the process is up; it just must not get traffic
    # A different file at the same path (say, a restore while serving): the server still writes the old one.
    sqlite3.connect(database).execute("CREATE TABLE x (y)").connection.close()
    replaced = httpx.get(base + "/ready")
    assert replaced.status_code == 503 and "was replaced" in replaced.json()["checks"]["database"]


def test_ready_fails_while_a_migration_is_pending(tmp_path: Path, servers: Any) -> None:
    from cove.schema.loader import SchemaSource
    from cove.store import open_backend

    schema = write_schema(tmp_path / "app", NOTE_SCHEMA)
    box = servers(tmp_path, schema)
    assert httpx.get(f"http://127.0.0.1:{box.port}/ready").status_code == 200
    # Another process puts an older layout in place (a rollback that dropped Note.body).
    older = write_schema(tmp_path / "older", NOTE_SCHEMA.replace(', "body": a.string()', ""))

    async def apply(layout: Path) -> None:
        backend = open_backend(box.database_url or box.data_dir, create=False)
        await backend.migrator.apply_schema(SchemaSource(str(layout)).load().schema, allow_destructive=True)
        await backend.close()

    asyncio.run(apply(older))
    ready = httpx.get(f"http://127.0.0.1:{box.port}/ready")
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    if box.database_url is None:
        assert checks == {"database": "ok", "api_key": "ok", "migrations": "the database layout does not match the "
                          "served schema: field Note.body has no column (pending migration)"}
    else:  # PostgreSQL counts what `cove migrate` would run (the broker is its LISTEN/NOTIFY)
        assert checks.pop("migrations") in ("1 statement pending for the served schema (run `cove migrate`)",
                                            "1 statements pending for the served schema (run `cove migrate`)")
        assert checks == {"database": "ok", "api_key": "ok", "broker": "ok"}
    # A table dropped behind the server's back (the recorded layout still lists it).
    if box.database_url is None:
        with sqlite3.connect(box.data_dir / "data.sqlite") as conn:
            conn.execute("DROP TABLE Note")
    else:  # from the served layout again, so that the count of pending statements comes from the drop
        from pg_support import run_sql

        asyncio.run(apply(schema))
        assert httpx.get(f"http://127.0.0.1:{box.port}/ready").status_code == 200
        run_sql(box.database_url, 'DROP TABLE "Note"')
    dropped = httpx.get(f"http://127.0.0.1:{box.port}/ready")
    assert dropped.status_code == 503
    if box.database_url is None:
        assert dropped.json()["checks"]["migrations"].endswith("model Note has no table (pending migration)")
    else:
        assert dropped.json()["checks"]["migrations"].endswith("pending for the served schema (run `cove migrate`)")


def test_ready_fails_when_the_broker_is_gone(tmp_path: Path, servers: Any) -> None:
    pytest.importorskip("redis")
    redis_port = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _accepts(redis_port))
        schema = write_schema(tmp_path / "app", NOTE_SCHEMA)
        box = servers(tmp_path, schema, "--broker-url", f"redis://127.0.0.1:{redis_port}/0")
        ready = httpx.get(f"http://127.0.0.1:{box.port}/ready")
        assert ready.status_code == 200 and ready.json()["checks"]["broker"] == "ok"
        redis.terminate()
        redis.wait(10)
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{box.port}/ready").status_code == 503)
        assert "not connected" in httpx.get(f"http://127.0.0.1:{box.port}/ready").json()["checks"]["broker"]
    finally:
        if redis.poll() is None:
            redis.kill()
            redis.wait()


def _accepts(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _scrape(port: int) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def test_metrics_after_a_known_number_of_requests(tmp_path: Path, servers: Any) -> None:
    metrics_port = free_port()
    box = servers(tmp_path, None, "--metrics-port", str(metrics_port))
    for _ in range(5):
        assert "errors" not in box.gql("{ listTodos { items { id } } }")
    for _ in range(3):
        box.gql('mutation { createTodo(input: {content: "c"}) { id } }')
    assert "errors" in box.gql("{ getTodo(id: 1) { nope } }")
    for _ in range(2):
        assert box.post("{ listTodos { items { id } } }", api_key="da2-wrong").status_code == 401
    raw = Raw(box)
    raw.init()
    raw.subscribe("s1", on_create("id content"))
    try:
        box.gql('mutation { createTodo(input: {content: "d"}) { id } }')
        raw.expect("data")
        got = _scrape(metrics_port)
    finally:
        raw.close()
    requests = got["cove_requests_total"]
    assert requests[(("auth_mode", "api_key"), ("operation", "listTodos"), ("outcome", "success"))] == 5
    assert requests[(("auth_mode", "api_key"), ("operation", "createTodo"), ("outcome", "success"))] == 4
    assert requests[(("auth_mode", "api_key"), ("operation", "invalid"), ("outcome", "graphql_error"))] == 1
    assert requests[(("auth_mode", "none"), ("operation", "-"), ("outcome", "client_error"))] == 2
    assert got["cove_request_duration_seconds_count"][(("operation", "listTodos"),)] == 5
    assert got["cove_request_duration_seconds_bucket"][(("le", "+Inf"), ("operation", "createTodo"))] == 4
    assert got["cove_websocket_connections"][()] == 1
    assert got["cove_subscriptions"][()] == 1
    assert got["cove_events_published_total"][()] == 4
    assert got["cove_events_dropped_total"][(("reason", "slow_consumer"),)] == 0
    assert got["cove_db_pool_connections"][(("state", "idle"),)] == 1
    wait_until(lambda: _scrape(metrics_port)["cove_websocket_connections"][()] == 0)
    # Not on the API port: metrics tell outsiders what the API is used for.
    assert httpx.get(f"http://127.0.0.1:{box.port}/metrics").status_code == 404


# -- configuration --------------------------------------------------------------------------------

def test_environment_variables_configure_serve_and_flags_win(tmp_path: Path, servers: Any, backend: str) -> None:
    schema = write_schema(tmp_path / "app", NOTE_SCHEMA)
    env_port, flag_port = free_port(), free_port()
    database_url = database_url_for(backend)
    env = {"COVE_SCHEMA": str(schema), "COVE_PORT": str(env_port), "COVE_DATA_DIR": str(tmp_path / "envdata"),
           "COVE_OUTPUTS": str(tmp_path / "env_outputs.json"), "COVE_LOG_FORMAT": "json",
           "COVE_PUBLIC_URL": "https://notes.example.com/graphql"}
    if database_url is not None:
        env["COVE_DATABASE_URL"] = database_url
    box = servers(tmp_path, None, env=env, port=env_port, database_url=database_url)
    box.outputs_path = tmp_path / "env_outputs.json"
    assert box.outputs["data"]["url"] == "https://notes.example.com/graphql"
    # SQLite lives in the data dir; with COVE_DATABASE_URL nothing does.
    assert (tmp_path / "envdata" / "data.sqlite").exists() == (box.database_url is None)
    assert httpx.get(f"http://127.0.0.1:{env_port}/health").status_code == 200
    assert all(isinstance(entry, dict) for entry in box.json_lines())
    box.stop()
    flagged = servers(tmp_path, None, "--port", str(flag_port), "--log-format", "text", env=env, port=flag_port,
                      database_url=database_url)
    assert httpx.get(f"http://127.0.0.1:{flag_port}/health").status_code == 200
    assert any(line.startswith("Cove serving") for line in flagged.lines)


def test_a_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVE_")}
    bad = subprocess.run([sys.executable, "-m", "cove", "serve", "--data-dir", str(tmp_path)], capture_output=True,
                         text=True, env={**env, "COVE_PORT": "eighty", "COVE_TLS": "maybe"}, timeout=60)
    assert bad.returncode == 2
    assert "COVE_PORT='eighty'" in bad.stderr
    # The flag wins, so a bad variable it overrides is never used.
    ok = subprocess.run([sys.executable, "-m", "cove", "serve", "--help"], capture_output=True, text=True,
                        env={**env, "COVE_PORT": "eighty"}, timeout=60)
    assert ok.returncode == 0 and "[env COVE_PORT]" in ok.stdout


def test_proxy_headers_count_only_from_allowed_addresses(tmp_path: Path, servers: Any) -> None:
    schema = write_schema(tmp_path / "app", NOTE_SCHEMA)
    forwarded = {"x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https"}
    trusting = servers(tmp_path / "a", schema, "--log-format", "json", "--forwarded-allow-ips", "127.0.0.1")
    distrusting = servers(tmp_path / "b", schema, "--log-format", "json", "--forwarded-allow-ips", "10.1.2.3")
    default = servers(tmp_path / "c", schema, "--log-format", "json")
    for box in (trusting, distrusting, default):
        assert box.post("{ listNotes { items { id } } }", headers=forwarded).status_code == 200
        wait_until(lambda box=box: bool(box.access()))
    seen = [(box.access()[0]["client"], box.access()[0]["scheme"]) for box in (trusting, distrusting, default)]
    assert seen == [("203.0.113.9", "https"), ("127.0.0.1", "http"), ("127.0.0.1", "http")]


def test_public_url_and_all_interfaces_in_the_outputs(tmp_path: Path, servers: Any) -> None:
    schema = write_schema(tmp_path / "app", SECRETS_SCHEMA, gatekeeper=GATEKEEPER)
    public = servers(tmp_path / "a", schema, "--public-url", "https://api.example.com/graphql")
    outputs = public.outputs
    assert outputs["data"]["url"] == "https://api.example.com/graphql"
    cove = outputs["custom"]["cove"]
    assert cove["user_pool_endpoint"].startswith("https://api.example.com/")
    assert cove["user_pool_issuer"].startswith("https://api.example.com/")
    assert any("https://api.example.com/graphql" in line for line in public.lines)
    everywhere = servers(tmp_path / "b", schema, "--host", "0.0.0.0")
    text = everywhere.outputs_path.read_text()
    assert "127.0.0.1" not in text and "0.0.0.0" not in text
    assert everywhere.outputs["data"]["url"].endswith(f":{everywhere.port}/graphql")
    assert httpx.get(f"http://127.0.0.1:{everywhere.port}/health").status_code == 200


# -- shutdown -------------------------------------------------------------------------------------

def test_sigterm_finishes_requests_in_flight_and_closes_websockets(tmp_path: Path, servers: Any) -> None:
    schema = write_schema(tmp_path / "app", SECRETS_SCHEMA, gatekeeper=GATEKEEPER)
    box = servers(tmp_path, schema)
    raw = Raw(box)
    raw.init()
    answer: dict[str, Any] = {}

    def slow() -> None:
        answer["response"] = box.post("{ listNotes { items { id } } }",
                                      headers={"x-api-key": None, "authorization": "slow-1.5"})

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.5)  # the request is in the authorizer now
    box.process.send_signal(signal.SIGTERM)
    code, _ = raw.closed(timeout=5)
    assert code == 1012  # "service restart": clients reconnect elsewhere
    wait_until(lambda: not _accepts(box.port), timeout=2)  # no new connections
    thread.join(10)
    assert answer["response"].status_code == 200 and answer["response"].json()["data"] == {"listNotes": {"items": []}}
    assert answer["response"].headers.get("connection") == "close"   # the server is going: not kept alive
    assert box.process.wait(10) == 0
    assert box.lines[-1].strip() == "Stopped."


def test_sigterm_gives_up_on_requests_after_the_deadline(tmp_path: Path, servers: Any) -> None:
    schema = write_schema(tmp_path / "app", SECRETS_SCHEMA, gatekeeper=GATEKEEPER)
    box = servers(tmp_path, schema, "--shutdown-timeout", "0.5")
    thread = threading.Thread(target=lambda: _ignore(lambda: box.post(
        "{ listNotes { items { id } } }", headers={"x-api-key": None, "authorization": "slow-30"})))
    thread.start()
    time.sleep(0.5)
    stopped = time.monotonic()
    box.process.send_signal(signal.SIGTERM)
    box.process.wait(10)
    assert time.monotonic() - stopped < 5
    thread.join(10)


def _ignore(call: Any) -> None:
    try:
        call()
    except httpx.HTTPError:
        pass


def test_workers_each_serve_metrics_and_stop_on_sigterm(tmp_path: Path, servers: Any) -> None:
    metrics_port = free_port()
    while _accepts(metrics_port + 1):
        metrics_port = free_port()
    box = servers(tmp_path, None, "--workers", "2", "--metrics-port", str(metrics_port))
    assert box.api_key not in "".join(box.lines)
    for port in (metrics_port, metrics_port + 1):
        wait_until(lambda port=port: _accepts(port))
        assert "cove_requests_total" in httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert box.gql("{ listTodos { items { id } } }")["data"]
    box.process.send_signal(signal.SIGTERM)
    assert box.process.wait(15) == 0


@pytest.mark.parametrize(("mistake", "words"), [
    ('.authorization(lambda allow: [allow.public_api_key()])', "missing authorization rules"),  # a SchemaError
    ("a.string().required()", "strnig"),                                                      # a crash
])
def test_a_start_up_error_is_a_json_line_too(tmp_path: Path, mistake: str, words: str) -> None:
    wrong = "" if mistake.startswith(".authorization") else "a.strnig()"
    broken = write_schema(tmp_path / "app", NOTE_SCHEMA.replace(mistake, wrong))
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVE_")}
    run = subprocess.run([sys.executable, "-m", "cove", "serve", str(broken), "--log-format", "json", "--port",
                          str(free_port()), "--data-dir", str(tmp_path / "data"), "--outputs",
                          str(tmp_path / "out.json")], capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode != 0
    lines = [json.loads(line) for line in (run.stdout + run.stderr).splitlines() if line.strip()]
    assert lines and lines[-1]["level"] in ("error", "critical")
    assert words in "".join(entry["message"] + entry.get("traceback", "") for entry in lines)


def test_access_lines_of_the_last_requests_are_written_on_sigterm(tmp_path: Path, servers: Any) -> None:
    schema = write_schema(tmp_path / "app", NOTE_SCHEMA)
    box = servers(tmp_path, schema, "--log-format", "json")
    ids = [box.post("{ listNotes { items { id } } }").headers["x-request-id"] for _ in range(3)]
    box.process.send_signal(signal.SIGTERM)  # at once: the lines may still be in the batch
    assert box.process.wait(10) == 0
    time.sleep(0.2)
    assert [entry["request_id"] for entry in box.access()] == ids


def test_cove_data_dir_reaches_the_management_commands(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVE_")}
    env["COVE_DATA_DIR"] = str(tmp_path / "elsewhere")
    made = subprocess.run([sys.executable, "-m", "cove", "keys", "create", "--create"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=60)
    assert made.returncode == 0 and made.stdout.startswith("da2-")
    assert (tmp_path / "elsewhere" / "data.sqlite").exists() and not (tmp_path / ".cove").exists()
    listed = subprocess.run([sys.executable, "-m", "cove", "keys", "--data-dir", str(tmp_path / "other"), "--create",
                             "list"],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert listed.returncode == 0 and made.stdout.strip() not in listed.stdout  # the flag wins
