"""Everything identity-related one server process needs, built from the identity store and the schema.

Pool ids, the master secret and the signing keys live in the database (stable across restarts and
shared by every worker and host; see keys.py for rotation). The issuer of the user pool's tokens is this
server's own URL, ``<base>/cognito-idp/<user_pool_id>``, with the JWKS and OpenID discovery
documents under it, so any standard JWT library can verify Cove's tokens from the ``iss`` claim.
"""

from __future__ import annotations

import asyncio
import secrets
import string
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from cove.schema.model import AuthSettings, PasswordPolicy, Schema, SchemaError, UserAttribute
from cove.store.identity_state import IdentityStore

from .credentials import CredentialIssuer
from .delivery import CodeHook, SmtpSender
from .guard import AuthLimits, Guard
from .identity_pool import IdentityPool
from .keys import KeyRing
from .lambda_authorizer import LambdaAuthorizer
from .oidc import OidcVerifier
from .tokens import UserPoolTokens
from .user_pool import UserPool

USER_POOL_PATH = "/cognito-idp"
IDENTITY_POOL_PATH = "/cognito-identity"


def _random(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


@dataclass(frozen=True)
class PoolIds:
    """A data directory's pools and secret, created once and shared by every process that opens it."""

    master: bytes
    user_pool_id: str
    client_id: str
    identity_pool_id: str


async def pool_ids(store: IdentityStore, region: str) -> PoolIds:
    master = await store.meta("master_secret", lambda: secrets.token_hex(32))
    user_pool_id = await store.meta(f"user_pool_id:{region}",
                                    lambda: f"{region}_{_random(string.ascii_letters + string.digits, 9)}")
    client_id = await store.meta("user_pool_client_id", lambda: _random(string.ascii_lowercase + string.digits, 26))
    identity_pool_id = await store.meta(f"identity_pool_id:{region}", lambda: f"{region}:{uuid.uuid4()}")
    return PoolIds(bytes.fromhex(master), user_pool_id, client_id, identity_pool_id)


class IdentityServices:
    """Build with ``await IdentityServices.open(...)``, which reads (or creates) the pool ids first."""

    def __init__(self, store: IdentityStore, ids: PoolIds, keys: KeyRing, schema: Schema, *, region: str,
                 base_url: str, auto_confirm: bool = True, on_send_code: CodeHook | None = None,
                 smtp: SmtpSender | None = None, limits: AuthLimits | None = None) -> None:
        self.store = store
        self.region = region
        self.base_url = base_url.rstrip("/")
        self.auto_confirm = auto_confirm
        # Where codes go unless define_auth(on_send_code=...) says: SMTP when configured, else the
        # fallback the caller gives (the sandbox prints them; `cove serve` has none).
        self.on_send_code: CodeHook | None = smtp or on_send_code
        self.guard = Guard(limits)  # one per process, kept across schema reloads
        self.master = ids.master
        self.user_pool_id = ids.user_pool_id
        self.client_id = ids.client_id
        self.identity_pool_id = ids.identity_pool_id
        self.keys = keys
        self.credentials = CredentialIssuer(self.master, self.identity_pool_id)
        self.configure(schema)

    @classmethod
    async def open(cls, store: IdentityStore, schema: Schema, *, region: str, base_url: str,
                   **options: Any) -> IdentityServices:
        """The services of a database's identity state; raises SchemaError for unusable auth settings."""
        ids = await pool_ids(store, region)
        keys = await KeyRing.open(store)
        services = cls(store, ids, keys, schema, region=region, base_url=base_url, **options)
        if services.user_pool is not None:
            await services.user_pool.save_settings()
        return services

    @property
    def issuer(self) -> str:
        return f"{self.base_url}{USER_POOL_PATH}/{self.user_pool_id}"

    def configure(self, schema: Schema) -> None:
        """(Re)build the services for a schema (the sandbox calls this again on reload)."""
        self.schema = schema
        settings = schema.auth
        self.tokens: UserPoolTokens | None = None
        self.user_pool: UserPool | None = None
        self.identity_pool: IdentityPool | None = None
        if settings is not None:
            self.keys.token_lifetime = max(settings.access_token_validity, settings.id_token_validity)
            self.tokens = UserPoolTokens(self.keys, issuer=self.issuer, client_id=self.client_id,
                                         access_validity=settings.access_token_validity,
                                         id_validity=settings.id_token_validity)
            self.user_pool = UserPool(self.store, settings, pool_id=self.user_pool_id, client_id=self.client_id,
                                      tokens=self.tokens, master=self.master, auto_confirm=self.auto_confirm,
                                      on_send_code=self.on_send_code, guard=self.guard)
            self.identity_pool = IdentityPool(self.store, pool_id=self.identity_pool_id, region=self.region,
                                              user_pool_tokens=self.tokens, user_pool_id=self.user_pool_id,
                                              allow_guests=settings.allow_guest_access, issuer=self.credentials)
        modes = schema.authorization_modes
        try:
            self.oidc = OidcVerifier.from_config(modes.oidc) if modes.oidc else None
        except ValueError as exc:
            raise SchemaError(str(exc)) from None
        self.lambda_authorizer = None
        if modes.lambda_function is not None:
            try:
                self.lambda_authorizer = LambdaAuthorizer(modes.lambda_function, modes.lambda_ttl_seconds)
            except (ValueError, ImportError) as exc:
                raise SchemaError(f"lambda_authorization_mode: {exc}") from None
        if self.user_pool is not None and _loop_running():
            # A schema reload: store its groups now (the pool's first call waits for them).
            self.user_pool.start_saving_settings()

    def code_delivery_missing(self) -> bool:
        """True when the user pool has no way to deliver a code (a production server without hook or SMTP)."""
        settings = self.schema.auth
        return settings is not None and settings.on_send_code is None and self.on_send_code is None

    # -- documents served over HTTP ------------------------------------------------------------
    async def jwks(self) -> dict[str, Any]:
        return await self.keys.current_jwks()

    def openid_configuration(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/.well-known/jwks.json",
            "authorization_endpoint": f"{self.issuer}/oauth2/authorize",
            "token_endpoint": f"{self.issuer}/oauth2/token",
            "response_types_supported": ["code", "token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "phone", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "email", "email_verified",
                                 "cognito:username", "cognito:groups", "token_use"],
        }

    # -- amplify_outputs.json ------------------------------------------------------------------
    def outputs_auth(self) -> dict[str, Any] | None:
        """The ``auth`` block of amplify_outputs.json (schema 1.4)."""
        settings = self.schema.auth
        if settings is None:
            return None
        p = settings.password_policy
        verification = ["email"] if "email" in settings.login_with else ["phone_number"]
        return {
            "aws_region": self.region,
            "user_pool_id": self.user_pool_id,
            "user_pool_client_id": self.client_id,
            "identity_pool_id": self.identity_pool_id,
            "password_policy": {"min_length": p.min_length, "require_lowercase": p.require_lowercase,
                                "require_numbers": p.require_numbers, "require_symbols": p.require_symbols,
                                "require_uppercase": p.require_uppercase},
            "unauthenticated_identities_enabled": settings.allow_guest_access,
            "standard_required_attributes": (["email"] if "email" in settings.login_with else []) + [
                a.name for a in settings.user_attributes if a.required and a.name != "email"],
            "username_attributes": list(settings.login_with),
            "user_verification_types": verification,
            "groups": [{g: {"precedence": i}} for i, g in enumerate(settings.groups)],
            "mfa_configuration": "NONE",
            "mfa_methods": [],
        }

    def outputs_custom(self) -> dict[str, Any]:
        """Cove's endpoints, for ``custom.cove`` in amplify_outputs.json."""
        out: dict[str, Any] = {}
        if self.schema.auth is not None:
            out.update({
                "user_pool_endpoint": f"{self.base_url}{USER_POOL_PATH}/",
                "identity_pool_endpoint": f"{self.base_url}{IDENTITY_POOL_PATH}/",
                "user_pool_issuer": self.issuer,
                "jwks_uri": f"{self.issuer}/.well-known/jwks.json",
            })
        return out

    async def close(self) -> None:
        await self.store.close()


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


REGION_META = "region"      # the region the server last ran with (written by the runner)
DEFAULT_REGION = "us-east-1"


async def stored_auth_settings(store: IdentityStore) -> AuthSettings | None:
    """The ``define_auth`` settings the sandbox last served (for ``cove users``), or None."""
    raw = await store.meta("auth_settings", lambda: "null")
    data = orjson.loads(raw)
    if not isinstance(data, dict):
        return None
    policy = PasswordPolicy(**data.pop("password_policy", {}))
    data["login_with"] = tuple(data.get("login_with", ("email",)))
    data["groups"] = tuple(data.get("groups", ()))
    data["user_attributes"] = tuple(UserAttribute(**a) for a in data.get("user_attributes", ()))
    return AuthSettings(password_policy=policy, **data)


async def open_user_pool(store: IdentityStore, region: str | None = None) -> UserPool:
    """The user pool of a database, for the command line (no server needed). The region (part of
    the pool id, which SRP verifiers depend on) defaults to the one the server last ran with."""
    region = region or await store.meta(REGION_META, lambda: DEFAULT_REGION)
    settings = await stored_auth_settings(store) or AuthSettings()
    services = await IdentityServices.open(store, Schema(auth=settings), region=region, base_url="http://localhost")
    assert services.user_pool is not None
    return services.user_pool
