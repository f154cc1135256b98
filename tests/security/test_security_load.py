"""One client can't stall or exhaust the server (security issue 8, part 4), tried as an attacker would,
over real sockets against real `cove sandbox` processes.

Concurrency is asserted on order (the small request finishes while the big one is still running),
never on wall-clock thresholds.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Sandbox, start_sandbox
from realtime_support import Raw, post_big_todos, read_until_closed, stalled_socket
from paths import TESTS
from pg_support import fresh_postgres_url, run_sql

SCHEMA = TESTS / "schemas" / "load_schema.py"
CREATE_POST = "createPost(input: {title: %s, blogId: %s}) { id }"


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sandbox = start_sandbox(tmp_path_factory.mktemp("load"), SCHEMA, "--no-watch",
                            "--limit", "handler_timeout=1", "--limit", "request_timeout=1")
    yield sandbox
    sandbox.stop()


def seed_blog(box: Sandbox, posts: int) -> str:
    blog = box.gql('mutation { createBlog(input: {name: "b"}) { id } }')["data"]["createBlog"]["id"]
    for start in range(0, posts, 20):  # 20 creates a request: the root-field limit
        fields = " ".join(f"p{i}: " + CREATE_POST % (json.dumps(f"post {i}"), json.dumps(blog))
                          for i in range(start, min(start + 20, posts)))
        body = box.gql("mutation { " + fields + " }")
        assert "errors" not in body, body
    return blog


def error_types(body: dict[str, Any]) -> list[str]:
    return [e.get("errorType") for e in body.get("errors") or ()]


def finishes_first(slow: Any, fast: Any, head_start: float = 0.2) -> list[str]:
    """Start ``slow()`` in a thread, wait ``head_start`` s, run ``fast()`` here: the order they finished."""
    order: list[str] = []
    results: dict[str, Any] = {}

    def run_slow() -> None:
        results["slow"] = slow()
        order.append("slow")

    thread = threading.Thread(target=run_slow)
    thread.start()
    time.sleep(head_start)
    results["fast"] = fast()
    order.append("fast")
    thread.join(60)
    return order


# ------------------------------------------------------------------------------ cost and shape budget

NESTED = ("query ($id: ID!) { getBlog(id: $id) { posts { items { blog { posts { items { blog { posts { items "
          "{ blog { posts { items { id } } } } } } } } } } } } }")


def test_nested_lists_past_the_cost_budget_are_refused_before_they_run(box: Sandbox) -> None:
    blog = seed_blog(box, 30)
    body = box.gql(NESTED, {"id": blog})
    assert body["data"] is None
    assert error_types(body) == ["QueryCostLimitExceeded"]
    assert "limit is 50000" in body["errors"][0]["message"]
    # One level of nesting is well within the budget and answers in full.
    ok = box.gql("query ($id: ID!) { getBlog(id: $id) { posts { items { title blog { name } } } } }", {"id": blog})
    assert "errors" not in ok and len(ok["data"]["getBlog"]["posts"]["items"]) == 30


def test_a_limit_from_a_variable_counts_with_its_value(box: Sandbox) -> None:
    seed_blog(box, 3)
    query = "query ($n: Int) { listPosts(limit: $n) { items { blog { posts { items { id } } } } } }"
    small = box.gql(query, {"n": 2})
    assert "errors" not in small and len(small["data"]["listPosts"]["items"]) == 2
    big = box.gql(query, {"n": 1000})  # 1000 posts x 100 posts of their blog: past the budget
    assert big["data"] is None and error_types(big) == ["QueryCostLimitExceeded"]
    # The costs kept per document are per value: each value gets its own answer again.
    for n, refused in ((2, False), (1000, True), (3, False), (1000, True), (None, False)):
        again = box.gql(query, {"n": n})
        assert ("errors" in again) is refused, (n, again)


ROOTS = " ".join(f"t{i}: getTodo(id: \"{i}\") {{ id }}" for i in range(21))
SPREADS = {
    "named fragment": "query { ...Many } fragment Many on Query { " + ROOTS + " }",
    "inline fragment": "query { ... on Query { " + ROOTS + " } }",
    "nested fragments": "query { ... on Query { ...A } } fragment A on Query { ...B } fragment B on Query { "
                        + ROOTS + " }",
}


@pytest.mark.parametrize("document", SPREADS.values(), ids=SPREADS.keys())
def test_root_fields_are_counted_after_fragment_expansion(box: Sandbox, document: str) -> None:
    body = box.gql(document)
    assert body["data"] is None and error_types(body) == ["RootFieldLimitExceeded"]
    assert "21 root fields" in body["errors"][0]["message"]


def test_a_fragment_lattice_is_measured_in_linear_time(box: Sandbox) -> None:
    # Each level spreads both fragments of the next: 2^40 paths through a 40-level document.
    levels = 40
    frags = [f"fragment A{i} on Todo {{ ...A{i + 1} ...B{i + 1} }} fragment B{i} on Todo {{ ...A{i + 1} ...B{i + 1} }}"
             for i in range(levels)]
    frags.append(f"fragment A{levels} on Todo {{ id }} fragment B{levels} on Todo {{ content }}")
    document = 'query { getTodo(id: "x") { ...A0 ...B0 } } ' + " ".join(frags)
    body = box.gql(document)
    assert body["data"] is None and error_types(body) == ["FieldLimitExceeded"]
    assert box.gql('query { getTodo(id: "x") { id } }') == {"data": {"getTodo": None}}


# ------------------------------------------------------------------------------ the loop stays responsive

def race_small_requests(box: Sandbox, todo: str, run_heavy: Any, at_once: int, answers: list[str]) -> tuple[int, int]:
    """Run ``run_heavy`` on ``at_once`` threads (each appends "heavy" to ``answers`` when its answer
    arrives) while one client sends getTodo after getTodo until all have answered. Returns the heavy
    and the small answers counted from when the small client started."""
    small = httpx.Client(timeout=30, headers={"x-api-key": box.api_key})
    small.post(box.url, json={"query": "{ listTodos(limit: 1) { nextToken } }"})  # connected before the race
    threads = [threading.Thread(target=run_heavy) for _ in range(at_once)]
    for thread in threads:
        thread.start()
    time.sleep(0.05)  # the heavy requests have reached the server
    answers.append("smalls start")
    while answers.count("heavy") < at_once:
        got = small.post(box.url, json={"query": "query ($id: ID!) { getTodo(id: $id) { content } }",
                                        "variables": {"id": todo}}).json()
        assert got == {"data": {"getTodo": {"content": "small"}}}
        answers.append("small")
    for thread in threads:
        thread.join(60)
    small.close()
    window = answers[answers.index("smalls start"):]
    return window.count("heavy"), window.count("small")


@pytest.fixture(scope="module")
def big_blog(box: Sandbox) -> str:
    return seed_blog(box, 300)


HEAVY = {
    # 300 posts x (their blog, 80 of its posts x each one's blog): just under the default budget.
    "query": ("query ($b: ID!) { listPosts(limit: 300, filter: {blogId: {eq: $b}}) { items { blog { posts(limit: 80) "
              "{ items { id title blog { name } } } } } } }"),
    # A one-row write whose result selects as much.
    "mutation": ('mutation ($b: ID!) { createPost(input: {title: "new", blogId: $b}) { blog { posts(limit: 300) '
                 "{ items { blog { posts(limit: 80) { items { id title blog { name } } } } } } } } }"),
}
# With its relations loaded in a handful of statements, one such request takes 0.1 to 0.2 s here (it
# took half a second when every post read its blog and posts itself): several at once keep the
# server's heavy-read and rendering threads busy for long enough to see whether the loop waits.
HEAVY_AT_ONCE = 10


@pytest.mark.parametrize("kind", HEAVY)
def test_small_requests_keep_flowing_while_the_heaviest_allowed_requests_run(box: Sandbox, big_blog: str,
                                                                             kind: str) -> None:
    """While ten of the heaviest requests are read and rendered, one client sends getTodo after getTodo.
    If any heavy work ran on the event loop, each small request would wait for the heavy step in
    progress and small answers would come about one per heavy answer; off the loop, many small
    requests are answered between two heavy answers. Counted on the order of answers, not on time."""
    todo = box.gql('mutation { createTodo(input: {content: "small"}) { id } }')["data"]["createTodo"]["id"]
    heavy_bodies: list[dict[str, Any]] = []
    answers: list[str] = []   # "heavy" / "small", in the order they arrived (list.append is atomic)

    def run_heavy() -> None:
        with httpx.Client(timeout=60, headers={"x-api-key": box.api_key}) as http, \
                http.stream("POST", box.url, json={"query": HEAVY[kind], "variables": {"b": big_blog}}) as r:
            answers.append("heavy")  # the headers are here: the server has rendered the result
            body = r.read()   # read after the count: parsing megabytes here would slow the small client
        heavy_bodies.append(json.loads(body))

    heavies_in_window, smalls_in_window = race_small_requests(box, todo, run_heavy, HEAVY_AT_ONCE, answers)
    # Most heavy answers come after the small client started (one reader thread renders them in turn),
    # and in that window the small client got far more answers than the heavy ones. Measured over
    # about 40 runs of each kind: 35 to 156 small answers for 10 heavy ones; 4 to 12 when the heavy
    # work is made to run on the loop (heavy = False in Engine._request). 4x flaked; 2.5x parts them.
    assert heavies_in_window >= HEAVY_AT_ONCE // 2, answers
    assert smalls_in_window >= 2.5 * heavies_in_window, (smalls_in_window, heavies_in_window)
    assert len(heavy_bodies) == HEAVY_AT_ONCE
    for body in heavy_bodies:
        assert "errors" not in body
        if kind == "query":
            items = body["data"]["listPosts"]["items"]
        else:
            items = body["data"]["createPost"]["blog"]["posts"]["items"]
        assert len(items) == 300 and all(len(p["blog"]["posts"]["items"]) == 80 for p in items)


def test_a_sleeping_sync_handler_does_not_block_other_requests(box: Sandbox) -> None:
    order = finishes_first(lambda: box.gql("query { slow(seconds: 0.9) }"),
                           lambda: box.gql('query { getTodo(id: "x") { id } }'))
    assert order == ["fast", "slow"]


def test_an_async_handler_is_awaited(box: Sandbox) -> None:
    order = finishes_first(lambda: box.gql("query { slowAsync(seconds: 0.9) }"),
                           lambda: box.gql('query { getTodo(id: "x") { id } }'))
    assert order == ["fast", "slow"]
    assert box.gql("query { slowAsync(seconds: 0.01) }") == {"data": {"slowAsync": "awaited"}}


def test_a_handler_that_runs_too_long_times_out(box: Sandbox) -> None:
    body = box.gql("query { slow(seconds: 3) }")  # the sandbox's handler_timeout is 1 s
    assert body["data"] == {"slow": None}
    assert error_types(body) == ["ExecutionTimeout"]
    assert box.gql("mutation { bump(n: 41) }") == {"data": {"bump": 42}}


def test_a_handler_that_raises_is_lambda_unhandled_with_the_traceback_in_the_log(box: Sandbox) -> None:
    body = box.gql('query { boom(who: "mallory") }')
    assert body["data"] == {"boom": None}
    (error,) = body["errors"]
    assert error["errorType"] == "Lambda:Unhandled"
    assert error["message"] == "quota exhausted for mallory"
    assert error["errorInfo"] == {"errorType": "QuotaError"}
    assert error["path"] == ["boom"]
    deadline = time.monotonic() + 5
    while "QuotaError: quota exhausted for mallory" not in "".join(box.lines) and time.monotonic() < deadline:
        time.sleep(0.05)
    log = "".join(box.lines)
    assert "Traceback (most recent call last)" in log
    assert 'raise QuotaError("quota exhausted for "' in log  # the handler's own line
    assert "QuotaError: quota exhausted for mallory" in log


REPEATS = {
    "plain": "query { " + "listTodos { items { id } } " * 600 + "}",
    "through fragments": "query { " + " ".join(f"...F{i}" for i in range(600)) + " } "
                         + " ".join(f"fragment F{i} on Query {{ listTodos {{ items {{ id }} }} }}" for i in range(600)),
}


@pytest.mark.parametrize("document", REPEATS.values(), ids=REPEATS.keys())
def test_a_field_repeated_hundreds_of_times_is_refused_before_validation(box: Sandbox, document: str) -> None:
    # graphql-core's validation compares every pair of same-named fields and their selections: 600
    # copies held the event loop for seconds.
    body = box.gql(document)
    assert body["data"] is None and error_types(body) == ["FieldLimitExceeded"]
    assert "'listTodos' is selected 600 times" in body["errors"][0]["message"]


def test_a_subscription_document_is_checked_off_the_event_loop_too(box: Sandbox) -> None:
    conn = Raw(box)
    conn.init()
    conn.start("slow", "subscription { " + "onCreateTodo { id } " * 600 + "}")
    frame = conn.expect("error")
    conn.close()
    assert frame["id"] == "slow"
    assert frame["payload"]["errors"][0]["errorType"] == "FieldLimitExceeded"


# ------------------------------------------------------------------------------ slow HTTP clients

def raw_http(box: Sandbox) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", box.port))
    sock.settimeout(10)
    return sock


def test_headers_that_never_finish_are_cut_off(box: Sandbox) -> None:
    sock = raw_http(box)
    sock.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\nx-api-key: ")
    for _ in range(3):  # a byte now and then, as a slowloris client does
        time.sleep(0.4)
        sock.sendall(b"a")
    assert read_until_closed(sock).startswith(b"HTTP/1.1 408 ")


def test_a_body_that_never_finishes_is_cut_off(box: Sandbox) -> None:
    sock = raw_http(box)
    sock.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
                 b"content-length: 100\r\n\r\n{\"query\":")
    assert read_until_closed(sock) == b""  # closed without an answer: the request never arrived


def test_endless_headers_are_refused(box: Sandbox) -> None:
    sock = raw_http(box)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    try:
        for i in range(200):
            sock.sendall(f"x-filler-{i}: {'y' * 1000}\r\n".encode())
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert read_until_closed(sock).startswith(b"HTTP/1.1 431 ")


def test_a_connection_that_sends_nothing_is_closed(box: Sandbox) -> None:
    sock = raw_http(box)
    assert read_until_closed(sock).startswith(b"HTTP/1.1 408 ")


def test_a_request_in_time_is_served_as_usual(box: Sandbox) -> None:
    with httpx.Client(timeout=10) as http:  # keep-alive: several requests on one connection
        for _ in range(3):
            r = http.post(box.url, headers={"x-api-key": box.api_key}, json={"query": "{ listTodos { nextToken } }"})
            assert r.status_code == 200 and "errors" not in r.json()
            time.sleep(0.3)


# ------------------------------------------------------------------------------ real-time

def test_a_slow_readers_queue_is_capped_in_bytes(sandbox_factory: Any) -> None:
    rt = sandbox_factory(SCHEMA, "--no-watch", "--realtime-limit", "max_queue_bytes=1000000")
    t = f"t{time.time_ns()}"
    stalled = stalled_socket(rt, t)
    time.sleep(0.3)
    big = t + "x" * 60_000
    n = 120  # ~7 MB of events, far fewer than the 1,000 messages the queue would count
    post_big_todos(rt, big, n)
    stalled.settimeout(20)
    received = read_until_closed(stalled)
    stalled.close()
    assert received.count(b'"type":"data"') < n
    assert any("1000000 bytes" in line for line in rt.lines) or b"LimitExceededException" in received


@pytest.mark.parametrize(("limit", "message"), [
    ("max_connections_per_address=3", "Too many real-time connections from this address"),
    ("max_connections=3", "reached its limit of 3 real-time connections"),
])
def test_sockets_are_limited_per_address_and_in_total(sandbox_factory: Any, limit: str, message: str) -> None:
    rt = sandbox_factory(SCHEMA, "--no-watch", "--realtime-limit", limit)
    conns = [Raw(rt) for _ in range(3)]
    for conn in conns:
        conn.init()
    refused = Raw(rt)
    code, frames = refused.closed()
    assert code == 1008
    (frame,) = frames
    assert frame["type"] == "connection_error"
    (error,) = frame["payload"]["errors"]
    assert error["errorType"] == "LimitExceededException" and message in error["message"]
    conns.pop().close()
    deadline = time.monotonic() + 5
    while True:  # the closed socket's place is given back
        again = Raw(rt)
        again.send({"type": "connection_init"})
        frame = again.recv()
        if frame["type"] == "connection_ack" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert frame["type"] == "connection_ack"


def test_a_socket_that_never_completes_connection_init_is_closed_whatever_it_sends(sandbox_factory: Any) -> None:
    rt = sandbox_factory(SCHEMA, "--no-watch", "--realtime-limit", "init_timeout=1")
    conn = Raw(rt)
    frames: list[dict[str, Any]] = []
    closed_code = None
    try:
        for _ in range(20):  # 4 s of chatter, each message well inside any idle timeout
            conn.send({"id": "x", "type": "stop"})
            frames.append(conn.recv(1))
            time.sleep(0.2)
    except Exception:
        code, rest = conn.closed(5)
        closed_code = code
        frames += rest
    assert closed_code == 1008
    errors = [f for f in frames if f["type"] == "connection_error"]
    assert errors and errors[0]["payload"]["errors"][0]["errorCode"] == 408


# ------------------------------------------------------------------------------ long reads leave the loop

SCAN_ROWS = 150_000
SCANS = {
    # Each reads every row: no index holds content, and nothing matches / everything must be sorted.
    "unindexed filter": ('{ listTodos(filter: {content: {contains: "no such to-do"}}, limit: 5) { items { id } } }',
                         {"listTodos": {"items": []}}),
    "unindexed sort": ("{ listTodos(sortBy: [{field: content, direction: ASC}], limit: 1) { items { content } } }",
                       {"listTodos": {"items": [{"content": "small"}]}}),
    "filtered relation": ('query ($b: ID!) { getBlog(id: $b) { posts(filter: {title: {contains: "no such post"}}) '
                          "{ items { id } } } }",
                          {"getBlog": {"posts": {"items": []}}}),
    "count": ('{ countTodos(filter: {content: {contains: "9"}, done: {eq: true}}) }',
              {"countTodos": sum("9" in f"{i:06d}" for i in range(0, SCAN_ROWS, 2))}),
}
SCANS_AT_ONCE = 8


@pytest.fixture(scope="module")
def scan_box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, str]]:
    """A sandbox whose Todo table and one blog's posts hold 150,000 rows each (imported before start;
    enough that a scan outlasts many small requests on a fast machine too)."""
    tmp = tmp_path_factory.mktemp("scans")
    stamp = "2026-01-01T00:00:00.000Z"
    lines = [json.dumps({"model": "Blog", "record": {"id": "big", "name": "big", "createdAt": stamp,
                                                     "updatedAt": stamp}})]
    for i in range(SCAN_ROWS):
        lines.append(json.dumps({"model": "Todo", "record": {
            "id": f"t{i:06d}", "content": f"to-do {i:06d}", "done": i % 2 == 0, "createdAt": stamp,
            "updatedAt": stamp}}))
        lines.append(json.dumps({"model": "Post", "record": {
            "id": f"p{i:06d}", "title": f"post {i}", "blogId": "big", "createdAt": stamp, "updatedAt": stamp}}))
    rows = tmp / "rows.jsonl"
    rows.write_text("\n".join(lines) + "\n")
    subprocess.run([sys.executable, "-m", "cove", "import", str(rows), str(SCHEMA), "--data-dir", str(tmp / "data")],
                   check=True, capture_output=True, cwd=tmp)
    sandbox = start_sandbox(tmp, SCHEMA, "--no-watch", data_dir=tmp / "data")
    yield sandbox, "big"
    sandbox.stop()


@pytest.mark.parametrize("scan", SCANS)
def test_small_requests_keep_flowing_while_long_scans_run(scan_box: tuple[Sandbox, str], scan: str) -> None:
    """A cheap-looking request can read a whole table: a filter or sort no index serves, a count, a
    relation filtered on an unindexed field. Eight such requests at once must not hold the event loop
    (a read is stopped after ~2 ms of CPU there and read again on the reader thread): meanwhile a
    small client gets many answers per scan answer. Counted on the order of answers, not on time."""
    box, blog = scan_box
    document, expected = SCANS[scan]
    todo = box.gql('mutation { createTodo(input: {content: "small"}) { id } }')["data"]["createTodo"]["id"]
    answers: list[str] = []
    bodies: list[Any] = []

    def run_scan() -> None:
        with httpx.Client(timeout=60, headers={"x-api-key": box.api_key}) as http:
            body = http.post(box.url, json={"query": document, "variables": {"b": blog} if "$b" in document else {}})
            answers.append("heavy")
            bodies.append(body.json())

    scans_in_window, smalls_in_window = race_small_requests(box, todo, run_scan, SCANS_AT_ONCE, answers)
    box.gql("mutation ($id: ID!) { deleteTodo(input: {id: $id}) { id } }", {"id": todo})
    assert bodies == [{"data": expected}] * SCANS_AT_ONCE
    assert scans_in_window >= SCANS_AT_ONCE // 2, answers
    assert smalls_in_window >= 4 * scans_in_window, (smalls_in_window, scans_in_window)


def test_on_postgresql_a_statement_past_its_time_limit_fails_its_field_alone(tmp_path: Path) -> None:
    """A read that would run on and on holds a database connection: PostgreSQL cancels it at the
    URL's statement_timeout (30 s by default) and the field fails with ExecutionTimeout; the rest of the
    request, and the next requests, are answered."""
    url = fresh_postgres_url("slow") + "&statement_timeout=20"
    box = start_sandbox(tmp_path, SCHEMA, "--no-watch", backend="postgres", database_url=url)
    try:
        todo = box.gql('mutation { createTodo(input: {content: "small"}) { id } }')["data"]["createTodo"]["id"]
        run_sql(url, 'INSERT INTO "Todo" (id, content, done, "createdAt", "updatedAt") '
                     "SELECT 'bulk' || i, repeat('to-do ', 20) || i, i % 2 = 0, '2026-01-01T00:00:00.000Z', "
                     "'2026-01-01T00:00:00.000Z' FROM generate_series(1, 400000) AS i")
        body = box.gql('query ($id: ID!) { getTodo(id: $id) { content } '
                       'countTodos(filter: {content: {contains: "no such to-do"}}) '
                       'listTodos(filter: {content: {contains: "no such to-do"}}) { items { id } } }', {"id": todo})
        assert body["data"] == {"getTodo": {"content": "small"}, "countTodos": None, "listTodos": None}
        assert sorted((e["errorType"], e["path"]) for e in body["errors"]) == [
            ("ExecutionTimeout", ["countTodos"]), ("ExecutionTimeout", ["listTodos"])]
        assert all("time limit" in e["message"] for e in body["errors"])
        assert box.gql('query ($id: ID!) { getTodo(id: $id) { content } }', {"id": todo}) == \
            {"data": {"getTodo": {"content": "small"}}}
    finally:
        box.stop()
