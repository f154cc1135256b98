"""Model introspection (MIS v1) -> internal schema: the second way in.

An `amplify_outputs.json` written by Amplify for a backend defined in TypeScript carries the MIS of
its data models; Cove can serve that backend locally from it (`cove sandbox amplify_outputs.json`).
Custom operations come without their handlers, so they answer with an error until given one.
"""

from __future__ import annotations

from typing import Any

from .dsl import SchemaError, _implicit_auth_fields, _validate_relations
from .model import (
    SCALARS,
    AuthorizationModes,
    AuthRule,
    CustomOperation,
    CustomType,
    Enum,
    Field,
    Model,
    Relation,
    Schema,
    SecondaryIndex,
    TypeRef,
)

_MODE_FROM_APPSYNC = {"API_KEY": "apiKey", "AMAZON_COGNITO_USER_POOLS": "userPool", "AWS_IAM": "iam",
                      "OPENID_CONNECT": "oidc", "AWS_LAMBDA": "lambda"}
_DISABLE_GROUPS = {"queries": ("get", "list"), "mutations": ("create", "update", "delete"),
                   "subscriptions": ("onCreate", "onUpdate", "onDelete")}


def _type(raw: Any, where: str) -> TypeRef:
    if isinstance(raw, str):
        if raw not in SCALARS:
            raise SchemaError(f"{where}: unknown scalar type {raw!r}")
        return TypeRef("scalar", raw)
    if isinstance(raw, dict):
        for key, kind in (("enum", "enum"), ("nonModel", "custom"), ("model", "model"), ("input", "custom")):
            if key in raw:
                return TypeRef(kind, str(raw[key]))  # type: ignore[arg-type]
    raise SchemaError(f"{where}: unrecognised type {raw!r}")


def _field(raw: dict[str, Any], where: str) -> Field:
    name = raw.get("name")
    if not isinstance(name, str):
        raise SchemaError(f"{where}: a field without a name")
    ref = _type(raw.get("type"), f"{where}.{name}")
    is_array = bool(raw.get("isArray"))
    f = Field(name, ref, required=bool(raw.get("isRequired")), is_array=is_array,
              array_required=is_array and not raw.get("isArrayNullable", True),
              read_only=bool(raw.get("isReadOnly")))
    for attr in raw.get("attributes") or ():
        if isinstance(attr, dict) and attr.get("type") == "auth":
            f.rules = [_rule(r, f"{where}.{name}") for r in (attr.get("properties") or {}).get("rules") or ()]
    assoc = raw.get("association")
    if isinstance(assoc, dict):
        kind = assoc.get("connectionType")
        if kind == "HAS_MANY":
            f.relation = Relation("has_many", ref.name, tuple(assoc.get("associatedWith") or ()))
        elif kind == "BELONGS_TO":
            f.relation = Relation("belongs_to", ref.name, tuple(assoc.get("targetNames") or ()))
        elif kind == "HAS_ONE":
            f.relation = Relation("has_one", ref.name, tuple(assoc.get("associatedWith") or ()))
        else:
            raise SchemaError(f"{where}.{name}: unknown connectionType {kind!r}")
    return f


def _rule(raw: dict[str, Any], where: str) -> AuthRule:
    allow = raw.get("allow")
    provider = raw.get("provider") or {"public": "apiKey", "private": "userPools", "owner": "userPools",
                                       "groups": "userPools", "custom": "function"}.get(str(allow))
    if provider == "iam":
        provider = "identityPool"
    if allow not in ("public", "private", "owner", "groups", "custom") or provider is None:
        raise SchemaError(f"{where}: unsupported auth rule {raw!r}")
    ops = tuple(raw.get("operations") or ("create", "update", "delete", "read"))
    rule = AuthRule(allow, provider, ops)  # type: ignore[arg-type]
    if allow == "owner":
        rule.owner_field = raw.get("ownerField") or "owner"
        claim = raw.get("identityClaim")
        # Codegen writes cognito:username for the default owner rule; the server's default is sub::username.
        rule.identity_claim = None if claim in (None, "cognito:username", "username") else claim
    if allow == "groups":
        rule.groups = tuple(raw.get("groups") or ())
        rule.groups_field = raw.get("groupsField")
        rule.group_claim = raw.get("groupClaim") or "cognito:groups"
    return rule


def _model(name: str, raw: dict[str, Any]) -> Model:
    where = name
    fields: dict[str, Field] = {}
    for fname, fraw in (raw.get("fields") or {}).items():
        fields[fname] = _field({"name": fname, **fraw}, where)
    pk = raw.get("primaryKeyInfo") or {}
    identifier: tuple[str, ...] = (pk.get("primaryKeyFieldName") or "id", *(pk.get("sortKeyFieldNames") or ()))
    disabled: set[str] = set()
    indexes: list[SecondaryIndex] = []
    rules: list[AuthRule] = []
    for attr in raw.get("attributes") or ():
        kind = attr.get("type")
        props = attr.get("properties") or {}
        if kind == "model":
            for group, ops in _DISABLE_GROUPS.items():
                if group in props and props[group] is None:
                    disabled.add(group)
                elif isinstance(props.get(group), dict):
                    disabled.update(op for op in ops if op in props[group] and props[group][op] is None)
        elif kind == "key" and props.get("name"):
            keys = tuple(props.get("fields") or ())
            if not keys:
                raise SchemaError(f"{where}: index {props['name']} has no fields")
            indexes.append(SecondaryIndex(keys[0], keys[1:], props["name"], props.get("queryField")))
        elif kind == "key":
            identifier = tuple(props.get("fields") or identifier)
        elif kind == "auth":
            rules = [_rule(r, where) for r in props.get("rules") or ()]
    for ts in ("createdAt", "updatedAt"):
        f = fields.get(ts)
        if f is None:
            fields[ts] = Field(ts, TypeRef("scalar", "AWSDateTime"), required=True, read_only=True, implicit=True)
        elif f.read_only:
            f.required = True  # server-set: never null in responses
            f.implicit = True
    if "id" in fields and identifier == ("id",):
        fields["id"].implicit = True
    if not rules:
        raise SchemaError(f"Model {name} has no auth attribute in the model introspection")
    model = Model(name, raw.get("pluralName") or name + "s", fields, identifier, indexes, frozenset(disabled), rules)
    _implicit_auth_fields(model)
    return model


def _operation(kind: str, name: str, raw: dict[str, Any]) -> CustomOperation:
    returns = _field({"name": "returns", **{k: v for k, v in raw.items() if k != "arguments"}}, name)
    args = {a: _field({"name": a, **araw}, name) for a, araw in (raw.get("arguments") or {}).items()}
    return CustomOperation(kind, name, args, returns, [AuthRule("private", "identityPool")])  # type: ignore[arg-type]


def schema_from_mis(mis: dict[str, Any], *, default_mode: str = "API_KEY") -> Schema:
    """Build Cove's schema from a model introspection object (``data.model_introspection``)."""
    if not isinstance(mis, dict) or mis.get("version") != 1:
        raise SchemaError("model introspection must be an object with version 1")
    schema = Schema(authorization_modes=AuthorizationModes(default=_MODE_FROM_APPSYNC.get(default_mode, "apiKey")))
    for name, raw in (mis.get("enums") or {}).items():
        schema.enums[name] = Enum(name, tuple(raw.get("values") or ()))
    for name, raw in (mis.get("nonModels") or {}).items():
        schema.custom_types[name] = CustomType(
            name, {f: _field({"name": f, **fr}, name) for f, fr in (raw.get("fields") or {}).items()})
    for name, raw in (mis.get("models") or {}).items():
        schema.models[name] = _model(name, raw)
    for kind, key, target in (("query", "queries", schema.queries), ("mutation", "mutations", schema.mutations)):
        for name, raw in (mis.get(key) or {}).items():
            target[name] = _operation(kind, name, raw)
    _validate_relations(schema)
    return schema


def schema_from_outputs(outputs: dict[str, Any]) -> Schema:
    data = outputs.get("data")
    if not isinstance(data, dict) or "model_introspection" not in data:
        raise SchemaError("this amplify_outputs.json has no data.model_introspection to serve")
    return schema_from_mis(data["model_introspection"], default_mode=data.get("default_authorization_type", "API_KEY"))
