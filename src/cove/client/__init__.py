"""Cove's Python client for Amplify Gen 2 Data / AWS AppSync APIs (Cove's own, or AWS's).

::

    import cove

    cove.configure("amplify_outputs.json")        # a path, or the parsed dict
    client = cove.generate_client()                # sync; cove.generate_async_client() is the twin
    result = client.models.Todo.create({"content": "buy milk"})
    result.data.content, result.errors             # GraphQL errors are returned, not raised
    for todo in client.models.Todo.list_all(filter={"done": {"eq": False}}):
        print(todo.content)

It puts on the wire what the ``aws-amplify`` JS client sends (same documents, variables and
headers), so it works against anything that stock client works against.

Exceptions (all from :mod:`cove.client.errors`, all subclasses of :class:`CoveError`):
:class:`ConfigurationError` (bad configuration; its subclass :class:`AuthConfigurationError` and the
``No...Error`` classes when a call's auth mode has no credentials; raised before sending),
:class:`TransportError` (the request failed), :class:`ResponseError` (an answer that is not GraphQL),
:class:`ResponseShapeError` (data that does not match the schema: names the type and field),
:class:`GraphQLResponseError` (only from the paging iterators).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping

import httpx

from ._async_client import AsyncClient, AsyncCustomOperation, AsyncIndexQuery, AsyncModelClient
from ._auth import (
    ApiKeyAuth,
    AuthProvider,
    AuthRequest,
    AwsCredentials,
    IamAuth,
    LambdaAuth,
    NoAuth,
    OidcAuth,
    UserPoolAuth,
    register_auth_provider,
)
from ._client import Client, CustomOperation, IndexQuery, ModelClient
from ._config import AuthMode, Config, ConfigSource, configure, get_config, load_config
from ._http import DEFAULT_TIMEOUT
from ._namespaces import EnumInfo, OperationsNamespace
from ._observe import AsyncObserveQuery, ObserveQuery, Snapshot
from ._options import USE_CLIENT_DEFAULT, HeadersOption, RequestInfo, UseClientDefault
from ._extensions import TransactItem
from ._paging import apaginate, paginate
from ._realtime import ConnectionState, EventError, RealtimeOptions, SubscriptionClosed, SubscriptionError
from ._realtime_async import AsyncRealtime, AsyncSubscription
from ._realtime_sync import Subscription, SyncRealtime
from ._records import DynamicRecord, GraphQLError, Record, Result
from .errors import (
    AuthConfigurationError,
    ConfigurationError,
    CoveError,
    GraphQLResponseError,
    NoApiKeyError,
    NoAuthorizationHeaderError,
    NoCredentialsError,
    NoSignedUserError,
    NoValidAuthTokensError,
    ResponseError,
    ResponseShapeError,
    SchemaMismatchWarning,
    TransportError,
    TransportTimeoutError,
)


def generate_client(
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
) -> Client:
    """A synchronous client for the API configured with :func:`configure` (or ``config=``).

    ``auth_mode``, ``auth_token``, ``api_key``, ``headers`` and ``endpoint`` are the defaults of
    every call (each call may pass its own); see :class:`Client` for all options. Raises
    :class:`ConfigurationError` when nothing is configured ("call cove.configure(...) first") or the
    options are inconsistent (``endpoint`` without an explicit ``auth_mode``).
    """
    return Client(config=config, auth_mode=auth_mode, auth_token=auth_token, api_key=api_key,
                  headers=headers, endpoint=endpoint, timeout=timeout, max_attempts=max_attempts,
                  auth_providers=auth_providers, transport=transport, verify=verify)


def generate_async_client(
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
) -> AsyncClient:
    """The async twin of :func:`generate_client`: ``await client.models.Todo.list()``."""
    return AsyncClient(config=config, auth_mode=auth_mode, auth_token=auth_token, api_key=api_key,
                       headers=headers, endpoint=endpoint, timeout=timeout, max_attempts=max_attempts,
                       auth_providers=auth_providers, transport=transport, verify=verify)


__all__ = [
    "AsyncObserveQuery",
    "AsyncRealtime",
    "AsyncSubscription",
    "ConnectionState",
    "EventError",
    "ObserveQuery",
    "RealtimeOptions",
    "Snapshot",
    "Subscription",
    "SubscriptionClosed",
    "SubscriptionError",
    "SyncRealtime",
    "USE_CLIENT_DEFAULT",
    "ApiKeyAuth",
    "AsyncClient",
    "AsyncCustomOperation",
    "AsyncIndexQuery",
    "AsyncModelClient",
    "AuthConfigurationError",
    "AuthMode",
    "AuthProvider",
    "AuthRequest",
    "AwsCredentials",
    "Client",
    "Config",
    "ConfigSource",
    "ConfigurationError",
    "CoveError",
    "CustomOperation",
    "DynamicRecord",
    "EnumInfo",
    "GraphQLError",
    "GraphQLResponseError",
    "HeadersOption",
    "IamAuth",
    "IndexQuery",
    "LambdaAuth",
    "ModelClient",
    "NoApiKeyError",
    "NoAuth",
    "NoAuthorizationHeaderError",
    "NoCredentialsError",
    "NoSignedUserError",
    "NoValidAuthTokensError",
    "OidcAuth",
    "OperationsNamespace",
    "Record",
    "RequestInfo",
    "ResponseError",
    "ResponseShapeError",
    "Result",
    "SchemaMismatchWarning",
    "TransactItem",
    "TransportError",
    "TransportTimeoutError",
    "UseClientDefault",
    "UserPoolAuth",
    "apaginate",
    "configure",
    "generate_async_client",
    "generate_client",
    "get_config",
    "load_config",
    "paginate",
    "register_auth_provider",
]
