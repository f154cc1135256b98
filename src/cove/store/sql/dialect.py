"""How a database spells what Cove's statements need: placeholders, literals, types, functions, errors.

Every statement in ``queries.py``, ``filters.py`` and ``migrate.py`` is built through a ``Dialect``,
so a second database is one subclass. ``Dialect`` spells standard SQL where there is one;
``SQLiteDialect`` overrides what SQLite does its own way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from cove.schema.model import Field

from ..base import ConditionalCheckFailed, InvalidFilter, StoreError
from . import codecs


class Dialect:
    """Standard SQL where there is one; placeholders and functions are each database's own."""

    name = "sql"
    # Two-valued boolean literals; PostgreSQL rejects `WHERE 1`.
    true = "TRUE"
    false = "FALSE"
    table_options = ""        # appended to CREATE TABLE (...)
    positional_params = False  # placeholders carry no number (`?`): a statement's text may repeat
    float_type = "DOUBLE PRECISION"

    # -- names and values

    @staticmethod
    def quote(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    @staticmethod
    def quote_literal(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    def literal(self, value: Any) -> str:
        """A constant in DDL (a column default)."""
        if isinstance(value, str):
            return self.quote_literal(value)
        if isinstance(value, bool):
            return self.true if value else self.false
        return repr(value)

    def param(self, params: list[Any], value: Any) -> str:
        """Append ``value`` to ``params`` and return its placeholder (``?``, ``$3``: the driver's)."""
        raise NotImplementedError

    def params(self, params: list[Any], values: Sequence[Any]) -> str:
        return ", ".join(self.param(params, v) for v in values)

    # -- columns and codecs

    def column_type(self, field: Field) -> str:
        if field.is_array or field.type.kind == "custom":
            return "JSON"
        if field.type.kind == "scalar":
            if field.type.name in ("Int", "AWSTimestamp"):
                return "BIGINT"
            if field.type.name == "Float":
                return "DOUBLE PRECISION"
            if field.type.name == "Boolean":
                return "BOOLEAN"
        return "TEXT"

    def encoder(self, field: Field) -> Callable[[Any], Any] | None:
        """Python value -> column value (None when no conversion is needed)."""
        return codecs.encoder(field)

    def decoder(self, field: Field) -> Callable[[Any], Any] | None:
        """Column value -> Python value (None when no conversion is needed)."""
        return codecs.decoder(field)

    # -- expressions the filters and key conditions use; each database has its own functions for them

    def list_contains(self, col: str, ph: str) -> str:
        """The JSON array in ``col`` has an element equal to the parameter."""
        raise NotImplementedError

    def list_contains_token(self, col: str, ph: str) -> str:
        """The compact JSON array in ``col`` has an element whose JSON text is the parameter."""
        raise NotImplementedError

    def byte_length(self, col: str) -> str:
        """The UTF-8 length of a text column (DynamoDB's size of a string)."""
        raise NotImplementedError

    def list_length(self, col: str) -> str:
        raise NotImplementedError

    def text_contains(self, col: str, ph: str) -> str:
        raise NotImplementedError

    def begins_with(self, col: str, ph: str, ph2: str) -> str:
        """``col`` starts with the parameter (given twice, for dialects that need it twice)."""
        raise NotImplementedError

    def as_text(self, expr: str) -> str:
        return f"CAST({expr} AS TEXT)"

    def concat(self, parts: Sequence[str]) -> str:
        return " || ".join(parts)

    def boolean_extreme(self, largest: bool, col: str) -> str:
        """max (``largest``) or min of a BOOLEAN column: true is the larger."""
        return f"bool_or({col})" if largest else f"bool_and({col})"

    def order_term(self, expr: str, descending: bool, nullable: bool = True) -> str:
        """One ORDER BY term where a null is the smallest value (first ascending, last descending).
        A column that holds no null is spelled plainly, so an index's default order serves it."""
        if not nullable:
            return f"{expr} DESC" if descending else f"{expr} ASC"
        return f"{expr} DESC NULLS LAST" if descending else f"{expr} ASC NULLS FIRST"

    def text_prefix(self, expr: str, length_ph: str, prefix_ph: str) -> str:
        """``expr`` starts with the parameter (passed twice: for its length, and to compare)."""
        return f"substr({expr}, 1, length({length_ph})) = {prefix_ph}"

    # -- statements

    def upsert(self, table: str, columns: Sequence[str], conflict: Sequence[str], values: str) -> str:
        """INSERT that replaces the non-key columns of an existing row with the same ``conflict`` key."""
        cols = ", ".join(self.quote(c) for c in columns)
        keys = ", ".join(self.quote(c) for c in conflict)
        sets = ", ".join(f"{self.quote(c)} = excluded.{self.quote(c)}" for c in columns if c not in conflict)
        return f"INSERT INTO {table} ({cols}) VALUES ({values}) ON CONFLICT ({keys}) DO UPDATE SET {sets}"

    def insert_or_ignore(self, table: str, columns: Sequence[str], values: str) -> str:
        cols = ", ".join(self.quote(c) for c in columns)
        return f"INSERT INTO {table} ({cols}) VALUES ({values}) ON CONFLICT DO NOTHING"

    def table_names(self) -> str:
        """The schema catalogue query: one row per table, its name first."""
        return "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"

    def row_values(self, rows: Sequence[str]) -> str:
        """A list of row constructors to compare a column tuple with: ``(a, b) IN (<this>)``."""
        return "VALUES " + ", ".join(rows)

    def map_error(self, exc: BaseException) -> StoreError | None:
        """The StoreError a driver's exception means, or None for a failure that is not the caller's."""
        return None


class SQLiteDialect(Dialect):
    """SQLite's spelling. Text compares by bytes (DynamoDB's order); NUL-safe functions use BLOBs."""

    name = "sqlite"
    true = "1"
    false = "0"
    table_options = " WITHOUT ROWID"   # a scan in key order reads rows directly
    positional_params = True
    float_type = "REAL"

    def param(self, params: list[Any], value: Any) -> str:
        params.append(value)
        return "?"

    def params(self, params: list[Any], values: Sequence[Any]) -> str:
        params.extend(values)
        return ", ".join("?" * len(values))

    def column_type(self, field: Field) -> str:
        kind = field.type.kind
        if field.is_array or kind == "custom":
            return "TEXT"
        if kind == "scalar" and field.type.name in ("Int", "AWSTimestamp", "Boolean"):
            return "INTEGER"
        if kind == "scalar" and field.type.name == "Float":
            return "REAL"
        return "TEXT"

    def literal(self, value: Any) -> str:
        if isinstance(value, bool):
            return str(int(value))
        return super().literal(value)

    def decoder(self, field: Field) -> Callable[[Any], Any] | None:
        if field.is_array or field.type.kind == "custom":
            return codecs.decoder(field)
        if field.type.kind == "scalar" and field.type.name == "Boolean":
            return bool    # stored as 0/1
        if field.type.kind == "scalar" and field.type.name == "Float":
            # SQLite keeps integral REAL values as integers on disk, and `RETURNING` hands them back as
            # int (e.g. 1 for 1.0) -- so a create/update would answer `"score": 1`.
            return float
        return None

    def boolean_extreme(self, largest: bool, col: str) -> str:
        return f"max({col})" if largest else f"min({col})"    # stored as 0/1

    def order_term(self, expr: str, descending: bool, nullable: bool = True) -> str:
        # SQLite's own null order is this one; spelled plainly so its planner matches it to indexes.
        return f"{expr} DESC" if descending else f"{expr} ASC"

    def list_contains(self, col: str, ph: str) -> str:
        return f"EXISTS (SELECT 1 FROM json_each({col}) WHERE value = {ph})"

    def list_contains_token(self, col: str, ph: str) -> str:
        # Outside a JSON string, `,"` or `["` only occur at element boundaries (inside one, a quote is
        # always escaped), so `,<token>,` within `,<array body>,` matches whole elements only. Unlike
        # json_each(), this is exact for strings holding NUL characters.
        return f"instr(',' || substr({col}, 2, length({col}) - 2) || ',', ',' || {ph} || ',') > 0"

    def byte_length(self, col: str) -> str:
        return f"length(CAST({col} AS BLOB))"

    def list_length(self, col: str) -> str:
        return f"json_array_length({col})"

    def text_contains(self, col: str, ph: str) -> str:
        return f"instr({col}, {ph}) > 0"

    def begins_with(self, col: str, ph: str, ph2: str) -> str:
        # On bytes: SQLite's text length()/substr() stop at a NUL character, the BLOB forms do not
        # (and a UTF-8 byte prefix is exactly a character prefix). substr() of an empty BLOB is NULL.
        return (f"coalesce(substr(CAST({col} AS BLOB), 1, length(CAST({ph} AS BLOB))), x'') "
                f"= CAST({ph2} AS BLOB)")

    def insert_or_ignore(self, table: str, columns: Sequence[str], values: str) -> str:
        cols = ", ".join(self.quote(c) for c in columns)
        return f"INSERT OR IGNORE INTO {table} ({cols}) VALUES ({values})"

    def table_names(self) -> str:
        return "SELECT name FROM sqlite_master WHERE type = 'table'"

    def map_error(self, exc: BaseException) -> StoreError | None:
        if isinstance(exc, sqlite3.IntegrityError):
            return ConditionalCheckFailed()   # a key that exists already
        if isinstance(exc, sqlite3.OperationalError) and "JSON" in str(exc):
            # json_each over a malformed value; SQLite's own words stay out of the answer
            return InvalidFilter("Unable to process the filter expression: an operand does not fit the "
                                 "field's values")
        return None


SQLITE = SQLiteDialect()
