"""The SQLite backend: one file (``data.sqlite`` in the data dir), its records, keys, migrations and
transfers on one connection, and the background WAL checkpoints."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import orjson

from cove.schema.model import Schema

from ..base import AppliedMigration, Backend, MigrationReport
from ..sql import meta, migrate
from ..sql.dialect import SQLITE
from ..sql.layout import Layout
from ..sql.queries import Statement
from ..sql.tokens import NextTokens
from .connection import Checkpointer, WriterLock, connect, transaction
from .identity import SQLiteIdentityStore
from .keys import SQLiteKeys
from .records import SQLiteRecords
from .transfer import SQLiteTransfer


class SQLiteMigrator:
    """Migrator: the stored description in ``_cove_meta`` against the schema (``store/sql/migrate.py``).
    A change is planned and applied under the writer lock, in one transaction, reading the stored
    description inside it: processes that start at once apply it once, the others find it done."""

    def __init__(self, backend: SQLiteBackend) -> None:
        self._backend = backend

    async def apply_schema(self, schema: Schema, *, allow_destructive: bool = False) -> MigrationReport:
        """Create tables and columns for new models and fields. Changes that would lose or reinterpret
        data (a removed model or field, a changed type, a new required field on a table with rows and
        no default) are refused unless ``allow_destructive``."""
        conn, d = self._backend.conn, self._backend.dialect
        with self._backend.writer_lock, transaction(conn):
            plan, todo = self._plan(schema, allow_destructive)
            for sql, params in todo:
                conn.execute(sql, params)
            if todo:
                ddl = migrate.ddl(todo)
                conn.execute(*meta.record_migration(d, time.time(), migrate.summary(plan, todo), ddl))
        layouts = self._backend.layouts
        layouts.clear()
        layouts.update({m.name: Layout(m, d) for m in schema.models.values()})
        return plan.report

    async def pending_statements(self, schema: Schema, *, allow_destructive: bool = False) -> list[str]:
        conn = self._backend.conn
        conn.execute("BEGIN")   # one state of the database for the whole plan
        try:
            _, todo = self._plan(schema, allow_destructive)
        finally:
            conn.execute("COMMIT")
        return migrate.ddl(todo)

    async def history(self) -> list[AppliedMigration]:
        rows = self._backend.conn.execute(*meta.migrations()).fetchall()
        return [AppliedMigration(row[0], row[1], row[2], orjson.loads(row[3])) for row in rows]

    def _plan(self, schema: Schema, allow_destructive: bool) -> tuple[migrate.MigrationPlan, list[Statement]]:
        conn, d = self._backend.conn, self._backend.dialect
        tables = {row[0] for row in conn.execute(d.table_names())}
        plan = migrate.plan_migration(schema, self._backend.stored_description(), tables,
                                      self._backend.stored_search())
        counts = {name: int(conn.execute(f"SELECT count(*) FROM {d.quote(name)}").fetchone()[0])
                  for name in plan.tables_to_count}
        plan.check(counts, allow_destructive=allow_destructive)
        indexes = {row[0] for row in conn.execute(d.index_names())}
        return plan, migrate.needed(plan, migrate.statements(plan, d), indexes)


class SQLiteBackend:
    """Backend over one SQLite file; safe to share across processes through the file."""

    dialect = SQLITE

    def __init__(self, path: str | Path, *, synchronous: str = "NORMAL") -> None:
        self.conn = connect(path, synchronous=synchronous)
        self.path = Path(path)
        for sql in meta.create_tables(self.dialect):
            self.conn.execute(sql)
        self.layouts: dict[str, Layout] = {}
        self._secret: bytes | None = None
        self.writer_lock = WriterLock(self.path)
        self._checkpointer: Checkpointer | None = None
        self.records = SQLiteRecords(self.conn, self.writer_lock, self.layouts, NextTokens(self.secret), self.path)
        self.migrator = SQLiteMigrator(self)
        self.keys = SQLiteKeys(self.conn, self.writer_lock)
        self.transfer = SQLiteTransfer(self.conn, self.writer_lock, self.path, self.layouts,
                                       lambda: list(self.stored_description()))
        self._identity: SQLiteIdentityStore | None = None

    @property
    def description(self) -> str:
        return f"SQLite {self.path}"

    async def open(self) -> None:
        """Nothing to do: the constructor opened the file and created Cove's own tables."""

    @property
    def identity(self) -> SQLiteIdentityStore:
        """Users, groups, tokens and IAM keys in the same file (opened on first use: a data command
        that only moves records never opens it)."""
        if self._identity is None:
            self._identity = SQLiteIdentityStore(self.path)
        return self._identity

    def stored_description(self) -> migrate.Description:
        row = self.conn.execute(*meta.read_meta(self.dialect, "schema")).fetchone()
        return orjson.loads(row[0]) if row else {}

    def stored_search(self) -> dict[str, list[str]]:
        """The searchable fields the search indexes were built for ({} before any was)."""
        row = self.conn.execute(*meta.read_meta(self.dialect, "search")).fetchone()
        return orjson.loads(row[0]) if row else {}

    def secret(self) -> bytes:
        """This database's signing secret, created by the first process that asks."""
        if self._secret is None:
            row = self.conn.execute(*meta.read_meta(self.dialect, "secret")).fetchone()
            if row is None:
                self.conn.execute(*meta.add_meta(self.dialect, "secret", secrets.token_hex(32)))
                row = self.conn.execute(*meta.read_meta(self.dialect, "secret")).fetchone()
            self._secret = bytes.fromhex(row[0])
        return self._secret

    def start_background_work(self, checkpoint_interval: float = 0.25) -> None:
        """Move WAL checkpoints off the request path (see connection.Checkpointer); for servers."""
        if self._checkpointer is None:
            self._checkpointer = Checkpointer(self.path, self.conn, checkpoint_interval)

    async def close(self) -> None:
        if self._identity is not None:
            await self._identity.close()
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.records.close()
        self.conn.close()
        self.writer_lock.close()


def _check_protocol(backend: SQLiteBackend) -> Backend:
    return backend   # mypy checks the backend against the protocol
