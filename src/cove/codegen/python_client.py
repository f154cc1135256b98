"""``cove generate client``: a typed Python client module from a model introspection schema (MIS).

The MIS alone drives generation, so the same generator serves a schema written in Python (through
``to_mis``) and the ``amplify_outputs.json`` of any Amplify Gen 2 backend, e.g. one written in
TypeScript and deployed on AWS.

What the module holds, for a model ``Todo`` (see the README's "Typed client" section):

- ``TodoFields`` (a :class:`~cove.client.Record` subclass declaring every field with its Python
  type), ``Todo`` (adds the sync client's relationship loaders) and ``AsyncTodo`` (the async
  client's, returning coroutines);
- ``TypedDict`` inputs: ``TodoCreateInput`` (required fields required, read-only fields absent),
  ``TodoUpdateInput`` (identifier required, read-only fields absent), ``TodoIdentifier``,
  ``TodoFilter`` (per-field operators; also observe_query's) and ``TodoSubscriptionFilter``;
- ``TodoModelClient`` / ``AsyncTodoModelClient``: Protocols describing ``client.models.Todo`` with
  precise signatures (index queries included);
- enums as ``Literal`` aliases, custom types as Record subclasses plus ``<Type>Input``
  TypedDicts, custom queries and mutations with ``<Op>Arguments`` TypedDicts;
- ``Client`` / ``AsyncClient``: subclasses of the runtime clients whose ``models``, ``queries``,
  ``mutations`` and ``enums`` have those types and whose records are those classes, and
  ``generate_client()`` / ``generate_async_client()``.

The module is a static overlay on the runtime client: at run time ``client.models.Todo`` is the
ordinary :class:`~cove.client.ModelClient` (building records of the generated classes), so the
generated code holds no behaviour of its own.
"""

from __future__ import annotations

import os
import tempfile
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cove.client._documents import orderable_fields
from cove.client._schema import FieldInfo, ModelInfo, OperationKind, SchemaInfo, mis_fingerprint
from cove.schema.naming import pascal

from . import _extensions as extensions
from ._annotations import Annotations, Mode, literal_type, quoted, scalar_filter, sort_key_argument
from ._names import (
    CALL_OPTIONS,
    FIELD_FIRST,
    LIST_PARAMS,
    MODEL_METHODS,
    RECORD_RESERVED,
    GenerationError,
    ModuleNames,
    Scope,
    is_python_name,
    shadowed,
)

__all__ = ["GenerationError", "generate_python_client", "write_python_client"]


_OPTIONS = CALL_OPTIONS


def _docstring(text: str, indent: str = "    ") -> list[str]:
    """A docstring wrapped at 100 columns (paragraphs kept)."""
    paragraphs = [textwrap.fill(" ".join(p.split()), 100 - len(indent)) for p in text.split("\n\n")]
    lines = "\n\n".join(paragraphs).split("\n")
    if len(lines) == 1:
        return [f'{indent}"""{lines[0]}"""']
    return [f'{indent}"""{lines[0]}', *(f"{indent}{ln}" if ln else "" for ln in lines[1:]), f'{indent}"""']


def _with_article(noun: str) -> str:
    """``a Todo``, ``an Order``."""
    return f"{'an' if noun[:1] in 'AEIOU' else 'a'} {noun}"


@dataclass
class _Member:
    """One key of a TypedDict or attribute of a class being emitted."""

    name: str
    annotation: str
    comment: str = ""


class _Generator:
    """Emits one module: the names are claimed first (ModuleNames), then each section is written."""

    def __init__(self, mis: Mapping[str, Any], source: str) -> None:
        self.mis = mis
        self.source = source
        self.info = SchemaInfo.from_mis(mis)
        self.out: list[str] = []
        self.exports: list[str] = []
        self._owner_rules = self._read_owner_rules()
        self.names = ModuleNames(self.info)
        self.types = Annotations(self.info, self.names)

    def _read_owner_rules(self) -> dict[str, dict[str, str]]:
        """Per model, the owner/group fields auth rules name, with their kind (``owner``/``groups``)."""
        out: dict[str, dict[str, str]] = {}
        for name, raw in (self.mis.get("models") or {}).items():
            fields: dict[str, str] = {}
            for attr in raw.get("attributes") or ():
                if not isinstance(attr, Mapping) or attr.get("type") != "auth":
                    continue
                for rule in (attr.get("properties") or {}).get("rules") or ():
                    if rule.get("allow") == "owner":
                        fields.setdefault(str(rule.get("ownerField") or "owner"), "owner")
                    elif rule.get("allow") == "groups" and rule.get("groupsField"):
                        fields.setdefault(str(rule["groupsField"]), "groups")
            out[str(raw.get("name", name))] = fields
        return out

    # -- emitting -------------------------------------------------------------------------------
    def emit(self, *lines: str) -> None:
        self.out.extend(lines)

    def typed_dict(self, name: str, members: Sequence[_Member], doc: str, *, required: set[str]) -> None:
        """A ``total=False`` TypedDict; keys in ``required`` are ``Required``. Class syntax when
        every key is a plain name that shadows nothing, the functional form otherwise."""
        self.exports.append(name)
        scope = Scope({m.name for m in members})

        def annotation(m: _Member) -> str:
            return f"_t.Required[{m.annotation}]" if m.name in required else m.annotation

        functional = any(not is_python_name(m.name) or m.name.startswith("__") or shadowed(m.annotation, scope)
                         for m in members)
        if functional:
            self.emit(f"# {doc}")
            body = "".join(f"\n    {quoted(m.name)}: {quoted(annotation(m))}," for m in members)
            self.emit(f"{name} = _t.TypedDict({quoted(name)}, {{{body}\n}}, total=False)", "", "")
            return
        self.emit(f"class {name}(_t.TypedDict, total=False):", *_docstring(doc), "")
        for m in members:
            self.emit(f"    {m.name}: {annotation(m)}" + (f"  # {m.comment}" if m.comment else ""))
        if not members:
            self.emit("    pass")
        self.emit("", "")

    # -- the module -----------------------------------------------------------------------------
    def generate(self) -> str:
        info = self.info
        self.emit_enums()
        for nm in info.non_models.values():
            self.emit_non_model(nm.name, nm.fields)
        for name, inp in info.inputs.items():
            if self.names.input_types[name] == name and name not in (f"{n}Input" for n in info.non_models):
                self.emit_input(name, inp.fields, f"Input type {name} (an argument of custom operations).")
        for model in info.models.values():
            self.emit_model(model)
        for model in info.models.values():
            self.emit_model_client(model, "sync")
            self.emit_model_client(model, "async")
        self.emit_operations()
        self.emit_namespaces()
        self.emit_clients()
        return self.header() + "\n".join(self.out).rstrip() + "\n"

    def header(self) -> str:
        models = ", ".join(self.info.models) or "none"
        body = "\n".join(self.out)
        imports = []
        if "_b." in body:
            imports.append("import builtins as _b")
        imports += ["import collections.abc as _abc", "import typing as _t", "",
                    "import cove.client as _cc", "import cove.client.types as _ct"]
        exports = "\n".join(f"    {quoted(n)}," for n in sorted(self.exports))
        return f'''"""A typed Cove client for the data API described by {self.source}.

Generated by `cove generate client` from the model introspection schema; do not edit it, generate it
again when the schema changes (`cove sandbox --typed-client PATH` does that on every change).

Models: {models}.

    import cove
    from <this module> import {self.names.generate}

    cove.configure("amplify_outputs.json")
    client = {self.names.generate}()        # {self.names.generate_async}() for the async twin
    todo = client.models.Todo.get({{"id": "..."}}).data   # a Todo (or None), every field typed

Per model ``Todo``: ``Todo`` and ``AsyncTodo`` (records of the sync and async clients, sharing the
fields of ``TodoFields``), ``TodoCreateInput``, ``TodoUpdateInput``, ``TodoIdentifier``,
``TodoFilter``, ``TodoSubscriptionFilter``, and ``TodoModelClient`` / ``AsyncTodoModelClient``
(what ``client.models.Todo`` is).
"""

# ruff: noqa
# fmt: off
from __future__ import annotations

{chr(10).join(imports)}

__all__ = [
{exports}
]

#: Identifies the schema this module was generated from; a client configured with another schema
#: warns (cove.client.SchemaMismatchWarning) that the module is out of date.
{self.names.fingerprint} = {quoted(mis_fingerprint(self.mis))}


'''

    def emit_enums(self) -> None:
        if not self.info.enums:
            return
        self.emit("# -- enums " + "-" * 90, "")
        for name, values in self.info.enums.items():
            self.exports.append(name)
            if values:
                self.emit(f"{name}: _t.TypeAlias = {literal_type(values)}")
            else:
                self.emit(f"{name}: _t.TypeAlias = {self.names.builtin('str')}")
        self.emit("", "")
        for name in self.info.enums:
            self.typed_dict(f"Model{name}Input", [_Member("eq", f"{name} | None"), _Member("ne", f"{name} | None")],
                            f"Filter conditions on {_with_article(name)} field.", required=set())
            list_of = f"{self.names.builtin('list')}[{name}] | None"
            self.typed_dict(f"Model{name}ListInput", [
                _Member("eq", list_of), _Member("ne", list_of),
                _Member("contains", name), _Member("notContains", name)],
                f"Filter conditions on a list-of-{name} field.", required=set())

    # -- records --------------------------------------------------------------------------------
    def record_class(self, name: str, base: str, doc: str, members: Sequence[_Member], *,
                     item_overloads: bool = True) -> None:
        self.exports.append(name)
        scope = Scope({m.name for m in members})
        declared: list[_Member] = []
        skipped: list[str] = []
        for m in members:
            if (not is_python_name(m.name) or m.name.startswith("__") or m.name in RECORD_RESERVED
                    or shadowed(m.annotation, scope)):
                skipped.append(m.name)
            else:
                declared.append(m)
        if skipped:
            doc += ("\n\nFields that cannot be attributes (reach them as ``record[name]``): "
                    + ", ".join(skipped) + ".")
        self.emit(f"class {name}({base}):", *_docstring(doc), "", "    __slots__ = ()")
        if declared:
            self.emit("")
        for m in declared:
            # A field named like a Mapping method replaces it on records (see Record): say so to checkers.
            ignore = "  # type: ignore[assignment]" if m.name in FIELD_FIRST else ""
            self.emit(f"    {m.name}: {m.annotation}{ignore}" + (f"  # {m.comment}" if m.comment else ""))
        # (not for loader classes: a second set of overloads would clash with the fields class's)
        typed_items = [m for m in members if item_overloads and (m.name in skipped or m.name in FIELD_FIRST)
                       and not shadowed(m.annotation, scope)]
        if typed_items:
            # Typed item access for the fields that cannot be attributes: order["items"].
            s = self.names.builtin("str", scope)
            self.emit("")
            for m in typed_items:
                self.emit("    @_t.overload",
                          f"    def __getitem__(self, key: _t.Literal[{quoted(m.name)}]) -> {m.annotation}: ...")
            self.emit("    @_t.overload", f"    def __getitem__(self, key: {s}) -> _t.Any: ...",
                      f"    def __getitem__(self, key: {s}) -> _t.Any:", "        return super().__getitem__(key)")
        self.emit("", "")

    def emit_non_model(self, name: str, fields: Mapping[str, FieldInfo]) -> None:
        scope = Scope.of(fields)
        members = [_Member(f.name, self.types.output_type(f, scope, "fields")) for f in fields.values()]
        self.record_class(name, "_cc.Record", f"Custom type {name}.", members)
        self.emit_input(f"{name}Input", fields, f"Custom type {name} as an input (in create/update and arguments).")

    def emit_input(self, name: str, fields: Mapping[str, FieldInfo], doc: str) -> None:
        scope = Scope.of(fields)
        members: list[_Member] = []
        required: set[str] = set()
        for f in fields.values():
            t = self.types.input_type(f, scope)
            if (f.is_array and f.is_array_nullable is False) or (not f.is_array and f.is_required):
                required.add(f.name)
                members.append(_Member(f.name, t))
            else:
                members.append(_Member(f.name, f"{t} | None"))
        self.typed_dict(name, members, doc, required=required)

    def emit_model(self, model: ModelInfo) -> None:
        m = model.name
        self.emit(f"# -- model {m} " + "-" * max(4, 88 - len(m)), "")
        info = self.info
        fields = model.fields
        data_fields = [f for f in fields.values() if f.kind != "model"]
        relations = [f for f in fields.values() if f.kind == "model" and f.association is not None]
        implicit = {n: kind for n, kind in self._owner_rules.get(m, {}).items() if n not in fields}

        # records
        scope = Scope.of([f.name for f in data_fields] + list(implicit))
        members = [_Member(f.name, self.types.output_type(f, scope, "fields")) for f in data_fields]
        for n, kind in implicit.items():
            s, lst = self.names.builtin("str", scope), self.names.builtin("list", scope)
            members.append(_Member(n, f"{s} | None" if kind == "owner" else f"{s} | {lst}[{s}] | None",
                                   "set by the server from the owner/group auth rule"))
        self.record_class(f"{m}Fields", "_cc.Record",
                          f"The fields of {_with_article(m)} record (what the sync and async clients' records "
                          "share).", members)
        for mode in ("sync", "async"):
            loader = "_ct.Loader" if mode == "sync" else "_ct.AsyncLoader"
            rscope = Scope.of(f.name for f in relations)
            rmembers = []
            for f in relations:
                related = self.types.record_name(f.type_name, mode)
                assert f.association is not None
                if f.association.connection_type == "HAS_MANY":
                    rmembers.append(_Member(f.name, f"{loader}[{self.names.builtin('list', rscope)}[{related}]]"))
                else:
                    rmembers.append(_Member(f.name, f"{loader}[{related} | None]"))
            name = m if mode == "sync" else f"Async{m}"
            doc = f"{pascal(_with_article(m))} record as the {mode} client returns it: the fields of ``{m}Fields``"
            if rmembers:
                var = m[:1].lower() + m[1:]
                call = f"{var}.{rmembers[0].name}()"
                doc += f", and relationship loaders (``{call if mode == 'sync' else 'await ' + call}``)."
            else:
                doc += "."
            self.record_class(name, f"{m}Fields", doc, rmembers, item_overloads=False)

        # inputs
        ident = model.identifier if model.is_custom_primary_key else (model.primary_key,)
        iscope = Scope.of(ident)
        self.typed_dict(f"{m}Identifier", [_Member(k, self.types.key_type(model, k, iscope)) for k in ident],
                        f"What identifies {_with_article(m)}: ``get`` and ``delete`` take it.", required=set(ident))
        self.emit_mutation_input(model, "create")
        self.emit_mutation_input(model, "update")

        # filters
        fscope = Scope.of([f.name for f in data_fields] + list(implicit) + ["and", "or", "not"])
        filt: list[_Member] = []
        sub: list[_Member] = []
        for f in data_fields:
            if f.kind == "enum" and f.type_name in info.enums:
                filt.append(_Member(f.name, f"Model{f.type_name}{'List' if f.is_array else ''}Input"))
            elif f.kind == "scalar" and (t := scalar_filter(f.type_name, "Model")):
                filt.append(_Member(f.name, t))
            if f.name in model.owner_fields:
                continue  # the server filters owner/group fields of subscriptions itself
            if f.kind == "enum":
                sub.append(_Member(f.name, "_ct.ModelSubscriptionStringInput"))
            elif f.kind == "scalar" and (t := scalar_filter(f.type_name, "ModelSubscription")):
                sub.append(_Member(f.name, t))
        for n in implicit:
            filt.append(_Member(n, "_ct.ModelStringInput"))
        lst = self.names.builtin("list", fscope)
        self.typed_dict(f"{m}Filter", filt + [
            _Member("and", f"{lst}[{m}Filter] | {m}Filter"), _Member("or", f"{lst}[{m}Filter] | {m}Filter"),
            _Member("not", f"{m}Filter")],
            f"``filter=`` of {m}.list(), list_all(), index queries and observe_query().", required=set())
        self.typed_dict(f"{m}SubscriptionFilter", sub + [
            _Member("and", f"{lst}[{m}SubscriptionFilter]"), _Member("or", f"{lst}[{m}SubscriptionFilter]")],
            f"``filter=`` of {m}.on_create(), on_update() and on_delete().", required=set())

        # key conditions
        if len(model.sort_keys) > 1:
            self.emit_composite(model, model.sort_keys, f"{m}PrimarySortKey", f"{m}PrimarySortKeyCondition")
        for idx in model.indexes:
            p = pascal(idx.query_field)
            if len(idx.sk) > 1:
                self.emit_composite(model, idx.sk, f"{p}SortKey", f"{p}SortKeyCondition")
            kscope = Scope.of([idx.pk] + ([sort_key_argument(idx.sk)] if idx.sk else []))
            members = [_Member(idx.pk, self.types.key_type(model, idx.pk, kscope))]
            if idx.sk:
                condition = self.types.sort_key_condition(model, idx.sk, f"{p}SortKeyCondition")
                members.append(_Member(sort_key_argument(idx.sk), condition))
            self.typed_dict(f"{p}Keys", members, f"The keys of index query {m}.{idx.query_field}(): the partition "
                            "key, and optionally a sort-key condition.", required={idx.pk})

    def emit_composite(self, model: ModelInfo, sort_keys: Sequence[str], key_name: str, cond_name: str) -> None:
        scope = Scope.of(sort_keys)
        self.typed_dict(key_name, [_Member(k, self.types.key_type(model, k, scope)) for k in sort_keys],
                        f"Values of {model.name}'s composite sort key ({', '.join(sort_keys)}).", required=set())
        cscope = Scope.of(["eq", "le", "lt", "ge", "gt", "between", "beginsWith"])
        self.typed_dict(cond_name, [_Member(op, key_name) for op in ("eq", "le", "lt", "ge", "gt")] + [
            _Member("between", f"{self.names.builtin('list', cscope)}[{key_name}]"), _Member("beginsWith", key_name)],
            f"A condition on {model.name}'s composite sort key ({', '.join(sort_keys)}).", required=set())

    def emit_mutation_input(self, model: ModelInfo, op: Literal["create", "update"]) -> None:
        m = model.name
        identifier = set(model.identifier)
        members: list[_Member] = []
        required: set[str] = set()
        names = [f.name for f in model.fields.values()]
        scope = Scope.of(names)
        for f in model.fields.values():
            if f.is_read_only:
                continue
            if f.kind == "model":
                assoc = f.association
                if assoc is None or assoc.connection_type == "HAS_MANY" or not assoc.target_names:
                    continue
                if f.type_name in self.info.models:
                    members.append(_Member(f.name, f"{f.type_name}Identifier | {f.type_name}Fields | None",
                                           f"sets {', '.join(assoc.target_names)}"))
                continue
            t = self.types.input_type(f, scope)
            if op == "update":
                if f.name in identifier:
                    required.add(f.name)
                    members.append(_Member(f.name, t))
                elif (f.is_array and f.is_array_nullable is False) or (not f.is_array and f.is_required):
                    members.append(_Member(f.name, t))
                else:
                    members.append(_Member(f.name, f"{t} | None"))
                continue
            server_set = (f.name == model.primary_key and not model.is_custom_primary_key) \
                or f.name in model.timestamp_fields
            needed = (f.is_array and f.is_array_nullable is False) or (not f.is_array and f.is_required)
            if needed and not server_set:
                required.add(f.name)
                members.append(_Member(f.name, t))
            elif needed:
                members.append(_Member(f.name, t, "generated by the server when omitted"))
            else:
                members.append(_Member(f.name, f"{t} | None"))
        if op == "create":
            doc = f"``{m}.create()`` input: required fields are required; read-only fields are absent."
        else:
            doc = (f"``{m}.update()`` input: the identifier, then only the fields to change; read-only "
                   "fields are absent.")
        self.typed_dict(f"{m}{pascal(op)}Input", members, doc, required=required)

    # -- model clients --------------------------------------------------------------------------
    def emit_model_client(self, model: ModelInfo, mode: Literal["sync", "async"]) -> None:
        m = model.name
        name = f"{m}ModelClient" if mode == "sync" else f"Async{m}ModelClient"
        self.exports.append(name)
        rec = m if mode == "sync" else f"Async{m}"
        index_names = [i.query_field for i in model.indexes
                       if is_python_name(i.query_field) and i.query_field not in MODEL_METHODS]
        scope = Scope(set(MODEL_METHODS) | set(index_names))
        lst = self.names.builtin("list", scope)
        selection = f"selection_set: {lst}[str] | {self.names.builtin('tuple', scope)}[str, ...] | None = None"
        def_keyword = "async def" if mode == "async" else "def"
        it = "_abc.Iterator" if mode == "sync" else "_abc.AsyncIterator"
        sub = "_cc.Subscription" if mode == "sync" else "_cc.AsyncSubscription"
        observe = "_cc.ObserveQuery" if mode == "sync" else "_cc.AsyncObserveQuery"
        single = f"_cc.Result[{rec} | None]"
        many = f"_cc.Result[{lst}[{rec}]]"
        ident = f"{m}Identifier | {m}Fields"
        client_expr = "client" if mode == "sync" else "aclient"
        self.emit(f"class {name}(_t.Protocol):",
                  f'    """``{client_expr}.models.{m}``: typed operations on {m} records."""', "",
                  "    @property", "    def name(self) -> str: ...", "")
        key_params = self.list_key_params(model)
        sort = ["sort_direction: _ct.ModelSortDirection | None = None"] if model.sort_keys else []
        if model.enabled("create"):
            self.method(def_keyword, "create", [f"data: {m}CreateInput", "/", "*", selection, _OPTIONS], single,
                        f"Create {_with_article(m)}; ``data`` holds its fields.")
        if model.enabled("get"):
            self.method(def_keyword, "get", [f"identifier: {ident}", "/", "*", selection, _OPTIONS], single,
                        f"Fetch one {m} by its identifier.")
        if model.enabled("update"):
            self.method(def_keyword, "update", [f"data: {m}UpdateInput", "/", "*", selection, _OPTIONS], single,
                        "Update the fields given in ``data`` (which holds the identifier).")
        if model.enabled("delete"):
            self.method(def_keyword, "delete", [f"identifier: {ident}", "/", "*", selection, _OPTIONS], single,
                        f"Delete {_with_article(m)} by its identifier; ``data`` is the deleted record.")
        orderable = orderable_fields(model)
        if model.enabled("list"):
            filt = f"filter: {m}Filter | None = None"
            limit = "limit: int | None = None"
            token = "next_token: str | None = None"
            if orderable:
                # sort_by (a Cove server's) takes a direction on any model; without it, only a model with a
                # sort key has one.
                field_type = literal_type(orderable)
                by = [f"sort_by: {field_type} | _abc.Sequence[{field_type}]",
                      "sort_direction: _ct.ModelSortDirection | None = None"]
                plain = [*sort, *key_params, selection, _OPTIONS]
                extensions.overload(self, def_keyword, "list", ["*", filt, limit, token, *by, selection, _OPTIONS], many)
                extensions.overload(self, def_keyword, "list", ["*", filt, limit, token, *plain], many)
                extensions.overload(self, "def", "list_all", ["*", filt, limit, *by, selection, _OPTIONS], f"{it}[{rec}]")
                extensions.overload(self, "def", "list_all", ["*", filt, limit, *plain], f"{it}[{rec}]")
            else:
                self.method(def_keyword, "list", ["*", filt, limit, token, *sort, *key_params, selection, _OPTIONS],
                            many, f"One page of {m} records; ``Result.next_token`` fetches the next.")
                self.method("def", "list_all", ["*", filt, limit, *sort, *key_params, selection, _OPTIONS],
                            f"{it}[{rec}]", f"Every {m} record, following ``next_token`` page by page.")
            extensions.emit_reads(self, model, def_keyword, rec, lst, filt, selection, orderable)
            for idx in model.indexes:
                if idx.query_field not in index_names:
                    continue
                self.method(def_keyword, idx.query_field, [f"keys: {pascal(idx.query_field)}Keys", "/", "*", filt,
                                                 "sort_direction: _ct.ModelSortDirection | None = None", limit, token,
                                                 selection, _OPTIONS], many,
                            f"Query the {idx.name} index (partition key {idx.pk}).")
        extensions.emit_writes(self, model, def_keyword, rec, ident, selection, lst)
        for event in ("create", "update", "delete"):
            if model.enabled("on" + pascal(event)):
                self.method("def", f"on_{event}", ["*", f"filter: {m}SubscriptionFilter | None = None", selection,
                                                   _OPTIONS], f"{sub}[{rec}]",
                            f"Subscribe to {event}d {m} records (``with``/``async with``, then iterate).")
        if model.enabled("list"):
            fields = [f.name for f in model.fields.values() if f.kind in ("scalar", "enum") and not f.is_array]
            sort_by = (f"{literal_type(fields)} | " if fields else "") + f"_abc.Callable[[{rec}], _t.Any] | None = None"
            self.method("def", "observe_query", [
                "*", f"filter: {m}Filter | None = None", selection, f"sort_by: {sort_by}",
                "descending: bool = False", "limit: int | None = None", _OPTIONS], f"{observe}[{rec}]",
                f"The {m} records matching ``filter``, then a new snapshot on every change (``items``, "
                "``is_synced``).")
        self.emit("")

    def list_key_params(self, model: ModelInfo) -> list[str]:
        if not model.is_custom_primary_key:
            return []
        names = [model.primary_key] + ([sort_key_argument(model.sort_keys)] if model.sort_keys else [])
        if any(not is_python_name(n) or n in LIST_PARAMS for n in names):
            return []  # not expressible as keywords: index the model by its other means
        params = [f"{model.primary_key}: {self.types.key_type(model, model.primary_key, None)} | None = None"]
        if model.sort_keys:
            condition = self.types.sort_key_condition(model, model.sort_keys, f"{model.name}PrimarySortKeyCondition")
            params.append(f"{names[1]}: {condition} | None = None")
        return params

    def method(self, def_keyword: str, name: str, params: Sequence[str], returns: str, doc: str) -> None:
        """A Protocol method; ``def_keyword`` is ``def`` or ``async def``."""
        line = f"    {def_keyword} {name}({', '.join(['self', *params])}) -> {returns}:"
        if len(line) <= 110:
            self.emit(line)
        else:
            self.emit(f"    {def_keyword} {name}(", *(f"        {p}," for p in ["self", *params]),
                      f"    ) -> {returns}:")
        self.emit(*_docstring(doc, "        "), "        ...", "")

    # -- custom operations ----------------------------------------------------------------------
    def emit_operations(self) -> None:
        info = self.info
        ops = [*info.queries.values(), *info.mutations.values()]
        if ops:
            self.emit("# -- custom operations " + "-" * 78, "")
        for op in ops:
            if op.arguments:
                scope = Scope.of(op.arguments)
                members: list[_Member] = []
                required: set[str] = set()
                for f in op.arguments.values():
                    t = self.types.input_type(f, scope)
                    if f.is_required:
                        required.add(f.name)
                        members.append(_Member(f.name, t))
                    else:
                        members.append(_Member(f.name, f"{t} | None"))
                self.typed_dict(f"{pascal(op.name)}Arguments", members,
                                f"The arguments of {op.kind} {op.name}.", required=required)
        groups: tuple[tuple[OperationKind, str, str], ...] = (
            ("query", self.names.queries, self.names.async_queries),
            ("mutation", self.names.mutations, self.names.async_mutations))
        for kind, sync_name, async_name in groups:
            modes: tuple[tuple[Mode, str], ...] = (("sync", sync_name), ("async", async_name))
            for mode, cls in modes:
                self.exports.append(cls)
                attr = "queries" if kind == "query" else "mutations"
                client_expr = "client" if mode == "sync" else "aclient"
                self.emit(f"class {cls}(_t.Protocol):",
                          f'    """``{client_expr}.{attr}``: the custom {kind} operations of the schema."""', "")
                names = {op.name for op in info.operations(kind).values() if is_python_name(op.name)}
                scope = Scope(names)
                emitted = 0
                for op in info.operations(kind).values():
                    if op.name not in names:
                        continue
                    returns = self.types.operation_result(op, scope, mode)
                    if shadowed(returns, scope):
                        continue
                    params: list[str] = []
                    if op.arguments:
                        argt = f"{pascal(op.name)}Arguments"
                        if any(a.is_required for a in op.arguments.values()):
                            params = [f"args: {argt}", "/"]
                        else:
                            params = [f"args: {argt} | None = None", "/"]
                    else:
                        params = ["/"]
                    self.method("async def" if mode == "async" else "def", op.name, [*params, _OPTIONS],
                                f"_cc.Result[{returns}]", f"Custom {kind} {op.name}.")
                    emitted += 1
                if not emitted:
                    self.emit("    pass", "")
                self.emit("")

    # -- namespaces and clients -----------------------------------------------------------------
    def emit_namespaces(self) -> None:
        info = self.info
        for cls, mode in ((self.names.models, "sync"), (self.names.async_models, "async")):
            self.exports.append(cls)
            attr = "client" if mode == "sync" else "aclient"
            self.emit(f"class {cls}(_t.Protocol):", f'    """``{attr}.models``: one typed client per model."""', "")
            for m in info.models:
                mc = f"{m}ModelClient" if mode == "sync" else f"Async{m}ModelClient"
                self.emit("    @property", f"    def {m}(self) -> {mc}: ...", "")
            if not info.models:
                self.emit("    pass", "")
            self.emit("")
        self.exports.append(self.names.enums)
        self.emit(f"class {self.names.enums}(_t.Protocol):",
                  '    """``client.enums``: ``client.enums.X.values()``."""', "")
        for e in info.enums:
            self.emit("    @property", f"    def {e}(self) -> _cc.EnumInfo[{e}]: ...", "")
        if not info.enums:
            self.emit("    pass", "")
        self.emit("")

    def emit_clients(self) -> None:
        info = self.info
        types = [*info.models, *info.non_models]
        for mode, cls, base, models, queries, mutations, gen, opts in (
                ("sync", self.names.client, "_cc.Client", self.names.models, self.names.queries, self.names.mutations,
                 self.names.generate, "_ct.ClientOptions"),
                ("async", self.names.async_client, "_cc.AsyncClient", self.names.async_models,
                 self.names.async_queries, self.names.async_mutations, self.names.generate_async,
                 "_ct.AsyncClientOptions")):
            self.exports += [cls, gen]
            records = ", ".join(f"{quoted(t)}: {self._runtime_record(t, mode)}" for t in types)
            ignore = "  # type: ignore[assignment]  # narrows the untyped client's namespace"
            text = self.names.builtin("str")
            article = "A sync" if mode == "sync" else "An async"
            runtime_factory = "generate_client" if mode == "sync" else "generate_async_client"
            self.emit(
                f"class {cls}({base}):",
                f'    """The {mode} client, typed for this schema: ``{gen}()`` makes one."""',
                "",
                f"    record_types: _t.ClassVar[_abc.Mapping[{text}, {self.names.builtin('type')}[_cc.Record]]]"
                f" = {{{records}}}",
                f"    typed_schema_fingerprint: _t.ClassVar[{text} | None] = {self.names.fingerprint}",
                f"    models: {models}{ignore}",
                f"    queries: {queries}{ignore}",
                f"    mutations: {mutations}{ignore}",
                f"    enums: {self.names.enums}{ignore}",
                "", "")
            self.emit(f"def {gen}(**options: _t.Unpack[{opts}]) -> {cls}:",
                      f'    """{article} client for the API configured with ``cove.configure()`` (or ``config=``).',
                      "",
                      f"    Takes the options of ``cove.{runtime_factory}()``.",
                      '    """',
                      f"    return {cls}(**options)", "", "")

    def _runtime_record(self, type_name: str, mode: str) -> str:
        """The generated class a client of ``mode`` builds records of ``type_name`` with."""
        if type_name in self.info.models and mode == "async":
            return "Async" + type_name
        return type_name


def generate_python_client(mis: Mapping[str, Any], *, source: str = "amplify_outputs.json") -> str:
    """The source of a typed client module for the API whose model introspection schema is ``mis``.

    ``source`` names where the schema came from, for the module's docstring. Raises
    :class:`GenerationError` when the schema's names cannot be Python names.
    """
    if not isinstance(mis, Mapping):
        raise GenerationError("the model introspection schema must be a JSON object")
    return _Generator(mis, source).generate()


def write_python_client(path: str | os.PathLike[str], mis: Mapping[str, Any], *,
                        source: str = "amplify_outputs.json") -> bool:
    """Write the typed client module to ``path`` (atomically); False when it was already up to date."""
    text = generate_python_client(mis, source=source)
    target = Path(path)
    try:
        if target.read_text(encoding="utf-8") == text:
            return False
    except OSError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True
