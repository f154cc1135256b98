"""The embedded store: one SQLite file in WAL mode, one table per model.

Statements run on the caller's thread (the event loop): each is a single indexed statement that
takes microseconds, and a thread hop would cost more than the query. Every write is one
autocommitted statement, so a write is durable (it survives `kill -9` of the server) by the time
it is acknowledged: WAL with synchronous=NORMAL loses nothing on a process crash, only on an OS
crash or power cut (pass ``synchronous="FULL"`` to survive those too, at the cost of an fsync).
"""

from __future__ import annotations

import base64
import copy
import fcntl
import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from cove.wire.filters import matches
from cove.private_files import private_database
from cove.schema.model import Model, Schema

from .base import (
    ApiKey,
    ConditionalCheckFailed,
    DestructiveChange,
    DuplicateRecord,
    InvalidFilter,
    InvalidNextToken,
    KeyCondition,
    ListRequest,
    MigrationReport,
    Page,
    Record,
)
from .legacy_sql import SQLITE, FilterCompiler, column_type, decoder, encoder, quote, storage_signature

_META_TABLES = """
CREATE TABLE IF NOT EXISTS _cove_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _cove_api_keys (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    description TEXT,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
"""


@dataclass
class _Layout:
    """How one model is laid out in its table, computed once per schema."""

    model: Model
    table: str
    columns: list[str]
    select: str
    decoders: list[tuple[int, str, Callable[[Any], Any]]]
    encoders: dict[str, Callable[[Any], Any]]
    filters: FilterCompiler
    key_where: str
    list_fields: frozenset[str]

    decode: Callable[[tuple[Any, ...]], Record] = None  # type: ignore[assignment]
    returning: str = ""
    inserts: dict[tuple[str, ...], str] = field(default_factory=dict)   # SQL per set of given columns

    def __post_init__(self) -> None:
        self.decode = _compile_decoder(self.columns, self.decoders)
        self.returning = " RETURNING " + ", ".join(quote(c) for c in self.columns)

    def insert_sql(self, cols: tuple[str, ...]) -> str:
        sql = self.inserts.get(cols)
        if sql is None:
            sql = self.inserts[cols] = (f"INSERT INTO {self.table} ({', '.join(quote(c) for c in cols)}) "
                                        f"VALUES ({', '.join('?' for _ in cols)}){self.returning}")
        return sql

    def encode(self, name: str, value: Any) -> Any:
        fn = self.encoders.get(name)
        return fn(value) if fn is not None and value is not None else value


def _compile_decoder(columns: list[str], decoders: list[tuple[int, str, Callable[[Any], Any]]]
                     ) -> Callable[[tuple[Any, ...]], Record]:
    """Generate `row tuple -> record dict` as one dict literal (the per-row inner loop of every read)."""
    converted = {i: j for j, (i, _, _) in enumerate(decoders)}
    parts = []
    for i, name in enumerate(columns):
        if i in converted:
            parts.append(f"{name!r}: None if row[{i}] is None else F{converted[i]}(row[{i}])")
        else:
            parts.append(f"{name!r}: row[{i}]")
    namespace: dict[str, Any] = {f"F{j}": fn for j, (_, _, fn) in enumerate(decoders)}
    source = "def decode(row):\n    return {" + ", ".join(parts) + "}\n"
    exec(compile(source, "<cove row decoder>", "exec"), namespace)  # noqa: S102 - our own code
    return namespace["decode"]  # type: ignore[no-any-return]


def _layout(model: Model) -> _Layout:
    stored = model.stored_fields()
    columns = [f.name for f in stored]
    table = quote(model.name)
    decs = []
    for i, f in enumerate(stored):
        fn = decoder(f)
        if fn is not None:
            decs.append((i, f.name, fn))
    encs = {f.name: fn for f in stored if (fn := encoder(f)) is not None}
    key_where = " AND ".join(f"{quote(k)} = ?" for k in model.identifier)
    return _Layout(
        model=model, table=table, columns=columns,
        select=f"SELECT {', '.join(quote(c) for c in columns)} FROM {table}",
        decoders=decs, encoders=encs, filters=FilterCompiler(model, SQLITE), key_where=key_where,
        list_fields=frozenset(f.name for f in stored if f.is_array),
    )


class SQLiteStore:
    """The default store. One connection; safe to share across processes through the file."""

    def __init__(self, path: str | Path, *, synchronous: str = "NORMAL") -> None:
        self.path = private_database(path)
        self.conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False,
                                    cached_statements=1024)
        self.conn.execute("PRAGMA busy_timeout = 10000")
        self.conn.execute("PRAGMA journal_mode = WAL")
        if synchronous.upper() not in ("NORMAL", "FULL"):
            raise ValueError("synchronous must be NORMAL or FULL")
        self.conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
        self.conn.executescript(_META_TABLES)
        self._checkpointer: threading.Thread | None = None
        self._closing = threading.Event()
        self._layouts: dict[str, _Layout] = {}
        self._secret: bytes | None = None
        # Writers in several processes queue on this lock, which wakes the next one the moment it is
        # released; SQLite's own busy handler polls with sleeps of up to 100 ms, which wrecks tail latency.
        self._lock_fd = os.open(str(self.path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)

    # ------------------------------------------------------------------ schema

    def _stored_description(self) -> dict[str, dict[str, str]]:
        row = self.conn.execute("SELECT value FROM _cove_meta WHERE key = 'schema'").fetchone()
        return orjson.loads(row[0]) if row else {}

    @staticmethod
    def _describe(schema: Schema) -> dict[str, dict[str, str]]:
        return {m.name: {f.name: storage_signature(f) for f in m.stored_fields()} for m in schema.models.values()}

    def _count(self, table: str) -> int:
        return int(self.conn.execute(f"SELECT count(*) FROM {quote(table)}").fetchone()[0])

    def count(self, model: Model) -> int:
        """How many records a model has (the console shows it)."""
        return self._count(model.name)

    def apply_schema(self, schema: Schema, *, allow_destructive: bool = False) -> MigrationReport:
        """Create tables and columns for new models and fields. Changes that would lose or
        reinterpret data (a removed model or field, a changed type, a new required field on a table
        with rows and no default) are refused unless ``allow_destructive``."""
        old = self._stored_description()
        new = self._describe(schema)
        report = MigrationReport()
        problems: list[str] = []
        for mname, ofields in old.items():
            if mname not in new:
                n = self._count(mname) if self._table_exists(mname) else 0
                problems.append(f"model {mname} was removed ({n} records would be dropped)")
                report.dropped.append(mname)
                continue
            for fname, sig in ofields.items():
                nsig = new[mname].get(fname)
                if nsig is None:
                    problems.append(f"field {mname}.{fname} was removed (its data would be dropped)")
                    report.dropped.append(f"{mname}.{fname}")
                elif nsig != sig and not _is_relaxation(sig, nsig):
                    problems.append(f"field {mname}.{fname} changed type from {sig} to {nsig}")
                    report.dropped.append(f"{mname}.{fname}")
        for model in schema.models.values():
            if model.name in old:
                for f in model.stored_fields():
                    if f.name not in old[model.name] and (f.required or f.array_required) and not f.has_default:
                        n = self._count(model.name)
                        if n:
                            problems.append(f"field {model.name}.{f.name} is required and has no default, but "
                                            f"{n} existing records have no value for it; add .default(...) "
                                            f"or make it optional")
        if problems and not allow_destructive:
            raise DestructiveChange(
                "Refusing a destructive schema change:\n  - " + "\n  - ".join(problems)
                + "\nRe-run with --allow-destructive-changes to apply it anyway (data will be lost).")
        with transaction(self.conn):
            for mname in report.dropped:
                if "." not in mname:
                    self.conn.execute(f"DROP TABLE IF EXISTS {quote(mname)}")
            for model in schema.models.values():
                self._migrate_model(model, old.get(model.name), report)
            self._reference_indexes(schema)
            self.conn.execute("INSERT OR REPLACE INTO _cove_meta (key, value) VALUES ('schema', ?)",
                              (orjson.dumps(new).decode(),))
        self._layouts = {m.name: _layout(m) for m in schema.models.values()}
        return report

    def _table_exists(self, name: str) -> bool:
        row = self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
        return row is not None

    def _migrate_model(self, model: Model, old: dict[str, str] | None, report: MigrationReport) -> None:
        table = quote(model.name)
        stored = model.stored_fields()
        if old is None or not self._table_exists(model.name):
            cols = ", ".join(f"{quote(f.name)} {column_type(f)}" for f in stored)
            pk = ", ".join(quote(k) for k in model.identifier)
            self.conn.execute(f"CREATE TABLE IF NOT EXISTS {table} ({cols}, PRIMARY KEY ({pk})) WITHOUT ROWID")
            report.created_models.append(model.name)
        else:
            for f in stored:
                if f.name not in old:
                    default = ""
                    if f.has_default:
                        lit = f.default if not isinstance(f.default, bool) else int(f.default)
                        default = " DEFAULT " + (quote_literal(lit) if isinstance(lit, str) else repr(lit))
                    self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {quote(f.name)} {column_type(f)}{default}")
                    report.added_fields.append(f"{model.name}.{f.name}")
                elif old[f.name] != storage_signature(f) and not _is_relaxation(old[f.name], storage_signature(f)):
                    # Only reached with allow_destructive: the old values are dropped.
                    self.conn.execute(f"ALTER TABLE {table} DROP COLUMN {quote(f.name)}")
                    self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {quote(f.name)} {column_type(f)}")
                    report.added_fields.append(f"{model.name}.{f.name}")
            for fname in old:
                if fname not in {f.name for f in stored}:
                    self.conn.execute(f"ALTER TABLE {table} DROP COLUMN {quote(fname)}")
        # Indexes: secondary indexes and the foreign keys has_many/has_one look children up by.
        for ix in model.indexes:
            cols = ", ".join(quote(c) for c in (ix.partition_key, *ix.sort_keys))
            self.conn.execute(f"CREATE INDEX IF NOT EXISTS {quote(f'{model.name}__{ix.name}')} ON {table} ({cols})")

    def _reference_indexes(self, schema: Schema) -> None:
        for model in schema.models.values():
            for f in model.fields.values():
                rel = f.relation
                if rel is None or rel.parent_holds_key:
                    continue
                child = schema.models[rel.related_model]
                cols = ", ".join(quote(c) for c in rel.references)
                name = quote(f"{child.name}__ref__{'_'.join(rel.references)}")
                self.conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {quote(child.name)} ({cols})")

    # ------------------------------------------------------------------ records

    def layout(self, model: Model) -> _Layout:
        return self._layouts[model.name]

    def _write(self, sql: str, params: list[Any]) -> Any:
        """One autocommitted write statement; returns its RETURNING row (or None)."""
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            return self.conn.execute(sql, params).fetchone()
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def get(self, model: Model, key: dict[str, Any]) -> Record | None:
        lay = self._layouts[model.name]
        row = self.conn.execute(f"{lay.select} WHERE {lay.key_where}",
                                [key[k] for k in model.identifier]).fetchone()
        return lay.decode(row) if row is not None else None

    def create(self, model: Model, values: Record, condition: dict[str, Any] | None) -> Record:
        lay = self._layouts[model.name]
        if condition and not matches(condition, {}, lay.list_fields):
            # DynamoDB evaluates a put's condition against the (absent) existing item.
            raise ConditionalCheckFailed()
        cols = tuple(c for c in lay.columns if c in values)
        encoders = lay.encoders
        params = [v if (v := values[c]) is None or c not in encoders else encoders[c](v) for c in cols]
        try:
            row = self._write(lay.insert_sql(cols), params)
        except sqlite3.IntegrityError:
            raise ConditionalCheckFailed() from None
        return lay.decode(row)

    def update(self, model: Model, key: dict[str, Any], changes: Record,
               condition: dict[str, Any] | None) -> Record:
        lay = self._layouts[model.name]
        params: list[Any] = []
        sets = []
        for c, v in changes.items():
            sets.append(f"{quote(c)} = ?")
            params.append(lay.encode(c, v))
        params += [key[k] for k in model.identifier]
        where = lay.key_where
        if condition:
            where += " AND " + lay.filters.compile(condition, params)
        sql = f"UPDATE {lay.table} SET {', '.join(sets)} WHERE {where}{lay.returning}"
        row = self._write(sql, params)
        if row is None:
            raise ConditionalCheckFailed()
        return lay.decode(row)

    def delete(self, model: Model, key: dict[str, Any], condition: dict[str, Any] | None) -> Record:
        lay = self._layouts[model.name]
        params: list[Any] = [key[k] for k in model.identifier]
        where = lay.key_where
        if condition:
            where += " AND " + lay.filters.compile(condition, params)
        row = self._write(f"DELETE FROM {lay.table} WHERE {where}{lay.returning}", params)
        if row is None:
            raise ConditionalCheckFailed()
        return lay.decode(row)

    def list(self, request: ListRequest) -> Page:
        model = request.model
        lay = self._layouts[model.name]
        params: list[Any] = []
        where: list[str] = []
        if request.filter:
            where.append(lay.filters.compile(request.filter, params))
        for col, value in request.extra_equals.items():
            where.append(f"{quote(col)} = ?")
            params.append(value)
        if request.index is not None:
            order_cols = [*request.index.sort_keys, *model.identifier]
            for col in (request.index.partition_key, *request.index.sort_keys):
                where.append(f"{quote(col)} IS NOT NULL")  # sparse, like a GSI
        else:
            order_cols = list(model.identifier)
        kc = request.key_condition
        if kc is not None:
            where.append(f"{quote(kc.partition_key)} = ?")
            params.append(kc.partition_value)
            if kc.sort_condition:
                where.append(_sort_condition(kc, params))
            if request.index is None:
                order_cols = list(model.sort_keys) + [model.primary_key]
        direction = "DESC" if request.descending else "ASC"
        if request.next_token:
            last = self._read_token(request.next_token, model, request)
            if len(last) != len(order_cols):
                raise InvalidNextToken("Invalid nextToken: it does not belong to this query")
            cmp = "<" if request.descending else ">"
            cols = ", ".join(quote(c) for c in order_cols)
            where.append(f"({cols}) {cmp} ({', '.join('?' for _ in last)})")
            params += last
        sql = lay.select
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY " + ", ".join(f"{quote(c)} {direction}" for c in order_cols)
        sql += " LIMIT ?"
        params.append(request.limit + 1)
        try:
            rows = self.conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "JSON" not in str(exc):
                raise  # not the filter's fault (a locked or failing disk): an internal failure, logged
            # json_each over a malformed value; SQLite's own words stay out of the answer
            raise InvalidFilter("Unable to process the filter expression: an operand does not fit the "
                                "field's values") from None
        more = len(rows) > request.limit
        rows = rows[: request.limit]
        items = [lay.decode(r) for r in rows]
        token = None
        if more and items:
            token = self._make_token([items[-1][c] for c in order_cols], model, request)
        return Page(items, token)

    # ------------------------------------------------------------------ data in and out

    @contextmanager
    def read_snapshot(self) -> Iterator[None]:
        """Reads inside see one state of the database (a WAL read transaction), writers go on."""
        self.conn.execute("BEGIN DEFERRED")
        try:
            self.conn.execute("SELECT 1 FROM _cove_meta LIMIT 1").fetchall()  # the snapshot starts here
            yield
        finally:
            self.conn.execute("COMMIT")

    def insert_records(self, items: Iterable[tuple[Model, Record]]) -> int:
        """Insert every record in one transaction: all of them, or none (DuplicateRecord, or any error)."""
        count = 0
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            with transaction(self.conn):
                for count, (model, values) in enumerate(items, 1):  # noqa: B007 - the count is the result
                    lay = self._layouts[model.name]
                    cols = tuple(c for c in lay.columns if c in values)
                    try:
                        self.conn.execute(lay.insert_sql(cols), [lay.encode(c, values[c]) for c in cols]).fetchone()
                    except sqlite3.IntegrityError:
                        raise DuplicateRecord(count, model.name, {k: values.get(k) for k in model.identifier}) \
                            from None
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        return count

    def delete_all_records(self) -> int:
        """Empty every model's table (users, groups and keys live elsewhere and stay)."""
        deleted = 0
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            with transaction(self.conn):
                for name in self._stored_description():
                    if self._table_exists(name):
                        deleted += self.conn.execute(f"DELETE FROM {quote(name)}").rowcount
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        return deleted

    def backup(self, target: Path) -> None:
        """A consistent copy of the whole database (data, users, keys) at ``target``, taken with
        SQLite's online backup API while other connections keep reading and writing."""
        source = sqlite3.connect(str(self.path), isolation_level=None)
        dest = sqlite3.connect(str(target), isolation_level=None)
        try:
            source.execute("PRAGMA busy_timeout = 10000")
            source.backup(dest)   # one step (pages=-1): one read transaction, so one point in time
            dest.execute("PRAGMA journal_mode = DELETE")   # a single self-contained file
        finally:
            dest.close()
            source.close()

    # ------------------------------------------------------------------ pagination tokens

    def secret(self) -> bytes:
        if self._secret is None:
            row = self.conn.execute("SELECT value FROM _cove_meta WHERE key = 'secret'").fetchone()
            if row is None:
                value = secrets.token_hex(32)
                self.conn.execute("INSERT OR IGNORE INTO _cove_meta (key, value) VALUES ('secret', ?)", (value,))
                row = self.conn.execute("SELECT value FROM _cove_meta WHERE key = 'secret'").fetchone()
            self._secret = bytes.fromhex(row[0])
        return self._secret

    def _scope(self, model: Model, request: ListRequest) -> bytes:
        ix = request.index.name if request.index else ""
        return f"{model.name}|{ix}|{int(request.descending)}".encode()

    def _make_token(self, last: list[Any], model: Model, request: ListRequest) -> str:
        payload = orjson.dumps(last)
        mac = hmac.new(self.secret(), self._scope(model, request) + b"|" + payload, hashlib.sha256).digest()[:12]
        return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + \
            base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def _read_token(self, token: str, model: Model, request: ListRequest) -> list[Any]:
        try:
            body, _, sig = token.partition(".")
            payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            mac = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
            expected = hmac.new(self.secret(), self._scope(model, request) + b"|" + payload,
                                hashlib.sha256).digest()[:12]
            if not hmac.compare_digest(mac, expected):
                raise ValueError("signature")
            last = orjson.loads(payload)
            if not isinstance(last, list):
                raise ValueError("shape")
            return last
        except (ValueError, orjson.JSONDecodeError):
            raise InvalidNextToken("Invalid nextToken: pass back a token a previous page of this same "
                                   "query returned") from None

    # ------------------------------------------------------------------ API keys

    def _api_key(self, row: tuple[Any, ...]) -> ApiKey:
        return ApiKey(row[0], row[1], row[2], row[3], row[4], bool(row[5]))

    def api_keys(self) -> list[ApiKey]:
        rows = self.conn.execute("SELECT id, key, description, created_at, expires_at, revoked "
                                 "FROM _cove_api_keys ORDER BY created_at").fetchall()
        return [self._api_key(r) for r in rows]

    def find_api_key(self, key: str) -> ApiKey | None:
        row = self.conn.execute("SELECT id, key, description, created_at, expires_at, revoked "
                                "FROM _cove_api_keys WHERE key = ?", (key,)).fetchone()
        return self._api_key(row) if row else None

    def create_api_key(self, *, expires_at: float, description: str | None = None) -> ApiKey:
        key = "da2-" + "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(26))
        kid = str(uuid.uuid4())
        now = time.time()
        self.conn.execute("INSERT INTO _cove_api_keys (id, key, description, created_at, expires_at) "
                          "VALUES (?, ?, ?, ?, ?)", (kid, key, description, now, expires_at))
        return ApiKey(kid, key, description, now, expires_at, False)

    def revoke_api_key(self, key_or_id: str) -> bool:
        cur = self.conn.execute("UPDATE _cove_api_keys SET revoked = 1 WHERE key = ? OR id = ?",
                                (key_or_id, key_or_id))
        return cur.rowcount > 0

    def set_api_key_expiry(self, key_or_id: str, expires_at: float) -> bool:
        cur = self.conn.execute("UPDATE _cove_api_keys SET expires_at = ? WHERE key = ? OR id = ?",
                                (expires_at, key_or_id, key_or_id))
        return cur.rowcount > 0

    def start_background_checkpoints(self, interval: float = 0.25) -> None:
        """Move WAL checkpoints (and their fsyncs) off the request path.

        By default the writer that pushes the WAL past 1,000 pages copies it back into the database
        inline, which is a multi-millisecond stall for that one request. A thread with its own
        connection does it instead (PASSIVE: it never blocks readers or writers); the inline
        checkpoint stays as a safety net at a much larger WAL size."""
        if self._checkpointer is not None:
            return
        self.conn.execute("PRAGMA wal_autocheckpoint = 50000")
        path = str(self.path)

        def run() -> None:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 1000")
            try:
                while not self._closing.wait(interval):
                    try:
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    except sqlite3.Error:
                        continue
            finally:
                conn.close()

        self._checkpointer = threading.Thread(target=run, name="cove-wal-checkpoint", daemon=True)
        self._checkpointer.start()

    def reader(self) -> SQLiteStore:
        """A read-only view of this store on its own connection, for one worker thread: WAL lets it
        read while this connection writes. It shares the layouts and the token secret."""
        self.secret()
        view = copy.copy(self)
        view.conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False,
                                    cached_statements=256)
        view.conn.execute("PRAGMA busy_timeout = 10000")
        view.conn.execute("PRAGMA query_only = 1")
        return view

    def close(self) -> None:
        self._closing.set()
        if self._checkpointer is not None:
            self._checkpointer.join(timeout=5)
        self.conn.close()
        os.close(self._lock_fd)


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _is_relaxation(old: str, new: str) -> bool:
    """Dropping a `!` keeps every stored value valid."""
    return old.replace("!", "") == new.replace("!", "") and new.count("!") < old.count("!")


def _sort_condition(kc: KeyCondition, params: list[Any]) -> str:
    cond = kc.sort_condition or {}
    if len(kc.sort_keys) == 1:
        col = quote(kc.sort_keys[0])
        expr, values = col, lambda v: v
    else:
        # DynamoDB keeps a composite sort key as one `a#b` string; conditions apply to that string.
        expr = " || '#' || ".join(f"CAST({quote(k)} AS TEXT)" for k in kc.sort_keys)
        expr = f"({expr})"

        def values(v: Any) -> Any:
            if not isinstance(v, dict):
                raise InvalidFilter("a composite sort-key condition takes an object of its key fields")
            parts = []
            for k in kc.sort_keys:
                if k not in v or v[k] is None:
                    break
                parts.append(str(v[k]).lower() if isinstance(v[k], bool) else str(v[k]))
            return "#".join(parts)
    out = []
    for op, value in cond.items():
        if value is None:
            continue
        if op == "between":
            if not isinstance(value, list) or len(value) != 2:
                raise InvalidFilter("between takes a list of exactly two values")
            params += [values(value[0]), values(value[1])]
            out.append(f"{expr} BETWEEN ? AND ?")
        elif op == "beginsWith":
            v = values(value)
            params += [v, v]
            out.append(f"substr({expr}, 1, length(?)) = ?")
        else:
            sql_op = {"eq": "=", "le": "<=", "lt": "<", "ge": ">=", "gt": ">"}.get(op)
            if sql_op is None:
                raise InvalidFilter(f"unknown key condition operator {op!r}")
            params.append(values(value))
            out.append(f"{expr} {sql_op} ?")
    return "(" + " AND ".join(out or ["1"]) + ")"


class transaction:  # noqa: N801 - used like a function: `with transaction(conn):`
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on an exception (the connection is in autocommit mode)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
