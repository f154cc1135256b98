"""Data in and out of a PostgreSQL backend: a read snapshot, bulk inserts, emptying, dropping."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from cove.schema.model import Model

from ..base import DataTransfer, DuplicateRecord, Record, StoreError, TextNotStorable
from ..sql.layout import Layout
from .connection import NO_STATEMENT_TIMEOUT
from .dialect import PostgresDialect
from .listeners import GENERATION, LISTENERS
from .pool import ConnectionPool


class BackupNotSupported(StoreError):
    """``cove backup`` copies SQLite files; a PostgreSQL database has its own tools."""

    def __init__(self) -> None:
        super().__init__("cove backup copies SQLite files; back up PostgreSQL with pg_dump (or cove export)")


class PostgresTransfer:
    """DataTransfer over the backend's pool. Inside ``read_snapshot`` the backend hands its records
    the snapshot's connection (``snapshot`` holds it for the current task)."""

    def __init__(self, pool: Callable[[], Awaitable[ConnectionPool]], dialect: PostgresDialect,
                 layouts: dict[str, Layout], stored_models: Callable[[], Awaitable[list[str]]],
                 snapshot: ContextVar[Any], dropped: Callable[[], None]) -> None:
        self._pool = pool
        self._dropped = dropped
        self._dialect = dialect
        self._layouts = layouts
        self._stored_models = stored_models
        self._snapshot = snapshot

    def _mapped(self, exc: BaseException) -> BaseException:
        return self._dialect.map_error(exc) or exc

    @asynccontextmanager
    async def read_snapshot(self) -> AsyncIterator[None]:
        """Reads inside (by this task) see one state of the database: a REPEATABLE READ, read-only
        transaction on one connection; writers go on."""
        pool = await self._pool()
        try:
            conn = await pool.take()
        except Exception as exc:  # noqa: BLE001 - mapped to the store's errors
            raise self._mapped(exc) from None
        try:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                await conn.execute(NO_STATEMENT_TIMEOUT)
                await conn.fetch("SELECT 1 FROM _cove_meta LIMIT 1")   # the snapshot starts here
                token = self._snapshot.set(conn)
                try:
                    yield
                finally:
                    self._snapshot.reset(token)
        finally:
            await pool.release(conn)

    async def insert_records(self, items: Iterable[tuple[Model, Record]]) -> int:
        """Insert every record in one transaction: all of them, or none (DuplicateRecord, or any error)."""
        pool = await self._pool()
        count = 0
        try:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(NO_STATEMENT_TIMEOUT)   # a whole table may be moved
                for count, (model, values) in enumerate(items, 1):  # noqa: B007 - the count is the result
                    lay = self._layouts[model.name]
                    cols, params = lay.encode_values(values)
                    try:
                        await conn.execute(lay.insert_sql(cols), *params)
                    except asyncpg.UniqueViolationError:
                        key = {k: values.get(k) for k in model.identifier}
                        raise DuplicateRecord(count, model.name, key) from None
                    except asyncpg.CharacterNotInRepertoireError:
                        raise TextNotStorable(f"record {count}: PostgreSQL cannot store the NUL character "
                                              "(U+0000) in text") from None
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001 - mapped to the store's errors
            raise self._mapped(exc) from None
        return count

    async def delete_all_records(self) -> int:
        """Empty every model's table (users, groups and keys live elsewhere and stay)."""
        d = self._dialect
        pool = await self._pool()
        deleted = 0
        try:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(NO_STATEMENT_TIMEOUT)   # a whole table may be moved
                tables = {row[0] for row in await conn.fetch(d.table_names())}
                for name in await self._stored_models():
                    if name in tables:
                        status = await conn.execute(f"DELETE FROM {d.quote(name)}")
                        deleted += int(status.rsplit(" ", 1)[-1])
        except Exception as exc:  # noqa: BLE001 - mapped to the store's errors
            raise self._mapped(exc) from None
        return deleted

    async def drop_all(self) -> None:
        """Drop every table Cove made in the schema: the models' (as stored) and ``_cove_*`` (meta,
        keys, migrations, identity). Other tables in the schema, and the schema itself, stay; so do
        the event-listener tables (listeners.py), which running processes' subscriptions rely on."""
        d = self._dialect
        pool = await self._pool()
        try:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(NO_STATEMENT_TIMEOUT)   # a whole table may be moved
                tables = [row[0] for row in await conn.fetch(d.table_names())]
                models = set(await self._stored_models())
                ours = [name for name in tables if name in models
                        or (name.startswith("_cove_") and name not in (LISTENERS, GENERATION))]
                if ours:   # one statement: the identity tables refer to each other
                    await conn.execute("DROP TABLE IF EXISTS " + ", ".join(d.quote(n) for n in ours))
        except Exception as exc:  # noqa: BLE001 - mapped to the store's errors
            raise self._mapped(exc) from None
        self._layouts.clear()
        self._dropped()

    async def backup(self, target: Path) -> None:
        raise BackupNotSupported()


def _check_protocol(transfer: PostgresTransfer) -> DataTransfer:
    return transfer   # mypy checks it against the protocol
