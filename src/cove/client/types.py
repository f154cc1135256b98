"""Types for typed clients: request options, filter and key-condition inputs, lazy loaders.

Typed client modules (written by ``cove generate client``) build on these; they are public so
application code can name them too::

    from cove.client.types import CallOptions, ModelStringInput

    def open_todos(client: cove_client.Client, **options: Unpack[CallOptions]) -> list[cove_client.Todo]:
        return client.models.Todo.list(filter={"done": {"eq": False}}, **options).data

The filter inputs mirror AppSync's generated input types (``ModelStringInput`` and friends, see
``appsync-amplify-data.md`` section 5); subscription filters (``ModelSubscription*Input``) accept
``in``/``notIn`` but not ``attributeExists``, ``size`` or ``not``. (``observe_query`` takes list
filters: it evaluates them on the client too.)
"""

from __future__ import annotations

import ssl
from collections.abc import Coroutine, Mapping
from typing import Any, Literal, Protocol, TypeAlias, TypedDict, TypeVar, Unpack

import httpx

from ._auth import AuthProvider
from ._config import AuthMode, ConfigSource
from ._options import HeadersOption
from ._records import Result

__all__ = [
    "AsyncClientOptions",
    "AsyncLoader",
    "CallOptions",
    "ClientOptions",
    "JSONValue",
    "Loader",
    "ModelAttributeTypes",
    "ModelBooleanInput",
    "ModelFloatInput",
    "ModelFloatKeyConditionInput",
    "ModelIDInput",
    "ModelIDKeyConditionInput",
    "ModelIntInput",
    "ModelIntKeyConditionInput",
    "ModelSizeInput",
    "ModelSortDirection",
    "ModelStringInput",
    "ModelStringKeyConditionInput",
    "ModelSubscriptionBooleanInput",
    "ModelSubscriptionFloatInput",
    "ModelSubscriptionIDInput",
    "ModelSubscriptionIntInput",
    "ModelSubscriptionStringInput",
]

T = TypeVar("T")

#: ``sort_direction=`` of list and index queries on models with a sort key.
ModelSortDirection: TypeAlias = Literal["ASC", "DESC"]
#: ``attributeType`` of a filter condition (DynamoDB's attribute types, as AppSync names them).
ModelAttributeTypes: TypeAlias = Literal[
    "binary", "binarySet", "bool", "list", "map", "number", "numberSet", "string", "stringSet", "_null"]
#: What an ``AWSJSON`` input accepts: a JSON document as a string, or the parsed value.
JSONValue: TypeAlias = "str | int | float | bool | Mapping[str, Any] | list[Any] | None"


class CallOptions(TypedDict, total=False):
    """The request options every call accepts as keywords (see :class:`cove.client.Client`).

    Omitted means "the client's value"; ``None`` clears the option for this call.
    """

    auth_mode: AuthMode | None
    auth_token: str | None
    api_key: str | None
    headers: HeadersOption | None
    endpoint: str | None


class _CommonClientOptions(TypedDict, total=False):
    config: ConfigSource | None
    auth_mode: AuthMode | None
    auth_token: str | None
    api_key: str | None
    headers: HeadersOption | None
    endpoint: str | None
    timeout: float | httpx.Timeout | None
    max_attempts: int
    auth_providers: Mapping[str, AuthProvider] | None
    verify: ssl.SSLContext | str | bool


class ClientOptions(_CommonClientOptions, total=False):
    """The keyword arguments of :func:`cove.generate_client` (and of typed ``generate_client``)."""

    transport: httpx.BaseTransport | None


class AsyncClientOptions(_CommonClientOptions, total=False):
    """The keyword arguments of :func:`cove.generate_async_client`."""

    transport: httpx.AsyncBaseTransport | None


# -- lazy loaders on records --------------------------------------------------------------------


class Loader(Protocol[T]):
    """A relationship of a record read with the default selection set: ``todo.list()`` fetches the
    related record (``Result[TodoList | None]``), ``todo_list.todos(limit=5)`` a page of related
    records (``Result[list[Todo]]``)."""

    def __call__(self, *, limit: int | None = None, next_token: str | None = None,
                 **options: Unpack[CallOptions]) -> Result[T]: ...


class AsyncLoader(Protocol[T]):
    """The async client's :class:`Loader`: ``await todo.list()``."""

    def __call__(self, *, limit: int | None = None, next_token: str | None = None,
                 **options: Unpack[CallOptions]) -> Coroutine[Any, Any, Result[T]]: ...


# -- filters of list and index queries (Model*FilterInput) ----------------------------------------


class ModelSizeInput(TypedDict, total=False):
    ne: int
    eq: int
    le: int
    lt: int
    ge: int
    gt: int
    between: list[int] | tuple[int, int]


class ModelStringInput(TypedDict, total=False):
    """Conditions on a string-like field (String, AWSDate, AWSDateTime, AWSEmail, ...)."""

    ne: str | None
    eq: str | None
    le: str
    lt: str
    ge: str
    gt: str
    contains: str
    notContains: str
    between: list[str] | tuple[str, str]
    beginsWith: str
    attributeExists: bool
    attributeType: ModelAttributeTypes
    size: ModelSizeInput


class ModelIDInput(TypedDict, total=False):
    """Conditions on an ID field."""

    ne: str | None
    eq: str | None
    le: str
    lt: str
    ge: str
    gt: str
    contains: str
    notContains: str
    between: list[str] | tuple[str, str]
    beginsWith: str
    attributeExists: bool
    attributeType: ModelAttributeTypes
    size: ModelSizeInput


class ModelIntInput(TypedDict, total=False):
    """Conditions on an Int or AWSTimestamp field."""

    ne: int | None
    eq: int | None
    le: int
    lt: int
    ge: int
    gt: int
    between: list[int] | tuple[int, int]
    attributeExists: bool
    attributeType: ModelAttributeTypes


class ModelFloatInput(TypedDict, total=False):
    """Conditions on a Float field."""

    ne: float | None
    eq: float | None
    le: float
    lt: float
    ge: float
    gt: float
    between: list[float] | tuple[float, float]
    attributeExists: bool
    attributeType: ModelAttributeTypes


class ModelBooleanInput(TypedDict, total=False):
    """Conditions on a Boolean field."""

    ne: bool | None
    eq: bool | None
    attributeExists: bool
    attributeType: ModelAttributeTypes


# -- filters of subscriptions (ModelSubscription*Input): `in`/`notIn`, no attributeExists/size ------

ModelSubscriptionStringInput = TypedDict("ModelSubscriptionStringInput", {
    "ne": "str | None", "eq": "str | None", "le": "str", "lt": "str", "ge": "str", "gt": "str",
    "contains": "str", "notContains": "str", "between": "list[str] | tuple[str, str]", "beginsWith": "str",
    "in": "list[str]", "notIn": "list[str]",
}, total=False)
ModelSubscriptionIDInput = TypedDict("ModelSubscriptionIDInput", {
    "ne": "str | None", "eq": "str | None", "le": "str", "lt": "str", "ge": "str", "gt": "str",
    "contains": "str", "notContains": "str", "between": "list[str] | tuple[str, str]", "beginsWith": "str",
    "in": "list[str]", "notIn": "list[str]",
}, total=False)
ModelSubscriptionIntInput = TypedDict("ModelSubscriptionIntInput", {
    "ne": "int | None", "eq": "int | None", "le": "int", "lt": "int", "ge": "int", "gt": "int",
    "between": "list[int] | tuple[int, int]", "in": "list[int]", "notIn": "list[int]",
}, total=False)
ModelSubscriptionFloatInput = TypedDict("ModelSubscriptionFloatInput", {
    "ne": "float | None", "eq": "float | None", "le": "float", "lt": "float", "ge": "float", "gt": "float",
    "between": "list[float] | tuple[float, float]", "in": "list[float]", "notIn": "list[float]",
}, total=False)


class ModelSubscriptionBooleanInput(TypedDict, total=False):
    ne: bool | None
    eq: bool | None


# -- sort-key conditions (list on a composite-key model, index queries) -------------------------


class ModelStringKeyConditionInput(TypedDict, total=False):
    eq: str
    le: str
    lt: str
    ge: str
    gt: str
    between: list[str] | tuple[str, str]
    beginsWith: str


class ModelIDKeyConditionInput(TypedDict, total=False):
    eq: str
    le: str
    lt: str
    ge: str
    gt: str
    between: list[str] | tuple[str, str]
    beginsWith: str


class ModelIntKeyConditionInput(TypedDict, total=False):
    eq: int
    le: int
    lt: int
    ge: int
    gt: int
    between: list[int] | tuple[int, int]


class ModelFloatKeyConditionInput(TypedDict, total=False):
    eq: float
    le: float
    lt: float
    ge: float
    gt: float
    between: list[float] | tuple[float, float]
