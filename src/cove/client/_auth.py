"""Auth providers: one small object per auth mode that turns a request into its auth headers.

Like ``httpx.Auth``: the client hands a provider an :class:`AuthRequest` (URL, the other headers,
the body, the resolved ``auth_token``/``api_key``) and sends whatever headers it returns, *before*
the custom headers (which override same-named ones). A provider raises one of the
:class:`~cove.client.errors.AuthConfigurationError` subclasses when it has no credentials; the
request is then never sent.

Providers are synchronous by default; one that must do I/O (refreshing a token, fetching identity
pool credentials) overrides :meth:`AuthProvider.async_auth_headers` as well, and the async client
awaits it.

The defaults per mode come from a registry (:func:`register_auth_provider`) and can be replaced per
client with ``generate_client(auth_providers={"user_pool": MyProvider()})``.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cove.wire import sigv4

from ._session import aaccess_token, access_token, aidentity_credentials, identity_credentials
from .errors import (
    ConfigurationError,
    NoApiKeyError,
    NoAuthorizationHeaderError,
    NoCredentialsError,
    NoValidAuthTokensError,
)

if TYPE_CHECKING:  # pragma: no cover
    from ._config import CanonicalAuthMode, Config

#: AWS credentials (access key id, secret, optional session token): the one type both ends sign with.
AwsCredentials = sigv4.Credentials

__all__ = [
    "ApiKeyAuth",
    "AuthProvider",
    "AuthRequest",
    "AwsCredentials",
    "IamAuth",
    "LambdaAuth",
    "NoAuth",
    "OidcAuth",
    "UserPoolAuth",
    "get_auth_provider",
    "register_auth_provider",
]


@dataclass(frozen=True)
class AuthRequest:
    """Everything a provider may need to authorize one request."""

    mode: CanonicalAuthMode
    method: str
    url: str
    #: The headers that will be sent besides the auth headers (content-type, user agent, custom).
    headers: Mapping[str, str]
    body: bytes
    #: ``auth_token`` resolved for this request (request > client); sent verbatim as Authorization.
    auth_token: str | None
    #: ``api_key`` resolved for this request (request > client > outputs file).
    api_key: str | None
    config: Config

    def has_header(self, name: str) -> bool:
        lname = name.lower()
        return any(k.lower() == lname for k in self.headers)


class AuthProvider:
    """Base class: compute the auth headers for one request."""

    def auth_headers(self, request: AuthRequest) -> dict[str, str]:
        raise NotImplementedError

    async def async_auth_headers(self, request: AuthRequest) -> dict[str, str]:
        """The async client calls this; override it when getting credentials needs I/O."""
        return self.auth_headers(request)


class NoAuth(AuthProvider):
    """``none``: no auth header at all."""

    def auth_headers(self, request: AuthRequest) -> dict[str, str]:
        return {}


class ApiKeyAuth(AuthProvider):
    """``api_key``: ``x-api-key: <key>``."""

    def auth_headers(self, request: AuthRequest) -> dict[str, str]:
        if not request.api_key:
            raise NoApiKeyError()
        return {"x-api-key": request.api_key}


class LambdaAuth(AuthProvider):
    """``lambda``: ``Authorization: <auth_token>``, verbatim (the Lambda authorizer's token)."""

    def auth_headers(self, request: AuthRequest) -> dict[str, str]:
        if request.auth_token:
            return {"authorization": request.auth_token}
        if request.has_header("authorization"):  # supplied as a custom header
            return {}
        raise NoAuthorizationHeaderError()


#: Returns the current JWT (or None when nobody is signed in); may be an async function.
TokenProvider = Callable[[], "str | None | Awaitable[str | None]"]


class UserPoolAuth(AuthProvider):
    """``user_pool``: ``Authorization: <JWT>`` (no ``Bearer``), AppSync-style.

    Uses ``auth_token`` when given, else ``token_provider()``, else the session of
    :mod:`cove.auth` (the signed-in user's access token, refreshed shortly before it expires), else
    raises :class:`~cove.client.errors.NoValidAuthTokensError` ("No federated jwt"), as Amplify does
    with nobody signed in.
    """

    use_auth_session = True

    def __init__(self, token_provider: TokenProvider | None = None) -> None:
        self.token_provider = token_provider

    def _token(self, request: AuthRequest) -> str | None:
        if self.token_provider is not None:
            token = self.token_provider()
            if inspect.isawaitable(token):
                if inspect.iscoroutine(token):
                    token.close()
                raise ConfigurationError("the token provider is async: use it with cove.generate_async_client()")
            return token
        if self.use_auth_session:
            return access_token(request.config)
        return None

    async def _atoken(self, request: AuthRequest) -> str | None:
        if self.token_provider is not None:
            token = self.token_provider()
            if inspect.isawaitable(token):
                token = await token
            return token
        if self.use_auth_session:
            return await aaccess_token(request.config)
        return None

    def auth_headers(self, request: AuthRequest) -> dict[str, str]:
        if request.auth_token:
            return {"authorization": request.auth_token}
        token = self._token(request)
        if not token:
            raise NoValidAuthTokensError()
        return {"authorization": token}

    async def async_auth_headers(self, request: AuthRequest) -> dict[str, str]:
        if request.auth_token:
            return {"authorization": request.auth_token}
        token = await self._atoken(request)
        if not token:
            raise NoValidAuthTokensError()
        return {"authorization": token}


class OidcAuth(UserPoolAuth):
    """``oidc``: same header as ``user_pool``, with the OIDC provider's token from the
    ``token_provider`` the app registers (``generate_client(auth_providers={"oidc": OidcAuth(fn)})``
    or :func:`register_auth_provider`)."""

    use_auth_session = False


#: Returns AWS credentials (e.g. identity pool credentials), or None when there are none.
CredentialsProvider = Callable[[], "AwsCredentials | None"]


def env_credentials() -> AwsCredentials | None:
    """``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, if set."""
    akid = os.environ.get("AWS_ACCESS_KEY_ID")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not akid or not secret:
        return None
    return AwsCredentials(akid, secret, os.environ.get("AWS_SESSION_TOKEN") or None)


class IamAuth(AuthProvider):
    """``iam`` / ``identity_pool``: SigV4 (service ``appsync``, region from the outputs file).

    Credentials: the ones given, else the identity pool's for the :mod:`cove.auth` session (the
    signed-in user's, or a guest's when the pool allows guests), else the usual environment
    variables. With an ``auth_token`` the request is not signed (Amplify signs only when no
    Authorization header is present). Without credentials:
    :class:`~cove.client.errors.NoCredentialsError`.
    """

    def __init__(self, credentials: AwsCredentials | CredentialsProvider | None = None, *,
                 service: str = "appsync") -> None:
        self.credentials = credentials
        self.service = service

    def resolve_credentials(self, request: AuthRequest | None = None) -> AwsCredentials | None:
        if self.credentials is not None:
            if isinstance(self.credentials, AwsCredentials):
                return self.credentials
            return self.credentials()
        if request is not None:
            creds = identity_credentials(request.config)
            if creds is not None:
                return creds
        return env_credentials()

    async def aresolve_credentials(self, request: AuthRequest) -> AwsCredentials | None:
        if self.credentials is not None:
            return self.resolve_credentials(request)
        creds = await aidentity_credentials(request.config)
        return creds if creds is not None else env_credentials()

    def auth_headers(self, request: AuthRequest) -> dict[str, str]:
        if request.auth_token or request.has_header("authorization"):
            return {}
        credentials = self.resolve_credentials(request)
        if credentials is None:
            raise NoCredentialsError()
        return self.sign(request, credentials)

    async def async_auth_headers(self, request: AuthRequest) -> dict[str, str]:
        if request.auth_token or request.has_header("authorization"):
            return {}
        credentials = await self.aresolve_credentials(request)
        if credentials is None:
            raise NoCredentialsError()
        return self.sign(request, credentials)

    def sign(self, request: AuthRequest, credentials: AwsCredentials) -> dict[str, str]:
        """``authorization``, ``x-amz-date`` (and ``x-amz-security-token``): SigV4 over the exact
        body and every header in ``request.headers`` plus ``host``, as aws-amplify signs."""
        region = request.config.region or "us-east-1"
        return sigv4.sign(request.method, request.url, request.headers, request.body, credentials=credentials,
                          region=region, service=self.service)


_REGISTRY: dict[str, Callable[[], AuthProvider]] = {
    "none": NoAuth,
    "api_key": ApiKeyAuth,
    "lambda": LambdaAuth,
    "user_pool": UserPoolAuth,
    "oidc": OidcAuth,
    "iam": IamAuth,
}


def register_auth_provider(mode: CanonicalAuthMode, factory: Callable[[], AuthProvider]) -> None:
    """Make ``factory()`` the default provider of ``mode`` for clients generated afterwards."""
    _REGISTRY[mode] = factory


def get_auth_provider(mode: CanonicalAuthMode) -> AuthProvider:
    """A new default provider for ``mode``."""
    return _REGISTRY[mode]()
