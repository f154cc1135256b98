"""AppSync's real-time protocol, frame by frame, over real WebSockets to real `cove sandbox` processes.

Every message type and error path, with both handshakes: the `header-<base64url>` subprotocol
(aws-amplify >= 6.6) and the `?header=&payload=` query string (gql, older clients).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Sandbox, start_sandbox
from realtime_support import (
    Raw,
    api_key_auth,
    b64url,
    create_todo,
    delete_todo,
    on_create,
    on_delete,
    on_update,
    post_big_todos,
    read_until_closed,
    stalled_socket,
    update_todo,
    ws_url,
)
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from paths import TESTS

SCHEMA = TESTS / "schemas" / "realtime_schema.py"
HANDSHAKES = ["header", "query"]


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sandbox = start_sandbox(tmp_path_factory.mktemp("rt"), SCHEMA, "--no-watch",
                            "--realtime-limit", "keepalive_interval=0.3",
                            "--realtime-limit", "max_subscriptions=5",
                            "--realtime-limit", "max_message_bytes=4096")
    yield sandbox
    sandbox.stop()


@pytest.fixture
def raw(box: Sandbox) -> Iterator[Raw]:
    conn = Raw(box)
    conn.init()
    yield conn
    conn.close()


def tag() -> str:
    return "t" + uuid.uuid4().hex[:10]


# ------------------------------------------------------------------------------------------ handshake


@pytest.mark.parametrize("handshake", HANDSHAKES)
def test_handshake_ack_and_keepalive(box: Sandbox, handshake: str) -> None:
    conn = Raw(box, handshake=handshake)
    assert conn.ws.subprotocol == "graphql-ws"
    conn.send({"type": "connection_init"})
    ack = conn.recv(skip_ka=False)
    assert ack == {"type": "connection_ack", "payload": {"connectionTimeoutMs": 300000}}
    # a ka right after the ack, then periodically (every 0.3 s in this sandbox)
    assert conn.recv(skip_ka=False) == {"type": "ka"}
    assert conn.recv(skip_ka=False) == {"type": "ka"}
    assert conn.recv(skip_ka=False) == {"type": "ka"}
    conn.close()


@pytest.mark.parametrize("handshake", HANDSHAKES)
def test_full_cycle_start_data_stop_complete(box: Sandbox, handshake: str) -> None:
    conn = Raw(box, handshake=handshake)
    conn.init()
    t = tag()
    conn.subscribe("s1", on_create(), {"filter": {"content": {"beginsWith": t}}})
    created = create_todo(box, content=t + " one", priority="high")
    frame = conn.expect("data")
    assert frame == {"id": "s1", "type": "data", "payload": {"data": {"onCreateTodo": created}}}
    conn.send({"id": "s1", "type": "stop"})
    assert conn.expect("complete") == {"id": "s1", "type": "complete"}
    create_todo(box, content=t + " two")
    conn.nothing(0.6)
    conn.close()


def test_custom_headers_in_the_query_string_reach_authentication(box: Sandbox) -> None:
    # aws-amplify appends non-auth custom headers as query parameters; they must not break anything
    conn = Raw(box, extra_query={"x-tenant": "acme"})
    conn.init()
    conn.subscribe("s", on_create())
    conn.close()


def test_the_graphql_ws_subprotocol_is_required(box: Sandbox) -> None:
    ws = connect(ws_url(box) + "?header=" + b64url(api_key_auth(box)) + "&payload=e30=", open_timeout=10,
                 legacy=True)
    assert ws.subprotocol is None
    frame = json.loads(ws.recv(timeout=10))
    assert frame["type"] == "connection_error"
    error = frame["payload"]["errors"][0]
    assert (error["errorType"], error["errorCode"]) == ("BadRequestException", 400)
    assert "graphql-ws" in error["message"]
    with pytest.raises(ConnectionClosed) as info:
        ws.recv(timeout=10)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1002


def test_other_paths_are_not_websockets(box: Sandbox) -> None:
    with pytest.raises(InvalidStatus) as info:
        connect(ws_url(box).replace("/graphql/realtime", "/elsewhere"), subprotocols=["graphql-ws"],  # type: ignore[list-item]
                open_timeout=10, legacy=True)
    assert info.value.response.status_code == 403


@pytest.mark.parametrize("handshake", HANDSHAKES)
def test_bad_api_key_gets_connection_error(box: Sandbox, handshake: str) -> None:
    conn = Raw(box, api_key_auth(box, "da2-" + "x" * 26), handshake=handshake)
    conn.send({"type": "connection_init"})
    code, frames = conn.closed()
    assert frames == [{"type": "connection_error", "payload": {"errors": [{
        "errorType": "UnauthorizedException", "errorCode": 401,
        "message": frames[0]["payload"]["errors"][0]["message"]}]}}]
    assert "invalid API key" in frames[0]["payload"]["errors"][0]["message"]
    assert code == 1008


def test_no_auth_at_all_gets_connection_error(box: Sandbox) -> None:
    conn = Raw(box, subprotocols=["graphql-ws"])
    conn.send({"type": "connection_init"})
    _, frames = conn.closed()
    assert frames[0]["type"] == "connection_error"
    assert frames[0]["payload"]["errors"][0]["errorType"] == "UnauthorizedException"


def test_malformed_auth_header_gets_connection_error(box: Sandbox) -> None:
    conn = Raw(box, subprotocols=["graphql-ws", "header-!!!notbase64"])
    conn.send({"type": "connection_init"})
    code, frames = conn.closed()
    error = frames[0]["payload"]["errors"][0]
    assert frames[0]["type"] == "connection_error"
    assert (error["errorType"], error["errorCode"]) == ("BadRequestException", 400)
    assert code == 1002


# ------------------------------------------------------------------------------------------ messages


def test_start_before_connection_init_is_an_error(box: Sandbox) -> None:
    conn = Raw(box)
    conn.start("early", on_create())
    frame = conn.expect("error")
    assert frame["id"] == "early"
    assert "connection_init" in frame["payload"]["errors"][0]["message"]
    conn.init()
    conn.subscribe("early", on_create())  # the same id works once the connection is initialised
    conn.close()


def test_invalid_json_and_unknown_types_are_errors_that_keep_the_connection(raw: Raw) -> None:
    raw.send("{not json")
    assert raw.expect("error")["payload"]["errors"][0]["errorType"] == "BadRequestException"
    raw.send("[1, 2]")
    assert raw.expect("error")["payload"]["errors"][0]["errorType"] == "BadRequestException"
    raw.send({"id": "x", "type": "subscribe"})
    frame = raw.expect("error")
    assert frame["id"] == "x" and frame["payload"]["errors"][0]["errorType"] == "UnsupportedOperation"
    raw.subscribe("after", on_create())


def test_validation_errors_answer_the_start(raw: Raw) -> None:
    raw.start("bad", "subscription { onCreateTodo { id nope } }")
    frame = raw.expect("error")
    assert frame["id"] == "bad"
    error = frame["payload"]["errors"][0]
    assert error["errorType"] == "ValidationError" and "nope" in error["message"]
    raw.start("syntax", "subscription {")
    assert "Syntax" in raw.expect("error")["payload"]["errors"][0]["message"]
    raw.start("vars", on_create(), {"filter": {"content": {"nope": 1}}})
    assert raw.expect("error")["payload"]["errors"][0]["errorType"] == "ValidationError"


def test_queries_and_mutations_are_refused_on_the_socket(raw: Raw) -> None:
    raw.start("q", "query { listTodos { items { id } } }")
    frame = raw.expect("error")
    assert frame["id"] == "q" and frame["payload"]["errors"][0]["errorType"] == "UnsupportedOperation"


def test_malformed_start_payloads(raw: Raw) -> None:
    raw.send({"type": "start", "payload": {}})
    assert raw.expect("error")["payload"]["errors"][0]["errorType"] == "BadRequestException"
    raw.send({"id": "p", "type": "start"})
    assert raw.expect("error")["id"] == "p"
    raw.send({"id": "d", "type": "start", "payload": {"data": "{nope"}})
    assert "not valid JSON" in raw.expect("error")["payload"]["errors"][0]["message"]
    raw.send({"id": "v", "type": "start", "payload": {"data": json.dumps({"query": on_create(), "variables": [1]})}})
    assert raw.expect("error")["id"] == "v"
    raw.send({"type": "stop"})
    assert raw.expect("error")["payload"]["errors"][0]["errorType"] == "BadRequestException"


def test_start_data_as_an_object_is_accepted(raw: Raw, box: Sandbox) -> None:
    t = tag()
    raw.send({"id": "o", "type": "start", "payload": {
        "data": {"query": on_create("id content"), "variables": {"filter": {"content": {"eq": t}}}},
        "extensions": {"authorization": api_key_auth(box)}}})
    assert raw.expect("start_ack")["id"] == "o"
    create_todo(box, content=t)
    assert raw.expect("data")["payload"]["data"]["onCreateTodo"]["content"] == t


def test_duplicate_ids_are_refused(raw: Raw) -> None:
    raw.subscribe("dup", on_create())
    raw.start("dup", on_create())
    frame = raw.expect("error")
    assert frame["id"] == "dup" and frame["payload"]["errors"][0]["errorType"] == "DuplicatedOperationError"


def test_subscriptions_per_connection_are_limited(raw: Raw) -> None:
    for i in range(5):
        raw.subscribe(f"s{i}", on_create())
    raw.start("s5", on_create())
    frame = raw.expect("error")
    assert frame["id"] == "s5"
    assert frame["payload"]["errors"][0]["errorType"] == "MaxSubscriptionsReachedError"
    raw.send({"id": "s0", "type": "stop"})
    raw.expect("complete")
    raw.subscribe("s5", on_create())  # room again


def test_oversized_messages_are_refused(raw: Raw) -> None:
    raw.start("big", on_create(), {"filter": {"content": {"eq": "x" * 5000}}})
    frame = raw.expect("error")
    assert frame["id"] == "big"
    error = frame["payload"]["errors"][0]
    assert error["errorType"] == "LimitExceededException" and "4096" in error["message"]
    raw.subscribe("small", on_create())


def test_stop_of_an_unknown_id_completes(raw: Raw) -> None:
    raw.send({"id": "never", "type": "stop"})
    assert raw.expect("complete") == {"id": "never", "type": "complete"}


def test_connection_terminate_closes(raw: Raw) -> None:
    raw.send({"type": "connection_terminate"})
    code, _ = raw.closed()
    assert code == 1000


# ------------------------------------------------------------------------------------------ auth per start


def test_each_start_is_authenticated_on_its_own(raw: Raw, box: Sandbox) -> None:
    raw.start("bad", on_create(), auth=api_key_auth(box, "da2-" + "y" * 26))
    frame = raw.expect("error")
    assert frame["id"] == "bad"
    assert frame["payload"]["errors"][0]["errorType"] == "UnauthorizedException"
    # a start without its own authorization uses the connection's
    raw.subscribe("conn", on_create(), auth=None)
    t = tag()
    create_todo(box, content=t)
    assert raw.expect("data")["id"] == "conn"


def test_a_second_api_key_on_the_same_socket(raw: Raw, box: Sandbox) -> None:
    other = subprocess.run([sys.executable, "-m", "cove", "keys", "--data-dir", str(box.data_dir), "create"],
                           capture_output=True, text=True, check=True).stdout.strip()
    t = tag()
    raw.subscribe("mine", on_create(), {"filter": {"content": {"eq": t}}})
    raw.subscribe("other", on_create(), {"filter": {"content": {"eq": t}}}, auth=api_key_auth(box, other))
    create_todo(box, content=t)
    ids = {raw.expect("data")["id"], raw.expect("data")["id"]}
    assert ids == {"mine", "other"}


def test_unauthorized_model_is_refused_at_start(raw: Raw) -> None:
    # Drop: the API key may create, update and delete, but not read (so not listen)
    raw.start("drop", on_create("id body", "Drop"))
    frame = raw.expect("error")
    assert frame["id"] == "drop"
    assert frame["payload"]["errors"][0] == {
        "errorType": "Unauthorized", "message": "Not Authorized to access onCreateDrop on type Subscription"}


# ------------------------------------------------------------------------------------------ events


def test_filters_with_in_notin_and_or(raw: Raw, box: Sandbox) -> None:
    t = tag()
    raw.subscribe("in", on_create("content priority"), {"filter": {"content": {"beginsWith": t},
                                                                   "priority": {"in": ["high", "medium"]}}})
    raw.subscribe("notin", on_create("content rank"), {"filter": {"and": [{"content": {"beginsWith": t}},
                                                                          {"rank": {"notIn": [1, 2]}}]}})
    raw.subscribe("or", on_create("content"), {"filter": {"or": [{"content": {"eq": t + "-a"}},
                                                                 {"rank": {"between": [100, 200]}}]}})
    create_todo(box, content=t + "-a", priority="high", rank=1)
    create_todo(box, content=t + "-b", priority="low", rank=3)
    create_todo(box, content=t + "-c", priority="medium", rank=150)
    got: dict[str, list[str]] = {"in": [], "notin": [], "or": []}
    for _ in range(6):
        frame = raw.expect("data")
        got[frame["id"]].append(frame["payload"]["data"]["onCreateTodo"]["content"])
    raw.nothing(0.5)
    assert sorted(got["in"]) == [t + "-a", t + "-c"]
    assert sorted(got["notin"]) == [t + "-b", t + "-c"]
    assert sorted(got["or"]) == [t + "-a", t + "-c"]


def test_list_field_filters(raw: Raw, box: Sandbox) -> None:
    t = tag()
    raw.subscribe("tags", on_create("content tags"), {"filter": {"tags": {"contains": t}}})
    create_todo(box, content="x", tags=["a", t])
    create_todo(box, content="y", tags=["a"])
    assert raw.expect("data")["payload"]["data"]["onCreateTodo"]["tags"] == ["a", t]
    raw.nothing(0.4)


def test_payload_is_the_mutations_selection(raw: Raw, box: Sandbox) -> None:
    t = tag()
    raw.subscribe("s", on_create("id content done priority rank"), {"filter": {"content": {"eq": t}}})
    # The mutation selects only id and content: the rest are null for the subscriber (AppSync),
    # even though the filter on `content` is evaluated against the whole stored record.
    created = create_todo(box, fields="id content", content=t, done=True, priority="low", rank=7)
    payload = raw.expect("data")["payload"]
    assert payload == {"data": {"onCreateTodo": {"id": created["id"], "content": t, "done": None,
                                                 "priority": None, "rank": None}}}


def test_filter_on_a_field_the_mutation_did_not_select(raw: Raw, box: Sandbox) -> None:
    t = tag()
    raw.subscribe("s", on_create("id rank"), {"filter": {"content": {"eq": t}, "rank": {"gt": 5}}})
    create_todo(box, fields="id", content=t, rank=9)
    assert raw.expect("data")["payload"]["data"]["onCreateTodo"]["rank"] is None  # not selected by the mutation
    create_todo(box, fields="id", content=t, rank=1)
    raw.nothing(0.4)


def test_required_field_missing_from_the_mutation_is_an_error_in_the_payload(raw: Raw, box: Sandbox) -> None:
    t = tag()
    raw.subscribe("s", on_create("id content createdAt"), {"filter": {"content": {"eq": t}}})
    create_todo(box, fields="id content", content=t)
    payload = raw.expect("data")["payload"]
    assert payload["data"] == {"onCreateTodo": None}
    assert payload["errors"][0]["path"] == ["onCreateTodo", "createdAt"]
    assert "non-nullable" in payload["errors"][0]["message"]


def test_aliases_on_both_sides(raw: Raw, box: Sandbox) -> None:
    t = tag()
    raw.subscribe("s", "subscription ($f: ModelSubscriptionTodoFilterInput) { made: onCreateTodo(filter: $f) "
                       "{ key: id text: content __typename } }", {"f": {"content": {"eq": t}}})
    body = box.gql("mutation ($i: CreateTodoInput!) { x: createTodo(input: $i) { myId: id words: content } }",
                   {"i": {"content": t}})
    payload = raw.expect("data")["payload"]
    assert payload == {"data": {"made": {"key": body["data"]["x"]["myId"], "text": t, "__typename": "Todo"}}}


def test_update_and_delete_events(raw: Raw, box: Sandbox) -> None:
    t = tag()
    raw.subscribe("u", on_update(), {"filter": {"content": {"beginsWith": t}}})
    raw.subscribe("d", on_delete(), {"filter": {"content": {"beginsWith": t}}})
    created = create_todo(box, content=t)
    updated = update_todo(box, id=created["id"], done=True)
    frame = raw.expect("data")
    assert frame["id"] == "u" and frame["payload"]["data"]["onUpdateTodo"] == updated
    deleted = delete_todo(box, created["id"])
    frame = raw.expect("data")
    assert frame["id"] == "d" and frame["payload"]["data"]["onDeleteTodo"] == deleted


def test_failed_mutations_publish_nothing(raw: Raw, box: Sandbox) -> None:
    t = tag()
    raw.subscribe("u", on_update(), {"filter": {"content": {"beginsWith": t}}})
    created = create_todo(box, content=t)
    body = box.gql("mutation ($i: UpdateTodoInput!, $c: ModelTodoConditionInput) { updateTodo(input: $i, "
                   "condition: $c) { id } }", {"i": {"id": created["id"], "done": True}, "c": {"rank": {"eq": 42}}})
    assert body["errors"][0]["errorType"] == "DynamoDB:ConditionalCheckFailedException"
    raw.nothing(0.5)


def test_one_event_reaches_every_matching_subscriber_on_several_sockets(box: Sandbox) -> None:
    t = tag()
    conns = [Raw(box, handshake=HANDSHAKES[i % 2]) for i in range(4)]
    for i, c in enumerate(conns):
        c.init()
        c.subscribe(f"c{i}", on_create("id content"), {"filter": {"content": {"eq": t}}})
    created = create_todo(box, content=t)
    for i, c in enumerate(conns):
        frame = c.expect("data")
        assert frame["id"] == f"c{i}" and frame["payload"]["data"]["onCreateTodo"]["id"] == created["id"]
        c.close()


# ------------------------------------------------------------------------------------------ timeouts & limits


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sandbox = start_sandbox(tmp_path_factory.mktemp("rt-strict"), SCHEMA, "--no-watch",
                            "--realtime-limit", "connection_timeout_ms=1000",
                            "--realtime-limit", "keepalive_interval=0.25",
                            "--realtime-limit", "max_queue=8")
    yield sandbox
    sandbox.stop()


def test_connection_timeout_is_in_the_ack(strict: Sandbox) -> None:
    conn = Raw(strict)
    assert conn.init() == {"type": "connection_ack", "payload": {"connectionTimeoutMs": 1000}}
    conn.close()


def test_a_connection_that_never_inits_is_closed(strict: Sandbox) -> None:
    conn = Raw(strict)
    code, frames = conn.closed(timeout=10)
    assert frames == [] and code == 1000


def test_an_idle_connection_without_subscriptions_is_closed(strict: Sandbox) -> None:
    conn = Raw(strict)
    conn.init()
    code, frames = conn.closed(timeout=10)
    assert {f["type"] for f in frames} <= {"ka"}
    assert code == 1000


def test_messages_keep_a_connection_open(strict: Sandbox) -> None:
    conn = Raw(strict)
    conn.init()
    for _ in range(8):  # 8 x 0.25 s > the 1 s timeout, but never 1 s of silence
        time.sleep(0.25)
        conn.send({"id": "none", "type": "stop"})
        conn.expect("complete")
    conn.close()


def test_a_connection_with_subscriptions_outlives_the_timeout(strict: Sandbox) -> None:
    conn = Raw(strict)
    conn.init()
    t = tag()
    conn.subscribe("s", on_create("id content"), {"filter": {"content": {"eq": t}}})
    time.sleep(2.5)
    create_todo(strict, content=t)
    assert conn.expect("data")["id"] == "s"
    assert conn.kas >= 5  # keep-alives kept flowing meanwhile
    # once its last subscription stops, the idle timeout applies again
    conn.send({"id": "s", "type": "stop"})
    conn.expect("complete")
    code, _ = conn.closed(timeout=10)
    assert code == 1000


def test_a_stalled_subscriber_is_dropped_and_delays_nobody(strict: Sandbox) -> None:
    t = tag()
    healthy = Raw(strict)
    healthy.init()
    healthy.subscribe("ok", on_create("id content"), {"filter": {"content": {"beginsWith": t}}})
    stalled = stalled_socket(strict, t)
    time.sleep(0.3)  # let the stalled client's start be processed
    big = t + "x" * 60_000
    n = 120  # ~7 MB of events: far more than the socket buffers and the 8-message queue hold
    got: list[str] = []

    def read_healthy() -> None:  # the healthy subscriber reads as events come
        for _ in range(n):
            got.append(healthy.expect("data", timeout=30)["payload"]["data"]["onCreateTodo"]["content"])

    reader = threading.Thread(target=read_healthy)
    reader.start()
    post_big_todos(strict, big, n)
    reader.join(60)
    # the healthy subscriber got every event
    assert got == [big] * n
    healthy.close()
    # the stalled one was cut off: reading now, its stream ends (with a connection_error if it got through)
    stalled.settimeout(20)
    received = read_until_closed(stalled)
    stalled.close()
    assert received.count(b'"type":"data"') < n


# ------------------------------------------------------------------------------------------ credentials


def test_a_subscription_whose_api_key_expires_is_ended(box: Sandbox) -> None:
    key = subprocess.run([sys.executable, "-m", "cove", "keys", "--data-dir", str(box.data_dir), "create",
                          "--expires-in", "2s"], capture_output=True, text=True, check=True).stdout.strip()
    conn = Raw(box)  # the connection itself uses the long-lived key
    conn.init()
    t = tag()
    conn.subscribe("short", on_create("id content"), {"filter": {"content": {"eq": t}}}, auth=api_key_auth(box, key))
    create_todo(box, content=t)
    assert conn.expect("data")["id"] == "short"
    frame = conn.expect("error", timeout=10)
    assert frame == {"id": "short", "type": "error", "payload": {"errors": [
        {"errorType": "UnauthorizedException", "message": "Token has expired."}]}}
    create_todo(box, content=t)
    conn.nothing(0.5)
    conn.close()


def test_a_subscription_whose_api_key_is_revoked_is_ended(box: Sandbox) -> None:
    key = subprocess.run([sys.executable, "-m", "cove", "keys", "--data-dir", str(box.data_dir), "create"],
                         capture_output=True, text=True, check=True).stdout.strip()
    conn = Raw(box)
    conn.init()
    t = tag()
    conn.subscribe("rev", on_create("id content"), {"filter": {"content": {"eq": t}}}, auth=api_key_auth(box, key))
    subprocess.run([sys.executable, "-m", "cove", "keys", "--data-dir", str(box.data_dir), "revoke", key],
                   capture_output=True, text=True, check=True)
    time.sleep(5.5)  # API key answers are cached for 5 s per server process
    create_todo(box, content=t)
    frame = conn.expect("error")
    assert frame["id"] == "rev" and frame["payload"]["errors"][0]["errorType"] == "UnauthorizedException"
    conn.close()


# ------------------------------------------------------------------------------------------ custom subscriptions


def test_custom_subscription_to_a_custom_mutation_filters_by_argument(raw: Raw, box: Sandbox) -> None:
    t = tag()
    raw.subscribe("p", "subscription ($c: String) { onPublish(channel: $c) { channel text } }", {"c": t})
    raw.subscribe("all", "subscription { onPublish { text } }")
    for channel in (t, "elsewhere"):
        body = box.gql("mutation ($c: String!, $x: String) { publish(channel: $c, text: $x) { channel text } }",
                       {"c": channel, "x": f"to {channel}"})
        assert "errors" not in body, body
    frames = [raw.expect("data"), raw.expect("data"), raw.expect("data")]
    mine = [f["payload"]["data"]["onPublish"] for f in frames if f["id"] == "p"]
    assert mine == [{"channel": t, "text": f"to {t}"}]
    assert sorted(f["payload"]["data"]["onPublish"]["text"] for f in frames if f["id"] == "all") == \
        sorted([f"to {t}", "to elsewhere"])
    raw.nothing(0.3)


def test_custom_subscription_to_a_model_mutation(raw: Raw, box: Sandbox) -> None:
    t = tag()
    raw.subscribe("m", "subscription { onTodoMade { id content } }")
    created = create_todo(box, fields="id content", content=t)
    frame = raw.expect("data")
    while frame["payload"]["data"]["onTodoMade"]["content"] != t:  # other tests' todos may pass by
        frame = raw.expect("data")
    assert frame["payload"]["data"]["onTodoMade"] == created


# ------------------------------------------------------------------------------------------ schema reload


def test_subscriptions_survive_a_schema_reload(sandbox_factory: Any, tmp_path: Path) -> None:
    schema = tmp_path / "schema.py"
    source = SCHEMA.read_text()
    schema.write_text(source)
    box = sandbox_factory(schema)
    conn = Raw(box)
    conn.init()
    t = tag()
    conn.subscribe("s", on_create("id content"), {"filter": {"content": {"beginsWith": t}}})
    schema.write_text(source.replace('"rank": a.integer(),', '"rank": a.integer(),\n        "extra": a.string(),'))
    deadline = time.monotonic() + 20
    while not any(line.startswith("Reloaded schema") for line in box.lines):
        assert time.monotonic() < deadline, box.lines
        time.sleep(0.05)
    create_todo(box, fields="id content extra", content=t + " after reload", extra="x")
    assert conn.expect("data")["payload"]["data"]["onCreateTodo"]["content"] == t + " after reload"
    # and new subscriptions see the new field
    conn.subscribe("n", on_create("id extra"), {"filter": {"extra": {"eq": "y"}}})
    create_todo(box, fields="id content extra", content=t, extra="y")
    frames = [conn.expect("data"), conn.expect("data")]
    assert {f["id"] for f in frames} == {"s", "n"}
    conn.close()


@pytest.fixture(scope="module")
def pinging(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sandbox = start_sandbox(tmp_path_factory.mktemp("rt-ping"), SCHEMA, "--no-watch",
                            "--realtime-limit", "ping_interval=0.5")
    yield sandbox
    sandbox.stop()


def test_a_subscriber_that_sends_nothing_at_all_is_closed(pinging: Sandbox) -> None:
    # A live client answers the server's WebSocket pings (browsers and `ws` do so by themselves),
    # which is how a subscribed connection shows it is alive even though the AppSync protocol has
    # it send nothing after `start`. One that stays silent, pongs included, is closed.
    silent = stalled_socket(pinging, tag())
    silent.settimeout(10)
    received = b""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        chunk = silent.recv(65536)
        if not chunk:
            break  # the server closed the connection
        received += chunk
    else:
        raise AssertionError("the server kept a silent connection open")
    assert b"start_ack" in received  # it was subscribed, then dropped
    silent.close()
    alive = Raw(pinging)  # a client that answers pings stays subscribed past several ping timeouts
    alive.init()
    t = tag()
    alive.subscribe("s", on_create("id content"), {"filter": {"content": {"eq": t}}})
    time.sleep(2.5)
    create_todo(pinging, content=t)
    assert alive.expect("data")["id"] == "s"
    alive.close()
