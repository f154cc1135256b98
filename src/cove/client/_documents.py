"""The GraphQL documents and variables Amplify's JS model client sends, built from the MIS.

Everything here is I/O-free and shared by the sync and async clients. The documents are exactly
what ``@aws-amplify/data-schema`` builds (anonymous operations, the same variable names, types and
order, the same default selection set), printed like graphql-js 15's ``print`` (which aws-amplify
v6 uses): graphql-core's ``print_ast`` plus the trailing newline graphql-js 15 adds. A server that
caches parsed documents by their text therefore sees one text per operation, whichever client sent
it. Printing happens once per (model, operation, selection set).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, Literal

from graphql import GraphQLSyntaxError, OperationType, parse, print_ast
from graphql.language import OperationDefinitionNode

from ._schema import FieldInfo, IndexInfo, ModelInfo, OperationInfo, SchemaInfo

ModelOperation = Literal["create", "get", "update", "delete", "list", "sorted_list", "index"]

# A selection set in the making: field name -> None (a leaf) or a nested selection.
# Related-model arrays (hasMany) are stored as {"items": {...}}.
Selection = dict[str, "Selection | None"]

WILDCARD = "*"

# Sort-key condition input types: string-like scalars use String, AWSTimestamp uses Int.
_SK_TYPE = {
    "ID": "ID", "String": "String", "AWSDate": "String", "AWSTime": "String", "AWSDateTime": "String",
    "AWSTimestamp": "Int", "AWSEmail": "String", "AWSPhone": "String", "AWSURL": "String",
    "AWSIPAddress": "String", "AWSJSON": "String", "Boolean": "Boolean", "Int": "Int", "Float": "Float",
}


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def sort_key_arg_name(sort_keys: Sequence[str]) -> str:
    """``["a"]`` → ``"a"``; ``["status", "createdAt"]`` → ``"statusCreatedAt"`` (Amplify's name)."""
    if len(sort_keys) == 1:
        return sort_keys[0]
    return sort_keys[0] + "".join(_cap(s) for s in sort_keys[1:])


# ------------------------------------------------------------------------------------------------
# Printing


def print_document(source: str) -> str:
    """Parse and print ``source`` as graphql-js 15 prints it (trailing newline included)."""
    return print_ast(parse(source, no_location=True)) + "\n"


@lru_cache(maxsize=512)
def prepare_raw_document(query: str) -> tuple[str, bool]:
    """(printed document, is a subscription) for ``client.graphql(query)``; ValueError if invalid."""
    try:
        doc = parse(query, no_location=True)
    except GraphQLSyntaxError as exc:
        raise ValueError(f"invalid GraphQL document: {exc.message}") from None
    is_subscription = any(isinstance(d, OperationDefinitionNode)
                          and d.operation == OperationType.SUBSCRIPTION for d in doc.definitions)
    return print_ast(doc) + "\n", is_subscription


@lru_cache(maxsize=512)
def has_mutation(document: str) -> bool:
    """Whether a document writes: a request that may have reached the server is then not re-sent."""
    try:
        doc = parse(document, no_location=True)
    except GraphQLSyntaxError:
        return False
    return any(isinstance(d, OperationDefinitionNode) and d.operation == OperationType.MUTATION
               for d in doc.definitions)


# ------------------------------------------------------------------------------------------------
# Selection sets


def _is_leaf(f: FieldInfo) -> bool:
    return f.kind in ("scalar", "enum")


class DocumentBuilder:
    """Builds (and caches) the documents of one schema."""

    def __init__(self, schema: SchemaInfo) -> None:
        self.schema = schema
        self.document = lru_cache(maxsize=1024)(self._document)
        self._custom: dict[tuple[str, str], str] = {}

    # -- defaults ----------------------------------------------------------------------------
    def default_paths(self, model: ModelInfo) -> list[str]:
        """Every scalar/enum field, custom types as ``f.*``, no relationships, then owner fields."""
        paths: list[str] = []
        for f in model.fields.values():
            if _is_leaf(f):
                paths.append(f.name)
            elif f.kind == "nonModel":
                paths.append(f"{f.name}.{WILDCARD}")
        for owner in model.owner_fields:
            if owner not in paths:
                paths.append(owner)
        return paths

    def _non_model_default(self, name: str, seen: tuple[str, ...] = ()) -> Selection:
        nm = self.schema.non_models.get(name)
        out: Selection = {}
        if nm is None:
            return out
        for f in nm.fields.values():
            if _is_leaf(f):
                out[f.name] = None
            elif f.kind == "nonModel" and f.type_name not in seen:  # guard self-reference
                out[f.name] = self._non_model_default(f.type_name, (*seen, name))
        return out

    def _model_default(self, model: ModelInfo) -> Selection:
        out: Selection = {}
        for f in model.fields.values():
            if _is_leaf(f):
                out[f.name] = None
            elif f.kind == "nonModel":
                out[f.name] = self._non_model_default(f.type_name)
        for owner in model.owner_fields:
            out.setdefault(owner, None)
        return out

    # -- custom selection sets ---------------------------------------------------------------
    def _path(self, path: str, type_name: str) -> Selection:
        field_name, _, rest = path.partition(".")
        model = self.schema.models.get(type_name)
        non_model = None if model is not None else self.schema.non_models.get(type_name)
        fields: Mapping[str, FieldInfo] = (model.fields if model is not None
                                           else non_model.fields if non_model is not None else {})
        f = fields.get(field_name)
        nested = rest.split(".", 1)[0] if rest else ""
        if f is not None and f.kind == "nonModel":
            if not nested:
                raise ValueError(
                    f"{field_name} must declare a wildcard (*) or a field of custom type {f.type_name}")
            if nested == WILDCARD:
                return {field_name: self._non_model_default(f.type_name)}
            return {field_name: self._path(rest, f.type_name)}
        if f is not None and f.kind == "model" and f.type_name in self.schema.models:
            if not nested:
                raise ValueError(
                    f"{field_name} must declare a wildcard (*) or a field of model {f.type_name}")
            if nested == WILDCARD:
                inner = self._model_default(self.schema.models[f.type_name])
            else:
                inner = self._path(rest, f.type_name)
            return {field_name: {"items": inner} if f.is_array else inner}
        if non_model is not None:
            if f is None:
                raise ValueError(f"{field_name} is not a field of custom type {type_name}")
        elif f is None and (model is None or field_name not in model.owner_fields):
            raise ValueError(f"{field_name} is not a field of model {type_name}")
        if rest:
            raise ValueError(f"{field_name} has no fields to select ({path!r} in {type_name})")
        return {field_name: None}

    def selection(self, model: ModelInfo, paths: Sequence[str] | None) -> Selection:
        if paths is None:
            paths = self.default_paths(model)
        if isinstance(paths, str):
            raise TypeError("selection_set must be a list of field paths, e.g. ['id', 'content']")
        merged: Selection = {}
        for p in paths:
            _merge(self._path(p, model.name), merged)
        return merged

    # -- documents ---------------------------------------------------------------------------
    def _document(self, model_name: str, operation: ModelOperation,
                  selection_set: tuple[str, ...] | None, query_field: str | None = None) -> str:
        model = self.schema.models[model_name]
        fields = model.fields
        sel = _selection_string(self.selection(model, selection_set))
        list_sel = f"items {{ {sel} }} nextToken __typename"
        name = _cap(model.name)
        plural = _cap(model.plural_name)

        def field_type(f: str) -> str:
            info = fields.get(f)
            return "ID" if info is None else info.type_name

        args: dict[str, str]
        if operation in ("create", "update", "delete"):
            op_type, root = "mutation", f"{operation}{name}"
            args = {"input": f"{_cap(operation)}{name}Input!"}
            body = sel
        elif operation == "get":
            op_type, root = "query", f"get{name}"
            args = {model.primary_key: f"{field_type(model.primary_key)}!"}
            if model.is_custom_primary_key:
                for sk in model.sort_keys:
                    args[sk] = f"{field_type(sk)}!"
            body = sel
        elif operation in ("list", "sorted_list"):
            op_type, root = "query", f"list{plural}"
            args = {}
            if model.is_custom_primary_key:
                args[model.primary_key] = field_type(model.primary_key)
                args["sortDirection"] = "ModelSortDirection"
                if model.sort_keys:
                    args[sort_key_arg_name(model.sort_keys)] = self._sk_type(
                        model, model.sort_keys, f"Model{_cap(model.name)}PrimaryCompositeKeyConditionInput")
            args.update(filter=f"Model{name}FilterInput", limit="Int", nextToken="String")
            if operation == "sorted_list":
                args.pop("sortDirection", None)    # the direction goes with each sortBy field
                args["sortBy"] = f"[Model{name}SortInput!]"
            body = list_sel
        elif operation == "index":
            assert query_field is not None
            index = model.index(query_field)
            assert index is not None
            op_type, root = "query", query_field
            args = {index.pk: f"{field_type(index.pk)}!"}
            if index.sk:
                args[sort_key_arg_name(index.sk)] = self._sk_type(
                    model, index.sk,
                    f"Model{_cap(model.name)}{_cap(index.name)}CompositeKeyConditionInput")
            args.update(filter=f"Model{name}FilterInput", sortDirection="ModelSortDirection",
                        limit="Int", nextToken="String")
            body = list_sel
        else:  # pragma: no cover - guarded by the callers
            raise ValueError(f"unknown model operation {operation!r}")
        var_defs = ",".join(f"${a}: {t}" for a, t in args.items())
        call_args = ",".join(f"{a}: ${a}" for a in args)
        return print_document(f"{op_type}({var_defs}) {{ {root}({call_args}) {{ {body} }} }}")

    def custom_document(self, op: OperationInfo) -> str:
        """``query($a: String!) { echo(a: $a) <sel> }`` for a custom operation (Amplify's custom.ts):
        no selection for scalar and enum results, the default selection of the returned model or
        custom type otherwise."""
        key = (op.kind, op.name)
        doc = self._custom.get(key)
        if doc is None:
            outer = ", ".join(f"${a}: {custom_argument_type(f)}" for a, f in op.arguments.items())
            inner = ", ".join(f"{a}: ${a}" for a in op.arguments)
            ret = op.returns
            sel = ""
            if ret.kind == "model" and ret.type_name in self.schema.models:
                sel = _selection_string(self.selection(self.schema.models[ret.type_name], None))
            elif ret.kind == "nonModel":
                sel = _selection_string(self._non_model_default(ret.type_name))
            doc = self._custom[key] = print_document(
                f"{op.kind}{f'({outer})' if outer else ''} {{ {op.name}{f'({inner})' if inner else ''}"
                f"{f' {{ {sel} }}' if sel else ''} }}")
        return doc

    @staticmethod
    def _sk_type(model: ModelInfo, sort_keys: Sequence[str], composite: str) -> str:
        if len(sort_keys) == 1:
            f = model.fields.get(sort_keys[0])
            scalar = f.type_name if f is not None and f.kind == "scalar" else "String"
            return f"Model{_SK_TYPE.get(scalar, 'String')}KeyConditionInput"
        return composite


def _merge(source: Selection, target: Selection) -> None:
    for key, value in source.items():
        existing = target.get(key)
        if key in target and isinstance(existing, dict):
            if isinstance(value, dict):
                _merge(value, existing)
        else:
            target[key] = value


def _selection_string(sel: Selection) -> str:
    parts: list[str] = []
    for name, sub in sel.items():
        if sub is None:
            parts.append(name)
        elif sub:  # an empty nested selection cannot be printed; Amplify drops it too
            parts.append(f"{name} {{ {_selection_string(sub)} }}")
    return " ".join(parts)


# ------------------------------------------------------------------------------------------------
# Variables


def custom_argument_type(f: FieldInfo) -> str:
    """A custom operation argument's GraphQL type, from the MIS: ``isRequired`` makes the element
    non-null, arrays are non-null lists unless ``isArrayNullable``; custom types are sent as their
    ``<Name>Input`` type, ``{input: Name}`` as ``Name``."""
    name = f.type_name + "Input" if f.kind == "nonModel" else f.type_name
    base = name + ("!" if f.is_required else "")
    if f.is_array:
        return f"[{base}]" + ("" if f.is_array_nullable else "!")
    return base


def custom_variables(op: OperationInfo, args: Mapping[str, Any] | None) -> dict[str, Any]:
    """The variables of a custom operation call: the arguments given, checked against the MIS."""
    if args is None:
        args = {}
    if not isinstance(args, Mapping):
        example = ", ".join(f"{a!r}: ..." for a in op.arguments) or ""
        raise TypeError(f"{op.name}() takes its arguments as a dict ({{{example}}}), "
                        f"not {type(args).__name__}")
    unknown = [k for k in args if k not in op.arguments]
    if unknown:
        known = ", ".join(op.arguments) or "none"
        raise TypeError(f"{op.name}() got unexpected argument(s) {', '.join(map(repr, unknown))}; "
                        f"its arguments are: {known}")
    variables: dict[str, Any] = {}
    for name, f in op.arguments.items():
        if name in args:
            variables[name] = args[name]
        elif f.is_required:
            raise ValueError(f"{op.name} requires arguments '{name}'")
    return variables


def js_truthy(value: Any) -> bool:
    """JavaScript truthiness, which decides which list variables Amplify sends (``limit=0`` is
    dropped, an empty filter ``{}`` is sent)."""
    if value is None or value is False:
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, str):
        return value != ""
    return True


def normalize_mutation_input(schema: SchemaInfo, model: ModelInfo,
                             data: Mapping[str, Any]) -> dict[str, Any]:
    """Relationship objects given for belongsTo/hasOne fields become their foreign-key fields."""
    out: dict[str, Any] = {}
    for key, value in Mapping.items(data):  # not data.items(): a record may have a field named `items`
        f = model.fields.get(key)
        if f is None or f.kind != "model":
            out[key] = value
            continue
        related = schema.models.get(f.type_name)
        assoc = f.association
        if related is None or assoc is None:
            continue

        def pick(obj: Any, k: str) -> Any:
            return Mapping.get(obj, k) if isinstance(obj, Mapping) else None

        if assoc.connection_type == "HAS_ONE":
            for target, source in zip(assoc.target_names, assoc.associated_with, strict=False):
                out[target] = pick(value, source)
        elif assoc.connection_type == "BELONGS_TO":
            related_keys = related.identifier
            for i, target in enumerate(assoc.target_names):
                if i < len(related_keys):
                    out[target] = pick(value, related_keys[i])
        # hasMany children cannot be written through the parent: dropped, as Amplify does.
    return out


def mutation_variables(schema: SchemaInfo, model: ModelInfo, operation: str,
                       data: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise TypeError(f"{model.name}.{operation}() takes a dict of fields, not {type(data).__name__}")
    if operation == "delete":
        return {"input": identifier_variables(model, data, "delete")}
    normalized = normalize_mutation_input(schema, model, data)
    if operation == "update":
        normalized = {
            k: v for k, v in normalized.items()
            if not ((f := model.fields.get(k)) is not None and f.is_read_only)
            and not (k not in model.fields and k in model.owner_fields)
        }
    return {"input": normalized}


def identifier_variables(model: ModelInfo, identifier: Mapping[str, Any], operation: str) -> dict[str, Any]:
    if not isinstance(identifier, Mapping):
        raise TypeError(f"{model.name}.{operation}() takes the identifier as a dict, e.g. "
                        f"{{{', '.join(repr(k) + ': ...' for k in model.identifier)}}}")
    keys = model.identifier if model.is_custom_primary_key else (model.primary_key,)
    missing = [k for k in keys if Mapping.get(identifier, k) is None]
    if missing:
        raise ValueError(f"{model.name}.{operation}() needs the identifier field(s) "
                         f"{', '.join(repr(k) for k in missing)}")
    return {k: identifier[k] for k in keys}


# -- sorting (Cove servers: any field, via sortBy)

SORT_DIRECTIONS = ("ASC", "DESC")


def _orderable(f: FieldInfo) -> bool:
    return f.kind in ("scalar", "enum") and not f.is_array and f.type_name != "AWSJSON"


def orderable_fields(model: ModelInfo) -> list[str]:
    return [f.name for f in model.fields.values() if _orderable(f)] + [
        o for o in model.owner_fields if o not in model.fields]


def check_sort_direction(model: ModelInfo, sort_direction: Any, *, sorted_by: bool, method: str) -> None:
    """An unknown direction, or one that cannot apply (no sort key and no ``sort_by``), is an error."""
    if sort_direction is None:
        return
    if sort_direction not in SORT_DIRECTIONS:
        raise ValueError(f"{model.name}.{method}(): sort_direction must be 'ASC' or 'DESC', got {sort_direction!r}")
    if not sorted_by and not model.sort_keys and method == "list":
        raise ValueError(f"{model.name}.list(): sort_direction applies to a model with a sort key, or with "
                         f"sort_by; {model.name} has neither (pass sort_by='field')")


def sort_by_variable(model: ModelInfo, sort_by: str | Sequence[str], sort_direction: str | None
                     ) -> list[dict[str, str]]:
    """``sortBy``'s value: each field with the one direction given (ASC by default)."""
    names = [sort_by] if isinstance(sort_by, str) else list(sort_by)
    if not names:
        raise ValueError(f"{model.name}.list(): sort_by names no field")
    allowed = orderable_fields(model)
    for name in names:
        if name not in allowed:
            raise ValueError(f"{model.name}.list(): cannot sort by {name!r}; sort by one of {', '.join(allowed)}")
    if len(set(names)) != len(names):
        raise ValueError(f"{model.name}.list(): sort_by names a field twice")
    return [{"field": name, "direction": sort_direction or "ASC"} for name in names]



def list_variables(model: ModelInfo, *, filter: Any, limit: Any, next_token: Any, sort_direction: Any,
                   key_args: Mapping[str, Any], sort_by: str | Sequence[str] | None = None) -> dict[str, Any]:
    allowed = set()
    if model.is_custom_primary_key:
        allowed.add(model.primary_key)
        if model.sort_keys:
            allowed.add(sort_key_arg_name(model.sort_keys))
    unknown = sorted(set(key_args) - allowed)
    if unknown:
        hint = (f"; key arguments of {model.name}.list() are {', '.join(sorted(allowed))}" if allowed
                else "")
        raise TypeError(f"{model.name}.list() got unexpected keyword argument(s) "
                        f"{', '.join(unknown)}{hint}")
    check_sort_direction(model, sort_direction, sorted_by=sort_by is not None, method="list")
    out: dict[str, Any] = {}
    if filter is not None:
        out["filter"] = filter
    if sort_by is not None:
        out["sortBy"] = sort_by_variable(model, sort_by, sort_direction)
    elif js_truthy(sort_direction):
        out["sortDirection"] = sort_direction
    if model.is_custom_primary_key:
        if js_truthy(key_args.get(model.primary_key)):
            out[model.primary_key] = key_args[model.primary_key]
        if model.sort_keys:
            sk = sort_key_arg_name(model.sort_keys)
            if js_truthy(key_args.get(sk)):
                out[sk] = key_args[sk]
    if js_truthy(next_token):
        out["nextToken"] = next_token
    if js_truthy(limit):
        out["limit"] = limit
    return out


def index_variables(model: ModelInfo, index: IndexInfo, keys: Mapping[str, Any], *, filter: Any,
                    limit: Any, next_token: Any, sort_direction: Any) -> dict[str, Any]:
    sk = sort_key_arg_name(index.sk) if index.sk else None
    allowed = {index.pk} | ({sk} if sk else set())
    unknown = sorted(set(keys) - allowed)
    if unknown:
        raise TypeError(f"{model.name}.{index.query_field}() got unexpected key argument(s) "
                        f"{', '.join(unknown)}; it takes {', '.join(sorted(allowed))}")
    if keys.get(index.pk) is None:
        raise ValueError(f"{model.name}.{index.query_field}() needs the partition key {index.pk!r}")
    check_sort_direction(model, sort_direction, sorted_by=False, method=index.query_field)
    out: dict[str, Any] = {index.pk: keys[index.pk]}
    if sk and js_truthy(keys.get(sk)):
        out[sk] = keys[sk]
    if filter is not None:
        out["filter"] = filter
    if js_truthy(sort_direction):
        out["sortDirection"] = sort_direction
    if js_truthy(next_token):
        out["nextToken"] = next_token
    if js_truthy(limit):
        out["limit"] = limit
    return out
