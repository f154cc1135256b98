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
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cove.schema.model import Model

from .base import InvalidFilter, ListRequest, Page, Record, RelatedRequest
from .legacy_sql import quote
from .legacy_sqlite import SQLiteStore

# Bound parameters per statement, under SQLite's default ceiling (32766); a larger batch is split.
MAX_PARAMETERS = 30_000


class AsyncRecords:
    """:class:`cove.store.base.RecordStore` over a :class:`SQLiteStore`."""

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self._heavy: _HeavyReads | None = None

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
            self._heavy = _HeavyReads(self.store)
        return self._heavy


class _HeavyReads(AsyncRecords):
    """Reads on one thread with the store's read-only reader connection; the loop awaits meanwhile.
    One thread, not a pool: heavy reads queue behind each other instead of multiplying."""

    def __init__(self, store: SQLiteStore) -> None:
        super().__init__(store)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="cove-reader")
        self._local = threading.local()

    async def _on_reader(self, work: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._run, work, args)

    def _run(self, work: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        reader = getattr(self._local, "reader", None)
        if reader is None:
            reader = self._local.reader = self.store.reader()
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


def _batches(keys: list[tuple[Any, ...]], width: int) -> list[list[tuple[Any, ...]]]:
    size = max(1, (MAX_PARAMETERS - 100) // max(1, width))
    return [keys[i:i + size] for i in range(0, len(keys), size)]


def get_many(store: SQLiteStore, model: Model, keys: Sequence[dict[str, Any]]) -> list[Record]:
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
    order by the primary key, same next token), for all parents in one windowed statement."""
    model = request.model
    lay = store.layout(model)
    references = list(request.references)
    pages = {parent: Page([], None) for parent in request.parents}
    # A parent key with a null never equals a stored value: its page is empty, as list() finds it.
    parents = [p for p in pages if not any(v is None for v in p)]
    order_cols = list(model.identifier)
    direction = "DESC" if request.descending else "ASC"
    token_scope = ListRequest(model, descending=request.descending)
    ref_positions = [lay.columns.index(c) for c in references]
    columns = ", ".join(quote(c) for c in lay.columns)
    for batch in _batches(parents, len(references)):
        params: list[Any] = [v for parent in batch for v in parent]
        where = _tuples_sql(references, len(batch))
        if request.filter:
            where += " AND " + lay.filters.compile(request.filter, params)
        params.append(request.limit + 1)
        sql = (f"SELECT {columns} FROM (SELECT {columns}, ROW_NUMBER() OVER (PARTITION BY "
               f"{', '.join(quote(c) for c in references)} ORDER BY "
               f"{', '.join(f'{quote(c)} {direction}' for c in order_cols)}) AS _cove_rank "
               f"FROM {lay.table} WHERE {where}) WHERE _cove_rank <= ? ORDER BY _cove_rank")
        try:
            rows = store.conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "JSON" not in str(exc):
                raise
            raise InvalidFilter("Unable to process the filter expression: an operand does not fit the "
                                "field's values") from None
        for row in rows:
            page = pages.get(tuple(row[i] for i in ref_positions))
            if page is None:
                continue
            if len(page.items) < request.limit:
                page.items.append(lay.decode(row))
            elif page.next_token is None:
                last = page.items[-1]
                page.next_token = store._make_token([last[c] for c in order_cols], model, token_scope)
    return pages
