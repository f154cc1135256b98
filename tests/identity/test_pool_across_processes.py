"""Two processes sharing nothing but the database (two identity stores, each with its own
connections) are interchangeable for the user pool and the identity pool, on SQLite and PostgreSQL:
sign up on one, sign in on the other, use and refresh the tokens anywhere, rotate the signing key on
one and have its tokens accepted by the other at once, sign out on one and be refused by both."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from identity_stores import BACKENDS, open_identity_store, second_store

from cove import define_auth
from cove.identity.cognito_json import CognitoError
from cove.identity.keys import rotate_signing_key
from cove.identity.services import IdentityServices
from cove.schema.model import Schema
from cove.store.identity_state import IdentityStore

pytestmark = pytest.mark.anyio
PASSWORD = "Passw0rd!"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[IdentityStore]:
    async with open_identity_store(request.param, tmp_path) as opened:
        yield opened


async def services(store: IdentityStore) -> IdentityServices:
    auth = define_auth(login_with={"email": True}, groups=["Admins"], allow_guest_access=True)
    return await IdentityServices.open(store, Schema(auth=auth.settings), region="eu-west-1",
                                       base_url="https://cove.example")


async def call(host: IdentityServices, operation: str, **body: Any) -> dict[str, Any]:
    assert host.user_pool is not None
    return await host.user_pool.call(operation, body)


async def test_two_processes_of_one_database_are_interchangeable(store: IdentityStore, tmp_path: Path) -> None:
    first = await services(store)
    async with second_store(store, tmp_path) as other_store:
        second = await services(other_store)
        assert (first.user_pool_id, first.client_id, first.issuer) == \
            (second.user_pool_id, second.client_id, second.issuer)
        client = first.client_id
        await call(first, "SignUp", ClientId=client, Username="ada@example.com", Password=PASSWORD)
        signed_in = (await call(second, "InitiateAuth", ClientId=client, AuthFlow="USER_PASSWORD_AUTH",
                                AuthParameters={"USERNAME": "ada@example.com", "PASSWORD": PASSWORD}))
        tokens = signed_in["AuthenticationResult"]
        user = await call(first, "GetUser", AccessToken=tokens["AccessToken"])
        assert {a["Name"]: a["Value"] for a in user["UserAttributes"]}["email"] == "ada@example.com"
        refreshed = await call(first, "InitiateAuth", ClientId=client, AuthFlow="REFRESH_TOKEN_AUTH",
                               AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})
        assert refreshed["AuthenticationResult"]["AccessToken"]

        # The identity pool: the same identity for the same login, whichever process is asked.
        assert first.identity_pool is not None and second.identity_pool is not None
        logins = {first.issuer.split("://", 1)[1]: tokens["IdToken"]}
        here = await first.identity_pool.call("GetId", {"IdentityPoolId": first.identity_pool_id, "Logins": logins})
        there = await second.identity_pool.call("GetId", {"IdentityPoolId": second.identity_pool_id,
                                                          "Logins": logins})
        assert here == there

        # A rotation made through the second process: the first accepts its tokens at once...
        old_kid = jwt.get_unverified_header(tokens["AccessToken"])["kid"]
        new = await rotate_signing_key(other_store)
        await second.keys.load()
        rotated = (await call(second, "InitiateAuth", ClientId=client, AuthFlow="USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": "ada@example.com", "PASSWORD": PASSWORD}))
        new_token = rotated["AuthenticationResult"]["AccessToken"]
        assert jwt.get_unverified_header(new_token)["kid"] == new.kid != old_kid
        await call(first, "GetUser", AccessToken=new_token)
        # ...and tokens of the retired key still work everywhere until they expire.
        await call(second, "GetUser", AccessToken=tokens["AccessToken"])
        jwks = await first.jwks()
        assert {k["kid"] for k in jwks["keys"]} == {old_kid, new.kid}

        # Signing out on one process revokes the session on both.
        await call(first, "GlobalSignOut", AccessToken=new_token)
        for host in (first, second):
            with pytest.raises(CognitoError, match="revoked"):
                await call(host, "GetUser", AccessToken=new_token)
