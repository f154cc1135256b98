"""Names in a generated client module: who claimed each one, and what a class body shadows.

Every schema type and every type derived from it (``TodoFilter``, ``ListTodosByOwnerKeys`` ...) claims
its name once, so two things can never be emitted under one name; the generated machinery (``Client``,
``Models`` ...) steps aside with a trailing underscore instead. Inside a class body, a member named
like a module-level type (a field ``str``, a field ``Todo``) would shadow it in annotations: ``Scope``
records a body's names so the emitter can qualify builtins or fall back to a form without the clash.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from cove.client._records import Record
from cove.client._schema import SchemaInfo
from cove.schema.naming import pascal

#: The generated module's own import aliases (``import builtins as _b`` ...).
IMPORT_ALIASES = frozenset({"_b", "_abc", "_t", "_cc", "_ct"})
#: Builtins the generated annotations use.
BUILTINS = ("str", "int", "float", "bool", "list", "tuple", "type")
#: Mapping methods a field or relationship of the same name overrides on records (``cart.items``).
FIELD_FIRST = frozenset({"items", "keys", "values", "get"})
#: Names a record attribute may not take: the Record/Mapping API, and Record's slots.
RECORD_RESERVED = (frozenset(n for n in dir(Record) if not n.startswith("__"))
                   | {"_data", "_loaders", "_typename"}) - FIELD_FIRST
#: Keywords the model client methods take besides the request options.
LIST_PARAMS = frozenset({"filter", "limit", "next_token", "sort_direction", "selection_set", "auth_mode",
                         "auth_token", "api_key", "headers", "endpoint", "self"})
#: The request options every generated method takes.
CALL_OPTIONS = "**options: _t.Unpack[_ct.CallOptions]"

MODEL_METHODS = frozenset({"name", "index_queries", "create", "get", "update", "delete", "list", "list_all",
                           "on_create", "on_update", "on_delete", "observe_query", "count", "aggregate",
                           "batch_get", "batch_create", "batch_delete", "create_item", "update_item",
                           "delete_item", "search"})


class GenerationError(ValueError):
    """The MIS cannot be turned into a Python module (names that clash, invalid names)."""


def is_python_name(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


@dataclass
class Scope:
    """The names a class body declares: inside it they shadow module-level names in annotations."""

    names: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, names: Iterable[str]) -> Scope:
        return cls(set(names))


def shadowed(annotation: str, scope: Scope) -> bool:
    """True when ``annotation`` names a module-level type that a member of ``scope`` shadows."""
    names = set(re.findall(r"(?<![.\w])([A-Za-z_]\w*)", annotation))
    return bool(names & scope.names - IMPORT_ALIASES)


class ModuleNames:
    """The module-level names of one generated module, claimed up front from the schema."""

    def __init__(self, info: SchemaInfo) -> None:
        self.taken: dict[str, str] = dict.fromkeys(IMPORT_ALIASES, "an import")
        #: input type name in the MIS -> the name it is emitted under (a custom type's input is shared)
        self.input_types: dict[str, str] = {}
        self._claim_schema_names(info)
        self.models = self._step_aside("Models", "the models namespace")
        self.async_models = self._step_aside("AsyncModels", "the async models namespace")
        self.queries = self._step_aside("Queries", "the custom queries")
        self.async_queries = self._step_aside("AsyncQueries", "the async custom queries")
        self.mutations = self._step_aside("Mutations", "the custom mutations")
        self.async_mutations = self._step_aside("AsyncMutations", "the async custom mutations")
        self.enums = self._step_aside("Enums", "the enums namespace")
        self.client = self._step_aside("Client", "the sync client")
        self.async_client = self._step_aside("AsyncClient", "the async client")
        self.generate = self._step_aside("generate_client", "generate_client")
        self.generate_async = self._step_aside("generate_async_client", "generate_async_client")
        self.fingerprint = self._step_aside("SCHEMA_FINGERPRINT", "the schema fingerprint")
        # A schema type named like a builtin shadows it module-wide: then builtins are always qualified.
        self.module_shadows = {name for name in BUILTINS if name in self.taken}

    def builtin(self, name: str, scope: Scope | None = None) -> str:
        """A builtin type's name, qualified (``_b.str``) when a class member or schema type shadows it."""
        if name in self.module_shadows or (scope is not None and name in scope.names):
            return f"_b.{name}"
        return name

    def _claim(self, name: str, what: str) -> str:
        if not is_python_name(name):
            raise GenerationError(f"{what}: {name!r} is not a valid Python name")
        if name in self.taken:
            raise GenerationError(f"cannot generate {what} as {name}: the name is already used by "
                                  f"{self.taken[name]}")
        self.taken[name] = what
        return name

    def _step_aside(self, name: str, what: str) -> str:
        """A name of the generated machinery (Client, Models...): renamed with a trailing underscore
        when the schema uses it for one of its own types (a model named ``Client``)."""
        while name in self.taken:
            name += "_"
        self.taken[name] = what
        return name

    def _claim_schema_names(self, info: SchemaInfo) -> None:
        for enum in info.enums:
            self._claim(enum, f"enum {enum}")
        for custom in info.non_models:
            self._claim(custom, f"custom type {custom}")
        for model_name in info.models:
            self._claim(model_name, f"model {model_name}")
        for enum in info.enums:
            self._claim(f"Model{enum}Input", f"the filter input of enum {enum}")
            self._claim(f"Model{enum}ListInput", f"the list filter input of enum {enum}")
        for custom in info.non_models:
            self._claim(f"{custom}Input", f"the input type of custom type {custom}")
        for name in info.inputs:
            if name in self.taken and name.endswith("Input") and name[:-5] in info.non_models:
                self.input_types[name] = name  # the same shape as the custom type's input
                continue
            self.input_types[name] = self._claim(name, f"input type {name}")
        for model_name, model in info.models.items():
            for suffix in ("Fields", "CreateInput", "UpdateInput", "Identifier", "Filter", "SubscriptionFilter",
                           "ModelClient"):
                self._claim(f"{model_name}{suffix}", f"model {model_name}'s {suffix}")
            self._claim(f"Async{model_name}", f"model {model_name}'s async record")
            self._claim(f"Async{model_name}ModelClient", f"model {model_name}'s async client")
            if len(model.sort_keys) > 1:
                self._claim(f"{model_name}PrimarySortKey", f"model {model_name}'s composite sort key")
                self._claim(f"{model_name}PrimarySortKeyCondition",
                            f"model {model_name}'s composite sort key condition")
            for index in model.indexes:
                query = pascal(index.query_field)
                self._claim(f"{query}Keys", f"the keys of index query {index.query_field}")
                if len(index.sk) > 1:
                    self._claim(f"{query}SortKey", f"the composite sort key of {index.query_field}")
                    self._claim(f"{query}SortKeyCondition", f"the sort key condition of {index.query_field}")
        for kind in ("query", "mutation"):
            for op in info.operations(kind).values():
                if op.arguments:
                    self._claim(f"{pascal(op.name)}Arguments", f"the arguments of {kind} {op.name}")
