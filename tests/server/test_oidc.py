"""OIDC mode: tokens of an independent issuer (discovery + JWKS served on a real socket), with
caching, key rotation and AppSync's checks."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from conftest import EXAMPLES
from cryptography.hazmat.primitives.asymmetric import rsa

from cove.identity.oidc import OidcVerifier
from cove.identity.tokens import TokenError

CLIENT = "cove-test-client"


class Issuer:
    """A minimal OpenID provider: discovery, JWKS, and a signing key that can be rotated."""

    def __init__(self) -> None:
        self.keys: list[tuple[str, Any]] = []
        self.requests: list[str] = []
        self.rotate()
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                issuer.requests.append(self.path)
                if self.path == "/.well-known/openid-configuration":
                    doc: Any = {"issuer": issuer.url, "jwks_uri": issuer.url + "/jwks",
                                "id_token_signing_alg_values_supported": ["RS256"]}
                elif self.path == "/jwks":
                    doc = {"keys": [issuer.jwk(kid, key) for kid, key in issuer.keys]}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                body = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def jwk(kid: str, key: Any) -> dict[str, Any]:
        data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        return {**data, "kid": kid, "use": "sig", "alg": "RS256"}

    def rotate(self, keep_old: bool = False) -> str:
        kid = uuid.uuid4().hex[:12]
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.keys = ([*self.keys] if keep_old else []) + [(kid, key)]
        return kid

    def token(self, **claims: Any) -> str:
        kid, key = self.keys[-1]
        kid = claims.pop("_kid", kid)
        now = int(time.time())
        payload = {"iss": self.url, "sub": "user-1", "aud": CLIENT, "iat": now, "exp": now + 600, "auth_time": now,
                   "email": "oidc@example.com", **claims}
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})

    def jwks_fetches(self) -> int:
        return self.requests.count("/jwks")

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    i = Issuer()
    yield i
    i.close()


@pytest.fixture
def oidc_box(sandbox_factory: Any, issuer: Issuer, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("COVE_TEST_OIDC_ISSUER", issuer.url)
    return sandbox_factory(EXAMPLES / "oidc_schema.py", "--no-watch")


CREATE = 'mutation { createDoc(input: {title: "t"}) { id title } }'


def post(box: Any, token: str) -> httpx.Response:
    return box.post(CREATE, headers={"x-api-key": None, "authorization": token})


def test_outputs_and_an_accepted_token(oidc_box: Any, issuer: Issuer) -> None:
    assert oidc_box.outputs["data"]["default_authorization_type"] == "OPENID_CONNECT"
    r = post(oidc_box, issuer.token())
    assert r.status_code == 200 and r.json()["data"]["createDoc"]["title"] == "t", r.text
    for _ in range(5):
        assert post(oidc_box, issuer.token(sub=str(uuid.uuid4()))).status_code == 200
    assert issuer.jwks_fetches() == 1  # discovery and JWKS are cached


@pytest.mark.parametrize("offsets, fragment", [
    ({"aud": "another-client"}, "aud"),
    ({"exp": -60}, "expired"),
    ({"iat": 3600}, "not valid yet"),
    ({"iat": -7200, "exp": 60}, "issued too long ago"),
    ({"auth_time": -7200}, "authenticated too long ago"),
    ({"auth_time": None}, "auth_time"),
])
def test_rejected_claims(oidc_box: Any, issuer: Issuer, offsets: dict[str, Any], fragment: str) -> None:
    now = int(time.time())  # times are relative to the moment the token is made
    claims = {k: now + v if isinstance(v, int) else v for k, v in offsets.items()}
    r = post(oidc_box, issuer.token(**claims))
    assert r.status_code == 401 and fragment in r.json()["errors"][0]["message"], r.text


def test_other_issuers_algorithms_and_keys(oidc_box: Any, issuer: Issuer) -> None:
    assert post(oidc_box, issuer.token(iss="https://evil.example.com")).status_code == 401
    hs = jwt.encode({"iss": issuer.url, "sub": "x", "aud": CLIENT, "exp": int(time.time()) + 60}, "s" * 40,
                    algorithm="HS256")
    assert post(oidc_box, hs).status_code == 401
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = issuer.keys[-1][0]
    forged = jwt.encode({"iss": issuer.url, "sub": "x", "aud": CLIENT, "exp": int(time.time()) + 60,
                         "iat": int(time.time()), "auth_time": int(time.time())}, other, algorithm="RS256",
                        headers={"kid": kid})
    r = post(oidc_box, forged)
    assert r.status_code == 401 and "signature" in r.json()["errors"][0]["message"]


def test_key_rotation_and_refetch_rate_limit(oidc_box: Any, issuer: Issuer) -> None:
    assert post(oidc_box, issuer.token()).status_code == 200
    issuer.rotate()  # the old key is gone, a new one signs
    r = post(oidc_box, issuer.token())
    assert r.status_code == 200, r.text  # unknown kid -> JWKS fetched again
    assert issuer.jwks_fetches() == 2
    for _ in range(5):  # made-up kids do not make the server hammer the issuer
        r = post(oidc_box, issuer.token(_kid=uuid.uuid4().hex))
        assert r.status_code == 401
    assert issuer.jwks_fetches() <= 3


def test_user_pool_rules_do_not_admit_oidc_tokens(oidc_box: Any, issuer: Issuer) -> None:
    r = oidc_box.post('mutation { createPub(input: {title: "p"}) { id } }',
                      headers={"x-api-key": None, "authorization": issuer.token()})
    assert r.status_code == 200 and r.json()["errors"][0]["errorType"] == "Unauthorized", r.text


def test_claim_mapping_and_unreachable_issuer(issuer: Issuer) -> None:
    verifier = OidcVerifier(issuer.url, client_id="cove-.*", username_claim="preferred_username",
                            groups_claim="roles")
    claims = asyncio.run(verifier.verify(issuer.token(aud="cove-web", preferred_username="ada", roles=["Admins"])))
    assert claims["username"] == "ada" and claims["cognito:groups"] == ["Admins"]
    dead = OidcVerifier("http://127.0.0.1:9")
    with pytest.raises(TokenError, match="cannot reach"):
        asyncio.run(dead.verify(issuer.token(iss="http://127.0.0.1:9")))
