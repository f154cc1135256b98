"""How long an identity's credentials hold (server/authn.py), as the real-time hub asks it for each
subscription: the earlier of a token's ``exp`` and an API key's expiry, and which credential an operator
can revoke early (re-checked per event). Over real sockets: test_realtime_auth.py."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from cove.server.authn import ApiKeyAuthenticator, Authenticator
from cove.server.identity import Identity
from cove.store.base import ApiKey


class Keys:
    """The store's API-key lookup, and nothing else."""

    def __init__(self, *keys: ApiKey) -> None:
        self.keys = {k.key: k for k in keys}
        self.lookups = 0

    async def find_api_key(self, key: str) -> ApiKey | None:   # KeyStore's is a coroutine
        self.lookups += 1
        return self.keys.get(key)


def authenticator(store: Any) -> Authenticator:
    return Authenticator(ApiKeyAuthenticator(store))


def test_api_key_expiry_and_revocation() -> None:
    later = time.time() + 3600
    store = Keys(ApiKey("id1", "k1", None, 0.0, later, False))
    authn = authenticator(store)
    identity = asyncio.run(authn.authenticate({"x-api-key": "k1"}, body=b"{}", path="/graphql"))
    headers = {"x-api-key": "k1"}
    assert asyncio.run(authn.expiry(identity, headers)) == later
    credential = authn.revocable_credential(identity, headers)
    assert credential == ("apiKey", "k1")
    assert asyncio.run(authn.still_valid(credential)) is True
    store.keys["k1"] = ApiKey("id1", "k1", None, 0.0, later, True)
    authn.api_keys.forget()   # as `cove keys revoke` in this process does
    assert asyncio.run(authn.still_valid(credential)) is False
    assert asyncio.run(authn.still_valid(("apiKey", "unknown"))) is False


def test_token_expiry_is_its_exp_claim_and_is_not_revocable() -> None:
    authn = authenticator(Keys())
    token = Identity("userPool", claims={"sub": "u", "exp": 1_900_000_000})
    assert asyncio.run(authn.expiry(token, {"authorization": "t"})) == 1_900_000_000.0
    assert authn.revocable_credential(token, {"authorization": "t"}) is None
    for claims in ({}, {"exp": True}, {"exp": "soon"}):
        assert asyncio.run(authn.expiry(Identity("oidc", claims=claims), {})) is None


def test_the_earlier_of_exp_and_the_key_expiry_wins() -> None:
    soon = time.time() + 60
    authn = authenticator(Keys(ApiKey("id1", "k1", None, 0.0, soon, False)))
    both = Identity("apiKey", claims={"exp": soon + 1000}, api_key_id="id1")
    assert asyncio.run(authn.expiry(both, {"x-api-key": "k1"})) == soon
    both = Identity("apiKey", claims={"exp": soon - 10}, api_key_id="id1")
    assert asyncio.run(authn.expiry(both, {"x-api-key": "k1"})) == soon - 10
    assert authn.revocable_credential(Identity("apiKey"), {}) is None   # no key header: nothing to re-check
