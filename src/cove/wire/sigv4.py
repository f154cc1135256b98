"""AWS Signature Version 4: signing (the client's ``iam`` mode) and verifying (the server).

One implementation serves both sides, so what the client signs is exactly what the server checks.
The server verifies from the raw request bytes (method, path, query, the signed headers as received,
the body), never by re-signing a re-serialised request: aws-amplify, botocore and Cove's client
each choose their own set of signed headers, and only the bytes they sent are authoritative.

    headers = sign("POST", "https://api.example.com/graphql", {"content-type": ...}, body,
                   credentials=Credentials("AKID", "secret", "token"), region="us-east-1")
    request = parse_authorization(headers["authorization"])
    verify(request, method=..., path=..., headers=..., body=..., secret="secret", region=..., ...)

Only ``AWS4-HMAC-SHA256`` in the ``Authorization`` header is supported (not presigned URLs).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
#: How far the request's ``x-amz-date`` may be from the server's clock (AWS allows 5 minutes).
DEFAULT_MAX_SKEW = 300.0
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class SigV4Error(ValueError):
    """A request whose SigV4 signature cannot be accepted; the message says why."""


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


_key_cache: dict[tuple[str, str, str, str], bytes] = {}


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The derived key for one day/region/service (cached: it changes once a day per secret)."""
    cache_key = (secret, date, region, service)
    key = _key_cache.get(cache_key)
    if key is None:
        k = _hmac(("AWS4" + secret).encode("utf-8"), date)
        k = _hmac(k, region)
        k = _hmac(k, service)
        key = _hmac(k, "aws4_request")
        if len(_key_cache) > 4096:
            _key_cache.clear()
        _key_cache[cache_key] = key
    return key


def _uri_encode(value: str, *, safe: str = "-_.~") -> str:
    return quote(value, safe=safe)


def canonical_uri(path: str) -> str:
    """URI-encode each path segment (as every non-S3 AWS service does; ``/`` stays)."""
    if not path:
        return "/"
    return _uri_encode(path, safe="/-_.~")


def canonical_query(query: str) -> str:
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    encoded = sorted((_uri_encode(k), _uri_encode(v)) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


_SPACES = re.compile(r"\s+")


def _canonical_value(value: str) -> str:
    return _SPACES.sub(" ", value.strip())


def canonical_request(method: str, path: str, query: str, headers: Mapping[str, str],
                      signed_headers: list[str], payload_hash: str) -> str:
    """``headers`` must have lower-case names."""
    lines = "".join(f"{name}:{_canonical_value(headers[name])}\n" for name in signed_headers)
    return "\n".join([method.upper(), canonical_uri(path), canonical_query(query), lines,
                      ";".join(signed_headers), payload_hash])


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    return "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()])


def _amz_date(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def sign(method: str, url: str, headers: Mapping[str, str], body: bytes, *, credentials: Credentials,
         region: str, service: str = "appsync", now: dt.datetime | None = None) -> dict[str, str]:
    """The headers to add to a request so it is SigV4-signed: ``authorization``, ``x-amz-date``
    and (with temporary credentials) ``x-amz-security-token``.

    Every header of ``headers`` is signed, plus ``host`` (from ``url``, unless given) and the two
    above, as aws-amplify does. Names are compared case-insensitively.
    """
    parts = urlsplit(url)
    now = now or dt.datetime.now(dt.UTC)
    amz_date = _amz_date(now)
    date = amz_date[:8]
    lowered: dict[str, str] = {k.lower(): str(v) for k, v in headers.items()}
    lowered.pop("authorization", None)
    if "host" not in lowered:
        default_port = {"http": 80, "https": 443}.get(parts.scheme)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        lowered["host"] = host if parts.port in (None, default_port) else f"{host}:{parts.port}"
    lowered["x-amz-date"] = amz_date
    added = {"x-amz-date": amz_date}
    if credentials.session_token:
        lowered["x-amz-security-token"] = credentials.session_token
        added["x-amz-security-token"] = credentials.session_token
    signed = sorted(lowered)
    payload_hash = lowered.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest()
    canonical = canonical_request(method, parts.path, parts.query, lowered, signed, payload_hash)
    scope = f"{date}/{region}/{service}/aws4_request"
    key = signing_key(credentials.secret_access_key, date, region, service)
    signature = hmac.new(key, string_to_sign(amz_date, scope, canonical).encode("utf-8"),
                         hashlib.sha256).hexdigest()
    added["authorization"] = (f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
                              f"SignedHeaders={';'.join(signed)}, Signature={signature}")
    return added


@dataclass(frozen=True)
class SignedRequest:
    """The parts of an ``Authorization: AWS4-HMAC-SHA256 ...`` header."""

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: list[str]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


_AUTH_PARTS = re.compile(r"\s*(Credential|SignedHeaders|Signature)\s*=\s*([^,\s]*)\s*")


def parse_authorization(value: str) -> SignedRequest:
    """Parse the header; raise :class:`SigV4Error` when it is malformed."""
    if not value.startswith(ALGORITHM + " "):
        raise SigV4Error(f"the Authorization header does not start with {ALGORITHM}")
    fields: dict[str, str] = {}
    for part in value[len(ALGORITHM) + 1:].split(","):
        m = _AUTH_PARTS.fullmatch(part)
        if m is None or m.group(1) in fields:
            raise SigV4Error("malformed SigV4 Authorization header")
        fields[m.group(1)] = m.group(2)
    if set(fields) != {"Credential", "SignedHeaders", "Signature"}:
        raise SigV4Error("the SigV4 Authorization header needs Credential, SignedHeaders and Signature")
    credential = fields["Credential"].split("/")
    if len(credential) != 5 or credential[4] != "aws4_request" or not all(credential):
        raise SigV4Error("malformed SigV4 credential scope; expected AKID/yyyymmdd/region/service/aws4_request")
    signed = fields["SignedHeaders"].split(";")
    if not all(signed) or signed != sorted(set(signed)) or any(h != h.lower() for h in signed):
        raise SigV4Error("SignedHeaders must be lower-case header names, sorted, separated by ';'")
    signature = fields["Signature"]
    if not re.fullmatch(r"[0-9a-f]{64}", signature):
        raise SigV4Error("the SigV4 signature must be 64 lower-case hex digits")
    akid, date, region, service = credential[:4]
    if not re.fullmatch(r"\d{8}", date):
        raise SigV4Error("malformed date in the SigV4 credential scope")
    return SignedRequest(akid, date, region, service, signed, signature)


def _parse_amz_date(value: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise SigV4Error(f"x-amz-date {value!r} is not in the form yyyymmddThhmmssZ") from None


def verify(request: SignedRequest, *, method: str, path: str, query: str = "", headers: Mapping[str, str],
           body: bytes, secret: str, region: str | None, service: str = "appsync",
           max_skew: float = DEFAULT_MAX_SKEW, now: dt.datetime | None = None) -> None:
    """Check a parsed signature against the raw request; raise :class:`SigV4Error` if it fails.

    ``headers`` must have lower-case names and the values as received. Checks: ``host`` and
    ``x-amz-date`` are signed, the date is within ``max_skew`` seconds of ``now`` and matches the
    credential scope, the scope names ``service`` (and ``region`` unless None), and the signature.
    """
    if request.service != service:
        raise SigV4Error(f"the request is signed for service {request.service!r}, not {service!r}")
    if region is not None and request.region != region:
        raise SigV4Error(f"the request is signed for region {request.region!r}, not {region!r}")
    for required in ("host", "x-amz-date"):
        if required not in request.signed_headers:
            raise SigV4Error(f"the '{required}' header must be signed")
    for name in request.signed_headers:
        if name not in headers:
            raise SigV4Error(f"signed header '{name}' is missing from the request")
    amz_date = headers["x-amz-date"]
    when = _parse_amz_date(amz_date)
    if amz_date[:8] != request.date:
        raise SigV4Error("x-amz-date does not match the date of the credential scope")
    now = now or dt.datetime.now(dt.UTC)
    skew = abs((now - when).total_seconds())
    if skew > max_skew:
        raise SigV4Error(f"Signature expired: {amz_date} is now earlier than "
                         f"{_amz_date(now - dt.timedelta(seconds=max_skew))} or later than "
                         f"{_amz_date(now + dt.timedelta(seconds=max_skew))} (clock skew {skew:.0f}s)")
    payload_hash = headers.get("x-amz-content-sha256")
    body_hash = hashlib.sha256(body).hexdigest() if body else _EMPTY_SHA256
    if payload_hash is None:
        payload_hash = body_hash
    elif payload_hash != body_hash:  # also refuses UNSIGNED-PAYLOAD: the body must be signed
        raise SigV4Error("x-amz-content-sha256 does not match the request body")
    canonical = canonical_request(method, path, query, headers, request.signed_headers, payload_hash)
    key = signing_key(secret, request.date, request.region, request.service)
    expected = hmac.new(key, string_to_sign(amz_date, request.scope, canonical).encode("utf-8"),
                        hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, request.signature):
        raise SigV4Error("The request signature we calculated does not match the signature you provided. "
                         "Check your AWS Secret Access Key and signing method.")
