"""The synchronous client. Its async twin is ``_async_client.py``; they differ only in I/O."""

from __future__ import annotations

import inspect
import queue
import ssl
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import httpx

from ._auth import AuthProvider
from ._base import BaseClient
from ._config import AuthMode, ConfigSource
from ._http import DEFAULT_TIMEOUT, parse_response
from ._namespaces import ModelClientBase, ModelsNamespace, OperationsNamespace
from ._observe import ObserveQuery, SortBy
from ._operations import CustomOps, LoaderArgs, LoaderBuild, ModelOps, Operation, RecordT, raw_operation
from ._options import USE_CLIENT_DEFAULT, HeadersOption, RequestOptions, UseClientDefault
from ._paging import paginate
from ._realtime import (
    SubscriptionRequest,
    model_subscription,
    raw_subscription,
    ssl_context,
)
from ._realtime_sync import Subscription, SyncRealtime
from ._extensions import (
    ItemResults,
    MaybeRecords,
    RecordList,
    RecordPage,
    TransactItem,
    aggregate_operation,
    batch_get_operation,
    batch_write_operation,
    count_operation,
    search_operation,
    transact_item,
    transact_operation,
)
from ._records import DynamicRecord, Result
from .errors import ConfigurationError, TransportError, TransportTimeoutError

T = TypeVar("T")

_AuthModeOpt = AuthMode | None | UseClientDefault
_StrOpt = str | None | UseClientDefault
_HeadersOpt = HeadersOption | None | UseClientDefault


class Client(BaseClient):
    """A synchronous Amplify Data client (``cove.generate_client()``).

    Options (each also accepted per call, where they win over these; ``None`` per call clears one):

    - ``auth_mode``: ``"api_key" "user_pool" "identity_pool" "iam" "oidc" "lambda" "none"`` (or
      Amplify's ``"apiKey" "userPool" "identityPool"``). Default: the outputs file's default mode.
    - ``auth_token``: sent verbatim as ``Authorization`` (lambda tokens, or a user-pool id token).
    - ``api_key``: replaces the outputs file's key.
    - ``headers``: a dict, or a function receiving ``{"method", "url", "headers", "query_string",
      "queryString"}`` and returning a dict. Per-call headers *replace* the client's (as in Amplify).
    - ``endpoint``: another GraphQL URL; needs an explicit ``auth_mode`` (and ``api_key`` for
      api_key mode). ``client.models`` keeps working there.

    Also: ``config`` (a :class:`~cove.client.Config`, outputs dict or path instead of the global
    :func:`cove.configure`), ``timeout``, ``max_attempts`` (retries on connection errors, 429 and
    5xx), ``auth_providers`` (``{mode: AuthProvider}``), ``transport`` and ``verify`` (for httpx).

    Raises :class:`~cove.client.errors.ConfigurationError` for a bad configuration,
    :class:`~cove.client.errors.AuthConfigurationError` subclasses when a call's auth mode has no
    credentials (before sending), :class:`~cove.client.errors.TransportError` and
    :class:`~cove.client.errors.ResponseError`. GraphQL errors are returned in ``Result.errors``.
    """

    def __init__(
        self,
        *,
        config: ConfigSource | None = None,
        auth_mode: AuthMode | None = None,
        auth_token: str | None = None,
        api_key: str | None = None,
        headers: HeadersOption | None = None,
        endpoint: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_attempts: int = 3,
        auth_providers: Mapping[str, AuthProvider] | None = None,
        transport: httpx.BaseTransport | None = None,
        verify: ssl.SSLContext | str | bool = True,
    ) -> None:
        super().__init__(config=config, auth_mode=auth_mode, auth_token=auth_token, api_key=api_key,
                         headers=headers, endpoint=endpoint, auth_providers=auth_providers,
                         max_attempts=max_attempts, make_loader=self._make_loader)
        verify = ssl_context(verify, self._config)  # also trusts `cove sandbox --tls`'s CA
        self._verify = verify
        self._realtime: SyncRealtime | None = None
        self._http = httpx.Client(timeout=timeout, transport=transport, verify=verify)
        self.models: ModelsNamespace[ModelClient[DynamicRecord]] = ModelsNamespace(
            self._schema, lambda name: ModelClient(self, self._ops(name)))
        #: Custom queries and mutations of the schema: ``client.queries.echo({"message": "hi"})``.
        self.queries: OperationsNamespace[CustomOperation] = OperationsNamespace(
            self._schema, "query", lambda op: CustomOperation(self, self._operations.custom(op)))
        self.mutations: OperationsNamespace[CustomOperation] = OperationsNamespace(
            self._schema, "mutation", lambda op: CustomOperation(self, self._operations.custom(op)))

    # -- public ---------------------------------------------------------------------------------
    def graphql(self, query: str, variables: Mapping[str, Any] | None = None, *,
                auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Result[Any]:
        """Send a query or mutation; ``Result.data`` is the raw ``data`` dict (or None).

        GraphQL errors (validation, resolver, condition failures, HTTP 401 with an ``errors``
        body) come back in ``Result.errors``. An unparsable document raises ValueError.

        A subscription document returns a :class:`~cove.client.Subscription` once the server
        acknowledged it; it yields each event as a ``Result``.
        """
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        subscription = raw_subscription(query, variables, options)
        if subscription is not None:
            return self.realtime.subscribe(subscription)  # type: ignore[return-value]
        return self._run(raw_operation(query, variables, options))

    def transact(self, items: Sequence[TransactItem[Any]], /, *,
                 auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                 api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                 endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Result[RecordList]:
        """Up to 100 writes (``client.models.<Model>.create_item(...)``, ``update_item``, ``delete_item``)
        all or none (a Cove server's ``transactWrite``). ``data``: the written records in order; when
        one fails, nothing is written and ``errors[0]`` is a ``DynamoDB:TransactionCanceledException``
        whose ``error_info["cancellationReasons"]`` holds a reason per item."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return self._run(transact_operation(self._operations, items, options))

    @property
    def realtime(self) -> SyncRealtime:
        """The real-time sockets: ``.state()``, ``.add_listener(fn)``, ``.options`` (timers)."""
        if self._realtime is None:
            self._realtime = SyncRealtime(self, self._verify)
        return self._realtime

    def close(self) -> None:
        """Close the connection pool and every real-time subscription."""
        if self._realtime is not None:
            self._realtime.close()
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- I/O ------------------------------------------------------------------------------------
    def _run(self, op: Operation[T]) -> T:
        call = self._begin(op)
        custom = self._headers_result(call)
        if inspect.isawaitable(custom):
            if inspect.iscoroutine(custom):
                custom.close()
            raise ConfigurationError("the headers function is async: use it with "
                                     "cove.generate_async_client(), or pass a sync function")
        auth = self._provider(call.resolved.mode).auth_headers(self._auth_request(call, custom))
        request = self._http.build_request("POST", call.resolved.url, content=call.body,
                                           headers=self._final_headers(call, auth, custom))
        response = self._send(request, writes=call.writes)
        return op.shape(parse_response(response))

    def _send(self, request: httpx.Request, *, writes: bool = False) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = self._http.send(request)
            except httpx.TransportError as exc:
                delay = self._retry_delay(attempt, exc=exc, writes=writes)
                if delay is None:
                    cls = TransportTimeoutError if isinstance(exc, httpx.TimeoutException) else TransportError
                    raise cls(f"{type(exc).__name__}: {exc} ({request.url})") from exc
            else:
                delay = self._retry_delay(attempt, response=response, writes=writes)
                if delay is None:
                    return response
                response.close()
            time.sleep(delay)
            attempt += 1

    def _make_loader(self, build: LoaderBuild) -> Callable[..., Result[Any]]:
        def load(*, limit: int | None = None, next_token: str | None = None,
                 auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                 api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                 endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Result[Any]:
            """Fetch the related record(s): a Result (a list Result for hasMany)."""
            options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
            planned = build(LoaderArgs(limit, next_token, options))
            return planned if isinstance(planned, Result) else self._run(planned)
        return load


class ModelClient(ModelClientBase[RecordT], Generic[RecordT]):
    """``client.models.<Model>``: create/get/update/delete/list, index queries, ``list_all``.

    Every method takes the request options ``auth_mode``, ``auth_token``, ``api_key``, ``headers``,
    ``endpoint`` as keywords, and ``selection_set`` (a list of dotted field paths; ``"posts.*"``).
    Operations disabled in the schema are absent (AttributeError).
    """

    def __init__(self, client: Client, ops: ModelOps[RecordT]) -> None:
        self._client = client
        self._ops = ops

    def create(self, data: Mapping[str, Any], /, *, selection_set: Sequence[str] | None = None,
               auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
               api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
               endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Result[RecordT | None]:
        """Create a record; ``data`` holds its fields (related records become their foreign keys)."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return self._client._run(self._ops.mutation("create", data, selection_set, options))

    def get(self, identifier: Mapping[str, Any], /, *, selection_set: Sequence[str] | None = None,
            auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
            api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
            endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Result[RecordT | None]:
        """Fetch one record by its identifier (``{"id": ...}``, or every primary+sort key field)."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return self._client._run(self._ops.get(identifier, selection_set, options))

    def update(self, data: Mapping[str, Any], /, *, selection_set: Sequence[str] | None = None,
               auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
               api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
               endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Result[RecordT | None]:
        """Update the fields given in ``data`` (which includes the identifier); read-only fields
        such as ``createdAt`` are dropped, so a fetched record can be passed back."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return self._client._run(self._ops.mutation("update", data, selection_set, options))

    def delete(self, identifier: Mapping[str, Any], /, *, selection_set: Sequence[str] | None = None,
               auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
               api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
               endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Result[RecordT | None]:
        """Delete by identifier; ``data`` is the deleted record."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return self._client._run(self._ops.mutation("delete", identifier, selection_set, options))

    def list(self, *, filter: Mapping[str, Any] | None = None, limit: int | None = None,
             next_token: str | None = None, sort_direction: str | None = None,
             sort_by: str | Sequence[str] | None = None, selection_set: Sequence[str] | None = None,
             auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
             api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
             endpoint: _StrOpt = USE_CLIENT_DEFAULT, **key_conditions: Any) -> Result[list[RecordT]]:
        """One page of records; ``Result.next_token`` fetches the next.

        For a model with a custom identifier, pass the partition key value as a keyword named after
        its field, and a sort-key condition named like Amplify's (the field, or the camel-joined
        fields of a composite sort key): ``list(customerId="c1", placedAt={"ge": "2025"})``.
        """
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return self._client._run(self._ops.list_page(
            filter=filter, limit=limit, next_token=next_token, sort_direction=sort_direction,
            selection_set=selection_set, key_args=key_conditions, options=options, sort_by=sort_by))

    def list_all(self, *, filter: Mapping[str, Any] | None = None, limit: int | None = None,
                 sort_direction: str | None = None, sort_by: str | Sequence[str] | None = None,
                 selection_set: Sequence[str] | None = None,
                 auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                 api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                 endpoint: _StrOpt = USE_CLIENT_DEFAULT, **key_conditions: Any) -> Iterator[RecordT]:
        """Every record, following ``next_token`` page by page (``limit`` is the page size).
        A page with GraphQL errors raises :class:`~cove.client.errors.GraphQLResponseError`."""
        return paginate(self.list, filter=filter, limit=limit, sort_direction=sort_direction, sort_by=sort_by,
                        selection_set=selection_set, auth_mode=auth_mode, auth_token=auth_token,
                        api_key=api_key, headers=headers, endpoint=endpoint, **key_conditions)

    # -- beyond Amplify (Cove servers; batches work against AppSync too) -------------------------
    def count(self, *, filter: Mapping[str, Any] | None = None,
              auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
              api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
              endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Result[int | None]:
        """How many records match ``filter`` (of those the caller may read): ``count<Models>``."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return self._client._run(count_operation(self._ops, filter, options))

    def aggregate(self, function: str, field: str | None = None, /, *, filter: Mapping[str, Any] | None = None,
                  group_by: str | None = None, max_groups: int | None = None,
                  auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                  api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                  endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Result[Any]:
        """``count``/``sum``/``avg``/``min``/``max`` of ``field`` over the records matching ``filter``:
        the value, or with ``group_by`` a dict of group value -> value (at most ``max_groups``, 100)."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return self._client._run(aggregate_operation(self._ops, function, field, filter, group_by, max_groups,
                                                         options))

    def search(self, query: str, /, *, filter: Mapping[str, Any] | None = None, limit: int | None = None,
               next_token: str | None = None, selection_set: Sequence[str] | None = None,
               auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
               api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
               endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Result[RecordPage[RecordT]]:
        """Full-text search (a Cove server's ``search<Models>``, on a model declared ``.searchable([...])``):
        the records holding every word of ``query``, best match first, that match ``filter``; a page
        (``Result.next_token``)."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return self._client._run(search_operation(self._ops, query, filter, limit, next_token, selection_set,
                                                      options))

    def batch_get(self, keys: Sequence[Mapping[str, Any]], /, *, selection_set: Sequence[str] | None = None,
                  auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                  api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                  endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Result[MaybeRecords[RecordT]]:
        """Up to 100 records by identifier in one request; ``data[i]`` is ``keys[i]``'s (None if absent)."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return self._client._run(batch_get_operation(self._ops, keys, selection_set, options))

    def batch_create(self, items: Sequence[Mapping[str, Any]], /, *, selection_set: Sequence[str] | None = None,
                     auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                     api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                     endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> ItemResults[RecordT]:
        """Up to 100 creates in one request, each on its own (not all-or-nothing: see ``transact``):
        a Result per item."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return self._client._run(batch_write_operation(self._ops, "create", items, selection_set, options))

    def batch_delete(self, keys: Sequence[Mapping[str, Any]], /, *, selection_set: Sequence[str] | None = None,
                     auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                     api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                     endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> ItemResults[RecordT]:
        """Up to 100 deletes by identifier in one request, each on its own: a Result per item."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return self._client._run(batch_write_operation(self._ops, "delete", keys, selection_set, options))

    def create_item(self, data: Mapping[str, Any], /, *, condition: Mapping[str, Any] | None = None
                    ) -> TransactItem[RecordT]:
        """A create for ``client.transact([...])`` (``condition`` is tested against no record)."""
        return transact_item(self._ops, "create", data, condition)

    def update_item(self, data: Mapping[str, Any], /, *, condition: Mapping[str, Any] | None = None
                    ) -> TransactItem[RecordT]:
        """An update for ``client.transact([...])``; a missing record fails the transaction."""
        return transact_item(self._ops, "update", data, condition)

    def delete_item(self, identifier: Mapping[str, Any], /, *, condition: Mapping[str, Any] | None = None
                    ) -> TransactItem[RecordT]:
        """A delete for ``client.transact([...])``; a missing record fails the transaction."""
        return transact_item(self._ops, "delete", identifier, condition)

    # -- real-time ------------------------------------------------------------------------------
    def on_create(self, *, filter: Mapping[str, Any] | None = None, selection_set: Sequence[str] | None = None,
                  auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                  api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                  endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Subscription[RecordT]:
        """Subscribe to created records (``onCreate<Model>``, with a ``ModelSubscription<Model>FilterInput``
        ``filter``); returns once the server acknowledged, so a create made afterwards is delivered.
        ``with``/``for``: ``with client.models.Todo.on_create() as sub: for todo in sub: ...``."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return self._client.realtime.subscribe(self._subscription("create", filter, selection_set, options))

    def on_update(self, *, filter: Mapping[str, Any] | None = None, selection_set: Sequence[str] | None = None,
                  auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                  api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                  endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Subscription[RecordT]:
        """Subscribe to updated records (see :meth:`on_create`)."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return self._client.realtime.subscribe(self._subscription("update", filter, selection_set, options))

    def on_delete(self, *, filter: Mapping[str, Any] | None = None, selection_set: Sequence[str] | None = None,
                  auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                  api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                  endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Subscription[RecordT]:
        """Subscribe to deleted records (see :meth:`on_create`)."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return self._client.realtime.subscribe(self._subscription("delete", filter, selection_set, options))

    def observe_query(self, *, filter: Mapping[str, Any] | None = None, selection_set: Sequence[str] | None = None,
                      sort_by: SortBy | None = None, descending: bool = False, limit: int | None = None,
                      auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                      api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                      endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> ObserveQuery[RecordT]:
        """A live view of the records matching ``filter``: iterate for snapshots with ``.items`` and
        ``.is_synced`` (aws-amplify's observeQuery; re-lists after a reconnect; ``sort_by`` a field name
        or key function; ``limit`` is the page size of the listing)."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return ObserveQuery(self._ops, self.list, self._subscribe, filter, selection_set, sort_by, descending,
                            limit, options)

    def _subscribe(self, request: SubscriptionRequest[Any], *, sink: queue.Queue[Any], tag: str) -> Subscription[Any]:
        return self._client.realtime.subscribe(request, sink=sink, tag=tag)

    def _subscription(self, event: str, filter: Mapping[str, Any] | None, selection_set: Sequence[str] | None,
                      options: RequestOptions) -> SubscriptionRequest[RecordT]:
        return model_subscription(self._ops, event, filter, selection_set, options)

    def _index_query(self, query_field: str) -> IndexQuery[RecordT]:
        return IndexQuery(self, query_field)


class IndexQuery(Generic[RecordT]):
    """A secondary-index query method, e.g. ``client.models.Post.listPostByBlogId``."""

    def __init__(self, model_client: ModelClient[RecordT], query_field: str) -> None:
        self._mc = model_client
        self.query_field = query_field

    def __call__(self, keys: Mapping[str, Any] | None = None, /, *,
                 filter: Mapping[str, Any] | None = None, limit: int | None = None,
                 next_token: str | None = None, sort_direction: str | None = None,
                 selection_set: Sequence[str] | None = None,
                 auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                 api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                 endpoint: _StrOpt = USE_CLIENT_DEFAULT, **key_args: Any) -> Result[list[RecordT]]:
        """``keys``: the index's partition key value and optional sort-key condition (also
        accepted as keywords): ``listPostByBlogId({"blogId": b.id})``."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        all_keys = {**(keys or {}), **key_args}
        mc = self._mc
        return mc._client._run(mc._ops.index_query(
            self.query_field, all_keys, filter=filter, limit=limit, next_token=next_token,
            sort_direction=sort_direction, selection_set=selection_set, options=options))

    def __repr__(self) -> str:
        return f"<IndexQuery {self._mc.name}.{self.query_field}>"


class CustomOperation:
    """A custom query or mutation, e.g. ``client.queries.echo``: call it with the arguments as a
    dict (omit it when there are none) and the request options as keywords. ``Result.data`` is the
    value, a record (with lazy loaders for models), or a list of them."""

    def __init__(self, client: Client, ops: CustomOps) -> None:
        self._client = client
        self._ops = ops

    def __call__(self, args: Mapping[str, Any] | None = None, /, *,
                 auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                 api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                 endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Result[Any]:
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return self._client._run(self._ops.operation(args, options))

    def __repr__(self) -> str:
        return f"<CustomOperation {self._ops.op.kind} {self._ops.op.name}>"
