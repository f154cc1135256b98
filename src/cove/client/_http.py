"""The HTTP side of a GraphQL call: the body, the headers, the response's payload, and when to retry."""

from __future__ import annotations

import random
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from typing import Any

import httpx
import orjson

from cove._version import __version__

from ._records import GraphQLError
from .errors import ResponseError

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
CONTENT_TYPE = "application/json; charset=UTF-8"
USER_AGENT = f"cove-python/{__version__} api/1"

Payload = Mapping[str, Any]


def json_default(obj: Any) -> Any:
    """How orjson sends what it cannot encode itself: mappings, sets, Decimals, Enums."""
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    if isinstance(obj, Decimal):
        return float(obj)
    if isinstance(obj, Enum):
        return obj.value
    raise TypeError(f"cannot send a {type(obj).__name__} as a GraphQL variable")


def encode_body(document: str, variables: Mapping[str, Any]) -> bytes:
    """``{"query": ..., "variables": ...}``, nothing else (no operationName), as Amplify sends it."""
    return orjson.dumps({"query": document, "variables": variables}, default=json_default,
                        option=orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z)


def overlay_headers(target: dict[str, str], extra: Mapping[str, str]) -> None:
    """Add ``extra`` to ``target``; a header of the same name (any case) is replaced."""
    if not extra:
        return
    lowered = {k.lower() for k in extra}
    for k in [k for k in target if k.lower() in lowered]:
        del target[k]
    for k, v in extra.items():
        target[str(k)] = str(v)


# -- responses ------------------------------------------------------------------------------------

_THROTTLING = frozenset({
    "BandwidthLimitExceeded", "EC2ThrottledException", "LimitExceededException",
    "PriorRequestNotComplete", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
    "RequestThrottled", "RequestThrottledException", "SlowDown", "ThrottledException",
    "Throttling", "ThrottlingException", "TooManyRequestsException", "TransactionInProgressException",
})
_RETRYABLE_EXCEPTIONS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadError, httpx.WriteError,
                         httpx.RemoteProtocolError)
_UNSENT_EXCEPTIONS = (httpx.ConnectError, httpx.ConnectTimeout)   # the request never left


def _error_type(headers: httpx.Headers) -> str | None:
    value = headers.get("x-amzn-errortype")
    if not value:
        return None
    return value.split(":", 1)[0].strip() or None


def parse_response(response: httpx.Response) -> dict[str, Any]:
    """The GraphQL payload of ``response``, or :class:`ResponseError` when it has none."""
    status = response.status_code
    content = response.content
    error_type = _error_type(response.headers)
    try:
        payload = orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        payload = None
    if status >= 300:
        if isinstance(payload, dict) and isinstance(payload.get("errors"), list):
            errors = []
            for e in payload["errors"]:
                if isinstance(e, dict) and error_type and "errorType" not in e:
                    e = {**e, "errorType": error_type}
                errors.append(e)
            return {"data": payload.get("data"), "errors": errors, "extensions": payload.get("extensions")}
        message = None
        if isinstance(payload, dict):
            message = payload.get("message") or payload.get("Message")
            body_type = payload.get("__type") or payload.get("code")
            error_type = error_type or (str(body_type) if body_type else None)
        if not message:
            text = content.decode("utf-8", "replace").strip()
            message = text[:300] if text else (response.reason_phrase or "Unknown error")
        raise ResponseError(status, str(message), error_type=error_type, body=content)
    if isinstance(payload, dict) and ("data" in payload or "errors" in payload):
        return payload
    snippet = content[:200].decode("utf-8", "replace")
    raise ResponseError(status, f"the response is not a GraphQL JSON object: {snippet!r}",
                        error_type=error_type, body=content)


def graphql_errors(payload: Payload) -> list[GraphQLError]:
    raw = payload.get("errors")
    if not isinstance(raw, list):
        return []
    return [GraphQLError(e if isinstance(e, Mapping) else str(e)) for e in raw]




def retry_delay(max_attempts: int, attempt: int, response: httpx.Response | None = None,
                exc: Exception | None = None, *, writes: bool = False) -> float | None:
    """Seconds to wait before attempt ``attempt + 1``, or None to stop (Amplify's policy:
    connection errors, HTTP 429, throttling error types and 5xx; never other 4xx).

    A mutation (``writes``) is not idempotent (a create could run twice, a delete would then
    fail): it is retried only when it certainly did not run, i.e. the connection could not be
    opened, or the server answered 429 or a throttling error; not after a 5xx or a connection
    lost once the request was sent."""
    if attempt + 1 >= max_attempts:
        return None
    if exc is not None:
        if not isinstance(exc, _UNSENT_EXCEPTIONS if writes else _RETRYABLE_EXCEPTIONS):
            return None
    elif response is not None:
        status = response.status_code
        throttled = status == 429 or _error_type(response.headers) in _THROTTLING
        if not (throttled or (status >= 500 and not writes)):
            return None
    delay: float = 0.1 * float(2 ** (attempt + 1)) + random.uniform(0, 0.1)
    if response is not None:
        retry_after = response.headers.get("retry-after")
        if retry_after and retry_after.isdigit():
            delay = max(delay, float(retry_after))
    return min(delay, 5.0)

