"""The ASGI application: ``POST /graphql`` (and CORS), written directly against ASGI for speed.

Routing is linear and small: ``/graphql`` for GraphQL, ``/`` for a health document. The engine can
be swapped at runtime (the sandbox does so when the schema file changes).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from cove.schema.model import Schema

from .errors import RequestError, Unauthorized
from .execution import Engine, Limits
from .identity import Identity

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_JSON = (b"content-type", b"application/json; charset=UTF-8")
_CORS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"x-amzn-requestid, x-amzn-errortype, x-amzn-errormessage, date"),
]
_API_KEY_CACHE_SECONDS = 5.0


class ApiKeyAuthenticator:
    """Checks `x-api-key` against the store, caching answers briefly so that a key created or
    revoked with `cove keys` takes effect within seconds in every server process."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._cache: dict[str, tuple[float, Any]] = {}

    def authenticate(self, key: str) -> Identity:
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is None or hit[0] < now:
            if len(self._cache) > 10_000:
                self._cache.clear()
            record = self.store.find_api_key(key)
            hit = (now + _API_KEY_CACHE_SECONDS, record)
            self._cache[key] = hit
        record = hit[1]
        if record is None or record.revoked:
            raise Unauthorized("You are not authorized to make this call. (invalid API key)")
        if record.expires_at <= time.time():
            raise Unauthorized("You are not authorized to make this call. (the API key has expired)")
        return Identity("apiKey", api_key_id=record.id)


class CoveApp:
    """ASGI callable serving one schema from one store."""

    def __init__(self, schema: Schema, store: Any, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.store = store
        self.engine = Engine(schema, store, self.limits)
        self.api_keys = ApiKeyAuthenticator(store)
        self.graphql_path = "/graphql"

    def replace_schema(self, schema: Schema) -> None:
        """Serve a new schema from the next request on (the store must already be migrated)."""
        self.engine = Engine(schema, self.store, self.limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "real-time is not served yet"})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
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
            headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
            identity = self.authenticate(headers, body=body, path=scope["path"])
            request = _parse_request(body)
            result = self.engine.execute(request[0], request[1], request[2], identity)
        except RequestError as exc:
            await _send_json(send, exc.status, exc.body(), [(b"x-amzn-errortype", exc.error_type.encode())])
            return
        await _send_json(send, 200, result)

    def authenticate(self, headers: dict[str, str], *, body: bytes, path: str, method: str = "POST") -> Identity:
        """Turn a request's headers (lower-case names) into an Identity, choosing the mode as AppSync
        does; raise Unauthorized (HTTP 401) otherwise. The real-time endpoint calls this too, for the
        connection and for each `start` (with that message's headers and body)."""
        api_key = headers.get("x-api-key")
        authorization = headers.get("authorization")
        if api_key is not None and authorization is None:
            return self.api_keys.authenticate(api_key)
        if authorization is not None:
            raise Unauthorized("Valid authorization header not provided. (no authorization mode that accepts "
                               "an Authorization header is enabled on this API)")
        raise Unauthorized("Valid authorization header not provided.")

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
