"""PostgreSQL's spelling of Cove's statements (asyncpg's ``$n`` placeholders).

Two text decisions, the same for every table Cove makes:

* Byte order. Every TEXT column is ``COLLATE "C"``: UTF-8 bytes compare in code-point order, which is
  DynamoDB's (and SQLite's, and Python's) order for sort keys, ``lt``/``between`` filters and page
  tokens, whatever the database's default collation is. B-tree indexes inherit the column's collation.
* NUL. PostgreSQL's ``text`` cannot hold U+0000, so a write of a text value holding it is refused with
  ``TextNotStorable`` ("PostgreSQL cannot store the NUL character (U+0000) in text"), as a
  ValidationException; nothing is written. Lists and custom types are ``json`` columns, whose text
  escapes it as ``\\u0000``, so they keep it losslessly. Filters and conditions whose text operand holds
  NUL keep their exact meaning (no stored text holds it: see ``FilterCompiler._nul_operand``), and a
  key holding it is simply not found.

Lists and custom types are ``json``, not ``jsonb``: ``json`` keeps the text as written (orjson's compact
form), so equality and element tests compare the same JSON text as SQLite's, it accepts ``\\u0000``
(``jsonb`` refuses it), and it is stored without being parsed into a binary form. Nothing needs
``jsonb``'s operators or GIN indexes: filters read elements with ``json_array_elements``.

Filter operands are typed by their Python value (``$3::bigint``, ``$3::float8``...): left to infer its
type from a BIGINT column, asyncpg would turn 2.5 into 2.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from cove.schema.model import Field

from ..base import (
    ConditionalCheckFailed,
    DatabaseUnavailable,
    InvalidFilter,
    StatementTimedOut,
    StoreError,
    TextNotStorable,
)
from ..sql import codecs
from ..sql.dialect import Dialect
from .listeners import RETURNING_GENERATION

# Failures that mean the database (or the way to it) is gone, not that the statement is wrong.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,                                 # refused, reset, unreachable, DNS (socket.gaierror)
    TimeoutError,                            # connect timeout (asyncio.TimeoutError is TimeoutError)
    asyncpg.PostgresConnectionError,         # class 08 (connection failure, ...)
    asyncpg.CannotConnectNowError,           # 57P03: starting up or shutting down
    asyncpg.AdminShutdownError,              # 57P01: terminated (pg_terminate_backend, fast shutdown)
    asyncpg.CrashShutdownError,              # 57P02
    asyncpg.TooManyConnectionsError,         # 53300
    asyncpg.ConnectionDoesNotExistError,     # the connection was closed in the middle of an operation
)


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` means the database (or the way to it) is gone; asyncpg's InterfaceError also
    covers misuse, so only its "connection is closed" and "pool is closing" count."""
    if isinstance(exc, CONNECTION_ERRORS):
        return True
    return isinstance(exc, asyncpg.InterfaceError) and ("is closed" in str(exc) or "is closing" in str(exc))

OPERAND_CASTS: dict[type, str] = {bool: "::boolean", int: "::bigint", float: "::float8", str: "::text"}


class PostgresDialect(Dialect):
    """``where`` (host:port) names the server in DatabaseUnavailable messages."""

    name = "postgresql"
    positional_params = False
    array_params = True           # a key set is passed as arrays (one statement text whatever its size)
    index_holds_key = True        # as SQLite's WITHOUT ROWID indexes hold the key: pages walk the index
    text_holds_nul = False
    text_type = 'TEXT COLLATE "C"'
    returning_extra = RETURNING_GENERATION   # see listeners.py: the store reports it, the broker uses it

    def __init__(self, where: str = "the PostgreSQL server") -> None:
        self.where = where

    def param(self, params: list[Any], value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    def operand(self, params: list[Any], value: Any) -> str:
        params.append(value)
        return f"${len(params)}{OPERAND_CASTS.get(type(value), '')}"

    def column_type(self, field: Field) -> str:
        base = super().column_type(field)
        return self.text_type if base == "TEXT" else base

    def array_type(self, field: Field) -> str:
        """The type of an array of this column's values, for ``unnest($1::<this>)``."""
        base = super().column_type(field)
        return ("TEXT" if base == "JSON" else base) + "[]"

    def compared(self, field: Field, col: str) -> str:
        return f"{col}::text" if codecs.is_json(field) else col

    def as_text(self, expr: str) -> str:
        # A BIGINT sort key cast to text would take the database's default collation.
        return f'CAST({expr} AS TEXT) COLLATE "C"'

    def text_prefix(self, expr: str, length_ph: str, prefix_ph: str) -> str:
        return f"left(CAST({expr} AS TEXT), char_length({length_ph}::text)) = {prefix_ph}::text"

    # -- filter functions (see Dialect for what each means)

    def list_contains(self, col: str, ph: str) -> str:
        # A number equals a number of any spelling (2 = 2.0), as in cove.wire.filters; any other
        # element compares by its JSON text. json_array_elements keeps "\u0000" escaped (no error).
        element = f"to_json({ph})"
        return (f"EXISTS (SELECT 1 FROM json_array_elements({col}) AS e(v) WHERE json_typeof(e.v) = "
                f"json_typeof({element}) AND CASE WHEN json_typeof(e.v) = 'number' THEN "
                f"(e.v::text)::numeric = ({element}::text)::numeric ELSE e.v::text = {element}::text END)")

    def list_contains_token(self, col: str, ph: str) -> str:
        # As SQLite's: `,<token>,` inside `,<array body>,` of the compact JSON text matches whole elements.
        text = f"{col}::text"
        return f"strpos(',' || substr({text}, 2, length({text}) - 2) || ',', ',' || {ph} || ',') > 0"

    def byte_length(self, col: str) -> str:
        return f"octet_length({col})"

    def list_length(self, col: str) -> str:
        return f"json_array_length({col})"

    def text_contains(self, col: str, ph: str) -> str:
        return f"strpos({col}, {ph}) > 0"

    def begins_with(self, col: str, ph: str, ph2: str) -> str:
        # Both placeholders are bound, so both must be used (an unused one has no type).
        return f"left({col}, char_length({ph})) = {ph2}"

    # -- statements

    def table_names(self) -> str:
        return "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"

    def index_names(self) -> str:
        return "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"

    def encoder(self, field: Field) -> Callable[[Any], Any] | None:
        return codecs.encoder(field)

    def decoder(self, field: Field) -> Callable[[Any], Any] | None:
        return codecs.decoder(field)

    def map_error(self, exc: BaseException) -> StoreError | None:
        if isinstance(exc, asyncpg.UniqueViolationError):
            return ConditionalCheckFailed()   # a key that exists already
        if isinstance(exc, asyncpg.CharacterNotInRepertoireError) and "0x00" in str(exc):
            return TextNotStorable()
        if is_connection_error(exc):
            return DatabaseUnavailable(f"The database at {self.where} is unavailable ({_reason(exc)}); "
                                       "retry the request")
        if isinstance(exc, asyncpg.QueryCanceledError):   # 57014: statement_timeout (or a cancel request)
            return StatementTimedOut()
        if isinstance(exc, (asyncpg.UndefinedFunctionError, asyncpg.InvalidTextRepresentationError,
                            asyncpg.IndeterminateDatatypeError, asyncpg.DatatypeMismatchError, asyncpg.DataError)) and not isinstance(exc, asyncpg.NumericValueOutOfRangeError):
            # An operand of another type than the field's (e.g. a number for a text field), which the
            # GraphQL layer never sends; the driver's words stay out of the answer.
            return InvalidFilter("Unable to process the filter expression: an operand does not fit the "
                                 "field's values")
        return None


def _reason(exc: BaseException) -> str:
    """A short, password-free reason: the exception's kind (its text may quote a DSN)."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    if isinstance(exc, asyncpg.TooManyConnectionsError):
        return "too many connections"
    if isinstance(exc, (asyncpg.AdminShutdownError, asyncpg.CrashShutdownError, asyncpg.CannotConnectNowError)):
        return "the server is shutting down or restarting"
    return "connection lost"

