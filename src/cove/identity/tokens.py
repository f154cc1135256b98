"""JSON Web Tokens: issuing the user pool's (RS256, Cognito's claims) and verifying any issuer's.

Verification is strict and explicit (PyJWT >= 2.13): a fixed list of asymmetric algorithms (never
HMAC, never ``none``), a key found by ``kid``, the signature, then ``iss``, ``exp``, ``nbf``/``iat``
(not in the future) and the audience checks of the caller.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
from jwt.exceptions import (
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAlgorithmError,
    InvalidSignatureError,
    PyJWTError,
)

from .attributes import issued
from .keys import KeyRing, SigningKey

ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
#: Seconds of clock difference tolerated on ``exp``/``nbf``/``iat``.
LEEWAY = 5.0


class TokenError(ValueError):
    """A token that is not accepted; the message says why (and is safe to show the caller)."""


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and len(token) < 16_384


def unverified_claims(token: str) -> dict[str, Any] | None:
    """The payload of a JWT without checking anything (to pick the verifier), or None."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except PyJWTError:
        return None
    return claims if isinstance(claims, dict) else None


def verify_jwt(token: str, *, key_for: Callable[[str | None, str], Any], algorithms: tuple[str, ...],
               issuer: str, leeway: float = LEEWAY) -> dict[str, Any]:
    """Verify ``token`` and return its claims; ``key_for(kid, alg)`` returns the public key or None."""
    try:
        header = jwt.get_unverified_header(token)
    except PyJWTError:
        raise TokenError("the token is not a well-formed JWT") from None
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms:
        raise TokenError(f"token algorithm {alg!r} is not accepted (accepted: {', '.join(algorithms)})")
    if header.get("crit"):
        raise TokenError("tokens with critical header extensions are not accepted")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise TokenError("the token's kid is not a string")
    key = key_for(kid, alg)
    if key is None:
        raise TokenError(f"unknown signing key (kid {kid!r})")
    try:
        claims = jwt.decode(token, key=key, algorithms=[alg], issuer=issuer, leeway=leeway,
                            options={"require": ["exp", "iss"], "verify_aud": False})
    except ExpiredSignatureError:
        raise TokenError("Token has expired.") from None
    except ImmatureSignatureError:
        raise TokenError("the token is not valid yet (nbf/iat in the future)") from None
    except InvalidSignatureError:
        raise TokenError("the token's signature does not verify") from None
    except InvalidAlgorithmError:
        raise TokenError("the token's algorithm does not match its key") from None
    except jwt.InvalidIssuerError:
        raise TokenError("the token's issuer is not accepted") from None
    except PyJWTError as exc:
        raise TokenError(f"invalid token: {exc}") from None
    if not isinstance(claims, dict):
        raise TokenError("the token's payload is not a JSON object")
    return claims


class UserPoolTokens:
    """Issues and verifies the user pool's access and id tokens."""

    def __init__(self, keys: KeyRing, *, issuer: str, client_id: str, access_validity: int = 3600,
                 id_validity: int = 3600) -> None:
        self.keys = keys
        self.issuer = issuer
        self.client_id = client_id
        self.access_validity = access_validity
        self.id_validity = id_validity

    async def issue(self, *, sub: str, username: str, groups: list[str], attributes: dict[str, str],
                    origin_jti: str, auth_time: int, client_id: str | None = None,
                    now: float | None = None) -> tuple[str, str, int]:
        """``(access_token, id_token, expires_in)`` with Cognito's claims, signed by the pool's current
        key (two RS256 signatures: on a thread, off the event loop)."""
        key = await self.keys.signing_key()
        return await asyncio.to_thread(self.sign, key, sub=sub, username=username, groups=groups,
                                       attributes=attributes, origin_jti=origin_jti, auth_time=auth_time,
                                       client_id=client_id, now=now)

    def sign(self, key: SigningKey, *, sub: str, username: str, groups: list[str], attributes: dict[str, str],
             origin_jti: str, auth_time: int, client_id: str | None = None,
             now: float | None = None) -> tuple[str, str, int]:
        """``issue`` with a given key, without I/O."""
        now_i = int(now if now is not None else time.time())
        client = client_id or self.client_id
        event_id = str(uuid.uuid4())
        access: dict[str, Any] = {"sub": sub}
        if groups:
            access["cognito:groups"] = list(groups)
        access.update({
            "iss": self.issuer, "client_id": client, "origin_jti": origin_jti, "event_id": event_id,
            "token_use": "access", "scope": "aws.cognito.signin.user.admin", "auth_time": auth_time,
            "exp": now_i + self.access_validity, "iat": now_i, "jti": str(uuid.uuid4()), "username": username,
        })
        ident: dict[str, Any] = {"sub": sub}
        for name, value in attributes.items():
            if not issued(name):
                continue  # a reserved name stored before Cove refused them never becomes a claim
            if name in ("email_verified", "phone_number_verified"):
                ident[name] = value in (True, "true", "True")
            else:
                ident[name] = value
        if groups:
            ident["cognito:groups"] = list(groups)
        ident.update({
            "iss": self.issuer, "cognito:username": username, "origin_jti": origin_jti, "aud": client,
            "event_id": event_id, "token_use": "id", "auth_time": auth_time, "exp": now_i + self.id_validity,
            "iat": now_i, "jti": str(uuid.uuid4()),
        })
        headers = {"kid": key.kid}
        return (jwt.encode(access, key.private, algorithm="RS256", headers=headers),
                jwt.encode(ident, key.private, algorithm="RS256", headers=headers), self.access_validity)

    async def verify(self, token: str, *, token_use: str | None = None) -> dict[str, Any]:
        """Claims of a valid access or id token of this pool (``token_use`` narrows it). A kid this
        process has not seen makes it re-read the pool's keys first (another process may have rotated)."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except PyJWTError:
            kid = None   # verify_jwt says what is wrong with the token
        key = await self.keys.public_key(kid) if isinstance(kid, str) and kid else None
        claims = verify_jwt(token, key_for=lambda _kid, _alg: key, algorithms=("RS256",), issuer=self.issuer)
        use = claims.get("token_use")
        if use not in ("access", "id") or (token_use is not None and use != token_use):
            raise TokenError(f"token_use {use!r} is not accepted here")
        if "iat" not in claims or not isinstance(claims.get("sub"), str):
            raise TokenError("the token lacks iat or sub")
        if use == "access" and claims.get("client_id") != self.client_id:
            raise TokenError("the token was issued to another app client (client_id)")
        if use == "id" and claims.get("aud") != self.client_id:
            raise TokenError("the token was issued to another app client (aud)")
        return claims
