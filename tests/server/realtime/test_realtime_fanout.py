"""Fan-out across server processes: two servers sharing one database (the SQLite file, or a
PostgreSQL schema) and one broker; a mutation on one reaches subscribers on the other. With Redis pub/sub, and again with
PostgreSQL LISTEN/NOTIFY (the PostgreSQL and Redis of the test machine, at 127.0.0.1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Sandbox, database_url_for, free_port, start_sandbox
from realtime_support import Raw, create_todo, on_create

import cove
from paths import TESTS

pytestmark = pytest.mark.both_backends

SCHEMA = TESTS / "schemas" / "realtime_schema.py"
REDIS_URL = os.environ.get("COVE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get("COVE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BROKERS = {"redis": REDIS_URL, "postgres": POSTGRES_URL}


def tag() -> str:
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture(params=list(BROKERS), scope="module")
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         backend: str) -> Iterator[tuple[Sandbox, Sandbox]]:
    """Two sandboxes on one database (SQLite: one data directory; PostgreSQL: one schema, and a data
    directory each) and one broker."""
    url = BROKERS[request.param]
    root = tmp_path_factory.mktemp(f"fanout-{request.param}")
    database_url = database_url_for(backend)
    shared_data = root / "data"
    (root / "a").mkdir()
    (root / "b").mkdir()
    a = start_sandbox(root / "a", SCHEMA, "--no-watch", "--broker-url", url, database_url=database_url,
                      data_dir=shared_data if database_url is None else root / "a" / "data")
    try:
        b = start_sandbox(root / "b", SCHEMA, "--no-watch", "--broker-url", url, database_url=database_url,
                          data_dir=shared_data if database_url is None else root / "b" / "data")
    except BaseException:
        a.stop()
        raise
    yield a, b
    a.stop()
    b.stop()


def test_the_broker_is_announced(pair: tuple[Sandbox, Sandbox]) -> None:
    a, _ = pair
    events = [line for line in a.lines if line.strip().startswith("Events")]
    assert events and ("Redis" in events[0] or "PostgreSQL" in events[0]), a.lines
    assert "cove_events_" in events[0]


def test_subscribe_on_one_mutate_on_the_other(pair: tuple[Sandbox, Sandbox]) -> None:
    a, b = pair
    t = tag()
    on_a, on_b = Raw(a), Raw(b)
    for conn in (on_a, on_b):
        conn.init()
        conn.subscribe("s", on_create("id content"), {"filter": {"content": {"beginsWith": t}}})
    made_on_b = create_todo(b, fields="id content", content=t + " from b")
    made_on_a = create_todo(a, fields="id content", content=t + " from a")
    for conn in (on_a, on_b):
        got = sorted(conn.expect("data")["payload"]["data"]["onCreateTodo"]["content"] for _ in range(2))
        assert got == [made_on_a["content"], made_on_b["content"]]
        conn.nothing(0.3)  # exactly once each: no echo through the broker plus a local copy
        conn.close()


def test_filters_and_authorization_apply_on_the_receiving_process(pair: tuple[Sandbox, Sandbox]) -> None:
    a, b = pair
    t = tag()
    conn = Raw(a)
    conn.init()
    conn.subscribe("high", on_create("content priority"), {"filter": {"content": {"beginsWith": t},
                                                                     "priority": {"eq": "high"}}})
    conn.start("drop", on_create("id body", "Drop"))
    assert conn.expect("error")["payload"]["errors"][0]["errorType"] == "Unauthorized"
    create_todo(b, content=t + " low", priority="low")
    create_todo(b, content=t + " high", priority="high")
    assert conn.expect("data")["payload"]["data"]["onCreateTodo"] == {"content": t + " high", "priority": "high"}
    conn.nothing(0.3)
    conn.close()


def test_large_and_non_ascii_events_cross_the_broker(pair: tuple[Sandbox, Sandbox]) -> None:
    # PostgreSQL limits a NOTIFY payload to 8000 bytes: larger events travel in chunks
    a, b = pair
    t = tag()
    conn = Raw(a)
    conn.init()
    conn.subscribe("s", on_create("id content"), {"filter": {"content": {"beginsWith": t}}})
    big_ascii = t + "a" * 50_000
    big_unicode = t + "é€😀" * 9_000
    create_todo(b, fields="id content", content=big_ascii)
    create_todo(b, fields="id content", content=big_unicode)
    got = [conn.expect("data")["payload"]["data"]["onCreateTodo"]["content"] for _ in range(2)]
    assert got == [big_ascii, big_unicode]
    conn.close()


def test_cove_clients_on_both_processes(pair: tuple[Sandbox, Sandbox]) -> None:
    a, b = pair
    t = tag()
    ca = cove.generate_client(config=a.outputs_path)
    cb = cove.generate_client(config=b.outputs_path)
    obs = iter(ca.models.Todo.observe_query(filter={"content": {"beginsWith": t}}))
    assert next(obs).items == []
    cb.models.Todo.create({"content": t + " 1"})
    assert [r.content for r in next(obs).items] == [t + " 1"]
    ca.close()
    cb.close()


def test_an_unreachable_broker_stops_the_server_with_a_message(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.run([sys.executable, "-m", "cove", "sandbox", str(SCHEMA), "--no-watch", "--port", str(port),
                           "--data-dir", str(tmp_path / "data"), "--outputs", str(tmp_path / "o.json"),
                           "--broker-url", "redis://127.0.0.1:1/0"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "cannot reach the broker at redis://127.0.0.1:1/0" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "cove", "sandbox", "--port", str(port), "--data-dir",
                           str(tmp_path / "data2"), "--broker-url", "amqp://x"], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert proc.returncode == 1 and "unsupported --broker-url" in proc.stderr


def test_serve_with_workers_and_redis(tmp_path: Path) -> None:
    """`cove serve --workers 3 --broker-url redis://...`: the kernel spreads connections across the
    workers; every subscriber gets every event whichever worker took the mutation."""
    port = free_port()
    outputs = tmp_path / "amplify_outputs.json"
    proc = subprocess.Popen([sys.executable, "-m", "cove", "serve", str(SCHEMA), "--workers", "3", "--port", str(port),
                             "--data-dir", str(tmp_path / "data"), "--outputs", str(outputs),
                             "--broker-url", REDIS_URL], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith("Ready") or not line:
                break
        key = json.loads(outputs.read_text())["data"]["api_key"]
        box: Any = type("Box", (), {"outputs": json.loads(outputs.read_text()), "api_key": key})()
        t = tag()
        conns = []
        for i in range(6):  # spread over the workers
            deadline = time.monotonic() + 15
            while True:
                try:
                    conn = Raw(box)
                    conn.init()
                    break
                except (OSError, AssertionError):  # a worker still starting
                    assert time.monotonic() < deadline
                    time.sleep(0.1)
            conn.subscribe(f"s{i}", on_create("content"), {"filter": {"content": {"beginsWith": t}}})
            conns.append(conn)
        n = 9
        with httpx.Client(timeout=30) as http:
            for i in range(n):
                # a new connection each time, so different workers take the mutations
                r = http.post(f"http://127.0.0.1:{port}/graphql", headers={"x-api-key": key, "connection": "close"},
                              json={"query": "mutation ($i: CreateTodoInput!) { createTodo(input: $i) { id content } }",
                                    "variables": {"i": {"content": f"{t} {i}"}}})
                assert r.status_code == 200 and "errors" not in r.json(), r.text
        for conn in conns:
            got = sorted(conn.expect("data")["payload"]["data"]["onCreateTodo"]["content"] for _ in range(n))
            assert got == sorted(f"{t} {i}" for i in range(n))
            conn.close()
    finally:
        proc.terminate()
        proc.wait(20)
