"""The typed client's methods beyond Amplify's: ``count``, ``aggregate`` (overloaded so ``sum``/``avg``
take only numeric fields), batches and transaction items. ``sort_by`` is in python_client.py's list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from cove.client._extensions import NUMERIC
from cove.client._schema import ModelInfo

from ._annotations import literal_type
from ._names import CALL_OPTIONS


class Emitter(Protocol):
    """What these need of the generator (python_client's, without importing it)."""

    def emit(self, *lines: str) -> None: ...
    def method(self, def_keyword: str, name: str, params: Sequence[str], returns: str, doc: str) -> None: ...


def emit_reads(g: Emitter, model: ModelInfo, def_keyword: str, rec: str, lst: str, filt: str, selection: str,
               orderable: list[str]) -> None:
    """count, aggregate (a Cove server's; overloaded: sum/avg take only numeric fields, min/max any
    orderable one) and search (searchable models only)."""
    g.method(def_keyword, "count", ["*", filt, CALL_OPTIONS], "_cc.Result[int | None]",
             f"How many {model.name} records match ``filter`` (of those the caller may read).")
    if model.searchable:
        g.method(def_keyword, "search", ["query: str", "/", "*", filt, "limit: int | None = None",
                                         "next_token: str | None = None", selection, CALL_OPTIONS],
                 f"_cc.Result[{lst}[{rec}]]",
                 f"{model.name} records holding every word of ``query`` in {', '.join(model.searchable)}, best first.")
    if not orderable:
        return
    any_field = literal_type(orderable)
    numeric = [f.name for f in model.fields.values()
               if f.kind == "scalar" and f.type_name in NUMERIC and not f.is_array and f.name in orderable]
    variants = [("_t.Literal['count']", f"field: {any_field} | None = None", "int | None", "int")]
    if numeric:
        variants.append(("_t.Literal['sum', 'avg']", f"field: {literal_type(numeric)}", "float | None", "float | None"))
    variants.append(("_t.Literal['min', 'max']", f"field: {any_field}", "_t.Any", "_t.Any"))
    for function, field, single, grouped in variants:
        head = [f"function: {function}", field, "/", "*", filt]
        tail = ["max_groups: int | None = None", CALL_OPTIONS]
        overload(g, def_keyword, "aggregate", [*head, "group_by: None = None", *tail], f"_cc.Result[{single}]")
        overload(g, def_keyword, "aggregate", [*head, f"group_by: {any_field}", *tail],
                 f"_cc.Result[dict[_t.Any, {grouped}]]")


def emit_writes(g: Emitter, model: ModelInfo, def_keyword: str, rec: str, ident: str, selection: str, lst: str) -> None:
    """Batches (aliased fields: any AppSync API) and transaction items (a Cove server's)."""
    m = model.name
    seq = "_abc.Sequence"
    condition = f"condition: {m}Filter | None = None"
    item = f"_cc.TransactItem[{rec}]"
    results = f"{lst}[_cc.Result[{rec} | None]]"
    if model.enabled("get"):
        g.method(def_keyword, "batch_get", [f"keys: {seq}[{ident}]", "/", "*", selection, CALL_OPTIONS],
                 f"_cc.Result[{lst}[{rec} | None]]", f"Up to 100 {m} records by identifier, in one request.")
    if model.enabled("create"):
        g.method(def_keyword, "batch_create", [f"items: {seq}[{m}CreateInput]", "/", "*", selection, CALL_OPTIONS],
                 results, "Up to 100 creates in one request; a Result per item.")
        g.method("def", "create_item", [f"data: {m}CreateInput", "/", "*", condition], item,
                 "A create for ``client.transact([...])``.")
    if model.enabled("update"):
        g.method("def", "update_item", [f"data: {m}UpdateInput", "/", "*", condition], item,
                 "An update for ``client.transact([...])``.")
    if model.enabled("delete"):
        g.method(def_keyword, "batch_delete", [f"keys: {seq}[{ident}]", "/", "*", selection, CALL_OPTIONS],
                 results, "Up to 100 deletes in one request; a Result per item.")
        g.method("def", "delete_item", [f"identifier: {ident}", "/", "*", condition], item,
                 "A delete for ``client.transact([...])``.")


def overload(g: Emitter, def_keyword: str, name: str, params: Sequence[str], returns: str) -> None:
    """One ``@overload`` of a Protocol method (a Protocol needs no implementation)."""
    g.emit("    @_t.overload")
    line = f"    {def_keyword} {name}({', '.join(['self', *params])}) -> {returns}: ..."
    if len(line) <= 110:
        g.emit(line)
    else:
        g.emit(f"    {def_keyword} {name}(", *(f"        {p}," for p in ["self", *params]), f"    ) -> {returns}: ...")
