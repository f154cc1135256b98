"""The console, mounted by the server at ``/console``: its built page (``static/``) and its admin API
(``/console/api/...``, see admin_api.py), behind the access policy of access.py."""

from __future__ import annotations

import asyncio
import inspect
import mimetypes
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from cove.server.app import read_body
from cove.server.errors import RequestError

from .access import (
    SESSION_COOKIE,
    SESSION_SECONDS,
    AdminStore,
    Policy,
    Sessions,
    SignInThrottle,
    Throttled,
    check_same_origin,
    cookie_value,
    is_local_request,
)
from .admin_api import AdminApi
from .logs import AUDIT, audit, recent_logs

if TYPE_CHECKING:
    from cove.server.app import CoveApp, Receive, Scope, Send

PREFIX = "/console"
STATIC = Path(__file__).parent / "static"
_JSON = b"application/json; charset=UTF-8"
# The page loads nothing from anywhere else, and no other site may frame it.
_CSP = (b"default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        b"font-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
_PAGE_HEADERS = [(b"content-security-policy", _CSP), (b"x-content-type-options", b"nosniff"),
                 (b"referrer-policy", b"no-referrer")]
_MAX_BODY = 1 << 20


class Console:
    """ASGI handler for everything under ``/console``."""

    def __init__(self, app: CoveApp, policy: Policy, admins: AdminStore | None = None) -> None:
        if policy == "admin" and admins is None:
            raise ValueError("the admin policy needs the admin store")
        self.app = app
        self.policy = policy
        self.admins = admins
        self.sessions = Sessions(admins) if admins is not None else None
        self.throttle = SignInThrottle()
        self.api = AdminApi(app)
        self.routes = self.api.routes()
        self.logs = recent_logs()
        self.routes[("GET", "logs")] = self._recent_logs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if path.startswith(PREFIX + "/api/"):
            await self._api(scope, receive, send, path[len(PREFIX) + 5:])
        elif scope["method"] in ("GET", "HEAD"):
            await self._static(send, path[len(PREFIX):].lstrip("/"))
        else:
            refused = RequestError(405, "MethodNotAllowedException", "The console page is read with GET")
            await _json(send, 405, refused.body())

    # -- the page -----------------------------------------------------------------------------------
    async def _static(self, send: Send, name: str) -> None:
        root = STATIC.resolve()
        target = (root / (name or "index.html")).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            # Paths the page routes itself (#/data/Todo uses the hash, but keep deep links working).
            target = root / "index.html"
        if not target.is_file():
            missing = RequestError(503, "ServiceUnavailableException",
                                   "The console was not built: run scripts/build_console.sh")
            await _json(send, 503, missing.body())
            return
        body = target.read_bytes()
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind.endswith("javascript"):
            kind += "; charset=utf-8"
        # Chunks are named by their content hash and never change; everything else is revalidated.
        cache = b"public, max-age=31536000, immutable" if target.name.startswith("chunk-") else b"no-cache"
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", kind.encode()), (b"content-length", str(len(body)).encode()),
            (b"cache-control", cache), *_PAGE_HEADERS]})
        await send({"type": "http.response.body", "body": body})

    # -- the admin API ------------------------------------------------------------------------------
    async def _api(self, scope: Scope, receive: Receive, send: Send, route: str) -> None:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        method = scope["method"]
        extra: list[tuple[bytes, bytes]] = []
        try:
            if method not in ("GET", "POST", "DELETE"):
                raise RequestError(405, "MethodNotAllowedException", f"{method} is not allowed here")
            if method != "GET":
                check_same_origin(headers, scope.get("scheme", "http"))
            body = await _read_json(receive) if method == "POST" else None
            if route == "session":
                result, extra = await self._session(scope, headers, method, body)
            else:
                actor = await self._authorize(scope, headers)
                handler = self.routes.get((method, route))
                if handler is None:
                    raise RequestError(404, "NotFoundException", f"No console route {method} /console/api/{route}")
                result = handler(body)
                if inspect.isawaitable(result):
                    result = await result
                # Signing each IAM request of the page is routine; everything else that changes or grants is logged.
                action = _action(route, body) if method != "GET" and route != "sign" else None
                if action is not None:
                    audit(actor if self.policy == "admin" else "local console", action)
        except RequestError as exc:
            retry = [(b"retry-after", str(exc.retry_after).encode())] if isinstance(exc, Throttled) else []
            await _json(send, exc.status, exc.body(), retry)
            return
        await _json(send, 200, result, extra)

    def _recent_logs(self, _body: Any) -> dict[str, Any]:
        return {"entries": self.logs.entries()}

    async def _authorize(self, scope: Scope, headers: dict[str, str]) -> str:
        """The name the caller acts as; raises RequestError (401/403) for anyone else."""
        if self.policy == "local":
            if not is_local_request(scope.get("client"), headers.get("host", "")):
                raise RequestError(403, "ForbiddenException",
                                   "The sandbox's console only answers browsers on this machine (localhost)")
            return "local"
        assert self.sessions is not None
        admin = await self.sessions.verify(cookie_value(headers))
        if admin is None:
            raise RequestError(401, "UnauthorizedException", "Sign in to the console as an administrator")
        return admin

    async def _session(self, scope: Scope, headers: dict[str, str], method: str,
                       body: Any) -> tuple[dict[str, Any], list[tuple[bytes, bytes]]]:
        if method == "GET":
            try:
                admin: str | None = await self._authorize(scope, headers)
            except RequestError:
                admin = None
            return {"policy": self.policy, "signed_in": admin is not None,
                    "admin": admin if self.policy == "admin" else None}, []
        if self.policy == "local":
            raise RequestError(400, "BadRequestException", "The sandbox's console needs no sign-in")
        assert self.sessions is not None and self.admins is not None
        secure = b"; Secure" if scope.get("scheme") == "https" else b""
        if method == "DELETE":
            return {"signed_in": False}, [(b"set-cookie", SESSION_COOKIE.encode() + b"=; Path=/console; Max-Age=0; "
                                                          b"HttpOnly; SameSite=Strict" + secure)]
        client = str((scope.get("client") or ("?",))[0])
        self.throttle.check(client)
        username = body.get("username") if isinstance(body, dict) else None
        password = body.get("password") if isinstance(body, dict) else None
        # argon2 takes tens of milliseconds: AdminStore.check runs it off the event loop.
        if not isinstance(username, str) or not isinstance(password, str) or \
                not await self.admins.check(username, password):
            self.throttle.failed(client)
            AUDIT.warning("failed console sign-in as %r from %s", str(username)[:64], client)
            raise RequestError(401, "NotAuthorizedException", "Incorrect admin name or password")
        self.throttle.succeeded(client)
        audit(username, f"signed in from {client}")
        cookie = (f"{SESSION_COOKIE}={await self.sessions.issue(username)}; Path=/console; Max-Age={SESSION_SECONDS}; "
                  "HttpOnly; SameSite=Strict").encode() + secure
        return {"signed_in": True, "admin": username}, [(b"set-cookie", cookie)]


_KEY_ACTIONS = {"keys": "created an API key", "keys/revoke": "revoked an API key", "keys/rotate": "rotated an API key"}


def _action(route: str, body: Any) -> str | None:
    """What an admin call changed, for the audit line (None: it only read). Never its body: it may hold a
    password or a key."""
    operation = body.get("operation") if isinstance(body, dict) else None
    if route == "user-pool" and isinstance(operation, str):
        if operation.startswith(("List", "Describe", "AdminGet", "AdminList")):
            return None
        params = body.get("params")
        target = params.get("Username") if isinstance(params, dict) else None
        return f"ran {operation[:64]} {target[:128] if isinstance(target, str) else ''}".rstrip()
    if route == "sign-in-as" and isinstance(body, dict) and isinstance(body.get("username"), str):
        return f"got tokens for user {body['username'][:128]}"
    return _KEY_ACTIONS.get(route, f"called {route}")


async def _read_json(receive: Receive) -> Any:
    raw = await read_body(receive, _MAX_BODY)
    if not raw:
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RequestError(400, "BadRequestException", "The request body is not valid JSON") from None


async def _json(send: Send, status: int, body: Any, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    payload = orjson.dumps(body)
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", _JSON), (b"content-length", str(len(payload)).encode()), (b"cache-control", b"no-store"),
        *_PAGE_HEADERS, *(extra or [])]})
    await send({"type": "http.response.body", "body": payload})
