"""The SDL of what Cove serves beyond AppSync's generated API: count and aggregate queries per model,
search queries per searchable model, a ``sortBy`` argument on list fields, and one ``transactWrite``
mutation. All are new names or optional
arguments, so a client that knows only AppSync's (aws-amplify) sees nothing change."""

from __future__ import annotations

from .model import Model, Schema
from .naming import (
    TRANSACT_FIELD,
    TRANSACT_ITEM_INPUT,
    TRANSACT_RESULT,
    aggregate_field,
    condition_input,
    connection_type,
    count_field,
    field_enum,
    filter_input,
    mutation_field,
    search_field,
    sort_input,
    transact_input,
)

SHARED = """\
enum ModelAggregateFunction {
  count
  sum
  avg
  min
  max
}

type ModelAggregateGroup {
  key: AWSJSON
  value: AWSJSON
}
"""

# GraphQL forbids these as enum values.
_RESERVED = frozenset({"true", "false", "null"})

WRITE_OPERATIONS = ("create", "update", "delete")


def orderable_fields(model: Model) -> list[str]:
    return [f.name for f in model.stored_fields() if f.orderable and f.name not in _RESERVED]


def model_types(model: Model) -> list[str]:
    """The enum of a model's orderable fields and its sort input (when its list is served)."""
    fields = orderable_fields(model)
    if not model.operation_enabled("list") or not fields:
        return []
    values = "\n".join(f"  {name}" for name in fields)
    return [f"enum {field_enum(model)} {{\n{values}\n}}\n",
            f"input {sort_input(model)} {{\n  field: {field_enum(model)}!\n  direction: ModelSortDirection\n}}\n"]


def sort_argument(model: Model) -> list[str]:
    """The list field's extra argument."""
    if not orderable_fields(model):
        return []
    return [f"sortBy: [{sort_input(model)}!]"]


def query_fields(schema: Schema, model: Model, directives: str) -> list[str]:
    """The model's count, search and aggregate fields; a custom query of the same name wins."""
    if not model.operation_enabled("list"):
        return []
    lines = []
    if count_field(model) not in schema.queries:
        lines.append(f"  {count_field(model)}(filter: {filter_input(model)}): Int {directives}")
    if model.searchable and search_field(model) not in schema.queries:
        lines.append(f"  {search_field(model)}(query: String!, filter: {filter_input(model)}, limit: Int, "
                     f"nextToken: String): {connection_type(model.name)} {directives}")
    if orderable_fields(model) and aggregate_field(model) not in schema.queries:
        enum = field_enum(model)
        lines.append(f"  {aggregate_field(model)}(function: ModelAggregateFunction!, field: {enum}, groupBy: {enum}, "
                     f"filter: {filter_input(model)}, maxGroups: Int): [ModelAggregateGroup!] {directives}")
    return lines


def writable(model: Model) -> list[str]:
    return [op for op in WRITE_OPERATIONS if model.operation_enabled(op)]


def transact_sdl(schema: Schema) -> tuple[list[str], str | None]:
    """The transaction's input and result types, and its mutation line (None without writable models)."""
    types: list[str] = []
    item_fields: list[str] = []
    result_fields: list[str] = []
    for model in schema.models.values():
        for op in writable(model):
            name = transact_input(op, model)
            types.append(f"input {name} {{\n  input: {op[:1].upper() + op[1:]}{model.name}Input!\n"
                         f"  condition: {condition_input(model)}\n}}\n")
            item_fields.append(f"  {mutation_field(op, model)}: {name}")
            result_fields.append(f"  {mutation_field(op, model)}: {model.name}")
    if not item_fields or TRANSACT_FIELD in schema.mutations:
        return [], None
    types.append(f"input {TRANSACT_ITEM_INPUT} {{\n" + "\n".join(item_fields) + "\n}\n")
    types.append(f"type {TRANSACT_RESULT} {{\n" + "\n".join(result_fields) + "\n}\n")
    return types, f"  {TRANSACT_FIELD}(items: [{TRANSACT_ITEM_INPUT}!]!): [{TRANSACT_RESULT}!]"
