"""AppSync's GraphQL-over-WebSocket protocol: the constants and codecs both ends use.

The client offers the ``graphql-ws`` subprotocol and passes its connection auth either as a
``header-<base64url JSON>`` subprotocol (aws-amplify >= 6.6) or as a ``?header=<base64 JSON>``
query parameter; both decode with :func:`decode_header`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import orjson

SUBPROTOCOL = "graphql-ws"
HEADER_SUBPROTOCOL_PREFIX = "header-"
#: The keep-alive frame, sent as is.
KA = b'{"type":"ka"}'


class HeaderError(ValueError):
    """The connection's auth header is not a base64-encoded JSON object."""


def encode_header(value: Mapping[str, Any]) -> str:
    """base64url of the JSON, without padding (the ``header-`` subprotocol's value)."""
    return base64.urlsafe_b64encode(orjson.dumps(dict(value))).decode().rstrip("=")


def decode_header(text: str) -> dict[str, str]:
    """base64 (url-safe or standard, padded or not) JSON object -> {lower-case name: value}."""
    text = text.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        value = orjson.loads(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise HeaderError("The connection's auth header is not base64-encoded JSON") from None
    if not isinstance(value, dict):
        raise HeaderError("The connection's auth header must be a JSON object")
    return {str(k).lower(): v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in value.items()}
