"""The sandbox's user pool, driven by boto3's own `cognito-idp` client over real sockets."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from authkit import PASSWORD, auth_info, idp, sign_in, sign_up_and_in, wait_for_code
from botocore.exceptions import ClientError
from conftest import EXAMPLES, start_sandbox

from cove.wire import srp

SCHEMA = EXAMPLES / "auth_schema.py"


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    b = start_sandbox(tmp_path_factory.mktemp("userpool"), SCHEMA)
    yield b
    b.stop()


@pytest.fixture(scope="module")
def iam_keys(box: Any) -> tuple[str, str]:
    out = subprocess.run([sys.executable, "-m", "cove", "iam", "--data-dir", str(box.data_dir), "create"],
                         capture_output=True, text=True, check=True).stdout
    values = dict(line.split("=", 1) for line in out.split())
    return values["AWS_ACCESS_KEY_ID"], values["AWS_SECRET_ACCESS_KEY"]


def email() -> str:
    return f"u{uuid.uuid4().hex[:10]}@example.com"


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_outputs_auth_block(box: Any) -> None:
    auth, cove = auth_info(box)
    assert re.fullmatch(r"us-east-1_[A-Za-z0-9]{9}", auth["user_pool_id"])
    assert re.fullmatch(r"[a-z0-9]{26}", auth["user_pool_client_id"])
    assert re.fullmatch(r"us-east-1:[0-9a-f-]{36}", auth["identity_pool_id"])
    assert auth["groups"] == [{"Admins": {"precedence": 0}}, {"Editors": {"precedence": 1}}]
    assert auth["password_policy"] == {"min_length": 8, "require_lowercase": True, "require_numbers": True,
                                       "require_symbols": True, "require_uppercase": True}
    assert auth["unauthenticated_identities_enabled"] is True
    assert auth["username_attributes"] == ["email"]
    assert box.outputs["data"]["default_authorization_type"] == "AMAZON_COGNITO_USER_POOLS"
    assert cove["user_pool_issuer"] == f"http://127.0.0.1:{box.port}/cognito-idp/{auth['user_pool_id']}"


def test_sign_up_sign_in_and_cognito_claims(box: Any) -> None:
    auth, cove = auth_info(box)
    address = email()
    client = idp(box)
    r = client.sign_up(ClientId=auth["user_pool_client_id"], Username=address, Password=PASSWORD)
    assert r["UserConfirmed"] is True
    tokens = sign_in(box, address)
    assert tokens["TokenType"] == "Bearer" and tokens["ExpiresIn"] == 3600
    access = jwt.decode(tokens["AccessToken"], options={"verify_signature": False})
    ident = jwt.decode(tokens["IdToken"], options={"verify_signature": False})
    for claim in ("sub", "username", "client_id", "token_use", "scope", "auth_time", "iss", "exp", "iat", "jti",
                  "origin_jti", "event_id"):
        assert claim in access, claim
    assert access["token_use"] == "access" and access["client_id"] == auth["user_pool_client_id"]
    assert access["scope"] == "aws.cognito.signin.user.admin"
    assert access["username"] == access["sub"] == r["UserSub"]  # Gen 2 email pools: username is the sub
    assert access["iss"] == cove["user_pool_issuer"]
    assert ident["token_use"] == "id" and ident["aud"] == auth["user_pool_client_id"]
    assert ident["email"] == address and ident["email_verified"] is True
    assert ident["cognito:username"] == access["username"]
    assert "cognito:groups" not in access
    user = client.get_user(AccessToken=tokens["AccessToken"])
    attrs = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert user["Username"] == access["username"] and attrs["email"] == address and attrs["sub"] == access["sub"]


def test_tokens_verify_with_an_independent_library_through_discovery(box: Any) -> None:
    auth, cove = auth_info(box)
    tokens = sign_up_and_in(box, email())
    discovery = httpx.get(cove["user_pool_issuer"] + "/.well-known/openid-configuration").json()
    assert discovery["issuer"] == cove["user_pool_issuer"]
    assert discovery["id_token_signing_alg_values_supported"] == ["RS256"]
    key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(tokens["IdToken"])
    claims = jwt.decode(tokens["IdToken"], key.key, algorithms=["RS256"], audience=auth["user_pool_client_id"],
                        issuer=discovery["issuer"])
    assert claims["token_use"] == "id"
    jwks = httpx.get(cove["jwks_uri"]).json()
    assert all(k["kty"] == "RSA" and k["alg"] == "RS256" and "d" not in k for k in jwks["keys"])


def test_refresh_and_revocation(box: Any) -> None:
    auth, _ = auth_info(box)
    client = idp(box)
    tokens = sign_up_and_in(box, email())
    refreshed = client.initiate_auth(ClientId=auth["user_pool_client_id"], AuthFlow="REFRESH_TOKEN_AUTH",
                                     AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})["AuthenticationResult"]
    assert "RefreshToken" not in refreshed and refreshed["AccessToken"] != tokens["AccessToken"]
    old = jwt.decode(tokens["AccessToken"], options={"verify_signature": False})
    new = jwt.decode(refreshed["AccessToken"], options={"verify_signature": False})
    assert new["origin_jti"] == old["origin_jti"] and new["auth_time"] == old["auth_time"]
    newer = client.get_tokens_from_refresh_token(ClientId=auth["user_pool_client_id"],  # aws-amplify 6.22 uses it
                                                 RefreshToken=tokens["RefreshToken"])["AuthenticationResult"]
    assert jwt.decode(newer["IdToken"], options={"verify_signature": False})["token_use"] == "id"
    client.revoke_token(ClientId=auth["user_pool_client_id"], Token=tokens["RefreshToken"])
    with pytest.raises(ClientError) as exc:
        client.initiate_auth(ClientId=auth["user_pool_client_id"], AuthFlow="REFRESH_TOKEN_AUTH",
                             AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})
    assert error_code(exc) == "NotAuthorizedException"
    with pytest.raises(ClientError) as exc:
        client.get_tokens_from_refresh_token(ClientId=auth["user_pool_client_id"], RefreshToken=tokens["RefreshToken"])
    assert error_code(exc) == "NotAuthorizedException"


def test_global_sign_out_revokes_refresh_tokens_and_the_session(box: Any) -> None:
    auth, _ = auth_info(box)
    client = idp(box)
    address = email()
    first = sign_up_and_in(box, address)
    second = sign_in(box, address)
    client.global_sign_out(AccessToken=second["AccessToken"])
    for tokens in (first, second):
        with pytest.raises(ClientError) as exc:
            client.initiate_auth(ClientId=auth["user_pool_client_id"], AuthFlow="REFRESH_TOKEN_AUTH",
                                 AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})
        assert error_code(exc) == "NotAuthorizedException"
    with pytest.raises(ClientError) as exc:
        client.get_user(AccessToken=first["AccessToken"])
    assert "revoked" in str(exc.value)
    assert sign_in(box, address)["AccessToken"]  # signing in again works


def test_sign_up_and_sign_in_errors(box: Any) -> None:
    auth, _ = auth_info(box)
    client = idp(box)
    address = email()
    for password, message in (("Sh0rt!", "not long enough"), ("alllowercase1!", "uppercase"),
                              ("NoDigitsHere!", "numeric"), ("NoSymbols123", "symbol")):
        with pytest.raises(ClientError) as exc:
            client.sign_up(ClientId=auth["user_pool_client_id"], Username=address, Password=password)
        assert error_code(exc) == "InvalidPasswordException" and message in str(exc.value)
    client.sign_up(ClientId=auth["user_pool_client_id"], Username=address, Password=PASSWORD)
    with pytest.raises(ClientError) as exc:
        client.sign_up(ClientId=auth["user_pool_client_id"], Username=address.upper(), Password=PASSWORD)
    assert error_code(exc) == "UsernameExistsException"
    with pytest.raises(ClientError) as exc:
        client.sign_up(ClientId=auth["user_pool_client_id"], Username="not-an-email", Password=PASSWORD)
    assert error_code(exc) == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        client.sign_up(ClientId="wrongclientid", Username=email(), Password=PASSWORD)
    assert error_code(exc) == "ResourceNotFoundException"
    for user, password in ((address, "Wrong-passw0rd"), (email(), PASSWORD)):
        with pytest.raises(ClientError) as exc:
            sign_in(box, user, password)
        assert error_code(exc) == "NotAuthorizedException"
    with pytest.raises(ClientError) as exc:
        client.initiate_auth(ClientId=auth["user_pool_client_id"], AuthFlow="CUSTOM_AUTH", AuthParameters={})
    assert error_code(exc) == "InvalidParameterException"


def _srp_sign_in(box: Any, address: str, password: str) -> dict[str, Any]:
    auth, _ = auth_info(box)
    client = idp(box)
    a, A = srp.client_ephemeral()
    challenge = client.initiate_auth(ClientId=auth["user_pool_client_id"], AuthFlow="USER_SRP_AUTH",
                                     AuthParameters={"USERNAME": address, "SRP_A": format(A, "x")})
    assert challenge["ChallengeName"] == "PASSWORD_VERIFIER"
    p = challenge["ChallengeParameters"]
    pool = srp.pool_name(auth["user_pool_id"])
    key = srp.client_session_key(a, A, int(p["SRP_B"], 16), p["SALT"], pool, p["USER_ID_FOR_SRP"], password)
    stamp = srp.now_string()
    r = client.respond_to_auth_challenge(
        ClientId=auth["user_pool_client_id"], ChallengeName="PASSWORD_VERIFIER",
        ChallengeResponses={"USERNAME": p["USER_ID_FOR_SRP"], "PASSWORD_CLAIM_SECRET_BLOCK": p["SECRET_BLOCK"],
                            "TIMESTAMP": stamp,
                            "PASSWORD_CLAIM_SIGNATURE": srp.signature(key, pool, p["USER_ID_FOR_SRP"],
                                                                      p["SECRET_BLOCK"], stamp)})
    return dict(r["AuthenticationResult"])


def test_user_srp_auth(box: Any) -> None:
    address = email()
    sign_up_and_in(box, address)
    tokens = _srp_sign_in(box, address, PASSWORD)
    assert jwt.decode(tokens["IdToken"], options={"verify_signature": False})["email"] == address
    with pytest.raises(ClientError) as exc:
        _srp_sign_in(box, address, "Wrong-passw0rd")
    assert error_code(exc) == "NotAuthorizedException"


def test_srp_rejects_a_forged_secret_block_and_illegal_a(box: Any) -> None:
    auth, _ = auth_info(box)
    client = idp(box)
    address = email()
    sign_up_and_in(box, address)
    with pytest.raises(ClientError) as exc:
        client.initiate_auth(ClientId=auth["user_pool_client_id"], AuthFlow="USER_SRP_AUTH",
                             AuthParameters={"USERNAME": address, "SRP_A": format(srp.N * 3, "x")})
    assert error_code(exc) == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        client.respond_to_auth_challenge(
            ClientId=auth["user_pool_client_id"], ChallengeName="PASSWORD_VERIFIER",
            ChallengeResponses={"USERNAME": address, "PASSWORD_CLAIM_SECRET_BLOCK": "AAAA" * 20,
                                "TIMESTAMP": srp.now_string(), "PASSWORD_CLAIM_SIGNATURE": "AAAA"})
    assert error_code(exc) == "NotAuthorizedException"


def test_forgot_password(box: Any) -> None:
    auth, _ = auth_info(box)
    client = idp(box)
    address = email()
    sign_up_and_in(box, address)
    r = client.forgot_password(ClientId=auth["user_pool_client_id"], Username=address)
    assert r["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    code = wait_for_code(box, "Password reset code", address)
    with pytest.raises(ClientError) as exc:
        client.confirm_forgot_password(ClientId=auth["user_pool_client_id"], Username=address,
                                       ConfirmationCode="000000" if code != "000000" else "111111",
                                       Password="N3w-password")
    assert error_code(exc) == "CodeMismatchException"
    client.confirm_forgot_password(ClientId=auth["user_pool_client_id"], Username=address, ConfirmationCode=code,
                                   Password="N3w-password")
    assert sign_in(box, address, "N3w-password")["AccessToken"]
    with pytest.raises(ClientError):
        sign_in(box, address, PASSWORD)


def test_print_codes_flag_requires_confirmation(sandbox_factory: Any) -> None:
    b = sandbox_factory(SCHEMA, "--print-codes", "--no-watch")
    auth, _ = auth_info(b)
    client = idp(b)
    address = email()
    r = client.sign_up(ClientId=auth["user_pool_client_id"], Username=address, Password=PASSWORD)
    assert r["UserConfirmed"] is False and r["CodeDeliveryDetails"]["AttributeName"] == "email"
    with pytest.raises(ClientError) as exc:
        sign_in(b, address)
    assert error_code(exc) == "UserNotConfirmedException"
    wait_for_code(b, "Confirmation code", address)
    client.resend_confirmation_code(ClientId=auth["user_pool_client_id"], Username=address)
    deadline = time.monotonic() + 10
    while sum(f"Confirmation code for {address}" in line for line in b.lines) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    code = wait_for_code(b, "Confirmation code", address)  # the latest: a resent code replaces the first
    with pytest.raises(ClientError) as exc:
        client.confirm_sign_up(ClientId=auth["user_pool_client_id"], Username=address, ConfirmationCode="12345x")
    assert error_code(exc) == "CodeMismatchException"
    client.confirm_sign_up(ClientId=auth["user_pool_client_id"], Username=address, ConfirmationCode=code)
    assert sign_in(b, address)["AccessToken"]


def test_admin_calls_need_the_servers_iam_credentials(box: Any, iam_keys: tuple[str, str]) -> None:
    auth, _ = auth_info(box)
    with pytest.raises(ClientError):
        idp(box).admin_get_user(UserPoolId=auth["user_pool_id"], Username="x@example.com")
    with pytest.raises(ClientError) as exc:
        idp(box, ("AKIAWRONGWRONGWRONG0", "nope")).list_users(UserPoolId=auth["user_pool_id"])
    assert error_code(exc) == "UnrecognizedClientException"
    admin = idp(box, iam_keys)
    address = email()
    created = admin.admin_create_user(UserPoolId=auth["user_pool_id"], Username=address,
                                      TemporaryPassword="Temp-passw0rd", MessageAction="SUPPRESS")
    assert created["User"]["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    admin.admin_add_user_to_group(UserPoolId=auth["user_pool_id"], Username=address, GroupName="Admins")
    got = admin.admin_get_user(UserPoolId=auth["user_pool_id"], Username=address)
    assert {a["Name"]: a["Value"] for a in got["UserAttributes"]}["email"] == address
    groups = admin.admin_list_groups_for_user(UserPoolId=auth["user_pool_id"], Username=address)["Groups"]
    assert [g["GroupName"] for g in groups] == ["Admins"]
    # First sign-in: a new password is required.
    client = idp(box)
    challenge = client.initiate_auth(ClientId=auth["user_pool_client_id"], AuthFlow="USER_PASSWORD_AUTH",
                                     AuthParameters={"USERNAME": address, "PASSWORD": "Temp-passw0rd"})
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    done = client.respond_to_auth_challenge(ClientId=auth["user_pool_client_id"], ChallengeName="NEW_PASSWORD_REQUIRED",
                                            Session=challenge["Session"],
                                            ChallengeResponses={"USERNAME": address, "NEW_PASSWORD": PASSWORD})
    access = jwt.decode(done["AuthenticationResult"]["AccessToken"], options={"verify_signature": False})
    assert access["cognito:groups"] == ["Admins"]
    listed = admin.list_users(UserPoolId=auth["user_pool_id"], Filter=f'email = "{address}"')["Users"]
    assert [u["Username"] for u in listed] == [access["username"]]
    with pytest.raises(ClientError) as exc:
        admin.admin_add_user_to_group(UserPoolId=auth["user_pool_id"], Username=address, GroupName="Nope")
    assert error_code(exc) == "ResourceNotFoundException"
    admin.admin_delete_user(UserPoolId=auth["user_pool_id"], Username=address)
    with pytest.raises(ClientError) as exc:
        admin.admin_get_user(UserPoolId=auth["user_pool_id"], Username=address)
    assert error_code(exc) == "UserNotFoundException"


def test_cove_users_command(box: Any) -> None:
    def cove(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cove", "users", "--data-dir", str(box.data_dir), *args],
                              capture_output=True, text=True)

    address = email()
    added = cove("add", address, "--password", PASSWORD, "--group", "Editors")
    assert added.returncode == 0, added.stderr
    access = jwt.decode(sign_in(box, address)["AccessToken"], options={"verify_signature": False})
    assert access["cognito:groups"] == ["Editors"]
    assert cove("add-to-group", address, "Admins").returncode == 0
    access = jwt.decode(sign_in(box, address)["AccessToken"], options={"verify_signature": False})
    assert access["cognito:groups"] == ["Admins", "Editors"]  # by precedence
    listing = cove("list")
    assert address in listing.stdout and "CONFIRMED" in listing.stdout
    bad = cove("add", email(), "--password", "short")
    assert bad.returncode == 1 and "not long enough" in bad.stderr
    assert cove("add-to-group", address, "Nope").returncode == 1
    assert cove("delete", address).returncode == 0
    with pytest.raises(ClientError):
        sign_in(box, address)


@pytest.mark.parametrize("body, headers, status, error", [
    (b"{not json", {"x-amz-target": "AWSCognitoIdentityProviderService.SignUp"}, 400, "SerializationException"),
    (b"[]", {"x-amz-target": "AWSCognitoIdentityProviderService.SignUp"}, 400, "SerializationException"),
    (b"{}", {"x-amz-target": "AWSCognitoIdentityProviderService.DeleteUserPool"}, 400, "UnknownOperationException"),
    (b"{}", {"x-amz-target": "Nope.Nothing"}, 400, "UnknownOperationException"),
    (b"{}", {"x-amz-target": "AWSCognitoIdentityProviderService.SignUp"}, 400, "InvalidParameterException"),
    (b'{"ClientId": 5, "Username": [], "Password": {}}', {"x-amz-target": "AWSCognitoIdentityProviderService.SignUp"},
     400, "InvalidParameterException"),
    (b'{"AccessToken": "x.y.z"}', {"x-amz-target": "AWSCognitoIdentityProviderService.GetUser"}, 400,
     "NotAuthorizedException"),
    (b"{" + b'"a":' * 1 + b'"' + b"x" * 300_000 + b'"}', {"x-amz-target": "AWSCognitoIdentityProviderService.SignUp"},
     413, None),
])
def test_hostile_requests_to_the_user_pool(box: Any, body: bytes, headers: dict[str, str], status: int,
                                           error: str | None) -> None:
    _, cove = auth_info(box)
    r = httpx.post(cove["user_pool_endpoint"], content=body,
                   headers={"content-type": "application/x-amz-json-1.1", **headers}, timeout=30)
    assert r.status_code == status, r.text
    if error:
        assert r.json()["__type"] == error and r.headers["x-amzn-errortype"].startswith(error)
    assert httpx.get(f"http://127.0.0.1:{box.port}/").status_code == 200  # still serving


def test_keys_persist_across_restarts(tmp_path: Path) -> None:
    first = start_sandbox(tmp_path, SCHEMA, "--no-watch")
    try:
        tokens = sign_up_and_in(first, email())
        auth_before = first.outputs["auth"]
        port = first.port
    finally:
        first.stop()
    second = start_sandbox(tmp_path, SCHEMA, "--no-watch", port=port)
    try:
        assert second.outputs["auth"] == auth_before  # same pool ids
        r = second.post("query { listNotes { items { id } } }", headers={"x-api-key": None,
                                                                        "authorization": tokens["AccessToken"]})
        assert r.status_code == 200, r.text
    finally:
        second.stop()
