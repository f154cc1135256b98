"""The ASGI application: ``POST /graphql`` (and CORS), written directly against ASGI for speed.

Routing is linear and small: ``/graphql`` for GraphQL, ``/`` for a health document. The engine can
be swapped at runtime (the sandbox does so when the schema file changes).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from cove.schema.model import Schema

from .authn import ApiKeyAuthenticator, Authenticator, IamVerifier
from .errors import RequestError
from .execution import Engine
from .workers import Workers
from .identity import Identity
from .limits import Limits
from .realtime import Realtime, RealtimeSettings

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_JSON = (b"content-type", b"application/json; charset=UTF-8")
_CORS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"x-amzn-requestid, x-amzn-errortype, x-amzn-errormessage, date"),
]


# Cognito-compatible endpoints live under these paths (and POST / with X-Amz-Target). Their modules
# (JWT, crypto) load on first use, so a sandbox without auth starts faster.
_IDENTITY_PREFIXES = ("/cognito-idp", "/cognito-identity")


def _identity_routes() -> Any:
    from . import identity_routes

    return identity_routes


class CoveApp:
    """ASGI callable serving one schema from one store."""

    def __init__(self, schema: Schema, store: Any, limits: Limits | None = None,
                 realtime: RealtimeSettings | None = None, identity: Any = None) -> None:
        self.limits = limits or Limits()
        self.store = store
        self.workers = Workers(self.limits.handler_threads)  # shared by the engines a schema reload makes
        self.engine = Engine(schema, store, self.limits, self.workers)
        self.api_keys = ApiKeyAuthenticator(store)
        self.identity = identity  # cove.identity.services.IdentityServices (user pool, IAM keys, ...)
        self.authenticator = self._authenticator()
        self.graphql_path = "/graphql"
        self.realtime = Realtime(self, realtime)
        self.engine.on_mutation = self.realtime.publish

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
        self.engine = Engine(schema, self.store, self.limits, self.workers)
        self.engine.on_mutation = self.realtime.publish

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
        path = scope["path"]
        method = scope["method"]
        if path == self.graphql_path or path == self.graphql_path + "/":
            if method == "POST":
                await self._graphql(scope, receive, send)
            elif method == "OPTIONS":
                await self._preflight(scope, send)
            else:
                await _send_json(send, 405, {"errors": [{"errorType": "MethodNotAllowedException",
                                                         "message": "Send GraphQL requests with POST"}]},
                                 [(b"allow", b"POST, OPTIONS")])
        elif (path.startswith(_IDENTITY_PREFIXES) or (path == "/" and method == "POST")) and \
                (routes := _identity_routes()).is_identity_route(
                method, path, headers := _headers(scope)):
            await routes.handle(self.identity, scope, headers, lambda: self._read_body(receive), send)
        elif path == "/" and method in ("GET", "HEAD"):
            await _send_json(send, 200, {"service": "cove", "graphql": self.graphql_path})
        else:
            await _send_json(send, 404, {"errors": [{"errorType": "NotFoundException",
                                                     "message": f"No route for {method} {path}"}]})

    async def _preflight(self, scope: Scope, send: Send) -> None:
        requested = b"content-type, authorization, x-api-key, x-amz-date, x-amz-security-token, x-amz-user-agent"
        for name, value in scope["headers"]:
            if name == b"access-control-request-headers":
                requested = value
        headers = [*_CORS, (b"access-control-allow-methods", b"POST, OPTIONS"),
                   (b"access-control-allow-headers", requested), (b"access-control-max-age", b"86400"),
                   (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _graphql(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await self._read_body(receive)
            headers = _headers(scope)
            query = scope.get("query_string")
            path = scope["path"] + "?" + query.decode("latin-1") if query else scope["path"]
            identity = await self.authenticate(headers, body=body, path=path)
            request = _parse_request(body)
            result = await self.engine.execute_async(request[0], request[1], request[2], identity)
        except RequestError as exc:
            await _send_json(send, exc.status, exc.body(), [(b"x-amzn-errortype", exc.error_type.encode())])
            return
        await _send_json(send, 200, result)

    async def authenticate(self, headers: dict[str, str], *, body: bytes, path: str,
                           method: str = "POST") -> Identity:
        """Turn a request's headers (lower-case names) into an Identity, choosing the mode as AppSync
        does (see ``authn.py``); raise Unauthorized (HTTP 401) otherwise. The real-time endpoint calls
        this too, for the connection and for each `start` (with that message's headers and body).
        ``path`` may carry a query string (``/graphql?x=1``); SigV4 signs it."""
        return await self.authenticator.authenticate(headers, body=body, path=path, method=method)

    async def _read_body(self, receive: Receive) -> bytes:
        limit = self.limits.max_body_bytes
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
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


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
    payload = orjson.dumps(body)
    headers = [_JSON, (b"content-length", str(len(payload)).encode()), *_CORS]
    if extra:
        headers += extra
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
