"""cove.wire.sigv4 against botocore's SigV4 signer as the oracle, in both directions."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from cove.wire import sigv4

CREDS = sigv4.Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token-123")
NOW = dt.datetime(2026, 11, 27, 5, 29, 7, tzinfo=dt.UTC)

REQUESTS = [
    ("POST", "https://abc.appsync-api.us-east-1.amazonaws.com/graphql", {"content-type": "application/json"},
     b'{"query":"{ listTodos { items { id } } }","variables":{}}'),
    ("POST", "http://127.0.0.1:20002/graphql", {"content-type": "application/json; charset=UTF-8",
                                                 "x-amz-user-agent": "aws-amplify/6.22.1 api/1 framework/100"},
     '{"query":"mutation { createTodo(input: {content: \\"café 😀\\"}) { id } }"}'.encode()),
    ("POST", "http://localhost:8080/graphql?b=2&a=1&a=0&empty=", {"content-type": "application/json",
                                                                  "x-custom": "  spaced   value  "}, b"{}"),
    ("POST", "http://127.0.0.1:9/graphql/connect", {"accept": "application/json, text/javascript",
                                                    "content-encoding": "amz-1.0",
                                                    "content-type": "application/json; charset=UTF-8"}, b"{}"),
    ("POST", "http://127.0.0.1:9/graphql/with-dash_and.dot~tilde", {}, b""),
]


def botocore_sign(method: str, url: str, headers: dict[str, str], body: bytes, *, region: str = "us-east-1",
                  service: str = "appsync", creds: sigv4.Credentials = CREDS) -> dict[str, str]:
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        SigV4Auth(BotoCredentials(creds.access_key_id, creds.secret_access_key, creds.session_token), service,
                  region).add_auth(request)
    return {k.lower(): v for k, v in request.headers.items()}


def host_of(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    default = {"http": 80, "https": 443}[parts.scheme]
    return parts.hostname if parts.port in (None, default) else f"{parts.hostname}:{parts.port}"  # type: ignore[return-value]


@pytest.mark.parametrize("method, url, headers, body", REQUESTS)
def test_cove_signs_what_botocore_signs(method: str, url: str, headers: dict[str, str], body: bytes) -> None:
    ours = sigv4.sign(method, url, headers, body, credentials=CREDS, region="us-east-1", now=NOW)
    theirs = botocore_sign(method, url, headers, body)
    assert ours["authorization"] == theirs["authorization"]
    assert ours["x-amz-date"] == theirs["x-amz-date"] == "20261127T052907Z"
    assert ours["x-amz-security-token"] == theirs["x-amz-security-token"]


@pytest.mark.parametrize("method, url, headers, body", REQUESTS)
def test_cove_verifies_what_botocore_signs(method: str, url: str, headers: dict[str, str], body: bytes) -> None:
    signed = botocore_sign(method, url, headers, body)
    signed.setdefault("host", host_of(url))
    path, _, query = url.split("://", 1)[1].partition("/")[2].partition("?")
    from urllib.parse import unquote

    request = sigv4.parse_authorization(signed["authorization"])
    sigv4.verify(request, method=method, path=unquote("/" + path), query=query, headers=signed, body=body,
                 secret=CREDS.secret_access_key, region="us-east-1", now=NOW)


def _signed(body: bytes = b'{"query":"{ a }"}') -> tuple[sigv4.SignedRequest, dict[str, str]]:
    headers = {"content-type": "application/json"}
    headers.update(sigv4.sign("POST", "http://127.0.0.1:20002/graphql", headers, body, credentials=CREDS,
                              region="us-east-1", now=NOW))
    headers["host"] = "127.0.0.1:20002"
    return sigv4.parse_authorization(headers["authorization"]), headers


def verify(request: sigv4.SignedRequest, headers: dict[str, str], body: bytes = b'{"query":"{ a }"}', **kw: object) -> None:
    options: dict[str, object] = {"method": "POST", "path": "/graphql", "headers": headers, "body": body,
                                  "secret": CREDS.secret_access_key, "region": "us-east-1", "now": NOW}
    options.update(kw)
    sigv4.verify(request, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("change, message", [
    (lambda h: {**h, "content-type": "text/plain"}, "does not match"),
    (lambda h: {k: v for k, v in h.items() if k != "host"}, "missing"),
    (lambda h: {**h, "x-amz-date": "20261127T052800Z"}, "does not match"),
    (lambda h: {**h, "x-amz-date": "garbage"}, "yyyymmdd"),
    (lambda h: {**h, "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}, "body"),
])
def test_tampered_requests_fail(change: object, message: str) -> None:
    request, headers = _signed()
    with pytest.raises(sigv4.SigV4Error, match=message):
        verify(request, change(headers))  # type: ignore[operator]


def test_body_replay_clock_region_service_and_secret() -> None:
    request, headers = _signed()
    verify(request, headers)
    with pytest.raises(sigv4.SigV4Error, match="does not match"):
        verify(request, headers, body=b'{"query":"{ b }"}')
    with pytest.raises(sigv4.SigV4Error, match="expired"):
        verify(request, headers, now=NOW + dt.timedelta(minutes=6))
    with pytest.raises(sigv4.SigV4Error, match="expired"):
        verify(request, headers, now=NOW - dt.timedelta(minutes=6))
    verify(request, headers, now=NOW + dt.timedelta(minutes=4))
    with pytest.raises(sigv4.SigV4Error, match="region"):
        verify(request, headers, region="eu-west-1")
    with pytest.raises(sigv4.SigV4Error, match="service"):
        verify(request, headers, service="execute-api")
    with pytest.raises(sigv4.SigV4Error, match="does not match"):
        verify(request, headers, secret="another-secret")


@pytest.mark.parametrize("value", [
    "", "Bearer x", "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00",
    "AWS4-HMAC-SHA256 Credential=AK/20261127/us-east-1/appsync/aws4_request, SignedHeaders=x-amz-date;host, "
    "Signature=" + "0" * 64,  # not sorted
    "AWS4-HMAC-SHA256 Credential=AK/20261127/us-east-1/appsync/aws4_request, SignedHeaders=Host, Signature=" + "0" * 64,
    "AWS4-HMAC-SHA256 Credential=AK/2026/us-east-1/appsync/aws4_request, SignedHeaders=host, Signature=" + "0" * 64,
    "AWS4-HMAC-SHA256 Credential=AK/20261127/us-east-1/appsync/aws4_request, Signature=" + "0" * 64,
    "AWS4-HMAC-SHA256 Credential=AK/20261127/us-east-1/appsync/aws4_request, SignedHeaders=host, "
    "SignedHeaders=host, Signature=" + "0" * 64,
])
def test_malformed_authorization_headers(value: str) -> None:
    with pytest.raises(sigv4.SigV4Error):
        sigv4.parse_authorization(value)


def test_unsigned_host_or_date_is_refused() -> None:
    headers = {"content-type": "application/json", "x-amz-date": "20261127T052907Z", "host": "h"}
    request = sigv4.SignedRequest("AKIDEXAMPLE", "20261127", "us-east-1", "appsync", ["content-type", "x-amz-date"],
                                  "0" * 64)
    with pytest.raises(sigv4.SigV4Error, match="'host' header must be signed"):
        verify(request, headers)
