"""Helpers for the auth tests: boto3 clients aimed at a sandbox, SigV4-signed GraphQL posts."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import time
import uuid
from typing import Any

import boto3
import httpx
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from realtime_support import Raw, token_auth

from cove.wire import sigv4

PASSWORD = "Passw0rd!"
REGION = "us-east-1"


def auth_info(box: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    outputs = box.outputs
    return outputs["auth"], outputs["custom"]["cove"]


def idp(box: Any, credentials: tuple[str, str] | None = None) -> Any:
    """boto3's cognito-idp client for the sandbox (unsigned, or signed with IAM credentials)."""
    _, cove = auth_info(box)
    if credentials is None:
        return boto3.client("cognito-idp", region_name=REGION, endpoint_url=cove["user_pool_endpoint"],
                            config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    return boto3.client("cognito-idp", region_name=REGION, endpoint_url=cove["user_pool_endpoint"],
                        aws_access_key_id=credentials[0], aws_secret_access_key=credentials[1],
                        config=Config(retries={"max_attempts": 1}))


def iam_admin(box: Any) -> Any:
    """A cognito-idp client signed with fresh static IAM credentials (`cove iam create`): admin calls."""
    out = subprocess.run([sys.executable, "-m", "cove", "iam", *box.data_args(), "create"],
                         capture_output=True, text=True, check=True).stdout
    values = dict(line.split("=", 1) for line in out.split())
    return idp(box, (values["AWS_ACCESS_KEY_ID"], values["AWS_SECRET_ACCESS_KEY"]))


def identity(box: Any) -> Any:
    _, cove = auth_info(box)
    return boto3.client("cognito-identity", region_name=REGION, endpoint_url=cove["identity_pool_endpoint"],
                        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))


def sign_up_and_in(box: Any, email: str, password: str = PASSWORD) -> dict[str, Any]:
    auth, _ = auth_info(box)
    client = idp(box)
    client.sign_up(ClientId=auth["user_pool_client_id"], Username=email, Password=password)
    return sign_in(box, email, password)


def sign_in(box: Any, email: str, password: str = PASSWORD) -> dict[str, Any]:
    auth, _ = auth_info(box)
    r = idp(box).initiate_auth(ClientId=auth["user_pool_client_id"], AuthFlow="USER_PASSWORD_AUTH",
                               AuthParameters={"USERNAME": email, "PASSWORD": password})
    return dict(r["AuthenticationResult"])


def botocore_signed_post(url: str, body: bytes, creds: Credentials, *, region: str = REGION,
                         headers: dict[str, str] | None = None) -> httpx.Response:
    """Sign with botocore's own SigV4 signer (not Cove's) and send exactly those bytes."""
    request = AWSRequest(method="POST", url=url, data=body,
                         headers={"content-type": "application/json", **(headers or {})})
    SigV4Auth(creds, "appsync", region).add_auth(request)
    return httpx.post(url, content=body, headers=dict(request.headers.items()), timeout=30)


def guest_credentials(box: Any) -> Credentials:
    auth, _ = auth_info(box)
    client = identity(box)
    iid = client.get_id(IdentityPoolId=auth["identity_pool_id"])["IdentityId"]
    c = client.get_credentials_for_identity(IdentityId=iid)["Credentials"]
    return Credentials(c["AccessKeyId"], c["SecretKey"], c["SessionToken"])


def user_credentials(box: Any, id_token: str) -> tuple[str, Credentials]:
    auth, cove = auth_info(box)
    logins = {cove["user_pool_issuer"].split("://", 1)[1]: id_token}
    client = identity(box)
    iid = client.get_id(IdentityPoolId=auth["identity_pool_id"], Logins=logins)["IdentityId"]
    r = client.get_credentials_for_identity(IdentityId=iid, Logins=logins)
    c = r["Credentials"]
    return r["IdentityId"], Credentials(c["AccessKeyId"], c["SecretKey"], c["SessionToken"])


def gql_body(query: str, variables: dict[str, Any] | None = None) -> bytes:
    return json.dumps({"query": query, "variables": variables or {}}).encode()


def cove_signed_post(url: str, body: bytes, creds: sigv4.Credentials, **kw: Any) -> httpx.Response:
    headers = {"content-type": "application/json"}
    headers.update(sigv4.sign("POST", url, headers, body, credentials=creds, region=kw.pop("region", REGION), **kw))
    return httpx.post(url, content=body, headers=headers, timeout=30)


def claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # type: ignore[no-any-return]


def short_lived_token(box: Any, *, validity: int, sub: str, username: str, groups: list[str],
                      origin_jti: str) -> str:
    """A real access token signed with the sandbox's own current key (read from its database), valid
    for ``validity`` seconds."""
    import asyncio

    from cove.identity.keys import KeyRing
    from cove.identity.tokens import UserPoolTokens
    from cove.store import open_backend

    outputs = box.outputs

    async def issue() -> str:
        backend = open_backend(box.database_url or box.data_dir, create=False)  # SQLite or PostgreSQL
        try:
            await backend.open()
            tokens = UserPoolTokens(await KeyRing.open(backend.identity),
                                    issuer=outputs["custom"]["cove"]["user_pool_issuer"],
                                    client_id=outputs["auth"]["user_pool_client_id"], access_validity=validity)
            access, _, _ = await tokens.issue(sub=sub, username=username, groups=groups, attributes={},
                                              origin_jti=origin_jti, auth_time=int(time.time()))
            return access
        finally:
            await backend.close()

    return asyncio.run(issue())


class User:
    """A user added to a sandbox's user pool with `cove users add`, signed in with boto3."""

    def __init__(self, box: Any, name: str, groups: tuple[str, ...] = ()) -> None:
        self.box = box
        self.email = f"{name}-{uuid.uuid4().hex[:6]}@example.com"
        cmd = [sys.executable, "-m", "cove", "users", *box.data_args(), "add", self.email,
               "--password", PASSWORD]
        for g in groups:
            cmd += ["--group", g]
        subprocess.run(cmd, capture_output=True, text=True, check=True)
        self.token = sign_in(box, self.email)["AccessToken"]
        self.username = claims(self.token)["username"]
        self.sub = claims(self.token)["sub"]

    def auth(self) -> dict[str, str]:
        return token_auth(self.box, self.token)

    def socket(self) -> Raw:
        conn = Raw(self.box, self.auth())
        conn.init()
        return conn

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST as this user; the JSON body of a 200 response."""
        r = self.box.post(query, variables, headers={"x-api-key": None, "authorization": self.token})
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def create(self, model: str, fields: str = "id body owner", **values: Any) -> dict[str, Any]:
        body = self.gql(f"mutation ($i: Create{model}Input!) {{ create{model}(input: $i) {{ {fields} }} }}",
                        {"i": values})
        assert "errors" not in body, body
        return body["data"][f"create{model}"]  # type: ignore[no-any-return]


def wait_for_code(box: Any, label: str, address: str, timeout: float = 10.0) -> str:
    """The latest code the sandbox printed ("Password reset code" or "Confirmation code") for an address."""
    deadline = time.monotonic() + timeout
    pattern = re.compile(rf"{label} for {re.escape(address)}: (\d{{6}})")
    while time.monotonic() < deadline:
        for line in reversed(box.lines):
            m = pattern.search(line)
            if m:
                return m.group(1)
        time.sleep(0.05)
    raise AssertionError(f"no {label} for {address} in the sandbox output:\n" + "".join(box.lines[-20:]))
