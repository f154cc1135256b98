"""Data in and out of a SQLite backend: a read snapshot, bulk inserts, emptying, online backups."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

from cove.schema.model import Model

from ..base import DuplicateRecord, Record
from ..sql.dialect import SQLITE, Dialect
from ..sql.layout import Layout
from .connection import WriterLock, transaction


class SQLiteTransfer:
    """DataTransfer over the backend's connection (reads in a snapshot go through its records)."""

    def __init__(self, conn: sqlite3.Connection, lock: WriterLock, path: Path, layouts: dict[str, Layout],
                 stored_models: Callable[[], list[str]], dialect: Dialect = SQLITE) -> None:
        self._conn = conn
        self._lock = lock
        self._path = path
        self._layouts = layouts
        self._stored_models = stored_models
        self._dialect = dialect

    @asynccontextmanager
    async def read_snapshot(self) -> AsyncIterator[None]:
        """Reads inside see one state of the database (a WAL read transaction), writers go on."""
        self._conn.execute("BEGIN DEFERRED")
        try:
            self._conn.execute("SELECT 1 FROM _cove_meta LIMIT 1").fetchall()  # the snapshot starts here
            yield
        finally:
            self._conn.execute("COMMIT")

    async def insert_records(self, items: Iterable[tuple[Model, Record]]) -> int:
        """Insert every record in one transaction: all of them, or none (DuplicateRecord, or any error)."""
        count = 0
        with self._lock, transaction(self._conn):
            for count, (model, values) in enumerate(items, 1):  # noqa: B007 - the count is the result
                lay = self._layouts[model.name]
                cols, params = lay.encode_values(values)
                try:
                    self._conn.execute(lay.insert_sql(cols), params).fetchone()
                except sqlite3.IntegrityError:
                    key = {k: values.get(k) for k in model.identifier}
                    raise DuplicateRecord(count, model.name, key) from None
        return count

    async def delete_all_records(self) -> int:
        """Empty every model's table (users, groups and keys live elsewhere and stay)."""
        deleted = 0
        tables = {row[0] for row in self._conn.execute(self._dialect.table_names())}
        with self._lock, transaction(self._conn):
            for name in self._stored_models():
                if name in tables:
                    deleted += self._conn.execute(f"DELETE FROM {self._dialect.quote(name)}").rowcount
        return deleted

    async def drop_all(self) -> None:
        """Drop every table Cove made: the models' (as stored), ``_cove_*`` (meta, keys, migrations,
        identity); other tables in the file stay. The next ``apply_schema`` starts from nothing."""
        d = self._dialect
        tables = [row[0] for row in self._conn.execute(d.table_names())]
        models = set(self._stored_models())
        with self._lock, transaction(self._conn):
            for name in tables:
                if name in models or name.startswith("_cove_"):
                    self._conn.execute(f"DROP TABLE IF EXISTS {d.quote(name)}")
        self._layouts.clear()

    async def backup(self, target: Path) -> None:
        """A consistent copy of the whole database (data, users, keys) at ``target``, taken with
        SQLite's online backup API (on a thread) while other connections keep reading and writing."""
        await asyncio.to_thread(_backup, self._path, Path(target))


def _backup(path: Path, target: Path) -> None:
    source = sqlite3.connect(str(path), isolation_level=None)
    dest = sqlite3.connect(str(target), isolation_level=None)
    try:
        source.execute("PRAGMA busy_timeout = 10000")
        source.backup(dest)   # one step (pages=-1): one read transaction, so one point in time
        dest.execute("PRAGMA journal_mode = DELETE")   # a single self-contained file
    finally:
        dest.close()
        source.close()
