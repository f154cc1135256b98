"""The store seam: what the server needs from a database, as async protocols any backend implements.

A store receives already-validated Python values (from GraphQL coercion) and returns records as
dicts of field name -> Python value. Filters arrive as AppSync filter input values and are pushed
down into the database, so a filtered page is always a full page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cove.schema.model import Model, Schema, SecondaryIndex

from .identity_state import IdentityStore

Record = dict[str, Any]
Records = list[Record]


class StoreError(Exception):
    """Base of store errors that map to AppSync errors (see ``error_type``)."""

    error_type = "DynamoDB:DynamoDbException"


class ConditionalCheckFailed(StoreError):
    error_type = "DynamoDB:ConditionalCheckFailedException"

    def __init__(self, message: str = "The conditional request failed") -> None:
        super().__init__(message)


class InvalidNextToken(StoreError):
    error_type = "InvalidArgumentsError"


class InvalidFilter(StoreError):
    error_type = "Unrecognized Filter"


class TransactionCanceled(StoreError):
    """A transaction wrote nothing because an item failed: DynamoDB's TransactionCanceledException,
    with one reason per item in order (``"None"`` for the items that would have succeeded)."""

    error_type = "DynamoDB:TransactionCanceledException"

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("Transaction cancelled, please refer cancellation reasons for specific reasons "
                         f"[{', '.join(reasons)}]")
        self.reasons = reasons


class DatabaseUnavailable(StoreError):
    """The database cannot be reached (down, restarting, network gone). The message names the host,
    never a password; the request may be retried, and the backend reconnects by itself."""

    error_type = "DatabaseUnavailable"


class TextNotStorable(StoreError):
    """A text value the database cannot hold: PostgreSQL's ``text`` refuses the NUL character
    (U+0000). Lists and custom types keep it (JSON escapes it as ``\\u0000``)."""

    error_type = "DynamoDB:ValidationException"

    def __init__(self, message: str = "One or more parameter values were invalid: PostgreSQL cannot store the "
                                      "NUL character (U+0000) in text") -> None:
        super().__init__(message)


class StatementTimedOut(StoreError):
    """The database cancelled a statement that ran past its time limit (PostgreSQL's
    ``statement_timeout``); nothing it would have written is kept."""

    error_type = "ExecutionTimeout"

    def __init__(self, seconds: float | None = None) -> None:
        limit = f" of {seconds:g} s" if seconds else ""
        super().__init__(f"Execution timed out: the database statement ran past its time limit{limit} and was "
                         "cancelled. Narrow the request (a filter on an indexed field, a smaller limit).")


class ReadOverBudget(Exception):
    """A read of a ``bounded_reads()`` view ran past its budget and was stopped, having changed
    nothing. Not the client's fault: the caller runs it again where it may take long
    (``for_heavy_reads()``)."""


class BackendError(Exception):
    """The location names no database Cove can open; the message says what it accepts."""


class DestructiveChange(StoreError):
    """Raised by ``apply_schema`` when a change would lose data and was not explicitly allowed."""


@dataclass
class KeyCondition:
    """A key-condition query: equality on the partition key plus an optional sort-key condition."""

    partition_key: str
    partition_value: Any
    sort_keys: tuple[str, ...] = ()
    # {"eq"|"le"|"lt"|"ge"|"gt"|"beginsWith": value | {sk: value}} or {"between": [lo, hi]}
    sort_condition: dict[str, Any] | None = None


@dataclass(frozen=True)
class SortKey:
    """One field of a list's order. Nulls are the smallest values: first ascending, last descending."""

    field: str
    descending: bool = False


@dataclass
class ListRequest:
    model: Model
    filter: dict[str, Any] | None = None
    limit: int = 100
    next_token: str | None = None
    descending: bool = False
    index: SecondaryIndex | None = None          # None: the primary key
    key_condition: KeyCondition | None = None
    extra_equals: dict[str, Any] = field(default_factory=dict)   # has_many parent references
    # Order by these fields, then by the primary key (in the last field's direction); overrides
    # `descending` and the index's order.
    sort: tuple[SortKey, ...] = ()


@dataclass
class SearchRequest:
    """Full-text search of a searchable model: the records whose searchable fields hold every word of
    ``query`` (case and accents ignored), best match first, that also match ``filter``."""

    model: Model
    query: str
    filter: dict[str, Any] | None = None
    limit: int = 100
    next_token: str | None = None


AGGREGATE_FUNCTIONS = ("count", "sum", "avg", "min", "max")


@dataclass
class AggregateRequest:
    """``function`` over ``field`` (``count`` without a field counts records, with one its non-null
    values) on the records matching ``filter``; grouped by ``group_by``'s values (null is a group)
    when given, at most ``max_groups`` groups (more raise TooManyGroups)."""

    model: Model
    function: str
    field: str | None = None
    filter: dict[str, Any] | None = None
    group_by: str | None = None
    max_groups: int = 100


@dataclass
class AggregateGroup:
    key: Any        # the group's value of ``group_by`` (None when not grouped)
    value: Any      # None for sum/avg/min/max over no values, as SQL


# Aliases for the protocol's methods: inside a class with a method named ``list``, ``list[...]`` is not the builtin.
AggregateGroups = list[AggregateGroup]


class TooManyGroups(StoreError):
    error_type = "InvalidArgumentsError"


@dataclass
class TransactItem:
    """One write of a transaction: ``create`` (``values``), ``update`` (``key``, ``values`` the
    changes) or ``delete`` (``key``), each with an optional condition. ``failed`` marks an item the
    caller already knows fails (its record is missing): it is reported, nothing runs."""

    kind: str
    model: Model
    key: dict[str, Any] = field(default_factory=dict)
    values: Record = field(default_factory=dict)
    condition: dict[str, Any] | None = None
    failed: bool = False


@dataclass
class Page:
    items: list[Record]
    next_token: str | None


@dataclass
class MigrationReport:
    created_models: list[str] = field(default_factory=list)
    added_fields: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created_models or self.added_fields or self.dropped)


@dataclass
class AppliedMigration:
    """One row of the migration history: a schema change as it was applied, once."""

    id: int
    applied_at: float
    summary: str              # e.g. "created Todo; added Todo.done"
    statements: list[str]     # the DDL that ran


@dataclass
class ApiKey:
    id: str
    key: str
    description: str | None
    created_at: float
    expires_at: float
    revoked: bool


class DuplicateRecord(StoreError):
    """``insert_records`` met a record whose key exists; ``position`` counts the records from 1."""

    def __init__(self, position: int, model: str, key: dict[str, Any]) -> None:
        super().__init__(f"record {position}: a {model} with key {key} already exists")
        self.position = position
        self.model = model
        self.key = key


@dataclass
class RelatedRequest:
    """Many parents' related records in one statement: for each parent key in ``parents``, the page
    that ``ListRequest(model, filter, limit, descending=descending,
    extra_equals=dict(zip(references, parent)))`` would return (same order, same next token)."""

    model: Model
    references: tuple[str, ...]            # the related model's fields that hold the parent's key
    parents: list[tuple[Any, ...]]          # distinct parent keys, in the parents' order
    filter: dict[str, Any] | None = None
    limit: int = 100                        # per parent
    descending: bool = False


class RecordStore(Protocol):
    """A model's records. Every method is a coroutine; a backend that never waits (SQLite) simply
    does not suspend. Errors are the StoreError subclasses above, never a driver's own."""

    async def get(self, model: Model, key: dict[str, Any]) -> Record | None: ...
    async def get_many(self, model: Model, keys: Sequence[dict[str, Any]]) -> list[Record]:
        """The records with these primary keys, read by one statement; missing keys are left out."""
        ...
    async def list(self, request: ListRequest) -> Page: ...
    async def list_related(self, request: RelatedRequest) -> dict[tuple[Any, ...], Page]:
        """One page per parent key (every parent present, an empty page when it has none)."""
        ...
    async def count(self, model: Model) -> int: ...
    async def aggregate(self, request: AggregateRequest) -> AggregateGroups:
        """One group per distinct ``group_by`` value, nulls first then ascending (one group, key None,
        when not grouped)."""
        ...
    async def search(self, request: SearchRequest) -> Page:
        """A page of matches, best first (ties by primary key), paged by signed tokens."""
        ...
    async def transact(self, items: Sequence[TransactItem]) -> Records:
        """All the writes in one database transaction, or none: each item's record as written (the
        deleted record for a delete), or TransactionCanceled with a reason per item. Every item is
        tried, so each failing one is named."""
        ...
    async def create(self, model: Model, values: Record, condition: dict[str, Any] | None) -> Record: ...
    async def update(self, model: Model, key: dict[str, Any], changes: Record,
                     condition: dict[str, Any] | None) -> Record: ...
    async def delete(self, model: Model, key: dict[str, Any], condition: dict[str, Any] | None) -> Record: ...
    def for_heavy_reads(self, executor: Executor | None = None) -> RecordStore:
        """A view whose reads do not hold the event loop while they run (SQLite: statements run on
        ``executor``'s one thread, default one of the store's own, with a read-only connection of
        that thread; a networked database: itself)."""
        ...
    def bounded_reads(self, seconds: float) -> RecordStore:
        """A view for reads on the event loop: a read that has worked for about ``seconds`` stops with
        ReadOverBudget, so one unindexed scan or sort cannot hold the loop (SQLite: CPU time of the
        statement; PostgreSQL, whose reads never hold the loop: a fixed time holding a pooled
        connection, so that a scan moves to the heavy-read pool)."""
        ...


class Migrator(Protocol):
    """The stored layout against a schema. Safe when many processes start at once: a change is
    applied by one of them, once (the others find it done), and recorded in the history."""

    async def apply_schema(self, schema: Schema, *, allow_destructive: bool = False) -> MigrationReport: ...
    async def pending_statements(self, schema: Schema, *, allow_destructive: bool = False) -> list[str]:
        """The DDL ``apply_schema`` would run now, without running it (``cove migrate --dry-run``);
        raises DestructiveChange as ``apply_schema`` would."""
        ...
    async def history(self) -> list[AppliedMigration]:
        """Every applied change, oldest first."""
        ...


class KeyStore(Protocol):
    """AppSync-style API keys."""

    async def api_keys(self) -> list[ApiKey]: ...
    async def find_api_key(self, key: str) -> ApiKey | None: ...
    async def create_api_key(self, *, expires_at: float, description: str | None = None) -> ApiKey: ...
    async def revoke_api_key(self, key_or_id: str) -> bool: ...
    async def set_api_key_expiry(self, key_or_id: str, expires_at: float) -> bool: ...


class DataTransfer(Protocol):
    """Data in and out (cove backup / export / import, sandbox --reset); see cove.store.transfer."""

    def read_snapshot(self) -> AbstractAsyncContextManager[None]: ...
    async def insert_records(self, items: Iterable[tuple[Model, Record]]) -> int: ...
    async def delete_all_records(self) -> int: ...
    async def backup(self, target: Path) -> None: ...
    async def drop_all(self) -> None:
        """Drop every table Cove made (records, meta, API keys, migrations, identity), for
        ``sandbox --reset all``; tables of other applications in the same schema stay."""
        ...


class Backend(Protocol):
    """One database: everything Cove keeps, behind the protocols above (and the identity state's,
    ``cove.store.identity_state.IdentityStore``). Opened by ``cove.store.open_backend``; closing it
    closes its identity store too."""

    # Read-only members, so a backend may hold its own classes (checked against these protocols).
    @property
    def records(self) -> RecordStore: ...
    @property
    def migrator(self) -> Migrator: ...
    @property
    def keys(self) -> KeyStore: ...
    @property
    def transfer(self) -> DataTransfer: ...
    @property
    def identity(self) -> IdentityStore: ...

    @property
    def description(self) -> str:
        """Where the data is, for messages: ``SQLite .cove/data.sqlite``, ``PostgreSQL
        cove@db.internal:5432/app (schema public)``; never a password."""
        ...

    async def open(self) -> None:
        """Connect and check: PostgreSQL makes its pool (one per event loop), creates its schema and
        Cove's own tables and reads the secret; SQLite has done all of it in the constructor. Raises
        DatabaseUnavailable naming the host. Safe to call again, from any event loop; call it before
        ``secret()``."""
        ...

    def secret(self) -> bytes:
        """This database's signing secret (next tokens, the broker channel name), created once."""
        ...
    def start_background_work(self) -> None:
        """What a serving process runs besides requests (SQLite: WAL checkpoints on a thread)."""
        ...
    async def close(self) -> None: ...
