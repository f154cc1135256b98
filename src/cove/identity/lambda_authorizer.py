"""Lambda authorizers (``lambda`` mode, ``allow.custom()``): a Python callable that receives AppSync's
Lambda authorizer event and answers ``{"isAuthorized", "resolverContext", "deniedFields",
"ttlOverride"}``.

``lambda_authorization_mode={"function": "module:function", "time_to_live_in_seconds": 60}``. The
function may be sync (run in a worker thread) or async, and take ``(event)`` or, like an AWS
Lambda handler, ``(event, context)``, so an authorizer written for AppSync runs unchanged.
Answers are cached per token for ``ttlOverride`` seconds, else the configured TTL (0: no cache).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("cove.lambda_authorizer")
TIMEOUT_SECONDS = 10.0
MAX_TOKEN_LENGTH = 2048


class AuthorizerDenied(Exception):
    pass


@dataclass(frozen=True)
class Decision:
    resolver_context: dict[str, Any]
    denied_fields: frozenset[str]
    expires_at: float


class LambdaContext:
    """The parts of AWS Lambda's ``context`` object an authorizer may touch."""

    def __init__(self, name: str, deadline: float) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{name}"
        self.memory_limit_in_mb = 128
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "cove"
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def takes_context(fn: Callable[..., Any]) -> bool:
    """Whether a Lambda-style function is `fn(event, context)` rather than `fn(event)`."""
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return False
    return len(params) >= 2


def load_function(spec: str | Callable[..., Any]) -> Callable[..., Any]:
    if callable(spec):
        return spec
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"lambda authorizer {spec!r}: use 'module:function'")
    module = importlib.import_module(module_name)
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ValueError(f"lambda authorizer {spec!r}: {attr} is not a function of {module_name}")
    return fn  # type: ignore[no-any-return]


def _denied(value: Any) -> frozenset[str]:
    if not value:
        return frozenset()
    if not isinstance(value, list):
        raise ValueError("deniedFields must be a list")
    out = set()
    for item in value:
        if not isinstance(item, str):
            raise ValueError("deniedFields entries must be strings")
        if item.startswith("arn:"):  # arn:aws:appsync:<region>:<acct>:apis/<id>/types/<Type>/fields/<field>
            parts = item.split("/")
            if len(parts) >= 5 and parts[-4] == "types" and parts[-2] == "fields":
                item = f"{parts[-3]}.{parts[-1]}"
        out.add(item)
    return frozenset(out)


class LambdaAuthorizer:
    def __init__(self, function: str | Callable[..., Any], ttl_seconds: int = 60, *, api_id: str = "cove",
                 account_id: str = "000000000000") -> None:
        self.spec = function
        self.function = load_function(function)   # fail at start-up, not on the first request
        self.ttl = ttl_seconds
        self.api_id = api_id
        self.account_id = account_id
        self._cache: dict[str, Decision] = {}

    def _name(self) -> str:
        return getattr(self.function, "__name__", "authorizer")

    async def authorize(self, token: str, *, query: str, operation_name: str | None, variables: Any,
                        headers: Mapping[str, str]) -> Decision:
        if len(token) > MAX_TOKEN_LENGTH:
            raise AuthorizerDenied("the authorization token is longer than 2048 characters")
        now = time.monotonic()
        hit = self._cache.get(token)
        if hit is not None and hit.expires_at > now:
            return hit
        event: dict[str, Any] = {
            "authorizationToken": token,
            "requestContext": {"apiId": self.api_id, "accountId": self.account_id, "requestId": str(uuid.uuid4()),
                               "queryString": query, "variables": variables or {}},
            "requestHeaders": dict(headers),
        }
        if operation_name:
            event["requestContext"]["operationName"] = operation_name
        try:
            answer = await asyncio.wait_for(self._invoke(event), TIMEOUT_SECONDS)
        except TimeoutError:
            raise AuthorizerDenied("the Lambda authorizer timed out") from None
        except AuthorizerDenied:
            raise
        except Exception:
            log.exception("Lambda authorizer %s raised", self._name())
            raise AuthorizerDenied("the Lambda authorizer failed") from None
        if not isinstance(answer, Mapping) or not isinstance(answer.get("isAuthorized"), bool):
            log.error("Lambda authorizer %s returned %r, not {'isAuthorized': bool, ...}", self._name(), answer)
            raise AuthorizerDenied("the Lambda authorizer returned an invalid response")
        if not answer["isAuthorized"]:
            raise AuthorizerDenied("the Lambda authorizer denied the request")
        context = answer.get("resolverContext") or {}
        try:
            if not isinstance(context, Mapping):
                raise ValueError("resolverContext must be an object")
            denied = _denied(answer.get("deniedFields"))
        except ValueError as exc:
            log.error("Lambda authorizer %s: %s", self._name(), exc)
            raise AuthorizerDenied("the Lambda authorizer returned an invalid response") from None
        ttl = answer.get("ttlOverride")
        seconds = ttl if isinstance(ttl, (int, float)) and not isinstance(ttl, bool) and ttl >= 0 else self.ttl
        decision = Decision(dict(context), denied, time.monotonic() + float(seconds))
        if seconds > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[token] = decision
        return decision

    async def _invoke(self, event: dict[str, Any]) -> Any:
        fn = self.function
        args: tuple[Any, ...] = (event,)
        if takes_context(fn):
            args = (event, LambdaContext(self._name(), time.monotonic() + TIMEOUT_SECONDS))
        if inspect.iscoroutinefunction(fn):
            return await fn(*args)
        result = await asyncio.to_thread(fn, *args)
        if inspect.isawaitable(result):
            return await result
        return result
