"""The console's admin JSON API: what the page needs beyond the public GraphQL API.

Each handler takes the parsed JSON body (or None for GET) and returns a JSON-able result (the
handlers that read the identity state are coroutines); bad input raises RequestError, which the
router turns into ``{"errors": [{"errorType", "message"}]}``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cove.wire import sigv4
from cove.schema.mis import to_mis
from cove.server.errors import RequestError

if TYPE_CHECKING:
    from cove.server.app import CoveApp

DAY = 86400.0
CONSOLE_IAM_KEY = "cove console"   # description of the IAM key the console signs "IAM" requests with
STARTED = time.time()


def _metrics_text(metrics: Any) -> str | None:
    """The server's metrics in Prometheus' text format, or None when it keeps none (no --metrics-port)."""
    if metrics is None:
        return None
    from prometheus_client import generate_latest

    return generate_latest(metrics.registry).decode()


def _require(body: Any, name: str, kind: type = str) -> Any:
    value = body.get(name) if isinstance(body, dict) else None
    if not isinstance(value, kind) or (kind is str and not value):
        raise RequestError(400, "BadRequestException", f"'{name}' must be a non-empty {kind.__name__}")
    return value


class AdminApi:
    def __init__(self, app: CoveApp) -> None:
        self.app = app

    # -- reading --------------------------------------------------------------------------------
    async def info(self, _body: Any) -> dict[str, Any]:
        from cove._version import __version__

        engine = self.app.engine
        schema = engine.schema
        ids = self.app.identity
        auth: dict[str, Any] | None = None
        if ids is not None and schema.auth is not None:
            auth = {"user_pool_id": ids.user_pool_id, "client_id": ids.client_id,
                    "identity_pool_id": ids.identity_pool_id, "groups": list(schema.auth.groups),
                    "guest_access": schema.auth.allow_guest_access}
        modes = schema.authorization_modes
        return {"version": __version__, "graphql": self.app.graphql_path,
                "realtime": self.app.graphql_path + "/realtime", "schema": to_mis(schema),
                "default_auth_mode": modes.default, "auth_modes": modes.enabled(), "auth": auth,
                "oidc": modes.oidc is not None, "lambda": modes.lambda_function is not None,
                "api_key": await self._usable_api_key(), "region": ids.region if ids is not None else None}

    async def _usable_api_key(self) -> str | None:
        now = time.time()
        for key in reversed(await self.app.backend.keys.api_keys()):
            if not key.revoked and key.expires_at > now:
                return str(key.key)
        return None

    async def counts(self, _body: Any) -> dict[str, int]:
        records = self.app.records
        return {name: await records.count(model) for name, model in self.app.engine.schema.models.items()}

    async def health(self, _body: Any) -> dict[str, Any]:
        """What the health page shows: server facts, /ready's checks, warnings, and the Prometheus
        metrics (served to scrapers on their own port, --metrics-port, so the page gets them here)."""
        from cove._version import __version__

        realtime = self.app.realtime
        ids = self.app.identity
        users = len(await ids.store.list_users()) if ids is not None and ids.user_pool is not None else None
        now = time.time()
        keys = await self.app.backend.keys.api_keys()
        await self.app.api_key_watch.refresh()
        return {"version": __version__, "uptime_seconds": round(now - STARTED, 1),
                "models": await self.counts(None),
                "realtime": {"connections": len(realtime.connections),
                             "subscriptions": realtime.subscription_count(),
                             "broker": getattr(realtime.broker, "description", None)},
                "users": users,
                "api_keys": {"active": sum(1 for k in keys if not k.revoked and k.expires_at > now),
                             "total": len(keys)},
                "warnings": self.app.warnings(),
                "ready": (await self.app.readiness())[1] if self.app.readiness is not None else None,
                "metrics": _metrics_text(self.app.metrics)}

    # -- users and groups (the user pool's own admin operations) --------------------------------
    async def user_pool(self, body: Any) -> dict[str, Any]:
        from cove.identity.cognito_json import CognitoError

        pool = self._pool()
        operation = _require(body, "operation")
        params = body.get("params", {})
        if not isinstance(params, dict):
            raise RequestError(400, "BadRequestException", "'params' must be an object")
        if operation not in pool.ADMIN:
            raise RequestError(400, "BadRequestException", f"{operation} is not a user pool admin operation")
        try:
            result: dict[str, Any] = await pool.call(operation, {**params, "UserPoolId": pool.pool_id}, admin=True)
            return result
        except CognitoError as exc:
            raise RequestError(400, exc.error_type, exc.message) from None

    def _pool(self) -> Any:
        ids = self.app.identity
        if ids is None or ids.user_pool is None:
            raise RequestError(400, "BadRequestException", "This backend has no user pool (define_auth)")
        return ids.user_pool

    # -- identities for the explorer and the live view ------------------------------------------
    async def sign_in_as(self, body: Any) -> dict[str, Any]:
        """Tokens for any user, as if they had signed in (the explorer's identity picker)."""
        pool = self._pool()
        user = await pool.store.find_user(_require(body, "username"))
        if user is None:
            raise RequestError(400, "UserNotFoundException", "User does not exist.")
        if not user.enabled:
            raise RequestError(400, "NotAuthorizedException", "User is disabled.")
        access, ident, expires_in = await pool.tokens.issue(
            sub=user.sub, username=user.username, groups=user.groups, attributes=user.attributes,
            origin_jti=f"console-{int(time.time())}", auth_time=int(time.time()))
        return {"access_token": access, "id_token": ident, "expires_in": expires_in,
                "username": user.username, "groups": user.groups,
                "login": user.email or user.phone_number or user.username}

    async def sign(self, body: Any) -> dict[str, str]:
        """SigV4 headers for one request, as the server's trusted IAM key ('iam') or as a guest of the
        identity pool ('guest'). The page sends the request itself, with exactly this body."""
        kind = _require(body, "as")
        path = _require(body, "path")
        host = _require(body, "host")
        payload = body.get("body", "")
        if not isinstance(payload, str) or not path.startswith(self.app.graphql_path):
            raise RequestError(400, "BadRequestException", "'body' must be a string and 'path' a GraphQL path")
        if kind == "iam":
            credentials = await self._console_iam_key()
        elif kind == "guest":
            credentials = await self._guest_credentials()
        else:
            raise RequestError(400, "BadRequestException", "'as' must be 'iam' or 'guest'")
        ids = self.app.identity
        assert ids is not None
        headers = {"host": host, "content-type": "application/json; charset=UTF-8"}
        signed = sigv4.sign("POST", f"http://{host}{path}", headers, payload.encode(), credentials=credentials,
                            region=ids.region)
        return {**headers, **signed}

    async def _console_iam_key(self) -> sigv4.Credentials:
        ids = self.app.identity
        if ids is None:
            raise RequestError(400, "BadRequestException", "This server has no identity services")
        keys = await ids.store.iam_keys()
        key = next((k for k in keys if not k.revoked and k.description == CONSOLE_IAM_KEY), None)
        if key is None:
            key = await ids.store.create_iam_key(CONSOLE_IAM_KEY)
        return sigv4.Credentials(key.access_key_id, key.secret_access_key)

    async def _guest_credentials(self) -> sigv4.Credentials:
        from cove.identity.cognito_json import CognitoError

        ids = self.app.identity
        if ids is None or ids.identity_pool is None:
            raise RequestError(400, "BadRequestException", "This backend has no identity pool (define_auth)")
        try:
            got = await ids.identity_pool.call("GetId", {"IdentityPoolId": ids.identity_pool_id})
            identity_id = got["IdentityId"]
            answer = await ids.identity_pool.call("GetCredentialsForIdentity", {"IdentityId": identity_id})
            creds = answer["Credentials"]
        except CognitoError as exc:
            raise RequestError(400, exc.error_type, exc.message) from None
        return sigv4.Credentials(creds["AccessKeyId"], creds["SecretKey"], creds["SessionToken"])

    # -- API keys ---------------------------------------------------------------------------------
    async def keys(self, _body: Any) -> dict[str, Any]:
        now = time.time()
        return {"api_keys": [{"id": k.id, "key": k.key, "description": k.description, "created_at": k.created_at,
                              "expires_at": k.expires_at,
                              "state": "revoked" if k.revoked else ("expired" if k.expires_at <= now else "active")}
                             for k in await self.app.backend.keys.api_keys()]}

    async def create_key(self, body: Any) -> dict[str, Any]:
        days = body.get("expires_in_days", 7) if isinstance(body, dict) else 7
        if not isinstance(days, int | float) or isinstance(days, bool) or not 0 < days <= 365:
            raise RequestError(400, "BadRequestException", "'expires_in_days' must be a number from 1 to 365")
        description = body.get("description") if isinstance(body, dict) else None
        if description is not None and (not isinstance(description, str) or len(description) > 256):
            raise RequestError(400, "BadRequestException", "'description' must be a string of at most 256 characters")
        key = await self.app.backend.keys.create_api_key(expires_at=time.time() + days * DAY,
                                                         description=description or None)
        return {"id": key.id, "key": key.key}

    async def revoke_key(self, body: Any) -> dict[str, Any]:
        key = _require(body, "key")
        if not await self.app.backend.keys.revoke_api_key(key):
            raise RequestError(404, "NotFoundException", f"No API key {key}")
        self.app.api_keys.forget()
        return {"revoked": key}

    async def rotate_key(self, body: Any) -> dict[str, Any]:
        """A new key with the old one's description and lifetime, then the old one revoked."""
        old_id = _require(body, "key")
        old = next((k for k in await self.app.backend.keys.api_keys() if old_id in (k.id, k.key)), None)
        if old is None or old.revoked:
            raise RequestError(404, "NotFoundException", f"No active API key {old_id}")
        lifetime = max(old.expires_at - old.created_at, DAY)
        new = await self.app.backend.keys.create_api_key(expires_at=time.time() + lifetime,
                                                         description=old.description)
        await self.revoke_key({"key": old.id})
        return {"id": new.id, "key": new.key, "revoked": old.id}

    def routes(self) -> dict[tuple[str, str], Callable[[Any], Any]]:
        return {
            ("GET", "info"): self.info, ("GET", "counts"): self.counts, ("GET", "health"): self.health,
            ("GET", "keys"): self.keys, ("POST", "keys"): self.create_key,
            ("POST", "keys/revoke"): self.revoke_key, ("POST", "keys/rotate"): self.rotate_key,
            ("POST", "user-pool"): self.user_pool, ("POST", "sign-in-as"): self.sign_in_as,
            ("POST", "sign"): self.sign,
        }

