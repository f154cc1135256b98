"""The asynchronous client: the twin of ``_client.py``, differing only where it does I/O."""

from __future__ import annotations

import asyncio
import inspect
import ssl
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import anyio
import httpx

from ._auth import AuthProvider
from ._base import BaseClient
from ._config import AuthMode, ConfigSource
from ._http import DEFAULT_TIMEOUT, parse_response
from ._namespaces import ModelClientBase, ModelsNamespace, OperationsNamespace
from ._observe import AsyncObserveQuery, SortBy
from ._operations import CustomOps, LoaderArgs, LoaderBuild, ModelOps, Operation, RecordT, raw_operation
from ._options import USE_CLIENT_DEFAULT, HeadersOption, RequestOptions, UseClientDefault
from ._paging import apaginate
from ._realtime import (
    SubscriptionRequest,
    model_subscription,
    raw_subscription,
    ssl_context,
)
from ._realtime_async import AsyncRealtime, AsyncSubscription
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
from .errors import TransportError, TransportTimeoutError

T = TypeVar("T")

_AuthModeOpt = AuthMode | None | UseClientDefault
_StrOpt = str | None | UseClientDefault
_HeadersOpt = HeadersOption | None | UseClientDefault


class AsyncClient(BaseClient):
    """An asynchronous Amplify Data client (``cove.generate_async_client()``).

    The same surface and options as :class:`~cove.client.Client`, with ``await`` on every call,
    ``async for`` over ``list_all``, ``async with`` and :meth:`aclose`. ``headers`` may also be an
    async function, and lazy loaders (``todo.list()``) return coroutines.
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
        transport: httpx.AsyncBaseTransport | None = None,
        verify: ssl.SSLContext | str | bool = True,
    ) -> None:
        super().__init__(config=config, auth_mode=auth_mode, auth_token=auth_token, api_key=api_key,
                         headers=headers, endpoint=endpoint, auth_providers=auth_providers,
                         max_attempts=max_attempts, make_loader=self._make_loader)
        verify = ssl_context(verify, self._config)  # also trusts `cove sandbox --tls`'s CA
        self._verify = verify
        self._realtime: AsyncRealtime | None = None
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport, verify=verify)
        self.models: ModelsNamespace[AsyncModelClient[DynamicRecord]] = ModelsNamespace(
            self._schema, lambda name: AsyncModelClient(self, self._ops(name)))
        #: Custom queries and mutations of the schema: ``client.queries.echo({"message": "hi"})``.
        self.queries: OperationsNamespace[AsyncCustomOperation] = OperationsNamespace(
            self._schema, "query", lambda op: AsyncCustomOperation(self, self._operations.custom(op)))
        self.mutations: OperationsNamespace[AsyncCustomOperation] = OperationsNamespace(
            self._schema, "mutation", lambda op: AsyncCustomOperation(self, self._operations.custom(op)))

    # -- public ---------------------------------------------------------------------------------
    async def graphql(self, query: str, variables: Mapping[str, Any] | None = None, *,
                      auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                      api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                      endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Result[Any]:
        """Send a query or mutation; ``Result.data`` is the raw ``data`` dict (or None).

        GraphQL errors (validation, resolver, condition failures, HTTP 401 with an ``errors``
        body) come back in ``Result.errors``. An unparsable document raises ValueError.

        A subscription document returns a started :class:`~cove.client.AsyncSubscription` (use
        ``async with`` / ``async for``); it yields each event as a ``Result``.
        """
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        subscription = raw_subscription(query, variables, options)
        if subscription is not None:
            return await self.realtime.subscription(subscription)  # type: ignore[return-value]
        return await self._run(raw_operation(query, variables, options))

    async def transact(self, items: Sequence[TransactItem[Any]], /, *,
                 auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                 api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                 endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Result[RecordList]:
        """Up to 100 writes (``client.models.<Model>.create_item(...)``, ``update_item``, ``delete_item``)
        all or none (a Cove server's ``transactWrite``). ``data``: the written records in order; when
        one fails, nothing is written and ``errors[0]`` is a ``DynamoDB:TransactionCanceledException``
        whose ``error_info["cancellationReasons"]`` holds a reason per item."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return await self._run(transact_operation(self._operations, items, options))

    @property
    def realtime(self) -> AsyncRealtime:
        """The real-time sockets: ``.state()``, ``.add_listener(fn)``, ``.options`` (timers)."""
        if self._realtime is None:
            self._realtime = AsyncRealtime(self, self._verify)
        return self._realtime

    async def aclose(self) -> None:
        """Close the connection pool and every real-time subscription."""
        if self._realtime is not None:
            await self._realtime.aclose()
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    # -- I/O ------------------------------------------------------------------------------------
    async def _run(self, op: Operation[T]) -> T:
        call = self._begin(op)
        custom = self._headers_result(call)
        if inspect.isawaitable(custom):
            custom = await custom
        auth = await self._provider(call.resolved.mode).async_auth_headers(self._auth_request(call, custom))
        request = self._http.build_request("POST", call.resolved.url, content=call.body,
                                           headers=self._final_headers(call, auth, custom))
        response = await self._send(request, writes=call.writes)
        return op.shape(parse_response(response))

    async def _send(self, request: httpx.Request, *, writes: bool = False) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self._http.send(request)
            except httpx.TransportError as exc:
                delay = self._retry_delay(attempt, exc=exc, writes=writes)
                if delay is None:
                    cls = TransportTimeoutError if isinstance(exc, httpx.TimeoutException) else TransportError
                    raise cls(f"{type(exc).__name__}: {exc} ({request.url})") from exc
            else:
                delay = self._retry_delay(attempt, response=response, writes=writes)
                if delay is None:
                    return response
                await response.aclose()
            await anyio.sleep(delay)
            attempt += 1

    def _make_loader(self, build: LoaderBuild) -> Callable[..., Coroutine[Any, Any, Result[Any]]]:
        async def load(*, limit: int | None = None, next_token: str | None = None,
                       auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                       api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                       endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Result[Any]:
            """Fetch the related record(s): a Result (a list Result for hasMany)."""
            options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
            planned = build(LoaderArgs(limit, next_token, options))
            return planned if isinstance(planned, Result) else await self._run(planned)
        return load


class AsyncModelClient(ModelClientBase[RecordT], Generic[RecordT]):
    """``aclient.models.<Model>``: the async twin of :class:`~cove.client.ModelClient`."""

    def __init__(self, client: AsyncClient, ops: ModelOps[RecordT]) -> None:
        self._client = client
        self._ops = ops

    async def create(self, data: Mapping[str, Any], /, *, selection_set: Sequence[str] | None = None,
                     auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                     api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                     endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Result[RecordT | None]:
        """Create a record; ``data`` holds its fields (related records become their foreign keys)."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return await self._client._run(self._ops.mutation("create", data, selection_set, options))

    async def get(self, identifier: Mapping[str, Any], /, *, selection_set: Sequence[str] | None = None,
                  auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                  api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                  endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Result[RecordT | None]:
        """Fetch one record by its identifier (``{"id": ...}``, or every primary+sort key field)."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return await self._client._run(self._ops.get(identifier, selection_set, options))

    async def update(self, data: Mapping[str, Any], /, *, selection_set: Sequence[str] | None = None,
                     auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                     api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                     endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Result[RecordT | None]:
        """Update the fields given in ``data`` (which includes the identifier); read-only fields
        such as ``createdAt`` are dropped, so a fetched record can be passed back."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return await self._client._run(self._ops.mutation("update", data, selection_set, options))

    async def delete(self, identifier: Mapping[str, Any], /, *, selection_set: Sequence[str] | None = None,
                     auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                     api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                     endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Result[RecordT | None]:
        """Delete by identifier; ``data`` is the deleted record."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return await self._client._run(self._ops.mutation("delete", identifier, selection_set, options))

    async def list(self, *, filter: Mapping[str, Any] | None = None, limit: int | None = None,
                   next_token: str | None = None, sort_direction: str | None = None,
                   sort_by: str | Sequence[str] | None = None, selection_set: Sequence[str] | None = None,
                   auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                   api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                   endpoint: _StrOpt = USE_CLIENT_DEFAULT, **key_conditions: Any) -> Result[list[RecordT]]:
        """One page of records; ``Result.next_token`` fetches the next (see ``ModelClient.list``)."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return await self._client._run(self._ops.list_page(
            filter=filter, limit=limit, next_token=next_token, sort_direction=sort_direction,
            selection_set=selection_set, key_args=key_conditions, options=options, sort_by=sort_by))

    def list_all(self, *, filter: Mapping[str, Any] | None = None, limit: int | None = None,
                 sort_direction: str | None = None, sort_by: str | Sequence[str] | None = None,
                 selection_set: Sequence[str] | None = None,
                 auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                 api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                 endpoint: _StrOpt = USE_CLIENT_DEFAULT, **key_conditions: Any) -> AsyncIterator[RecordT]:
        """``async for todo in aclient.models.Todo.list_all(...)``: every record, page by page."""
        return apaginate(self.list, filter=filter, limit=limit, sort_direction=sort_direction, sort_by=sort_by,
                         selection_set=selection_set, auth_mode=auth_mode, auth_token=auth_token,
                         api_key=api_key, headers=headers, endpoint=endpoint, **key_conditions)

    # -- beyond Amplify (Cove servers; batches work against AppSync too) -------------------------
    async def count(self, *, filter: Mapping[str, Any] | None = None,
              auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
              api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
              endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Result[int | None]:
        """How many records match ``filter`` (of those the caller may read): ``count<Models>``."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return await self._client._run(count_operation(self._ops, filter, options))

    async def aggregate(self, function: str, field: str | None = None, /, *, filter: Mapping[str, Any] | None = None,
                  group_by: str | None = None, max_groups: int | None = None,
                  auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                  api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                  endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Result[Any]:
        """``count``/``sum``/``avg``/``min``/``max`` of ``field`` over the records matching ``filter``:
        the value, or with ``group_by`` a dict of group value -> value (at most ``max_groups``, 100)."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return await self._client._run(aggregate_operation(self._ops, function, field, filter, group_by, max_groups,
                                                         options))

    async def search(self, query: str, /, *, filter: Mapping[str, Any] | None = None, limit: int | None = None,
               next_token: str | None = None, selection_set: Sequence[str] | None = None,
               auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
               api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
               endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Result[RecordPage[RecordT]]:
        """Full-text search (a Cove server's ``search<Models>``, on a model declared ``.searchable([...])``):
        the records holding every word of ``query``, best match first, that match ``filter``; a page
        (``Result.next_token``)."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return await self._client._run(search_operation(self._ops, query, filter, limit, next_token, selection_set,
                                                      options))

    async def batch_get(self, keys: Sequence[Mapping[str, Any]], /, *, selection_set: Sequence[str] | None = None,
                  auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                  api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                  endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Result[MaybeRecords[RecordT]]:
        """Up to 100 records by identifier in one request; ``data[i]`` is ``keys[i]``'s (None if absent)."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return await self._client._run(batch_get_operation(self._ops, keys, selection_set, options))

    async def batch_create(self, items: Sequence[Mapping[str, Any]], /, *, selection_set: Sequence[str] | None = None,
                     auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                     api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                     endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> ItemResults[RecordT]:
        """Up to 100 creates in one request, each on its own (not all-or-nothing: see ``transact``):
        a Result per item."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return await self._client._run(batch_write_operation(self._ops, "create", items, selection_set, options))

    async def batch_delete(self, keys: Sequence[Mapping[str, Any]], /, *, selection_set: Sequence[str] | None = None,
                     auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                     api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                     endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> ItemResults[RecordT]:
        """Up to 100 deletes by identifier in one request, each on its own: a Result per item."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return await self._client._run(batch_write_operation(self._ops, "delete", keys, selection_set, options))

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
                  endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> AsyncSubscription[RecordT]:
        """Subscribe to created records: ``sub = await ....on_create()`` or ``async with
        ....on_create() as sub:`` (both return once the server acknowledged), then ``async for``."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return self._client.realtime.subscription(self._subscription("create", filter, selection_set, options))

    def on_update(self, *, filter: Mapping[str, Any] | None = None, selection_set: Sequence[str] | None = None,
                  auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                  api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                  endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> AsyncSubscription[RecordT]:
        """Subscribe to updated records (see :meth:`on_create`)."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return self._client.realtime.subscription(self._subscription("update", filter, selection_set, options))

    def on_delete(self, *, filter: Mapping[str, Any] | None = None, selection_set: Sequence[str] | None = None,
                  auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                  api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                  endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> AsyncSubscription[RecordT]:
        """Subscribe to deleted records (see :meth:`on_create`)."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return self._client.realtime.subscription(self._subscription("delete", filter, selection_set, options))

    def observe_query(self, *, filter: Mapping[str, Any] | None = None, selection_set: Sequence[str] | None = None,
                      sort_by: SortBy | None = None, descending: bool = False, limit: int | None = None,
                      auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                      api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                      endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> AsyncObserveQuery[RecordT]:
        """``async for snapshot in aclient.models.Todo.observe_query(...)`` (see ``ModelClient.observe_query``)."""
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return AsyncObserveQuery(self._ops, self.list, self._subscription_to, filter, selection_set, sort_by,
                                 descending, limit, options)

    def _subscription_to(self, request: SubscriptionRequest[Any], *, sink: asyncio.Queue[Any],
                         tag: str) -> AsyncSubscription[Any]:
        return self._client.realtime.subscription(request, sink=sink, tag=tag)

    def _subscription(self, event: str, filter: Mapping[str, Any] | None, selection_set: Sequence[str] | None,
                      options: RequestOptions) -> SubscriptionRequest[RecordT]:
        return model_subscription(self._ops, event, filter, selection_set, options)

    def _index_query(self, query_field: str) -> AsyncIndexQuery[RecordT]:
        return AsyncIndexQuery(self, query_field)


class AsyncIndexQuery(Generic[RecordT]):
    """A secondary-index query method on the async client."""

    def __init__(self, model_client: AsyncModelClient[RecordT], query_field: str) -> None:
        self._mc = model_client
        self.query_field = query_field

    async def __call__(self, keys: Mapping[str, Any] | None = None, /, *,
                       filter: Mapping[str, Any] | None = None, limit: int | None = None,
                       next_token: str | None = None, sort_direction: str | None = None,
                       selection_set: Sequence[str] | None = None,
                       auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                       api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                       endpoint: _StrOpt = USE_CLIENT_DEFAULT, **key_args: Any) -> Result[list[RecordT]]:
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        all_keys = {**(keys or {}), **key_args}
        mc = self._mc
        return await mc._client._run(mc._ops.index_query(
            self.query_field, all_keys, filter=filter, limit=limit, next_token=next_token,
            sort_direction=sort_direction, selection_set=selection_set, options=options))

    def __repr__(self) -> str:
        return f"<AsyncIndexQuery {self._mc.name}.{self.query_field}>"


class AsyncCustomOperation:
    """A custom query or mutation on the async client: ``await aclient.queries.echo({...})``."""

    def __init__(self, client: AsyncClient, ops: CustomOps) -> None:
        self._client = client
        self._ops = ops

    async def __call__(self, args: Mapping[str, Any] | None = None, /, *,
                       auth_mode: _AuthModeOpt = USE_CLIENT_DEFAULT, auth_token: _StrOpt = USE_CLIENT_DEFAULT,
                       api_key: _StrOpt = USE_CLIENT_DEFAULT, headers: _HeadersOpt = USE_CLIENT_DEFAULT,
                       endpoint: _StrOpt = USE_CLIENT_DEFAULT) -> Result[Any]:
        options = RequestOptions(auth_mode, auth_token, api_key, headers, endpoint)
        return await self._client._run(self._ops.operation(args, options))

    def __repr__(self) -> str:
        return f"<AsyncCustomOperation {self._ops.op.kind} {self._ops.op.name}>"
