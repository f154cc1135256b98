"""define_auth(): validation, how the schema loader attaches it, and the outputs `auth` block."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from cove import a, define_auth, define_data
from cove.identity.services import IdentityServices
from cove.store.sqlite.identity import SQLiteIdentityStore
from cove.outputs import build_outputs
from cove.schema.loader import SchemaSource
from cove.schema.model import SchemaError


def test_defaults_and_camel_case() -> None:
    s = define_auth().settings
    assert s.login_with == ("email",) and s.groups == () and s.allow_guest_access is False
    assert (s.password_policy.min_length, s.password_policy.require_symbols) == (8, True)
    c = define_auth(loginWith={"phone": True}, allowGuestAccess=True, passwordPolicy={"minLength": 10}).settings
    assert c.login_with == ("phone_number",) and c.allow_guest_access and c.password_policy.min_length == 10
    assert (s.self_sign_up, s.require_confirmation, s.on_send_code) == (True, None, None)
    hook = print
    p = define_auth(selfSignUp=False, requireConfirmation=True, onSendCode=hook).settings
    assert (p.self_sign_up, p.require_confirmation, p.on_send_code) == (False, True, hook)


@pytest.mark.parametrize("kwargs, message", [
    ({"login_with": {"username": True}}, "unknown login"),
    ({"login_with": {"email": False}}, "at least one"),
    ({"login_with": "email"}, "takes a dict"),
    ({"groups": ["A", "A"]}, "repeat"),
    ({"groups": [""]}, "not a valid group"),
    ({"password_policy": {"min_length": 3}}, "6..99"),
    ({"password_policy": {"require_symbols": "yes"}}, "True or False"),
    ({"password_policy": {"nope": 1}}, "unknown key"),
    ({"access_token_validity": 0}, "positive"),
    ({"mfa": "on"}, "unknown option"),
    ({"self_sign_up": "no"}, r"self_sign_up=\.\.\.\) must be True or False"),
    ({"selfSignUp": 0}, r"self_sign_up=\.\.\.\) must be True or False"),
    ({"require_confirmation": "always"}, "must be True, False or None"),
    ({"on_send_code": "mailer:send"}, "takes a function that receives a CodeEvent"),
])
def test_invalid_definitions(kwargs: dict, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        define_auth(**kwargs)


def write(tmp: Path, body: str) -> Path:
    path = tmp / "schema.py"
    path.write_text("from cove import a, define_auth, define_data\n"
                    "schema = a.schema({'N': a.model({'b': a.string()})}).authorization("
                    "lambda allow: [allow.authenticated(), allow.public_api_key()])\n" + body)
    return path


def test_loader_attaches_auth_and_makes_user_pool_the_default(tmp_path: Path) -> None:
    schema = SchemaSource(str(write(tmp_path, "auth = define_auth()\ndata = define_data(schema=schema)\n"))).load().schema
    assert schema.auth is not None
    assert schema.authorization_modes.default == "userPool" and "userPool" in schema.authorization_modes.enabled()
    explicit = tmp_path / "x"
    explicit.mkdir()
    kept = SchemaSource(str(write(explicit, "auth = define_auth()\ndata = define_data(schema=schema, "
                                  "authorization_modes={'default_authorization_mode': 'api_key'})\n"))).load().schema
    assert kept.authorization_modes.default == "apiKey" and "userPool" in kept.authorization_modes.enabled()
    none = tmp_path / "y"
    none.mkdir()
    plain = SchemaSource(str(write(none, "data = define_data(schema=schema)\n"))).load().schema
    assert plain.auth is None and "userPool" not in plain.authorization_modes.enabled()


def test_outputs_auth_block(tmp_path: Path) -> None:
    schema = define_data(schema=a.schema({"N": a.model({"b": a.string()})}).authorization(
        lambda allow: [allow.authenticated()])).schema
    from cove.schema.define import attach_auth, DataDefinition  # noqa: I001

    attach_auth(DataDefinition(schema, None), define_auth(groups=["Admins", "Staff"], allow_guest_access=True))  # type: ignore[arg-type]
    ids = asyncio.run(IdentityServices.open(SQLiteIdentityStore(tmp_path / "d.sqlite"), schema,
                                            region="eu-west-1", base_url="https://api.example.com"))
    auth = ids.outputs_auth()
    assert auth is not None
    outputs = build_outputs(schema, url="https://api.example.com/graphql", api_key=None, region="eu-west-1",
                            auth=auth, custom={"cove": ids.outputs_custom()})
    assert list(outputs) == ["$schema", "version", "auth", "data", "custom"]
    assert outputs["data"]["default_authorization_type"] == "AMAZON_COGNITO_USER_POOLS"
    assert auth["user_pool_id"].startswith("eu-west-1_") and auth["identity_pool_id"].startswith("eu-west-1:")
    assert auth["groups"] == [{"Admins": {"precedence": 0}}, {"Staff": {"precedence": 1}}]
    for key in ("aws_region", "user_pool_client_id", "unauthenticated_identities_enabled", "password_policy",
                "username_attributes", "standard_required_attributes", "user_verification_types",
                "mfa_configuration", "mfa_methods"):
        assert key in auth, key
    assert outputs["custom"]["cove"]["user_pool_issuer"] == f"https://api.example.com/cognito-idp/{auth['user_pool_id']}"
    # the same data directory keeps its ids
    again = asyncio.run(IdentityServices.open(SQLiteIdentityStore(tmp_path / "d.sqlite"), schema,
                                              region="eu-west-1", base_url="https://api.example.com"))
    assert again.outputs_auth() == auth


def test_bad_oidc_and_lambda_configuration_fail_clearly(tmp_path: Path) -> None:
    for modes, message in (({"oidc_authorization_mode": {"client_id": "x"}}, "oidc_issuer_url"),
                           ({"oidc_authorization_mode": {"oidc_issuer_url": "https://x", "nope": 1}}, "unknown key"),
                           ({"lambda_authorization_mode": {"function": "no_such_module_x:fn"}}, "lambda")):
        schema = define_data(schema=a.schema({"N": a.model({"b": a.string()})}).authorization(
            lambda allow: [allow.custom(), allow.public_api_key()]),
            authorization_modes={"default_authorization_mode": "api_key", **modes}).schema
        with pytest.raises(SchemaError, match=message):
            asyncio.run(IdentityServices.open(SQLiteIdentityStore(tmp_path / "e.sqlite"), schema,
                                              region="us-east-1", base_url="http://x"))


def test_sandbox_reload_adds_and_refuses_auth(sandbox_factory: object, tmp_path: Path) -> None:
    import time

    import httpx

    folder = tmp_path / "live"
    folder.mkdir()
    path = write(folder, "data = define_data(schema=schema)\n")
    box = sandbox_factory(path)  # type: ignore[operator]
    assert "auth" not in box.outputs
    time.sleep(0.5)  # let the watcher take its first snapshot
    path.write_text(path.read_text() + "auth = define_auth(groups=['Admins'])\n")
    deadline = time.monotonic() + 15
    while "auth" not in box.outputs and time.monotonic() < deadline:
        time.sleep(0.05)
    assert box.outputs["auth"]["groups"] == [{"Admins": {"precedence": 0}}]
    # the reload stored the new group at once: the command line finds it before any Cognito call
    added = subprocess.run([sys.executable, "-m", "cove", "users", "add", "g@example.com", "--password", "Passw0rd!",
                            "--group", "Admins", "--data-dir", str(box.data_dir)], capture_output=True, text=True)
    assert added.returncode == 0 and "groups: Admins" in added.stdout, added.stderr
    endpoint = box.outputs["custom"]["cove"]["user_pool_endpoint"]
    r = httpx.post(endpoint, headers={"x-amz-target": "AWSCognitoIdentityProviderService.SignUp",
                                      "content-type": "application/x-amz-json-1.1"},
                   json={"ClientId": box.outputs["auth"]["user_pool_client_id"], "Username": "r@example.com",
                         "Password": "Passw0rd!"})
    assert r.status_code == 200 and r.json()["UserConfirmed"] is True, r.text
    # an unusable Lambda authorizer is refused and the previous schema keeps serving
    path.write_text(path.read_text().replace(
        "data = define_data(schema=schema)",
        "data = define_data(schema=schema, authorization_modes={'default_authorization_mode': 'user_pool', "
        "'lambda_authorization_mode': {'function': 'no_such_module_here:fn'}})"))
    deadline = time.monotonic() + 15
    while not any("not reloaded" in line for line in box.lines) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any("lambda_authorization_mode" in line for line in box.lines), "".join(box.lines[-10:])
    assert httpx.post(endpoint, headers={"x-amz-target": "AWSCognitoIdentityProviderService.InitiateAuth",
                                         "content-type": "application/x-amz-json-1.1"},
                      json={"ClientId": box.outputs["auth"]["user_pool_client_id"], "AuthFlow": "USER_PASSWORD_AUTH",
                            "AuthParameters": {"USERNAME": "r@example.com", "PASSWORD": "Passw0rd!"}}).status_code == 200
