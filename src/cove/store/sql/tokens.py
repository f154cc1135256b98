"""Signed next tokens: the last row's ordering values, bound by an HMAC to the query they page.

A token only pages the query shape that made it (model, index, direction), so a client can neither
forge a position nor carry a token over to another model.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import orjson

from cove.schema.model import Model, SecondaryIndex

from ..base import InvalidNextToken


def token_scope(model: Model, index: SecondaryIndex | None, descending: bool,
                sort: tuple[tuple[str, bool], ...] = ()) -> bytes:
    """What a token is bound to: the model, the index, the direction and the sort fields."""
    ix = index.name if index is not None else ""
    scope = f"{model.name}|{ix}|{int(descending)}"
    if sort:
        scope += "|" + ",".join(f"{name}:{int(desc)}" for name, desc in sort)
    return scope.encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class NextTokens:
    """Makes and reads tokens with the database's secret (read lazily: it lives in the database)."""

    def __init__(self, secret: Callable[[], bytes]) -> None:
        self._secret = secret

    def _mac(self, scope: bytes, payload: bytes) -> bytes:
        return hmac.new(self._secret(), scope + b"|" + payload, hashlib.sha256).digest()[:12]

    def make(self, last: list[Any], scope: bytes) -> str:
        payload = orjson.dumps(last)
        return _b64(payload) + "." + _b64(self._mac(scope, payload))

    def read(self, token: str, scope: bytes) -> list[Any]:
        try:
            body, _, sig = token.partition(".")
            payload = _unb64(body)
            if not hmac.compare_digest(_unb64(sig), self._mac(scope, payload)):
                raise ValueError("signature")
            last = orjson.loads(payload)
            if not isinstance(last, list):
                raise ValueError("shape")
            return last
        except (ValueError, orjson.JSONDecodeError):
            raise InvalidNextToken("Invalid nextToken: pass back a token a previous page of this same "
                                   "query returned") from None
