"""Internal schema -> model introspection schema (MIS v1), as Amplify's codegen writes it."""

from __future__ import annotations

from typing import Any

from .model import AuthRule, CustomOperation, Field, Model, Schema


def _type(field: Field) -> Any:
    t = field.type
    if t.kind == "scalar":
        return t.name
    if t.kind == "enum":
        return {"enum": t.name}
    if t.kind == "custom":
        return {"nonModel": t.name}
    return {"model": t.name}


def field_mis(field: Field) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": field.name,
        "isArray": field.is_array,
        "type": _type(field),
        "isRequired": field.required,
        "attributes": [{"type": "auth", "properties": {"rules": [rule_mis(r) for r in field.rules]}}]
        if field.rules else [],
    }
    if field.is_array:
        out["isArrayNullable"] = not field.array_required
    if field.read_only:
        out["isReadOnly"] = True
        out["isRequired"] = False  # Amplify's codegen marks server-set timestamps as not required
    rel = field.relation
    if rel is not None:
        if rel.kind == "has_many":
            out["isArrayNullable"] = True
            out["association"] = {"connectionType": "HAS_MANY", "associatedWith": list(rel.references)}
        elif rel.kind == "belongs_to":
            out["association"] = {"connectionType": "BELONGS_TO", "targetNames": list(rel.references)}
        else:
            out["association"] = {"connectionType": "HAS_ONE", "associatedWith": list(rel.references),
                                  "targetNames": list(rel.target_names)}
    return out


def rule_mis(rule: AuthRule) -> dict[str, Any]:
    ops = list(rule.operations)
    out: dict[str, Any] = {"allow": rule.strategy, "provider": rule.provider}
    if rule.strategy == "owner":
        out["ownerField"] = rule.owner_field
        out["identityClaim"] = rule.identity_claim or "cognito:username"
    if rule.strategy == "groups":
        out["groupClaim"] = rule.group_claim
        if rule.groups_field:
            out["groupsField"] = rule.groups_field
        else:
            out["groups"] = list(rule.groups)
    out["operations"] = ops
    return out


def _model_properties(model: Model) -> dict[str, Any]:
    """The ``@model(...)`` arguments ``.disable_operations()`` produces, as Amplify's SchemaProcessor
    writes them (``modelAttributesFromDisabledOps``): a coarse group disabled -> ``None``; single
    operations -> ``{group: {op: None}}``. Only what was disabled explicitly is listed: a subscription
    that disappears because its mutation is disabled is not (clients derive that themselves)."""
    props: dict[str, Any] = {}
    d = model.disabled_operations
    groups = {"queries": ("get", "list"), "mutations": ("create", "update", "delete"),
              "subscriptions": ("onCreate", "onUpdate", "onDelete")}
    for group, ops in groups.items():
        if group in d:
            props[group] = None
            continue
        fine = {op: None for op in ops if op in d}
        if fine:
            props[group] = fine
    return props


def model_mis(model: Model) -> dict[str, Any]:
    # Implicit owner/group fields are not listed: clients derive them from the auth attribute.
    fields = {name: field_mis(f) for name, f in model.fields.items()
              if not (f.implicit and name not in ("id", "createdAt", "updatedAt"))}
    attributes: list[dict[str, Any]] = [{"type": "model", "properties": _model_properties(model)}]
    if model.is_custom_primary_key:
        attributes.append({"type": "key", "properties": {"fields": list(model.identifier)}})
    for ix in model.indexes:
        props: dict[str, Any] = {"name": ix.name, "fields": [ix.partition_key, *ix.sort_keys]}
        if ix.query_field:
            props["queryField"] = ix.query_field
        attributes.append({"type": "key", "properties": props})
    attributes.append({"type": "auth", "properties": {"rules": [rule_mis(r) for r in model.rules]}})
    if model.searchable:
        # Cove's own attribute (clients that do not know it skip it): the typed client's search().
        attributes.append({"type": "searchable", "properties": {"fields": list(model.searchable)}})
    return {
        "name": model.name,
        "fields": fields,
        "syncable": True,
        "pluralName": model.plural_name,
        "attributes": attributes,
        "primaryKeyInfo": {
            "isCustomPrimaryKey": model.is_custom_primary_key,
            "primaryKeyFieldName": model.primary_key,
            "sortKeyFieldNames": list(model.sort_keys),
        },
    }


def _operation_mis(op: CustomOperation) -> dict[str, Any]:
    ret = op.returns
    out: dict[str, Any] = {
        "name": op.name,
        "isArray": bool(ret and ret.is_array),
        "type": _type(ret) if ret else "AWSJSON",
        "isRequired": bool(ret and (ret.array_required if ret.is_array else ret.required)),
    }
    if ret is not None and ret.is_array:
        out["isArrayNullable"] = not ret.array_required
    if op.arguments:
        out["arguments"] = {}
        for a in op.arguments.values():
            arg = {"name": a.name, "isArray": a.is_array, "type": _type(a), "isRequired": a.required}
            if a.is_array:
                arg["isArrayNullable"] = not a.array_required
            out["arguments"][a.name] = arg
    return out


def to_mis(schema: Schema) -> dict[str, Any]:
    mis: dict[str, Any] = {
        "version": 1,
        "models": {name: model_mis(m) for name, m in schema.models.items()},
        "enums": {name: {"name": e.name, "values": list(e.values)} for name, e in schema.enums.items()},
        "nonModels": {
            name: {"name": ct.name, "fields": {f.name: field_mis(f) for f in ct.fields.values()}}
            for name, ct in schema.custom_types.items()
        },
    }
    for key, ops in (("queries", schema.queries), ("mutations", schema.mutations),
                     ("subscriptions", schema.subscriptions)):
        if ops:
            mis[key] = {name: _operation_mis(op) for name, op in ops.items()}
    return mis
