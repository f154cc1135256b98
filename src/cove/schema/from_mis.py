"""Model introspection (MIS v1) -> internal schema: the second way in.

An `amplify_outputs.json` written by Amplify for a backend defined in TypeScript carries the MIS of
its data models; Cove can serve that backend locally from it (`cove sandbox amplify_outputs.json`).
Custom operations come without their handlers, so they answer with an error until given one
(``--handlers``, see handlers.py).
"""

from __future__ import annotations

from typing import Any

from .compile import implicit_auth_fields, validate_relations
from .define import AUTH_MODE_ALIASES
from .handlers import infer_subscription_sources
from .model import (
    SCALARS,
    AuthorizationModes,
    AuthRule,
    AuthSettings,
    CustomOperation,
    CustomType,
    Enum,
    Field,
    Model,
    PasswordPolicy,
    Relation,
    Schema,
    SchemaError,
    SecondaryIndex,
    TypeRef,
)

_DISABLE_GROUPS = {"queries": ("get", "list"), "mutations": ("create", "update", "delete"),
                   "subscriptions": ("onCreate", "onUpdate", "onDelete")}


def _type(raw: Any, where: str) -> TypeRef:
    if isinstance(raw, str):
        if raw not in SCALARS:
            raise SchemaError(f"{where}: unknown scalar type {raw!r}")
        return TypeRef("scalar", raw)
    if isinstance(raw, dict):
        for key, kind in (("enum", "enum"), ("nonModel", "custom"), ("model", "model"), ("input", "input")):
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
            # Two shapes: the related record holds the key (`associatedWith: ["customerId"]`), or, in
            # the older one, this record does (`associatedWith: ["id"], targetNames: ["todoMetaId"]`).
            f.relation = Relation("has_one", ref.name, tuple(assoc.get("associatedWith") or ()),
                                  tuple(assoc.get("targetNames") or ()))
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


def _model(name: str, raw: dict[str, Any], default_rule: AuthRule) -> Model:
    where = name
    fields: dict[str, Field] = {}
    for fname, fraw in (raw.get("fields") or {}).items():
        fields[fname] = _field({"name": fname, **fraw}, where)
    pk = raw.get("primaryKeyInfo") or {}
    identifier: tuple[str, ...] = (pk.get("primaryKeyFieldName") or "id", *(pk.get("sortKeyFieldNames") or ()))
    disabled: set[str] = set()
    indexes: list[SecondaryIndex] = []
    rules: list[AuthRule] = []
    timestamps: tuple[str | None, str | None] = ("createdAt", "updatedAt")
    searchable: tuple[str, ...] = ()
    for attr in raw.get("attributes") or ():
        kind = attr.get("type")
        props = attr.get("properties") or {}
        if kind == "model":
            for group, ops in _DISABLE_GROUPS.items():
                if group in props and props[group] is None:
                    disabled.add(group)
                elif isinstance(props.get(group), dict):
                    disabled.update(op for op in ops if op in props[group] and props[group][op] is None)
            timestamps = _timestamps(props, timestamps, where)
        elif kind == "key" and props.get("name"):
            keys = tuple(props.get("fields") or ())
            if not keys:
                raise SchemaError(f"{where}: index {props['name']} has no fields")
            indexes.append(SecondaryIndex(keys[0], keys[1:], props["name"], props.get("queryField")))
        elif kind == "key":
            identifier = tuple(props.get("fields") or identifier)
        elif kind == "auth":
            rules = [_rule(r, where) for r in props.get("rules") or ()]
        elif kind == "searchable":   # Cove's own attribute (outputs a Cove server wrote)
            searchable = tuple(str(f) for f in props.get("fields") or ())
            unknown = [f for f in searchable if f not in fields]
            if unknown:
                raise SchemaError(f"{where}: searchable field {unknown[0]!r} is not a field of the model")
    for ts in (t for t in timestamps if t is not None):
        f = fields.get(ts)
        if f is None:
            fields[ts] = Field(ts, TypeRef("scalar", "AWSDateTime"), required=True, read_only=True, implicit=True)
        elif f.read_only:
            f.required = True  # server-set: never null in responses
            f.implicit = True
    if "id" in fields and identifier == ("id",):
        fields["id"].implicit = True
    if not rules:
        # No auth attribute: AppSync gives the model to the API's default authorization mode.
        rules = [AuthRule(**vars(default_rule))]
    model = Model(name, raw.get("pluralName") or name + "s", fields, identifier, indexes, frozenset(disabled), rules,
                  created_at=timestamps[0], updated_at=timestamps[1], searchable=searchable)
    for rule in rules:
        # Declared owner/group fields that are lists (ownersDefinedIn / groupsDefinedIn) match by membership.
        if rule.owner_field and rule.owner_field in fields:
            rule.owner_is_list = fields[rule.owner_field].is_array
        if rule.groups_field and rule.groups_field in fields:
            rule.groups_field_is_list = fields[rule.groups_field].is_array
    implicit_auth_fields(model)
    return model


def _timestamps(props: dict[str, Any], current: tuple[str | None, str | None],
                where: str) -> tuple[str | None, str | None]:
    """``@model(timestamps: ...)``: null disables both; a mapping renames (or, with null, drops) each."""
    if "timestamps" not in props:
        return current
    value = props["timestamps"]
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise SchemaError(f"{where}: model attribute timestamps must be null or an object, got {value!r}")
    return value.get("createdAt", "createdAt"), value.get("updatedAt", "updatedAt")


# A model without an auth attribute, and a custom operation (whose rules the introspection does not
# carry), belong to the API's default authorization mode.
_DEFAULT_RULES = {"apiKey": ("public", "apiKey"), "userPool": ("private", "userPools"),
                  "iam": ("private", "identityPool"), "identityPool": ("private", "identityPool"),
                  "oidc": ("private", "oidc"), "lambda": ("custom", "function")}


def default_mode_rule(mode: str) -> AuthRule:
    strategy, provider = _DEFAULT_RULES[mode]
    return AuthRule(strategy, provider)  # type: ignore[arg-type]


def _operation(kind: str, name: str, raw: dict[str, Any], rules: list[AuthRule]) -> CustomOperation:
    returns = _field({"name": "returns", **{k: v for k, v in raw.items() if k != "arguments"}}, name)
    args = {}
    for key, araw in (raw.get("arguments") or {}).items():
        arg = _field({"name": key, **araw}, name)
        args[arg.name] = arg
    return CustomOperation(kind, name, args, returns, [AuthRule(**vars(r)) for r in rules])  # type: ignore[arg-type]


def _operation_rules(modes: AuthorizationModes) -> list[AuthRule]:
    """The introspection does not carry a custom operation's rules: every enabled mode may call it (the
    handler decides), as the operation's own `.authorization()` would have to allow its callers."""
    rules = [default_mode_rule(mode) for mode in modes.enabled()]
    if not any(r.provider == "identityPool" for r in rules):
        rules.append(AuthRule("private", "identityPool"))
    return rules


def schema_from_mis(mis: dict[str, Any], *, default_mode: str = "API_KEY",
                    additional_modes: list[str] | tuple[str, ...] = ()) -> Schema:
    """Build Cove's schema from a model introspection object (``data.model_introspection``).

    ``default_mode`` / ``additional_modes``: the outputs' ``default_authorization_type`` and
    ``authorization_types`` (AppSync's names)."""
    if not isinstance(mis, dict) or mis.get("version") != 1:
        raise SchemaError("model introspection must be an object with version 1")
    modes = AuthorizationModes(default=AUTH_MODE_ALIASES.get(default_mode, "apiKey"), default_given=True)
    modes.user_pool = "AMAZON_COGNITO_USER_POOLS" in (default_mode, *additional_modes)
    modes.unserved = tuple(m for m in (default_mode, *additional_modes) if m in ("OPENID_CONNECT", "AWS_LAMBDA"))
    schema = Schema(authorization_modes=modes)
    for name, raw in (mis.get("enums") or {}).items():
        schema.enums[name] = Enum(name, tuple(raw.get("values") or ()))
    for name, raw in (mis.get("nonModels") or {}).items():
        schema.custom_types[name] = CustomType(
            name, {f: _field({"name": f, **fr}, name) for f, fr in (raw.get("fields") or {}).items()})
    for name, raw in (mis.get("inputs") or {}).items():
        # Amplify lists an input type's fields under "attributes".
        fields = raw.get("attributes") or raw.get("fields") or {}
        schema.input_types[name] = CustomType(name, {f: _field({"name": f, **fr}, name) for f, fr in fields.items()})
    default_rule = default_mode_rule(modes.default)
    for name, raw in (mis.get("models") or {}).items():
        schema.models[name] = _model(name, raw, default_rule)
    op_rules = _operation_rules(modes)
    for kind, key, target in (("query", "queries", schema.queries), ("mutation", "mutations", schema.mutations),
                              ("subscription", "subscriptions", schema.subscriptions)):
        for name, raw in (mis.get(key) or {}).items():
            target[name] = _operation(kind, name, raw, op_rules)
    _check_types(schema)
    _resolve_associated_fields(schema)
    validate_relations(schema)
    infer_subscription_sources(schema)
    schema.source_mis = mis
    return schema


def _resolve_associated_fields(schema: Schema) -> None:
    """Older introspections name the child's belongsTo field in `associatedWith` (``["todo"]``) where
    newer ones name its key fields: follow the field to its `targetNames`."""
    for model in schema.models.values():
        for f in model.fields.values():
            rel = f.relation
            if rel is None or rel.parent_holds_key or len(rel.references) != 1:
                continue
            named = schema.models[rel.related_model].fields.get(rel.references[0]) \
                if rel.related_model in schema.models else None
            if named is not None and named.relation is not None and named.relation.kind == "belongs_to":
                f.relation = Relation(rel.kind, rel.related_model, named.relation.references)


def _check_types(schema: Schema) -> None:
    """Every enum, custom type and input a field names exists (a clear error, not a GraphQL one later)."""
    known: dict[str, dict[str, Any]] = {"enum": schema.enums, "custom": schema.custom_types,
                                        "input": schema.input_types, "model": schema.models}
    holders: list[tuple[str, dict[str, Field]]] = [(m.name, m.fields) for m in schema.models.values()]
    holders += [(t.name, t.fields) for t in (*schema.custom_types.values(), *schema.input_types.values())]
    for ops in (schema.queries, schema.mutations, schema.subscriptions):
        for op in ops.values():
            holders.append((op.name, {**op.arguments, **({"returns": op.returns} if op.returns else {})}))
    for owner, fields in holders:
        for f in fields.values():
            if f.type.kind != "scalar" and f.type.name not in known[f.type.kind]:
                raise SchemaError(f"{owner}.{f.name}: {f.type.kind} type {f.type.name!r} is not defined "
                                  f"in the model introspection")


def schema_from_outputs(outputs: dict[str, Any]) -> Schema:
    data = outputs.get("data")
    if not isinstance(data, dict) or "model_introspection" not in data:
        raise SchemaError("this amplify_outputs.json has no data.model_introspection to serve")
    schema = schema_from_mis(data["model_introspection"],
                             default_mode=data.get("default_authorization_type", "API_KEY"),
                             additional_modes=tuple(data.get("authorization_types") or ()))
    if isinstance(outputs.get("auth"), dict):
        attach_auth_block(schema, outputs["auth"])
    elif schema.authorization_modes.user_pool:
        schema.auth = AuthSettings()  # user-pool rules need a pool to sign in with: Cognito's defaults
    return schema


_POLICY_KEYS = ("min_length", "require_lowercase", "require_uppercase", "require_numbers", "require_symbols")


def attach_auth_block(schema: Schema, auth: dict[str, Any]) -> None:
    """The outputs' ``auth`` block -> the local user pool and identity pool that stand in for it:
    username attributes, groups (in precedence order), password policy, guest access. MFA is not
    served locally (``mfa_configuration`` is reported, see `AuthSettings.mfa_requested`)."""
    login = tuple(a for a in auth.get("username_attributes") or () if a in ("email", "phone_number"))
    groups: list[tuple[int, str]] = []
    for i, entry in enumerate(auth.get("groups") or ()):
        if isinstance(entry, dict):
            for gname, props in entry.items():
                precedence = props.get("precedence", i) if isinstance(props, dict) else i
                groups.append((precedence if isinstance(precedence, int) else i, str(gname)))
        elif isinstance(entry, str):
            groups.append((i, entry))
    policy = PasswordPolicy()
    raw_policy = auth.get("password_policy") or {}
    for key in _POLICY_KEYS:
        value = raw_policy.get(key)
        if key == "min_length" and isinstance(value, int) and not isinstance(value, bool) and 6 <= value <= 99:
            policy.min_length = value
        elif key != "min_length" and isinstance(value, bool):
            setattr(policy, key, value)
    schema.auth = AuthSettings(login_with=login or ("email",), groups=tuple(g for _, g in sorted(groups)),
                               allow_guest_access=bool(auth.get("unauthenticated_identities_enabled")),
                               password_policy=policy, mfa_requested=str(auth.get("mfa_configuration") or "NONE"))
    schema.authorization_modes.user_pool = True
