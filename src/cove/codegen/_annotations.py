"""Type expressions for a generated client module: what a field is read as and written as.

Output types (records) and input types (TypedDicts) differ: AWSJSON is read as ``str`` but written
as any JSON value, a custom type is read as its record class but written as its ``<Type>Input``.
Builtins come qualified from ``ModuleNames.builtin`` wherever a member or schema type shadows them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Literal

from cove.client._schema import FieldInfo, ModelInfo, OperationInfo, SchemaInfo
from cove.schema.naming import pascal

from ._names import ModuleNames, Scope

#: Which of the three record families a type expression is for.
Mode = Literal["fields", "sync", "async"]

OUTPUT_SCALARS = {
    "ID": "str", "String": "str", "Int": "int", "Float": "float", "Boolean": "bool", "AWSDate": "str",
    "AWSTime": "str", "AWSDateTime": "str", "AWSTimestamp": "int", "AWSEmail": "str", "AWSJSON": "str",
    "AWSPhone": "str", "AWSURL": "str", "AWSIPAddress": "str",
}
STRING_LIKE = frozenset({"String", "AWSDate", "AWSTime", "AWSDateTime", "AWSEmail", "AWSJSON", "AWSPhone",
                         "AWSURL", "AWSIPAddress"})
_SCALAR_FILTER_BASE = {"ID": "ID", "Int": "Int", "AWSTimestamp": "Int", "Float": "Float", "Boolean": "Boolean",
                       **dict.fromkeys(STRING_LIKE, "String")}
_KEY_CONDITIONS = {"ID": "_ct.ModelIDKeyConditionInput", "Int": "_ct.ModelIntKeyConditionInput",
                   "AWSTimestamp": "_ct.ModelIntKeyConditionInput", "Float": "_ct.ModelFloatKeyConditionInput"}
ANY_MAPPING = "_abc.Mapping[str, _t.Any]"


def quoted(text: str) -> str:
    """A double-quoted Python string literal."""
    return json.dumps(text)


def literal_type(values: Iterable[str]) -> str:
    return "_t.Literal[" + ", ".join(quoted(v) for v in values) + "]"


def scalar_filter(type_name: str, family: str) -> str | None:
    """The shared filter input (``cove.client.types``) of a scalar, per family (Model, ModelSubscription)."""
    base = _SCALAR_FILTER_BASE.get(type_name)
    return None if base is None else f"_ct.{family}{base}Input"


def key_condition(key_field: FieldInfo | None) -> str:
    """The condition input of a single sort key."""
    if key_field is None or key_field.kind == "enum" or key_field.type_name in STRING_LIKE:
        return "_ct.ModelStringKeyConditionInput"
    return _KEY_CONDITIONS.get(key_field.type_name, ANY_MAPPING)


def sort_key_argument(sort_keys: Sequence[str]) -> str:
    """The keyword a (composite) sort key condition is passed as: ``status`` or ``statusCreatedAt``."""
    return sort_keys[0] + "".join(pascal(s) for s in sort_keys[1:])


class Annotations:
    """Builds the annotation of a field, key or result for one generated module."""

    def __init__(self, info: SchemaInfo, names: ModuleNames) -> None:
        self.info = info
        self.names = names

    def record_name(self, type_name: str, mode: Mode) -> str:
        if type_name not in self.info.models:
            return "_cc.DynamicRecord"
        return {"fields": f"{type_name}Fields", "sync": type_name, "async": f"Async{type_name}"}[mode]

    def output_element(self, f: FieldInfo, scope: Scope | None, mode: Mode) -> str:
        if f.kind == "scalar":
            python_type = OUTPUT_SCALARS.get(f.type_name)
            return self.names.builtin(python_type, scope) if python_type else "_t.Any"
        if f.kind == "enum":
            return f.type_name if f.type_name in self.info.enums else self.names.builtin("str", scope)
        if f.kind == "nonModel":
            return f.type_name if f.type_name in self.info.non_models else "_cc.DynamicRecord"
        if f.kind == "model":
            return self.record_name(f.type_name, mode)
        return "_t.Any"

    def output_type(self, f: FieldInfo, scope: Scope | None, mode: Mode) -> str:
        element = self.output_element(f, scope, mode)
        if f.is_array:
            if not f.is_required:
                element += " | None"
            list_type = f"{self.names.builtin('list', scope)}[{element}]"
            return list_type if f.is_array_nullable is False else list_type + " | None"
        return element if (f.is_required or f.is_read_only) else element + " | None"

    def input_element(self, f: FieldInfo, scope: Scope | None) -> str:
        if f.kind == "scalar":
            if f.type_name == "AWSJSON":
                return "_ct.JSONValue"
            python_type = OUTPUT_SCALARS.get(f.type_name)
            return self.names.builtin(python_type, scope) if python_type else "_t.Any"
        if f.kind == "enum":
            return f.type_name if f.type_name in self.info.enums else self.names.builtin("str", scope)
        if f.kind == "nonModel":
            return f"{f.type_name}Input" if f.type_name in self.info.non_models else ANY_MAPPING
        if f.kind == "input":
            return self.names.input_types.get(f.type_name, ANY_MAPPING)
        return ANY_MAPPING

    def input_type(self, f: FieldInfo, scope: Scope | None) -> str:
        """The input type of ``f`` without the top-level ``| None`` (callers decide that)."""
        element = self.input_element(f, scope)
        if f.is_array:
            return f"_abc.Sequence[{element}{'' if f.is_required else ' | None'}]"
        return element

    def key_type(self, model: ModelInfo, key: str, scope: Scope | None) -> str:
        key_field = model.fields.get(key)
        if key_field is None:
            return self.names.builtin("str", scope)
        return self.output_element(key_field, scope, "fields")

    def sort_key_condition(self, model: ModelInfo, sort_keys: Sequence[str], composite: str) -> str:
        """A single sort key's condition input, or ``composite`` (the name emitted for several keys)."""
        if len(sort_keys) == 1:
            return key_condition(model.fields.get(sort_keys[0]))
        return composite

    def operation_result(self, op: OperationInfo, scope: Scope, mode: Mode) -> str:
        returns = op.returns
        element = self.output_element(returns, scope, mode)
        if returns.is_array:
            return f"{self.names.builtin('list', scope)}[{element}] | None"  # null entries are dropped
        return f"{element} | None"
