"""Records in PostgreSQL: runs the statements ``store/sql/queries.py`` builds, one per call.

Every read and write is one statement on a pooled connection (asyncpg prepares it once per
connection and keeps it): a create is ``INSERT ... RETURNING``, an update or delete with a condition
``... WHERE key AND (condition) RETURNING``, so the condition is checked atomically with the write
and no row back means "missing or condition failed" (both ConditionalCheckFailed, as on DynamoDB).
Key sets (get_many, list_related) are bound as arrays, so their statement text is the same whatever
the number of keys.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Sequence
from contextlib import nullcontext
from concurrent.futures import Executor
from typing import Any, NoReturn

import asyncpg  # type: ignore[import-untyped]

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
from ..sql.layout import Layout
from ..sql.tokens import NextTokens
from .dialect import PostgresDialect
from .listeners import EventListeners
from .pool import ConnectionPool

PoolGetter = Callable[[], Awaitable[ConnectionPool]]

# How long a read of a bounded view (the engine's first try of a light request) may hold its pooled
# connection before it is cancelled and read again through for_heavy_reads(): ten times an indexed
# read's p99 under the bench's load of 32 connections (~25 ms), so only a scan of many rows gets
# there; short, since until then a scan holds one of the connections short requests share.
BOUNDED_READ_SECONDS = 0.25


def lock_order(item: TransactItem) -> tuple[str, str]:
    """Where an item's row lock comes in a transaction: one total order over every model's records."""
    key = item.values if item.kind == "create" else item.key
    return item.model.name, repr([key.get(k) for k in item.model.identifier])


def holds_nul(values: Sequence[Any]) -> bool:
    """A key value PostgreSQL text cannot hold, so no stored key equals it."""
    return any(v.__class__ is str and "\x00" in v for v in values)


class PostgresRecords:
    """RecordStore over the backend's pool. ``layouts`` is shared with the migrator, which fills it."""

    def __init__(self, pool: PoolGetter, layouts: dict[str, Layout], tokens: NextTokens,
                 dialect: PostgresDialect, listeners: EventListeners, *, heavy: PoolGetter | None = None) -> None:
        self._pool = pool
        self._heavy = heavy            # where for_heavy_reads() reads (None: this is that view)
        self._layouts = layouts
        self._tokens = tokens
        self._dialect = dialect
        # Every write's row ends with the event-listener generation its statement saw (listeners.py).
        self._listeners = listeners
        # A bounded_reads() view's: seconds a read may hold its connection; past them asyncpg cancels
        # the statement on the server and raises TimeoutError, which is ReadOverBudget here.
        self._timeout: float | None = None

    def _fail(self, exc: BaseException) -> NoReturn:
        if self._timeout is not None and isinstance(exc, TimeoutError):
            raise ReadOverBudget() from None
        mapped = self._dialect.map_error(exc)
        if mapped is None:
            raise exc   # not the request's fault: an internal failure, logged
        raise mapped from None

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        pool = await self._pool()
        try:
            return await pool.fetch(sql, *params, timeout=self._timeout)
        except Exception as exc:  # noqa: BLE001 - mapped to the store's errors
            self._fail(exc)

    async def _fetchrow(self, sql: str, params: Sequence[Any]) -> Any:
        pool = await self._pool()
        try:
            return await pool.fetchrow(sql, *params)
        except Exception as exc:  # noqa: BLE001 - mapped to the store's errors
            self._fail(exc)

    # -- reads

    async def get(self, model: Model, key: dict[str, Any]) -> Record | None:
        lay = self._layouts[model.name]
        values = lay.key_values(key)
        pool = await self._pool()
        try:
            row = await pool.fetchrow(lay.get_sql, *values, timeout=self._timeout)
        except Exception as exc:  # noqa: BLE001 - mapped to the store's errors
            if holds_nul(values):   # looked at only when the statement failed: the hot path skips it
                return None
            self._fail(exc)
        return lay.decode(row) if row is not None else None

    async def get_many(self, model: Model, keys: Sequence[dict[str, Any]]) -> list[Record]:
        """In the keys' order, each record once."""
        lay = self._layouts[model.name]
        if len(keys) == 1:   # one key (a get's belongsTo, an event's): the single-key statement
            record = await self.get(model, keys[0])
            return [record] if record is not None else []
        identifier = lay.identifier
        wanted = list(dict.fromkeys(tuple(key[k] for k in identifier) for key in keys))
        asked = [k for k in wanted if not holds_nul(k) and None not in k]
        if not asked:
            return []
        sql, params = queries.get_many(lay, asked)
        decode = lay.decode
        if len(identifier) == 1:
            name = identifier[0]
            found = {(record[name],): record for record in map(decode, await self._fetch(sql, params))}
        else:
            found = {tuple(record[k] for k in identifier): record
                     for record in map(decode, await self._fetch(sql, params))}
        return [found[k] for k in wanted if k in found]

    async def list(self, request: ListRequest) -> Page:
        lay = self._layouts[request.model.name]
        statement = queries.list_records(lay, request, self._tokens)
        pool = await self._pool()
        try:
            rows = await pool.fetch(statement.sql, *statement.params, timeout=self._timeout)
        except Exception as exc:  # noqa: BLE001 - mapped to the store's errors
            equals = list(request.extra_equals.values())
            if request.key_condition is not None:
                equals.append(request.key_condition.partition_value)
            if holds_nul(equals):
                return Page([], None)   # no stored key holds NUL
            self._fail(exc)
        return queries.page(statement, rows, lay.decode, self._tokens)

    async def list_related(self, request: RelatedRequest) -> dict[tuple[Any, ...], Page]:
        if len(request.parents) == 1:   # one parent (a get's relations, an event's): the plain list
            parent = request.parents[0]
            alone = ListRequest(request.model, filter=request.filter, limit=request.limit,
                                descending=request.descending, extra_equals=dict(zip(request.references, parent, strict=True)))
            return {parent: await self.list(alone)}
        lay = self._layouts[request.model.name]
        pages = {parent: Page([], None) for parent in request.parents}
        # A parent key holding a null (or a NUL) never equals a stored value: its page is empty.
        parents = [parent for parent in pages if None not in parent and not holds_nul(parent)]
        if parents:
            part = RelatedRequest(request.model, request.references, parents, request.filter, request.limit,
                                  request.descending)
            statement = queries.list_related(lay, part)
            rows = await self._fetch(statement.sql, statement.params)
            pages.update(queries.related_pages(statement, part, rows, lay, self._tokens))
        return pages

    async def count(self, model: Model) -> int:
        return int((await self._fetch(self._layouts[model.name].count_sql, ()))[0][0])

    async def aggregate(self, request: AggregateRequest) -> AggregateGroups:
        lay = self._layouts[request.model.name]
        sql, params = aggregates.aggregate(lay, request)
        return aggregates.groups(lay, request, await self._fetch(sql, params))

    async def search(self, request: SearchRequest) -> Page:
        lay = self._layouts[request.model.name]
        candidates = fulltext.candidates_for(request)
        rows = await self._fetch(*fulltext.search(lay, request, self._tokens, candidates))
        if fulltext.needs_retry(request, candidates, rows):
            rows = await self._fetch(*fulltext.search(lay, request, self._tokens))
        return fulltext.page(lay, request, rows, self._tokens)

    # -- writes

    async def transact(self, items: Sequence[TransactItem]) -> Records:
        """One transaction on one pooled connection; every item runs (so each failing one is named),
        then a failure rolls all of them back.

        Items run in one order for every transaction (by model, then key), so two transactions that
        write the same records lock them in the same order and the second waits for the first,
        instead of each holding a row the other needs (a deadlock PostgreSQL breaks after a second
        by failing one of them). Reasons and records come back in the caller's order."""
        source = await self._pool()
        reasons = ["None"] * len(items)
        rows: list[Any] = [None] * len(items)
        running = -1
        # A pooled connection (or, inside a read snapshot, the snapshot's own).
        connection = source.acquire() if isinstance(source, ConnectionPool) else nullcontext(source)
        try:
            async with connection as conn, conn.transaction():
                for running in sorted(range(len(items)), key=lambda i: lock_order(items[i])):
                    item = items[running]
                    statement = aggregates.transact_statement(self._layouts[item.model.name], item)
                    row = None if statement is None else await conn.fetchrow(statement[0], *statement[1])
                    if row is None:
                        reasons[running] = "ConditionalCheckFailed"
                    else:
                        self._listeners.saw(row[-1])
                        rows[running] = row
                if "ConditionalCheckFailed" in reasons:
                    raise TransactionCanceled(reasons)   # leaving the block rolls the transaction back
        except TransactionCanceled:
            raise
        except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
            # Another writer's lock order crossed this one's (not another Cove transaction's: see
            # above): DynamoDB's answer to a concurrent transaction on an item.
            for i in ([running] if running >= 0 else range(len(items))):   # the item that waited
                reasons[i] = "TransactionConflict"
            raise TransactionCanceled(reasons) from None
        except Exception as exc:  # noqa: BLE001 - mapped to the store's errors
            self._fail(exc)
        return [self._layouts[item.model.name].decode(row) for item, row in zip(items, rows)]

    async def create(self, model: Model, values: Record, condition: dict[str, Any] | None) -> Record:
        lay = self._layouts[model.name]
        if condition and not matches(condition, {}, lay.list_fields):
            # DynamoDB evaluates a put's condition against the (absent) existing item.
            raise ConditionalCheckFailed()
        cols, params = lay.encode_values(values)
        row = await self._fetchrow(lay.insert_sql(cols), params)
        self._listeners.saw(row[-1])
        return lay.decode(row)

    async def update(self, model: Model, key: dict[str, Any], changes: Record,
                     condition: dict[str, Any] | None) -> Record:
        lay = self._layouts[model.name]
        row = await self._write(lay, key, *queries.update(lay, key, changes, condition))
        return lay.decode(row)

    async def delete(self, model: Model, key: dict[str, Any], condition: dict[str, Any] | None) -> Record:
        lay = self._layouts[model.name]
        row = await self._write(lay, key, *queries.delete(lay, key, condition))
        return lay.decode(row)

    async def _write(self, lay: Layout, key: dict[str, Any], sql: str, params: Sequence[Any]) -> Any:
        """The row an update or delete returned; ConditionalCheckFailed when none (missing or failed)."""
        pool = await self._pool()
        try:
            row = await pool.fetchrow(sql, *params)
        except Exception as exc:  # noqa: BLE001 - mapped to the store's errors
            if holds_nul(lay.key_values(key)):
                raise ConditionalCheckFailed() from None   # no record has such a key
            self._fail(exc)
        if row is None:
            raise ConditionalCheckFailed()
        self._listeners.saw(row[-1])
        return row

    def for_heavy_reads(self, executor: Executor | None = None) -> PostgresRecords:
        """These records on the backend's heavy pool: a long read waits on the database, not on the
        event loop, and holds one of the few connections kept for such reads, not a short one's."""
        if self._heavy is None:
            return self
        return PostgresRecords(self._heavy, self._layouts, self._tokens, self._dialect, self._listeners)

    def bounded_reads(self, seconds: float) -> PostgresRecords:
        """These records, each read stopped with ReadOverBudget once it has held its connection for
        BOUNDED_READ_SECONDS (a read never holds the loop here, so ``seconds`` of the loop's CPU does
        not apply; what a long read holds is one of the pool's connections)."""
        view = copy.copy(self)
        view._timeout = BOUNDED_READ_SECONDS
        return view


def _check_protocol(records: PostgresRecords) -> RecordStore:
    return records   # mypy checks the store against the protocol
