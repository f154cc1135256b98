"""Hostile credentials against a running sandbox: each is refused with HTTP 401
(`UnauthorizedException`), and the server keeps serving."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import jwt
import pytest
from authkit import (
    REGION,
    auth_info,
    botocore_signed_post,
    gql_body,
    guest_credentials,
    sign_up_and_in,
)
from botocore.credentials import Credentials
from conftest import EXAMPLES, start_sandbox
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from cove.wire import sigv4

LIST = "query { listNotes { items { id } } }"
BODY = gql_body(LIST)


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    b = start_sandbox(tmp_path_factory.mktemp("hostile"), EXAMPLES / "auth_schema.py", "--no-watch")
    yield b
    b.stop()


@pytest.fixture(scope="module")
def tokens(box: Any) -> dict[str, Any]:
    return sign_up_and_in(box, f"h{uuid.uuid4().hex[:8]}@example.com")


@pytest.fixture(scope="module")
def server_key(box: Any) -> tuple[str, Any]:
    """The sandbox's own signing key (from its database), to forge otherwise-valid tokens."""
    import sqlite3

    with sqlite3.connect(Path(box.data_dir) / "data.sqlite") as db:
        kid, pem = db.execute("SELECT kid, pem FROM _cove_signing_keys WHERE retired_at IS NULL "
                              "ORDER BY created_at DESC LIMIT 1").fetchone()
    return kid, serialization.load_pem_private_key(pem.encode(), password=None)


def post_token(box: Any, token: str) -> httpx.Response:
    return box.post(LIST, headers={"x-api-key": None, "authorization": token})


def assert_401(box: Any, response: httpx.Response, fragment: str = "") -> None:
    assert response.status_code == 401, response.text
    assert response.headers["x-amzn-errortype"] == "UnauthorizedException"
    assert response.json()["errors"][0]["errorType"] == "UnauthorizedException"
    assert fragment in response.json()["errors"][0]["message"], response.text
    assert httpx.get(f"http://127.0.0.1:{box.port}/").status_code == 200


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def claims_of(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def test_the_genuine_token_works(box: Any, tokens: dict[str, Any]) -> None:
    assert post_token(box, tokens["AccessToken"]).status_code == 200
    assert post_token(box, tokens["IdToken"]).status_code == 200


def test_alg_none(box: Any, tokens: dict[str, Any]) -> None:
    payload = claims_of(tokens["AccessToken"])
    for alg in ("none", "None", "NONE"):
        forged = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode()) + "." + b64(json.dumps(payload).encode()) + "."
        assert_401(box, post_token(box, forged), "not accepted")


def test_hs256_signed_with_the_public_key(box: Any, tokens: dict[str, Any], server_key: tuple[str, Any]) -> None:
    kid, private = server_key
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    jwk = httpx.get(auth_info(box)[1]["jwks_uri"]).json()["keys"][0]
    payload = claims_of(tokens["AccessToken"])
    for secret in (public_pem, json.dumps(jwk).encode(), jwk["n"].encode()):
        header = b64(json.dumps({"alg": "HS256", "kid": kid, "typ": "JWT"}).encode())
        body = b64(json.dumps(payload).encode())
        import hashlib
        import hmac

        sig = b64(hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest())
        assert_401(box, post_token(box, f"{header}.{body}.{sig}"), "HS256")


def forge(server_key: tuple[str, Any], claims: dict[str, Any], **header: Any) -> str:
    kid, private = server_key
    return jwt.encode(claims, private, algorithm="RS256", headers={"kid": kid, **header})


def test_expired_and_not_yet_valid(box: Any, tokens: dict[str, Any], server_key: tuple[str, Any]) -> None:
    now = int(time.time())
    base = claims_of(tokens["AccessToken"])
    assert_401(box, post_token(box, forge(server_key, {**base, "iat": now - 7200, "exp": now - 3600})), "expired")
    assert_401(box, post_token(box, forge(server_key, {**base, "iat": now + 3600, "exp": now + 7200})), "not valid yet")
    assert_401(box, post_token(box, forge(server_key, {**base, "nbf": now + 3600})), "not valid yet")
    no_exp = {k: v for k, v in base.items() if k != "exp"}
    assert_401(box, post_token(box, forge(server_key, no_exp)), "exp")
    # a correctly signed token with fresh times is accepted (the checks above are the only difference)
    assert post_token(box, forge(server_key, {**base, "iat": now, "exp": now + 600})).status_code == 200


def test_wrong_audience_client_and_use(box: Any, tokens: dict[str, Any], server_key: tuple[str, Any]) -> None:
    ident = claims_of(tokens["IdToken"])
    access = claims_of(tokens["AccessToken"])
    assert_401(box, post_token(box, forge(server_key, {**ident, "aud": "another-client"})), "aud")
    assert_401(box, post_token(box, forge(server_key, {**access, "client_id": "another-client"})), "client_id")
    assert_401(box, post_token(box, forge(server_key, {**access, "token_use": "refresh"})), "token_use")


def test_wrong_issuer_is_not_ours(box: Any, tokens: dict[str, Any], server_key: tuple[str, Any]) -> None:
    access = claims_of(tokens["AccessToken"])
    for iss in ("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_evil", access["iss"] + "/", ""):
        forged = forge(server_key, {**access, "iss": iss})
        assert_401(box, post_token(box, forged))
    no_iss = {k: v for k, v in access.items() if k != "iss"}
    assert_401(box, post_token(box, forge(server_key, no_iss)))


def test_unknown_kid_and_foreign_key(box: Any, tokens: dict[str, Any]) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    access = claims_of(tokens["AccessToken"])
    assert_401(box, post_token(box, jwt.encode(access, other, algorithm="RS256", headers={"kid": "nope"})),
               "unknown signing key")
    kid = jwt.get_unverified_header(tokens["AccessToken"])["kid"]
    assert_401(box, post_token(box, jwt.encode(access, other, algorithm="RS256", headers={"kid": kid})),
               "signature")


def test_tampered_payload(box: Any, tokens: dict[str, Any]) -> None:
    header, payload, sig = tokens["AccessToken"].split(".")
    claims = claims_of(tokens["AccessToken"])
    for change in ({"sub": str(uuid.uuid4())}, {"cognito:groups": ["Admins"]}, {"exp": claims["exp"] + 1}):
        forged = f"{header}.{b64(json.dumps({**claims, **change}).encode())}.{sig}"
        assert_401(box, post_token(box, forged), "signature")
    assert_401(box, post_token(box, f"{header}.{payload}.{sig[:-4]}AAAA"), "signature")


@pytest.mark.parametrize("value", [
    "a.b.c", "....", "x" * 20_000, "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0", "Bearer", "AWS4-HMAC-SHA256 garbage",
    "\u00e9t\u00e9.\u00e9t\u00e9.x",
])
def test_garbage_authorization_headers(box: Any, value: str) -> None:
    assert_401(box, box.post(LIST, headers={"x-api-key": None, "authorization": value.encode("utf-8")}))


# -- SigV4 -------------------------------------------------------------------------------------------

def test_sigv4_bad_signature(box: Any) -> None:
    creds = guest_credentials(box)
    wrong = Credentials(creds.access_key, "x" * 40, creds.token)
    assert_401(box, botocore_signed_post(box.url, BODY, wrong), "signature")


def test_sigv4_stale_date(box: Any) -> None:
    creds = guest_credentials(box)
    stale = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=16)
    with mock.patch("botocore.auth.get_current_datetime", return_value=stale):
        r = botocore_signed_post(box.url, BODY, creds)
    assert_401(box, r, "Signature expired")


def test_sigv4_unknown_key_and_missing_session_token(box: Any) -> None:
    assert_401(box, botocore_signed_post(box.url, BODY, Credentials("AKIAUNKNOWNUNKNOWN00", "secret")),
               "unknown access key")
    creds = guest_credentials(box)
    assert_401(box, botocore_signed_post(box.url, BODY, Credentials(creds.access_key, creds.secret_key)),
               "session token")
    other = guest_credentials(box)  # a valid token of another key pair
    assert_401(box, botocore_signed_post(box.url, BODY, Credentials(creds.access_key, creds.secret_key, other.token)),
               "another access key")
    forged = other.token.split(".")
    forged[1] = b64(json.dumps({"k": creds.access_key, "i": "x", "t": "authenticated", "p": "p", "e": 9e9}).encode())
    assert_401(box, botocore_signed_post(box.url, BODY, Credentials(creds.access_key, creds.secret_key,
                                                                    ".".join(forged))), "invalid")


def test_sigv4_replay_with_an_altered_body(box: Any) -> None:
    creds = guest_credentials(box)
    original = gql_body('mutation { createPoster(input: {title: "ok"}) { id } }')
    signed = sigv4.sign("POST", box.url, {"content-type": "application/json"}, original,
                        credentials=sigv4.Credentials(creds.access_key, creds.secret_key, creds.token), region=REGION)
    headers = {"content-type": "application/json", **signed}
    first = httpx.post(box.url, content=original, headers=headers)
    assert first.status_code == 200 and not first.json().get("errors"), first.text
    altered = gql_body('mutation { createPoster(input: {title: "evil"}) { id } }')
    assert_401(box, httpx.post(box.url, content=altered, headers=headers), "signature")


def test_sigv4_wrong_region_or_service(box: Any) -> None:
    creds = guest_credentials(box)
    assert_401(box, botocore_signed_post(box.url, BODY, creds, region="eu-west-1"), "region")
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method="POST", url=box.url, data=BODY, headers={"content-type": "application/json"})
    SigV4Auth(creds, "execute-api", REGION).add_auth(request)
    assert_401(box, httpx.post(box.url, content=BODY, headers=dict(request.headers.items())), "service")
