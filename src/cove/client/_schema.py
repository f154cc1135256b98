"""The model introspection schema (MIS, ``data.model_introspection``) as the client uses it.

The client is driven by the MIS alone, so it works against any AppSync / Amplify Gen 2 backend,
not only Cove's. Parsing is lenient about optional keys and strict about nothing: a field whose
type it does not understand is treated as a scalar.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

FieldKind = Literal["scalar", "enum", "model", "nonModel", "input"]

#: Model operations that ``.disable_operations()`` (MIS ``{type: 'model', properties: {...}}``) removes.
_COARSE: dict[str, tuple[str, ...]] = {
    "queries": ("get", "list"),
    "mutations": ("create", "update", "delete"),
    "subscriptions": ("onCreate", "onUpdate", "onDelete"),
}


@dataclass(frozen=True)
class Association:
    connection_type: str                  # HAS_MANY | HAS_ONE | BELONGS_TO
    associated_with: tuple[str, ...] = ()
    target_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class FieldInfo:
    name: str
    kind: FieldKind
    type_name: str                        # scalar name, or the enum/model/nonModel/input name
    is_array: bool = False
    is_required: bool = False
    is_read_only: bool = False
    association: Association | None = None
    #: For arrays: MIS ``isArrayNullable`` (may the list itself be null?); None when absent.
    is_array_nullable: bool | None = None

    @property
    def is_relation(self) -> bool:
        return self.kind == "model"


@dataclass(frozen=True)
class IndexInfo:
    """A secondary index with a client query field (``{type: 'key', properties: {name, queryField}}``)."""

    name: str
    query_field: str
    pk: str
    sk: tuple[str, ...]


@dataclass(frozen=True)
class ModelInfo:
    name: str
    plural_name: str
    fields: Mapping[str, FieldInfo]
    primary_key: str
    sort_keys: tuple[str, ...]
    is_custom_primary_key: bool
    indexes: tuple[IndexInfo, ...]
    #: Owner/group fields named by auth rules (``ownerField``, ``groupsField``), in rule order.
    owner_fields: tuple[str, ...]
    disabled_operations: frozenset[str]
    #: Fields the server fills on writes when left out (createdAt/updatedAt, unless disabled or renamed).
    timestamp_fields: tuple[str, ...] = ("createdAt", "updatedAt")
    #: Text fields a Cove server searches (its ``searchable`` attribute); empty: no ``search<Models>``.
    searchable: tuple[str, ...] = ()

    @property
    def identifier(self) -> tuple[str, ...]:
        return (self.primary_key, *self.sort_keys)

    def enabled(self, operation: str) -> bool:
        """``operation`` is one of get list create update delete onCreate onUpdate onDelete."""
        return operation not in self.disabled_operations

    def index(self, query_field: str) -> IndexInfo | None:
        for idx in self.indexes:
            if idx.query_field == query_field:
                return idx
        return None


@dataclass(frozen=True)
class NonModelInfo:
    name: str
    fields: Mapping[str, FieldInfo]


OperationKind = Literal["query", "mutation", "subscription"]


@dataclass(frozen=True)
class OperationInfo:
    """A custom query, mutation or subscription (MIS ``queries``/``mutations``/``subscriptions``).

    ``returns`` describes the result like a field (``kind``/``type_name``/``is_array``/
    ``is_required``); ``arguments`` are fields whose kind may also be ``input`` (MIS ``{input: X}``).
    """

    name: str
    kind: OperationKind
    returns: FieldInfo
    arguments: Mapping[str, FieldInfo]


@dataclass(frozen=True)
class SchemaInfo:
    models: Mapping[str, ModelInfo]
    non_models: Mapping[str, NonModelInfo]
    enums: Mapping[str, tuple[str, ...]]
    queries: Mapping[str, OperationInfo] = field(default_factory=dict)
    mutations: Mapping[str, OperationInfo] = field(default_factory=dict)
    subscriptions: Mapping[str, OperationInfo] = field(default_factory=dict)
    #: Input types named by custom-operation arguments (MIS ``inputs``: ``{name, attributes}``).
    inputs: Mapping[str, NonModelInfo] = field(default_factory=dict)

    @classmethod
    def from_mis(cls, mis: Mapping[str, Any] | None) -> SchemaInfo:
        if not mis:
            return cls(models={}, non_models={}, enums={})
        models = {name: _model(name, m) for name, m in (mis.get("models") or {}).items()}
        non_models = {
            name: NonModelInfo(name=nm.get("name", name), fields=_fields(nm.get("fields") or {}))
            for name, nm in (mis.get("nonModels") or {}).items()
        }
        enums = {name: tuple(e.get("values") or ()) for name, e in (mis.get("enums") or {}).items()}
        inputs = {
            name: NonModelInfo(name=i.get("name", name), fields=_fields(i.get("attributes") or {}))
            for name, i in (mis.get("inputs") or {}).items() if isinstance(i, Mapping)
        }
        return cls(models=models, non_models=non_models, enums=enums,
                   queries=_operations(mis.get("queries"), "query"),
                   mutations=_operations(mis.get("mutations"), "mutation"),
                   subscriptions=_operations(mis.get("subscriptions"), "subscription"), inputs=inputs)

    def operations(self, kind: OperationKind) -> Mapping[str, OperationInfo]:
        return {"query": self.queries, "mutation": self.mutations, "subscription": self.subscriptions}[kind]


def mis_fingerprint(mis: Mapping[str, Any]) -> str:
    """A short hash of a model introspection schema (key order does not matter)."""
    return hashlib.sha256(orjson.dumps(mis, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def _field(name: str, raw: Mapping[str, Any]) -> FieldInfo:
    t = raw.get("type")
    kind: FieldKind = "scalar"
    type_name = "String"
    if isinstance(t, str):
        type_name = t
    elif isinstance(t, Mapping):
        for k in ("enum", "model", "nonModel", "input"):
            if isinstance(t.get(k), str):
                kind = k
                type_name = t[k]
                break
    assoc = raw.get("association")
    association = None
    if isinstance(assoc, Mapping) and assoc.get("connectionType"):
        association = Association(
            connection_type=str(assoc["connectionType"]),
            associated_with=_names(assoc.get("associatedWith")),
            target_names=_names(assoc.get("targetNames") or assoc.get("targetName")),
        )
    return FieldInfo(
        name=str(raw.get("name", name)),
        kind=kind,
        type_name=type_name,
        is_array=bool(raw.get("isArray")),
        is_required=bool(raw.get("isRequired")),
        is_read_only=bool(raw.get("isReadOnly")),
        association=association,
        is_array_nullable=None if raw.get("isArrayNullable") is None else bool(raw["isArrayNullable"]),
    )


def _operations(raw: Any, kind: OperationKind) -> dict[str, OperationInfo]:
    out: dict[str, OperationInfo] = {}
    for name, op in (raw or {}).items():
        if isinstance(op, Mapping):
            op_name = str(op.get("name", name))
            out[op_name] = OperationInfo(name=op_name, kind=kind, returns=_field(op_name, op),
                                         arguments=_fields(op.get("arguments") or {}))
    return out


def _names(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _fields(raw: Mapping[str, Any]) -> dict[str, FieldInfo]:
    return {name: _field(name, f) for name, f in raw.items()}


def _model(name: str, raw: Mapping[str, Any]) -> ModelInfo:
    fields = _fields(raw.get("fields") or {})
    pk_info = raw.get("primaryKeyInfo") or {}
    attributes = [a for a in raw.get("attributes") or () if isinstance(a, Mapping)]

    indexes: list[IndexInfo] = []
    owner_fields: list[str] = []
    disabled: set[str] = set()
    timestamps: tuple[str, ...] = ("createdAt", "updatedAt")
    searchable: tuple[str, ...] = ()
    for attr in attributes:
        props = attr.get("properties") or {}
        kind = attr.get("type")
        if kind == "searchable" and isinstance(props.get("fields"), list):
            searchable = tuple(str(f) for f in props["fields"])
        if kind == "model" and "timestamps" in props:
            stamps = props["timestamps"]
            timestamps = () if not isinstance(stamps, Mapping) else tuple(
                str(n) for n in (stamps.get("createdAt", "createdAt"), stamps.get("updatedAt", "updatedAt")) if n)
        if kind == "key" and props.get("name") and props.get("queryField") and props.get("fields"):
            pk, *sk = props["fields"]
            indexes.append(IndexInfo(name=str(props["name"]), query_field=str(props["queryField"]),
                                     pk=str(pk), sk=tuple(str(s) for s in sk)))
        elif kind == "model":
            for group, ops in _COARSE.items():
                if group not in props:
                    continue
                value = props[group]
                if value is None:
                    disabled.update(ops)
                elif isinstance(value, Mapping):
                    # fine-grained: {"mutations": {"delete": null}} disables delete
                    disabled.update(op for op in value if op in ops)
        elif kind == "auth":
            for rule in props.get("rules") or ():
                allow = rule.get("allow")
                f: str | None = None
                if allow == "owner":
                    f = rule.get("ownerField") or "owner"
                elif allow == "groups" and rule.get("groupsField"):
                    f = rule["groupsField"]
                if f and f not in owner_fields:
                    owner_fields.append(f)
    # Subscriptions follow their mutation (no createX means no onCreateX).
    for mutation in ("create", "update", "delete"):
        if mutation in disabled:
            disabled.add("on" + mutation.capitalize())

    primary_key = str(pk_info.get("primaryKeyFieldName") or "id")
    sort_keys = tuple(str(s) for s in pk_info.get("sortKeyFieldNames") or ())
    return ModelInfo(
        name=str(raw.get("name", name)),
        plural_name=str(raw.get("pluralName") or raw.get("name", name) + "s"),
        fields=fields,
        primary_key=primary_key,
        sort_keys=sort_keys,
        is_custom_primary_key=bool(pk_info.get("isCustomPrimaryKey", primary_key != "id" or sort_keys)),
        indexes=tuple(indexes),
        owner_fields=tuple(owner_fields),
        disabled_operations=frozenset(disabled),
        timestamp_fields=timestamps,
        searchable=searchable,
    )
