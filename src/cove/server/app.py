"""The ASGI application: ``POST /graphql`` (and CORS), written directly against ASGI for speed.

Routing is linear and small: ``/graphql`` for GraphQL, ``/health`` and ``/ready`` for probes, ``/``
for a service document. The engine can be swapped at runtime (the sandbox does so when the schema
file changes). Every HTTP response carries a request id; the access log and the metrics, when the
runner attaches them, see every request (see ``observability.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import Any

import orjson
from graphql.language import FieldNode

from cove.schema.model import Schema
from cove.store.base import Backend, DatabaseUnavailable

from .api_key_lifetime import ApiKeyWatch
from .authn import ApiKeyAuthenticator, Authenticator, IamVerifier
from .errors import InternalFailure, RequestError, header_value
from .engine import Engine
from .identity import Identity
from .limits import Limits
from .metrics import Metrics
from .observability import AccessLog, request_id
from .realtime.hub import Realtime
from .realtime.settings import RealtimeLimits, RealtimeSettings
from .workers import Workers

log = logging.getLogger("cove.server")
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_JSON = (b"content-type", b"application/json; charset=UTF-8")
_CORS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers",
     b"x-amzn-requestid, x-request-id, x-amzn-errortype, x-amzn-errormessage, date"),
]
_MODE_NAMES = {"apiKey": "api_key", "userPool": "user_pool", "oidc": "oidc", "iam": "iam", "lambda": "lambda",
               "none": "none"}


class _Exchange:
    """What one HTTP request turned out to be, for the access log and the metrics."""

    __slots__ = ("status", "operation", "operation_name", "auth_mode", "errors")

    def __init__(self) -> None:
        self.status = 0
        self.operation: str | None = None   # GraphQL root field, or the identity service
        self.operation_name: str | None = None  # the executed operation's name in the document, if any
        self.auth_mode: str | None = None
        self.errors = False                 # a 200 answer with GraphQL errors


# Cognito-compatible endpoints live under these paths (and POST / with X-Amz-Target). Their modules
# (JWT, crypto) load on first use, so a sandbox without auth starts faster.
_IDENTITY_PREFIXES = ("/cognito-idp", "/cognito-identity")


def _identity_routes() -> Any:
    from . import identity_routes

    return identity_routes


class CoveApp:
    """ASGI callable serving one schema from one database (a ``cove.store`` backend)."""

    def __init__(self, schema: Schema, backend: Backend, limits: Limits | None = None,
                 realtime: RealtimeSettings | None = None, identity: Any = None) -> None:
        self.limits = limits or Limits()
        self.backend = backend
        self.workers = Workers(self.limits.handler_threads)  # shared by the engines a schema reload makes
        self.records = backend.records
        self.api_keys = ApiKeyAuthenticator(backend.keys)
        self.identity = identity  # cove.identity.services.IdentityServices (user pool, IAM keys, ...)
        self.authenticator = self._authenticator()
        self.graphql_path = "/graphql"
        realtime = realtime or RealtimeSettings(RealtimeLimits())
        self.realtime = Realtime(engine=lambda: self.engine, authenticator=lambda: self.authenticator,
                                 graphql_path=self.graphql_path, channel_secret=backend.secret(),
                                 limits=realtime.limits, broker_url=realtime.broker_url,
                                 listeners=getattr(backend, "event_listeners", None) if realtime.broker_is_database else None)
        self.engine = self._engine(schema)
        self.access_log: AccessLog | None = None
        self.metrics: Metrics | None = None
        self.readiness: Callable[[], Awaitable[tuple[bool, dict[str, str]]]] | None = None
        self._operation_labels: dict[tuple[str, str | None], tuple[str, str | None]] = {}
        self.console: Any = None  # cove.console.Console when the console is served (see attach_console)
        self.api_key_watch = ApiKeyWatch(backend.keys, self._uses_api_keys)

    def _uses_api_keys(self) -> bool:
        return "apiKey" in self.engine.schema.authorization_modes.enabled()

    def warnings(self) -> list[str]:
        """What an operator must act on soon (the last API key expiring); served with the service document.
        From the keys read last: ``await self.api_key_watch.refresh()`` first for the current answer."""
        warning = self.api_key_watch.warning()
        return [warning] if warning else []

    def replace_schema(self, schema: Schema) -> None:
        """Serve a new schema from the next request on (the store must already be migrated).
        Raises SchemaError (and keeps serving the old schema) when its auth settings are unusable."""
        if self.identity is not None:
            try:
                self.identity.configure(schema)
            except Exception:
                self.identity.configure(self.engine.schema)
                raise
            self.authenticator = self._authenticator()
        self.engine = self._engine(schema)

    def _engine(self, schema: Schema) -> Engine:
        return Engine(schema, self.records, limits=self.limits, workers=self.workers,
                      publisher=self.realtime.publish)

    def _authenticator(self) -> Authenticator:
        ids = self.identity
        if ids is None:
            return Authenticator(self.api_keys)
        iam = IamVerifier(region=ids.region, issuer=ids.credentials, store=ids.store,
                          identity_pool_id=ids.identity_pool_id)
        return Authenticator(self.api_keys, user_pool=ids.tokens, oidc=ids.oidc, iam=iam,
                             lambda_authorizer=ids.lambda_authorizer)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            if scope["path"].rstrip("/") == self.graphql_path + "/realtime":
                await self.realtime.serve(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.realtime.start()  # connects the event broker, if any
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.realtime.close()
                self.workers.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = perf_counter()
        rid = request_id(scope["headers"])
        exchange = _Exchange()
        extra = [(b"x-request-id", rid), (b"x-amzn-requestid", rid)]

        async def reply(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                message["headers"] = [*message["headers"], *extra]
            await send(message)

        try:
            await self._route(scope, receive, reply, exchange)
        except Exception:  # a full disk, a bug: AppSync's shape for the client, the traceback for the log
            failure = _failed(scope["method"], scope["path"], rid)
            if exchange.status == 0:
                await _send_json(reply, failure.status, failure.body(),
                                 _error_type(failure.error_type))
        self._observe(scope["method"], scope["path"], exchange, rid, started, scope.get("client"),
                      scope.get("scheme", "http"))

    async def answer_graphql_post(self, headers: list[tuple[bytes, bytes]], body: bytes, client: Any,
                                  scheme: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """A whole ``POST /graphql`` request (no query string) answered without the ASGI cycle: the
        HTTP protocol's direct path (``http_protocol.py``). Status, headers and body, exactly as
        :meth:`__call__` would send them; never raises but for cancellation."""
        started = perf_counter()
        rid = request_id(headers)
        exchange = _Exchange()
        path = self.graphql_path
        try:
            status, payload, extra = await self._answer_graphql(_header_dict(headers), body, path, exchange)
        except Exception:
            failure = _failed("POST", path, rid)
            status, payload, extra = failure.status, failure.body(), _error_type(failure.error_type)
        exchange.status = status
        self._observe("POST", path, exchange, rid, started, client, scheme)
        response_headers, data = _json_response(payload, [*(extra or ()), (b"x-request-id", rid),
                                                          (b"x-amzn-requestid", rid)])
        return status, response_headers, data

    def _observe(self, method: str, path: str, exchange: _Exchange, rid: bytes, started: float, client: Any,
                 scheme: str) -> None:
        """The metrics and the access line of one answered request."""
        seconds = perf_counter() - started
        if self.metrics is not None and exchange.operation is not None:
            status = exchange.status
            outcome = ("server_error" if status >= 500 else "client_error" if status >= 400 else
                       "graphql_error" if exchange.errors else "success")
            self.metrics.observe(exchange.operation, exchange.auth_mode or "none", outcome, seconds)
        if self.access_log is not None:
            self.access_log.write(method, path, exchange.operation, exchange.operation_name,
                                  exchange.status, seconds, exchange.auth_mode, rid, client, scheme)

    async def _route(self, scope: Scope, receive: Receive, send: Send, exchange: _Exchange) -> None:
        path = scope["path"]
        method = scope["method"]
        if path == self.graphql_path or path == self.graphql_path + "/":
            if method == "POST":
                await self._graphql(scope, receive, send, exchange)
            elif method == "OPTIONS":
                await self._preflight(scope, send)
            else:
                await _send_json(send, 405, {"errors": [{"errorType": "MethodNotAllowedException",
                                                         "message": "Send GraphQL requests with POST"}]},
                                 [(b"allow", b"POST, OPTIONS")])
        elif (path.startswith(_IDENTITY_PREFIXES) or (path == "/" and method == "POST")) and \
                (routes := _identity_routes()).is_identity_route(
                method, path, headers := _headers(scope)):
            exchange.operation = "cognito-identity" if "cognito-identity" in (
                path + headers.get("x-amz-target", "").lower()) else "cognito-idp"
            await routes.handle(self.identity, scope, headers, lambda: self._read_body(receive), send)
        elif self.console is not None and (path == "/console" or path.startswith("/console/")):
            await self.console(scope, receive, send)
        elif path == "/" and method in ("GET", "HEAD"):
            try:
                await self.api_key_watch.refresh()
            except DatabaseUnavailable:
                pass  # the service document still answers, with the warnings read last
            await _send_json(send, 200, {"service": "cove", "graphql": self.graphql_path, "warnings": self.warnings()})
        elif path == "/health" and method in ("GET", "HEAD"):
            await _send_json(send, 200, {"status": "ok"})
        elif path == "/ready" and method in ("GET", "HEAD"):
            try:
                await self.api_key_watch.refresh()
            except DatabaseUnavailable:
                pass  # the readiness check below says so
            ready, checks = await self.readiness() if self.readiness is not None else (True, {})
            await _send_json(send, 200 if ready else 503, {"status": "ready" if ready else "not ready",
                                                           "checks": checks})
        else:
            await _send_json(send, 404, {"errors": [{"errorType": "NotFoundException",
                                                     "message": f"No route for {method} {path}"}]})

    async def _preflight(self, scope: Scope, send: Send) -> None:
        requested = b"content-type, authorization, x-api-key, x-amz-date, x-amz-security-token, x-amz-user-agent"
        for name, value in scope["headers"]:
            if name == b"access-control-request-headers":
                requested = value
        headers = [*_CORS, (b"access-control-allow-methods", b"POST, OPTIONS"),
                   (b"access-control-allow-headers", header_value(requested)), (b"access-control-max-age", b"86400"),
                   (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _graphql(self, scope: Scope, receive: Receive, send: Send, exchange: _Exchange) -> None:
        exchange.operation = "-"
        try:
            body = await self._read_body(receive)
        except RequestError as exc:
            await _send_json(send, exc.status, exc.body(), _error_type(exc.error_type))
            return
        query = scope.get("query_string")
        path = scope["path"] + "?" + query.decode("latin-1") if query else scope["path"]
        await _send_json(send, *await self._answer_graphql(_headers(scope), body, path, exchange))

    async def _answer_graphql(self, headers: dict[str, str], body: bytes, path: str,
                              exchange: _Exchange) -> tuple[int, Any, list[tuple[bytes, bytes]] | None]:
        """A GraphQL request's status, response body and extra headers (its error type)."""
        exchange.operation = "-"
        try:
            identity = await self.authenticate(headers, body=body, path=path)
            exchange.auth_mode = _MODE_NAMES.get(identity.mode, identity.mode)
            request = _parse_request(body)
            result = await self.engine.execute_async(request[0], request[1], request[2], identity)
            # After execution: a new document has been parsed off the loop by then, and is cached.
            exchange.operation, exchange.operation_name = self._operation_label(request[0], request[2])
        except RequestError as exc:
            return exc.status, exc.body(), _error_type(exc.error_type)
        except DatabaseUnavailable as exc:
            # Before any field ran (checking the caller's key needed the database): the whole
            # operation failed, as AppSync reports a data source it cannot reach, and the client may
            # retry. Fields that need the database while it is away fail one by one in the engine.
            result = {"data": None, "errors": [{"errorType": exc.error_type, "message": str(exc)}]}
        exchange.errors = "errors" in result
        return 200, result, None

    def _operation_label(self, query: str, operation_name: str | None) -> tuple[str, str | None]:
        """The operation's first root field (``listTodos``; ``invalid`` for a document that fails
        validation), a name the schema bounds, so clients cannot blow up the metrics' label sets; and the
        operation's own name (``query Mine {...}``), for the access log."""
        labels = self._operation_labels
        label = labels.get((query, operation_name))
        if label is not None:
            return label
        prepared = self.engine.prepare(query)
        ops = prepared.operations
        op = ops.get(operation_name) or (next(iter(ops.values())) if operation_name is None and len(ops) == 1
                                          else None)
        selections = op.selection_set.selections if op is not None else ()
        label = (next((s.name.value for s in selections if isinstance(s, FieldNode)),
                      op.operation.value if op is not None else "invalid"),
                 op.name.value if op is not None and op.name is not None else None)
        if len(labels) >= 4096:
            labels.clear()
        labels[(query, operation_name)] = label
        return label

    async def authenticate(self, headers: dict[str, str], *, body: bytes, path: str,
                           method: str = "POST") -> Identity:
        """Turn a request's headers (lower-case names) into an Identity, choosing the mode as AppSync
        does (see ``authn.py``); raise Unauthorized (HTTP 401) otherwise. The real-time endpoint calls
        this too, for the connection and for each `start` (with that message's headers and body).
        ``path`` may carry a query string (``/graphql?x=1``); SigV4 signs it."""
        return await self.authenticator.authenticate(headers, body=body, path=path, method=method)

    async def _read_body(self, receive: Receive) -> bytes:
        return await read_body(receive, self.limits.max_body_bytes)


async def read_body(receive: Receive, limit: int) -> bytes:
    """An HTTP request's whole body, refused (413) past ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RequestError(400, "BadRequestException", "The client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise RequestError(413, "PayloadTooLargeException",
                               f"The request body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _headers(scope: Scope) -> dict[str, str]:
    return _header_dict(scope["headers"])


def _header_dict(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in headers}


def _failed(method: str, path: str, rid: bytes) -> InternalFailure:
    """A request that raised: logged with its traceback, answered with a reference to it."""
    failure = InternalFailure(rid.decode())
    log.exception("%s %s failed (reference %s)", method, path, failure.reference)
    return failure


def _parse_request(body: bytes) -> tuple[str, Any, str | None]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise RequestError(400, "MalformedHttpRequestException", "The request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise RequestError(400, "MalformedHttpRequestException",
                           "The request body must be a JSON object with a 'query' string")
    query = payload.get("query")
    if not isinstance(query, str) or not query.strip():
        raise RequestError(400, "MalformedHttpRequestException", "The request has no 'query' string")
    op_name = payload.get("operationName")
    if op_name is not None and not isinstance(op_name, str):
        raise RequestError(400, "MalformedHttpRequestException", "'operationName' must be a string")
    variables = payload.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise RequestError(400, "MalformedHttpRequestException", "'variables' must be a JSON object")
    return query, variables, op_name


async def _send_json(send: Send, status: int, body: Any, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers, payload = _json_response(body, extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _json_response(body: Any, extra: list[tuple[bytes, bytes]] | None) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """A JSON response's headers (type, length, CORS, then ``extra``) and its bytes."""
    payload = orjson.dumps(body)
    headers = [_JSON, (b"content-length", b"%d" % len(payload)), *_CORS]
    if extra:
        headers += extra
    return headers, payload


def _error_type(error_type: str) -> list[tuple[bytes, bytes]]:
    """The header naming an error's type, which AppSync's clients read."""
    return [(b"x-amzn-errortype", error_type.encode())]
