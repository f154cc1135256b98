"""The internal schema description: the one thing every artefact is derived from.

The DSL (``cove.a``) and an existing model introspection (MIS) both compile to these plain
dataclasses; SDL, MIS, the storage layout, the authorization plan and the typed client are all
generated from them, so nothing is described twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


class SchemaError(ValueError):
    """An invalid schema definition. The message names the model and field at fault."""


# AppSync scalars, in the order Amplify's docs list them.
SCALARS: tuple[str, ...] = (
    "ID",
    "String",
    "Int",
    "Float",
    "Boolean",
    "AWSDate",
    "AWSTime",
    "AWSDateTime",
    "AWSTimestamp",
    "AWSEmail",
    "AWSJSON",
    "AWSPhone",
    "AWSURL",
    "AWSIPAddress",
)
AWS_SCALARS: tuple[str, ...] = tuple(s for s in SCALARS if s.startswith("AWS"))

# Scalars whose values are strings on the wire and in storage ("string-like" in the filter grammar).
STRING_LIKE: frozenset[str] = frozenset(
    {"ID", "String", "AWSDate", "AWSTime", "AWSDateTime", "AWSEmail", "AWSJSON", "AWSPhone", "AWSURL",
     "AWSIPAddress"}
)
NUMERIC: frozenset[str] = frozenset({"Int", "Float", "AWSTimestamp"})

TypeKind = Literal["scalar", "enum", "custom", "input", "model"]
RelationKind = Literal["has_many", "belongs_to", "has_one"]

# Operations a model rule may grant (`.to([...])`); `read` expands to get/list/listen.
MODEL_OPERATIONS: tuple[str, ...] = ("create", "update", "delete", "read", "get", "list", "listen")
READ_OPERATIONS: tuple[str, ...] = ("get", "list", "listen")
FIELD_OPERATIONS: tuple[str, ...] = ("create", "update", "delete", "read")

# Names accepted by `.disable_operations([...])`.
DISABLEABLE: tuple[str, ...] = (
    "queries", "mutations", "subscriptions", "list", "get", "create", "update", "delete",
    "onCreate", "onUpdate", "onDelete",
)

AuthStrategy = Literal["public", "private", "owner", "groups", "custom"]
AuthProvider = Literal["apiKey", "identityPool", "iam", "userPools", "oidc", "function"]


@dataclass(frozen=True)
class TypeRef:
    """What a field holds: an AppSync scalar, an enum, a custom (non-model) type, an input type (custom
    operation arguments of a model introspection's ``inputs``) or a model."""

    kind: TypeKind
    name: str


@dataclass(frozen=True)
class Relation:
    kind: RelationKind
    related_model: str
    # For has_many/has_one: the child's fields that reference this model's key (`associatedWith`).
    # For belongs_to: this model's own fields that hold the parent's key (`targetNames`).
    references: tuple[str, ...]
    # has_one in the older shape Amplify emits (`associatedWith: ["id"], targetNames: ["todoMetaId"]`):
    # this model's own fields that hold the related record's key, joined like belongs_to.
    target_names: tuple[str, ...] = ()

    @property
    def parent_holds_key(self) -> bool:
        """Whether this model's fields hold the related key (belongs_to, or has_one in the older shape)."""
        return self.kind == "belongs_to" or bool(self.target_names)

    @property
    def key_fields(self) -> tuple[str, ...]:
        """This model's fields that hold the related key, when `parent_holds_key`."""
        return self.target_names or self.references


@dataclass
class AuthRule:
    """One `allow.*` rule, in the vocabulary of the MIS `auth` attribute."""

    strategy: AuthStrategy
    provider: AuthProvider
    operations: tuple[str, ...] = ("create", "update", "delete", "read")
    owner_field: str | None = None          # owner rules
    owner_is_list: bool = False              # owners_defined_in
    identity_claim: str | None = None       # owner rules; None means Cognito's `sub::username`
    groups: tuple[str, ...] = ()             # static group rules
    groups_field: str | None = None          # group_defined_in / groups_defined_in
    groups_field_is_list: bool = False
    group_claim: str = "cognito:groups"

    def grants(self, operation: str) -> bool:
        if operation in self.operations:
            return True
        return operation in READ_OPERATIONS and "read" in self.operations


@dataclass
class Field:
    name: str
    type: TypeRef
    required: bool = False          # the element itself is non-null (`T!` or `[T!]`)
    is_array: bool = False
    array_required: bool = False    # the list itself is non-null (`[T]!`)
    default: Any = None
    has_default: bool = False
    read_only: bool = False         # createdAt/updatedAt: server-set
    implicit: bool = False          # added by Cove (id, timestamps, owner fields), not by the user
    rules: list[AuthRule] | None = None   # field-level rules replace the model's for this field
    relation: Relation | None = None

    @property
    def orderable(self) -> bool:
        """Holds one scalar or enum value, so records can be sorted and grouped by it (JSON, lists and
        custom types have no order)."""
        return (self.relation is None and not self.is_array and self.type.kind in ("scalar", "enum")
                and self.type.name != "AWSJSON")

    @property
    def is_relation(self) -> bool:
        return self.relation is not None

    @property
    def graphql_type(self) -> str:
        """The output type as written in SDL, e.g. ``[String!]!``."""
        inner = self.type.name + ("!" if self.required else "")
        if self.relation is not None and self.relation.kind == "has_many":
            return f"Model{self.type.name}Connection"
        if self.is_array:
            return f"[{inner}]" + ("!" if self.array_required else "")
        return inner


@dataclass
class SecondaryIndex:
    partition_key: str
    sort_keys: tuple[str, ...]
    name: str
    query_field: str | None


@dataclass
class Model:
    name: str
    plural_name: str
    fields: dict[str, Field]
    identifier: tuple[str, ...] = ("id",)
    indexes: list[SecondaryIndex] = field(default_factory=list)
    disabled_operations: frozenset[str] = frozenset()
    rules: list[AuthRule] = field(default_factory=list)
    # The fields the server fills with the time of the write (None: timestamps disabled or renamed away).
    created_at: str | None = "createdAt"
    updated_at: str | None = "updatedAt"
    # Text fields full-text search covers (``.searchable([...])``); empty: not searchable.
    searchable: tuple[str, ...] = ()

    @property
    def timestamp_fields(self) -> tuple[str, ...]:
        return tuple(n for n in (self.created_at, self.updated_at) if n is not None)

    @property
    def primary_key(self) -> str:
        return self.identifier[0]

    @property
    def sort_keys(self) -> tuple[str, ...]:
        return self.identifier[1:]

    @property
    def is_custom_primary_key(self) -> bool:
        return self.identifier != ("id",)

    def stored_fields(self) -> list[Field]:
        """Fields that live in the model's own table (everything but has_many/has_one/belongs_to)."""
        return [f for f in self.fields.values() if f.relation is None]

    def operation_enabled(self, op: str) -> bool:
        """`op` is one of get list create update delete onCreate onUpdate onDelete."""
        d = self.disabled_operations
        if op in d:
            return False
        group = {"get": "queries", "list": "queries", "create": "mutations", "update": "mutations",
                 "delete": "mutations", "onCreate": "subscriptions", "onUpdate": "subscriptions",
                 "onDelete": "subscriptions"}[op]
        if group in d:
            return False
        # Subscriptions follow their mutation: no createX means no onCreateX.
        if op.startswith("on"):
            return self.operation_enabled(op[2].lower() + op[3:])
        return True


@dataclass
class Enum:
    name: str
    values: tuple[str, ...]


@dataclass
class CustomType:
    name: str
    fields: dict[str, Field]


@dataclass
class CustomOperation:
    """`a.query()` / `a.mutation()` / `a.subscription()`."""

    kind: Literal["query", "mutation", "subscription"]
    name: str
    arguments: dict[str, Field]
    returns: Field | None
    rules: list[AuthRule]
    handler: Any = None            # a Python callable for queries/mutations
    subscribes_to: tuple[str, ...] = ()


@dataclass
class PasswordPolicy:
    min_length: int = 8
    require_lowercase: bool = True
    require_uppercase: bool = True
    require_numbers: bool = True
    require_symbols: bool = True


@dataclass(frozen=True)
class UserAttribute:
    """A declared user attribute: a ``custom:`` one, or a standard one made required or immutable."""

    name: str                      # Cognito's name: "custom:tenant", "preferred_username", ...
    data_type: str = "String"      # String | Number | Boolean | DateTime (custom attributes)
    mutable: bool = True           # False: only administrators set it (users cannot, not even at sign-up)
    required: bool = False         # standard attributes only: sign-up must give it


@dataclass
class AuthSettings:
    """``define_auth(...)``: how users sign in, their groups, guest access, token lifetimes."""

    login_with: tuple[str, ...] = ("email",)       # username attributes: email and/or phone_number
    groups: tuple[str, ...] = ()
    allow_guest_access: bool = False
    password_policy: PasswordPolicy = field(default_factory=PasswordPolicy)
    access_token_validity: int = 3600
    id_token_validity: int = 3600
    refresh_token_validity: int = 30 * 86400
    self_sign_up: bool = True                      # False: only admins create users (AdminCreateUser, cove users)
    require_confirmation: bool | None = None       # None: the sandbox confirms at once, `cove serve` sends a code
    # Called with a cove.identity.delivery.CodeEvent for every code; not stored, not compared.
    on_send_code: Any = field(default=None, compare=False, repr=False)
    # An outputs file's `mfa_configuration` (OPTIONAL/REQUIRED): noted at start-up; MFA is not served locally.
    mfa_requested: str = "NONE"
    user_attributes: tuple[UserAttribute, ...] = ()
    prevent_user_existence_errors: bool = True   # Gen 2's default: unknown users answered as known ones


@dataclass
class AuthorizationModes:
    """`define_data(authorization_modes=...)`, normalised to Amplify's mode names."""

    default: str = "apiKey"   # apiKey | userPool | identityPool | iam | oidc | lambda
    api_key_expires_in_days: int = 7
    api_key_description: str | None = None
    lambda_function: str | Any | None = None
    lambda_ttl_seconds: int = 60
    oidc: dict[str, Any] | None = None
    default_given: bool = False   # False: define_auth() makes userPool the default (Amplify's rule)
    user_pool: bool = False       # define_auth() was given: user pool tokens are accepted
    # An outputs file's authorization types Cove cannot serve without more configuration (OIDC issuer,
    # Lambda authorizer), reported at start-up.
    unserved: tuple[str, ...] = ()

    def enabled(self) -> list[str]:
        modes = [self.default]
        for mode in ("apiKey", "userPool", "iam", "oidc", "lambda"):
            if mode not in modes and self._is_configured(mode):
                modes.append(mode)
        return modes

    def _is_configured(self, mode: str) -> bool:
        if mode == "apiKey":
            return True  # the sandbox always issues a key; rules decide what it may do
        if mode == "lambda":
            return self.lambda_function is not None
        if mode == "oidc":
            return self.oidc is not None
        if mode == "userPool":
            return self.user_pool
        return False


@dataclass
class Schema:
    models: dict[str, Model] = field(default_factory=dict)
    enums: dict[str, Enum] = field(default_factory=dict)
    custom_types: dict[str, CustomType] = field(default_factory=dict)
    queries: dict[str, CustomOperation] = field(default_factory=dict)
    mutations: dict[str, CustomOperation] = field(default_factory=dict)
    subscriptions: dict[str, CustomOperation] = field(default_factory=dict)
    input_types: dict[str, CustomType] = field(default_factory=dict)   # MIS `inputs` (operation arguments)
    authorization_modes: AuthorizationModes = field(default_factory=AuthorizationModes)
    auth: AuthSettings | None = None   # define_auth(): the user pool and identity pool
    # Served from a model introspection: that document, written back unchanged to the local outputs, so
    # clients generated from the original outputs see the same schema.
    source_mis: dict[str, Any] | None = None
