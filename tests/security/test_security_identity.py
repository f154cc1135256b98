"""Hostile tests for identity claims: no user can raise their own rights through attributes.

Every route that writes user attributes (SignUp, AdminCreateUser, UpdateUserAttributes,
AdminUpdateUserAttributes, `cove users add`) is driven with reserved and undeclared names, and the
tokens the pool issues afterwards are read back: groups come only from the group store, the owner
only from sub/cognito:username, claims read by rules only from what the server issued.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import orjson
import pytest
from authkit import PASSWORD, auth_info, iam_admin, idp, sign_in, sign_up_and_in
from botocore.exceptions import ClientError
from conftest import EXAMPLES, start_sandbox

from cove import define_auth
from cove.schema.loader import SchemaSource
from cove.schema.model import SchemaError
from cove.server.authorization import owner_values
from cove.server.identity import Identity

SCHEMA = EXAMPLES / "security_schema.py"
RESERVED = ["sub", "username", "cognito:username", "cognito:groups", "cognito:roles", "iss", "aud", "token_use",
            "identities", "exp", "auth_time", "custom:undeclared", "email_verified"]


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    b = start_sandbox(tmp_path_factory.mktemp("secid"), SCHEMA)
    yield b
    b.stop()


@pytest.fixture(scope="module")
def admin(box: Any) -> Any:
    return iam_admin(box)


def email() -> str:
    return f"u{uuid.uuid4().hex[:10]}@example.com"


def claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def refused(call: Any, **kw: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(**kw)
    assert info.value.response["Error"]["Code"] == "InvalidParameterException", info.value.response
    return str(info.value.response["Error"]["Message"])


def gql(box: Any, token: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    r = httpx.post(box.url, json={"query": query, "variables": variables or {}},
                   headers={"authorization": token}, timeout=30)
    assert r.status_code == 200, r.text
    return dict(r.json())


def client_id(box: Any) -> str:
    return str(auth_info(box)[0]["user_pool_client_id"])


def pool_id(box: Any) -> str:
    return str(auth_info(box)[0]["user_pool_id"])


# -- UpdateUserAttributes --------------------------------------------------------------------------

def test_user_cannot_add_themselves_to_a_group_by_attribute(box: Any) -> None:
    address = email()
    tokens = sign_up_and_in(box, address)
    for value in ("Admins", '["Admins"]'):
        refused(idp(box).update_user_attributes, AccessToken=tokens["AccessToken"],
                UserAttributes=[{"Name": "cognito:groups", "Value": value}])
    again = sign_in(box, address)
    for token in (again["IdToken"], again["AccessToken"]):
        assert "cognito:groups" not in claims(token)
    out = gql(box, again["IdToken"], 'mutation { createAdminThing(input: {text: "x"}) { id } }')
    assert out["data"]["createAdminThing"] is None
    assert out["errors"][0]["errorType"] == "Unauthorized"


@pytest.mark.parametrize("name", RESERVED)
def test_update_user_attributes_refuses_reserved_and_undeclared_names(box: Any, name: str) -> None:
    tokens = sign_up_and_in(box, email())
    refused(idp(box).update_user_attributes, AccessToken=tokens["AccessToken"],
            UserAttributes=[{"Name": "custom:color", "Value": "red"}, {"Name": name, "Value": "x"}])
    attributes = {a["Name"]: a["Value"] for a in idp(box).get_user(AccessToken=tokens["AccessToken"])["UserAttributes"]}
    assert "custom:color" not in attributes  # the whole request is refused: nothing half written
    assert name not in attributes or name in ("sub", "email_verified")


def test_update_user_attributes_writes_declared_and_standard_attributes(box: Any) -> None:
    address = email()
    tokens = sign_up_and_in(box, address)
    idp(box).update_user_attributes(AccessToken=tokens["AccessToken"], UserAttributes=[
        {"Name": "custom:color", "Value": "red"}, {"Name": "preferred_username", "Value": "reddy"}])
    ident = claims(sign_in(box, address)["IdToken"])
    assert ident["custom:color"] == "red" and ident["preferred_username"] == "reddy"


def test_user_cannot_set_an_immutable_custom_attribute(box: Any) -> None:
    tokens = sign_up_and_in(box, email())
    message = refused(idp(box).update_user_attributes, AccessToken=tokens["AccessToken"],
                      UserAttributes=[{"Name": "custom:tenant", "Value": "acme"}])
    assert "custom:tenant" in message
    refused(idp(box).sign_up, ClientId=client_id(box), Username=email(), Password=PASSWORD,
            UserAttributes=[{"Name": "custom:tenant", "Value": "acme"}])


def test_attribute_values_are_checked(box: Any) -> None:
    tokens = sign_up_and_in(box, email())
    refused(idp(box).update_user_attributes, AccessToken=tokens["AccessToken"],
            UserAttributes=[{"Name": "custom:color", "Value": "x" * 2049}])


# -- SignUp ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", RESERVED)
def test_sign_up_refuses_reserved_and_undeclared_names(box: Any, name: str) -> None:
    address = email()
    refused(idp(box).sign_up, ClientId=client_id(box), Username=address, Password=PASSWORD,
            UserAttributes=[{"Name": name, "Value": "x"}])
    idp(box).sign_up(ClientId=client_id(box), Username=address, Password=PASSWORD)  # nothing was created


def test_sign_up_cannot_take_another_users_username_and_their_records(box: Any) -> None:
    victim = sign_up_and_in(box, email())
    victim_username = claims(victim["AccessToken"])["username"]
    note = gql(box, victim["IdToken"], 'mutation { createNote(input: {body: "mine"}) { id } }')
    note_id = note["data"]["createNote"]["id"]
    for name in ("username", "cognito:username"):
        refused(idp(box).sign_up, ClientId=client_id(box), Username=email(), Password=PASSWORD,
                UserAttributes=[{"Name": name, "Value": victim_username}])
    thief = sign_up_and_in(box, email())
    out = gql(box, thief["IdToken"], "query ($id: ID!) { getNote(id: $id) { body } }", {"id": note_id})
    assert out["data"]["getNote"] is None


# -- admin routes ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["username", "cognito:groups", "sub", "custom:undeclared", "token_use"])
def test_admin_routes_refuse_reserved_names_too(box: Any, admin: Any, name: str) -> None:
    address = email()
    refused(admin.admin_create_user, UserPoolId=pool_id(box), Username=address,
            UserAttributes=[{"Name": name, "Value": "Admins"}])
    admin.admin_create_user(UserPoolId=pool_id(box), Username=address)
    refused(admin.admin_update_user_attributes, UserPoolId=pool_id(box), Username=address,
            UserAttributes=[{"Name": name, "Value": "Admins"}])


def test_admin_sets_an_immutable_claim_that_an_identity_claim_rule_trusts(box: Any, admin: Any) -> None:
    tenant_a, tenant_b = email(), email()
    for address, tenant in ((tenant_a, "acme"), (tenant_b, "globex")):
        admin.admin_create_user(UserPoolId=pool_id(box), Username=address, TemporaryPassword=PASSWORD,
                                UserAttributes=[{"Name": "custom:tenant", "Value": tenant}])
        admin.admin_set_user_password(UserPoolId=pool_id(box), Username=address, Password=PASSWORD, Permanent=True)
    a_token = sign_in(box, tenant_a)["IdToken"]
    assert claims(a_token)["custom:tenant"] == "acme"
    doc = gql(box, a_token, 'mutation { createTenantDoc(input: {text: "plan"}) { id owner } }')
    assert doc["data"]["createTenantDoc"]["owner"] == "acme"
    b_token = sign_in(box, tenant_b)["IdToken"]
    out = gql(box, b_token, "query ($id: ID!) { getTenantDoc(id: $id) { text } }",
              {"id": doc["data"]["createTenantDoc"]["id"]})
    assert out["data"]["getTenantDoc"] is None
    # admin-only changes: the user cannot move to another tenant
    access = sign_in(box, tenant_b)["AccessToken"]
    refused(idp(box).update_user_attributes, AccessToken=access,
            UserAttributes=[{"Name": "custom:tenant", "Value": "acme"}])
    admin.admin_update_user_attributes(UserPoolId=pool_id(box), Username=tenant_b,
                                       UserAttributes=[{"Name": "custom:tenant", "Value": "acme"}])
    assert claims(sign_in(box, tenant_b)["IdToken"])["custom:tenant"] == "acme"


def test_groups_in_tokens_come_from_the_group_store(box: Any, admin: Any) -> None:
    address = email()
    sign_up_and_in(box, address)
    admin.admin_add_user_to_group(UserPoolId=pool_id(box), Username=address, GroupName="Admins")
    tokens = sign_in(box, address)
    assert claims(tokens["IdToken"])["cognito:groups"] == ["Admins"]
    assert claims(tokens["AccessToken"])["cognito:groups"] == ["Admins"]


def test_reserved_names_stored_by_older_versions_never_become_claims(box: Any) -> None:
    """Attributes written before names were checked: tokens, owner and groups ignore them."""
    address, victim = email(), sign_up_and_in(box, email())
    sign_up_and_in(box, address)
    forged = {"cognito:groups": ["Admins"], "username": claims(victim["AccessToken"])["username"],
              "cognito:username": "someone", "token_use": "access", "iss": "https://evil.example"}
    with sqlite3.connect(box.data_dir / "data.sqlite") as db:
        (raw,) = db.execute("SELECT attributes FROM _cove_users WHERE email = ?", (address,)).fetchone()
        db.execute("UPDATE _cove_users SET attributes = ? WHERE email = ?",
                   (orjson.dumps({**orjson.loads(raw), **forged}).decode(), address))
    tokens = sign_in(box, address)
    ident, access = claims(tokens["IdToken"]), claims(tokens["AccessToken"])
    assert "cognito:groups" not in ident and "username" not in ident and ident["token_use"] == "id"
    assert ident["cognito:username"] == access["username"] == access["sub"]
    assert ident["iss"].startswith("http://127.0.0.1")
    out = gql(box, tokens["IdToken"], 'mutation { createAdminThing(input: {text: "x"}) { id } }')
    assert out["errors"][0]["errorType"] == "Unauthorized"


# -- the command line ------------------------------------------------------------------------------

def test_cli_users_add_checks_attribute_names(box: Any) -> None:
    base = [sys.executable, "-m", "cove", "users", "--data-dir", str(box.data_dir), "add", "--password", PASSWORD]
    bad = subprocess.run([*base, email(), "--attribute", "cognito:groups=Admins"], capture_output=True, text=True)
    assert bad.returncode == 1 and "cognito:groups" in bad.stderr
    address = email()
    good = subprocess.run([*base, address, "--attribute", "custom:tenant=initech"], capture_output=True, text=True)
    assert good.returncode == 0, good.stderr
    assert claims(sign_in(box, address)["IdToken"])["custom:tenant"] == "initech"


# -- declarations ----------------------------------------------------------------------------------

@pytest.mark.parametrize("declared", [
    {"cognito:groups": {}}, {"username": {}}, {"sub": {}}, {"custom:": {}}, {"custom:" + "x" * 21: {}},
    {"custom:a": {"data_type": "Blob"}}, {"custom:a": {"required": True}}, {"email_verified": {}},
    {"custom:a": {"bogus": 1}}, {"givenName": {"data_type": "Number"}},
])
def test_define_auth_refuses_bad_attribute_declarations(declared: dict[str, Any]) -> None:
    with pytest.raises(SchemaError, match="user_attributes"):
        define_auth(user_attributes=declared)


def test_define_auth_accepts_amplify_spellings() -> None:
    settings = define_auth(userAttributes={"preferredUsername": {"required": True},
                                           "custom:n": {"dataType": "Number", "mutable": False}}).settings
    assert [(a.name, a.data_type, a.mutable, a.required) for a in settings.user_attributes] == [
        ("preferred_username", "String", True, True), ("custom:n", "Number", False, False)]


def test_owner_of_a_user_pool_token_is_never_a_claim_the_user_could_set() -> None:
    """Even if an id token carried a "username" claim, the owner is its cognito:username."""
    rule = next(r for r in SchemaSource(str(SCHEMA)).load().schema.models["Note"].rules if r.strategy == "owner")
    forged = Identity("userPool", claims={"sub": "s-me", "cognito:username": "me", "username": "victim",
                                          "token_use": "id"})
    assert owner_values(rule, forged) == ("s-me::me", ["s-me::me", "s-me", "me"])
    access = Identity("userPool", claims={"sub": "s-me", "username": "me", "token_use": "access"})
    assert owner_values(rule, access)[0] == "s-me::me"


def test_sign_out_revokes_refresh_tokens_but_graphql_accepts_tokens_until_they_expire(box: Any) -> None:
    """What the README's Security section says: as in AppSync, GraphQL checks a token's signature and expiry only."""
    tokens = sign_up_and_in(box, email())
    idp(box).global_sign_out(AccessToken=tokens["AccessToken"])
    with pytest.raises(ClientError) as info:
        idp(box).get_user(AccessToken=tokens["AccessToken"])
    assert info.value.response["Error"]["Code"] == "NotAuthorizedException"
    with pytest.raises(ClientError):
        idp(box).initiate_auth(ClientId=client_id(box), AuthFlow="REFRESH_TOKEN_AUTH",
                               AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})
    out = gql(box, tokens["IdToken"], 'mutation { createNote(input: {body: "after sign-out"}) { id } }')
    assert out["data"]["createNote"]["id"]


def test_admin_update_of_a_login_attribute_keeps_logins_unique(box: Any, admin: Any) -> None:
    first, second, moved = email(), email(), email()
    for address in (first, second):
        sign_up_and_in(box, address)
    with pytest.raises(ClientError) as info:
        admin.admin_update_user_attributes(UserPoolId=pool_id(box), Username=second,
                                           UserAttributes=[{"Name": "email", "Value": first.upper()}])
    assert info.value.response["Error"]["Code"] == "AliasExistsException"
    admin.admin_update_user_attributes(UserPoolId=pool_id(box), Username=second,
                                       UserAttributes=[{"Name": "email", "Value": moved}])
    assert claims(sign_in(box, moved)["IdToken"])["email"] == moved


def test_an_immutable_standard_attribute_is_given_once_at_sign_up(box: Any) -> None:
    address = email()
    idp(box).sign_up(ClientId=client_id(box), Username=address, Password=PASSWORD,
                     UserAttributes=[{"Name": "nickname", "Value": "nick"}])
    tokens = sign_in(box, address)
    assert claims(tokens["IdToken"])["nickname"] == "nick"
    message = refused(idp(box).update_user_attributes, AccessToken=tokens["AccessToken"],
                      UserAttributes=[{"Name": "nickname", "Value": "other"}])
    assert message == "Cannot modify the non-mutable attribute nickname."


def test_a_required_standard_attribute_must_be_given_at_sign_up(tmp_path: Any) -> None:
    schema = tmp_path / "required_schema.py"
    schema.write_text(SCHEMA.read_text().replace('"preferredUsername": {"mutable": True}',
                                                 '"preferredUsername": {"required": True}'))
    b = start_sandbox(tmp_path, schema, "--no-watch")
    try:
        assert auth_info(b)[0]["standard_required_attributes"] == ["email", "preferred_username"]
        message = refused(idp(b).sign_up, ClientId=client_id(b), Username=email(), Password=PASSWORD)
        assert "preferred_username" in message
        idp(b).sign_up(ClientId=client_id(b), Username=email(), Password=PASSWORD,
                       UserAttributes=[{"Name": "preferred_username", "Value": "ada"}])
    finally:
        b.stop()
