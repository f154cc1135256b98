"""Identity stores for tests, on each backend: SQLite in a folder, or PostgreSQL in a fresh schema of
the test server with a small pool of the test's own (as a backend would give it). A "second store"
is another process's view of the same database: its own connection (SQLite) or its own pool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import asyncpg
from pg_support import fresh_postgres_url

from cove.store.identity_state import IdentityStore
from cove.store.postgres.identity import PostgresIdentityStore
from cove.store.sqlite.identity import SQLiteIdentityStore

BACKENDS = ["sqlite", "postgres"]
_where: dict[int, tuple[str, str]] = {}   # id(store) -> (backend name, its location)


def server_url_and_schema(url: str) -> tuple[str, str]:
    """The libpq URL without Cove's own query parameters, and the schema it names."""
    parts = urlsplit(url)
    schema = parse_qs(parts.query)["schema"][0]
    return urlunsplit(parts._replace(query="")), schema


@asynccontextmanager
async def postgres_store(url: str, *, max_size: int = 4) -> AsyncIterator[PostgresIdentityStore]:
    server, schema = server_url_and_schema(url)
    setup = await asyncpg.connect(server)
    try:
        await setup.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    except asyncpg.UniqueViolationError:
        pass   # processes starting together: another one created it at the same moment
    finally:
        await setup.close()
    pool = await asyncpg.create_pool(server, server_settings={"search_path": schema}, min_size=1,
                                     max_size=max_size)

    async def current_pool() -> asyncpg.Pool:
        return pool

    store = PostgresIdentityStore(current_pool, where="127.0.0.1:5432")
    _where[id(store)] = ("postgres", url)
    try:
        yield store
    finally:
        _where.pop(id(store), None)
        await store.close()
        await pool.close()


@asynccontextmanager
async def open_identity_store(name: str, folder: Path) -> AsyncIterator[IdentityStore]:
    """A new, empty identity store on backend ``name``."""
    if name == "sqlite":
        store = SQLiteIdentityStore(folder / "data.sqlite")
        _where[id(store)] = ("sqlite", str(folder / "data.sqlite"))
        try:
            yield store
        finally:
            _where.pop(id(store), None)
            await store.close()
    elif name == "postgres":
        async with postgres_store(fresh_postgres_url("identity")) as pg:
            yield pg
    else:
        raise AssertionError(f"no identity store for backend {name!r}")


async def raw_execute(store: IdentityStore, sql: str, *args: object) -> None:
    """Run SQL (``$1`` placeholders) on ``store``'s database behind its back, as another program would."""
    name, location = _where[id(store)]
    if name == "sqlite":
        import re
        import sqlite3

        conn = sqlite3.connect(location, isolation_level=None)
        try:
            conn.execute(re.sub(r"\$(\d+)", r"?\1", sql), args)   # ?NNN: numbered, as $N
        finally:
            conn.close()
        return
    assert isinstance(store, PostgresIdentityStore)
    async with store._connection() as conn:
        await conn.execute(sql, *args)


@asynccontextmanager
async def second_store(store: IdentityStore, folder: Path) -> AsyncIterator[IdentityStore]:
    """Another process's store on the same database as ``store`` (made by ``open_identity_store``)."""
    name, location = _where[id(store)]
    if name == "sqlite":
        other = SQLiteIdentityStore(location)
        try:
            yield other
        finally:
            await other.close()
    else:
        async with postgres_store(location) as pg:
            yield pg
