"""Amplify's schema vocabulary in Python: ``a.model``, ``a.string()``, ``allow.owner()`` ...

Builders are small mutable objects; ``define_data`` compiles them (via ``compile_schema``) into the
internal description in ``cove.schema.model`` and validates the result, naming the model and field
of anything that is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cove.identity.attributes import parse_declarations

from .model import (
    DISABLEABLE,
    FIELD_OPERATIONS,
    MODEL_OPERATIONS,
    READ_OPERATIONS,
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
    SecondaryIndex,
    TypeRef,
)


class SchemaError(ValueError):
    """An invalid schema definition. The message names the model and field at fault."""


# --------------------------------------------------------------------------------------------
# Authorization rules


_PROVIDER_ALIASES = {
    "user_pool": "userPools", "user_pools": "userPools", "userPool": "userPools", "userPools": "userPools",
    "identity_pool": "identityPool", "identityPool": "identityPool", "iam": "identityPool",
    "oidc": "oidc", "function": "function", "lambda": "function", "api_key": "apiKey", "apiKey": "apiKey",
}


def _provider(name: str, allowed: Iterable[str], rule: str) -> str:
    canonical = _PROVIDER_ALIASES.get(name)
    allowed = tuple(allowed)
    if canonical is None or canonical not in allowed:
        raise SchemaError(f"allow.{rule}(): provider {name!r} is not one of {', '.join(allowed)}")
    return canonical


class RuleBuilder:
    """Returned by every ``allow.*`` call; ``.to()``, ``.identity_claim()`` and ``.with_claim_in()``
    narrow it."""

    def __init__(self, rule: AuthRule, label: str) -> None:
        self._rule = rule
        self._label = label

    def to(self, operations: Iterable[str]) -> RuleBuilder:
        ops = tuple(operations)
        if not ops:
            raise SchemaError(f"allow.{self._label}().to([]): give at least one operation")
        for op in ops:
            if op not in MODEL_OPERATIONS:
                raise SchemaError(
                    f"allow.{self._label}().to(): unknown operation {op!r}; "
                    f"use any of {', '.join(MODEL_OPERATIONS)}")
        if "read" in ops and any(o in READ_OPERATIONS for o in ops):
            raise SchemaError(f"allow.{self._label}().to(): 'read' already includes get, list and listen")
        self._rule.operations = ops
        return self

    def identity_claim(self, claim: str) -> RuleBuilder:
        if self._rule.strategy != "owner":
            raise SchemaError(f"allow.{self._label}(): identity_claim() applies to owner rules only")
        self._rule.identity_claim = claim
        return self

    def with_claim_in(self, claim: str) -> RuleBuilder:
        if self._rule.strategy != "groups":
            raise SchemaError(f"allow.{self._label}(): with_claim_in() applies to group rules only")
        self._rule.group_claim = claim
        return self

    # camelCase spellings, for people porting Amplify code
    identityClaim = identity_claim
    withClaimIn = with_claim_in

    def build(self) -> AuthRule:
        return self._rule


class _Allow:
    """The ``allow`` object handed to ``.authorization(lambda allow: [...])``."""

    def public_api_key(self) -> RuleBuilder:
        return RuleBuilder(AuthRule("public", "apiKey"), "public_api_key")

    def guest(self) -> RuleBuilder:
        return RuleBuilder(AuthRule("public", "identityPool"), "guest")

    def authenticated(self, provider: str = "userPools") -> RuleBuilder:
        p = _provider(provider, ("userPools", "identityPool", "oidc"), "authenticated")
        return RuleBuilder(AuthRule("private", p), "authenticated")  # type: ignore[arg-type]

    def owner(self, provider: str = "userPools") -> RuleBuilder:
        p = _provider(provider, ("userPools", "oidc"), "owner")
        return RuleBuilder(AuthRule("owner", p, owner_field="owner"), "owner")  # type: ignore[arg-type]

    def owner_defined_in(self, field: str, provider: str = "userPools") -> RuleBuilder:
        p = _provider(provider, ("userPools", "oidc"), "owner_defined_in")
        return RuleBuilder(AuthRule("owner", p, owner_field=field), "owner_defined_in")  # type: ignore[arg-type]

    def owners_defined_in(self, field: str, provider: str = "userPools") -> RuleBuilder:
        p = _provider(provider, ("userPools", "oidc"), "owners_defined_in")
        rule = AuthRule("owner", p, owner_field=field, owner_is_list=True)  # type: ignore[arg-type]
        return RuleBuilder(rule, "owners_defined_in")

    def group(self, group: str, provider: str = "userPools") -> RuleBuilder:
        return self.groups([group], provider, _label="group")

    def groups(self, groups: Iterable[str], provider: str = "userPools", *, _label: str = "groups") -> RuleBuilder:
        p = _provider(provider, ("userPools", "oidc"), _label)
        names = tuple(groups)
        if not names:
            raise SchemaError(f"allow.{_label}(): name at least one group")
        return RuleBuilder(AuthRule("groups", p, groups=names), _label)  # type: ignore[arg-type]

    def group_defined_in(self, field: str, provider: str = "userPools") -> RuleBuilder:
        p = _provider(provider, ("userPools", "oidc"), "group_defined_in")
        return RuleBuilder(AuthRule("groups", p, groups_field=field), "group_defined_in")  # type: ignore[arg-type]

    def groups_defined_in(self, field: str, provider: str = "userPools") -> RuleBuilder:
        p = _provider(provider, ("userPools", "oidc"), "groups_defined_in")
        rule = AuthRule("groups", p, groups_field=field, groups_field_is_list=True)  # type: ignore[arg-type]
        return RuleBuilder(rule, "groups_defined_in")

    def custom(self, provider: str = "function") -> RuleBuilder:
        _provider(provider, ("function",), "custom")
        return RuleBuilder(AuthRule("custom", "function"), "custom")

    # Amplify's camelCase spellings.
    publicApiKey = public_api_key
    ownerDefinedIn = owner_defined_in
    ownersDefinedIn = owners_defined_in
    groupDefinedIn = group_defined_in
    groupsDefinedIn = groups_defined_in


allow = _Allow()
RulesCallback = Callable[[_Allow], Iterable[RuleBuilder]]


def _collect_rules(callback: RulesCallback, where: str) -> list[AuthRule]:
    if not callable(callback):
        raise SchemaError(f"{where}: .authorization() takes a function, e.g. lambda allow: [allow.owner()]")
    produced = callback(allow)
    if isinstance(produced, RuleBuilder):
        produced = [produced]
    rules: list[AuthRule] = []
    for item in produced:
        if not isinstance(item, RuleBuilder):
            raise SchemaError(f"{where}: .authorization() must return allow.* rules, got {item!r}")
        rules.append(item.build())
    return rules


# --------------------------------------------------------------------------------------------
# Fields


class FieldBuilder:
    """A scalar, enum, custom-type or ref field. Each modifier may be used once."""

    def __init__(self, kind: str, name: str, *, enum_values: tuple[str, ...] | None = None,
                 custom_fields: Mapping[str, Any] | None = None) -> None:
        self.kind = kind                      # scalar | enum | custom | ref
        self.type_name = name                 # scalar name, or ref target; "" for inline enum/custom
        self.enum_values = enum_values
        self.custom_fields = custom_fields
        self.required_ = False
        self.is_array = False
        self.array_required = False
        self.default_: Any = None
        self.has_default = False
        self.rules: RulesCallback | None = None
        self._used: set[str] = set()

    def _once(self, what: str) -> None:
        if what in self._used:
            raise SchemaError(f".{what}() may be used only once on a field")
        self._used.add(what)

    def required(self) -> FieldBuilder:
        if self.is_array:
            self._once("required-array")
            self.array_required = True
        else:
            self._once("required")
            self.required_ = True
        return self

    def array(self) -> FieldBuilder:
        self._once("array")
        self.is_array = True
        return self

    def default(self, value: Any) -> FieldBuilder:
        self._once("default")
        self.default_ = value
        self.has_default = True
        return self

    def authorization(self, rules: RulesCallback) -> FieldBuilder:
        self._once("authorization")
        self.rules = rules
        return self


class _EnumBuilder(FieldBuilder):
    def values(self) -> tuple[str, ...]:
        return self.enum_values or ()


class RelationBuilder:
    def __init__(self, kind: str, related: str, references: str | Iterable[str]) -> None:
        self.kind = kind
        self.related = related
        self.references = (references,) if isinstance(references, str) else tuple(references)
        self.required_ = False
        self.rules: RulesCallback | None = None

    def required(self) -> RelationBuilder:
        self.required_ = True
        return self

    def value_required(self) -> RelationBuilder:
        self.required_ = True
        return self

    valueRequired = value_required

    def authorization(self, rules: RulesCallback) -> RelationBuilder:
        self.rules = rules
        return self


class _IndexBuilder:
    def __init__(self, pk: str) -> None:
        self.pk = pk
        self.sort_keys_: tuple[str, ...] = ()
        self.name_: str | None = None
        self.query_field_: str | None | bool = True   # True means "the default name"

    def sort_keys(self, keys: Iterable[str]) -> _IndexBuilder:
        self.sort_keys_ = tuple(keys)
        return self

    def name(self, name: str) -> _IndexBuilder:
        self.name_ = name
        return self

    def query_field(self, name: str | None) -> _IndexBuilder:
        self.query_field_ = name
        return self

    sortKeys = sort_keys
    queryField = query_field


class ModelBuilder:
    def __init__(self, fields: Mapping[str, FieldBuilder | RelationBuilder]) -> None:
        self.fields = dict(fields)
        self.identifier_: tuple[str, ...] = ("id",)
        self.indexes: Callable[[Callable[[str], _IndexBuilder]], Iterable[_IndexBuilder]] | None = None
        self.disabled: tuple[str, ...] = ()
        self.rules: RulesCallback | None = None

    def identifier(self, fields: Iterable[str]) -> ModelBuilder:
        self.identifier_ = tuple(fields)
        return self

    def secondary_indexes(self, indexes: Callable[[Callable[[str], _IndexBuilder]], Iterable[_IndexBuilder]]
                          ) -> ModelBuilder:
        self.indexes = indexes
        return self

    def disable_operations(self, operations: Iterable[str]) -> ModelBuilder:
        self.disabled = tuple(operations)
        return self

    def authorization(self, rules: RulesCallback) -> ModelBuilder:
        self.rules = rules
        return self

    secondaryIndexes = secondary_indexes
    disableOperations = disable_operations


class _CustomTypeBuilder(FieldBuilder):
    pass


class OperationBuilder:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.arguments_: dict[str, FieldBuilder] = {}
        self.returns_: FieldBuilder | None = None
        self.handler_: Any = None
        self.rules: RulesCallback | None = None
        self.for_: tuple[str, ...] = ()

    def arguments(self, args: Mapping[str, FieldBuilder]) -> OperationBuilder:
        self.arguments_ = dict(args)
        return self

    def returns(self, returns: FieldBuilder) -> OperationBuilder:
        self.returns_ = returns
        return self

    def handler(self, handler: Any) -> OperationBuilder:
        self.handler_ = handler
        return self

    def authorization(self, rules: RulesCallback) -> OperationBuilder:
        self.rules = rules
        return self

    def for_mutations(self, names: Iterable[str]) -> OperationBuilder:
        self.for_ = tuple(names)
        return self


class SchemaBuilder:
    def __init__(self, types: Mapping[str, Any]) -> None:
        self.types = dict(types)
        self.rules: RulesCallback | None = None

    def authorization(self, rules: RulesCallback) -> SchemaBuilder:
        self.rules = rules
        return self


class _A:
    """The ``a`` namespace."""

    def id(self) -> FieldBuilder:
        return FieldBuilder("scalar", "ID")

    def string(self) -> FieldBuilder:
        return FieldBuilder("scalar", "String")

    def integer(self) -> FieldBuilder:
        return FieldBuilder("scalar", "Int")

    def float(self) -> FieldBuilder:
        return FieldBuilder("scalar", "Float")

    def boolean(self) -> FieldBuilder:
        return FieldBuilder("scalar", "Boolean")

    def date(self) -> FieldBuilder:
        return FieldBuilder("scalar", "AWSDate")

    def time(self) -> FieldBuilder:
        return FieldBuilder("scalar", "AWSTime")

    def datetime(self) -> FieldBuilder:
        return FieldBuilder("scalar", "AWSDateTime")

    def timestamp(self) -> FieldBuilder:
        return FieldBuilder("scalar", "AWSTimestamp")

    def email(self) -> FieldBuilder:
        return FieldBuilder("scalar", "AWSEmail")

    def json(self) -> FieldBuilder:
        return FieldBuilder("scalar", "AWSJSON")

    def phone(self) -> FieldBuilder:
        return FieldBuilder("scalar", "AWSPhone")

    def url(self) -> FieldBuilder:
        return FieldBuilder("scalar", "AWSURL")

    def ip_address(self) -> FieldBuilder:
        return FieldBuilder("scalar", "AWSIPAddress")

    ipAddress = ip_address

    def enum(self, values: Iterable[str]) -> _EnumBuilder:
        vals = tuple(values)
        return _EnumBuilder("enum", "", enum_values=vals)

    def custom_type(self, fields: Mapping[str, FieldBuilder]) -> _CustomTypeBuilder:
        return _CustomTypeBuilder("custom", "", custom_fields=dict(fields))

    customType = custom_type

    def ref(self, name: str) -> FieldBuilder:
        return FieldBuilder("ref", name)

    def model(self, fields: Mapping[str, FieldBuilder | RelationBuilder]) -> ModelBuilder:
        return ModelBuilder(fields)

    def has_many(self, model: str, references: str | Iterable[str]) -> RelationBuilder:
        return RelationBuilder("has_many", model, references)

    def belongs_to(self, model: str, references: str | Iterable[str]) -> RelationBuilder:
        return RelationBuilder("belongs_to", model, references)

    def has_one(self, model: str, references: str | Iterable[str]) -> RelationBuilder:
        return RelationBuilder("has_one", model, references)

    hasMany = has_many
    belongsTo = belongs_to
    hasOne = has_one

    def query(self) -> OperationBuilder:
        return OperationBuilder("query")

    def mutation(self) -> OperationBuilder:
        return OperationBuilder("mutation")

    def subscription(self) -> OperationBuilder:
        return OperationBuilder("subscription")

    def schema(self, types: Mapping[str, Any]) -> SchemaBuilder:
        return SchemaBuilder(types)


a = _A()


# --------------------------------------------------------------------------------------------
# define_data and compilation


_MODE_ALIASES = {
    "apiKey": "apiKey", "api_key": "apiKey", "API_KEY": "apiKey",
    "userPool": "userPool", "user_pool": "userPool", "AMAZON_COGNITO_USER_POOLS": "userPool",
    "identityPool": "identityPool", "identity_pool": "identityPool",
    "iam": "iam", "AWS_IAM": "iam",
    "oidc": "oidc", "OPENID_CONNECT": "oidc",
    "lambda": "lambda", "AWS_LAMBDA": "lambda",
}


def _get(options: Mapping[str, Any], snake: str, camel: str, default: Any = None) -> Any:
    if snake in options:
        return options[snake]
    return options.get(camel, default)


def normalize_auth_mode(name: str) -> str:
    mode = _MODE_ALIASES.get(name)
    if mode is None:
        raise SchemaError(f"unknown authorization mode {name!r}; use one of "
                          "api_key, user_pool, identity_pool, iam, oidc, lambda")
    return mode


class DataDefinition:
    """What ``define_data`` returns: the compiled schema plus its authorization modes."""

    def __init__(self, schema: Schema, source: SchemaBuilder) -> None:
        self.schema = schema
        self.source = source


def define_data(*, schema: SchemaBuilder, authorization_modes: Mapping[str, Any] | None = None,
                name: str | None = None) -> DataDefinition:
    """Amplify's ``defineData``: a schema and how requests may authenticate."""
    if not isinstance(schema, SchemaBuilder):
        raise SchemaError("define_data(schema=...) takes the result of a.schema({...})")
    modes = _auth_modes(authorization_modes or {})
    compiled = compile_schema(schema, modes)
    return DataDefinition(compiled, schema)


def _auth_modes(options: Mapping[str, Any]) -> AuthorizationModes:
    known = {"default_authorization_mode", "defaultAuthorizationMode", "api_key_authorization_mode",
             "apiKeyAuthorizationMode", "lambda_authorization_mode", "lambdaAuthorizationMode",
             "oidc_authorization_mode", "oidcAuthorizationMode"}
    for key in options:
        if key not in known:
            raise SchemaError(f"define_data(authorization_modes=...): unknown key {key!r}")
    modes = AuthorizationModes()
    default = _get(options, "default_authorization_mode", "defaultAuthorizationMode")
    if default is not None:
        modes.default = normalize_auth_mode(default)
        modes.default_given = True
    api_key = _get(options, "api_key_authorization_mode", "apiKeyAuthorizationMode") or {}
    _known_keys(api_key, "api_key_authorization_mode", {"expires_in_days", "expiresInDays", "description"})
    days = _get(api_key, "expires_in_days", "expiresInDays", 7)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 365:
        raise SchemaError("api_key_authorization_mode.expires_in_days must be a whole number from 1 to 365")
    modes.api_key_expires_in_days = days
    modes.api_key_description = api_key.get("description")
    lam = _get(options, "lambda_authorization_mode", "lambdaAuthorizationMode")
    if lam is not None:
        _known_keys(lam, "lambda_authorization_mode", {"function", "time_to_live_in_seconds", "timeToLiveInSeconds"})
        modes.lambda_function = lam.get("function")
        modes.lambda_ttl_seconds = int(_get(lam, "time_to_live_in_seconds", "timeToLiveInSeconds", 60))
    modes.oidc = _get(options, "oidc_authorization_mode", "oidcAuthorizationMode")
    return modes


class AuthDefinition:
    """What ``define_auth`` returns; put it next to ``data`` in the schema file as ``auth = ...``."""

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings


_LOGIN_ATTRIBUTES = {"email": "email", "phone": "phone_number", "phone_number": "phone_number"}


def define_auth(*, login_with: Mapping[str, Any] | None = None, groups: Iterable[str] = (),
                allow_guest_access: bool = False, password_policy: Mapping[str, Any] | None = None,
                access_token_validity: int = 3600, id_token_validity: int = 3600,
                refresh_token_validity: int = 30 * 86400, self_sign_up: bool = True,
                require_confirmation: bool | None = None, on_send_code: Callable[..., Any] | None = None,
                user_attributes: Mapping[str, Any] | None = None, prevent_user_existence_errors: bool = True,
                **camel: Any) -> AuthDefinition:
    """Amplify's ``defineAuth``: a user pool (and an identity pool) for the API.

    ``login_with={"email": True}`` (or ``"phone": True``); ``groups=["Admins"]`` (precedence in
    list order); ``allow_guest_access=True`` lets the identity pool hand out guest credentials;
    ``password_policy={"min_length": 8, "require_lowercase": True, "require_uppercase": True,
    "require_numbers": True, "require_symbols": True}`` (Cognito's defaults); token lifetimes in
    seconds. ``self_sign_up=False`` refuses SignUp (only admins create users);
    ``require_confirmation`` (default: the sandbox confirms sign-ups at once, ``cove serve`` sends a
    code) and ``on_send_code(event)``, called with a ``cove.identity.delivery.CodeEvent`` for every
    confirmation and password-reset code. ``user_attributes={"custom:tenant": {"data_type": "String",
    "mutable": False}, "preferredUsername": {"required": True}}`` declares custom attributes (only
    declared ones are writable) and marks standard ones required or immutable.
    ``prevent_user_existence_errors=False`` makes unknown users get ``UserNotFoundException`` (Gen 2
    pools hide them, the default). camelCase spellings (``loginWith``, ``allowGuestAccess``,
    ``selfSignUp``, ``requireConfirmation``, ``onSendCode``, ``userAttributes``) work too.
    """
    aliases = {"loginWith": "login_with", "allowGuestAccess": "allow_guest_access",
               "passwordPolicy": "password_policy", "selfSignUp": "self_sign_up",
               "requireConfirmation": "require_confirmation", "onSendCode": "on_send_code",
               "userAttributes": "user_attributes"}
    options: dict[str, Any] = {"login_with": login_with, "allow_guest_access": allow_guest_access,
                               "password_policy": password_policy, "self_sign_up": self_sign_up,
                               "require_confirmation": require_confirmation, "on_send_code": on_send_code,
                               "user_attributes": user_attributes}
    for key, value in camel.items():
        if key not in aliases:
            raise SchemaError(f"define_auth(): unknown option {key!r}")
        options[aliases[key]] = value
    login_with, allow_guest_access = options["login_with"], options["allow_guest_access"]
    password_policy, self_sign_up = options["password_policy"], options["self_sign_up"]
    require_confirmation, on_send_code = options["require_confirmation"], options["on_send_code"]
    user_attributes = options["user_attributes"]
    if not isinstance(self_sign_up, bool):
        raise SchemaError("define_auth(self_sign_up=...) must be True or False")
    if require_confirmation is not None and not isinstance(require_confirmation, bool):
        raise SchemaError("define_auth(require_confirmation=...) must be True, False or None")
    if on_send_code is not None and not callable(on_send_code):
        raise SchemaError("define_auth(on_send_code=...) takes a function that receives a CodeEvent")
    login = login_with if login_with is not None else {"email": True}
    if not isinstance(login, Mapping):
        raise SchemaError('define_auth(login_with=...) takes a dict such as {"email": True}')
    attributes: list[str] = []
    for key, value in login.items():
        if key not in _LOGIN_ATTRIBUTES:
            raise SchemaError(f"define_auth(login_with=...): unknown login {key!r}; use email or phone")
        if value:
            attributes.append(_LOGIN_ATTRIBUTES[key])
    if not attributes:
        raise SchemaError("define_auth(login_with=...): enable at least one of email, phone")
    names = tuple(groups)
    for g in names:
        if not isinstance(g, str) or not g or len(g) > 128:
            raise SchemaError(f"define_auth(groups=...): {g!r} is not a valid group name")
    if len(set(names)) != len(names):
        raise SchemaError("define_auth(groups=...): group names repeat")
    policy = PasswordPolicy()
    for key, value in (password_policy or {}).items():
        snake = {"minLength": "min_length", "requireLowercase": "require_lowercase",
                 "requireUppercase": "require_uppercase", "requireNumbers": "require_numbers",
                 "requireSymbols": "require_symbols"}.get(key, key)
        if not hasattr(policy, snake):
            raise SchemaError(f"define_auth(password_policy=...): unknown key {key!r}")
        if snake == "min_length":
            if isinstance(value, bool) or not isinstance(value, int) or not 6 <= value <= 99:
                raise SchemaError("define_auth(password_policy=...): min_length must be 6..99")
        elif not isinstance(value, bool):
            raise SchemaError(f"define_auth(password_policy=...): {key} must be True or False")
        setattr(policy, snake, value)
    for name, value in (("access_token_validity", access_token_validity), ("id_token_validity", id_token_validity),
                        ("refresh_token_validity", refresh_token_validity)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SchemaError(f"define_auth({name}=...): a positive number of seconds")
    if user_attributes is not None and not isinstance(user_attributes, Mapping):
        raise SchemaError('define_auth(user_attributes=...) takes a dict such as {"custom:tenant": {}}')
    try:
        declared = parse_declarations(user_attributes)
    except ValueError as exc:
        raise SchemaError(f"define_auth(user_attributes=...): {exc}") from None
    return AuthDefinition(AuthSettings(tuple(attributes), names, bool(allow_guest_access), policy,
                                       access_token_validity, id_token_validity, refresh_token_validity,
                                       self_sign_up=self_sign_up, require_confirmation=require_confirmation,
                                       on_send_code=on_send_code, user_attributes=declared,
                                       prevent_user_existence_errors=bool(prevent_user_existence_errors)))


def attach_auth(definition: DataDefinition, auth: AuthDefinition) -> DataDefinition:
    """Give a data definition its ``define_auth``: user pool tokens become accepted and, unless
    ``default_authorization_mode`` was given, the default mode (as in Amplify)."""
    schema = definition.schema
    schema.auth = auth.settings
    modes = schema.authorization_modes
    modes.user_pool = True
    if not modes.default_given:
        modes.default = "userPool"
    return definition


def _known_keys(options: Any, where: str, known: set[str]) -> None:
    if not isinstance(options, Mapping):
        raise SchemaError(f"define_data(authorization_modes=...): {where} must be a dict, got {options!r}")
    for key in options:
        if key not in known:
            raise SchemaError(f"define_data(authorization_modes=...): unknown key {key!r} in {where}; "
                              f"use any of {', '.join(sorted(known))}")


def pluralize(word: str) -> str:
    """English plural as Amplify's `pluralize` gives it for typical model names."""
    irregular = {"person": "people", "child": "children", "man": "men", "woman": "women",
                 "mouse": "mice", "goose": "geese", "tooth": "teeth", "foot": "feet"}
    lower = word.lower()
    for singular, plural in irregular.items():
        if lower.endswith(singular):
            stem = word[: len(word) - len(singular)]
            cased = plural if word[-len(singular)].islower() else plural.capitalize()
            return stem + cased
    if lower.endswith("quiz"):
        return word + "zes"
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if lower.endswith("y") and len(word) > 1 and lower[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def compile_schema(builder: SchemaBuilder, modes: AuthorizationModes | None = None) -> Schema:
    schema = Schema(authorization_modes=modes or AuthorizationModes())
    schema_rules = _collect_rules(builder.rules, "a.schema") if builder.rules else None
    pending_models: dict[str, ModelBuilder] = {}
    for name, item in builder.types.items():
        if not name.isidentifier() or name.startswith("_"):
            raise SchemaError(f"{name!r} is not a valid type name")
        if isinstance(item, ModelBuilder):
            pending_models[name] = item
        elif isinstance(item, _EnumBuilder):
            schema.enums[name] = _enum(name, item)
        elif isinstance(item, _CustomTypeBuilder):
            schema.custom_types[name] = CustomType(name, {})
        elif isinstance(item, OperationBuilder):
            pass  # compiled after types are known
        else:
            raise SchemaError(f"{name}: expected a.model(), a.enum(), a.custom_type() or an operation, "
                              f"got {type(item).__name__}")
    # Custom types may reference each other, so fill them once every name is known.
    for name, item in builder.types.items():
        if isinstance(item, _CustomTypeBuilder):
            schema.custom_types[name].fields = _fields(schema, name, item.custom_fields or {}, kind="type")
    for name, mb in pending_models.items():
        schema.models[name] = _model(schema, name, mb, schema_rules)
    for name, item in builder.types.items():
        if isinstance(item, OperationBuilder):
            _operation(schema, name, item, schema_rules)
    _validate_relations(schema)
    return schema


def _enum(name: str, builder: _EnumBuilder) -> Enum:
    values = builder.enum_values or ()
    if not values:
        raise SchemaError(f"enum {name}: give at least one value")
    for v in values:
        if not isinstance(v, str) or not v.isidentifier():
            raise SchemaError(f"enum {name}: {v!r} is not a valid enum value (letters, digits and _)")
    if len(set(values)) != len(values):
        raise SchemaError(f"enum {name}: values repeat")
    return Enum(name, values)


def _fields(schema: Schema, owner: str, builders: Mapping[str, Any], *, kind: str) -> dict[str, Field]:
    fields: dict[str, Field] = {}
    for fname, fb in builders.items():
        where = f"{owner}.{fname}"
        if not isinstance(fname, str) or not fname.isidentifier() or fname.startswith("__"):
            raise SchemaError(f"{where}: not a valid field name")
        if isinstance(fb, RelationBuilder):
            if kind != "model":
                raise SchemaError(f"{where}: relationships belong on models, not on {kind}s")
            fields[fname] = Field(
                fname, TypeRef("model", fb.related), required=fb.required_,
                is_array=fb.kind == "has_many",
                relation=Relation(fb.kind, fb.related, fb.references),  # type: ignore[arg-type]
                rules=_collect_rules(fb.rules, where) if fb.rules else None)
            _check_field_rules(fields[fname], where)
            continue
        if not isinstance(fb, FieldBuilder):
            raise SchemaError(f"{where}: expected a field builder such as a.string(), got {fb!r}")
        fields[fname] = _field(schema, owner, fname, fb, where)
    return fields


def _field(schema: Schema, owner: str, fname: str, fb: FieldBuilder, where: str) -> Field:
    if fb.kind == "scalar":
        ref = TypeRef("scalar", fb.type_name)
    elif fb.kind == "enum":
        ename = owner + _pascal(fname)
        if ename in schema.enums and tuple(schema.enums[ename].values) != fb.enum_values:
            raise SchemaError(f"{where}: inline enum name {ename} clashes with another type")
        try:
            schema.enums[ename] = _enum(ename, fb)  # type: ignore[arg-type]
        except SchemaError as exc:
            raise SchemaError(f"{where}: {exc}") from None
        ref = TypeRef("enum", ename)
    elif fb.kind == "custom":
        cname = owner + _pascal(fname)
        schema.custom_types[cname] = CustomType(cname, {})
        schema.custom_types[cname].fields = _fields(schema, cname, fb.custom_fields or {}, kind="type")
        ref = TypeRef("custom", cname)
    elif fb.kind == "ref":
        target = fb.type_name
        if target in schema.enums:
            ref = TypeRef("enum", target)
        elif target in schema.custom_types:
            ref = TypeRef("custom", target)
        else:
            raise SchemaError(f"{where}: a.ref({target!r}) names no enum or custom type in the schema")
    else:  # pragma: no cover - builders only make the kinds above
        raise SchemaError(f"{where}: unknown field kind {fb.kind}")
    field = Field(fname, ref, required=fb.required_, is_array=fb.is_array, array_required=fb.array_required,
                  rules=_collect_rules(fb.rules, where) if fb.rules else None)
    if fb.has_default:
        field.default = _check_default(schema, field, fb.default_, where)
        field.has_default = True
    _check_field_rules(field, where)
    return field


def _check_field_rules(field: Field, where: str) -> None:
    for rule in field.rules or ():
        for op in rule.operations:
            if op not in FIELD_OPERATIONS:
                raise SchemaError(f"{where}: '{op}' operation is not allowed at the field level")


def _check_default(schema: Schema, field: Field, value: Any, where: str) -> Any:
    from cove.wire.scalars import ScalarError, parse_scalar

    if value is None:
        raise SchemaError(f"{where}: .default(None) is meaningless; leave the field optional instead")
    if field.is_array or field.type.kind == "custom":
        raise SchemaError(f"{where}: .default() applies to scalar and enum fields only")
    if field.type.kind == "enum":
        values = schema.enums[field.type.name].values
        if value not in values:
            raise SchemaError(f"{where}: default {value!r} is not one of the enum's values {list(values)}")
        return value
    try:
        return parse_scalar(field.type.name, value)
    except ScalarError as exc:
        raise SchemaError(f"{where}: default {value!r} is not a valid {field.type.name}: {exc}") from None


def _model(schema: Schema, name: str, mb: ModelBuilder, schema_rules: list[AuthRule] | None) -> Model:
    user_fields = _fields(schema, name, mb.fields, kind="model")
    fields: dict[str, Field] = {}
    identifier = mb.identifier_
    if not identifier:
        raise SchemaError(f"{name}: .identifier([]) needs at least one field")
    if identifier == ("id",) and "id" not in user_fields:
        fields["id"] = Field("id", TypeRef("scalar", "ID"), required=True, implicit=True)
    fields.update(user_fields)
    for ts in ("createdAt", "updatedAt"):
        if ts not in fields:
            fields[ts] = Field(ts, TypeRef("scalar", "AWSDateTime"), required=True, read_only=True, implicit=True)
    for key in identifier:
        f = fields.get(key)
        if f is None:
            raise SchemaError(f"{name}.{key}: identifier field is not a field of the model")
        if f.relation is not None or f.is_array or f.type.kind not in ("scalar", "enum"):
            raise SchemaError(f"{name}.{key}: identifier fields must be scalars or enums")
        if not f.required and not (key == "id" and f.type.name == "ID"):
            raise SchemaError(f"{name}.{key}: identifier fields must be .required()")
        f.required = True
    for op in mb.disabled:
        if op not in DISABLEABLE:
            raise SchemaError(f"{name}: .disable_operations(): unknown operation {op!r}; "
                              f"use any of {', '.join(DISABLEABLE)}")
    if mb.rules is not None:
        rules = _collect_rules(mb.rules, name)
    elif schema_rules is not None:
        rules = [AuthRule(**vars(r)) for r in schema_rules]
    else:
        raise SchemaError(
            f"Model {name} is missing authorization rules. Add global rules with "
            f"a.schema({{...}}).authorization(lambda allow: [...]) or rules on the model with "
            f"a.model({{...}}).authorization(lambda allow: [...])")
    model = Model(name, pluralize(name), fields, identifier, [], frozenset(mb.disabled), rules)
    _implicit_auth_fields(model)
    if mb.indexes is not None:
        model.indexes = _indexes(model, mb)
    return model


def _implicit_auth_fields(model: Model) -> None:
    """Owner and group fields named by rules exist even when the model does not declare them."""
    for rule in model.rules:
        for fname, is_list in ((rule.owner_field, rule.owner_is_list),
                               (rule.groups_field, rule.groups_field_is_list)):
            if not fname:
                continue
            existing = model.fields.get(fname)
            if existing is None:
                model.fields[fname] = Field(fname, TypeRef("scalar", "String"), is_array=is_list, implicit=True)
            elif existing.type.name not in ("String", "ID") or existing.relation is not None:
                raise SchemaError(f"{model.name}.{fname}: owner and group fields must be strings")


def _indexes(model: Model, mb: ModelBuilder) -> list[SecondaryIndex]:
    assert mb.indexes is not None
    built = list(mb.indexes(_IndexBuilder))
    result = []
    for ib in built:
        if not isinstance(ib, _IndexBuilder):
            raise SchemaError(f"{model.name}: .secondary_indexes() must return index(...) builders")
        for key in (ib.pk, *ib.sort_keys_):
            f = model.fields.get(key)
            if f is None or f.relation is not None or f.is_array or f.type.kind not in ("scalar", "enum"):
                raise SchemaError(f"{model.name}.{key}: index fields must be scalar or enum fields of the model")
        suffix = "And".join(_pascal(k) for k in (ib.pk, *ib.sort_keys_))
        name = ib.name_ or (model.plural_name[:1].lower() + model.plural_name[1:] + "By" + suffix)
        if ib.query_field_ is True:
            query_field: str | None = f"list{model.name}By{suffix}"
        else:
            query_field = ib.query_field_ or None  # type: ignore[assignment]
        result.append(SecondaryIndex(ib.pk, ib.sort_keys_, name, query_field))
    return result


def _operation(schema: Schema, name: str, ob: OperationBuilder, schema_rules: list[AuthRule] | None) -> None:
    args = _fields(schema, name, ob.arguments_, kind="argument")
    returns = None
    if ob.returns_ is not None:
        rb = ob.returns_
        if rb.kind == "ref" and rb.type_name in schema.models:
            returns = Field("returns", TypeRef("model", rb.type_name), required=rb.required_,
                            is_array=rb.is_array, array_required=rb.array_required)
        elif rb.kind == "custom":
            tname = _pascal(name) + "ReturnType"
            schema.custom_types[tname] = CustomType(tname, _fields(schema, tname, rb.custom_fields or {}, kind="type"))
            returns = Field("returns", TypeRef("custom", tname), required=rb.required_, is_array=rb.is_array,
                            array_required=rb.array_required)
        else:
            returns = _field(schema, name, "returns", rb, f"{name}.returns")
    if ob.rules is not None:
        rules = _collect_rules(ob.rules, name)
    elif schema_rules is not None:
        rules = list(schema_rules)
    else:
        raise SchemaError(f"Operation {name} is missing authorization rules")
    op = CustomOperation(ob.kind, name, args, returns, rules, ob.handler_, ob.for_)  # type: ignore[arg-type]
    {"query": schema.queries, "mutation": schema.mutations, "subscription": schema.subscriptions}[ob.kind][name] = op


def _validate_relations(schema: Schema) -> None:
    for model in schema.models.values():
        for f in model.fields.values():
            rel = f.relation
            if rel is None:
                continue
            where = f"{model.name}.{f.name}"
            related = schema.models.get(rel.related_model)
            if related is None:
                raise SchemaError(f"{where}: related model {rel.related_model!r} is not defined in the schema")
            if rel.parent_holds_key:
                holder, key_model = model, related
            else:
                holder, key_model = related, model
            refs = rel.key_fields if rel.parent_holds_key else rel.references
            if len(refs) != len(key_model.identifier):
                raise SchemaError(f"{where}: references {list(refs)} must name one field per "
                                  f"identifier field of {key_model.name} {list(key_model.identifier)}")
            for ref in refs:
                if ref not in holder.fields or holder.fields[ref].relation is not None:
                    raise SchemaError(f"{where}: reference field {holder.name}.{ref} is not defined; "
                                      f"declare it, e.g. \"{ref}\": a.id()")
