"""Authentication: which mode a request uses, and who it is (an :class:`Identity`).

The mode is chosen from the headers as AppSync does:

1. ``x-api-key`` -> API key;
2. ``Authorization: AWS4-HMAC-SHA256 ...`` -> IAM (SigV4 over the raw request);
3. ``Authorization: <JWT>`` whose ``iss`` is this server's user pool -> user pool;
4. ... whose ``iss`` is the configured OIDC issuer -> OIDC;
5. any other ``Authorization`` -> the Lambda authorizer, when one is configured;
6. otherwise HTTP 401 (``UnauthorizedException``).

Each mode has a small verifier; :class:`Authenticator` holds them. A token that names a verifier
but fails its checks is refused; it does not fall through to the next mode.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from cove.wire import sigv4
from cove.identity.credentials import CredentialError, CredentialIssuer
from cove.identity.lambda_authorizer import AuthorizerDenied, LambdaAuthorizer
from cove.store.base import ApiKey, KeyStore
from cove.store.identity_state import IamKey, IdentityStore

if TYPE_CHECKING:  # the JWT modules (PyJWT, cryptography, httpx) load on the first token seen
    from cove.identity.oidc import OidcVerifier
    from cove.identity.tokens import UserPoolTokens

from .errors import Unauthorized
from .identity import Identity

_API_KEY_CACHE_SECONDS = 5.0
_JWT_CACHE_SIZE = 20_000
_NOT_PROVIDED = "Valid authorization header not provided."
ACCOUNT_ID = "000000000000"


class ApiKeyAuthenticator:
    """Checks `x-api-key` against the key store, caching answers briefly so that a key created or
    revoked with `cove keys` takes effect within seconds in every server process."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}

    async def authenticate(self, key: str) -> Identity:
        hit = self._cache.get(key)
        if hit is None or hit[0] < time.monotonic():
            return _key_identity(await self._read(key))
        return _key_identity(hit[1])

    async def _read(self, key: str) -> ApiKey | None:
        record = await self.keys.find_api_key(key)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (time.monotonic() + _API_KEY_CACHE_SECONDS, record)
        return record

    async def expires_at(self, key: str) -> float | None:
        """When `key` expires (epoch seconds); None for an unknown key."""
        record = await self.keys.find_api_key(key)
        return record.expires_at if record is not None else None

    def forget(self) -> None:
        """Drop cached answers (this process revoked a key and must refuse it from now on)."""
        self._cache.clear()


def _key_identity(record: ApiKey | None) -> Identity:
    if record is None or record.revoked:
        raise Unauthorized("You are not authorized to make this call. (invalid API key)")
    if record.expires_at <= time.time():
        raise Unauthorized("You are not authorized to make this call. (the API key has expired)")
    return Identity("apiKey", api_key_id=record.id)


class JwtCache:
    """Identities of tokens verified before, until the tokens expire: a known token costs one
    dict lookup (and no new Identity)."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Identity]] = {}

    def get(self, token: str) -> Identity | None:
        hit = self._entries.get(token)
        if hit is None:
            return None
        if hit[0] <= time.time():
            self._entries.pop(token, None)
            return None
        return hit[1]

    def put(self, token: str, identity: Identity) -> None:
        exp = identity.claims.get("exp")
        if not isinstance(exp, (int, float)):
            return
        if len(self._entries) >= _JWT_CACHE_SIZE:
            self._entries.clear()
        self._entries[token] = (float(exp), identity)

    def clear(self) -> None:
        self._entries.clear()


class IamVerifier:
    """SigV4 (service ``appsync``) against identity-pool credentials or the server's static keys."""

    def __init__(self, *, region: str | None, issuer: CredentialIssuer | None, store: IdentityStore | None,
                 identity_pool_id: str | None, max_skew: float = sigv4.DEFAULT_MAX_SKEW) -> None:
        self.region = region
        self.issuer = issuer
        self.store = store
        self.identity_pool_id = identity_pool_id
        self.max_skew = max_skew
        self._static: dict[str, tuple[float, IamKey | None]] = {}

    async def _static_key(self, akid: str) -> IamKey | None:
        now = time.monotonic()
        hit = self._static.get(akid)
        if hit is None or hit[0] < now:
            record = await self.store.find_iam_key(akid) if self.store is not None else None
            if len(self._static) > 10_000:
                self._static.clear()
            hit = self._static[akid] = (now + _API_KEY_CACHE_SECONDS, record)
        return hit[1]

    async def authenticate(self, authorization: str, headers: Mapping[str, str], *, body: bytes, path: str,
                           method: str) -> Identity:
        try:
            signed = sigv4.parse_authorization(authorization)
        except sigv4.SigV4Error as exc:
            raise Unauthorized(f"{_NOT_PROVIDED} ({exc})") from None
        token = headers.get("x-amz-security-token")
        akid = signed.access_key_id
        identity: Identity
        if token is not None or akid.startswith("ASIA"):
            if self.issuer is None:
                raise Unauthorized("The security token included in the request is invalid. (this server has "
                                   "no identity pool)")
            try:
                temp = self.issuer.resolve(akid, token)
            except CredentialError as exc:
                raise Unauthorized(str(exc)) from None
            secret = temp.secret_access_key
            claims: dict[str, Any] = {
                "accountId": ACCOUNT_ID, "cognitoIdentityPoolId": temp.pool_id,
                "cognitoIdentityId": temp.identity_id, "cognitoIdentityAuthType": temp.kind,
                "sourceIp": headers.get("x-forwarded-for"),
                "userArn": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/cove-{temp.kind}/CognitoIdentityCredentials",
                "username": f"{akid}:CognitoIdentityCredentials", "exp": temp.expires_at,
            }
            if temp.login:
                provider = temp.login.rsplit(":", 1)[0].split("://", 1)[-1]
                claims["cognitoIdentityAuthProvider"] = (f'"{provider}","{provider}:CognitoSignIn:{temp.sub}"')
                claims["sub"] = temp.sub
            identity = Identity("iam", claims=claims, iam_kind=temp.kind)
        else:
            record = await self._static_key(akid)
            if record is None or record.revoked:
                raise Unauthorized("The security token included in the request is invalid. (unknown access key)")
            secret = record.secret_access_key
            identity = Identity("iam", claims={"accountId": ACCOUNT_ID, "userArn": f"arn:aws:iam::{ACCOUNT_ID}:user/"
                                               f"cove-{akid}", "username": akid}, iam_kind="trusted")
        route, _, query = path.partition("?")
        try:
            sigv4.verify(signed, method=method, path=route, query=query, headers=headers, body=body, secret=secret,
                         region=self.region, service="appsync", max_skew=self.max_skew,
                         now=dt.datetime.now(dt.UTC))
        except sigv4.SigV4Error as exc:
            raise Unauthorized(str(exc)) from None
        return identity


class Authenticator:
    """Picks the mode of a request and runs its verifier."""

    def __init__(self, api_keys: ApiKeyAuthenticator, *, user_pool: UserPoolTokens | None = None,
                 oidc: OidcVerifier | None = None, iam: IamVerifier | None = None,
                 lambda_authorizer: LambdaAuthorizer | None = None) -> None:
        self.api_keys = api_keys
        self.user_pool = user_pool
        self.oidc = oidc
        self.iam = iam
        self.lambda_authorizer = lambda_authorizer
        self._verified = JwtCache()

    async def authenticate(self, headers: Mapping[str, str], *, body: bytes, path: str,
                           method: str = "POST") -> Identity:
        api_key = headers.get("x-api-key")
        if api_key is not None:
            return await self.api_keys.authenticate(api_key)
        authorization = headers.get("authorization")
        if authorization is not None and (known := self._verified.get(authorization)) is not None:
            return known  # the usual header: the bare token, seen before
        if authorization is None or not authorization.strip():
            raise Unauthorized(_NOT_PROVIDED)
        if authorization.startswith(sigv4.ALGORITHM):
            if self.iam is None:
                raise Unauthorized(f"{_NOT_PROVIDED} (IAM authorization is not enabled)")
            return await self.iam.authenticate(authorization, headers, body=body, path=path, method=method)
        token = authorization.strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        from cove.identity.tokens import looks_like_jwt

        if looks_like_jwt(token):
            identity = await self._jwt(token)
            if identity is not None:
                return identity
        if self.lambda_authorizer is not None:
            return await self._lambda(authorization, headers, body)
        raise Unauthorized(f"{_NOT_PROVIDED} (the Authorization header holds no token this API accepts)")

    # -- how long an identity's credentials hold (a subscription outlives its start) ------------
    async def expiry(self, identity: Identity, headers: Mapping[str, str]) -> float | None:
        """When the credentials `identity` was authenticated with stop being valid (epoch seconds): a
        token's ``exp``, an API key's expiry, whichever comes first; None when they do not expire."""
        exp = identity.claims.get("exp") if identity.claims else None
        expires_at = float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None
        credential = self.revocable_credential(identity, headers)
        if credential is not None:
            key_expires_at = await self.api_keys.expires_at(credential[1])
            if key_expires_at is not None:
                expires_at = key_expires_at if expires_at is None else min(expires_at, key_expires_at)
        return expires_at

    def revocable_credential(self, identity: Identity, headers: Mapping[str, str]) -> tuple[str, str] | None:
        """The credential behind `identity` that an operator can revoke before it expires (an API key),
        as a hashable name for :meth:`still_valid`; None when there is none."""
        if identity.mode != "apiKey":
            return None
        key = headers.get("x-api-key")
        return ("apiKey", key) if key else None

    async def still_valid(self, credential: tuple[str, str]) -> bool:
        """Whether a credential named by :meth:`revocable_credential` is still accepted (cached briefly)."""
        try:
            await self.api_keys.authenticate(credential[1])
        except Unauthorized:
            return False
        return True

    async def _jwt(self, token: str) -> Identity | None:
        from cove.identity.tokens import TokenError, unverified_claims

        known = self._verified.get(token)  # e.g. sent as "Bearer <token>"
        if known is not None:
            return known
        peek = unverified_claims(token)
        if peek is None:
            return None
        iss = peek.get("iss")
        if self.user_pool is not None and iss == self.user_pool.issuer:
            try:
                claims = await self.user_pool.verify(token)
            except TokenError as exc:
                raise Unauthorized(f"{_NOT_PROVIDED} ({exc})") from None
            identity = Identity("userPool", claims=claims)
            self._verified.put(token, identity)
            return identity
        if self.oidc is not None and self.oidc.matches_issuer(iss):
            try:
                claims = await self.oidc.verify(token)
            except TokenError as exc:
                raise Unauthorized(f"{_NOT_PROVIDED} ({exc})") from None
            identity = Identity("oidc", claims=claims)
            self._verified.put(token, identity)
            return identity
        return None

    async def _lambda(self, token: str, headers: Mapping[str, str], body: bytes) -> Identity:
        assert self.lambda_authorizer is not None
        query, variables, operation_name = "", None, None
        try:
            payload = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            payload = {}
        if isinstance(payload, dict):
            q = payload.get("query")
            query = q if isinstance(q, str) else ""
            variables = payload.get("variables")
            op = payload.get("operationName")
            operation_name = op if isinstance(op, str) else None
        try:
            decision = await self.lambda_authorizer.authorize(token, query=query, operation_name=operation_name,
                                                              variables=variables, headers=headers)
        except AuthorizerDenied as exc:
            raise Unauthorized(f"You are not authorized to make this call. ({exc})") from None
        return Identity("lambda", resolver_context=decision.resolver_context, denied_fields=decision.denied_fields)

    async def aclose(self) -> None:
        if self.oidc is not None:
            await self.oidc.aclose()
