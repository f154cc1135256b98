"""Events nobody listens to are not sent, and no event that somebody listens to is skipped.

Two `cove serve` processes share one PostgreSQL schema and nothing else (the broker is the database's
LISTEN/NOTIFY). A mutation's event goes out only when some process has registered its field's channel
(cove.store.postgres.listeners): the publisher's metrics count the ones it did not send. The hostile
case is the first subscription to a field on the other process, with a mutation sent the moment its
start_ack arrives: the publisher's view of who listens is stale then, and the event must still arrive.
"""

from __future__ import annotations

import re
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import asyncpg
import httpx
import pytest
from conftest import Sandbox, free_port, start_sandbox
from paths import TESTS
from pg_support import fresh_postgres_url, run_sql, split_url
from realtime_support import Raw, on_create, on_delete, on_update

from cove.store.postgres.listeners import EventListeners

SCHEMA = TESTS / "schemas" / "realtime_schema.py"
CREATE = "mutation ($i: CreateTodoInput!) { createTodo(input: $i) { id content } }"
UPDATE = "mutation ($i: UpdateTodoInput!) { updateTodo(input: $i) { id content } }"
DELETE = "mutation ($i: DeleteTodoInput!) { deleteTodo(input: $i) { id content } }"


class Host:
    def __init__(self, root: Path, name: str, database_url: str) -> None:
        folder = root / name
        folder.mkdir()
        shutil.copy(SCHEMA, folder / "schema.py")
        self.metrics_port = free_port()
        self.box: Sandbox = start_sandbox(folder, folder / "schema.py", "--metrics-port", str(self.metrics_port),
                                          data_dir=folder / "data", command="serve", database_url=database_url)

    def unsent(self) -> int:
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).text
        found = re.search(r"^cove_events_unsent_total (\S+)$", text, re.M)
        assert found, text
        return int(float(found.group(1)))

    def gql(self, query: str, variables: dict) -> dict:
        body = self.box.gql(query, variables)
        assert "errors" not in body, body
        return body["data"]  # type: ignore[no-any-return]


@pytest.fixture()
def hosts(tmp_path: Path) -> Iterator[tuple[Host, Host, str]]:
    url = fresh_postgres_url("listeners")
    one = Host(tmp_path, "one", url)
    try:
        two = Host(tmp_path, "two", url)
    except BaseException:
        one.box.stop()
        raise
    yield one, two, url
    one.box.stop()
    two.box.stop()


def wait_for(predicate, what: str, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        time.sleep(0.05)


def test_a_mutation_nobody_listens_to_is_not_sent(hosts: tuple[Host, Host, str]) -> None:
    one, _, _ = hosts
    # The first writes may go out: the broker reads who listens once a write shows it something new.
    wait_for(lambda: (one.gql(CREATE, {"i": {"content": "warm"}}), one.unsent())[1] > 0, "a create not sent")
    before = one.unsent()
    for i in range(5):
        made = one.gql(CREATE, {"i": {"content": f"quiet {i}"}})["createTodo"]
        one.gql(UPDATE, {"i": {"id": made["id"], "content": "quieter"}})
    assert one.unsent() == before + 10


def test_the_first_listener_on_another_host_hears_the_very_next_mutation(hosts: tuple[Host, Host, str]) -> None:
    one, two, _ = hosts
    wait_for(lambda: (one.gql(CREATE, {"i": {"content": "warm"}}), one.unsent())[1] > 0, "a create not sent")
    wait_for(lambda: (two.gql(CREATE, {"i": {"content": "warm"}}), two.unsent())[1] > 0, "a create not sent")
    # Each subscription is the first to its field on its host; the mutation leaves the moment the
    # start_ack is in, from the other host, whose view of who listens predates the subscription.
    for listener, writer in ((two, one), (one, two)):
        conn = Raw(listener.box)
        conn.init()
        try:
            made = writer.gql(CREATE, {"i": {"content": "before"}})["createTodo"]
            conn.subscribe("c", on_create("id content"))
            created = writer.gql(CREATE, {"i": {"content": "after"}})["createTodo"]
            assert conn.expect("data")["payload"]["data"]["onCreateTodo"]["id"] == created["id"]
            conn.subscribe("u", on_update("id content"))
            writer.gql(UPDATE, {"i": {"id": made["id"], "content": "changed"}})
            assert conn.expect("data")["payload"]["data"]["onUpdateTodo"]["content"] == "changed"
            conn.subscribe("d", on_delete("id content"))
            writer.gql(DELETE, {"i": {"id": made["id"]}})
            assert conn.expect("data")["payload"]["data"]["onDeleteTodo"]["id"] == made["id"]
            conn.nothing(1.0)   # each once
        finally:
            conn.close()
    # Both hosts now listen to the three fields (a process keeps listening): nothing is left unsent.
    before = one.unsent(), two.unsent()
    one.gql(CREATE, {"i": {"content": "heard"}})
    two.gql(CREATE, {"i": {"content": "heard"}})
    assert (one.unsent(), two.unsent()) == before


def test_a_host_that_stops_stops_being_sent_events(hosts: tuple[Host, Host, str]) -> None:
    one, two, url = hosts
    conn = Raw(two.box)
    conn.init()
    conn.subscribe("c", on_create("id content"))
    created = one.gql(CREATE, {"i": {"content": "heard"}})["createTodo"]
    assert conn.expect("data")["payload"]["data"]["onCreateTodo"]["id"] == created["id"]
    conn.close()
    assert run_sql(url, "SELECT count(*) FROM _cove_event_listeners").strip() != "0"
    two.box.process.send_signal(signal.SIGTERM)   # a clean stop removes the host's rows
    assert two.box.process.wait(timeout=30) == 0
    assert run_sql(url, "SELECT count(*) FROM _cove_event_listeners").strip() == "0"
    before = one.unsent()
    wait_for(lambda: (one.gql(CREATE, {"i": {"content": "unheard"}}), one.unsent())[1] > before,
             "creates not sent once the listener left")


@pytest.mark.anyio
async def test_rows_of_sessions_that_ended_are_swept_and_writes_see_each_change() -> None:
    """A process killed outright leaves its rows; any process's sweep removes them. Every change to
    the rows raises the generation the store's writes report."""
    from cove.store.postgres.backend import PostgresBackend

    url = fresh_postgres_url("sweep")
    backend = PostgresBackend(url)
    await backend.open()
    libpq, schema = split_url(url)
    listening = await asyncpg.connect(libpq)
    other = await asyncpg.connect(libpq)
    try:
        listeners = EventListeners(f'"{schema}"')
        await listeners.read(other)
        assert (listeners.known, listeners.channels) == (0, frozenset())
        await listeners.register(listening, ["cove_a", "cove_b"])
        await listeners.register(listening, ["cove_a"])        # already there: no change, no raise
        await listeners.read(other)
        assert (listeners.known, listeners.channels) == (1, frozenset({"cove_a", "cove_b"}))
        assert not listeners.unheard("cove_a") and listeners.unheard("cove_c")

        # A store write reports the generation its statement saw; a newer one makes the view stale.
        from cove.schema.loader import SchemaSource

        model = SchemaSource(str(SCHEMA)).load().schema
        await backend.migrator.apply_schema(model)
        await backend.records.create(model.models["Todo"], {"id": "x1", "content": "c"}, None)
        assert backend.event_listeners.written == 1
        await listeners.register(listening, ["cove_c"])
        await backend.records.create(model.models["Todo"], {"id": "x2", "content": "c"}, None)
        assert backend.event_listeners.written == 2
        backend.event_listeners.known, backend.event_listeners.channels = 1, frozenset({"cove_a"})
        assert backend.event_listeners.stale and not backend.event_listeners.unheard("cove_z")

        # The listening session dies without cleaning up: its rows stay until a sweep.
        pid = listening.get_server_pid()
        listening.terminate()
        for _ in range(100):
            alive = await other.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid)
            if not alive:
                break
            await anyio.sleep(0.05)
        assert run_sql(url, "SELECT count(*) FROM _cove_event_listeners").strip() == "3"
        await listeners.sweep(other)
        assert run_sql(url, "SELECT count(*) FROM _cove_event_listeners").strip() == "0"
        await listeners.read(other)
        assert (listeners.known, listeners.channels) == (3, frozenset())
        await listeners.sweep(other)                           # nothing to remove: no raise
        await listeners.read(other)
        assert listeners.known == 3
    finally:
        await other.close()
        if not listening.is_closed():
            await listening.close()
        await backend.close()
