"""Verifying tokens of any OpenID Connect issuer (``oidc`` mode).

The issuer's discovery document (``<issuer>/.well-known/openid-configuration``) names its JWKS;
both are fetched on first use and cached. A token signed with a key the cache does not know makes
the verifier fetch the JWKS again (the issuer rotated its keys), at most once per
``min_refetch_interval`` seconds, so tokens with made-up ``kid``s cannot make it hammer the issuer.

Checks, as AppSync does: signature (asymmetric algorithms only), ``iss`` equal to the configured
issuer, ``exp``, the client id against ``aud`` (or ``azp``/``client_id``) when configured, and the
age limits ``token_expiry_from_auth_in_seconds`` (``auth_time``) and
``token_expire_from_issue_in_seconds`` (``iat``).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from typing import Any

import httpx
import jwt

from .tokens import ASYMMETRIC_ALGORITHMS, TokenError, verify_jwt


class OidcError(TokenError):
    pass


class OidcVerifier:
    def __init__(self, issuer: str, *, client_id: str | None = None, auth_ttl: int | None = None,
                 issue_ttl: int | None = None, jwks_uri: str | None = None, cache_seconds: float = 3600.0,
                 min_refetch_interval: float = 10.0, username_claim: str | None = None,
                 groups_claim: str | None = None, http: httpx.AsyncClient | None = None) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.auth_ttl = auth_ttl
        self.issue_ttl = issue_ttl
        self.jwks_uri = jwks_uri
        self.cache_seconds = cache_seconds
        self.min_refetch_interval = min_refetch_interval
        self.username_claim = username_claim
        self.groups_claim = groups_claim
        self._http = http
        self._keys: dict[str, Any] = {}
        self._anonymous: list[Any] = []      # keys without a kid
        self._fetched_at = 0.0
        self._refetched_at = 0.0
        self._lock = asyncio.Lock()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> OidcVerifier:
        def get(snake: str, camel: str) -> Any:
            return config.get(snake, config.get(camel))

        known = {"oidc_provider_name", "oidcProviderName", "oidc_issuer_url", "oidcIssuerUrl", "client_id", "clientId",
                 "token_expiry_from_auth_in_seconds", "tokenExpiryFromAuthInSeconds",
                 "token_expire_from_issue_in_seconds", "tokenExpireFromIssueInSeconds", "jwks_uri", "jwksUri",
                 "username_claim", "usernameClaim", "groups_claim", "groupsClaim"}
        if not isinstance(config, Mapping):
            raise ValueError("oidc_authorization_mode must be a dict")
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"oidc_authorization_mode: unknown key(s) {', '.join(map(repr, unknown))}")

        issuer = get("oidc_issuer_url", "oidcIssuerUrl")
        if not isinstance(issuer, str) or not issuer.startswith(("https://", "http://")):
            raise ValueError("oidc_authorization_mode needs oidc_issuer_url (the issuer's URL)")
        return cls(issuer, client_id=get("client_id", "clientId"),
                   auth_ttl=get("token_expiry_from_auth_in_seconds", "tokenExpiryFromAuthInSeconds"),
                   issue_ttl=get("token_expire_from_issue_in_seconds", "tokenExpireFromIssueInSeconds"),
                   jwks_uri=get("jwks_uri", "jwksUri"),
                   username_claim=get("username_claim", "usernameClaim"),
                   groups_claim=get("groups_claim", "groupsClaim"))

    def matches_issuer(self, iss: Any) -> bool:
        return isinstance(iss, str) and iss.rstrip("/") == self.issuer.rstrip("/")

    async def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(10.0), follow_redirects=False)
        return self._http

    async def _fetch_json(self, url: str) -> Any:
        client = await self._client()
        try:
            response = await client.get(url, headers={"accept": "application/json"})
        except httpx.HTTPError as exc:
            raise OidcError(f"cannot reach the OIDC issuer ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise OidcError(f"the OIDC issuer answered HTTP {response.status_code} for {url}")
        try:
            return response.json()
        except ValueError:
            raise OidcError(f"the OIDC issuer sent invalid JSON from {url}") from None

    async def _refresh(self) -> None:
        uri = self.jwks_uri
        if uri is None:
            discovery = await self._fetch_json(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
            if not isinstance(discovery, dict) or not isinstance(discovery.get("jwks_uri"), str):
                raise OidcError("the issuer's discovery document has no jwks_uri")
            if not self.matches_issuer(discovery.get("issuer")):
                raise OidcError("the issuer's discovery document names another issuer")
            uri = discovery["jwks_uri"]
        jwks = await self._fetch_json(uri)
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise OidcError("the issuer's JWKS has no keys")
        keys: dict[str, Any] = {}
        anonymous: list[Any] = []
        for jwk in jwks["keys"]:
            if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig" or jwk.get("kty") == "oct":
                continue
            try:
                key = jwt.PyJWK(jwk)
            except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
                continue
            if key.algorithm_name not in ASYMMETRIC_ALGORITHMS and "alg" in jwk:
                continue
            if isinstance(jwk.get("kid"), str):
                keys[jwk["kid"]] = key
            else:
                anonymous.append(key)
        self._keys = keys
        self._anonymous = anonymous
        self._fetched_at = time.monotonic()

    def _needs_fetch(self, kid: str | None, now: float) -> bool:
        if self._fetched_at == 0 or now - self._fetched_at > self.cache_seconds:
            return True
        if kid is None or kid in self._keys:
            return False
        return now - self._refetched_at >= self.min_refetch_interval  # an unknown kid: rotated keys?

    async def _ensure_key(self, kid: str | None) -> None:
        if not self._needs_fetch(kid, time.monotonic()):
            return
        async with self._lock:
            now = time.monotonic()
            if not self._needs_fetch(kid, now):
                return  # another request fetched meanwhile
            if self._fetched_at and now - self._fetched_at <= self.cache_seconds:
                self._refetched_at = now
            try:
                await self._refresh()
            except OidcError:
                if not self._keys:
                    raise
                self._fetched_at = now - self.cache_seconds + 30.0  # keep the old keys; retry in 30 s

    def _key_for(self, kid: str | None, alg: str) -> Any:
        key = self._keys.get(kid) if kid is not None else (self._anonymous[0] if len(self._anonymous) == 1 else None)
        if key is None:
            return None
        if key.algorithm_name and key.algorithm_name != alg and key.key_type != "RSA":
            return None
        return key.key

    async def verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise OidcError("the token is not a well-formed JWT") from None
        kid = header.get("kid") if isinstance(header.get("kid"), str) else None
        await self._ensure_key(kid)
        claims = verify_jwt(token, key_for=self._key_for, algorithms=ASYMMETRIC_ALGORITHMS, issuer=self.issuer)
        now = time.time()
        if self.client_id:
            aud = claims.get("aud")
            auds = aud if isinstance(aud, list) else [aud]
            candidates = [*auds, claims.get("azp"), claims.get("client_id")]
            if not any(isinstance(a, str) and _client_matches(self.client_id, a) for a in candidates):
                raise OidcError("the token was issued to another client (aud)")
        if self.issue_ttl:
            iat = claims.get("iat")
            if not isinstance(iat, (int, float)) or now - iat > self.issue_ttl:
                raise OidcError("the token was issued too long ago (iat)")
        if self.auth_ttl:
            auth_time = claims.get("auth_time")
            if not isinstance(auth_time, (int, float)) or now - auth_time > self.auth_ttl:
                raise OidcError("the user authenticated too long ago (auth_time)")
        if self.username_claim and "username" not in claims and self.username_claim in claims:
            claims["username"] = claims[self.username_claim]
        if self.groups_claim and "cognito:groups" not in claims and self.groups_claim in claims:
            claims["cognito:groups"] = claims[self.groups_claim]
        return claims

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()


def _client_matches(pattern: str, value: str) -> bool:
    """AppSync lets the client id be a regular expression."""
    if pattern == value:
        return True
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:
        return False
