"""An identity pool speaking Cognito Identity's JSON API (``AWSCognitoIdentityService.*``):
``GetId`` and ``GetCredentialsForIdentity``, for guests (when ``allow_guest_access``) and for users
signed in to the user pool (``Logins: {"<issuer without scheme>": <id token>}``).

The credentials it hands out are Cove's own temporary credentials (see ``credentials.py``); the
GraphQL endpoint verifies SigV4 signatures made with them and knows guest from authenticated.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from cove.store.identity_state import IdentityStore

from .cognito_json import CognitoError
from .credentials import CredentialIssuer
from .tokens import TokenError, UserPoolTokens


class IdentityPool:
    PUBLIC = frozenset({"GetId", "GetCredentialsForIdentity"})

    def __init__(self, store: IdentityStore, *, pool_id: str, region: str, user_pool_tokens: UserPoolTokens | None,
                 user_pool_id: str | None, allow_guests: bool, issuer: CredentialIssuer) -> None:
        self.store = store
        self.pool_id = pool_id
        self.region = region
        self.tokens = user_pool_tokens
        self.allow_guests = allow_guests
        self.issuer = issuer
        self.providers: set[str] = set()
        if user_pool_tokens is not None and user_pool_id:
            self.providers.add(user_pool_tokens.issuer.split("://", 1)[-1])
            self.providers.add(f"cognito-idp.{region}.amazonaws.com/{user_pool_id}")

    async def call(self, operation: str, body: Mapping[str, Any]) -> dict[str, Any]:
        if operation not in self.PUBLIC:
            raise CognitoError("UnknownOperationException", f"Cove does not implement {operation}")
        result: dict[str, Any] = await getattr(self, "op_" + operation)(body)
        return result

    async def _login(self, body: Mapping[str, Any]) -> tuple[str, str] | None:
        """``(login_key, sub)`` of a valid ``Logins`` map, or None for a guest."""
        logins = body.get("Logins")
        if not logins:
            return None
        if not isinstance(logins, Mapping) or len(logins) != 1:
            raise CognitoError("InvalidParameterException", "Logins must map one provider name to its token")
        provider, token = next(iter(logins.items()))
        if provider not in self.providers or self.tokens is None:
            raise CognitoError("NotAuthorizedException", f"Invalid login token. Provider {provider} is not "
                               "configured for this identity pool.")
        if not isinstance(token, str):
            raise CognitoError("NotAuthorizedException", "Invalid login token.")
        try:
            claims = await self.tokens.verify(token, token_use="id")
        except TokenError as exc:
            msg = "Invalid login token. Token expired." if "expired" in str(exc) else f"Invalid login token. {exc}"
            raise CognitoError("NotAuthorizedException", msg) from None
        return f"{self.tokens.issuer}:{claims['sub']}", str(claims["sub"])

    def _pool(self, body: Mapping[str, Any]) -> None:
        pool = body.get("IdentityPoolId")
        if pool != self.pool_id:
            raise CognitoError("ResourceNotFoundException", f"IdentityPool '{pool}' not found.")

    def _guest_allowed(self) -> None:
        if not self.allow_guests:
            raise CognitoError("NotAuthorizedException",
                               "Unauthenticated access is not supported for this identity pool.")

    async def op_GetId(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._pool(body)
        login = await self._login(body)
        new_id = f"{self.region}:{uuid.uuid4()}"
        if login is None:
            self._guest_allowed()
            return {"IdentityId": await self.store.identity_for_login(None, new_id)}
        return {"IdentityId": await self.store.identity_for_login(login[0], new_id)}

    async def op_GetCredentialsForIdentity(self, body: Mapping[str, Any]) -> dict[str, Any]:
        identity_id = body.get("IdentityId")
        if not isinstance(identity_id, str) or not await self.store.identity_exists(identity_id):
            raise CognitoError("ResourceNotFoundException", f"Identity '{identity_id}' not found.")
        linked = await self.store.identity_login(identity_id)
        login = await self._login(body)
        if login is None:
            if linked is not None:
                raise CognitoError("NotAuthorizedException", "Logins don't match. Please include at least one "
                                   "valid login for this identity or identity pool.")
            self._guest_allowed()
            creds = self.issuer.issue(identity_id, "unauthenticated")
            return {"IdentityId": identity_id, "Credentials": creds}
        login_key, sub = login
        if linked is None:
            # A guest signing in keeps their identity, unless the login already has one.
            if not await self.store.link_identity(identity_id, login_key):
                identity_id = await self.store.identity_for_login(login_key, identity_id)
        elif linked != login_key:
            raise CognitoError("NotAuthorizedException", "Logins don't match. Please include at least one "
                               "valid login for this identity or identity pool.")
        creds = self.issuer.issue(identity_id, "authenticated", login=login_key, sub=sub)
        return {"IdentityId": identity_id, "Credentials": creds}
