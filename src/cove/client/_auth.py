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

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import (
    NoApiKeyError,
    NoAuthorizationHeaderError,
    NoCredentialsError,
    NoValidAuthTokensError,
)

if TYPE_CHECKING:  # pragma: no cover
    from ._config import CanonicalAuthMode, Config

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


#: Returns the current JWT (or None when nobody is signed in).
TokenProvider = Callable[[], "str | None"]


class UserPoolAuth(AuthProvider):
    """``user_pool``: ``Authorization: <JWT>`` (no ``Bearer``), AppSync-style.

    Uses ``auth_token`` when given, else ``token_provider()`` (the sign-in session; ``cove.auth``
    plugs in here), else raises :class:`~cove.client.errors.NoValidAuthTokensError`
    ("No federated jwt"), as Amplify does with nobody signed in.
    """

    def __init__(self, token_provider: TokenProvider | None = None) -> None:
        self.token_provider = token_provider

    def auth_headers(self, request: AuthRequest) -> dict[str, str]:
        if request.auth_token:
            return {"authorization": request.auth_token}
        token = self.token_provider() if self.token_provider is not None else None
        if not token:
            raise NoValidAuthTokensError()
        return {"authorization": token}


class OidcAuth(UserPoolAuth):
    """``oidc``: same header as ``user_pool``, with the OIDC provider's token."""


@dataclass(frozen=True)
class AwsCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


#: Returns AWS credentials (e.g. identity pool credentials), or None when there are none.
CredentialsProvider = Callable[[], "AwsCredentials | None"]


class IamAuth(AuthProvider):
    """``iam`` / ``identity_pool``: SigV4 (service ``appsync``, region from the outputs file).

    With an ``auth_token`` the request is not signed (Amplify signs only when no Authorization
    header is present). Without credentials: :class:`~cove.client.errors.NoCredentialsError`.
    """

    def __init__(self, credentials: AwsCredentials | CredentialsProvider | None = None) -> None:
        self.credentials = credentials

    def resolve_credentials(self) -> AwsCredentials | None:
        if self.credentials is None or isinstance(self.credentials, AwsCredentials):
            return self.credentials
        return self.credentials()

    def auth_headers(self, request: AuthRequest) -> dict[str, str]:
        if request.auth_token or request.has_header("authorization"):
            return {}
        credentials = self.resolve_credentials()
        if credentials is None:
            raise NoCredentialsError()
        return self.sign(request, credentials)

    def sign(self, request: AuthRequest, credentials: AwsCredentials) -> dict[str, str]:
        """Return ``authorization``, ``x-amz-date`` (and ``x-amz-security-token``) headers.

        TODO(auth issue): SigV4 over the exact body bytes and every header in ``request.headers``
        plus ``host`` and ``x-amz-date`` (service ``appsync``, ``request.config.region``), shared with
        the server's verifier in ``cove.sigv4``.
        """
        raise NoCredentialsError("No credentials: SigV4 request signing is not implemented yet")


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
