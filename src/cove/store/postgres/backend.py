"""The PostgreSQL backend: one schema of one database holds the records, Cove's own tables
(``_cove_meta`` with the description and the secret, ``_cove_api_keys``, ``_cove_migrations``) and
the identity state; each process reaches it through an asyncpg pool (see connection.py).

Schema changes run under ``pg_advisory_xact_lock`` and re-read the stored description inside the
lock, so any number of processes may start at once: one applies a change, once, and records it in
``_cove_migrations``; the others find it done.
"""

from __future__ import annotations

import secrets
import time
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import asyncpg  # type: ignore[import-untyped]
import orjson

from cove.schema.model import Schema

from ..base import AppliedMigration, Backend, MigrationReport, Migrator
from ..sql import meta, migrate
from ..sql.layout import Layout
from ..sql.tokens import NextTokens
from .connection import NO_STATEMENT_TIMEOUT, Pools, parse_url
from .dialect import PostgresDialect
from .keys import PostgresKeys
from .listeners import EventListeners
from .listeners import create_tables as create_listener_tables
from .pool import ConnectionPool
from .records import PostgresRecords
from .transfer import PostgresTransfer

if TYPE_CHECKING:
    from ..identity_state import IdentityStore

LOCK = "SELECT pg_advisory_xact_lock(hashtext($1))"


class PostgresMigrator:
    """Migrator: the stored description in ``_cove_meta`` against the schema (``store/sql/migrate.py``)."""

    def __init__(self, backend: PostgresBackend) -> None:
        self._backend = backend

    async def apply_schema(self, schema: Schema, *, allow_destructive: bool = False) -> MigrationReport:
        """Create tables and columns for new models and fields; changes that would lose data are
        refused unless ``allow_destructive`` (see SQLiteMigrator). One transaction, under the lock."""
        backend, d = self._backend, self._backend.dialect
        pool = await backend.pool()
        try:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(NO_STATEMENT_TIMEOUT)   # waiting for the lock, building an index
                await conn.execute(LOCK, backend.lock_name)
                plan, todo = await self._plan(conn, schema, allow_destructive)
                for sql, params in todo:
                    await conn.execute(sql, *params)
                if todo:
                    ddl = migrate.ddl(todo)
                    sql, params = meta.record_migration(d, time.time(), migrate.summary(plan, todo), ddl)
                    await conn.execute(sql, *params)
        except Exception as exc:  # noqa: BLE001 - mapped to the store's errors (DestructiveChange passes)
            raise d.map_error(exc) or exc from None
        backend.layouts.clear()
        backend.layouts.update({m.name: Layout(m, d) for m in schema.models.values()})
        return plan.report

    async def pending_statements(self, schema: Schema, *, allow_destructive: bool = False) -> list[str]:
        d = self._backend.dialect
        pool = await self._backend.pool()
        try:
            async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
                _, todo = await self._plan(conn, schema, allow_destructive)
        except Exception as exc:  # noqa: BLE001 - mapped to the store's errors
            raise d.map_error(exc) or exc from None
        return migrate.ddl(todo)

    async def history(self) -> list[AppliedMigration]:
        d = self._backend.dialect
        pool = await self._backend.pool()
        try:
            sql, params = meta.migrations()
            rows = await pool.fetch(sql, *params)
        except Exception as exc:  # noqa: BLE001 - mapped to the store's errors
            raise d.map_error(exc) or exc from None
        return [AppliedMigration(row[0], row[1], row[2], orjson.loads(row[3])) for row in rows]

    async def _plan(self, conn: Any, schema: Schema,
                    allow_destructive: bool) -> tuple[migrate.MigrationPlan, list[tuple[str, list[Any]]]]:
        d = self._backend.dialect
        tables = {row[0] for row in await conn.fetch(d.table_names())}
        plan = migrate.plan_migration(schema, await stored_description(conn, d), tables,
                                      await stored_search(conn, d))
        counts = {name: int(await conn.fetchval(f"SELECT count(*) FROM {d.quote(name)}"))
                  for name in plan.tables_to_count}
        plan.check(counts, allow_destructive=allow_destructive)
        indexes = {row[0] for row in await conn.fetch(d.index_names())}
        return plan, migrate.needed(plan, migrate.statements(plan, d), indexes)


async def stored_search(conn: Any, d: PostgresDialect) -> dict[str, list[str]]:
    """The searchable fields the search indexes were built for ({} before any was)."""
    sql, params = meta.read_meta(d, "search")
    value = await conn.fetchval(sql, *params)
    return orjson.loads(value) if value else {}


async def stored_description(conn: Any, d: PostgresDialect) -> migrate.Description:
    sql, params = meta.read_meta(d, "schema")
    value = await conn.fetchval(sql, *params)
    return orjson.loads(value) if value else {}


class PostgresBackend:
    """Backend over one schema of a PostgreSQL database (``postgresql://...?schema=s&pool_size=n``).
    Constructing it does no I/O; ``open()`` (or any first call) connects."""

    def __init__(self, url: str) -> None:
        self.location = parse_url(url)
        self.dialect = PostgresDialect(self.location.where)
        self.pools = Pools(self.location, self.dialect)
        # Long reads (counts, aggregates, searches, scans) take connections of their own, a quarter
        # of the pool's, so they queue among themselves and never take every connection from short ones.
        self.heavy_pools = Pools(self.location, self.dialect, max(1, self.location.pool_size // 4))
        self.lock_name = f"cove:{self.location.schema}"
        self.layouts: dict[str, Layout] = {}
        self._secret: bytes | None = None
        self._ready = False           # the schema, Cove's tables and the secret are there
        # the connection of a read snapshot, for the task inside it (see PostgresTransfer.read_snapshot)
        self._snapshot: ContextVar[asyncpg.Connection | None] = ContextVar(f"cove_snapshot_{id(self)}",
                                                                           default=None)
        # Which event channels some process listens to: the records report what their writes saw,
        # the server's PostgreSQL broker (when it uses this database) registers and reads.
        self.event_listeners = EventListeners(self.dialect.quote(self.location.schema))
        self.records = PostgresRecords(self.connection, self.layouts, NextTokens(self.secret), self.dialect,
                                       self.event_listeners, heavy=self.heavy_connection)
        self.migrator = PostgresMigrator(self)
        self.keys = PostgresKeys(self.connection, self.dialect)
        self.transfer = PostgresTransfer(self.pool, self.dialect, self.layouts, self.stored_models,
                                         self._snapshot, self._forget_setup)
        self._identity: IdentityStore | None = None

    def __repr__(self) -> str:
        return f"<PostgresBackend {self.description}>"

    @property
    def description(self) -> str:
        return self.location.description

    @property
    def identity(self) -> IdentityStore:
        """Users, groups, tokens and keys in the same schema (made on first use)."""
        if self._identity is None:
            # Imported when first used: a data command that only moves records never needs it.
            from .identity import PostgresIdentityStore

            self._identity = PostgresIdentityStore(self.pool, where=self.location.where)
        return self._identity

    async def pool(self) -> ConnectionPool:
        """The running loop's pool, the schema set up (the first call of a process does that)."""
        pool = self.pools.current()
        if pool is not None and self._ready:
            return pool
        await self.open()
        return await self.pools.get()

    async def connection(self) -> Any:
        """What a statement runs on: the task's read snapshot if it is in one, else the pool."""
        return await self._connection_from(self.pools)

    async def heavy_connection(self) -> Any:
        """What a long read runs on: the task's read snapshot if it is in one, else the heavy pool."""
        return await self._connection_from(self.heavy_pools)

    async def _connection_from(self, pools: Pools) -> Any:
        snapshot = self._snapshot.get()
        if snapshot is not None:
            return snapshot
        pool = pools.current()
        if pool is not None and self._ready:
            return pool
        await self.open()
        return await pools.get()

    async def open(self) -> None:
        """Make this loop's pool; the first time, create the schema and Cove's own tables and read the
        secret (created by the first process, race-free: insert-or-ignore, then read)."""
        pool = await self.pools.get()
        if self._ready:
            return
        d, schema = self.dialect, self.location.schema
        try:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(NO_STATEMENT_TIMEOUT)   # waiting for the lock, building an index
                await conn.execute(LOCK, self.lock_name)
                # Asked first: CREATE SCHEMA IF NOT EXISTS needs the CREATE right even when it exists.
                if not await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):
                    await conn.execute(f"CREATE SCHEMA {d.quote(schema)}")
                for sql in [*meta.create_tables(d), *create_listener_tables()]:
                    await conn.execute(sql)
                sql, params = meta.add_meta(d, "secret", secrets.token_hex(32))
                await conn.execute(sql, *params)
                sql, params = meta.read_meta(d, "secret")
                value = await conn.fetchval(sql, *params)
        except Exception as exc:  # noqa: BLE001 - mapped to the store's errors
            raise d.map_error(exc) or exc from None
        self._secret = bytes.fromhex(value)
        self._ready = True

    def _forget_setup(self) -> None:
        """After drop_all: the next call sets the schema up again (with a new secret)."""
        self._ready = False
        self._secret = None

    def secret(self) -> bytes:
        if self._secret is None:
            raise RuntimeError("PostgresBackend.secret() needs `await backend.open()` first")
        return self._secret

    async def stored_models(self) -> list[str]:
        pool = await self.pool()
        return list(await stored_description(pool, self.dialect))

    def start_background_work(self) -> None:
        """Nothing: the server does its own housekeeping (vacuum, checkpoints)."""

    async def close(self) -> None:
        if self._identity is not None:
            await self._identity.close()
        await self.pools.close()
        await self.heavy_pools.close()


def _check_protocols(backend: PostgresBackend) -> tuple[Backend, Migrator]:
    return backend, backend.migrator   # mypy checks them against the protocols
