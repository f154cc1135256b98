"""What is PostgreSQL's own (the shared behaviour is in test_contract*.py, run on every backend): URLs,
a server that is down or goes away, passwords kept out of messages, byte order, NUL, concurrent
migrations from one process, a pool per event loop, and recovery after connections are killed."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from pg_support import SERVER_URL, fresh_postgres_url

from cove.schema.model import Schema
from cove.store import BackendError, open_backend
from cove.store.base import (
    AggregateRequest,
    DatabaseUnavailable,
    InvalidFilter,
    KeyCondition,
    ListRequest,
    ReadOverBudget,
    RelatedRequest,
    StatementTimedOut,
    StoreError,
    TextNotStorable,
    TransactionCanceled,
    TransactItem,
)
from cove.store.postgres.backend import PostgresBackend
from cove.store.postgres.connection import parse_url
from cove.store.postgres.transfer import BackupNotSupported

from .conftest import contract_schema

pytestmark = pytest.mark.anyio

T = "2024-01-01T00:00:00.000Z"
PASSWORD = "pa55-w0rd-never-shown"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tagged_url(tag: str) -> str:
    """A fresh test database whose connections carry ``application_name=tag`` (to find and kill them)."""
    return f"{fresh_postgres_url('pg')}&application_name={tag}"


async def server_connection() -> asyncpg.Connection:
    return await asyncpg.connect(SERVER_URL)


# -- URLs -----------------------------------------------------------------------------------------

def test_url_parameters_are_read_and_stripped() -> None:
    location = parse_url(f"postgresql://cove:{PASSWORD}@db.internal:6543/app?schema=tenant_1&pool_size=3"
                         "&sslmode=disable&statement_timeout=5000&application_name=x")
    assert (location.schema, location.pool_size, location.host, location.port, location.database,
            location.statement_timeout) == ("tenant_1", 3, "db.internal", 6543, "app", 5000)
    assert location.dsn == f"postgresql://cove:{PASSWORD}@db.internal:6543/app?sslmode=disable&application_name=x"
    assert location.description == "PostgreSQL cove@db.internal:6543/app (schema tenant_1)"
    assert PASSWORD not in repr(location)
    defaults = parse_url("postgres://localhost/app")
    assert (defaults.schema, defaults.pool_size, defaults.port, defaults.user, defaults.statement_timeout) == (
        "public", 10, 5432, "postgres", 30_000)
    assert "schema" not in defaults.dsn and "pool_size" not in defaults.dsn


@pytest.mark.parametrize(("url", "message"), [
    ("postgresql://h/db?pool_size=0", "pool_size must be a whole number of connections from 1 to 1000, not '0'"),
    ("postgresql://h/db?pool_size=many", "not 'many'"),
    ("postgresql://h/db?pool_size=-1", "pool_size must be a whole number of connections from 1 to 1000, not '-1'"),
    ("postgresql://h/db?pool_size=100000", "from 1 to 1000"),
    ("postgresql://h/db?statement_timeout=1s", "statement_timeout must be whole milliseconds from 0 (no limit) to 2147483647, not '1s'"),
    ("postgresql://h/db?statement_timeout=-5", "not '-5'"),
    ("postgresql://h/db?statement_timeout=9999999999", "not '9999999999'"),
    ("postgresql://h/db?schema=", "a PostgreSQL schema name is 1 to 63 bytes"),
    ("postgresql://h/db?schema=" + "s" * 64, "1 to 63 bytes"),
    ("postgresql://h/db?schema=a%00b", "1 to 63 bytes"),
    (f"postgresql://u:{PASSWORD}@h:99999/db", "not a valid PostgreSQL URL (postgresql://u:***@h:99999/db)"),
    (f"postgresql://u:{PASSWORD}@h:port/db", "not a valid PostgreSQL URL"),
])
def test_bad_urls_get_one_clear_line(url: str, message: str) -> None:
    with pytest.raises(BackendError) as caught:
        open_backend(url)
    assert message in str(caught.value) and PASSWORD not in str(caught.value) and "\n" not in str(caught.value)


async def test_a_hostile_schema_name_is_only_a_name() -> None:
    name = f'Cove "{uuid.uuid4().hex[:6]}"; DROP SCHEMA public --'
    backend = open_backend(SERVER_URL + ("&" if "?" in SERVER_URL else "?") + "pool_size=1&schema="
                           + urllib.parse.quote(name))
    admin = await server_connection()
    try:
        await backend.migrator.apply_schema(contract_schema())
        assert backend.description.endswith(f"(schema {name})")
        tables = await admin.fetch("SELECT table_name FROM information_schema.tables WHERE table_schema = $1", name)
        assert {"Post", "_cove_meta", "_cove_migrations"} <= {row[0] for row in tables}
        assert await admin.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname = 'public'") == 1
    finally:
        await backend.close()
        await admin.execute(f'DROP SCHEMA IF EXISTS "{name.replace(chr(34), chr(34) * 2)}" CASCADE')
        await admin.close()


def test_a_backend_never_shows_its_password() -> None:
    backend = open_backend(f"postgresql://cove:{PASSWORD}@db.internal/app?schema=s")
    assert isinstance(backend, PostgresBackend)
    assert backend.description == "PostgreSQL cove@db.internal:5432/app (schema s)"
    assert PASSWORD not in repr(backend) and PASSWORD not in repr(backend.location)


# -- a server that is not there, or goes away -----------------------------------------------------

async def test_nothing_listening_is_database_unavailable_naming_the_host() -> None:
    port = free_port()
    backend = open_backend(f"postgresql://cove:{PASSWORD}@127.0.0.1:{port}/app?schema=s")
    started = time.monotonic()
    for attempt in (backend.open, lambda: backend.migrator.apply_schema(contract_schema()), backend.keys.api_keys):
        with pytest.raises(DatabaseUnavailable) as caught:
            await attempt()
        assert f"127.0.0.1:{port}" in str(caught.value) and PASSWORD not in str(caught.value)
        assert caught.value.__cause__ is None
    assert time.monotonic() - started < 5
    await backend.close()


async def test_an_unknown_host_is_database_unavailable() -> None:
    backend = open_backend("postgresql://cove@no-such-host.invalid:5432/app")
    with pytest.raises(DatabaseUnavailable, match="no-such-host.invalid:5432"):
        await backend.open()
    await backend.close()


async def test_a_missing_database_is_named() -> None:
    backend = open_backend(SERVER_URL.rsplit("/", 1)[0] + "/no_such_database_here")
    with pytest.raises(DatabaseUnavailable, match="has no database no_such_database_here"):
        await backend.open()
    await backend.close()


class Proxy:
    """A TCP proxy to the test server that can be taken down (every connection cut) and brought back."""

    def __init__(self) -> None:
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        target = parse_url(SERVER_URL)

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            writer.close()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            up_reader, up_writer = await asyncio.open_connection(target.host, target.port)
            self._writers += [writer, up_writer]
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

        self._server = await asyncio.start_server(serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        self._writers = []
        await self._server.wait_closed()

    def url(self) -> str:
        target = parse_url(fresh_postgres_url("proxy"))
        dsn = target.dsn.replace(f"{target.host}:{target.port}", f"127.0.0.1:{self.port}")
        return f"{dsn}{'&' if '?' in dsn else '?'}schema={target.schema}&pool_size=2"


@pytest.fixture
async def proxy() -> AsyncIterator[Proxy]:
    proxy = Proxy()
    await proxy.start()
    yield proxy
    with contextlib.suppress(Exception):
        await proxy.stop()


async def test_the_backend_recovers_when_the_database_comes_back(proxy: Proxy) -> None:
    schema = contract_schema()
    Post = schema.models["Post"]
    backend = open_backend(proxy.url())
    await backend.migrator.apply_schema(schema)
    await backend.records.create(Post, {"id": "p1", "createdAt": T, "updatedAt": T}, None)
    await proxy.stop()
    for _ in range(3):   # every call fails the same way while the database is gone
        with pytest.raises(DatabaseUnavailable, match=f"127.0.0.1:{proxy.port}"):
            await backend.records.get(Post, {"id": "p1"})
    with pytest.raises(DatabaseUnavailable):
        await backend.records.create(Post, {"id": "p2", "createdAt": T, "updatedAt": T}, None)
    await proxy.start()
    assert (await backend.records.get(Post, {"id": "p1"}) or {})["id"] == "p1"
    await backend.records.create(Post, {"id": "p2", "createdAt": T, "updatedAt": T}, None)
    assert await backend.records.count(Post) == 2
    await backend.close()


async def test_a_backend_opened_while_the_database_is_down_connects_later(proxy: Proxy) -> None:
    url = proxy.url()
    await proxy.stop()
    backend = open_backend(url)
    with pytest.raises(DatabaseUnavailable):
        await backend.open()   # the failed pool is not kept...
    await proxy.start()
    await backend.open()       # ...so the next call makes one
    assert len(backend.secret()) == 32
    await backend.close()


async def test_killed_connections_are_replaced() -> None:
    tag = f"cove_kill_{uuid.uuid4().hex[:8]}"
    backend = open_backend(tagged_url(tag))
    schema = contract_schema()
    Post = schema.models["Post"]
    await backend.migrator.apply_schema(schema)
    await backend.records.create(Post, {"id": "p1", "createdAt": T, "updatedAt": T}, None)
    admin = await server_connection()
    try:
        killed = await admin.fetchval("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                      "WHERE application_name = $1", tag)
        assert killed >= 1
        await asyncio.sleep(0.1)
        outcomes = []
        for _ in range(3):   # at most the first call may see the dead connection, as DatabaseUnavailable
            try:
                outcomes.append((await backend.records.get(Post, {"id": "p1"}) or {}).get("id"))
            except DatabaseUnavailable:
                outcomes.append("unavailable")
        assert outcomes[1:] == ["p1", "p1"] and outcomes[0] in ("p1", "unavailable")
        await backend.records.create(Post, {"id": "p2", "createdAt": T, "updatedAt": T}, None)
    finally:
        await admin.close()
        await backend.close()


# -- a pool per event loop ------------------------------------------------------------------------

def test_one_pool_per_event_loop() -> None:
    """Cove runs asyncio.run(prepare()) before the server's loop: the second loop gets its own pool and
    the first loop's connections are closed, not leaked."""
    tag = f"cove_loops_{uuid.uuid4().hex[:8]}"
    backend = open_backend(tagged_url(tag))
    schema = contract_schema()
    Post = schema.models["Post"]

    async def prepare() -> None:
        await backend.migrator.apply_schema(schema)
        await backend.records.create(Post, {"id": "p1", "createdAt": T, "updatedAt": T}, None)

    async def serve() -> tuple[str, int]:
        record = await backend.records.get(Post, {"id": "p1"}) or {}
        admin = await server_connection()
        try:
            connections = await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                                               tag)
        finally:
            await admin.close()
        await backend.close()
        return record["id"], connections

    asyncio.run(prepare())
    found, connections = asyncio.run(serve())
    assert found == "p1"
    assert connections == 1   # the second loop's pool only (min_size 1); the first one's were closed


async def test_many_backends_migrating_at_once_apply_once() -> None:
    url = fresh_postgres_url("race")
    backends = [open_backend(url) for _ in range(8)]
    try:
        reports = await asyncio.gather(*(b.migrator.apply_schema(contract_schema()) for b in backends))
        assert sorted(bool(r.created_models) for r in reports) == [False] * 7 + [True]
        assert len({b.secret() for b in backends}) == 1   # one secret, created by the first
        assert len(await backends[0].migrator.history()) == 1
    finally:
        for b in backends:
            await b.close()


# -- text: byte order and NUL ---------------------------------------------------------------------

@pytest.fixture
async def backend() -> AsyncIterator[PostgresBackend]:
    opened = open_backend(fresh_postgres_url("own"))
    assert isinstance(opened, PostgresBackend)
    await opened.migrator.apply_schema(contract_schema())
    yield opened
    await opened.close()


@pytest.fixture
def schema() -> Schema:
    return contract_schema()


async def test_text_columns_sort_by_bytes(backend: PostgresBackend, schema: Schema) -> None:
    """COLLATE "C" on every text column: code-point order whatever the database's collation."""
    conn = await backend.pool()
    collations = await conn.fetch("SELECT table_name, column_name, collation_name FROM information_schema.columns "
                                  "WHERE table_schema = current_schema() AND data_type = 'text' "
                                  "AND table_name NOT LIKE '\\_cove\\_%'")
    assert collations and {row[2] for row in collations} == {"C"}
    Order = schema.models["Order"]
    names = ["zoë", "Zoe", "zoe", "zöe", "ζ", "z", "Ω", "😀", "\uffff", "a b", "a-b", "ab"]
    for i, name in enumerate(names):
        await backend.records.create(Order, {"customerId": name, "placedAt": T, "total": float(i), "status": "open",
                                             "createdAt": T, "updatedAt": T}, None)
    page = await backend.records.list(ListRequest(Order))
    assert [r["customerId"] for r in page.items] == sorted(names)   # Python's str order = code points
    # A secondary index is a real B-tree index the planner uses, in the same order.
    indexes = {row[0]: row[1] for row in await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()")}
    assert "USING btree" in indexes["Order__ordersByStatusAndTotal"]
    async with conn.acquire() as one, one.transaction():
        await one.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(r[0] for r in await one.fetch(
            'EXPLAIN SELECT * FROM "Order" WHERE status = $1 ORDER BY total', "open"))
    assert "Order__ordersByStatusAndTotal" in plan
    tail = await backend.records.list(ListRequest(Order, key_condition=KeyCondition(
        "customerId", "zoë", ("placedAt",), {"beginsWith": "2024"})))
    assert [r["customerId"] for r in tail.items] == ["zoë"]


async def test_a_deadlock_with_another_writer_cancels_the_transaction_as_a_conflict(
        backend: PostgresBackend, schema: Schema) -> None:
    """Cove's own transactions lock in one order (the contract suite runs crossed ones); a writer
    outside Cove that locks in the other order makes PostgreSQL break the deadlock by failing one
    side. When that is Cove's, the answer is DynamoDB's for a concurrent transaction, the item that
    waited named, and nothing is written."""
    Post = schema.models["Post"]
    for i in (1, 2):
        await backend.records.create(Post, {"id": f"p{i}", "rank": 0, "createdAt": T, "updatedAt": T}, None)
    pool = await backend.pool()
    async with pool.acquire() as other:
        tx = other.transaction()
        await tx.start()
        await other.execute('UPDATE "Post" SET rank = 7 WHERE id = $1', "p2")
        cove = asyncio.create_task(backend.records.transact([
            TransactItem("update", Post, key={"id": "p2"}, values={"rank": 1}),
            TransactItem("update", Post, key={"id": "p1"}, values={"rank": 1})]))
        while not await other.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted"):
            await asyncio.sleep(0.02)   # Cove holds p1 and waits for p2
        await other.execute('UPDATE "Post" SET rank = 7 WHERE id = $1', "p1")   # waits until Cove's side fails
        with pytest.raises(TransactionCanceled) as caught:
            await cove
        await tx.commit()
    assert caught.value.reasons == ["TransactionConflict", "None"]
    assert caught.value.error_type == "DynamoDB:TransactionCanceledException"
    assert [(await backend.records.get(Post, {"id": k}) or {})["rank"] for k in ("p1", "p2")] == [7, 7]
    # the store is usable afterwards
    await backend.records.transact([TransactItem("update", Post, key={"id": "p1"}, values={"rank": 2})])
    assert (await backend.records.get(Post, {"id": "p1"}) or {})["rank"] == 2


async def test_nul_is_refused_in_text_and_kept_in_lists(backend: PostgresBackend, schema: Schema) -> None:
    Post, Line = schema.models["Post"], schema.models["Line"]
    with pytest.raises(TextNotStorable) as caught:
        await backend.records.create(Post, {"id": "p", "title": "a\x00b", "createdAt": T, "updatedAt": T}, None)
    assert caught.value.error_type == "DynamoDB:ValidationException"
    assert "PostgreSQL cannot store the NUL character (U+0000) in text" in str(caught.value)
    kept = await backend.records.create(Post, {"id": "p", "tags": ["\x00", "a\x00b"], "meta": None,
                                               "createdAt": T, "updatedAt": T}, None)
    assert kept["tags"] == ["\x00", "a\x00b"] and (await backend.records.get(Post, {"id": "p"}) or {}) == kept
    # Keys holding NUL are never found (no stored text holds it), whatever the read.
    assert await backend.records.get(Post, {"id": "p\x00"}) is None
    assert [r["id"] for r in await backend.records.get_many(Post, [{"id": "p\x00"}, {"id": "p"}])] == ["p"]
    assert (await backend.records.list(ListRequest(Post, extra_equals={"blogId": "\x00"}))).items == []
    pages = await backend.records.list_related(RelatedRequest(Post, ("blogId",), [("\x00",), ("b",)]))
    assert [page.items for page in pages.values()] == [[], []]
    assert await backend.records.list_related(RelatedRequest(Line, ("orderCustomer", "orderPlacedAt"),
                                                             [("a\x00", T)])) == {("a\x00", T): pages[("b",)]}
    assert await backend.keys.find_api_key("da2-\x00") is None
    assert not await backend.keys.revoke_api_key("\x00")
    with pytest.raises(TextNotStorable):
        await backend.keys.create_api_key(expires_at=time.time() + 60, description="a\x00")
    with pytest.raises(TextNotStorable, match="record 2: PostgreSQL cannot store"):
        await backend.transfer.insert_records([(Post, {"id": "q", "createdAt": T, "updatedAt": T}),
                                               (Post, {"id": "q\x00", "createdAt": T, "updatedAt": T})])
    assert await backend.records.count(Post) == 1


async def test_operands_keep_their_type(backend: PostgresBackend, schema: Schema) -> None:
    """Left to the driver, 2.5 bound for a BIGINT column would become 2: operands are typed by value."""
    Post = schema.models["Post"]
    await backend.records.create(Post, {"id": "p", "rank": 2, "score": 2.0, "createdAt": T, "updatedAt": T}, None)

    async def ids(flt: dict[str, object]) -> list[str]:
        return [r["id"] for r in (await backend.records.list(ListRequest(Post, filter=flt))).items]

    assert await ids({"rank": {"eq": 2.5}}) == [] and await ids({"rank": {"lt": 2.5}}) == ["p"]
    assert await ids({"rank": {"eq": 2.0}}) == ["p"] and await ids({"score": {"eq": 2}}) == ["p"]
    assert await ids({"rank": {"between": [1.5, 2.5]}}) == ["p"] and await ids({"rank": {"gt": 2.5}}) == []
    for wrong in ({"title": {"eq": 5}}, {"rank": {"eq": "2"}}, {"draft": {"gt": 1}}, {"tags": {"contains": {"a": 1}}}):
        with pytest.raises(InvalidFilter, match="an operand does not fit the field's values"):
            await ids(wrong)


# -- transfer -------------------------------------------------------------------------------------

async def test_backup_points_to_pg_dump(backend: PostgresBackend, tmp_path: object) -> None:
    with pytest.raises(BackupNotSupported, match="back up PostgreSQL with pg_dump") as caught:
        await backend.transfer.backup(tmp_path)  # type: ignore[arg-type]
    assert isinstance(caught.value, StoreError)


async def test_drop_all_drops_only_coves_tables(backend: PostgresBackend, schema: Schema) -> None:
    conn = await backend.pool()
    await conn.execute("CREATE TABLE someone_elses (x int)")
    await backend.keys.create_api_key(expires_at=time.time() + 60)
    await backend.records.create(schema.models["Post"], {"id": "p", "createdAt": T, "updatedAt": T}, None)
    await backend.transfer.drop_all()
    tables = {row[0] for row in await conn.fetch(backend.dialect.table_names())}
    # The event-listener tables stay: other processes' subscriptions rely on them (listeners.py).
    assert tables == {"someone_elses", "_cove_event_listeners", "_cove_event_generation"}
    # The backend sets itself up again: a new secret, an empty history, the schema applied afresh.
    report = await backend.migrator.apply_schema(schema)
    assert "Post" in report.created_models and await backend.records.count(schema.models["Post"]) == 0
    assert len(await backend.migrator.history()) == 1


# -- long reads -----------------------------------------------------------------------------------

async def _posts(backend: PostgresBackend, count: int) -> None:
    """``count`` posts in one statement (the store's own insert would take a while)."""
    pool = await backend.pool()
    await pool.execute('INSERT INTO "Post" (id, title, rank, "createdAt", "updatedAt") '
                       "SELECT 'p' || lpad(i::text, 7, '0'), 'title ' || i, i, $1, $1 "
                       "FROM generate_series(1, $2) AS i", T, count)


async def show_under_a_tight_limit(pool: Any, setting: str) -> str:
    """SHOW, tried again when cancelled: on a loaded machine even SHOW can stall past a 2 ms limit."""
    for _ in range(50):
        try:
            return str(await pool.fetchval(f"SHOW {setting}"))
        except asyncpg.QueryCanceledError:
            await asyncio.sleep(0.01)
    raise AssertionError(f"SHOW {setting} was cancelled 50 times running")


async def test_every_statement_has_a_time_limit_and_past_it_the_field_times_out() -> None:
    """30 s by default (AppSync's resolver timeout), or the URL's statement_timeout; past it PostgreSQL
    cancels the statement and the store says ExecutionTimeout. Schema changes lift it."""
    schema = contract_schema()
    Post = schema.models["Post"]
    url = fresh_postgres_url("timeout")
    default = open_backend(url)
    strict = open_backend(f"{url}&statement_timeout=2")   # milliseconds, as PostgreSQL reads it
    assert isinstance(default, PostgresBackend) and isinstance(strict, PostgresBackend)
    try:
        await strict.migrator.apply_schema(schema)   # lifted for the schema change: it passes
        assert not (await default.migrator.apply_schema(schema)).changed
        assert await (await default.pool()).fetchval("SHOW statement_timeout") == "30s"
        assert await show_under_a_tight_limit(await strict.pool(), "statement_timeout") == "2ms"
        await _posts(default, 300_000)
        with pytest.raises(StatementTimedOut) as caught:
            await strict.records.aggregate(AggregateRequest(Post, "sum", "rank"))
        assert caught.value.error_type == "ExecutionTimeout" and "time limit" in str(caught.value)
        assert (await default.records.aggregate(AggregateRequest(Post, "sum", "rank")))[0].value \
            == 300_000 * 300_001 // 2
    finally:
        await strict.close()
        await default.close()


async def test_a_bounded_read_holding_its_connection_too_long_is_read_again_on_the_heavy_pool(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's first try of a light request: past BOUNDED_READ_SECONDS the statement is cancelled
    (ReadOverBudget, nothing changed, the connection goes on), and the heavy view, on a pool of its own
    (a quarter of pool_size), answers in full."""
    from cove.store.postgres import records as pg_records

    monkeypatch.setattr(pg_records, "BOUNDED_READ_SECONDS", 0.005)
    schema = contract_schema()
    Post = schema.models["Post"]
    opened = open_backend(fresh_postgres_url("bounded").replace("pool_size=4", "pool_size=8"))
    assert isinstance(opened, PostgresBackend)
    try:
        await opened.migrator.apply_schema(schema)
        await _posts(opened, 300_000)
        bounded = opened.records.bounded_reads(0.002)
        assert len((await bounded.list(ListRequest(Post, limit=3))).items) == 3    # an indexed read answers
        nowhere = ListRequest(Post, {"title": {"contains": "no such title"}}, limit=5)
        with pytest.raises(ReadOverBudget):
            await bounded.list(nowhere)
        assert (await bounded.get(Post, {"id": "p0000007"}) or {})["rank"] == 7   # the pool goes on
        heavy = opened.records.for_heavy_reads()
        assert heavy.for_heavy_reads() is heavy and opened.heavy_pools.size == 2
        assert (await heavy.list(nowhere)).items == []
        assert opened.heavy_pools.current() is not None and opened.heavy_pools.current() is not opened.pools.current()
        # The plain store has no such bound (its reads are the heavy view's or the writers').
        assert (await opened.records.list(nowhere)).items == []
    finally:
        await opened.close()
