"""BaseClient: the state and I/O-free steps that :class:`~cove.client.Client` and
:class:`~cove.client.AsyncClient` share.

A call is prepared as an :class:`~._operations.Operation` (document, variables, options and a
function that turns the JSON payload into a :class:`Result`). The two clients only *run* operations:
call the headers function, ask the auth provider for headers, send with retries. That is the one
place where ``def`` and ``async def`` differ (the design principle "async core, sync twin").
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Mapping
from typing import Any, ClassVar

import httpx

from ._auth import AuthProvider, AuthRequest, get_auth_provider
from ._config import AuthMode, CanonicalAuthMode, Config, ConfigSource, get_config, load_config, normalize_auth_mode
from ._documents import DocumentBuilder, has_mutation
from ._http import CONTENT_TYPE, USER_AGENT, encode_body, overlay_headers, retry_delay
from ._namespaces import Enums
from ._operations import Call, MakeLoader, ModelOps, Operation, Operations
from ._options import HeadersOption, RequestInfo, RequestOptions, Resolved, UseClientDefault
from ._records import Record
from ._schema import SchemaInfo, mis_fingerprint
from ._shape import Shaper
from .errors import ConfigurationError, SchemaMismatchWarning


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
        make_loader: MakeLoader,
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
        self._shaper = Shaper(self._schema, self.record_types)
        self._operations = Operations(self._schema, self._documents, self._shaper, make_loader)
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
        return retry_delay(self._max_attempts, attempt, response, exc, writes=writes)

    # -- operations -----------------------------------------------------------------------------
    def _ops(self, model_name: str) -> ModelOps[Any]:
        return self._operations.model(model_name)
