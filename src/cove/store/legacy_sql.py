"""SQL shared by the relational stores: column layout, value codecs, and AppSync filters -> WHERE.

Every predicate is written to be two-valued (never SQL NULL), so `not` behaves like DynamoDB's NOT
and matches ``cove.wire.filters.matches`` exactly; a test cross-checks the two.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from cove.schema.model import Field, Model

from .base import InvalidFilter


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def column_type(field: Field) -> str:
    if field.is_array or field.type.kind == "custom":
        return "TEXT"
    if field.type.kind == "scalar":
        if field.type.name in ("Int", "AWSTimestamp"):
            return "INTEGER"
        if field.type.name == "Float":
            return "REAL"
        if field.type.name == "Boolean":
            return "INTEGER"
    return "TEXT"


def storage_signature(field: Field) -> str:
    """What must stay the same for stored data to keep its meaning, e.g. ``[String!]`` or ``Int!``."""
    return field.graphql_type if field.relation is None else ""


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def encoder(field: Field) -> Callable[[Any], Any] | None:
    """Python value -> column value (None when no conversion is needed)."""
    if field.is_array or field.type.kind == "custom":
        return _dumps
    return None


def decoder(field: Field) -> Callable[[Any], Any] | None:
    """Column value -> Python value (None when no conversion is needed)."""
    if field.is_array or field.type.kind == "custom":
        return orjson.loads
    if field.type.kind == "scalar" and field.type.name == "Boolean":
        return bool
    if field.type.kind == "scalar" and field.type.name == "Float":
        # SQLite keeps integral REAL values as integers on disk, and `RETURNING` hands them back as
        # int (e.g. 1 for 1.0) -- so a create/update would answer `"score": 1`.
        return float
    return None


def attribute_category(field: Field) -> str:
    """DynamoDB attribute type a stored value of this field has (for `attributeType`)."""
    if field.is_array:
        return "list"
    if field.type.kind == "custom":
        return "map"
    if field.type.kind == "scalar":
        if field.type.name in ("Int", "Float", "AWSTimestamp"):
            return "number"
        if field.type.name == "Boolean":
            return "bool"
    return "string"


class Dialect:
    """SQLite spelling; a PostgreSQL dialect overrides the few expressions that differ."""

    def param(self, params: list[Any], value: Any) -> str:
        params.append(value)
        return "?"

    def list_contains(self, col: str, ph: str) -> str:
        return f"EXISTS (SELECT 1 FROM json_each({col}) WHERE value = {ph})"

    def list_contains_token(self, col: str, ph: str) -> str:
        """Membership of a JSON-encoded scalar in a compact JSON array, by text search.

        Outside a JSON string, `,"` or `["` only occur at element boundaries (inside one, a quote is
        always escaped), so `,<token>,` within `,<array body>,` matches whole elements only. Unlike
        json_each(), this is exact for strings holding NUL characters."""
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


SQLITE = Dialect()

_COMPARE = {"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_FIELD_OPS = frozenset({"eq", "ne", "lt", "le", "gt", "ge", "between", "beginsWith", "contains", "notContains",
                        "attributeExists", "attributeType", "size"})


class FilterCompiler:
    """Compiles one model's filter/condition input values into SQL."""

    def __init__(self, model: Model, dialect: Dialect = SQLITE) -> None:
        self.model = model
        self.dialect = dialect
        self.fields = {f.name: f for f in model.stored_fields()}

    def compile(self, flt: dict[str, Any] | None, params: list[Any]) -> str:
        """A two-valued SQL boolean expression; "1" for an empty filter."""
        if not flt:
            return "1"
        parts: list[str] = []
        for key, value in flt.items():
            if value is None:
                continue
            if key == "and" or key == "or":
                items = value if isinstance(value, list) else [value]
                sub = [self.compile(item, params) for item in items if item is not None]
                if sub:
                    joiner = " AND " if key == "and" else " OR "
                    parts.append("(" + joiner.join(sub) + ")")
            elif key == "not":
                parts.append(f"(NOT {self.compile(value, params)})")
            else:
                field = self.fields.get(key)
                if field is None:
                    raise InvalidFilter(f"Unable to process the filter expression: {key!r} is not a field of "
                                        f"{self.model.name}")
                if not isinstance(value, dict):
                    raise InvalidFilter(f"Unable to process the filter expression for {key!r}")
                for op, operand in value.items():
                    parts.append(self._field_op(field, op, operand, params))
        if not parts:
            return "1"
        return "(" + " AND ".join(parts) + ")"

    def _value(self, field: Field, value: Any) -> Any:
        if isinstance(value, list) or isinstance(value, dict):
            return _dumps(value)
        return value

    def _field_op(self, field: Field, op: str, operand: Any, params: list[Any]) -> str:
        d = self.dialect
        col = quote(field.name)
        if op not in _FIELD_OPS:
            raise InvalidFilter(f"Unable to process the filter expression: unknown operator {op!r}")
        if operand is None and op not in ("eq", "ne"):
            return "1"  # a null operand imposes nothing (as in cove.wire.filters)
        if op == "attributeExists":
            return f"({col} IS NOT NULL)" if operand else f"({col} IS NULL)"
        if op == "attributeType":
            if operand == "_null":
                return f"({col} IS NULL)"
            return f"({col} IS NOT NULL)" if operand == attribute_category(field) else "(0)"
        if op == "size":
            if not isinstance(operand, dict):
                raise InvalidFilter("size takes an object such as {eq: 3}")
            size_expr = d.list_length(col) if field.is_array else d.byte_length(col)
            preds = [self._compare(size_expr, sop, sval, params) if sval is not None
                     else ("0" if sop == "eq" else "1") for sop, sval in operand.items()]
            return f"({col} IS NOT NULL AND " + " AND ".join(preds or ["1"]) + ")"
        if op in ("contains", "notContains"):
            if field.is_array and isinstance(operand, str):
                expr = d.list_contains_token(col, d.param(params, _dumps(operand)))
                if op == "contains":
                    return f"({col} IS NOT NULL AND {expr})"
                return f"({col} IS NULL OR NOT ({expr}))"
            ph = d.param(params, operand)
            if field.is_array:
                expr = d.list_contains(col, ph)
            elif field.type.kind == "scalar" and isinstance(operand, str) and attribute_category(field) == "string":
                expr = d.text_contains(col, ph)
            else:
                expr = "0"
            if op == "contains":
                return f"({col} IS NOT NULL AND {expr})"
            return f"({col} IS NULL OR NOT ({expr}))"
        if field.is_array and op in ("lt", "le", "gt", "ge", "between"):
            # A list is never ordered against anything (the column holds JSON text, which would be).
            if op == "between":
                _between_bounds(operand)
            return "(0)"
        if field.is_array and not isinstance(operand, list) and operand is not None:
            # Comparing a whole list with a scalar never matches (and `ne` always does).
            return "(1)" if op == "ne" else "(0)"
        if op == "eq":
            if operand is None:
                return f"({col} IS NULL)"
            return f"({col} IS NOT NULL AND {col} = {d.param(params, self._value(field, operand))})"
        if op == "ne":
            if operand is None:
                return f"({col} IS NOT NULL)"
            return f"({col} IS NULL OR {col} <> {d.param(params, self._value(field, operand))})"
        if op == "beginsWith":
            if not isinstance(operand, str) or attribute_category(field) != "string":
                return "(0)"
            return f"({col} IS NOT NULL AND {d.begins_with(col, d.param(params, operand), d.param(params, operand))})"
        return f"({col} IS NOT NULL AND {self._compare(col, op, operand, params)})"

    def _compare(self, expr: str, op: str, operand: Any, params: list[Any]) -> str:
        d = self.dialect
        if op == "between":
            lo, hi = _between_bounds(operand)
            if lo is None or hi is None:
                return "0"  # a null bound orders nothing; `expr BETWEEN NULL AND x` would be SQL NULL
            return f"{expr} BETWEEN {d.param(params, lo)} AND {d.param(params, hi)}"
        sql_op = _COMPARE.get(op)
        if sql_op is None:
            raise InvalidFilter(f"Unable to process the filter expression: unknown operator {op!r}")
        if op == "ne":
            return f"{expr} <> {d.param(params, operand)}"
        return f"{expr} {sql_op} {d.param(params, operand)}"


def _between_bounds(operand: Any) -> tuple[Any, Any]:
    if not isinstance(operand, list) or len(operand) != 2:
        raise InvalidFilter("between takes a list of exactly two values")
    return operand[0], operand[1]
