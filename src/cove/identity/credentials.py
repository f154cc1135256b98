"""Temporary AWS credentials handed out by the identity pool, and their verification.

They are stateless: the session token carries the identity (id, guest or authenticated, expiry)
under an HMAC of the server's master secret, and the secret key is derived from the access key id
and that payload. Any server process can verify a signature without a database read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

import orjson

CREDENTIALS_TTL = 3600


class CredentialError(ValueError):
    pass


@dataclass(frozen=True)
class TemporaryIdentity:
    access_key_id: str
    secret_access_key: str
    identity_id: str
    kind: str               # "authenticated" | "unauthenticated"
    pool_id: str
    expires_at: float
    login: str | None       # "<provider>:<sub>" for authenticated identities
    sub: str | None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CredentialIssuer:
    def __init__(self, master: bytes, pool_id: str) -> None:
        self._mac_key = hmac.new(master, b"iam-session", hashlib.sha256).digest()
        self._secret_key = hmac.new(master, b"iam-secret", hashlib.sha256).digest()
        self.pool_id = pool_id

    def _secret(self, akid: str, payload: bytes) -> str:
        digest = hmac.new(self._secret_key, akid.encode() + b"|" + payload, hashlib.sha256).digest()
        return base64.b64encode(digest).decode()[:40]

    def issue(self, identity_id: str, kind: str, *, login: str | None = None, sub: str | None = None,
              ttl: int = CREDENTIALS_TTL) -> dict[str, Any]:
        """Cognito's ``Credentials`` object: AccessKeyId, SecretKey, SessionToken, Expiration."""
        akid = "ASIA" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
        expires = int(time.time()) + ttl
        payload = orjson.dumps({"k": akid, "i": identity_id, "t": kind, "p": self.pool_id, "e": expires,
                                "l": login, "s": sub})
        mac = hmac.new(self._mac_key, payload, hashlib.sha256).digest()
        token = "cove1." + _b64(payload) + "." + _b64(mac)
        return {"AccessKeyId": akid, "SecretKey": self._secret(akid, payload), "SessionToken": token,
                "Expiration": expires}

    def resolve(self, access_key_id: str, session_token: str | None, now: float | None = None) -> TemporaryIdentity:
        if not session_token:
            raise CredentialError("temporary credentials need their session token (x-amz-security-token)")
        parts = session_token.split(".")
        if len(parts) != 3 or parts[0] != "cove1":
            raise CredentialError("The security token included in the request is invalid.")
        try:
            payload = _unb64(parts[1])
            mac = _unb64(parts[2])
        except ValueError:
            raise CredentialError("The security token included in the request is invalid.") from None
        expected = hmac.new(self._mac_key, payload, hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected):
            raise CredentialError("The security token included in the request is invalid.")
        data = orjson.loads(payload)
        if data.get("k") != access_key_id:
            raise CredentialError("the security token belongs to another access key")
        if data.get("p") != self.pool_id:
            raise CredentialError("the security token was issued by another identity pool")
        if data["e"] <= (now if now is not None else time.time()):
            raise CredentialError("The security token included in the request is expired")
        return TemporaryIdentity(access_key_id, self._secret(access_key_id, payload), data["i"], data["t"],
                                 data["p"], float(data["e"]), data.get("l"), data.get("s"))
