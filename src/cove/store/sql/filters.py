"""AppSync filter and condition inputs -> one SQL boolean expression, through a Dialect.

Every predicate is written to be two-valued (never SQL NULL), so `not` behaves like DynamoDB's NOT
and matches ``cove.wire.filters.matches`` exactly; the store contract suite cross-checks the two.
"""

from __future__ import annotations

from typing import Any

from cove.schema.model import Field, Model

from ..base import InvalidFilter
from .codecs import attribute_category, dumps
from .dialect import Dialect

NUL = "\x00"
_COMPARE = {"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_FIELD_OPS = frozenset({"eq", "ne", "lt", "le", "gt", "ge", "between", "beginsWith", "contains", "notContains",
                        "attributeExists", "attributeType", "size"})


class FilterCompiler:
    """Compiles one model's filter/condition input values into SQL."""

    def __init__(self, model: Model, dialect: Dialect) -> None:
        self.model = model
        self.dialect = dialect
        self.fields = {f.name: f for f in model.stored_fields()}
        self._never = f"({dialect.false})"
        self._always = f"({dialect.true})"

    def compile(self, flt: dict[str, Any] | None, params: list[Any]) -> str:
        """A two-valued SQL boolean expression; the dialect's true for an empty filter."""
        if not flt:
            return self.dialect.true
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
            return self.dialect.true
        return "(" + " AND ".join(parts) + ")"

    def _value(self, value: Any) -> Any:
        if isinstance(value, list) or isinstance(value, dict):
            return dumps(value)
        return value

    def _field_op(self, field: Field, op: str, operand: Any, params: list[Any]) -> str:
        d = self.dialect
        col = d.quote(field.name)
        if op not in _FIELD_OPS:
            raise InvalidFilter(f"Unable to process the filter expression: unknown operator {op!r}")
        if operand is None and op not in ("eq", "ne"):
            return d.true  # a null operand imposes nothing (as in cove.wire.filters)
        if op == "attributeExists":
            return f"({col} IS NOT NULL)" if operand else f"({col} IS NULL)"
        if op == "attributeType":
            if operand == "_null":
                return f"({col} IS NULL)"
            return f"({col} IS NOT NULL)" if operand == attribute_category(field) else self._never
        if op == "size":
            return self._size(field, col, operand, params)
        if not d.text_holds_nul and not field.is_array and _holds_nul(operand):
            return self._nul_operand(field, col, op, operand, params)
        if op in ("contains", "notContains"):
            return self._contains(field, col, op, operand, params)
        if field.is_array and op in ("lt", "le", "gt", "ge", "between"):
            # A list is never ordered against anything (the column holds JSON text, which would be).
            if op == "between":
                _between_bounds(operand)
            return self._never
        if field.is_array and not isinstance(operand, list) and operand is not None:
            # Comparing a whole list with a scalar never matches (and `ne` always does).
            return self._always if op == "ne" else self._never
        compared = d.compared(field, col)
        if op == "eq":
            if operand is None:
                return f"({col} IS NULL)"
            return f"({col} IS NOT NULL AND {compared} = {d.operand(params, self._value(operand))})"
        if op == "ne":
            if operand is None:
                return f"({col} IS NOT NULL)"
            return f"({col} IS NULL OR {compared} <> {d.operand(params, self._value(operand))})"
        if op == "beginsWith":
            if not isinstance(operand, str) or attribute_category(field) != "string":
                return self._never
            prefix = d.begins_with(col, d.operand(params, operand), d.operand(params, operand))
            return f"({col} IS NOT NULL AND {prefix})"
        return f"({col} IS NOT NULL AND {self._compare(compared, op, operand, params)})"

    def _nul_operand(self, field: Field, col: str, op: str, operand: Any, params: list[Any]) -> str:
        """A text operand holding U+0000 on a database whose text cannot hold it (so no stored value
        does). No value equals, starts with or contains it; ordering against ``p + NUL + rest`` is
        ordering against ``p`` (a stored value starting with ``p`` and longer is greater, since its
        next character is above NUL), which keeps the Python evaluator's exact semantics."""
        d = self.dialect
        if op in ("eq", "beginsWith", "contains"):
            return self._never
        if op in ("ne", "notContains"):
            return self._always
        if attribute_category(field) != "string":
            return self._never   # a string is never ordered against a number or a bool

        def bound(value: Any, above: bool) -> str:
            if isinstance(value, str) and NUL in value:
                cmp = ">" if above else "<="
                return f"{col} {cmp} {d.operand(params, value.partition(NUL)[0])}"
            return f"{col} {'>=' if above else '<='} {d.operand(params, value)}"

        if op == "between":
            lo, hi = _between_bounds(operand)
            if lo is None or hi is None:
                return self._never
            return f"({col} IS NOT NULL AND {bound(lo, True)} AND {bound(hi, False)})"
        if op in ("gt", "ge"):
            return f"({col} IS NOT NULL AND {bound(operand, True)})"
        if op in ("lt", "le"):
            return f"({col} IS NOT NULL AND {bound(operand, False)})"
        raise InvalidFilter(f"Unable to process the filter expression: unknown operator {op!r}")

    def _size(self, field: Field, col: str, operand: Any, params: list[Any]) -> str:
        d = self.dialect
        if not isinstance(operand, dict):
            raise InvalidFilter("size takes an object such as {eq: 3}")
        size_expr = d.list_length(col) if field.is_array else d.byte_length(col)
        preds = []
        for size_op, size_value in operand.items():
            if size_value is not None:
                preds.append(self._compare(size_expr, size_op, size_value, params))
            else:
                preds.append(d.false if size_op == "eq" else d.true)
        return f"({col} IS NOT NULL AND " + " AND ".join(preds or [d.true]) + ")"

    def _contains(self, field: Field, col: str, op: str, operand: Any, params: list[Any]) -> str:
        d = self.dialect
        if field.is_array and isinstance(operand, str):
            expr = d.list_contains_token(col, d.operand(params, dumps(operand)))
        else:
            ph = d.operand(params, operand)
            if field.is_array:
                expr = d.list_contains(col, ph)
            elif field.type.kind == "scalar" and isinstance(operand, str) and attribute_category(field) == "string":
                expr = d.text_contains(col, ph)
            else:
                expr = d.false
        if op == "contains":
            return f"({col} IS NOT NULL AND {expr})"
        return f"({col} IS NULL OR NOT ({expr}))"

    def _compare(self, expr: str, op: str, operand: Any, params: list[Any]) -> str:
        d = self.dialect
        if op == "between":
            lo, hi = _between_bounds(operand)
            if lo is None or hi is None:
                return d.false  # a null bound orders nothing; `expr BETWEEN NULL AND x` would be SQL NULL
            return f"{expr} BETWEEN {d.operand(params, lo)} AND {d.operand(params, hi)}"
        sql_op = _COMPARE.get(op)
        if sql_op is None:
            raise InvalidFilter(f"Unable to process the filter expression: unknown operator {op!r}")
        return f"{expr} {sql_op} {d.operand(params, operand)}"


def _holds_nul(operand: Any) -> bool:
    """A text operand (or a between's bound) holding U+0000."""
    if isinstance(operand, str):
        return "\x00" in operand
    return isinstance(operand, list) and any(isinstance(v, str) and "\x00" in v for v in operand)


def _between_bounds(operand: Any) -> tuple[Any, Any]:
    if not isinstance(operand, list) or len(operand) != 2:
        raise InvalidFilter("between takes a list of exactly two values")
    return operand[0], operand[1]
