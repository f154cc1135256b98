"""Records in SQLite: runs the statements ``store/sql/queries.py`` builds, on the caller's thread.

The methods are coroutines that never suspend: each statement is a single indexed one taking
microseconds, less than a thread hop would cost. ``for_heavy_reads()`` gives a view whose statements
run on one reader thread with its own read-only connection, awaited from the loop.
"""

from __future__ import annotations

import asyncio
import copy
import sqlite3
import threading
import time
from fcntl import LOCK_EX, LOCK_NB, LOCK_UN, flock
from collections.abc import Coroutine, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from cove.schema.model import Model
from cove.wire.filters import matches

from ..base import (
    AggregateGroups,
    AggregateRequest,
    ConditionalCheckFailed,
    ListRequest,
    Page,
    Record,
    ReadOverBudget,
    Records,
    RecordStore,
    RelatedRequest,
    SearchRequest,
    TransactionCanceled,
    TransactItem,
)
from ..sql import aggregates, queries
from ..sql import search as fulltext
from ..sql.dialect import SQLITE, Dialect
from ..sql.layout import Layout
from ..sql.tokens import NextTokens
from .connection import WriterLock, connect_reader

T = TypeVar("T")

# Bound key values per get_many/list_related statement, under SQLite's ceiling of 32,766 parameters
# (leaving room for a filter's), and list_related's branches, under its 500 terms of a compound
# SELECT; a larger batch is split.
MAX_KEY_PARAMETERS = 30_000
MAX_BRANCHES = 500

# A bounded read's progress handler runs once per this many virtual-machine instructions (20 to
# 50 us here): rare enough to cost nothing measurable, often enough to stop a read soon after its budget.
STEPS_PER_CHECK = 1000

# After the writer lock was found taken, this many writes read their row before taking it (see
# SQLiteRecords._write); with two busy processes the lock is found taken far more often than that.
WARM_WRITES = 100


class SQLiteRecords:
    """RecordStore over one connection. ``layouts`` is shared with the migrator, which fills it."""

    def __init__(self, conn: sqlite3.Connection, lock: WriterLock, layouts: dict[str, Layout],
                 tokens: NextTokens, path: Path, dialect: Dialect = SQLITE) -> None:
        self.conn = conn
        self._lock = lock
        self._layouts = layouts
        self._tokens = tokens
        self._path = path
        self._dialect = dialect
        self._heavy_pool: ThreadPoolExecutor | None = None
        self._readers = threading.local()          # per thread: these records on a read-only connection
        self._readers_lock = threading.Lock()
        self._reader_connections: list[sqlite3.Connection] = []
        self._read_budget = 0.0               # a bounded view's: CPU seconds per read (0: unbounded)
        self._read_started: float | None = None   # the read in progress: thread CPU time at its first check
        self._read_stopped = False

    def layout(self, model: Model) -> Layout:
        return self._layouts[model.name]

    def _fail(self, exc: BaseException) -> NoReturn:
        mapped = self._dialect.map_error(exc)
        if mapped is None:
            raise exc  # not the request's fault (a locked or failing disk): an internal failure, logged
        raise mapped from None

    def _read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        if self._read_budget:
            return self._bounded_read(sql, params)
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            self._fail(exc)

    def _bounded_read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """The read, stopped by SQLite (SQLITE_INTERRUPT, nothing changed) once it passes the budget."""
        conn = self.conn
        self._read_started, self._read_stopped = None, False
        conn.set_progress_handler(self._over_budget, STEPS_PER_CHECK)
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            if self._read_stopped:
                raise ReadOverBudget() from None
            self._fail(exc)
        finally:
            conn.set_progress_handler(None, 0)

    def _over_budget(self) -> bool:
        # This thread's CPU time, not the wall clock: a read the OS preempted has not held the loop
        # for longer. The clock starts at the first check, so a short read never reads it.
        now = time.thread_time()
        if self._read_started is None:
            self._read_started = now
        elif now - self._read_started > self._read_budget:
            self._read_stopped = True
        return self._read_stopped

    def _write(self, sql: str, params: Sequence[Any], lay: Layout | None = None,
               key: dict[str, Any] | None = None) -> Any:
        """One autocommitted write statement under the writer lock; returns its RETURNING row (or None).

        ``lay`` and ``key`` name the row the write will change (an update's or a delete's). When
        another process has committed since this connection's last statement, SQLite drops the
        connection's whole page cache at its next one, which moves its read mark and reads the pages
        it needs again (the header page, the B-tree's interior pages, the leaf): for a lone UPDATE
        that is 4-5 more system calls and about 15 us under the lock, added to every other process's
        wait. So while the lock is contended (another process writes to this file, e.g. `cove serve
        --workers 2`), the write first reads its row outside the lock (as the update's read of the
        stored record did, before updates became one statement); alone, that read would only cost
        CPU, and is skipped. Its result is unused and a failing read is ignored: the write, its
        condition and its errors are exactly as without it."""
        conn = self.conn
        lock = self._lock
        fd = lock.fd
        if lock.warm_writes and lay is not None and key is not None:
            try:
                conn.execute(lay.get_sql, lay.key_values(key)).fetchone()
            except sqlite3.Error:
                pass
        try:   # (the lock's calls inline: every write takes this path)
            flock(fd, LOCK_EX | LOCK_NB)
        except BlockingIOError:
            flock(fd, LOCK_EX)
            lock.warm_writes = WARM_WRITES
        else:
            if lock.warm_writes:
                lock.warm_writes -= 1
        try:
            return conn.execute(sql, params).fetchone()
        except sqlite3.Error as exc:
            self._fail(exc)
        finally:
            flock(fd, LOCK_UN)

    # -- reads

    async def get(self, model: Model, key: dict[str, Any]) -> Record | None:
        lay = self._layouts[model.name]
        row = self.conn.execute(lay.get_sql, lay.key_values(key)).fetchone()
        return lay.decode(row) if row is not None else None

    async def get_many(self, model: Model, keys: Sequence[dict[str, Any]]) -> list[Record]:
        """In the keys' order, each record once."""
        lay = self._layouts[model.name]
        if len(keys) == 1:   # one key (a get's belongsTo, an event's): the single-key statement
            row = self.conn.execute(lay.get_sql, lay.key_values(keys[0])).fetchone()
            return [lay.decode(row)] if row is not None else []
        identifier = lay.identifier
        wanted = list(dict.fromkeys(tuple(key[k] for k in identifier) for key in keys))
        found: dict[tuple[Any, ...], Record] = {}
        step = MAX_KEY_PARAMETERS // len(identifier)
        for start in range(0, len(wanted), step):
            sql, params = queries.get_many(lay, wanted[start:start + step])
            decode = lay.decode
            if len(identifier) == 1:
                name = identifier[0]
                found.update(((record[name],), record) for record in map(decode, self._read(sql, params)))
            else:
                found.update((tuple(record[k] for k in identifier), record)
                             for record in map(decode, self._read(sql, params)))
        return [found[k] for k in wanted if k in found]

    async def list(self, request: ListRequest) -> Page:
        lay = self._layouts[request.model.name]
        statement = queries.list_records(lay, request, self._tokens)
        return queries.page(statement, self._read(statement.sql, statement.params), lay.decode, self._tokens)

    async def list_related(self, request: RelatedRequest) -> dict[tuple[Any, ...], Page]:
        if len(request.parents) == 1:   # one parent (a get's relations, an event's): the plain list
            parent = request.parents[0]
            alone = ListRequest(request.model, filter=request.filter, limit=request.limit,
                                descending=request.descending, extra_equals=dict(zip(request.references, parent)))
            return {parent: await self.list(alone)}
        lay = self._layouts[request.model.name]
        pages = {parent: Page([], None) for parent in request.parents}
        # A parent key holding a null never equals a stored value: its page is empty, as list() finds it.
        parents = [parent for parent in pages if None not in parent]
        filter_params: list[Any] = []
        if request.filter:
            lay.filters.compile(request.filter, filter_params)   # how many values a branch's filter binds
        width = len(request.references) + len(filter_params) + 1
        step = max(1, min(MAX_BRANCHES, MAX_KEY_PARAMETERS // width))
        for start in range(0, len(parents), step):
            part = RelatedRequest(request.model, request.references, parents[start:start + step], request.filter,
                                  request.limit, request.descending)
            statement = queries.list_related(lay, part)
            pages.update(queries.related_pages(statement, part, self._read(statement.sql, statement.params), lay,
                                               self._tokens))
        return pages

    async def count(self, model: Model) -> int:
        return int(self._read(self._layouts[model.name].count_sql, ())[0][0])

    async def aggregate(self, request: AggregateRequest) -> AggregateGroups:
        lay = self._layouts[request.model.name]
        sql, params = aggregates.aggregate(lay, request)
        return aggregates.groups(lay, request, self._read(sql, params))

    async def search(self, request: SearchRequest) -> Page:
        lay = self._layouts[request.model.name]
        candidates = fulltext.candidates_for(request)
        rows = self._read(*fulltext.search(lay, request, self._tokens, candidates))
        if fulltext.needs_retry(request, candidates, rows):
            rows = self._read(*fulltext.search(lay, request, self._tokens))
        return fulltext.page(lay, request, rows, self._tokens)

    # -- writes

    async def transact(self, items: Sequence[TransactItem]) -> Records:
        """One BEGIN IMMEDIATE ... COMMIT under the writer lock; every item runs (so each failing one
        is named), then a failure rolls all of them back."""
        conn = self.conn
        results: list[Record] = []
        reasons: list[str] = []
        fd = self._lock.fd
        flock(fd, LOCK_EX)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for item in items:
                    row = self._transact_item(item)
                    reasons.append("None" if row is not None else "ConditionalCheckFailed")
                    if row is not None:
                        results.append(self._layouts[item.model.name].decode(row))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            if len(results) < len(items):
                conn.execute("ROLLBACK")
                raise TransactionCanceled(reasons)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._fail(exc)
        finally:
            flock(fd, LOCK_UN)
        return results

    def _transact_item(self, item: TransactItem) -> Any:
        """The item's written row, or None when it fails (see aggregates.transact_statement)."""
        statement = aggregates.transact_statement(self._layouts[item.model.name], item)
        return None if statement is None else self.conn.execute(*statement).fetchone()

    async def create(self, model: Model, values: Record, condition: dict[str, Any] | None) -> Record:
        lay = self._layouts[model.name]
        if condition and not matches(condition, {}, lay.list_fields):
            # DynamoDB evaluates a put's condition against the (absent) existing item.
            raise ConditionalCheckFailed()
        cols, params = lay.encode_values(values)
        return lay.decode(self._write(lay.insert_sql(cols), params))

    async def update(self, model: Model, key: dict[str, Any], changes: Record,
                     condition: dict[str, Any] | None) -> Record:
        lay = self._layouts[model.name]
        row = self._write(*queries.update(lay, key, changes, condition), lay, key)
        if row is None:
            raise ConditionalCheckFailed()
        return lay.decode(row)

    async def delete(self, model: Model, key: dict[str, Any], condition: dict[str, Any] | None) -> Record:
        lay = self._layouts[model.name]
        row = self._write(*queries.delete(lay, key, condition), lay, key)
        if row is None:
            raise ConditionalCheckFailed()
        return lay.decode(row)

    # -- heavy reads

    def bounded_reads(self, seconds: float) -> SQLiteRecords:
        """These records on the same connection, each read stopped with ReadOverBudget once its
        statement has used about ``seconds`` of CPU."""
        view = copy.copy(self)
        view._read_budget = seconds
        return view

    def for_heavy_reads(self, executor: Executor | None = None) -> HeavyReads:
        """A view whose reads run on ``executor`` (one thread: the server's reader; default: one of
        this store's own), each thread with its own read-only connection."""
        if executor is None:
            if self._heavy_pool is None:
                self._heavy_pool = ThreadPoolExecutor(1, thread_name_prefix="cove-store-reader")
            executor = self._heavy_pool
        return HeavyReads(self, executor)

    def reader(self) -> SQLiteRecords:
        """These records on the calling thread's read-only connection (opened on its first read)."""
        reader: SQLiteRecords | None = getattr(self._readers, "records", None)
        if reader is None:
            conn = connect_reader(self._path)
            with self._readers_lock:
                self._reader_connections.append(conn)
            reader = self._readers.records = SQLiteRecords(conn, self._lock, self._layouts, self._tokens,
                                                           self._path, self._dialect)
        return reader

    def close(self) -> None:
        if self._heavy_pool is not None:
            self._heavy_pool.shutdown(wait=True, cancel_futures=True)
        with self._readers_lock:
            connections, self._reader_connections = self._reader_connections, []
        for conn in connections:
            conn.close()


def run_to_completion(coroutine: Coroutine[Any, Any, T]) -> T:
    """The result of a coroutine that never suspends (every SQLiteRecords method), without a loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError("a SQLite statement suspended")


class HeavyReads:
    """SQLiteRecords whose reads run on one thread with a read-only connection of that thread, so a
    read of thousands of rows never holds the event loop; writes go to the main connection as usual."""

    def __init__(self, records: SQLiteRecords, executor: Executor) -> None:
        self._records = records
        self._executor = executor

    async def _run(self, method: str, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._call, method, args)

    def _call(self, method: str, args: tuple[Any, ...]) -> Any:
        return run_to_completion(getattr(self._records.reader(), method)(*args))

    async def get(self, model: Model, key: dict[str, Any]) -> Record | None:
        return await self._run("get", model, key)  # type: ignore[no-any-return]

    async def get_many(self, model: Model, keys: Sequence[dict[str, Any]]) -> list[Record]:
        return await self._run("get_many", model, keys)  # type: ignore[no-any-return]

    async def list(self, request: ListRequest) -> Page:
        return await self._run("list", request)  # type: ignore[no-any-return]

    async def list_related(self, request: RelatedRequest) -> dict[tuple[Any, ...], Page]:
        return await self._run("list_related", request)  # type: ignore[no-any-return]

    async def count(self, model: Model) -> int:
        return await self._run("count", model)  # type: ignore[no-any-return]

    async def aggregate(self, request: AggregateRequest) -> AggregateGroups:
        return await self._run("aggregate", request)  # type: ignore[no-any-return]

    async def search(self, request: SearchRequest) -> Page:
        return await self._run("search", request)  # type: ignore[no-any-return]

    async def transact(self, items: Sequence[TransactItem]) -> Records:
        return await self._records.transact(items)

    async def create(self, model: Model, values: Record, condition: dict[str, Any] | None) -> Record:
        return await self._records.create(model, values, condition)

    async def update(self, model: Model, key: dict[str, Any], changes: Record,
                     condition: dict[str, Any] | None) -> Record:
        return await self._records.update(model, key, changes, condition)

    async def delete(self, model: Model, key: dict[str, Any], condition: dict[str, Any] | None) -> Record:
        return await self._records.delete(model, key, condition)

    def for_heavy_reads(self, executor: Executor | None = None) -> HeavyReads:
        return self if executor is None or executor is self._executor else HeavyReads(self._records, executor)

    def bounded_reads(self, seconds: float) -> HeavyReads:
        return self   # its reads already run off the loop


def _check_protocols(records: SQLiteRecords, heavy: HeavyReads) -> tuple[RecordStore, RecordStore]:
    return records, heavy   # mypy checks both against the protocol
