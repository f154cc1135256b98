"""Aggregate statements (count, sum, avg, min, max, optionally grouped) and transaction items, built
through the layout's Dialect; the backends only execute them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cove.schema.model import NUMERIC, Field
from cove.wire.filters import matches

from ..base import AGGREGATE_FUNCTIONS, AggregateGroup, AggregateRequest, InvalidFilter, TooManyGroups
from ..base import TransactItem
from .layout import Layout
from .queries import Statement, delete, update

# Group rows are few by construction (max_groups); this bounds what a caller may ask for.
MAX_GROUPS = 1000


def _field(lay: Layout, name: str, role: str) -> Field:
    model = lay.model
    f = next((f for f in model.stored_fields() if f.name == name), None)
    if f is None:
        raise InvalidFilter(f"{name!r} is not a stored field of {model.name} ({role})")
    return f


def check(lay: Layout, request: AggregateRequest) -> tuple[Field | None, Field | None]:
    """The aggregated and the grouping field, after checking the request fits the model."""
    function = request.function
    if function not in AGGREGATE_FUNCTIONS:
        raise InvalidFilter(f"unknown aggregate function {function!r}; use one of {', '.join(AGGREGATE_FUNCTIONS)}")
    if not 1 <= request.max_groups <= MAX_GROUPS:
        raise InvalidFilter(f"max_groups must be between 1 and {MAX_GROUPS}, got {request.max_groups}")
    field = None
    if request.field is not None:
        field = _field(lay, request.field, f"the field of {function}")
        if function in ("sum", "avg") and not (field.type.kind == "scalar" and field.type.name in NUMERIC
                                               and not field.is_array):
            raise InvalidFilter(f"{function} needs a numeric field; {lay.model.name}.{field.name} is "
                                f"{field.graphql_type}")
        if function in ("min", "max") and not field.orderable:
            raise InvalidFilter(f"{function} needs a field with one scalar or enum value; "
                                f"{lay.model.name}.{field.name} is {field.graphql_type}")
    elif function != "count":
        raise InvalidFilter(f"{function} needs a field")
    group = None
    if request.group_by is not None:
        group = _field(lay, request.group_by, "group_by")
        if not group.orderable:
            raise InvalidFilter(f"{lay.model.name} cannot be grouped by {group.name!r}: group by a field holding "
                                "one scalar or enum value")
    return field, group


def aggregate(lay: Layout, request: AggregateRequest) -> Statement:
    """``SELECT [group,] f(col) FROM t WHERE filter [GROUP BY group ORDER BY group LIMIT n + 1]``."""
    d = lay.dialect
    field, group = check(lay, request)
    column = d.quote(field.name) if field is not None else "*"
    value = f"{request.function}({column})"
    if request.function == "avg":
        value = f"avg(CAST({column} AS {d.float_type}))"   # PostgreSQL's avg of integers is numeric
    elif field is not None and request.function in ("min", "max") and field.type.name == "Boolean":
        value = d.boolean_extreme(request.function == "max", column)
    params: list[Any] = []
    where = lay.filters.compile(request.filter, params) if request.filter else None
    select = f"SELECT {d.quote(group.name)}, {value}" if group is not None else f"SELECT {value}"
    sql = f"{select} FROM {lay.table}"
    if where:
        sql += f" WHERE {where}"
    if group is not None:
        g = d.quote(group.name)
        sql += f" GROUP BY {g} ORDER BY {d.order_term(g, False)} LIMIT {d.param(params, request.max_groups + 1)}"
    return sql, params


def groups(lay: Layout, request: AggregateRequest, rows: list[Any]) -> list[AggregateGroup]:
    """The statement's rows as groups, values in the field's Python type (count an int, avg a float)."""
    field, group = check(lay, request)
    if group is not None and len(rows) > request.max_groups:
        raise TooManyGroups(f"{lay.model.name} has more than {request.max_groups} groups of {group.name}; "
                            "narrow the filter or raise max_groups")
    convert = _converter(lay, request.function, field)
    key_of = _decoder(lay, group) if group is not None else None
    if group is None:
        return [AggregateGroup(None, convert(rows[0][0]) if rows else convert(None))]
    return [AggregateGroup(row[0] if row[0] is None or key_of is None else key_of(row[0]), convert(row[1]))
            for row in rows]


def _decoder(lay: Layout, field: Field) -> Callable[[Any], Any] | None:
    return lay.dialect.decoder(field)


def _converter(lay: Layout, function: str, field: Field | None) -> Callable[[Any], Any]:
    if function == "count":
        return lambda v: int(v or 0)
    if function == "avg":
        return lambda v: None if v is None else float(v)
    assert field is not None
    if function == "sum":
        number = int if field.type.name in ("Int", "AWSTimestamp") else float
        return lambda v: None if v is None else number(v)
    decode = _decoder(lay, field)
    return lambda v: v if v is None or decode is None else decode(v)


def transact_statement(lay: Layout, item: TransactItem) -> Statement | None:
    """The item's statement, RETURNING the row written, none when its condition fails or (a create)
    its key exists; None when it fails without running: a missing record, or a create's condition,
    which DynamoDB evaluates against the absent record."""
    if item.failed:
        return None
    if item.kind == "update":
        return update(lay, item.key, item.values, item.condition)
    if item.kind == "delete":
        return delete(lay, item.key, item.condition)
    if item.kind != "create":
        raise InvalidFilter(f"unknown transaction item kind {item.kind!r}")
    if item.condition and not matches(item.condition, {}, lay.list_fields):
        return None
    cols, params = lay.encode_values(item.values)
    sql = lay.insert_sql(cols)
    head, _, returning = sql.partition(" RETURNING ")
    return f"{head} ON CONFLICT DO NOTHING RETURNING {returning}", params
