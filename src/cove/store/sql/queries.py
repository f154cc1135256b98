"""Every statement on a model's records, built through the layout's Dialect: the backends only execute.

Lists order by their key columns and page by seeking past the last row's values (no OFFSET), asking
for one row more than the limit to know whether a next page exists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import Any

from cove.schema.model import Model, SecondaryIndex

from ..base import InvalidFilter, InvalidNextToken, KeyCondition, ListRequest, Page, Record, RelatedRequest
from .dialect import Dialect
from .layout import Layout
from .tokens import NextTokens, token_scope

Statement = tuple[str, list[Any]]


@dataclass
class ListStatement:
    """A list query and what turning its rows into a page needs."""

    sql: str
    params: list[Any]
    order_columns: list[str]
    limit: int
    model: Model
    index: SecondaryIndex | None
    descending: bool
    sort: tuple[tuple[str, bool], ...] = ()

    def scope(self) -> bytes:
        """What the page's next token is bound to."""
        return token_scope(self.model, self.index, self.descending, self.sort)


def get_many(lay: Layout, keys: Sequence[tuple[Any, ...]]) -> Statement:
    """The records with these (distinct) primary-key tuples."""
    d = lay.dialect
    if d.array_params:
        return _get_many_arrays(lay, keys)
    params: list[Any] = []
    if d.positional_params and len(keys) <= 256:   # the text depends only on how many keys: kept per count
        sql = lay.get_many_sql.get(len(keys))
        if sql is None:
            sql = lay.get_many_sql[len(keys)] = _get_many_sql(lay, keys, [])
        for key in keys:
            params += key
        return sql, params
    return _get_many_sql(lay, keys, params), params


def _get_many_sql(lay: Layout, keys: Sequence[tuple[Any, ...]], params: list[Any]) -> str:
    d = lay.dialect
    if len(lay.identifier) == 1:
        return f"{lay.select} WHERE {d.quote(lay.identifier[0])} IN ({d.params(params, [k[0] for k in keys])})"
    rows = [f"({d.params(params, key)})" for key in keys]
    columns = ", ".join(d.quote(c) for c in lay.identifier)
    return f"{lay.select} WHERE ({columns}) IN ({d.row_values(rows)})"


def _get_many_arrays(lay: Layout, keys: Sequence[tuple[Any, ...]]) -> Statement:
    """The key set as one array per key column: ``id = ANY($1)``, or ``(a, b) IN (SELECT * FROM
    unnest($1, $2))``; one statement text whatever the number of keys."""
    d = lay.dialect
    params: list[Any] = []
    arrays = [f"{d.param(params, list(column))}::{d.array_type(lay.fields[name])}"
              for name, column in zip(lay.identifier, zip(*keys, strict=True), strict=True)]
    if len(arrays) == 1:
        return f"{lay.select} WHERE {d.quote(lay.identifier[0])} = ANY({arrays[0]})", params
    columns = ", ".join(d.quote(c) for c in lay.identifier)
    return f"{lay.select} WHERE ({columns}) IN (SELECT * FROM unnest({', '.join(arrays)}))", params


def update(lay: Layout, key: dict[str, Any], changes: Record, condition: dict[str, Any] | None) -> Statement:
    encode = lay.encode
    params = [encode(c, v) for c, v in changes.items()]
    params += lay.key_values(key)
    sql = lay.update_sql(tuple(changes))
    if condition:
        sql += " AND " + lay.filters.compile(condition, params)
    return sql + lay.returning, params


def delete(lay: Layout, key: dict[str, Any], condition: dict[str, Any] | None) -> Statement:
    params = lay.key_values(key)
    where = lay.key_where
    if condition:
        where += " AND " + lay.filters.compile(condition, params)
    return f"DELETE FROM {lay.table} WHERE {where}{lay.returning}", params


def list_records(lay: Layout, request: ListRequest, tokens: NextTokens) -> ListStatement:
    d = lay.dialect
    model = request.model
    params: list[Any] = []
    where: list[str] = []
    if request.filter:
        where.append(lay.filters.compile(request.filter, params))
    for col, value in request.extra_equals.items():
        where.append(f"{d.quote(col)} = {d.param(params, value)}")
    if request.index is not None:
        order_cols = [*request.index.sort_keys, *model.identifier]
        for col in (request.index.partition_key, *request.index.sort_keys):
            where.append(f"{d.quote(col)} IS NOT NULL")  # sparse, like a GSI
    else:
        order_cols = list(model.identifier)
    kc = request.key_condition
    if kc is not None:
        where.append(f"{d.quote(kc.partition_key)} = {d.param(params, kc.partition_value)}")
        if kc.sort_condition:
            where.append(sort_condition(d, kc, params))
        if request.index is None:
            order_cols = list(model.sort_keys) + [model.primary_key]
    if request.sort:
        return _sorted_list(lay, request, tokens, where, params)
    if request.next_token:
        last = tokens.read(request.next_token, token_scope(model, request.index, request.descending))
        where.append(_seek(d, order_cols, last, request.descending, params))
    sql = lay.select
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY " + _order(d, order_cols, request.descending)
    sql += f" LIMIT {d.param(params, request.limit + 1)}"
    return ListStatement(sql, params, order_cols, request.limit, model, request.index, request.descending)


def _sorted_list(lay: Layout, request: ListRequest, tokens: NextTokens, where: list[str],
                 params: list[Any]) -> ListStatement:
    """A list ordered by ``request.sort`` then the primary key (in the last sort field's direction,
    so one index holding the sort field, whose entries end with the key, serves the whole order)."""
    d = lay.dialect
    model = request.model
    fields = {f.name: f for f in model.stored_fields()}
    for key in request.sort:
        f = fields.get(key.field)
        if f is None or not f.orderable:
            raise InvalidFilter(f"{model.name} cannot be sorted by {key.field!r}: sort by a stored field holding "
                                "one scalar or enum value")
    order = [(k.field, k.descending) for k in request.sort]
    tie = request.sort[-1].descending
    order += [(k, tie) for k in model.identifier if k not in {name for name, _ in order}]
    spec = tuple(order)
    if request.next_token:
        last = tokens.read(request.next_token, token_scope(model, request.index, False, spec))
        if len(last) != len(order):
            raise InvalidNextToken("Invalid nextToken: it does not belong to this query")
        where.append(_seek_sorted(lay, order, last, params))
    sql = lay.select
    if where:
        sql += " WHERE " + " AND ".join(where)
    never_null = {f.name for f in model.stored_fields() if f.required and not f.is_array} | set(model.identifier)
    sql += " ORDER BY " + ", ".join(d.order_term(d.quote(c), desc, c not in never_null) for c, desc in order)
    sql += f" LIMIT {d.param(params, request.limit + 1)}"
    return ListStatement(sql, params, [c for c, _ in order], request.limit, model, request.index, False, spec)


def _seek_sorted(lay: Layout, order: list[tuple[str, bool]], last: list[Any], params: list[Any]) -> str:
    """The rows after ``last`` in ``order``, where a null is smaller than any value. Ascending with no
    null in ``last`` is one row-value comparison (a row whose column is null compares as unknown and is
    left out, rightly: it sorts earlier); otherwise the expanded form: for some i, equal on the
    first i columns and after on the i-th."""
    d = lay.dialect
    values = [lay.encode(c, v) for (c, _), v in zip(order, last)]
    if not any(desc for _, desc in order) and None not in values:
        return f"({', '.join(d.quote(c) for c, _ in order)}) > ({d.params(params, values)})"
    alternatives = []
    for i, (col, desc) in enumerate(order):
        value = values[i]
        if value is None and desc:
            continue              # null is the smallest value: nothing sorts after it, descending
        # Placeholders in text order (positional dialects): the equalities first, then the step.
        parts = [f"{d.quote(c)} IS NULL" if v is None else f"{d.quote(c)} = {d.param(params, v)}"
                 for (c, _), v in zip(order[:i], values[:i])]
        q = d.quote(col)
        if value is None:
            parts.append(f"{q} IS NOT NULL")
        elif desc:
            parts.append(f"({q} < {d.param(params, value)} OR {q} IS NULL)")
        else:
            parts.append(f"{q} > {d.param(params, value)}")
        alternatives.append("(" + " AND ".join(parts) + ")")
    return "(" + " OR ".join(alternatives or [d.false]) + ")"


def list_related(lay: Layout, request: RelatedRequest) -> ListStatement:
    """The first ``limit + 1`` rows of every parent's list: a UNION ALL of one ``... WHERE ref = ?
    ORDER BY key LIMIT n`` per parent. Each branch walks the reference index and stops after its
    page; ``ROW_NUMBER() OVER (PARTITION BY ref ...)`` over ``ref IN (...)`` would read and number
    every child of every parent first (4 to 5 times slower for 20 parents of 50 children, and worse
    the more children a parent has). ``request.parents`` must not be empty."""
    d = lay.dialect
    if d.array_params:
        return _list_related_lateral(lay, request)
    model = request.model
    order = _order(d, list(model.identifier), request.descending)
    params: list[Any] = []

    def branch(parent: tuple[Any, ...]) -> str:
        where = " AND ".join(f"{d.quote(c)} = {d.param(params, v)}" for c, v in zip(request.references, parent))
        if request.filter:
            where += " AND " + lay.filters.compile(request.filter, params)
        limit = d.param(params, request.limit + 1)
        return f"SELECT * FROM ({lay.select} WHERE {where} ORDER BY {order} LIMIT {limit}) AS _cove_page"

    if d.positional_params:   # placeholders carry no number: one branch's text serves every parent
        first = branch(request.parents[0])
        per_parent = params[len(request.references):]   # the filter's values and the limit
        for parent in request.parents[1:]:
            params += [*parent, *per_parent]
        sql = " UNION ALL ".join([first] * len(request.parents))
    else:
        sql = " UNION ALL ".join([branch(parent) for parent in request.parents])
    return ListStatement(sql, params, list(model.identifier), request.limit, model, None, request.descending)


def _list_related_lateral(lay: Layout, request: RelatedRequest) -> ListStatement:
    """The same pages for a dialect that binds arrays: the parent keys unnested (with their position),
    each joined LATERAL to its own ``... ORDER BY key LIMIT n`` (a walk of the reference index that
    stops after the page, as each UNION ALL branch does), in the parents' order. One statement text
    whatever the number of parents, so it is prepared once."""
    d = lay.dialect
    model = request.model
    params: list[Any] = []
    names = [f"_cove_ref{i}" for i in range(len(request.references))]
    arrays = ", ".join(f"{d.param(params, [parent[i] for parent in request.parents])}::"
                       f"{d.array_type(lay.fields[column])}" for i, column in enumerate(request.references))
    where = " AND ".join(f"{d.quote(c)} = _cove_keys.{n}" for c, n in zip(request.references, names, strict=True))
    if request.filter:
        where += " AND " + lay.filters.compile(request.filter, params)
    limit = d.param(params, request.limit + 1)
    direction = "DESC" if request.descending else "ASC"
    inner = _order(d, list(model.identifier), request.descending)
    outer = ", ".join(f"_cove_page.{d.quote(c)} {direction}" for c in model.identifier)
    sql = (f"SELECT _cove_page.* FROM unnest({arrays}) WITH ORDINALITY AS _cove_keys({', '.join(names)}, _cove_n) "
           f"CROSS JOIN LATERAL ({lay.select} WHERE {where} ORDER BY {inner} LIMIT {limit}) AS _cove_page "
           f"ORDER BY _cove_keys._cove_n, {outer}")
    return ListStatement(sql, params, list(model.identifier), request.limit, model, None, request.descending)


def page(statement: ListStatement, rows: Sequence[Any], decode: Callable[[Any], Record], tokens: NextTokens) -> Page:
    """One page from the (up to ``limit + 1``) rows of a list statement; the extra row only says that
    a next page exists, so it is not decoded."""
    limit = statement.limit
    if len(rows) <= limit:
        return Page([decode(row) for row in rows], None)
    items = [decode(row) for row in rows[:limit]]
    token = None
    if items:
        token = tokens.make([items[-1][c] for c in statement.order_columns], statement.scope())
    return Page(items, token)


def related_pages(statement: ListStatement, request: RelatedRequest, rows: list[tuple[Any, ...]],
                  lay: Layout, tokens: NextTokens) -> dict[tuple[Any, ...], Page]:
    """A list_related statement's rows as one page per parent that has any; only the rows of a page
    are decoded (each branch's rows come together, in its order)."""
    single = len(request.references) == 1
    parent_of = itemgetter(*[lay.columns.index(c) for c in request.references])
    runs: dict[Any, list[tuple[Any, ...]]] = {}
    for parent, run in groupby(rows, key=parent_of):
        runs.setdefault(parent, []).extend(run)
    limit, decode, order = statement.limit, lay.decode, statement.order_columns
    scope = statement.scope() if any(len(found) > limit for found in runs.values()) else b""
    pages = {}
    for parent, found in runs.items():
        items = [decode(row) for row in found[:limit]]
        token = None
        if len(found) > limit and items:
            token = tokens.make([items[-1][c] for c in order], scope)
        pages[(parent,) if single else parent] = Page(items, token)
    return pages


def _order(d: Dialect, columns: list[str], descending: bool) -> str:
    direction = "DESC" if descending else "ASC"
    return ", ".join(f"{d.quote(c)} {direction}" for c in columns)


def _seek(d: Dialect, columns: list[str], last: list[Any], descending: bool, params: list[Any]) -> str:
    if len(last) != len(columns):
        raise InvalidNextToken("Invalid nextToken: it does not belong to this query")
    cmp = "<" if descending else ">"
    return f"({', '.join(d.quote(c) for c in columns)}) {cmp} ({d.params(params, last)})"


def sort_condition(d: Dialect, kc: KeyCondition, params: list[Any]) -> str:
    """The sort-key part of a key condition. DynamoDB keeps a composite sort key as one `a#b` string;
    conditions on it apply to that string."""
    cond = kc.sort_condition or {}
    if len(kc.sort_keys) == 1:
        expr = d.quote(kc.sort_keys[0])
        composite = False
    else:
        expr = "(" + d.concat(_joined([d.as_text(d.quote(k)) for k in kc.sort_keys], d.quote_literal("#"))) + ")"
        composite = True

    def value(v: Any) -> Any:
        return _composite_value(kc, v) if composite else v

    out = []
    for op, operand in cond.items():
        if operand is None:
            continue
        if op == "between":
            if not isinstance(operand, list) or len(operand) != 2:
                raise InvalidFilter("between takes a list of exactly two values")
            out.append(f"{expr} BETWEEN {d.param(params, value(operand[0]))} AND {d.param(params, value(operand[1]))}")
        elif op == "beginsWith":
            prefix = value(operand)
            out.append(d.text_prefix(expr, d.param(params, prefix), d.param(params, prefix)))
        else:
            sql_op = _KEY_COMPARE.get(op)
            if sql_op is None:
                raise InvalidFilter(f"unknown key condition operator {op!r}")
            out.append(f"{expr} {sql_op} {d.param(params, value(operand))}")
    return "(" + " AND ".join(out or [d.true]) + ")"


_KEY_COMPARE = {"eq": "=", "le": "<=", "lt": "<", "ge": ">=", "gt": ">"}


def _joined(parts: list[str], separator: str) -> list[str]:
    out: list[str] = []
    for part in parts:
        if out:
            out.append(separator)
        out.append(part)
    return out


def _composite_value(kc: KeyCondition, v: Any) -> str:
    if not isinstance(v, dict):
        raise InvalidFilter("a composite sort-key condition takes an object of its key fields")
    parts = []
    for k in kc.sort_keys:
        if k not in v or v[k] is None:
            break
        parts.append(str(v[k]).lower() if isinstance(v[k], bool) else str(v[k]))
    return "#".join(parts)

