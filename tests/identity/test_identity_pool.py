"""The identity pool (boto3's `cognito-identity` client) and SigV4 on /graphql with its credentials."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from authkit import (
    auth_info,
    botocore_signed_post,
    gql_body,
    guest_credentials,
    identity,
    sign_up_and_in,
    user_credentials,
)
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from conftest import EXAMPLES, start_sandbox

SCHEMA = EXAMPLES / "auth_schema.py"
CREATE_POSTER = gql_body('mutation { createPoster(input: {title: "hello"}) { id title } }')
CREATE_SECRET = gql_body('mutation { createSecret(input: {text: "s"}) { id text } }')
CREATE_NOTE = gql_body('mutation { createNote(input: {body: "n"}) { id body } }')


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    b = start_sandbox(tmp_path_factory.mktemp("idpool"), SCHEMA)
    yield b
    b.stop()


def email() -> str:
    return f"i{uuid.uuid4().hex[:10]}@example.com"


def errors_of(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return list(response.json().get("errors") or [])


def test_guest_credentials_sign_requests_botocore_signs(box: Any) -> None:
    creds = guest_credentials(box)
    assert creds.access_key.startswith("ASIA") and creds.token
    r = botocore_signed_post(box.url, CREATE_POSTER, creds)
    assert r.status_code == 200 and r.json()["data"]["createPoster"]["title"] == "hello", r.text
    # a guest is not an authenticated identity
    errors = errors_of(botocore_signed_post(box.url, CREATE_SECRET, creds))
    assert errors and errors[0]["errorType"] == "Unauthorized"
    # nor a user-pool user
    assert errors_of(botocore_signed_post(box.url, CREATE_NOTE, creds))[0]["errorType"] == "Unauthorized"


def test_signed_in_credentials_are_authenticated(box: Any) -> None:
    tokens = sign_up_and_in(box, email())
    identity_id, creds = user_credentials(box, tokens["IdToken"])
    r = botocore_signed_post(box.url, CREATE_SECRET, creds)
    assert r.json()["data"]["createSecret"]["text"] == "s", r.text
    # the same login gets the same identity again
    again, _ = user_credentials(box, tokens["IdToken"])
    assert again == identity_id


def test_a_guest_who_signs_in_keeps_the_identity(box: Any) -> None:
    auth, cove = auth_info(box)
    client = identity(box)
    guest_id = client.get_id(IdentityPoolId=auth["identity_pool_id"])["IdentityId"]
    tokens = sign_up_and_in(box, email())
    logins = {cove["user_pool_issuer"].split("://", 1)[1]: tokens["IdToken"]}
    r = client.get_credentials_for_identity(IdentityId=guest_id, Logins=logins)
    assert r["IdentityId"] == guest_id
    creds = r["Credentials"]
    signed = botocore_signed_post(box.url, CREATE_SECRET, Credentials(creds["AccessKeyId"], creds["SecretKey"],
                                                                      creds["SessionToken"]))
    assert signed.json()["data"]["createSecret"], signed.text
    # now linked: credentials without the login are refused
    with pytest.raises(ClientError) as exc:
        client.get_credentials_for_identity(IdentityId=guest_id)
    assert exc.value.response["Error"]["Code"] == "NotAuthorizedException"


def test_identity_pool_errors(box: Any) -> None:
    auth, cove = auth_info(box)
    client = identity(box)
    provider = cove["user_pool_issuer"].split("://", 1)[1]
    tokens = sign_up_and_in(box, email())
    cases = [
        (lambda: client.get_id(IdentityPoolId="us-east-1:00000000-0000-0000-0000-000000000000"),
         "ResourceNotFoundException"),
        (lambda: client.get_id(IdentityPoolId=auth["identity_pool_id"], Logins={provider: "not.a.jwt"}),
         "NotAuthorizedException"),
        (lambda: client.get_id(IdentityPoolId=auth["identity_pool_id"], Logins={provider: tokens["AccessToken"]}),
         "NotAuthorizedException"),  # Logins take the id token
        (lambda: client.get_id(IdentityPoolId=auth["identity_pool_id"], Logins={"accounts.google.com": "x"}),
         "NotAuthorizedException"),
        (lambda: client.get_credentials_for_identity(IdentityId="us-east-1:nope"), "ResourceNotFoundException"),
    ]
    for call, code in cases:
        with pytest.raises(ClientError) as exc:
            call()
        assert exc.value.response["Error"]["Code"] == code


def test_guests_refused_when_the_pool_allows_none(sandbox_factory: Any) -> None:
    b = sandbox_factory(EXAMPLES / "auth_noguest_schema.py", "--no-watch")
    auth, _ = auth_info(b)
    assert auth["unauthenticated_identities_enabled"] is False
    with pytest.raises(ClientError) as exc:
        identity(b).get_id(IdentityPoolId=auth["identity_pool_id"])
    assert exc.value.response["Error"]["Code"] == "NotAuthorizedException"
    assert "Unauthenticated access is not supported" in str(exc.value)


def test_static_iam_credentials_are_trusted_back_end_code(box: Any) -> None:
    out = subprocess.run([sys.executable, "-m", "cove", "iam", "--data-dir", str(box.data_dir), "create"],
                         capture_output=True, text=True, check=True).stdout
    values = dict(line.split("=", 1) for line in out.split())
    creds = Credentials(values["AWS_ACCESS_KEY_ID"], values["AWS_SECRET_ACCESS_KEY"])
    for body in (CREATE_SECRET, CREATE_NOTE, CREATE_POSTER):  # generic IAM access: everything
        r = botocore_signed_post(box.url, body, creds)
        assert r.status_code == 200 and not r.json().get("errors"), r.text
    revoked = subprocess.run([sys.executable, "-m", "cove", "iam", "--data-dir", str(box.data_dir), "revoke",
                              values["AWS_ACCESS_KEY_ID"]], capture_output=True, text=True)
    assert revoked.returncode == 0
    listing = subprocess.run([sys.executable, "-m", "cove", "iam", "--data-dir", str(box.data_dir), "list"],
                             capture_output=True, text=True).stdout
    assert f"{values['AWS_ACCESS_KEY_ID']}\trevoked" in listing
