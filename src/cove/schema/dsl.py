"""Amplify's schema vocabulary in Python: the builders behind ``a.model``, ``a.string()``, ``allow.owner()`` ...

Builders are small mutable objects that only record what was asked; ``define_data`` (define.py) hands
them to the compiler (compile.py), which turns them into the internal description in
``cove.schema.model`` and names the model and field of anything that is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .model import MODEL_OPERATIONS, READ_OPERATIONS, AuthRule, SchemaError

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


class _RuleBuilders:
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


allow = _RuleBuilders()
RulesCallback = Callable[[_RuleBuilders], Iterable[RuleBuilder]]


def collect_rules(callback: RulesCallback, where: str) -> list[AuthRule]:
    """The rules an ``.authorization(lambda allow: [...])`` callback gives; ``where`` names its owner in errors."""
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


class EnumBuilder(FieldBuilder):
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


class IndexBuilder:
    def __init__(self, pk: str) -> None:
        self.pk = pk
        self.sort_keys_: tuple[str, ...] = ()
        self.name_: str | None = None
        self.query_field_: str | None | bool = True   # True means "the default name"

    def sort_keys(self, keys: Iterable[str]) -> IndexBuilder:
        self.sort_keys_ = tuple(keys)
        return self

    def name(self, name: str) -> IndexBuilder:
        self.name_ = name
        return self

    def query_field(self, name: str | None) -> IndexBuilder:
        self.query_field_ = name
        return self

    sortKeys = sort_keys
    queryField = query_field


class ModelBuilder:
    def __init__(self, fields: Mapping[str, FieldBuilder | RelationBuilder]) -> None:
        self.fields = dict(fields)
        self.identifier_: tuple[str, ...] = ("id",)
        self.indexes: Callable[[Callable[[str], IndexBuilder]], Iterable[IndexBuilder]] | None = None
        self.disabled: tuple[str, ...] = ()
        self.rules: RulesCallback | None = None
        self.searchable_: tuple[str, ...] = ()

    def identifier(self, fields: Iterable[str]) -> ModelBuilder:
        self.identifier_ = tuple(fields)
        return self

    def secondary_indexes(self, indexes: Callable[[Callable[[str], IndexBuilder]], Iterable[IndexBuilder]]
                          ) -> ModelBuilder:
        self.indexes = indexes
        return self

    def disable_operations(self, operations: Iterable[str]) -> ModelBuilder:
        self.disabled = tuple(operations)
        return self

    def authorization(self, rules: RulesCallback) -> ModelBuilder:
        self.rules = rules
        return self

    def searchable(self, fields: Iterable[str]) -> ModelBuilder:
        """Full-text search over these text fields (a Cove server's ``search<Models>``)."""
        if isinstance(fields, str):
            raise SchemaError(".searchable() takes a list of field names, e.g. .searchable(['title', 'body'])")
        self.searchable_ = tuple(fields)
        return self

    secondaryIndexes = secondary_indexes
    disableOperations = disable_operations


class CustomTypeBuilder(FieldBuilder):
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


class _TypeBuilders:
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

    def enum(self, values: Iterable[str]) -> EnumBuilder:
        vals = tuple(values)
        return EnumBuilder("enum", "", enum_values=vals)

    def custom_type(self, fields: Mapping[str, FieldBuilder]) -> CustomTypeBuilder:
        return CustomTypeBuilder("custom", "", custom_fields=dict(fields))

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


a = _TypeBuilders()
