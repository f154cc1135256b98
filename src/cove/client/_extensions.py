"""Operations beyond Amplify's model client, I/O-free: count, aggregates, sorting by any field,
batches and transactions.

Count, aggregates, ``sort_by`` and transactions call fields only a Cove server has
(``count<Models>``, ``aggregate<Models>``, ``list<Models>(sortBy:)``, ``transactWrite``). Batches are
standard GraphQL: one document of aliased ``get<Model>`` (or ``create<Model>``/``delete<Model>``)
fields, so they work against AppSync too, in one round trip.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic

from ._documents import (
    _cap,
    _selection_string,
    identifier_variables,
    mutation_variables,
    orderable_fields,
    print_document,
)
from ._http import Payload, graphql_errors
from ._operations import ModelOps, Operation, Operations, RecordT
from ._options import RequestOptions
from ._records import GraphQLError, Record, Result
from ._schema import ModelInfo
from .errors import ResponseShapeError

# Generic aliases for the model clients' signatures (in a class with a method named ``list``,
# ``list[...]`` is not the builtin).
MaybeRecords = list[RecordT | None]
ItemResults = list[Result[RecordT | None]]
RecordList = list[Record]
RecordPage = list[RecordT]

AGGREGATE_FUNCTIONS = ("count", "sum", "avg", "min", "max")
NUMERIC = frozenset({"Int", "Float", "AWSTimestamp"})
MAX_BATCH = 100          # items per batch or transaction (DynamoDB's TransactWriteItems limit)


# -- count and aggregates -------------------------------------------------------------------------

def count_operation(ops: ModelOps[Any], filter: Mapping[str, Any] | None, options: RequestOptions
                    ) -> Operation[Result[int | None]]:
    model = ops.model
    doc = print_document(f"query($filter: Model{_cap(model.name)}FilterInput) "
                         f"{{ count{_cap(model.plural_name)}(filter: $filter) }}")
    variables = {"filter": filter} if filter is not None else {}

    def shape(payload: Payload) -> Result[int | None]:
        value = _root(payload)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise ResponseShapeError(model.name, None, "an Int count", value)
        return Result(data=value, errors=graphql_errors(payload), extensions=payload.get("extensions"))

    return Operation(doc, variables, options, shape)


def aggregate_operation(ops: ModelOps[Any], function: str, field: str | None, filter: Mapping[str, Any] | None,
                        group_by: str | None, max_groups: int | None, options: RequestOptions
                        ) -> Operation[Result[Any]]:
    """``Result.data``: the value (None for sum/avg/min/max over no values), or with ``group_by`` a
    dict of group value -> value, in the groups' order (null first, then ascending)."""
    model = ops.model
    name = f"{model.name}.aggregate()"
    if function not in AGGREGATE_FUNCTIONS:
        raise ValueError(f"{name}: function must be one of {', '.join(AGGREGATE_FUNCTIONS)}, got {function!r}")
    allowed = orderable_fields(model)
    if field is None and function != "count":
        raise ValueError(f"{name}: {function} needs a field")
    if field is not None:
        if field not in allowed:
            raise ValueError(f"{name}: {field!r} is not a field of {model.name} with one scalar or enum value")
        info = model.fields.get(field)
        if function in ("sum", "avg") and (info is None or info.type_name not in NUMERIC):
            raise ValueError(f"{name}: {function} needs a numeric field (Int, Float, AWSTimestamp); "
                             f"{field!r} is {info.type_name if info else 'String'}")
    if group_by is not None and group_by not in allowed:
        raise ValueError(f"{name}: cannot group by {group_by!r}; group by one of {', '.join(allowed)}")
    m, plural = _cap(model.name), _cap(model.plural_name)
    doc = print_document(
        f"query($function: ModelAggregateFunction!, $field: Model{m}OrderableField, "
        f"$groupBy: Model{m}OrderableField, $filter: Model{m}FilterInput, $maxGroups: Int) "
        f"{{ aggregate{plural}(function: $function, field: $field, groupBy: $groupBy, filter: $filter, "
        "maxGroups: $maxGroups) { key value } }")
    variables: dict[str, Any] = {"function": function}
    for key, value in (("field", field), ("groupBy", group_by), ("filter", filter), ("maxGroups", max_groups)):
        if value is not None:
            variables[key] = value

    def shape(payload: Payload) -> Result[Any]:
        groups = _root(payload)
        data: Any = None
        if isinstance(groups, list):
            pairs = [(_json(g.get("key")), _json(g.get("value"))) for g in groups if isinstance(g, Mapping)]
            data = dict(pairs) if group_by is not None else (pairs[0][1] if pairs else None)
        elif groups is not None:
            raise ResponseShapeError(model.name, None, "a list of ModelAggregateGroup objects", groups)
        return Result(data=data, errors=graphql_errors(payload), extensions=payload.get("extensions"))

    return Operation(doc, variables, options, shape)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _root(payload: Payload) -> Any:
    data = payload.get("data")
    return next(iter(data.values())) if isinstance(data, Mapping) and data else None


def search_operation(ops: ModelOps[RecordT], query: str, filter: Mapping[str, Any] | None, limit: int | None,
                     next_token: str | None, selection_set: Sequence[str] | None, options: RequestOptions
                     ) -> Operation[Result[list[RecordT]]]:
    """``search<Models>``: the records holding every word of ``query`` in the model's searchable fields,
    best match first, as a list page (``Result.next_token``)."""
    model = ops.model
    if not model.searchable:
        raise ValueError(f"{model.name} is not searchable: declare .searchable([...fields]) on the model in the "
                         "schema")
    if not isinstance(query, str):
        raise TypeError(f"{model.name}.search() takes the query as a string")
    m, plural = _cap(model.name), _cap(model.plural_name)
    sel = _selection_string(ops.operations.documents.selection(model, selection_set))
    doc = print_document(
        f"query($query: String!, $filter: Model{m}FilterInput, $limit: Int, $nextToken: String) "
        f"{{ search{plural}(query: $query, filter: $filter, limit: $limit, nextToken: $nextToken) "
        f"{{ items {{ {sel} }} nextToken __typename }} }}")
    variables: dict[str, Any] = {"query": query}
    for key, value in (("filter", filter), ("limit", limit), ("nextToken", next_token)):
        if value is not None:
            variables[key] = value
    return Operation(doc, variables, options, ops._list_shape(selection_set is None, options))


# -- batches --------------------------------------------------------------------------------------

def _check_batch(model: ModelInfo, method: str, items: Sequence[Any]) -> None:
    if isinstance(items, (str, Mapping)) or not isinstance(items, Sequence):
        raise TypeError(f"{model.name}.{method}() takes a list")
    if not 1 <= len(items) <= MAX_BATCH:
        raise ValueError(f"{model.name}.{method}() takes 1 to {MAX_BATCH} items, got {len(items)}")


def batch_get_operation(ops: ModelOps[RecordT], keys: Sequence[Mapping[str, Any]],
                        selection_set: Sequence[str] | None, options: RequestOptions
                        ) -> Operation[Result[list[RecordT | None]]]:
    """One query of aliased ``get<Model>`` fields; ``Result.data[i]`` is the record of ``keys[i]``
    (None when it is missing or the caller may not read it)."""
    model = ops.model
    _check_batch(model, "batch_get", keys)
    idents = [identifier_variables(model, key, "batch_get") for key in keys]
    types = {k: (model.fields[k].type_name if k in model.fields else "ID") for k in idents[0]}
    sel = _selection_string(ops.operations.documents.selection(model, selection_set))
    defs, fields, variables = [], [], {}
    for i, ident in enumerate(idents):
        args = []
        for k, value in ident.items():
            defs.append(f"$k{i}_{k}: {types[k]}!")
            args.append(f"{k}: $k{i}_{k}")
            variables[f"k{i}_{k}"] = value
        fields.append(f"k{i}: get{_cap(model.name)}({', '.join(args)}) {{ {sel} }}")
    doc = print_document(f"query({', '.join(defs)}) {{ {' '.join(fields)} }}")
    lazy = selection_set is None

    def shape(payload: Payload) -> Result[list[RecordT | None]]:
        data = payload.get("data")
        errors = graphql_errors(payload)
        out: list[RecordT | None] = []
        for i in range(len(idents)):
            raw = data.get(f"k{i}") if isinstance(data, Mapping) else None
            out.append(ops.record(raw, lazy, options, partial=bool(errors)) if isinstance(raw, Mapping) else None)
        return Result(data=out, errors=errors, extensions=payload.get("extensions"))

    return Operation(doc, variables, options, shape)


def batch_write_operation(ops: ModelOps[RecordT], kind: str, items: Sequence[Mapping[str, Any]],
                          selection_set: Sequence[str] | None, options: RequestOptions
                          ) -> Operation[list[Result[RecordT | None]]]:
    """One mutation of aliased ``create<Model>`` or ``delete<Model>`` fields, each its own write (not
    a transaction): one Result per item, in order, with that item's record or errors."""
    model = ops.model
    method = f"batch_{kind}"
    _check_batch(model, method, items)
    schema = ops.operations.schema
    inputs = [mutation_variables(schema, model, kind, item)["input"] for item in items]
    sel = _selection_string(ops.operations.documents.selection(model, selection_set))
    input_type = f"{_cap(kind)}{_cap(model.name)}Input!"
    defs = [f"$i{i}: {input_type}" for i in range(len(inputs))]
    fields = [f"i{i}: {kind}{_cap(model.name)}(input: $i{i}) {{ {sel} }}" for i in range(len(inputs))]
    doc = print_document(f"mutation({', '.join(defs)}) {{ {' '.join(fields)} }}")
    lazy = selection_set is None

    def shape(payload: Payload) -> list[Result[RecordT | None]]:
        data = payload.get("data")
        errors = graphql_errors(payload)
        results: list[Result[RecordT | None]] = []
        for i in range(len(inputs)):
            alias = f"i{i}"
            mine = [e for e in errors if _path_root(e) == alias]
            if not any(_path_root(e) is not None for e in errors):
                mine = errors     # a request-level error (validation, auth) belongs to every item
            raw = data.get(alias) if isinstance(data, Mapping) else None
            record = ops.record(raw, lazy, options, partial=bool(mine)) if isinstance(raw, Mapping) else None
            results.append(Result(data=record, errors=mine, extensions=payload.get("extensions")))
        return results

    return Operation(doc, {f"i{i}": value for i, value in enumerate(inputs)}, options, shape)


def _path_root(error: GraphQLError) -> Any:
    path = error.get("path")
    return path[0] if isinstance(path, list) and path else None


# -- transactions ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class TransactItem(Generic[RecordT]):
    """One write of :meth:`Client.transact`, made by ``client.models.<Model>.create_item`` (or
    ``update_item``, ``delete_item``)."""

    kind: str                        # create update delete
    model: str
    input: Mapping[str, Any]
    condition: Mapping[str, Any] | None = None

    @property
    def field(self) -> str:
        return f"{self.kind}{_cap(self.model)}"


def transact_item(ops: ModelOps[RecordT], kind: str, data: Mapping[str, Any],
                  condition: Mapping[str, Any] | None) -> TransactItem[RecordT]:
    model = ops.model
    variables = mutation_variables(ops.operations.schema, model, kind, data)
    if condition is not None and not isinstance(condition, Mapping):
        raise TypeError(f"{model.name}.{kind}_item(): condition must be a dict like {{'done': {{'eq': False}}}}")
    return TransactItem(kind, model.name, variables["input"], condition)


def transact_operation(operations: Operations, items: Sequence[TransactItem[Any]], options: RequestOptions
                       ) -> Operation[Result[list[Record]]]:
    """``transactWrite`` with every item; ``Result.data`` the written records (deleted ones for a
    delete) in order, or an empty list with a ``DynamoDB:TransactionCanceledException`` error whose
    ``error_info["cancellationReasons"]`` has a reason per item (``"None"`` for the ones that were fine)."""
    if isinstance(items, (str, Mapping)) or not isinstance(items, Sequence):
        raise TypeError("transact() takes a list of items made by create_item/update_item/delete_item")
    if not 1 <= len(items) <= MAX_BATCH:
        raise ValueError(f"transact() takes 1 to {MAX_BATCH} items, got {len(items)}")
    for i, item in enumerate(items):
        if not isinstance(item, TransactItem):
            raise TypeError(f"transact(): item {i} is a {type(item).__name__}; make items with "
                            "client.models.<Model>.create_item(...) (or update_item, delete_item)")
    selections = {}
    for item in items:
        if item.field not in selections:
            model = operations.schema.models[item.model]
            selections[item.field] = _selection_string(operations.documents.selection(model, None))
    body = " ".join(f"{name} {{ {sel} }}" for name, sel in selections.items())
    doc = print_document(f"mutation($items: [TransactWriteItemInput!]!) {{ transactWrite(items: $items) {{ {body} }} }}")
    variables = {"items": [{item.field: {"input": dict(item.input), **(
        {"condition": dict(item.condition)} if item.condition is not None else {})}} for item in items]}

    def shape(payload: Payload) -> Result[list[Record]]:
        rows = _root(payload)
        errors = graphql_errors(payload)
        out: list[Record] = []
        if isinstance(rows, list):
            for item, row in zip(items, rows):
                raw = row.get(item.field) if isinstance(row, Mapping) else None
                if isinstance(raw, Mapping):
                    out.append(operations.model(item.model).record(raw, True, options, partial=bool(errors)))
        return Result(data=out, errors=errors, extensions=payload.get("extensions"))

    return Operation(doc, variables, options, shape)
