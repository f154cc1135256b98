"""Small authenticated, encrypted blobs (AES-GCM) for state a client carries between two calls:
the SRP secret block, challenge sessions. Nothing to store, so any server process can finish a
flow another one started."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class SealError(ValueError):
    pass


class Sealer:
    def __init__(self, master: bytes, purpose: str) -> None:
        self.purpose = purpose.encode()
        self._aead = AESGCM(hmac.new(master, b"seal|" + self.purpose, hashlib.sha256).digest())

    def seal(self, payload: dict[str, Any], ttl: float) -> str:
        body = orjson.dumps({**payload, "_exp": time.time() + ttl})
        nonce = os.urandom(12)
        return base64.b64encode(nonce + self._aead.encrypt(nonce, body, self.purpose)).decode()

    def open(self, token: str) -> dict[str, Any]:
        try:
            raw = base64.b64decode(token, validate=True)
            payload = orjson.loads(self._aead.decrypt(raw[:12], raw[12:], self.purpose))
        except (ValueError, InvalidTag, orjson.JSONDecodeError):
            raise SealError("invalid") from None
        if not isinstance(payload, dict) or payload.get("_exp", 0) < time.time():
            raise SealError("expired")
        return payload
