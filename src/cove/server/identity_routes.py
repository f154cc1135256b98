"""HTTP routes of the identity services, on the same port as GraphQL.

- ``POST /cognito-idp/`` (or ``/``) with ``X-Amz-Target: AWSCognitoIdentityProviderService.<Op>``:
  the user pool (what boto3's ``cognito-idp`` client with ``endpoint_url`` and aws-amplify's
  ``Auth.Cognito.userPoolEndpoint`` send);
- ``POST /cognito-identity/`` (or ``/``) with ``X-Amz-Target: AWSCognitoIdentityService.<Op>``:
  the identity pool (``Auth.Cognito.identityPoolEndpoint``, boto3's ``cognito-identity``);
- ``GET /cognito-idp/<user_pool_id>/.well-known/jwks.json`` and ``.../openid-configuration``.

Errors are Cognito's: HTTP 400 ``{"__type": "NotAuthorizedException", "message": ...}`` with an
``x-amzn-ErrorType`` header. Admin operations must be SigV4-signed (service ``cognito-idp``) with
the server's static IAM credentials (``cove iam create``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from cove.wire import sigv4
from cove.identity.services import IDENTITY_POOL_PATH, USER_POOL_PATH, IdentityServices
from cove.identity.cognito_json import CognitoError
from cove.store.base import DatabaseUnavailable

from .errors import header_value

log = logging.getLogger("cove.identity")
Send = Callable[[dict[str, Any]], Awaitable[None]]
_AMZ_JSON = b"application/x-amz-json-1.1"
_POST_PATHS = {"/", USER_POOL_PATH, USER_POOL_PATH + "/", IDENTITY_POOL_PATH, IDENTITY_POOL_PATH + "/"}
_CORS = [(b"access-control-allow-origin", b"*"),
         (b"access-control-expose-headers", b"x-amzn-requestid, x-amzn-errortype, x-amzn-errormessage, date")]
MAX_BODY = 256 * 1024


def is_identity_route(method: str, path: str, headers: dict[str, str]) -> bool:
    if method == "POST" and path in _POST_PATHS:
        return "x-amz-target" in headers
    if method == "OPTIONS" and path in _POST_PATHS - {"/"}:
        return True
    return method in ("GET", "HEAD") and path.startswith(USER_POOL_PATH + "/") and "/.well-known/" in path


async def _send(send: Send, status: int, body: bytes, content_type: bytes,
                extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *_CORS, *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _error(send: Send, error: CognitoError) -> None:
    body = orjson.dumps({"__type": error.error_type, "message": error.message})
    await _send(send, error.status, body, _AMZ_JSON, [(b"x-amzn-errortype", f"{error.error_type}:".encode()),
                                                      (b"x-amzn-errormessage", header_value(error.message))])


async def handle(services: IdentityServices | None, scope: dict[str, Any], headers: dict[str, str],
                 body_reader: Callable[[], Awaitable[bytes]], send: Send) -> None:
    method, path = scope["method"], scope["path"]
    if method == "OPTIONS":
        requested = headers.get("access-control-request-headers",
                                "content-type, x-amz-target, x-amz-user-agent, authorization, x-amz-date")
        await _send(send, 204, b"", b"text/plain", [(b"access-control-allow-methods", b"POST, OPTIONS"),
                                                    (b"access-control-allow-headers", header_value(requested)),
                                                    (b"access-control-max-age", b"86400")])
        return
    if services is None or services.user_pool is None:
        await _error(send, CognitoError("ResourceNotFoundException", "This API has no user pool: add "
                                        "`auth = define_auth(...)` to the schema file", 404))
        return
    if method in ("GET", "HEAD"):
        prefix = f"{USER_POOL_PATH}/{services.user_pool_id}/.well-known/"
        doc: Any = None
        if path == prefix + "jwks.json":
            doc = await services.jwks()
        elif path == prefix + "openid-configuration":
            doc = services.openid_configuration()
        if doc is None:
            await _error(send, CognitoError("ResourceNotFoundException", f"No document at {path}", 404))
            return
        await _send(send, 200, orjson.dumps(doc), b"application/json",
                    [(b"cache-control", b"public, max-age=300")])
        return
    try:
        raw = await body_reader()
    except Exception:
        return
    target = headers.get("x-amz-target", "")
    service, _, operation = target.partition(".")
    try:
        if len(raw) > MAX_BODY:
            raise CognitoError("InvalidParameterException", "The request body is too large", 413)
        try:
            body = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            raise CognitoError("SerializationException", "The request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise CognitoError("SerializationException", "The request body must be a JSON object")
        client = scope.get("client")
        if not services.guard.admit(operation, client[0] if client else None):
            raise CognitoError("TooManyRequestsException", "Too many requests")
        if service == "AWSCognitoIdentityProviderService":
            admin = operation in services.user_pool.ADMIN and await _admin_signed(services, scope, headers, raw)
            result = await services.user_pool.call(operation, body, admin=admin)
        elif service == "AWSCognitoIdentityService":
            assert services.identity_pool is not None
            result = await services.identity_pool.call(operation, body)
        else:
            raise CognitoError("UnknownOperationException", f"Unknown X-Amz-Target {target!r}")
    except CognitoError as exc:
        await _error(send, exc)
        return
    except DatabaseUnavailable as exc:
        # Cognito's answer when its own store fails: a 500 the SDKs retry. No traceback: the cause is known.
        log.warning("identity operation %s failed: %s", target, exc)
        await _error(send, CognitoError("InternalErrorException", f"Internal error: {exc}", 500))
        return
    except Exception:
        log.exception("identity operation %s failed", target)
        await _error(send, CognitoError("InternalErrorException", "Internal error", 500))
        return
    await _send(send, 200, orjson.dumps(result), _AMZ_JSON)


async def _admin_signed(services: IdentityServices, scope: dict[str, Any], headers: dict[str, str],
                        body: bytes) -> bool:
    authorization = headers.get("authorization", "")
    if not authorization.startswith(sigv4.ALGORITHM):
        raise CognitoError("MissingAuthenticationTokenException",
                           "Admin operations need a request signed with the server's IAM credentials "
                           "(create them with `cove iam create`)", 400)
    try:
        signed = sigv4.parse_authorization(authorization)
        key = await services.store.find_iam_key(signed.access_key_id)
        if key is None or key.revoked:
            raise CognitoError("UnrecognizedClientException", "The security token included in the request is invalid.")
        query = scope.get("query_string", b"").decode("latin-1")
        sigv4.verify(signed, method=scope["method"], path=scope["path"], query=query, headers=headers, body=body,
                     secret=key.secret_access_key, region=None, service="cognito-idp",
                     now=dt.datetime.now(dt.UTC))
    except sigv4.SigV4Error as exc:
        raise CognitoError("InvalidSignatureException", str(exc)) from None
    return True
