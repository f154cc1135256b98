"""The async record seam over the synchronous legacy SQLite store, until the new backend lands.

Every call runs the legacy store's statement on the calling thread (SQLite answers in microseconds,
so these coroutines never suspend), except through :meth:`AsyncRecords.for_heavy_reads`, whose
statements run on one reader thread with its own connection. ``get_many`` and ``list_related`` are
the batched reads the engine loads relations with: one statement for many parents.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from itertools import groupby
from operator import itemgetter
from typing import Any

from cove.schema.model import Model

from .base import InvalidFilter, ListRequest, Page, Record, RelatedRequest
from .legacy_sql import quote
from .legacy_sqlite import SQLiteStore

# Bound parameters per statement, under SQLite's default ceiling (32766), and terms of a compound
# SELECT (500); a larger batch is split.
MAX_PARAMETERS = 30_000
MAX_BRANCHES = 500


class AsyncRecords:
    """:class:`cove.store.base.RecordStore` over a :class:`SQLiteStore`."""

    def __init__(self, store: SQLiteStore, heavy_reads: Executor | None = None) -> None:
        self.store = store
        self._heavy: _HeavyReads | None = None
        self._heavy_executor = heavy_reads   # the thread heavy reads run on (default: one of its own)

    async def get(self, model: Model, key: dict[str, Any]) -> Record | None:
        return self.store.get(model, key)

    async def get_many(self, model: Model, keys: Sequence[dict[str, Any]]) -> list[Record]:
        return get_many(self.store, model, keys)

    async def list(self, request: ListRequest) -> Page:
        return self.store.list(request)

    async def list_related(self, request: RelatedRequest) -> dict[tuple[Any, ...], Page]:
        return list_related(self.store, request)

    async def count(self, model: Model) -> int:
        return self.store.count(model)

    async def create(self, model: Model, values: Record, condition: dict[str, Any] | None) -> Record:
        return self.store.create(model, values, condition)

    async def update(self, model: Model, key: dict[str, Any], changes: Record,
                     condition: dict[str, Any] | None) -> Record:
        return self.store.update(model, key, changes, condition)

    async def delete(self, model: Model, key: dict[str, Any], condition: dict[str, Any] | None) -> Record:
        return self.store.delete(model, key, condition)

    def for_heavy_reads(self) -> _HeavyReads:
        if self._heavy is None:
            executor = self._heavy_executor or ThreadPoolExecutor(1, thread_name_prefix="cove-heavy-reads")
            self._heavy = _HeavyReads(self.store, executor)
        return self._heavy


class _HeavyReads(AsyncRecords):
    """Reads on one thread (the server's: Workers.reader) with the store's read-only reader
    connection (one per thread); the loop awaits meanwhile. One thread, not a pool: heavy reads queue
    behind each other instead of multiplying."""

    def __init__(self, store: SQLiteStore, executor: Executor) -> None:
        super().__init__(store)
        self._pool = executor
        self._local = threading.local()

    async def _on_reader(self, work: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._run, work, args)

    def _run(self, work: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        reader = getattr(self._local, "reader", None)
        if reader is None:
            reader = self._local.reader = self.store.reader()
        reader._layouts = self.store._layouts   # a schema reload replaces them on the store
        return work(reader, *args)

    async def get(self, model: Model, key: dict[str, Any]) -> Record | None:
        return await self._on_reader(SQLiteStore.get, model, key)  # type: ignore[no-any-return]

    async def get_many(self, model: Model, keys: Sequence[dict[str, Any]]) -> list[Record]:
        return await self._on_reader(get_many, model, keys)  # type: ignore[no-any-return]

    async def list(self, request: ListRequest) -> Page:
        return await self._on_reader(SQLiteStore.list, request)  # type: ignore[no-any-return]

    async def list_related(self, request: RelatedRequest) -> dict[tuple[Any, ...], Page]:
        return await self._on_reader(list_related, request)  # type: ignore[no-any-return]

    async def count(self, model: Model) -> int:
        return await self._on_reader(SQLiteStore.count, model)  # type: ignore[no-any-return]

    def for_heavy_reads(self) -> _HeavyReads:
        return self


def _tuples_sql(columns: Sequence[str], count: int) -> str:
    """``col IN (?, ...)``, or ``(a, b) IN (VALUES (?, ?), ...)`` for a composite key."""
    if len(columns) == 1:
        return f"{quote(columns[0])} IN ({', '.join('?' * count)})"
    row = "(" + ", ".join("?" * len(columns)) + ")"
    return f"({', '.join(quote(c) for c in columns)}) IN (VALUES {', '.join([row] * count)})"


def _batches(keys: list[tuple[Any, ...]], width: int,
             most: int = MAX_PARAMETERS) -> list[list[tuple[Any, ...]]]:
    """``keys`` in runs that keep a statement within SQLite's ceilings (``width`` parameters a key)."""
    size = max(1, min(most, (MAX_PARAMETERS - 100) // max(1, width)))
    return [keys[i:i + size] for i in range(0, len(keys), size)]


def get_many(store: SQLiteStore, model: Model, keys: Sequence[dict[str, Any]]) -> list[Record]:
    if len(keys) == 1:   # one key: the single-key statement
        found = store.get(model, keys[0])
        return [found] if found is not None else []
    lay = store.layout(model)
    identifier = list(model.identifier)
    wanted = list(dict.fromkeys(tuple(k[c] for c in identifier) for k in keys))
    out: list[Record] = []
    for batch in _batches(wanted, len(identifier)):
        params = [v for key in batch for v in key]
        rows = store.conn.execute(f"{lay.select} WHERE {_tuples_sql(identifier, len(batch))}", params).fetchall()
        out += [lay.decode(r) for r in rows]
    return out


def list_related(store: SQLiteStore, request: RelatedRequest) -> dict[tuple[Any, ...], Page]:
    """Each parent's page, as ``store.list(ListRequest(..., extra_equals=...))`` returns it (same
    order by the primary key, same next token), for all parents in one statement.

    The statement is a UNION ALL of one ``... WHERE ref = ? ORDER BY key LIMIT n`` per parent: each
    branch walks the reference index and stops after its page, and SQLite runs the branches one
    after the other, each in its own order. ``ROW_NUMBER() OVER (PARTITION BY ref ...)`` over
    ``ref IN (...)`` reads and numbers every child of every parent first: 4 to 5 times slower here
    for 20 parents of 50 children at 10 a page (an outer ORDER BY alone costs 40%), and worse the
    more children a parent has."""
    model = request.model
    if len(request.parents) == 1:   # one parent (a get's relations, an event's): the plain list
        parent = request.parents[0]
        return {parent: store.list(ListRequest(model, filter=request.filter, limit=request.limit,
                                               descending=request.descending,
                                               extra_equals=dict(zip(request.references, parent, strict=True))))}
    lay = store.layout(model)
    pages = {parent: Page([], None) for parent in request.parents}
    # A parent key with a null never equals a stored value: its page is empty, as list() finds it.
    parents = [p for p in pages if None not in p]
    order_cols = list(model.identifier)
    direction = "DESC" if request.descending else "ASC"
    token_scope = ListRequest(model, descending=request.descending)
    filter_params: list[Any] = []
    where = " AND ".join(f"{quote(c)} = ?" for c in request.references)
    if request.filter:
        where += " AND " + lay.filters.compile(request.filter, filter_params)
    branch = (f"SELECT * FROM ({lay.select} WHERE {where} "
              f"ORDER BY {', '.join(f'{quote(c)} {direction}' for c in order_cols)} LIMIT ?)")
    ref_of = itemgetter(*[lay.columns.index(c) for c in request.references])   # a row's parent key
    single = len(request.references) == 1
    width = len(request.references) + len(filter_params) + 1
    decode = lay.decode
    limit = request.limit
    for batch in _batches(parents, width, MAX_BRANCHES):
        params: list[Any] = []
        for parent in batch:
            params += [*parent, *filter_params, limit + 1]
        try:
            rows = store.conn.execute(" UNION ALL ".join([branch] * len(batch)), params).fetchall()
        except sqlite3.OperationalError as exc:
            if "JSON" not in str(exc):
                raise
            raise InvalidFilter("Unable to process the filter expression: an operand does not fit the "
                                "field's values") from None
        runs: dict[Any, list[Any]] = {}
        for ref, run in groupby(rows, key=ref_of):   # each branch's rows come together, in its order
            runs.setdefault(ref, []).extend(run)
        for ref, found in runs.items():
            items = [decode(row) for row in found[:limit]]
            token = None
            if len(found) > limit:
                token = store._make_token([items[-1][c] for c in order_cols], model, token_scope)
            pages[(ref,) if single else ref] = Page(items, token)
    return pages
