"""Cove's client, sync and async, against real sandboxes: subscriptions, observe_query, connection
state, keep-alive watchdog, reconnection and re-sync, TLS, credentials."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Sandbox, free_port, start_sandbox
from realtime_support import Raw

import cove
from cove.client import (
    ConnectionState,
    NoValidAuthTokensError,
    Snapshot,
    SubscriptionError,
    UserPoolAuth,
)
from paths import TESTS

SCHEMA = TESTS / "schemas" / "realtime_schema.py"
FAST = {"initial_backoff": 0.05, "max_backoff": 0.3, "linger": 0.2}


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sandbox = start_sandbox(tmp_path_factory.mktemp("rt-client"), SCHEMA, "--no-watch")
    yield sandbox
    sandbox.stop()


def fast(client: Any) -> Any:
    for k, v in FAST.items():
        setattr(client.realtime.options, k, v)
    return client


@pytest.fixture
def client(box: Sandbox) -> Iterator[cove.client.Client]:
    c = fast(cove.generate_client(config=box.outputs_path))
    yield c
    c.close()


def tag() -> str:
    return "t" + uuid.uuid4().hex[:10]


class States:
    def __init__(self, client: Any) -> None:
        self.seen: list[ConnectionState] = []
        self.changed = threading.Condition()
        client.realtime.add_listener(self.on_change)

    def on_change(self, state: ConnectionState, url: str) -> None:
        with self.changed:
            self.seen.append(state)
            self.changed.notify_all()

    def wait_for(self, state: ConnectionState, after: int = 0, timeout: float = 15) -> int:
        """Wait until `state` appears at index >= after; return its index."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for i in range(after, len(self.seen)):
                    if self.seen[i] == state:
                        return i
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no {state} after {after}; saw {self.seen}")
                self.changed.wait(remaining)


# ------------------------------------------------------------------------------------------ sync


def test_on_create_with_filters_yields_records(client: cove.client.Client) -> None:
    t = tag()
    Todo = client.models.Todo
    with Todo.on_create(filter={"content": {"beginsWith": t}, "priority": {"in": ["high", "medium"]}}) as sub:
        Todo.create({"content": t + " a", "priority": "high"})   # right after the call returns: delivered
        Todo.create({"content": t + " b", "priority": "low"})
        Todo.create({"content": t + " c", "priority": "medium", "tags": ["x"]})
        first, second = sub.receive(timeout=10), next(iter(sub))
        assert (first.content, second.content) == (t + " a", t + " c")
        assert second.tags == ["x"] and second.done is False and second.createdAt.endswith("Z")
        with pytest.raises(TimeoutError):
            sub.receive(timeout=0.4)
    assert not sub.active
    assert list(sub) == []  # a closed subscription's iterator ends


def test_on_update_and_on_delete(client: cove.client.Client) -> None:
    t = tag()
    Todo = client.models.Todo
    updates = Todo.on_update(filter={"content": {"beginsWith": t}})
    deletes = Todo.on_delete(filter={"rank": {"notIn": [1, 2, 3]}, "content": {"beginsWith": t}})
    todo = Todo.create({"content": t, "rank": 7}).data
    Todo.update({"id": todo.id, "done": True})
    Todo.delete({"id": todo.id})
    assert updates.receive(timeout=10).done is True
    assert deletes.receive(timeout=10).id == todo.id
    updates.unsubscribe()
    deletes.unsubscribe()


def test_graphql_subscriptions_yield_results(client: cove.client.Client) -> None:
    t = tag()
    sub = client.graphql("subscription ($f: ModelSubscriptionTodoFilterInput) { onCreateTodo(filter: $f) "
                         "{ id content } }", {"f": {"content": {"eq": t}}})
    with sub:
        client.models.Todo.create({"content": t})
        result = sub.receive(timeout=10)
        assert result.data["onCreateTodo"]["content"] == t and result.errors == []


def test_refused_subscriptions_raise(client: cove.client.Client) -> None:
    with pytest.raises(SubscriptionError, match="Unauthorized") as info:
        client.models.Drop.on_create()
    assert info.value.errors[0].error_type == "Unauthorized"
    with pytest.raises(SubscriptionError, match="ValidationError"):
        client.graphql("subscription { onCreateTodo { nope } }")


def test_missing_credentials_raise_before_anything_is_sent(client: cove.client.Client) -> None:
    with pytest.raises(NoValidAuthTokensError):
        client.models.Todo.on_create(auth_mode="user_pool")
    assert client.realtime.state() == ConnectionState.DISCONNECTED


def test_one_socket_for_all_subscriptions_closed_after_the_last(box: Sandbox) -> None:
    c = fast(cove.generate_client(config=box.outputs_path))
    states = States(c)
    subs = [c.models.Todo.on_create(), c.models.Todo.on_update(), c.models.Todo.on_delete(),
            c.graphql("subscription { onCreateTodo { id } }")]
    assert states.seen == [ConnectionState.CONNECTING, ConnectionState.CONNECTED]
    assert len(c.realtime._sockets) == 1 and c.realtime.state() == ConnectionState.CONNECTED
    for s in subs:
        s.unsubscribe()
    states.wait_for(ConnectionState.DISCONNECTED)
    assert ConnectionState.CONNECTED_PENDING_DISCONNECT in states.seen
    # a new subscription opens a new socket
    with c.models.Todo.on_create():
        assert c.realtime.state() == ConnectionState.CONNECTED
    c.close()


def test_observe_query_syncs_pages_then_goes_live(client: cove.client.Client) -> None:
    t = tag()
    Todo = client.models.Todo
    for i in range(7):
        Todo.create({"content": f"{t} {i}", "rank": i})
    with Todo.observe_query(filter={"content": {"beginsWith": t}}, limit=3, sort_by="rank") as obs:
        it = iter(obs)
        pages = [next(it), next(it), next(it)]
        assert [p.is_synced for p in pages] == [False, False, True]
        assert [len(p.items) for p in pages] == [3, 6, 7]
        assert [r.rank for r in pages[-1].items] == list(range(7))
        # live: create
        Todo.create({"content": f"{t} new", "rank": -1})
        snap = next(it)
        assert snap.is_synced and snap.items[0].content == f"{t} new"
        # an update that makes a record stop matching removes it
        victim = snap.items[1]
        Todo.update({"id": victim.id, "content": "moved away"})
        snap = next(it)
        assert victim.id not in [r.id for r in snap.items] and len(snap.items) == 7
        # one that makes a record match adds it
        Todo.update({"id": victim.id, "content": f"{t} back"})
        snap = next(it)
        assert victim.id in [r.id for r in snap.items] and len(snap.items) == 8
        # delete
        Todo.delete({"id": victim.id})
        snap = next(it)
        assert victim.id not in [r.id for r in snap.items] and len(snap.items) == 7
        # the snapshot's list is the caller's to keep
        snap.items.clear()
        Todo.create({"content": f"{t} last", "rank": 100})
        assert len(next(it).items) == 8


def test_observe_query_with_a_filter_subscriptions_cannot_express(client: cove.client.Client) -> None:
    t = tag()
    Todo = client.models.Todo
    Todo.create({"content": t, "rank": 1})
    obs = Todo.observe_query(filter={"content": {"eq": t}, "not": {"rank": {"eq": 5}}})
    it = iter(obs)
    assert [r.rank for r in next(it).items] == [1]
    Todo.create({"content": t, "rank": 5})    # excluded by `not`
    Todo.create({"content": t, "rank": 6})
    snap = next(it)
    assert sorted(r.rank for r in snap.items) == [1, 6]
    obs.close()


# ------------------------------------------------------------------------------------------ reconnection


@pytest.fixture
def restartable(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A sandbox that a test can stop and start again on the same port and data."""
    port = free_port()
    state: dict[str, Any] = {"port": port, "dir": tmp_path, "data": tmp_path / "data"}

    def start() -> Sandbox:
        box = start_sandbox(tmp_path, SCHEMA, "--no-watch", port=port, data_dir=state["data"])
        state["box"] = box
        return box

    state["start"] = start
    start()
    yield state
    state["box"].stop()


def test_reconnects_and_restarts_subscriptions(restartable: dict[str, Any]) -> None:
    box = restartable["box"]
    c = fast(cove.generate_client(config=box.outputs_path))
    states = States(c)
    t = tag()
    sub = c.models.Todo.on_create(filter={"content": {"beginsWith": t}})
    connected = states.wait_for(ConnectionState.CONNECTED)
    box.stop()
    disrupted = states.wait_for(ConnectionState.CONNECTION_DISRUPTED, connected)
    box = restartable["start"]()
    states.wait_for(ConnectionState.CONNECTED, disrupted)
    # the subscription was started again on the new socket: wait for the server to have it
    deadline = time.monotonic() + 10
    while True:
        c.models.Todo.create({"content": f"{t} after"})
        try:
            assert sub.receive(timeout=0.5).content == f"{t} after"
            break
        except TimeoutError:
            assert time.monotonic() < deadline, "the subscription was not restarted"
    sub.unsubscribe()
    c.close()


def test_observe_query_resyncs_after_a_reconnect(restartable: dict[str, Any], tmp_path: Path) -> None:
    box = restartable["box"]
    t = tag()
    c = fast(cove.generate_client(config=box.outputs_path))
    Todo = c.models.Todo
    keep = Todo.create({"content": f"{t} keep"}).data
    gone = Todo.create({"content": f"{t} gone"}).data
    obs = Todo.observe_query(filter={"content": {"beginsWith": t}})
    it = iter(obs)
    assert sorted(r.content for r in next(it).items) == [f"{t} gone", f"{t} keep"]
    box.stop()
    # While the observer's server is down, another server on the same data changes it.
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other = start_sandbox(other_dir, SCHEMA, "--no-watch", data_dir=restartable["data"])
    o = cove.generate_client(config=other.outputs_path)
    o.models.Todo.delete({"id": gone.id})
    o.models.Todo.update({"id": keep.id, "content": f"{t} keep 2"})
    o.models.Todo.create({"content": f"{t} new"})
    o.close()
    other.stop()
    restartable["start"]()
    snap = next(it)  # the re-list after the reconnect
    assert snap.is_synced
    assert sorted(r.content for r in snap.items) == [f"{t} keep 2", f"{t} new"]
    obs.close()
    c.close()


def test_keepalive_watchdog_reconnects_a_silent_connection(tmp_path: Path) -> None:
    # The server promises a ka every 1.5 s at most (connectionTimeoutMs) but sends one a minute.
    box = start_sandbox(tmp_path, SCHEMA, "--no-watch", "--realtime-limit", "connection_timeout_ms=1500",
                        "--realtime-limit", "keepalive_interval=60")
    try:
        c = fast(cove.generate_client(config=box.outputs_path))
        c.realtime.options.keepalive_warning = 0.5
        states = States(c)
        t = tag()
        sub = c.models.Todo.on_create(filter={"content": {"eq": t}})
        first = states.wait_for(ConnectionState.CONNECTED)
        pending = states.wait_for(ConnectionState.CONNECTED_PENDING_KEEP_ALIVE, first)
        disrupted = states.wait_for(ConnectionState.CONNECTION_DISRUPTED, pending)
        states.wait_for(ConnectionState.CONNECTED, disrupted)
        deadline = time.monotonic() + 10
        while True:
            c.models.Todo.create({"content": t})
            try:
                sub.receive(timeout=0.5)
                break
            except TimeoutError:
                assert time.monotonic() < deadline
        c.close()
    finally:
        box.stop()


def test_expired_token_is_refreshed_by_reconnecting(box: Sandbox) -> None:
    """A subscription whose token expires is ended by the server; the client reconnects with a fresh
    token from its provider and re-starts it (aws-amplify does the same)."""
    import base64
    import json
    import subprocess
    import sys

    from authkit import PASSWORD, short_lived_token, sign_in

    email = f"refresh-{uuid.uuid4().hex[:6]}@example.com"
    subprocess.run([sys.executable, "-m", "cove", "users", "--data-dir", str(box.data_dir), "add", email,
                    "--password", PASSWORD], check=True, capture_output=True)
    good = sign_in(box, email)["AccessToken"]
    part = good.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    short = short_lived_token(box, validity=2, sub=claims["sub"], username=claims["username"], groups=[],
                              origin_jti=str(uuid.uuid4()))
    tokens = [short]

    def provider() -> str:
        return tokens[-1]

    c = fast(cove.generate_client(config=box.outputs_path, auth_providers={"user_pool": UserPoolAuth(provider)}))
    states = States(c)
    sub = c.models.Note.on_create(auth_mode="user_pool")
    tokens.append(good)  # the next time the client asks, it gets a long-lived token
    connected = states.wait_for(ConnectionState.CONNECTED)
    states.wait_for(ConnectionState.CONNECTED, connected + 1, timeout=15)  # reconnected after the expiry
    t = tag()
    deadline = time.monotonic() + 10
    while True:
        c.models.Note.create({"body": t}, auth_mode="user_pool")
        try:
            assert sub.receive(timeout=0.5).body == t
            break
        except TimeoutError:
            assert time.monotonic() < deadline
    c.close()


# ------------------------------------------------------------------------------------------ TLS


def test_tls_sandbox_is_trusted_from_the_outputs_file(tmp_path: Path) -> None:
    box = start_sandbox(tmp_path, SCHEMA, "--no-watch", "--tls")
    try:
        assert box.outputs["data"]["url"].startswith("https://")
        c = cove.generate_client(config=box.outputs_path)
        t = tag()
        with c.models.Todo.on_create(filter={"content": {"eq": t}}) as sub:
            assert c.models.Todo.create({"content": t}).data.content == t   # HTTPS
            assert sub.receive(timeout=10).content == t                      # WSS
        c.close()
        raw = Raw(box)  # a raw client that trusts the CA file
        raw.init()
        raw.close()
    finally:
        box.stop()


# ------------------------------------------------------------------------------------------ async


@pytest.mark.anyio
async def test_async_subscriptions(box: Sandbox) -> None:
    c = fast(cove.generate_async_client(config=box.outputs_path))
    t = tag()
    Todo = c.models.Todo
    async with Todo.on_create(filter={"content": {"beginsWith": t}}) as sub:
        await Todo.create({"content": t + " 1"})
        await Todo.create({"content": t + " 2"})
        got = []
        async for todo in sub:
            got.append(todo.content)
            if len(got) == 2:
                break
        assert got == [t + " 1", t + " 2"]
    updates = await Todo.on_update(filter={"content": {"beginsWith": t}})
    raw = await c.graphql("subscription { onDeleteTodo { id } }")
    todo = (await Todo.create({"content": t + " 3"})).data
    await Todo.update({"id": todo.id, "done": True})
    await Todo.delete({"id": todo.id})
    assert (await updates.receive(timeout=10)).done is True
    deleted = await raw.receive(timeout=10)
    while deleted.data["onDeleteTodo"]["id"] != todo.id:
        deleted = await raw.receive(timeout=10)
    await updates.unsubscribe()
    await raw.unsubscribe()
    with pytest.raises(SubscriptionError):
        await c.models.Drop.on_create()
    await c.aclose()


@pytest.mark.anyio
async def test_async_observe_query(box: Sandbox) -> None:
    c = fast(cove.generate_async_client(config=box.outputs_path))
    t = tag()
    Todo = c.models.Todo
    for i in range(5):
        await Todo.create({"content": f"{t} {i}", "rank": i})
    snaps: list[Snapshot[Any]] = []
    async with Todo.observe_query(filter={"content": {"beginsWith": t}}, limit=2,
                                  sort_by=lambda r: r.rank, descending=True) as obs:
        async for snap in obs:
            snaps.append(snap)
            if snap.is_synced and len(snap.items) == 5:
                await Todo.create({"content": f"{t} 9", "rank": 9})
            if len(snap.items) == 6:
                break
    assert [s.is_synced for s in snaps] == [False, False, True, True]
    assert [r.rank for r in snaps[-1].items] == [9, 4, 3, 2, 1, 0]
    await c.aclose()


@pytest.mark.anyio
async def test_async_state_and_shared_socket(box: Sandbox) -> None:
    c = fast(cove.generate_async_client(config=box.outputs_path))
    seen: list[ConnectionState] = []
    c.realtime.add_listener(lambda state, url: seen.append(state))
    a = await c.models.Todo.on_create()
    b = await c.models.Todo.on_update()
    assert seen == [ConnectionState.CONNECTING, ConnectionState.CONNECTED]
    assert len(c.realtime._sockets) == 1
    await a.unsubscribe()
    await b.unsubscribe()
    for _ in range(50):
        if seen[-1] == ConnectionState.DISCONNECTED:
            break
        await asyncio.sleep(0.05)
    assert seen[-1] == ConnectionState.DISCONNECTED
    await c.aclose()
