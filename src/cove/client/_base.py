"""Everything the sync and async clients share: options, headers, bodies, parsing, model operations.

A call is prepared here as an :class:`Operation` (document, variables, options and a function that
turns the JSON payload into a :class:`Result`). ``Client`` and ``AsyncClient`` only *run*
operations: call the headers function, ask the auth provider for headers, send with retries. That
is the one place where ``def`` and ``async def`` differ (the design principle "async core, sync twin").
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar, Generic, Self, TypedDict, TypeVar, cast

import httpx
import orjson

from ._auth import AuthProvider, AuthRequest, get_auth_provider
from ._config import (
    AuthMode,
    CanonicalAuthMode,
    Config,
    ConfigSource,
    get_config,
    load_config,
    normalize_auth_mode,
)
from ._documents import (
    DocumentBuilder,
    ModelOperation,
    custom_variables,
    has_mutation,
    identifier_variables,
    index_variables,
    js_truthy,
    list_variables,
    mutation_variables,
    prepare_raw_document,
)
from ._records import DynamicRecord, GraphQLError, Record, Result
from ._schema import FieldInfo, ModelInfo, OperationInfo, OperationKind, SchemaInfo, mis_fingerprint
from .errors import ConfigurationError, ResponseError, ResponseShapeError, SchemaMismatchWarning

T = TypeVar("T")
RecordT = TypeVar("RecordT", bound=Record)


class UseClientDefault:
    """Type of :data:`USE_CLIENT_DEFAULT`: "this option was not passed; use the client's value".

    Passing ``None`` instead is different: it clears the option for this request (no
    ``auth_token``, no custom headers, the configured URL/API key/default auth mode).
    """

    _instance: Any = None

    def __new__(cls) -> Self:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        instance: Self = cls._instance
        return instance

    def __repr__(self) -> str:
        return "USE_CLIENT_DEFAULT"

    def __bool__(self) -> bool:
        return False


USE_CLIENT_DEFAULT = UseClientDefault()


class RequestInfo(TypedDict):
    """What a ``headers`` function receives (Amplify passes ``{method, url, queryString}``)."""

    method: str
    url: str
    headers: dict[str, str]
    query_string: str
    queryString: str


HeadersFunction = Callable[[RequestInfo], "Mapping[str, str] | Awaitable[Mapping[str, str]]"]
#: ``headers=`` option: a dict, or a (sync or async) function of the request returning a dict.
HeadersOption = Mapping[str, str] | HeadersFunction

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
CONTENT_TYPE = "application/json; charset=UTF-8"


def _user_agent() -> str:
    from .. import __version__

    return f"cove-python/{__version__} api/1"


USER_AGENT = _user_agent()


@dataclass(frozen=True)
class RequestOptions:
    """Per-request options; each is :data:`USE_CLIENT_DEFAULT` unless the call passed it."""

    auth_mode: AuthMode | None | UseClientDefault = USE_CLIENT_DEFAULT
    auth_token: str | None | UseClientDefault = USE_CLIENT_DEFAULT
    api_key: str | None | UseClientDefault = USE_CLIENT_DEFAULT
    headers: HeadersOption | None | UseClientDefault = USE_CLIENT_DEFAULT
    endpoint: str | None | UseClientDefault = USE_CLIENT_DEFAULT

    def override(self, other: RequestOptions) -> RequestOptions:
        """These options with every option ``other`` passed replacing ours."""
        changes = {k: getattr(other, k) for k in ("auth_mode", "auth_token", "api_key", "headers", "endpoint")
                   if getattr(other, k) is not USE_CLIENT_DEFAULT}
        return replace(self, **changes) if changes else self

    def for_related(self) -> RequestOptions:
        """What a lazy loader inherits from the call that returned its record (not the headers)."""
        return replace(self, headers=USE_CLIENT_DEFAULT)


@dataclass(frozen=True)
class Resolved:
    """Options after request > client > config resolution."""

    mode: CanonicalAuthMode
    url: str
    auth_token: str | None
    api_key: str | None
    headers: HeadersOption | None


Payload = Mapping[str, Any]


@dataclass(frozen=True)
class Operation(Generic[T]):
    """One prepared GraphQL call: I/O-free; a client runs it."""

    document: str
    variables: Mapping[str, Any]
    options: RequestOptions
    shape: Callable[[Payload], T]


@dataclass(frozen=True)
class Call:
    """An operation with its options resolved and its body encoded, ready for headers and I/O."""

    resolved: Resolved
    body: bytes
    base_headers: dict[str, str]
    info: RequestInfo
    writes: bool = False     # a mutation: retried only when it certainly did not run (see _retry_delay)


@dataclass(frozen=True)
class LoaderArgs:
    limit: int | None = None
    next_token: str | None = None
    options: RequestOptions = field(default_factory=RequestOptions)


#: Builds the call a lazy loader makes (or its answer, when no call is needed).
LoaderBuild = Callable[[LoaderArgs], "Operation[Result[Any]] | Result[Any]"]


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    if isinstance(obj, Decimal):
        return float(obj)
    if isinstance(obj, Enum):
        return obj.value
    raise TypeError(f"cannot send a {type(obj).__name__} as a GraphQL variable")


def encode_body(document: str, variables: Mapping[str, Any]) -> bytes:
    """``{"query": ..., "variables": ...}``, nothing else (no operationName), as Amplify sends it."""
    return orjson.dumps({"query": document, "variables": variables}, default=_json_default,
                        option=orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z)


def overlay_headers(target: dict[str, str], extra: Mapping[str, str]) -> None:
    """Add ``extra`` to ``target``; a header of the same name (any case) is replaced."""
    if not extra:
        return
    lowered = {k.lower() for k in extra}
    for k in [k for k in target if k.lower() in lowered]:
        del target[k]
    for k, v in extra.items():
        target[str(k)] = str(v)


# -- responses ------------------------------------------------------------------------------------

_THROTTLING = frozenset({
    "BandwidthLimitExceeded", "EC2ThrottledException", "LimitExceededException",
    "PriorRequestNotComplete", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
    "RequestThrottled", "RequestThrottledException", "SlowDown", "ThrottledException",
    "Throttling", "ThrottlingException", "TooManyRequestsException", "TransactionInProgressException",
})
_RETRYABLE_EXCEPTIONS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadError, httpx.WriteError,
                         httpx.RemoteProtocolError)
_UNSENT_EXCEPTIONS = (httpx.ConnectError, httpx.ConnectTimeout)   # the request never left


def _error_type(headers: httpx.Headers) -> str | None:
    value = headers.get("x-amzn-errortype")
    if not value:
        return None
    return value.split(":", 1)[0].strip() or None


def parse_response(response: httpx.Response) -> dict[str, Any]:
    """The GraphQL payload of ``response``, or :class:`ResponseError` when it has none."""
    status = response.status_code
    content = response.content
    error_type = _error_type(response.headers)
    try:
        payload = orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        payload = None
    if status >= 300:
        if isinstance(payload, dict) and isinstance(payload.get("errors"), list):
            errors = []
            for e in payload["errors"]:
                if isinstance(e, dict) and error_type and "errorType" not in e:
                    e = {**e, "errorType": error_type}
                errors.append(e)
            return {"data": payload.get("data"), "errors": errors, "extensions": payload.get("extensions")}
        message = None
        if isinstance(payload, dict):
            message = payload.get("message") or payload.get("Message")
            body_type = payload.get("__type") or payload.get("code")
            error_type = error_type or (str(body_type) if body_type else None)
        if not message:
            text = content.decode("utf-8", "replace").strip()
            message = text[:300] if text else (response.reason_phrase or "Unknown error")
        raise ResponseError(status, str(message), error_type=error_type, body=content)
    if isinstance(payload, dict) and ("data" in payload or "errors" in payload):
        return payload
    snippet = content[:200].decode("utf-8", "replace")
    raise ResponseError(status, f"the response is not a GraphQL JSON object: {snippet!r}",
                        error_type=error_type, body=content)


def graphql_errors(payload: Payload) -> list[GraphQLError]:
    raw = payload.get("errors")
    if not isinstance(raw, list):
        return []
    return [GraphQLError(e if isinstance(e, Mapping) else str(e)) for e in raw]


# -- the base client ------------------------------------------------------------------------------


class BaseClient:
    """State and I/O-free logic shared by :class:`~cove.client.Client` and
    :class:`~cove.client.AsyncClient`."""

    #: The Record subclass per model / custom type name (default :class:`DynamicRecord`); typed
    #: clients generated from a schema override this (and declare ``models``, ``queries``,
    #: ``mutations`` with precise types) so every record is a typed subclass of :class:`Record`.
    record_types: ClassVar[Mapping[str, type[Record]]] = {}
    #: Typed clients: the fingerprint of the schema they were generated from (checked on creation).
    typed_schema_fingerprint: ClassVar[str | None] = None

    def __init__(
        self,
        *,
        config: ConfigSource | None = None,
        auth_mode: AuthMode | None = None,
        auth_token: str | None = None,
        api_key: str | None = None,
        headers: HeadersOption | None = None,
        endpoint: str | None = None,
        auth_providers: Mapping[str, AuthProvider] | None = None,
        max_attempts: int = 3,
    ) -> None:
        self._config = load_config(config) if config is not None else get_config()
        self._auth_mode: CanonicalAuthMode | None = (
            normalize_auth_mode(auth_mode) if auth_mode is not None else None)
        self._auth_token = auth_token
        self._api_key = api_key
        self._headers = headers
        self._endpoint = endpoint
        if endpoint is not None:
            self._check_endpoint(self._auth_mode, api_key, "generate_client()")
        if max_attempts < 1:
            raise ConfigurationError("max_attempts must be at least 1")
        self._max_attempts = max_attempts
        self._providers: dict[str, AuthProvider] = {
            normalize_auth_mode(mode): p for mode, p in (auth_providers or {}).items()}
        self._schema = SchemaInfo.from_mis(self._config.model_introspection)
        if self.typed_schema_fingerprint is not None:
            self._check_typed_schema()
        self._documents = DocumentBuilder(self._schema)
        self._model_ops: dict[str, ModelOps[Any]] = {}
        self.enums = Enums(self._schema)

    def _check_typed_schema(self) -> None:
        mis = self._config.model_introspection
        if mis is not None and mis_fingerprint(mis) == self.typed_schema_fingerprint:
            return
        module = type(self).__module__
        warnings.warn(SchemaMismatchWarning(
            f"{module} was generated from another schema than the configured one "
            f"({'it has none' if mis is None else 'data.model_introspection differs'}): its types may "
            f"not match the API any more; generate it again with `cove generate client`"), stacklevel=4)

    @property
    def config(self) -> Config:
        """The configuration this client was generated from."""
        return self._config

    # -- options --------------------------------------------------------------------------------
    @staticmethod
    def _check_endpoint(mode: CanonicalAuthMode | None, api_key: str | None, where: str) -> None:
        if mode is None:
            raise ConfigurationError(f"{where} requires an explicit auth_mode when endpoint is provided")
        if mode == "api_key" and not api_key:
            raise ConfigurationError(
                f"{where} requires an explicit api_key when endpoint is provided with auth_mode 'api_key'")

    def _resolve(self, opts: RequestOptions) -> Resolved:
        if isinstance(opts.auth_mode, UseClientDefault) or opts.auth_mode is None:
            explicit_mode = (self._auth_mode if isinstance(opts.auth_mode, UseClientDefault)
                             else None)
        else:
            explicit_mode = normalize_auth_mode(opts.auth_mode)
        mode = explicit_mode or self._config.default_auth_mode

        endpoint = self._endpoint if isinstance(opts.endpoint, UseClientDefault) else opts.endpoint
        auth_token = self._auth_token if isinstance(opts.auth_token, UseClientDefault) else opts.auth_token
        headers = self._headers if isinstance(opts.headers, UseClientDefault) else opts.headers
        if endpoint is not None:
            # A second API: nothing from the outputs file applies to it.
            api_key = self._api_key if isinstance(opts.api_key, UseClientDefault) else opts.api_key
            self._check_endpoint(explicit_mode, api_key, "a request to a custom endpoint")
            url = endpoint
        else:
            if isinstance(opts.api_key, UseClientDefault):
                api_key = self._api_key if self._api_key is not None else self._config.api_key
            else:
                api_key = opts.api_key if opts.api_key is not None else self._config.api_key
            url = self._config.url
        return Resolved(mode=mode, url=url, auth_token=auth_token or None, api_key=api_key or None,
                        headers=headers)

    def _provider(self, mode: CanonicalAuthMode) -> AuthProvider:
        provider = self._providers.get(mode)
        if provider is None:
            provider = self._providers[mode] = get_auth_provider(mode)
        return provider

    # -- requests -------------------------------------------------------------------------------
    def _begin(self, op: Operation[Any]) -> Call:
        resolved = self._resolve(op.options)
        base = {"content-type": CONTENT_TYPE, "x-amz-user-agent": USER_AGENT}
        info: RequestInfo = {"method": "POST", "url": resolved.url, "headers": dict(base),
                             "query_string": op.document, "queryString": op.document}
        return Call(resolved=resolved, body=encode_body(op.document, op.variables), base_headers=base,
                    info=info, writes=has_mutation(op.document))

    @staticmethod
    def _headers_result(call: Call) -> Mapping[str, str] | Awaitable[Mapping[str, str]]:
        source = call.resolved.headers
        if source is None:
            return {}
        if callable(source):
            return source(call.info)
        return source

    def _auth_request(self, call: Call, custom: Mapping[str, str]) -> AuthRequest:
        headers = dict(call.base_headers)
        overlay_headers(headers, custom)
        r = call.resolved
        return AuthRequest(mode=r.mode, method="POST", url=r.url, headers=headers, body=call.body,
                           auth_token=r.auth_token, api_key=r.api_key, config=self._config)

    @staticmethod
    def _final_headers(call: Call, auth: Mapping[str, str], custom: Mapping[str, str]) -> dict[str, str]:
        headers = dict(call.base_headers)
        overlay_headers(headers, auth)
        if call.resolved.auth_token:
            overlay_headers(headers, {"authorization": call.resolved.auth_token})
        overlay_headers(headers, custom)
        return headers

    def _retry_delay(self, attempt: int, response: httpx.Response | None = None,
                     exc: Exception | None = None, *, writes: bool = False) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None to stop (Amplify's policy:
        connection errors, HTTP 429, throttling error types and 5xx; never other 4xx).

        A mutation (``writes``) is not idempotent (a create could run twice, a delete would then
        fail): it is retried only when it certainly did not run, i.e. the connection could not be
        opened, or the server answered 429 or a throttling error; not after a 5xx or a connection
        lost once the request was sent."""
        if attempt + 1 >= self._max_attempts:
            return None
        if exc is not None:
            if not isinstance(exc, _UNSENT_EXCEPTIONS if writes else _RETRYABLE_EXCEPTIONS):
                return None
        elif response is not None:
            status = response.status_code
            throttled = status == 429 or _error_type(response.headers) in _THROTTLING
            if not (throttled or (status >= 500 and not writes)):
                return None
        delay: float = 0.1 * float(2 ** (attempt + 1)) + random.uniform(0, 0.1)
        if response is not None:
            retry_after = response.headers.get("retry-after")
            if retry_after and retry_after.isdigit():
                delay = max(delay, float(retry_after))
        return min(delay, 5.0)

    # -- operations -----------------------------------------------------------------------------
    def _raw_operation(self, query: str, variables: Mapping[str, Any] | None,
                       options: RequestOptions) -> Operation[Result[Any]]:
        if not isinstance(query, str):
            raise TypeError("graphql() takes the document as a string")
        document, is_subscription = prepare_raw_document(query)
        if is_subscription:
            raise NotImplementedError("subscriptions run over the real-time WebSocket, which this "
                                      "client does not implement yet; graphql() sends queries and mutations")

        def shape(payload: Payload) -> Result[Any]:
            return Result(data=payload.get("data"), errors=graphql_errors(payload),
                          extensions=payload.get("extensions"))

        return Operation(document, dict(variables or {}), options, shape)

    def _ops(self, model_name: str) -> ModelOps[Any]:
        ops = self._model_ops.get(model_name)
        if ops is None:
            model = self._schema.models[model_name]
            record_type = self.record_types.get(model_name, DynamicRecord)
            ops = self._model_ops[model_name] = ModelOps(self, model, record_type)
        return ops

    def _make_loader(self, build: LoaderBuild) -> Callable[..., Any]:
        """A record's lazy loader; the concrete client runs what ``build`` returns."""
        raise NotImplementedError

    # -- records --------------------------------------------------------------------------------
    def _value(self, f: FieldInfo, value: Any, partial: bool = False, owner: str = "response") -> Any:
        """``value`` of field ``f`` of type ``owner`` as a record attribute, checked against the schema.

        Raises :class:`ResponseShapeError` when it does not match. ``partial``: the response also
        carried GraphQL errors, which explain nulls in required fields (AppSync nulls what it could
        not resolve), so those are let through.
        """
        if value is None:
            if not partial and f.kind != "model" and (
                    f.is_array_nullable is False if f.is_array else (f.is_required or f.is_read_only)):
                raise ResponseShapeError(owner, f.name, _expected(f), None)
            return None
        if f.is_array:
            if f.kind == "model" and isinstance(value, Mapping) and "items" in value:
                value = value["items"]  # hasMany connection → plain list
                if value is None:
                    return None
            if not isinstance(value, list):
                raise ResponseShapeError(owner, f.name, _expected(f), value)
            out: list[Any] = []
            for i, item in enumerate(value):
                try:
                    if item is None:
                        if f.is_required and not partial and f.kind != "model":
                            raise ResponseShapeError(owner, f.name, _expected(f, element=True), None)
                        out.append(None)
                    else:
                        out.append(self._element(f, item, partial, owner))
                except ResponseShapeError as exc:
                    exc.path[:0] = [i]
                    raise
            return out
        return self._element(f, value, partial, owner)

    def _element(self, f: FieldInfo, value: Any, partial: bool, owner: str) -> Any:
        kind = f.kind
        if kind == "scalar":
            if not _scalar_ok(f.type_name, value):
                raise ResponseShapeError(owner, f.name, _expected(f, element=True), value)
            return value
        if kind == "enum":
            values = self._schema.enums.get(f.type_name)
            if not isinstance(value, str) or (values is not None and value not in values):
                raise ResponseShapeError(owner, f.name, _expected(f, element=True, enums=self._schema.enums), value)
            return value
        if kind in ("model", "nonModel"):
            if not isinstance(value, Mapping):
                raise ResponseShapeError(owner, f.name, _expected(f, element=True), value)
            return self._record(f.type_name, value, partial=partial)
        return value

    def _record(self, type_name: str, raw: Mapping[str, Any], record_type: type[Record] | None = None,
                loaders: Mapping[str, Callable[..., Any]] | None = None, *, partial: bool = False) -> Any:
        model = self._schema.models.get(type_name)
        non_model = self._schema.non_models.get(type_name) if model is None else None
        fields = model.fields if model is not None else non_model.fields if non_model is not None else {}
        data: dict[str, Any] = {}
        for k, v in raw.items():
            f = fields.get(k)
            if f is None:
                data[k] = DynamicRecord(v) if isinstance(v, Mapping) else (
                    [DynamicRecord(x) if isinstance(x, Mapping) else x for x in v] if isinstance(v, list) else v)
            else:
                try:
                    data[k] = self._value(f, v, partial, type_name)
                except ResponseShapeError as exc:
                    exc.path[:0] = [k]
                    raise
        if record_type is None:
            record_type = self.record_types.get(type_name, DynamicRecord)
        return record_type._build(data, type_name if (model or non_model) else None, loaders)


def _root_error(type_name: str, root: str, expected: str, value: Any,
                sub_path: Sequence[str | int] = ()) -> ResponseShapeError:
    exc = ResponseShapeError(type_name, None, expected, value)
    exc.path[:] = [root, *sub_path]
    return exc


#: AppSync scalars whose values are JSON strings. AWSJSON is one on the wire (AppSync returns the
#: document as a string), but servers that return the parsed value are tolerated.
_STRING_SCALARS = frozenset({"ID", "String", "AWSDate", "AWSTime", "AWSDateTime", "AWSEmail", "AWSPhone",
                             "AWSURL", "AWSIPAddress"})


def _scalar_ok(type_name: str, value: Any) -> bool:
    if type_name in _STRING_SCALARS:
        return isinstance(value, str)
    if type_name in ("Int", "AWSTimestamp"):
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "Float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if type_name == "Boolean":
        return isinstance(value, bool)
    return True  # AWSJSON, or a scalar this client does not know: left alone


def _expected(f: FieldInfo, *, element: bool = False, enums: Mapping[str, tuple[str, ...]] | None = None) -> str:
    if f.kind == "enum":
        values = (enums or {}).get(f.type_name)
        inner = (f"one of the {f.type_name} values ({', '.join(values)})" if values
                 else f"a {f.type_name} value")
    elif f.kind in ("model", "nonModel"):
        inner = f"a {f.type_name} object"
    else:
        inner = f"{'an' if f.type_name[:1] in 'AEIOU' else 'a'} {f.type_name}"
    if f.is_array and not element:
        return f"a list of {f.type_name}" if f.kind in ("scalar", "enum") else f"a list of {f.type_name} objects"
    if f.is_array and element:
        return inner + " (a list element)"
    return inner


class Enums:
    """``client.enums.<Enum>.values()``."""

    def __init__(self, schema: SchemaInfo) -> None:
        self._enums: dict[str, EnumInfo[str]] = {
            name: EnumInfo(name, values) for name, values in schema.enums.items()}

    def __getattr__(self, name: str) -> EnumInfo[str]:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._enums[name]
        except KeyError:
            raise AttributeError(f"no enum {name!r} in the model introspection schema "
                                 f"(enums: {', '.join(self._enums) or 'none'})") from None

    def __getitem__(self, name: str) -> EnumInfo[str]:
        return self._enums[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._enums)

    def __contains__(self, name: object) -> bool:
        return name in self._enums

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._enums))


E = TypeVar("E", bound=str)


@dataclass(frozen=True)
class EnumInfo(Generic[E]):
    """``client.enums.TodoPriority``; typed clients know its values (``EnumInfo[TodoPriority]``)."""

    name: str
    _values: tuple[E, ...]

    def values(self) -> list[E]:
        """The enum's values, in schema order."""
        return list(self._values)


# -- model operations -----------------------------------------------------------------------------


class ModelOps(Generic[RecordT]):
    """The I/O-free half of ``client.models.<Model>``: builds operations and shapes their results."""

    def __init__(self, client: BaseClient, model: ModelInfo, record_type: type[RecordT]) -> None:
        self.client = client
        self.model = model
        self.record_type = record_type

    def _document(self, operation: ModelOperation, selection_set: Sequence[str] | None,
                  query_field: str | None = None) -> str:
        key = None if selection_set is None else tuple(selection_set)
        if isinstance(selection_set, str):
            raise TypeError("selection_set must be a list of field paths, e.g. ['id', 'content']")
        return self.client._documents.document(self.model.name, operation, key, query_field)

    # -- operations -----------------------------------------------------------------------------
    def mutation(self, operation: ModelOperation, data: Mapping[str, Any],
                 selection_set: Sequence[str] | None, options: RequestOptions
                 ) -> Operation[Result[RecordT | None]]:
        variables = mutation_variables(self.client._schema, self.model, operation, data)
        return Operation(self._document(operation, selection_set), variables, options,
                         self._singular_shape(selection_set is None, options))

    def get(self, identifier: Mapping[str, Any], selection_set: Sequence[str] | None,
            options: RequestOptions) -> Operation[Result[RecordT | None]]:
        variables = identifier_variables(self.model, identifier, "get")
        return Operation(self._document("get", selection_set), variables, options,
                         self._singular_shape(selection_set is None, options))

    def list_page(self, *, filter: Mapping[str, Any] | None, limit: int | None, next_token: str | None,
             sort_direction: str | None, selection_set: Sequence[str] | None,
             key_args: Mapping[str, Any], options: RequestOptions) -> Operation[Result[list[RecordT]]]:
        variables = list_variables(self.model, filter=filter, limit=limit, next_token=next_token,
                                   sort_direction=sort_direction, key_args=key_args)
        return Operation(self._document("list", selection_set), variables, options,
                         self._list_shape(selection_set is None, options))

    def index_query(self, query_field: str, keys: Mapping[str, Any], *, filter: Mapping[str, Any] | None,
                    limit: int | None, next_token: str | None, sort_direction: str | None,
                    selection_set: Sequence[str] | None, options: RequestOptions
                    ) -> Operation[Result[list[RecordT]]]:
        index = self.model.index(query_field)
        if index is None:  # pragma: no cover - guarded by the model clients
            raise AttributeError(query_field)
        variables = index_variables(self.model, index, keys, filter=filter, limit=limit,
                                    next_token=next_token, sort_direction=sort_direction)
        return Operation(self._document("index", selection_set, query_field), variables, options,
                         self._list_shape(selection_set is None, options))

    # -- results --------------------------------------------------------------------------------
    def _singular_shape(self, lazy: bool, options: RequestOptions
                        ) -> Callable[[Payload], Result[RecordT | None]]:
        def shape(payload: Payload) -> Result[RecordT | None]:
            data = payload.get("data")
            errors = graphql_errors(payload)
            value: RecordT | None = None
            if isinstance(data, Mapping) and data:
                root, raw = next(iter(data.items()))  # the single root field
                if isinstance(raw, Mapping):
                    try:
                        value = self.record(raw, lazy, options, partial=bool(errors))
                    except ResponseShapeError as exc:
                        exc.path[:0] = [root]
                        raise
                elif raw is not None:
                    raise _root_error(self.model.name, root, f"a {self.model.name} object", raw)
            return Result(data=value, errors=errors, extensions=payload.get("extensions"))
        return shape

    def _list_shape(self, lazy: bool, options: RequestOptions) -> Callable[[Payload], Result[list[RecordT]]]:
        def shape(payload: Payload) -> Result[list[RecordT]]:
            data = payload.get("data")
            errors = graphql_errors(payload)
            items: list[RecordT] = []
            token = None
            if isinstance(data, Mapping) and data:
                root, conn = next(iter(data.items()))
                connection = f"a Model{self.model.name}Connection object"
                if isinstance(conn, Mapping):
                    token = conn.get("nextToken")
                    if token is not None and not isinstance(token, str):
                        raise _root_error(self.model.name, root, f"{connection} with a string nextToken", conn)
                    raw_items = conn.get("items")
                    if isinstance(raw_items, list):
                        for i, item in enumerate(raw_items):
                            if item is None:
                                continue  # an item AppSync could not resolve; its error is in `errors`
                            if not isinstance(item, Mapping):
                                raise _root_error(self.model.name, root, f"a {self.model.name} object", item,
                                                  ["items", i])
                            try:
                                items.append(self.record(item, lazy, options, partial=bool(errors)))
                            except ResponseShapeError as exc:
                                exc.path[:0] = [root, "items", i]
                                raise
                    elif raw_items is not None:
                        raise _root_error(self.model.name, root, f"a list of {self.model.name} objects",
                                          raw_items, ["items"])
                elif conn is not None:
                    raise _root_error(self.model.name, root, connection, conn)
            return Result(data=items, errors=errors, next_token=token, extensions=payload.get("extensions"))
        return shape

    def record(self, raw: Mapping[str, Any], lazy: bool, options: RequestOptions, *,
               partial: bool = False) -> RecordT:
        loaders = self._loaders(raw, options.for_related()) if lazy else None
        return cast(RecordT, self.client._record(self.model.name, raw, self.record_type, loaders, partial=partial))

    # -- lazy loaders (Amplify's initializeModel) -----------------------------------------------
    def _loaders(self, raw: Mapping[str, Any], parent: RequestOptions) -> dict[str, Callable[..., Any]]:
        loaders: dict[str, Callable[..., Any]] = {}
        schema = self.client._schema
        for f in self.model.fields.values():
            related = schema.models.get(f.type_name) if f.kind == "model" else None
            if related is None or f.association is None:
                continue
            build = self._loader_build(f, related, raw, parent)
            if build is not None:
                loaders[f.name] = self.client._make_loader(build)
        return loaders

    def _loader_build(self, f: FieldInfo, related: ModelInfo, raw: Mapping[str, Any],
                      parent: RequestOptions) -> LoaderBuild | None:
        assert f.association is not None
        assoc = f.association
        client = self.client
        if assoc.connection_type == "BELONGS_TO" or (assoc.connection_type == "HAS_ONE" and assoc.target_names):
            # belongsTo, and hasOne in the older shape: this record holds the related key (targetNames).
            targets = assoc.target_names
            if not targets:
                return None

            def build_belongs_to(args: LoaderArgs) -> Operation[Result[Any]] | Result[Any]:
                fk = raw.get(targets[0])
                if not js_truthy(fk):
                    return Result(data=None)
                ident = {related.primary_key: fk}
                for i, sk in enumerate(related.sort_keys):
                    if i + 1 < len(targets):
                        ident[sk] = raw.get(targets[i + 1])
                op: Operation[Result[Any]] = client._ops(related.name).get(
                    ident, None, parent.override(args.options))
                return op

            return build_belongs_to
        if assoc.connection_type in ("HAS_MANY", "HAS_ONE"):
            connection = assoc.associated_with
            if connection:
                # associatedWith naming the child's belongsTo field (older MIS): use its targetNames
                child = related.fields.get(connection[0])
                if child is not None and child.kind == "model" and child.association is not None:
                    connection = child.association.target_names
            if not connection:
                return None
            parent_keys = self.model.identifier
            has_one = assoc.connection_type == "HAS_ONE"

            def build_has_many(args: LoaderArgs) -> Operation[Result[Any]] | Result[Any]:
                if not js_truthy(raw.get(parent_keys[0])):
                    return Result(data=None if has_one else [])
                conditions = [{fk: {"eq": raw.get(parent_keys[i]) if i < len(parent_keys) else None}}
                              for i, fk in enumerate(connection)]
                op = client._ops(related.name).list_page(
                    filter={"and": conditions}, limit=args.limit, next_token=args.next_token,
                    sort_direction=None, selection_set=None, key_args={},
                    options=parent.override(args.options))
                if not has_one:
                    return op
                list_shape = op.shape

                def first(payload: Payload) -> Result[Any]:
                    result = list_shape(payload)
                    return Result(data=result.data[0] if result.data else None, errors=result.errors,
                                  extensions=result.extensions)

                return Operation(op.document, op.variables, op.options, first)

            return build_has_many
        return None


# -- custom operations ----------------------------------------------------------------------------


class CustomOps:
    """The I/O-free half of ``client.queries.<op>`` and ``client.mutations.<op>`` (Amplify's
    ``custom.ts``): the document, the variables, and the result shaped like the operation's type
    (records for models and custom types, with lazy loaders on models)."""

    def __init__(self, client: BaseClient, op: OperationInfo) -> None:
        self.client = client
        self.op = op

    def operation(self, args: Mapping[str, Any] | None, options: RequestOptions) -> Operation[Result[Any]]:
        variables = custom_variables(self.op, args)
        return Operation(self.client._documents.custom_document(self.op), variables, options, self._shape(options))

    def _shape(self, options: RequestOptions) -> Callable[[Payload], Result[Any]]:
        def shape(payload: Payload) -> Result[Any]:
            data = payload.get("data")
            errors = graphql_errors(payload)
            value: Any = None
            if isinstance(data, Mapping) and data:
                root, raw = next(iter(data.items()))
                try:
                    value = self._convert(raw, bool(errors), options)
                except ResponseShapeError as exc:
                    exc.path[:0] = [root]
                    raise
            return Result(data=value, errors=errors, extensions=payload.get("extensions"))
        return shape

    def _convert(self, raw: Any, partial: bool, options: RequestOptions) -> Any:
        f = self.op.returns
        if f.is_array and isinstance(raw, list):
            raw = [item for item in raw if item is not None]  # Amplify drops null entries
        if f.kind != "model" or f.type_name not in self.client._schema.models or raw is None:
            try:
                return self.client._value(f, raw, partial, self.op.name)
            except ResponseShapeError as exc:
                if exc.type_name == self.op.name and exc.field == f.name:
                    exc.field = None  # the operation's own value: "echo should be a String"
                raise
        ops = self.client._ops(f.type_name)

        def one(item: Any) -> Any:
            if not isinstance(item, Mapping):
                raise ResponseShapeError(self.op.name, None, f"a {f.type_name} object", item)
            return ops.record(item, True, options, partial=partial)

        if f.is_array:
            if not isinstance(raw, list):
                raise ResponseShapeError(self.op.name, None, f"a list of {f.type_name} objects", raw)
            out = []
            for i, item in enumerate(raw):
                try:
                    out.append(one(item))
                except ResponseShapeError as exc:
                    exc.path[:0] = [i]
                    raise
            return out
        return one(raw)


OC = TypeVar("OC")


class OperationsNamespace(Generic[OC]):
    """``client.queries`` / ``client.mutations``: one callable per custom operation of the MIS."""

    def __init__(self, schema: SchemaInfo, kind: OperationKind, factory: Callable[[OperationInfo], OC]) -> None:
        self._ops = schema.operations(kind)
        self._kind = kind
        self._factory = factory
        self._callables: dict[str, OC] = {}

    def __getattr__(self, name: str) -> OC:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            known = ", ".join(self._ops) or "none"
            raise AttributeError(f"no custom {self._kind} {name!r} in the model introspection schema; "
                                 f"{self._kind} operations: {known}") from None

    def __getitem__(self, name: str) -> OC:
        fn = self._callables.get(name)
        if fn is None:
            fn = self._callables[name] = self._factory(self._ops[name])
        return fn

    def __iter__(self) -> Iterator[str]:
        return iter(self._ops)

    def __len__(self) -> int:
        return len(self._ops)

    def __contains__(self, name: object) -> bool:
        return name in self._ops

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._ops))


# -- the parts of client.models shared by both clients --------------------------------------------

MC = TypeVar("MC")

#: Public methods that exist only while the MIS enables their operation.
_GATED: dict[str, str] = {"create": "create", "get": "get", "update": "update", "delete": "delete",
                          "list": "list", "list_all": "list", "on_create": "onCreate", "on_update": "onUpdate",
                          "on_delete": "onDelete", "observe_query": "list"}


def _disabled_message(model: ModelInfo, name: str, op: str) -> str:
    return (f"{model.name}.{name}() is not available: the {op!r} operation is disabled for model "
            f"{model.name} (disable_operations in the schema)")


class ModelsNamespace(Generic[MC]):
    """``client.models``: one model client per model of the MIS (``client.models.Todo``)."""

    def __init__(self, schema: SchemaInfo, factory: Callable[[str], MC]) -> None:
        self._schema = schema
        self._factory = factory
        self._clients: dict[str, MC] = {}

    def __getattr__(self, name: str) -> MC:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            known = ", ".join(self._schema.models) or "none"
            raise AttributeError(
                f"no model {name!r} in the model introspection schema (data.model_introspection of "
                f"amplify_outputs.json); models: {known}") from None

    def __getitem__(self, name: str) -> MC:
        mc = self._clients.get(name)
        if mc is None:
            if name not in self._schema.models:
                raise KeyError(name)
            mc = self._clients[name] = self._factory(name)
        return mc

    def __iter__(self) -> Iterator[str]:
        return iter(self._schema.models)

    def __len__(self) -> int:
        return len(self._schema.models)

    def __contains__(self, name: object) -> bool:
        return name in self._schema.models

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._schema.models))


class ModelClientBase(Generic[RecordT]):
    """What ``ModelClient`` and ``AsyncModelClient`` share: operation gating and index queries."""

    _ops: ModelOps[RecordT]

    def __getattribute__(self, name: str) -> Any:
        op = _GATED.get(name)
        if op is not None:
            model: ModelInfo = object.__getattribute__(self, "_ops").model
            if not model.enabled(op):
                raise AttributeError(_disabled_message(model, name, op))
        return object.__getattribute__(self, name)

    def __getattr__(self, name: str) -> Any:
        # Python calls this after __getattribute__ raised, so disabled operations land here too.
        if name.startswith("_"):
            raise AttributeError(name)
        model = self._ops.model
        if name in _GATED:
            raise AttributeError(_disabled_message(model, name, _GATED[name]))
        if model.index(name) is not None:
            return self._index_query(name)
        queries = ", ".join(i.query_field for i in model.indexes)
        raise AttributeError(f"model {model.name} has no operation or index query {name!r}"
                             + (f" (index queries: {queries})" if queries else ""))

    def _index_query(self, query_field: str) -> Any:
        raise NotImplementedError

    def __dir__(self) -> list[str]:
        model = self._ops.model
        names = {n for n in super().__dir__() if not (n in _GATED and not model.enabled(_GATED[n]))}
        return sorted(names | {i.query_field for i in model.indexes})

    @property
    def name(self) -> str:
        """The model's name (``"Todo"``)."""
        return self._ops.model.name

    @property
    def index_queries(self) -> tuple[str, ...]:
        """The secondary-index query methods of this model (``queryField`` names)."""
        return tuple(i.query_field for i in self._ops.model.indexes)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._ops.model.name}>"
